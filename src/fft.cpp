// Algorithm::Fft on the device: src/fft.hpp's pipeline run with the kernels
// of kernels/fft.cuh, cuFFT (plans cached per context, work areas in the
// context's workspace) and cuBLAS (the per-frequency complex GEMM), and the
// plan that keeps the weight spectra.
//
// cuFFT work areas: every plan is made with cufftSetAutoAllocation(0) and runs
// with cufftSetWorkArea pointing into the workspace, whose closed form
// reserves as many bytes for it as the real buffer (fft_workspace). A plan
// that asks for more runs its batch in sub-batches whose plans fit (halving
// until they do). Every plan a call needs is made, and checked, before the
// first write to the output.
//
// C2R overwrites its input: it only ever reads the per-pass y spectra (or the
// x spectra the pointwise product overwrote), never the weight spectra.
#include "fft.hpp"

#include "algorithms.hpp"
#include "check.hpp"
#include "context_state.hpp"

#include <cublas_v2.h>
#include <cufft.h>

#include <algorithm>
#include <list>
#include <tuple>
#include <vector>

namespace convkit::detail {

// ---------------------------------------------------------------- plan cache

namespace {

struct FftPlanKey {
  DType dtype = DType::F32;
  bool inverse = false;
  int rank = 1;
  long long n[3] = {1, 1, 1};
  long long batch = 0;  ///< transforms this plan runs
  long long cstride = 1, cdist = 1;  ///< complex side layout
  long long rdist = 1;               ///< real side: entries P apart
  auto tie() const { return std::tie(dtype, inverse, rank, n[0], n[1], n[2], batch, cstride, cdist, rdist); }
  bool operator==(const FftPlanKey& o) const { return tie() == o.tie(); }
};

// A call needs at most six plans (the weights' R2C, and the x R2C and y C2R
// of a full pass and of the last, shorter one).
constexpr std::size_t kFftPlanCacheCapacity = 32;

}  // namespace

struct FftPlanCache {
  struct Entry {
    FftPlanKey key;
    cufftHandle handle = 0;
    std::size_t work = 0;
  };
  std::list<Entry> lru;  // most recently used first

  FftPlanCache() = default;
  FftPlanCache(const FftPlanCache&) = delete;
  FftPlanCache& operator=(const FftPlanCache&) = delete;
  ~FftPlanCache() {
    for (Entry& e : lru) cufftDestroy(e.handle);
  }

  /// The plan of `k`, made (auto-allocation off) on first use; the least
  /// recently used plan beyond the capacity is destroyed, after `stream` has
  /// finished what it may have enqueued with it (cuFFT does not promise
  /// that destroying a plan waits for its work). References stay valid until
  /// that plan is evicted (std::list nodes do not move).
  Entry& get(const FftPlanKey& k, cudaStream_t stream) {
    for (auto it = lru.begin(); it != lru.end(); ++it)
      if (it->key == k) {
        lru.splice(lru.begin(), lru, it);
        return lru.front();
      }
    cufftHandle h = 0;
    CONVKIT_CUFFT_TRY(cufftCreate(&h));
    std::size_t work = 0;
    try {
      CONVKIT_CUFFT_TRY(cufftSetAutoAllocation(h, 0));
      long long n[3] = {k.n[0], k.n[1], k.n[2]};
      long long real_embed[3] = {k.n[0], k.n[1], k.n[2]};
      long long cplx_embed[3] = {k.n[0], k.n[1], k.n[2]};
      cplx_embed[k.rank - 1] = k.n[k.rank - 1] / 2 + 1;
      const bool f32 = k.dtype == DType::F32;
      const cufftType type = k.inverse ? (f32 ? CUFFT_C2R : CUFFT_Z2D) : (f32 ? CUFFT_R2C : CUFFT_D2Z);
      if (k.inverse)
        CONVKIT_CUFFT_TRY(cufftMakePlanMany64(h, k.rank, n, cplx_embed, k.cstride, k.cdist, real_embed, 1, k.rdist,
                                              type, k.batch, &work));
      else
        CONVKIT_CUFFT_TRY(cufftMakePlanMany64(h, k.rank, n, real_embed, 1, k.rdist, cplx_embed, k.cstride, k.cdist,
                                              type, k.batch, &work));
    } catch (...) {
      cufftDestroy(h);
      throw;
    }
    lru.push_front(Entry{k, h, work});
    if (lru.size() > kFftPlanCacheCapacity) {
      CONVKIT_CUDA_TRY(cudaStreamSynchronize(stream));
      while (lru.size() > kFftPlanCacheCapacity) {
        cufftDestroy(lru.back().handle);
        lru.pop_back();
      }
    }
    return lru.front();
  }

  /// Destroys the plan of `k` (one that asked for too much work area: never
  /// run, so nothing is in flight with it).
  void drop(const FftPlanKey& k) {
    for (auto it = lru.begin(); it != lru.end(); ++it)
      if (it->key == k) {
        cufftDestroy(it->handle);
        lru.erase(it);
        return;
      }
  }
};

std::size_t fft_plan_cache_entries(const Context& ctx) {
  const auto& s = ctx.state();
  return s && s->fft_plans ? s->fft_plans->lru.size() : 0;
}

std::size_t fft_plan_cache_capacity() { return kFftPlanCacheCapacity; }

namespace {
FftPlanCache& plan_cache(ContextState& ctx);
FftPlanKey plan_key(const FftTransform& t, DType dt, std::int64_t batch);
}  // namespace

std::size_t fft_work_area_bytes(Context& ctx, const FftTransform& t, DType dt) {
  ContextState& s = *ctx.state();
  return plan_cache(s).get(plan_key(t, dt, t.batch), s.stream()).work;
}

namespace {

FftPlanCache& plan_cache(ContextState& ctx) {
  if (!ctx.fft_plans) ctx.fft_plans = std::make_shared<FftPlanCache>();
  return *ctx.fft_plans;
}

FftPlanKey plan_key(const FftTransform& t, DType dt, std::int64_t batch) {
  FftPlanKey k;
  k.dtype = dt;
  k.inverse = t.inverse;
  k.rank = t.rank;
  for (int i = 0; i < 3; ++i) k.n[i] = t.n[i];
  k.batch = batch;
  k.cstride = t.freq_major ? t.batch : 1;
  k.cdist = t.freq_major ? 1 : t.freqs;
  k.rdist = t.points;
  return k;
}

const char* kWho = "Algorithm::Fft";

// The executor of fft_forward / fft_weight_spectra on the device.
template <class T>
class DeviceExec {
 public:
  DeviceExec(ContextState& ctx, void* work, std::size_t work_bytes)
      : ctx_(ctx), stream_(ctx.stream()), cache_(plan_cache(ctx)), work_(work), work_bytes_(work_bytes) {}

  /// Makes (and checks) the plans of transform `t` and returns the sub-batch
  /// it runs in. NotSupported when even a single transform's plan asks for
  /// more work area than the workspace reserves.
  /// Sub-batches start at real offsets b0·P: with P odd, b0 must be even to
  /// keep the real pointer aligned to the complex type, so the sub-batch is
  /// then even (or the whole batch).
  std::int64_t prepare(const FftTransform& t) {
    std::int64_t sub = t.batch;
    for (;;) {
      const FftPlanKey key = plan_key(t, dtype_v<T>, sub);
      const std::size_t work = cache_.get(key, stream_).work;
      if (work <= work_bytes_) break;
      cache_.drop(key);
      std::int64_t next = (sub + 1) / 2;
      if (t.points % 2 != 0 && next % 2 != 0) ++next;
      CONVKIT_EXPECTS(next < sub, Status::NotSupported, kWho, ": cuFFT asks for ", work, " bytes of work area for ",
                      sub, " ", t.inverse ? "C2R" : "R2C", " transforms of ", t.points, " points, more than the ",
                      work_bytes_, " bytes the workspace reserves for it");
      sub = next;
    }
    if (t.batch % sub != 0) {  // the tail's plan must fit too
      const FftPlanKey key = plan_key(t, dtype_v<T>, t.batch % sub);
      const std::size_t work = cache_.get(key, stream_).work;
      if (work > work_bytes_) cache_.drop(key);
      CONVKIT_EXPECTS(work <= work_bytes_, Status::NotSupported, kWho, ": cuFFT asks for ", work,
                      " bytes of work area for ", t.batch % sub, " transforms of ", t.points, " points, more than the ",
                      work_bytes_, " bytes reserved");
    }
    return sub;
  }

  void kernels(const FftGeometry& g, const T* w, T* real) { launch_fft_kernels<T>(stream_, g, w, real); }
  void gather(const FftGeometry& g, const T* x, std::int64_t first, std::int64_t count, T* real) {
    launch_fft_gather<T>(stream_, g, x, first, count, real);
  }
  void pointwise(const FftGeometry& g, std::int64_t batch, FftComplex<T>* xy, const FftComplex<T>* w) {
    launch_fft_pointwise<T>(stream_, g, batch, xy, w);
  }
  void extract(const FftGeometry& g, const T* real, const T* bias, T scale, std::int64_t count, T* y) {
    launch_fft_extract<T>(stream_, g, real, bias, scale, count, y);
  }

  void transform(const FftTransform& t, T* real, FftComplex<T>* spec) {
    const std::int64_t sub = prepare(t);
    for (std::int64_t b0 = 0; b0 < t.batch; b0 += sub) {
      const std::int64_t cnt = std::min(sub, t.batch - b0);
      const FftPlanCache::Entry& e = cache_.get(plan_key(t, dtype_v<T>, cnt), stream_);
      CONVKIT_CUFFT_TRY(cufftSetStream(e.handle, stream_));
      CONVKIT_CUFFT_TRY(cufftSetWorkArea(e.handle, work_));
      T* r = real + b0 * t.points;
      FftComplex<T>* c = spec + (t.freq_major ? b0 : b0 * t.freqs);
      if constexpr (std::is_same_v<T, float>) {
        if (t.inverse)
          CONVKIT_CUFFT_TRY(cufftExecC2R(e.handle, reinterpret_cast<cufftComplex*>(c), r));
        else
          CONVKIT_CUFFT_TRY(cufftExecR2C(e.handle, r, reinterpret_cast<cufftComplex*>(c)));
      } else {
        if (t.inverse)
          CONVKIT_CUFFT_TRY(cufftExecZ2D(e.handle, reinterpret_cast<cufftDoubleComplex*>(c), r));
        else
          CONVKIT_CUFFT_TRY(cufftExecD2Z(e.handle, r, reinterpret_cast<cufftDoubleComplex*>(c)));
      }
    }
  }

  void gemm(const FftGemm& q, const FftComplex<T>* A, const FftComplex<T>* B, FftComplex<T>* C) {
    cublasHandle_t h = ctx_.cublas();
    CONVKIT_CUBLAS_TRY(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
    // FP32 complex products even where the context allows TF32: the Fft
    // tolerance assumes them (ContextState::cublas() sets the mode again for
    // the next caller).
    CONVKIT_CUBLAS_TRY(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH));
    const cublasOperation_t opa = q.conj_a ? CUBLAS_OP_C : CUBLAS_OP_T;
    if constexpr (std::is_same_v<T, float>) {
      const cuComplex one{1.f, 0.f}, zero{0.f, 0.f};
      CONVKIT_CUBLAS_TRY(cublasCgemmStridedBatched(
          h, opa, CUBLAS_OP_N, int(q.m), int(q.n), int(q.k), &one,
          reinterpret_cast<const cuComplex*>(A + q.a_offset), int(q.lda), q.stride_a,
          reinterpret_cast<const cuComplex*>(B + q.b_offset), int(q.ldb), q.stride_b, &zero,
          reinterpret_cast<cuComplex*>(C + q.c_offset), int(q.ldc), q.stride_c, int(q.batch)));
    } else {
      const cuDoubleComplex one{1.0, 0.0}, zero{0.0, 0.0};
      CONVKIT_CUBLAS_TRY(cublasZgemmStridedBatched(
          h, opa, CUBLAS_OP_N, int(q.m), int(q.n), int(q.k), &one,
          reinterpret_cast<const cuDoubleComplex*>(A + q.a_offset), int(q.lda), q.stride_a,
          reinterpret_cast<const cuDoubleComplex*>(B + q.b_offset), int(q.ldb), q.stride_b, &zero,
          reinterpret_cast<cuDoubleComplex*>(C + q.c_offset), int(q.ldc), q.stride_c, int(q.batch)));
    }
  }

 private:
  ContextState& ctx_;
  cudaStream_t stream_;
  FftPlanCache& cache_;
  void* work_;
  std::size_t work_bytes_;
};

// Pointers of the buffers of choice `ch` in the workspace at `base`.
template <class T>
struct Carved {
  FftBuffers<T> buf;
  FftComplex<T>* wspec = nullptr;
  void* work = nullptr;
};
template <class T>
Carved<T> carve(void* base, const FftChoice& ch) {
  char* b = static_cast<char*>(base);
  const FftLayout l = fft_layout(ch.ws);
  Carved<T> c;
  c.buf.real = reinterpret_cast<T*>(b + l.real);
  c.buf.xspec = reinterpret_cast<FftComplex<T>*>(b + l.xspec);
  c.buf.yspec = ch.geo.pointwise ? nullptr : reinterpret_cast<FftComplex<T>*>(b + l.yspec);
  c.wspec = ch.ws.wspec ? reinterpret_cast<FftComplex<T>*>(b + l.wspec) : nullptr;
  c.work = b + l.work;
  return c;
}

// Makes every plan one pass over N images needs (and the weights' when
// `weights`) before anything is written.
template <class T>
void prepare_all(DeviceExec<T>& ex, const FftChoice& ch, std::int64_t N, bool weights) {
  const FftGeometry& g = ch.geo;
  if (weights) ex.prepare(fft_transform(g, false, g.K * g.Cg));
  for (std::int64_t count : {std::min(ch.chunk, N), N % ch.chunk}) {
    if (count == 0) continue;
    ex.prepare(fft_transform(g, false, count * g.blocks * g.C));
    ex.prepare(fft_transform(g, true, count * g.blocks * g.K));
  }
}

FftChoice choice_for(const ContextState& ctx, const ConvProblem& p, DType t, bool weights_per_call) {
  FftChoice ch = fft_choose(p, t, ctx.workspace_limit, weights_per_call);
  if (!ch.ok && ch.min_bytes > ctx.workspace_limit)
    throw Error(Status::WorkspaceTooSmall, msg(kWho, " needs at least ", ch.min_bytes, " bytes of workspace for ", p,
                                               " (", dtype_name(t), "); the context's limit is ", ctx.workspace_limit,
                                               " bytes"));
  CONVKIT_EXPECTS(ch.ok, Status::NotSupported, kWho, " cannot run ", p, ": ", ch.reason);
  return ch;
}

template <class T>
void run_typed(ContextState& ctx, const ConvProblem& p, const Operands& ops) {
  const FftChoice ch = choice_for(ctx, p, dtype_v<T>, true);
  void* base = ctx.workspace(ch.ws.total, kWho);
  const Carved<T> c = carve<T>(base, ch);
  DeviceExec<T> ex(ctx, c.work, ch.ws.work);
  prepare_all(ex, ch, p.N, true);
  fft_weight_spectra(ex, ch.geo, static_cast<const T*>(ops.w), c.buf.real, c.wspec);
  fft_forward(ex, ch, p.N, static_cast<const T*>(ops.x), c.wspec, static_cast<const T*>(ops.b),
              static_cast<T*>(ops.y), c.buf);
}

Support supports_fft(const ConvProblem& p, DType t) {
  // Every spec of DESIGN §1 is computed; what can refuse is the size.
  const FftChoice ch = fft_choose(p, t, kSizeMax, true);
  if (!ch.ok) return unsupported(ch.reason);
  return supported(ch.variant());
}

std::size_t workspace_fft(const ConvProblem& p, DType t) {
  if (p.N == 0) return 0;
  const FftChoice ch = fft_choose(p, t, kSizeMax, true);
  return ch.ok ? ch.full_bytes : kSizeMax;
}

std::size_t min_workspace_fft(const ConvProblem& p, DType t) {
  if (p.N == 0) return 0;
  const FftChoice ch = fft_choose(p, t, kSizeMax, true);
  return ch.ok ? ch.min_bytes : kSizeMax;
}

void run_fft(ContextState& ctx, const ConvProblem& p, DType t, const Operands& ops) {
  if (t == DType::F32)
    run_typed<float>(ctx, p, ops);
  else
    run_typed<double>(ctx, p, ops);
}

// A ConvPlan on the Fft path: the configuration is fixed when the plan is made
// (under the context's workspace limit then); set_weights transforms the
// weights once into the plan's own memory and run() only transforms x and y.
template <class T>
class FftPlan final : public PlanImpl {
 public:
  FftPlan(std::shared_ptr<ContextState> ctx, const ConvProblem& p, DType t)
      : PlanImpl(std::move(ctx), p, t, kFftOps), choice_(plan_choice(*ctx_, p, t)) {
    const std::size_t bytes = bytes_sat(mul_sat(choice_.geo.freqs, choice_.geo.K * choice_.geo.Cg), 2 * sizeof(T));
    if (p.N > 0) wspec_ = static_cast<FftComplex<T>*>(device_alloc(ctx_, bytes));
  }
  ~FftPlan() override {
    if (wspec_) device_free(ctx_, wspec_);
  }

  void set_weights(const void* w, const void* b) override {
    PlanImpl::set_weights(w, b);
    if (problem_.N == 0) return;
    // The weights' transform runs through the real buffer, sized for the
    // larger of a pass's blocks and the K·Cg kernels.
    void* base = ctx_->workspace(choice_.ws.total, kWho);
    const Carved<T> c = carve<T>(base, choice_);
    DeviceExec<T> ex(*ctx_, c.work, choice_.ws.work);
    ex.prepare(fft_transform(choice_.geo, false, choice_.geo.K * choice_.geo.Cg));
    fft_weight_spectra(ex, choice_.geo, static_cast<const T*>(w), c.buf.real, wspec_);
  }

  void run(const void* x, void* y) override {
    if (problem_.N == 0) return;
    void* base = ctx_->workspace(choice_.ws.total, kWho);
    const Carved<T> c = carve<T>(base, choice_);
    DeviceExec<T> ex(*ctx_, c.work, choice_.ws.work);
    prepare_all(ex, choice_, problem_.N, false);
    fft_forward(ex, choice_, problem_.N, static_cast<const T*>(x), wspec_, static_cast<const T*>(b_),
                static_cast<T*>(y), c.buf);
  }

  std::size_t workspace_bytes() const override { return problem_.N == 0 ? 0 : choice_.ws.total; }
  std::string variant() const override { return choice_.variant(); }

 private:
  // The one-shot choice (its real buffer holds the K·Cg kernels for
  // set_weights), less the weight spectra, which the plan owns.
  static FftChoice plan_choice(const ContextState& ctx, const ConvProblem& p, DType t) {
    (void)choice_for(ctx, p, t, true);  // the errors (WorkspaceTooSmall, NotSupported)
    return fft_plan_choice(p, t, ctx.workspace_limit);
  }

  FftChoice choice_;
  FftComplex<T>* wspec_ = nullptr;
};

std::unique_ptr<PlanImpl> make_fft_plan(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p, DType t) {
  if (t == DType::F32) return std::make_unique<FftPlan<float>>(ctx, p, t);
  return std::make_unique<FftPlan<double>>(ctx, p, t);
}

}  // namespace

const AlgorithmOps kFftOps{Algorithm::Fft, supports_fft, workspace_fft, min_workspace_fft, run_fft, make_fft_plan};

}  // namespace convkit::detail
