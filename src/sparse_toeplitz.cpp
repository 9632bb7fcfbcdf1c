// Algorithm::SparseToeplitz: the convolution as y = T·x with cuSPARSE's
// generic API, T built once on the device (kernels/toeplitz_build.cu).
//
// * N = 1: SpMV. N > 1: SpMM. NCHW is exactly the column-major matrix
//   [C·ΠD, N] (and y [K·ΠO, N]), but cuSPARSE's SpMM is far slower on
//   column-major operands (measured 0.4-2.8% of copy bandwidth on the matrix
//   bytes): every nonzero then reads N scattered values. So x is transposed
//   into a row-major copy [C·ΠD, N] in the context's workspace, the product
//   goes into a row-major [K·ΠO, N], and a second transpose writes y (adding
//   the bias on the way). That costs 2·(x + y) extra bytes of traffic and
//   x + y bytes of workspace; when the copies do not fit the workspace limit
//   beside the matrix (or cuSPARSE refuses the row-major product), the plan
//   multiplies NCHW in place, column-major, instead (toeplitz::spmm_layout). The
//   choice is made at every run of each operation, against the limit and what
//   the plan holds then (a new layout is preprocessed again).
// * Bias: the product is accumulated (beta = 1) onto an output first set to
//   the bias broadcast or to zero (the row-major copy: zero, the bias comes
//   with the transpose). Starting from written memory means a NaN-poisoned or
//   uninitialised output is never read into the result, whatever cuSPARSE
//   does with beta = 0; the cost is one extra pass over the output.
// * run_transpose: x = Tᵀ·y with CUSPARSE_OPERATION_TRANSPOSE on the same
//   matrix (the transposed convolution / gradient with respect to the input),
//   through its own descriptor and buffer so its preprocessing never mixes with
//   the forward product's.
// * ConvPlan: the matrix is built once in the plan's constructor; set_weights
//   refills only the values through the source-tap map; each operation is
//   preprocessed once (cusparseSpMV_preprocess / cusparseSpMM_preprocess), at
//   its first run, into a buffer the plan owns -- preprocessed state must stay
//   untouched between calls, which the shared context workspace (reused and
//   reallocated by every algorithm) cannot promise.
// * One-shot conv(): builds a temporary plan per call -- the whole matrix
//   (O(nnz) device work, memory allocation, host-side pattern tables and a
//   pageable copy) for a single product, several times the product's own
//   cost. Its cuSPARSE buffer comes from the context's workspace and it skips
//   preprocessing. Use a ConvPlan for repeated products.
// * Budget: the matrix (closed-form bytes, Info::total_bytes) must fit the
//   context's workspace limit and the device's free memory, before anything
//   is allocated; supports() refuses matrices larger than the device's
//   memory. Over the limit is NotSupported naming the bytes; within the limit
//   but over the memory free now is OutOfMemory (the same message), since it
//   may pass later -- the tuner must not remember it as a property of the
//   problem.
#include <convkit/toeplitz.hpp>

#include "algorithms.hpp"
#include "arith.hpp"
#include "check.hpp"
#include "sparse_toeplitz.hpp"
#include "toeplitz.cuh"
#include "toeplitz_backward.cuh"

#include <cusparse.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <type_traits>

namespace convkit::detail {
namespace {

namespace tz = ::convkit::toeplitz;

// Upper bound on any matrix supports() accepts: the current device's memory,
// or, with no usable device, 16 GiB as a stand-in (nothing runs then anyway).
// Read once per device from its properties: a query must not create a CUDA
// context or cost a driver round trip per call.
std::size_t device_memory_ceiling() {
  static std::mutex m;
  static std::unordered_map<int, std::size_t> total;
  int dev = -1;
  if (!device_available() || cudaGetDevice(&dev) != cudaSuccess) {
    cudaGetLastError();
    return std::size_t(16) << 30;
  }
  std::lock_guard<std::mutex> lock(m);
  auto it = total.find(dev);
  if (it != total.end()) return it->second;
  cudaDeviceProp prop{};
  std::size_t bytes = std::size_t(16) << 30;
  if (cudaGetDeviceProperties(&prop, dev) == cudaSuccess)
    bytes = prop.totalGlobalMem;
  else
    cudaGetLastError();
  total[dev] = bytes;
  return bytes;
}

// The matrix's closed-form sizes and the scratch its build needs beside it
// (the border-output tables and per-row tap offsets, freed after the build),
// remembered per (problem, dtype): Auto asks every algorithm's supports() on
// every call, and sizing a long kernel's border rows takes milliseconds.
struct Sizes {
  tz::Info info;
  std::size_t build_scratch = 0;
};
Sizes cached_sizes(const ConvProblem& p, DType t) {
  struct Key {
    ConvProblem p;
    DType t;
    bool operator==(const Key& o) const { return p == o.p && t == o.t; }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const { return k.p.hash() * 31 + static_cast<std::size_t>(k.t); }
  };
  static std::mutex m;
  static std::unordered_map<Key, Sizes, KeyHash> cache;
  {
    std::lock_guard<std::mutex> lock(m);
    auto it = cache.find(Key{p, t});
    if (it != cache.end()) return it->second;
  }
  Sizes sz;
  sz.info = toeplitz::make_info(p, t, tz::IndexWidth::Auto);
  sz.build_scratch = toeplitz::build_scratch_bytes(sz.info);
  std::lock_guard<std::mutex> lock(m);
  if (cache.size() >= 1024) cache.clear();  // bounded: a process sees few distinct problems
  cache.emplace(Key{p, t}, sz);
  return sz;
}

Support supports_sparse_toeplitz(const ConvProblem& p, DType t) {
  const tz::Info in = cached_sizes(p, t).info;
  const std::size_t ceiling = device_memory_ceiling();
  if (in.total_bytes() > ceiling)
    return unsupported(msg("the ", in.rows, " x ", in.cols, " Toeplitz matrix has ", in.nnz, " nonzeros and needs ",
                           in.total_bytes(), " bytes (", in.matrix_bytes, " CSR + ", in.map_bytes,
                           " source-tap map), more than the device's ", ceiling, " bytes"));
  return supported(in.problem.N <= 1 ? "toeplitz/spmv" : "toeplitz/spmm");
}

// What the algorithm needs on the device besides x, w, y before it can run:
// the matrix and its source-tap map, plus the scratch live while the matrix
// is built -- exactly what the build's budget check counts, so a limit at
// least this large never refuses the matrix. (The cuSPARSE buffer, known only
// from cuSPARSE once the matrix exists, comes on top; ConvPlan::
// workspace_bytes() reports it once known. The row-major operand copies of
// SpMM, x + y bytes, are taken from the context's workspace only when they
// fit the limit beside the matrix, so they are not part of this either.)
std::size_t workspace_sparse_toeplitz(const ConvProblem& p, DType t) {
  const Sizes sz = cached_sizes(p, t);
  return sz.info.total_bytes() + sz.build_scratch;
}

// The matrix is not chunkable workspace: the budget check inside the build
// refuses it with NotSupported (naming the bytes), so no minimum is claimed
// here for conv.cpp's WorkspaceTooSmall check.
std::size_t min_workspace_sparse_toeplitz(const ConvProblem&, DType) { return 0; }

template <class T>
constexpr cudaDataType cuda_type() {
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_64F;
}

// Dense cuSPARSE descriptors of one call, destroyed on every exit path.
struct DenseVecs {
  cusparseConstDnVecDescr_t in = nullptr;
  cusparseDnVecDescr_t out = nullptr;
  ~DenseVecs() {
    if (in) cusparseDestroyDnVec(in);
    if (out) cusparseDestroyDnVec(out);
  }
};
struct DenseMats {
  cusparseConstDnMatDescr_t in = nullptr;
  cusparseDnMatDescr_t out = nullptr;
  ~DenseMats() {
    if (in) cusparseDestroyDnMat(in);
    if (out) cusparseDestroyDnMat(out);
  }
};

// Preprocessing is an optional speed-up: where cuSPARSE has none for an
// operation / algorithm it answers NOT_SUPPORTED, and the product simply runs
// without it. Any other failure is an error.
void optional_preprocess(cusparseStatus_t st, const char* call) {
  if (st != CUSPARSE_STATUS_SUCCESS && st != CUSPARSE_STATUS_NOT_SUPPORTED)
    throw_cusparse(static_cast<int>(st), call, __FILE__, __LINE__);
}

// A product's buffer size, or NotSupported (not a CusparseError) when
// cuSPARSE declines the algorithm for this matrix (index width, dtype or
// size): the plan has no other algorithm to fall back to without giving up
// what it promises (bit-identical forward products), so it says so.
void buffer_size_or_refuse(cusparseStatus_t st, const char* call, const char* alg, const tz::Info& info) {
  if (st == CUSPARSE_STATUS_NOT_SUPPORTED)
    throw Error(Status::NotSupported, msg("Algorithm::SparseToeplitz: cuSPARSE does not run ", alg, " on the ",
                                          info.rows, " x ", info.cols, " matrix with ", info.nnz, " nonzeros (",
                                          info.index_width == tz::IndexWidth::I64 ? "64" : "32", "-bit indices, ",
                                          dtype_name(info.dtype), "): ", call, " answered NOT_SUPPORTED"));
  if (st != CUSPARSE_STATUS_SUCCESS) throw_cusparse(static_cast<int>(st), call, __FILE__, __LINE__);
}

template <class T>
class ToeplitzPlan final : public PlanImpl {
 public:
  /// persistent: a ConvPlan (own preprocessed buffers); otherwise a one-shot
  /// temporary (context workspace, no preprocessing).
  ToeplitzPlan(std::shared_ptr<ContextState> ctx, const ConvProblem& p, DType t, bool persistent)
      : PlanImpl(std::move(ctx), p, t, kSparseToeplitzOps), persistent_(persistent) {
    try {
      A_ = toeplitz::build_on_device<T>(ctx_, problem_, nullptr, tz::IndexWidth::Auto,
                                        std::numeric_limits<std::size_t>::max());
    } catch (const Error& e) {
      if (e.status() != Status::NotSupported) throw;
      // The build's budget is min(limit, free memory) and says NotSupported
      // either way; tell the two apart with the bytes it counted (the same
      // closed form, workspace_sparse_toeplitz).
      const std::size_t need = workspace_sparse_toeplitz(problem_, t);
      std::size_t free_bytes = 0, total_bytes = 0;
      if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
        cudaGetLastError();
        throw;
      }
      if (!toeplitz_plan::over_free_memory_only(need, ctx_->workspace_limit, free_bytes)) throw;
      throw Error(Status::OutOfMemory, msg(e.what(), "; the workspace limit admits it, the device's free memory (",
                                           free_bytes, " bytes now) does not"));
    }
  }

  ~ToeplitzPlan() override {
    for (Op& op : ops_state_) {
      if (op.mat) cusparseDestroySpMat(op.mat);
      if (op.buffer) device_free(ctx_, op.buffer);
    }
  }

  void set_weights(const void* w, const void* b) override {
    A_.refill(TensorView<const T>::device(static_cast<const T*>(w), problem_.w_shape()));
    PlanImpl::set_weights(w, b);
  }

  void run(const void* x, void* y) override {
    if (problem_.N == 0) return;
    multiply(CUSPARSE_OPERATION_NON_TRANSPOSE, x, y, static_cast<const T*>(b_), false);
  }

  // dx (+)= Tᵀ·dy with the matrix of the bound weights.
  void run_backward_data(const void* dy, void* dx, bool accumulate) override {
    if (problem_.N == 0) return;
    multiply(CUSPARSE_OPERATION_TRANSPOSE, dy, dx, nullptr, accumulate);
  }

  // dw (+)= ∂L/∂w on T's pattern (toeplitz_backward.cuh): the sampled product
  // s = dyᵀ·x in the context's workspace (one value per nonzero), then each
  // weight sums its nonzeros' s. The matrix's values are not read, so no
  // weights need to be bound.
  void run_backward_filter(const void* x, const void* dy, void* dw, bool accumulate) override {
    const tz::Info& info = A_.info();
    const std::size_t s_bytes = bytes_sat(toeplitz::sampled_dw_workspace_elems(problem_, info.nnz), sizeof(T));
    ctx_->check_workspace(add_sat(workspace_bytes(), s_bytes),
                          "Algorithm::SparseToeplitz (matrix and the sampled product dyᵀ·x)");
    T* sampled = static_cast<T*>(ctx_->workspace(s_bytes, "Algorithm::SparseToeplitz (the sampled product dyᵀ·x)"));
    const auto run = [&](auto tag) {
      using I = decltype(tag);
      toeplitz::filter_gradient_device<T, I>(ctx_->stream(), problem_, static_cast<const I*>(A_.row_ptr()),
                                             static_cast<const I*>(A_.col_ind()), info.rows, info.cols, info.nnz,
                                             static_cast<const T*>(dy), static_cast<const T*>(x), sampled,
                                             static_cast<T*>(dw), accumulate);
    };
    if (info.index_width == tz::IndexWidth::I64)
      run(std::int64_t{});
    else
      run(std::int32_t{});
  }

  std::size_t workspace_bytes() const override {
    return A_.info().total_bytes() + ops_state_[0].buffer_bytes + ops_state_[1].buffer_bytes;
  }

  // The forward product's SpMM layout at its latest run.
  std::string variant() const override {
    std::string v = PlanImpl::variant();
    const Op& fwd = ops_state_[0];
    if (problem_.N > 1 && fwd.layout_chosen)
      v += fwd.layout == toeplitz::SpmmLayout::Rows ? "-rows" : "-columns";
    return v;
  }

 private:
  // Per operation (0: T·x, 1: Tᵀ·y): its CSR descriptor over the shared
  // arrays, (persistent plans) its preprocessed buffer, and (N > 1) the dense
  // layout of its latest run (chosen again at every run).
  struct Op {
    cusparseSpMatDescr_t mat = nullptr;
    void* buffer = nullptr;
    std::size_t buffer_bytes = 0;
    bool prepared = false;
    bool layout_chosen = false;
    toeplitz::SpmmLayout layout = toeplitz::SpmmLayout::Columns;
    bool rows_asked = false;    ///< row_bytes / rows_refused known
    bool rows_refused = false;  ///< cuSPARSE's row-major buffer-size query failed
    std::size_t row_bytes = 0;  ///< cuSPARSE's buffer for the row-major product
  };

  static constexpr std::size_t kAlign = 256;
  // Saturating: an absurd size stays "too big" for the workspace checks.
  static std::size_t aligned(std::size_t bytes) { return add_sat(bytes, kAlign - 1) / kAlign * kAlign; }

  cusparseSpMatDescr_t matrix(Op& op) {
    if (!op.mat) {
      const tz::Info& in = A_.info();
      const cusparseIndexType_t it =
          in.index_width == tz::IndexWidth::I64 ? CUSPARSE_INDEX_64I : CUSPARSE_INDEX_32I;
      CONVKIT_CUSPARSE_TRY(cusparseCreateCsr(&op.mat, in.rows, in.cols, in.nnz, const_cast<void*>(A_.row_ptr()),
                                             const_cast<void*>(A_.col_ind()), const_cast<T*>(A_.values()), it, it,
                                             CUSPARSE_INDEX_BASE_ZERO, cuda_type<T>()));
    }
    return op.mat;
  }

  // The cuSPARSE buffer of a persistent plan's operation: allocated once
  // (re-allocated only if a later call needs more), checked with the matrix
  // and `extra` bytes of context workspace against the workspace limit.
  void* own_buffer(Op& op, std::size_t bytes, std::size_t extra) {
    if (bytes > op.buffer_bytes) {
      ctx_->check_workspace(workspace_bytes() - op.buffer_bytes + bytes + extra,
                            extra ? "Algorithm::SparseToeplitz (matrix, map, cuSPARSE buffers and operands)"
                                  : "Algorithm::SparseToeplitz (matrix, map and cuSPARSE buffers)");
      if (op.buffer) device_free(ctx_, op.buffer);
      op.buffer = nullptr;
      op.buffer_bytes = 0;
      op.buffer = device_alloc(ctx_, bytes);
      op.buffer_bytes = bytes;
      op.prepared = false;
    } else if (extra) {
      ctx_->check_workspace(workspace_bytes() + extra, "Algorithm::SparseToeplitz (matrix, buffers and operands)");
    }
    return op.buffer;
  }

  // Where one product's cuSPARSE buffer (`buf_bytes`) and `copy_bytes` of
  // row-major operand copies live: a persistent plan keeps its buffer and
  // takes the copies from the context's workspace; a temporary plan takes
  // both from the workspace, in one piece (asking twice could move it).
  struct Scratch {
    void* buf = nullptr;
    char* copies = nullptr;
  };
  Scratch scratch(Op& op, std::size_t buf_bytes, std::size_t copy_bytes) {
    Scratch sc;
    if (persistent_) {
      sc.buf = own_buffer(op, buf_bytes, copy_bytes);
      if (copy_bytes)
        sc.copies = static_cast<char*>(ctx_->workspace(copy_bytes, "Algorithm::SparseToeplitz (row-major operands)"));
      return sc;
    }
    ctx_->check_workspace(add_sat(add_sat(A_.info().total_bytes(), aligned(copy_bytes)), buf_bytes),
                          "Algorithm::SparseToeplitz (matrix, operands and cuSPARSE buffer)");
    char* ws = static_cast<char*>(
        ctx_->workspace(aligned(copy_bytes) + buf_bytes, "Algorithm::SparseToeplitz (operands and cuSPARSE buffer)"));
    sc.copies = copy_bytes ? ws : nullptr;
    sc.buf = ws + aligned(copy_bytes);
    return sc;
  }

  // Fills out (n images of `rows` values) with the bias of each output
  // channel (forward) or zero: the product is then accumulated onto it with
  // beta = 1, so uninitialised or NaN-poisoned memory is never read into the
  // result, whatever cuSPARSE does with beta = 0.
  void init_out(void* out, std::int64_t rows, const T* bias) {
    cudaStream_t s = ctx_->stream();
    if (bias)
      toeplitz::broadcast_bias_device<T>(s, static_cast<T*>(out), bias, problem_.N, problem_.K,
                                         problem_.out_spatial());
    else
      CONVKIT_CUDA_TRY(cudaMemsetAsync(out, 0, static_cast<std::size_t>(problem_.N * rows) * sizeof(T), s));
  }

  // out = op(T)·in for the N images (+ bias[k] on channel k's outputs;
  // forward only), or out += op(T)·in when `accumulate` (the products then
  // start from out itself instead of a zeroed or bias-filled output).
  void multiply(cusparseOperation_t opA, const void* in, void* out, const T* bias, bool accumulate) {
    const tz::Info& info = A_.info();
    const bool fwd = opA == CUSPARSE_OPERATION_NON_TRANSPOSE;
    Op& op = ops_state_[fwd ? 0 : 1];
    cusparseHandle_t h = ctx_->cusparse();
    CONVKIT_CUSPARSE_TRY(cusparseSetPointerMode(h, CUSPARSE_POINTER_MODE_HOST));
    cusparseSpMatDescr_t A = matrix(op);
    const std::int64_t n_in = fwd ? info.cols : info.rows, n_out = fwd ? info.rows : info.cols;
    const std::int64_t N = problem_.N;
    const T alpha = T(1), beta = T(1);
    const cudaDataType ct = cuda_type<T>();
    // Every workspace check (scratch()) comes before the first write to the
    // caller's output: a call refused for its workspace leaves `out` as it was.
    if (N == 1) {
      DenseVecs v;
      CONVKIT_CUSPARSE_TRY(cusparseCreateConstDnVec(&v.in, n_in, in, ct));
      CONVKIT_CUSPARSE_TRY(cusparseCreateDnVec(&v.out, n_out, out, ct));
      // CSR_ALG2 is the SpMV cuSPARSE documents as bit-identical run to run
      // for the non-transposed product (CSR_ALG1, the default, is not
      // promised to be); Auto's determinism flag relies on it.
      const cusparseSpMVAlg_t alg = fwd ? CUSPARSE_SPMV_CSR_ALG2 : CUSPARSE_SPMV_ALG_DEFAULT;
      std::size_t bytes = 0;
      buffer_size_or_refuse(cusparseSpMV_bufferSize(h, opA, &alpha, A, v.in, &beta, v.out, ct, alg, &bytes),
                            "cusparseSpMV_bufferSize", fwd ? "SpMV CSR_ALG2" : "the transposed SpMV", info);
      void* buf = scratch(op, bytes, 0).buf;
      // Preprocessing (which may fail) before the first write to out.
      if (toeplitz_plan::preprocess_wanted(persistent_, op.prepared, bytes))
        optional_preprocess(cusparseSpMV_preprocess(h, opA, &alpha, A, v.in, &beta, v.out, ct, alg, buf),
                            "cusparseSpMV_preprocess");
      op.prepared = true;
      if (!accumulate) init_out(out, n_out, bias);
      CONVKIT_CUSPARSE_TRY(cusparseSpMV(h, opA, &alpha, A, v.in, &beta, v.out, ct, alg, buf));
      return;
    }

    // CSR_ALG3 is the SpMM measured bit-identical run to run on an H100
    // (forward, column-major operands; the default, CSR_ALG1 and CSR_ALG2
    // differed between two identical runs). The transposed product stays on
    // the default: cuSPARSE documents transposed products as not
    // bit-reproducible in any case.
    const cusparseSpMMAlg_t alg = fwd ? CUSPARSE_SPMM_CSR_ALG3 : CUSPARSE_SPMM_ALG_DEFAULT;
    const cusparseOperation_t opB = CUSPARSE_OPERATION_NON_TRANSPOSE;
    // x and y were validated (their byte counts fit), so these cannot saturate.
    const std::size_t in_bytes = bytes_sat(mul_sat(n_in, N), sizeof(T));
    const std::size_t out_bytes = bytes_sat(mul_sat(n_out, N), sizeof(T));
    // Rounded up as scratch() lays them out, so the layout rule and the
    // workspace checks count the same bytes.
    const std::size_t copy_bytes = add_sat(aligned(in_bytes), aligned(out_bytes));
    // Row-major [rows, N] or column-major [rows, N] (= NCHW) descriptors.
    auto describe = [&](DenseMats& m, const void* pin, void* pout, cusparseOrder_t order) {
      const bool rows = order == CUSPARSE_ORDER_ROW;
      CONVKIT_CUSPARSE_TRY(cusparseCreateConstDnMat(&m.in, n_in, N, rows ? N : n_in, pin, ct, order));
      CONVKIT_CUSPARSE_TRY(cusparseCreateDnMat(&m.out, n_out, N, rows ? N : n_out, pout, ct, order));
    };

    // cuSPARSE's buffer for the row-major product, asked once per operation
    // (it depends only on the shapes), or cuSPARSE's refusal of that layout.
    // Any failure of this one query is a refusal, not an error
    // (toeplitz_plan::row_major_refused says why); the column-major query
    // below reports real errors.
    if (!op.rows_asked) {
      DenseMats probe;
      describe(probe, in, out, CUSPARSE_ORDER_ROW);
      std::size_t row_bytes = 0;
      const cusparseStatus_t st =
          cusparseSpMM_bufferSize(h, opA, opB, &alpha, A, probe.in, &beta, probe.out, ct, alg, &row_bytes);
      op.rows_refused = toeplitz_plan::row_major_refused(st);
      op.row_bytes = op.rows_refused ? 0 : row_bytes;
      op.rows_asked = true;
    }
    // The layout, chosen on every call against what the product would hold
    // then: the workspace limit may have changed, and so may the plan's other
    // operation's buffer. Rows when cuSPARSE takes it and the copies fit
    // beside the matrix and the buffers (counted as scratch() will check
    // them). Recorded once the workspace checks have passed (a refused call
    // leaves the plan's layout as it was); a new layout is preprocessed again.
    const std::size_t held = persistent_ ? workspace_bytes() - op.buffer_bytes + std::max(op.buffer_bytes, op.row_bytes)
                                         : info.total_bytes() + op.row_bytes;
    const toeplitz::SpmmLayout layout = op.rows_refused
                                            ? toeplitz::SpmmLayout::Columns
                                            : toeplitz::spmm_layout(N, held, copy_bytes, ctx_->workspace_limit);
    const auto record_layout = [&] {
      if (op.layout_chosen && layout != op.layout) op.prepared = false;
      op.layout = layout;
      op.layout_chosen = true;
    };

    DenseMats m;
    if (layout == toeplitz::SpmmLayout::Columns) {
      describe(m, in, out, CUSPARSE_ORDER_COL);
      std::size_t bytes = 0;
      buffer_size_or_refuse(cusparseSpMM_bufferSize(h, opA, opB, &alpha, A, m.in, &beta, m.out, ct, alg, &bytes),
                            "cusparseSpMM_bufferSize", fwd ? "SpMM CSR_ALG3" : "the transposed SpMM", info);
      void* buf = scratch(op, bytes, 0).buf;
      record_layout();
      spmm_prepare(op, h, opA, opB, &alpha, A, m, &beta, ct, alg, buf, bytes);  // before the first write to out
      if (!accumulate) init_out(out, n_out, bias);
      spmm(h, opA, opB, &alpha, A, m, &beta, ct, alg, buf);
      return;
    }

    // Rows: in [N, n_in] -> rin [n_in, N]; rout = 0; rout += op(T)·rin;
    // out [N, n_out] = rout transposed (+ bias by output row).
    const Scratch sc = scratch(op, op.row_bytes, copy_bytes);
    record_layout();
    T* rin = reinterpret_cast<T*>(sc.copies);
    T* rout = reinterpret_cast<T*>(sc.copies + aligned(in_bytes));
    cudaStream_t s = ctx_->stream();
    toeplitz::transpose_device<T>(s, static_cast<const T*>(in), rin, N, n_in, nullptr, 1);
    if (accumulate)
      toeplitz::transpose_device<T>(s, static_cast<const T*>(out), rout, N, n_out, nullptr, 1);
    else
      CONVKIT_CUDA_TRY(cudaMemsetAsync(rout, 0, out_bytes, s));
    describe(m, rin, rout, CUSPARSE_ORDER_ROW);
    spmm_prepare(op, h, opA, opB, &alpha, A, m, &beta, ct, alg, sc.buf, op.row_bytes);
    spmm(h, opA, opB, &alpha, A, m, &beta, ct, alg, sc.buf);
    toeplitz::transpose_device<T>(s, rout, static_cast<T*>(out), n_out, N, bias, problem_.out_spatial());
  }

  // The SpMM's preprocessing, once per persistent plan and operation
  // (unless cuSPARSE asked for no buffer: `buf_bytes` is what it asked for).
  void spmm_prepare(Op& op, cusparseHandle_t h, cusparseOperation_t opA, cusparseOperation_t opB, const T* alpha,
                    cusparseSpMatDescr_t A, const DenseMats& m, const T* beta, cudaDataType ct, cusparseSpMMAlg_t alg,
                    void* buf, std::size_t buf_bytes) {
    if (toeplitz_plan::preprocess_wanted(persistent_, op.prepared, buf_bytes))
      optional_preprocess(cusparseSpMM_preprocess(h, opA, opB, alpha, A, m.in, beta, m.out, ct, alg, buf),
                          "cusparseSpMM_preprocess");
    op.prepared = true;
  }

  // The SpMM call itself.
  void spmm(cusparseHandle_t h, cusparseOperation_t opA, cusparseOperation_t opB, const T* alpha,
            cusparseSpMatDescr_t A, const DenseMats& m, const T* beta, cudaDataType ct, cusparseSpMMAlg_t alg,
            void* buf) {
    CONVKIT_CUSPARSE_TRY(cusparseSpMM(h, opA, opB, alpha, A, m.in, beta, m.out, ct, alg, buf));
  }

  bool persistent_;
  tz::DeviceMatrix<T> A_;
  Op ops_state_[2];
};

template <class T>
void run_typed(ContextState& ctx, const ConvProblem& p, const Operands& ops) {
  // A non-owning handle on the caller's context: the temporary plan dies
  // before this function returns, and its frees are stream-ordered.
  std::shared_ptr<ContextState> ref(&ctx, [](ContextState*) {});
  ToeplitzPlan<T> plan(ref, p, dtype_v<T>, false);
  plan.set_weights(ops.w, ops.b);
  plan.run(ops.x, ops.y);
}

void run_sparse_toeplitz(ContextState& ctx, const ConvProblem& p, DType t, const Operands& ops) {
  if (t == DType::F32)
    run_typed<float>(ctx, p, ops);
  else
    run_typed<double>(ctx, p, ops);
}

// Backward-data is Tᵀ·dy on the forward matrix; backward-filter the sampled
// product dyᵀ·x on its pattern (one more value per nonzero in the
// workspace). Both are supported wherever the forward product is.
Support supports_sparse_toeplitz_backward(const ConvProblem& p, DType t, Direction d) {
  Support s = supports_sparse_toeplitz(p, t);
  if (s) s.variant = d == Direction::BackwardData ? s.variant + "-transposed" : std::string("toeplitz/sampled-dw");
  return s;
}

std::size_t workspace_sparse_toeplitz_backward(const ConvProblem& p, DType t, Direction d) {
  const std::size_t fwd = workspace_sparse_toeplitz(p, t);
  if (d != Direction::BackwardFilter) return fwd;
  return add_sat(fwd, bytes_sat(toeplitz::sampled_dw_workspace_elems(p, cached_sizes(p, t).info.nnz), dtype_size(t)));
}
std::size_t min_workspace_sparse_toeplitz_backward(const ConvProblem& p, DType t, Direction) {
  return min_workspace_sparse_toeplitz(p, t);
}

template <class T>
void run_backward_typed(ContextState& ctx, const ConvProblem& p, Direction d, const GradOperands& g) {
  std::shared_ptr<ContextState> ref(&ctx, [](ContextState*) {});
  ToeplitzPlan<T> plan(ref, p, dtype_v<T>, false);
  if (d == Direction::BackwardFilter) {
    plan.run_backward_filter(g.x, g.dy, g.out, g.accumulate);
    return;
  }
  plan.set_weights(g.w, nullptr);
  plan.run_backward_data(g.dy, g.out, g.accumulate);
}

void run_sparse_toeplitz_backward(ContextState& ctx, const ConvProblem& p, DType t, Direction d,
                                  const GradOperands& g) {
  if (t == DType::F32)
    run_backward_typed<float>(ctx, p, d, g);
  else
    run_backward_typed<double>(ctx, p, d, g);
}

std::unique_ptr<PlanImpl> make_sparse_toeplitz_plan(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p,
                                                    DType t) {
  if (t == DType::F32) return std::make_unique<ToeplitzPlan<float>>(ctx, p, t, true);
  return std::make_unique<ToeplitzPlan<double>>(ctx, p, t, true);
}

}  // namespace

const AlgorithmOps kSparseToeplitzOps{Algorithm::SparseToeplitz,
                                      supports_sparse_toeplitz,
                                      workspace_sparse_toeplitz,
                                      min_workspace_sparse_toeplitz,
                                      run_sparse_toeplitz,
                                      make_sparse_toeplitz_plan,
                                      supports_sparse_toeplitz_backward,
                                      workspace_sparse_toeplitz_backward,
                                      min_workspace_sparse_toeplitz_backward,
                                      run_sparse_toeplitz_backward};

}  // namespace convkit::detail
