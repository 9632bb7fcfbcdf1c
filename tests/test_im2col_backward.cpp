// CPU tests of Algorithm::Im2colGemm's backward passes (DESIGN §6): the very
// pipelines run_backward runs (im2col_gemm.hpp's
// im2col_backward_{data,filter}_pipeline), driven by a host executor whose
// lowering and col2im are the kernels' own __host__ __device__ element
// functions and whose GEMM replays each cuBLAS strided-batched call from its
// descriptor (transposes, m/n/k, leading dimensions, offsets, strides, beta)
// by the column-major definition, checking that every operand stays inside a
// known array and that no two batch entries of one call write the same C
// element. Compared exactly (small integers) with reference::conv_backward_data
// / conv_backward_filter over the whole problem table, f32 and f64, beta 0
// (outputs poisoned with NaN: never read) and beta 1, under workspace limits
// that force one image per chunk, a few, and the whole batch; plus the GEMM
// descriptors, workspace formulas, variants and the WorkspaceTooSmall check.
#include "harness.hpp"
#include "regressions.hpp"

#include "im2col.cuh"
#include "im2col_gemm.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

using detail::Im2colGradCall;
using detail::Im2colGradGemm;
using detail::Im2colLayout;
using detail::Im2colWorkspace;

// The host executor of the backward pipelines.
template <class T>
class HostExec {
 public:
  /// An array the pipeline may read or write.
  void allow(const T* p, std::int64_t n, std::string name) { ranges_.push_back({p, p + n, std::move(name)}); }

  void* workspace(std::size_t bytes) {
    ++workspace_calls;
    workspace_bytes = bytes;
    EXPECT_EQ(bytes % sizeof(T), 0u);
    ws_.assign(bytes / sizeof(T), std::numeric_limits<T>::quiet_NaN());  // the GEMM must write before col2im reads
    allow(ws_.data(), static_cast<std::int64_t>(ws_.size()), "workspace");
    return ws_.data();
  }
  void im2col(const ConvProblem& p, const Im2colLayout& L, const T* x, T* cols, std::int64_t first,
              std::int64_t count) {
    ++im2col_calls;
    EXPECT_TRUE(inside(cols, count * p.G * L.rows * L.cols)) << "im2col's columns";
    EXPECT_TRUE(inside(x + first * p.C * p.in_spatial(), count * p.C * p.in_spatial())) << "im2col's x";
    detail::im2col_host(p, L, x, cols, first, count);
  }
  void col2im(const ConvProblem& p, const Im2colLayout& L, const T* cols, T* dx, std::int64_t count,
              bool accumulate) {
    ++col2im_calls;
    EXPECT_TRUE(inside(cols, count * p.G * L.rows * L.cols)) << "col2im's columns";
    EXPECT_TRUE(inside(dx, count * p.C * p.in_spatial())) << "col2im's dx";
    detail::col2im_host(p, L, cols, dx, count, accumulate);
  }
  // C = op(A)·op(B) (+ C), column-major, per batch entry: what
  // cublas?gemmStridedBatched_64 computes; beta 0 never reads C.
  void gemm(const Im2colGradGemm& g, const Im2colGradCall& c, const T* A, const T* B, T* C) {
    ++gemm_calls;
    const auto& at = c.at;
    const std::int64_t ar = g.trans_a ? g.k : g.m, ac = g.trans_a ? g.m : g.k;  // A as stored
    const std::int64_t br = g.trans_b ? g.n : g.k, bc = g.trans_b ? g.k : g.n;  // B as stored
    ASSERT_GE(g.m, 1);
    ASSERT_GE(g.n, 1);
    ASSERT_GE(g.k, 1);
    ASSERT_GE(at.batch, 1);
    ASSERT_GE(g.lda, ar);
    ASSERT_GE(g.ldb, br);
    ASSERT_GE(g.ldc, g.m);
    const std::int64_t a_extent = (ac - 1) * g.lda + ar, b_extent = (bc - 1) * g.ldb + br,
                       c_extent = (g.n - 1) * g.ldc + g.m;
    // Distinct batch entries write disjoint C (they run concurrently on the device).
    if (at.batch > 1) {
      ASSERT_GE(at.stride_c, c_extent) << "batch entries of one call overlap in C";
    }
    for (std::int64_t e = 0; e < at.batch; ++e) {
      const std::int64_t ao = at.a_offset + e * at.stride_a, bo = at.b_offset + e * at.stride_b,
                         co = at.c_offset + e * at.stride_c;
      ASSERT_TRUE(inside_at(A, ao, a_extent)) << "A of batch entry " << e;
      ASSERT_TRUE(inside_at(B, bo, b_extent)) << "B of batch entry " << e;
      ASSERT_TRUE(inside_at(C, co, c_extent)) << "C of batch entry " << e;
      const T* a = A + ao;
      const T* b = B + bo;
      T* out = C + co;
      for (std::int64_t j = 0; j < g.n; ++j)
        for (std::int64_t i = 0; i < g.m; ++i) {
          T acc = 0;
          for (std::int64_t l = 0; l < g.k; ++l) {
            const T av = g.trans_a ? a[l + i * g.lda] : a[i + l * g.lda];
            const T bv = g.trans_b ? b[j + l * g.ldb] : b[l + j * g.ldb];
            acc += av * bv;
          }
          T& o = out[i + j * g.ldc];
          o = c.accumulate ? o + acc : acc;
        }
    }
  }

  int workspace_calls = 0, im2col_calls = 0, col2im_calls = 0, gemm_calls = 0;
  std::size_t workspace_bytes = 0;

 private:
  struct Range {
    const T* begin;
    const T* end;
    std::string name;
  };
  // Address arithmetic on integers: a wrong descriptor must fail the check,
  // not form an out-of-range pointer comparison.
  bool inside(const T* p, std::int64_t n) const { return inside_at(p, 0, n); }
  bool inside_at(const T* base, std::int64_t offset, std::int64_t n) const {
    const auto a = reinterpret_cast<std::uintptr_t>(base) + static_cast<std::uintptr_t>(offset) * sizeof(T);
    for (const Range& r : ranges_) {
      const auto b = reinterpret_cast<std::uintptr_t>(r.begin), e = reinterpret_cast<std::uintptr_t>(r.end);
      if (n >= 0 && a >= b && a <= e && (e - a) / sizeof(T) >= static_cast<std::uint64_t>(n)) return true;
    }
    return false;
  }
  std::vector<Range> ranges_;
  std::vector<T> ws_;
};

template <class T>
HostTensor<T> copy_of(const HostTensor<T>& a) {
  HostTensor<T> t(a.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = a[i];
  return t;
}

// The workspace limits a case is run under: one image per chunk, two, and the
// whole batch (and no limit).
std::vector<std::size_t> limits_for(const Im2colWorkspace& ws) {
  std::vector<std::size_t> v{ws.min, ws.min + ws.per_image, ws.full, std::numeric_limits<std::size_t>::max()};
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Checks the executor's bookkeeping against the workspace formulas.
template <class T>
void check_budget(const HostExec<T>& ex, const ConvProblem& p, const Im2colWorkspace& ws, std::size_t limit) {
  if (ws.plain_gemm) {
    EXPECT_EQ(ex.workspace_calls, 0);
    EXPECT_EQ(ws.full, 0u);
    return;
  }
  EXPECT_EQ(ex.workspace_calls, 1);
  EXPECT_LE(ex.workspace_bytes, std::max(ws.min, std::min(ws.full, limit)));
  const std::int64_t chunk = detail::im2col_chunk_images(p, ws, limit);
  EXPECT_EQ(ex.workspace_bytes, static_cast<std::size_t>(chunk) * ws.per_image);
}

template <class T>
void check_data(const ConvCase& c, std::uint64_t seed, bool accumulate) {
  const ConvProblem p = c.spec.problem(c.x, c.w);
  const HostTensor<T> w = random_ints<T>(c.w, seed + 1), dy = random_ints<T>(p.y_shape(), seed + 2);
  const HostTensor<T> init = accumulate ? random_ints<T>(c.x, seed + 3) : filled<T>(c.x, std::numeric_limits<T>::quiet_NaN());
  HostTensor<T> want = copy_of(init);
  reference::conv_backward_data(c.spec, dy.view(), w.view(), want.view(), accumulate ? 1.0 : 0.0);
  const Im2colWorkspace ws = detail::im2col_backward_workspace(p, dtype_v<T>);
  for (std::size_t limit : limits_for(ws)) {
    SCOPED_TRACE("backward-data, beta " + std::to_string(accumulate) + ", limit " + std::to_string(limit));
    HostTensor<T> got = copy_of(init);
    HostExec<T> ex;
    ex.allow(dy.data(), dy.numel(), "dy");
    ex.allow(w.data(), w.numel(), "w");
    ex.allow(got.data(), got.numel(), "dx");
    detail::im2col_backward_data_pipeline<T>(ex, p, limit, dy.data(), w.data(), got.data(), accumulate);
    EXPECT_TRUE(compare(got, want, nullptr, 0.0));
    check_budget(ex, p, ws, limit);
    if (!ws.plain_gemm) {
      const std::int64_t chunk = detail::im2col_chunk_images(p, ws, limit);
      EXPECT_EQ(ex.col2im_calls, (p.N + chunk - 1) / chunk);
    } else {
      EXPECT_EQ(ex.col2im_calls, 0);
    }
    EXPECT_EQ(ex.im2col_calls, 0);
  }
}

template <class T>
void check_filter(const ConvCase& c, std::uint64_t seed, bool accumulate) {
  const ConvProblem p = c.spec.problem(c.x, c.w);
  const HostTensor<T> x = random_ints<T>(c.x, seed + 4), dy = random_ints<T>(p.y_shape(), seed + 5);
  const HostTensor<T> init = accumulate ? random_ints<T>(c.w, seed + 6) : filled<T>(c.w, std::numeric_limits<T>::quiet_NaN());
  HostTensor<T> want = copy_of(init);
  reference::conv_backward_filter(c.spec, x.view(), dy.view(), want.view(), accumulate ? 1.0 : 0.0);
  const Im2colWorkspace ws = detail::im2col_backward_workspace(p, dtype_v<T>);
  for (std::size_t limit : limits_for(ws)) {
    SCOPED_TRACE("backward-filter, beta " + std::to_string(accumulate) + ", limit " + std::to_string(limit));
    HostTensor<T> got = copy_of(init);
    HostExec<T> ex;
    ex.allow(x.data(), x.numel(), "x");
    ex.allow(dy.data(), dy.numel(), "dy");
    ex.allow(got.data(), got.numel(), "dw");
    detail::im2col_backward_filter_pipeline<T>(ex, p, limit, x.data(), dy.data(), got.data(), accumulate);
    EXPECT_TRUE(compare(got, want, nullptr, 0.0));
    check_budget(ex, p, ws, limit);
    EXPECT_EQ(ex.gemm_calls, p.N);  // one call per image, batched over groups
    EXPECT_EQ(ex.col2im_calls, 0);
    if (!ws.plain_gemm) {
      const std::int64_t chunk = detail::im2col_chunk_images(p, ws, limit);
      EXPECT_EQ(ex.im2col_calls, (p.N + chunk - 1) / chunk);
    } else {
      EXPECT_EQ(ex.im2col_calls, 0);
    }
  }
}

template <class T>
void check_table() {
  std::uint64_t seed = 7000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    if (p.N == 0) continue;  // conv.cpp never runs the pass with N = 0
    for (bool accumulate : {false, true}) {
      check_data<T>(c, seed += 8, accumulate);
      check_filter<T>(c, seed += 8, accumulate);
    }
  }
}

TEST(Im2colBackwardHost, ExactOverProblemTableF32) { check_table<float>(); }
TEST(Im2colBackwardHost, ExactOverProblemTableF64) { check_table<double>(); }

// Extra shapes: the plain 1x1 GEMM with groups and N < G / N >= G (both
// batchings of backward-data), a batch that splits unevenly into chunks,
// every boundary with convolution mode and groups.
std::vector<ConvCase> extra_cases() {
  std::vector<ConvCase> v;
  v.push_back({"1x1 groups 3, N 2", ConvSpec::conv2d().groups(3), {2, 6, 4, 5}, {9, 2, 1, 1}});
  v.push_back({"1x1 groups 2, N 5", ConvSpec::conv2d().groups(2), {5, 4, 3, 3}, {2, 2, 1, 1}});
  v.push_back({"1x1 1-D, N 3", ConvSpec::conv1d(), {3, 3, 7}, {4, 3, 1}});
  v.push_back({"1x1 3-D depthwise", ConvSpec::conv3d().groups(2), {2, 2, 2, 3, 2}, {2, 1, 1, 1, 1}});
  v.push_back({"3x3 groups 4, N 2", ConvSpec::conv2d().groups(4).padding(1), {2, 8, 5, 6}, {8, 2, 3, 3}});
  v.push_back({"3x3 groups 2, N 7", ConvSpec::conv2d().groups(2).padding(1).stride(2), {7, 4, 6, 5}, {6, 2, 3, 3}});
  const Boundary bs[] = {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate,
                         Boundary::Symmetric};
  for (Boundary b : bs)
    for (Mode m : {Mode::CrossCorrelation, Mode::Convolution}) {
      std::ostringstream name;
      name << "boundary " << static_cast<int>(b) << " mode " << static_cast<int>(m);
      v.push_back({name.str(),
                   ConvSpec::conv2d().boundary(b).mode(m).groups(2).padding(Padding::per_dim({{2, 1}, {1, 2}})).stride({2, 1})
                       .dilation({1, 2}),
                   {3, 4, 5, 6}, {4, 2, 3, 2}});
    }
  return v;
}

TEST(Im2colBackwardHost, ExactOnExtraShapes) {
  std::uint64_t seed = 9000;
  for (const ConvCase& c : extra_cases()) {
    SCOPED_TRACE(c.name);
    for (bool accumulate : {false, true}) {
      check_data<float>(c, seed += 8, accumulate);
      check_filter<float>(c, seed += 8, accumulate);
      check_data<double>(c, seed += 8, accumulate);
      check_filter<double>(c, seed += 8, accumulate);
    }
  }
}

TEST(Im2colBackwardHost, ExactOnRegressionShapes) {
  std::uint64_t seed = 9500;
  for (const ConvCase& c : regression_cases(RegressionUse::Run)) {
    SCOPED_TRACE(c.name);
    if (c.spec.problem(c.x, c.w).N == 0) continue;
    for (bool accumulate : {false, true}) {
      check_data<float>(c, seed += 8, accumulate);
      check_filter<double>(c, seed += 8, accumulate);
    }
  }
}

// ---------------------------------------------------------------- descriptors

TEST(Im2colBackwardGemm, FilterDescriptors) {
  // dW_g [kdim, K/G] (ldc kdim) = col_gᵀ [kdim, Q] · dY_g [Q, K/G].
  const ConvProblem p = ConvSpec::conv2d().groups(2).padding(1).problem({3, 4, 6, 5}, {6, 2, 3, 3});
  const std::int64_t kdim = 18, Q = 30, Kg = 3;
  const Im2colGradGemm g = detail::im2col_dw_gemm(p, kdim, 3, false);
  EXPECT_TRUE(g.trans_a);
  EXPECT_FALSE(g.trans_b);
  EXPECT_EQ(g.m, kdim);
  EXPECT_EQ(g.n, Kg);
  EXPECT_EQ(g.k, Q);
  EXPECT_EQ(g.lda, Q);
  EXPECT_EQ(g.ldb, Q);
  EXPECT_EQ(g.ldc, kdim);
  ASSERT_EQ(g.calls.size(), 3u);
  EXPECT_FALSE(g.calls[0].accumulate);
  EXPECT_TRUE(g.calls[1].accumulate);
  EXPECT_TRUE(g.calls[2].accumulate);
  EXPECT_EQ(g.calls[2].at.a_offset, 2 * 2 * kdim * Q);
  EXPECT_EQ(g.calls[2].at.b_offset, 2 * 6 * Q);
  EXPECT_EQ(g.calls[2].at.c_offset, 0);
  EXPECT_EQ(g.calls[2].at.stride_a, kdim * Q);
  EXPECT_EQ(g.calls[2].at.stride_b, Kg * Q);
  EXPECT_EQ(g.calls[2].at.stride_c, Kg * kdim);
  EXPECT_EQ(g.calls[2].at.batch, 2);
  EXPECT_TRUE(detail::im2col_dw_gemm(p, kdim, 1, true).calls[0].accumulate);
}

TEST(Im2colBackwardGemm, DataDescriptorsBatchGroupsOrImages) {
  // col_g [Q, kdim] (ldc Q) = dY_g [Q, K/G] · W_gᵀ.
  const ConvProblem p = ConvSpec::conv2d().groups(4).padding(1).problem({8, 8, 6, 6}, {8, 2, 3, 3});
  const std::int64_t kdim = 18, Q = 36, Kg = 2;
  const Im2colGradGemm per_image = detail::im2col_dx_gemm(p, kdim, 2, false);
  EXPECT_FALSE(per_image.trans_a);
  EXPECT_TRUE(per_image.trans_b);
  EXPECT_EQ(per_image.m, Q);
  EXPECT_EQ(per_image.n, kdim);
  EXPECT_EQ(per_image.k, Kg);
  EXPECT_EQ(per_image.lda, Q);
  EXPECT_EQ(per_image.ldb, kdim);
  EXPECT_EQ(per_image.ldc, Q);
  ASSERT_EQ(per_image.calls.size(), 2u);
  EXPECT_EQ(per_image.calls[1].at.batch, 4);
  EXPECT_EQ(per_image.calls[1].at.a_offset, 8 * Q);
  EXPECT_EQ(per_image.calls[1].at.c_offset, 4 * kdim * Q);
  EXPECT_FALSE(per_image.calls[1].accumulate);
  const Im2colGradGemm per_group = detail::im2col_dx_gemm(p, kdim, 8, true);
  ASSERT_EQ(per_group.calls.size(), 4u);
  EXPECT_EQ(per_group.calls[3].at.batch, 8);
  EXPECT_EQ(per_group.calls[3].at.stride_b, 0);
  EXPECT_EQ(per_group.calls[3].at.b_offset, 3 * Kg * kdim);
  EXPECT_EQ(per_group.calls[3].at.stride_a, 8 * Q);
  EXPECT_EQ(per_group.calls[3].at.stride_c, 4 * kdim * Q);
  EXPECT_TRUE(per_group.calls[3].accumulate);
  EXPECT_TRUE(detail::im2col_dx_gemm(p, kdim, 0, false).calls.empty());
}

// ---------------------------------------------------------------- workspace, variants, checks

TEST(Im2colBackwardWorkspace, Formulas) {
  for (Direction d : {Direction::BackwardData, Direction::BackwardFilter}) {
    SCOPED_TRACE(direction_name(d));
    // per_image = G·(C/G·Πk)·ΠO·sizeof(T); min one image, full the batch; no bias.
    const auto s = ConvSpec::conv2d().groups(2).padding(1).bias(true);
    const Shape xs{5, 4, 9, 9}, wsh{6, 2, 3, 3};
    EXPECT_EQ(workspace_bytes(s, xs, wsh, DType::F32, Algorithm::Im2colGemm, d), 5u * 2u * 18u * 81u * 4u);
    EXPECT_EQ(workspace_bytes(s, xs, wsh, DType::F64, Algorithm::Im2colGemm, d), 5u * 2u * 18u * 81u * 8u);
    const ConvProblem p = s.problem(xs, wsh);
    const Im2colWorkspace w = detail::im2col_backward_workspace(p, DType::F32);
    EXPECT_EQ(w.packed, 0u);
    EXPECT_EQ(w.per_image, 2u * 18u * 81u * 4u);
    EXPECT_EQ(w.min, w.per_image);
    EXPECT_EQ(w.full, 5u * w.per_image);
    // Plain 1x1: none.
    EXPECT_EQ(workspace_bytes(ConvSpec::conv2d(), {2, 5, 7, 3}, {6, 5, 1, 1}, DType::F32, Algorithm::Im2colGemm, d),
              0u);
  }
}

TEST(Im2colBackwardSupport, VariantsAndTable) {
  auto variant = [](const ConvSpec& s, Shape x, Shape w, Direction d) {
    return supports(s, x, w, DType::F32, Algorithm::Im2colGemm, d).variant;
  };
  EXPECT_EQ(variant(ConvSpec::conv2d(), {2, 5, 7, 3}, {6, 5, 1, 1}, Direction::BackwardData), "im2col/gemm-1x1-dx");
  EXPECT_EQ(variant(ConvSpec::conv2d(), {2, 5, 7, 3}, {6, 5, 1, 1}, Direction::BackwardFilter), "im2col/gemm-1x1-dw");
  EXPECT_EQ(variant(ConvSpec::conv2d().stride(2), {2, 5, 7, 3}, {6, 5, 1, 1}, Direction::BackwardData),
            "im2col/gemm+col2im-dx");
  EXPECT_EQ(variant(ConvSpec::conv2d().padding(1), {2, 5, 7, 3}, {6, 5, 3, 3}, Direction::BackwardFilter),
            "im2col/im2col+gemm-dw");
  for (const ConvCase& c : problem_table())
    for (DType t : {DType::F32, DType::F64})
      for (Direction d : {Direction::BackwardData, Direction::BackwardFilter}) {
        const Support s = supports(c.spec, c.x, c.w, t, Algorithm::Im2colGemm, d);
        EXPECT_TRUE(s.ok) << c.name << " " << direction_name(d) << ": " << s.reason;
      }
}

// A limit below one image's columns is refused before any device work, with
// the bytes needed in the message.
TEST(Im2colBackwardSupport, WorkspaceTooSmallNamesTheBytes) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape xs{2, 3, 8, 8}, wsh{4, 3, 3, 3};
  const ConvProblem p = spec.problem(xs, wsh);
  const std::size_t need = detail::im2col_backward_workspace(p, DType::F32).min;
  Context ctx;
  ctx.set_workspace_limit(need - 1);
  auto fake = [](std::uintptr_t a) { return reinterpret_cast<float*>(a); };
  auto x = TensorView<float>::device(fake(0x10000000), xs);
  auto w = TensorView<float>::device(fake(0x20000000), wsh);
  auto y = TensorView<float>::device(fake(0x30000000), p.y_shape());
  for (int pass = 0; pass < 2; ++pass) {
    try {
      if (pass == 0)
        conv_backward_data(ctx, spec, y, w, x, Algorithm::Im2colGemm);
      else
        conv_backward_filter(ctx, spec, x, y, w, Algorithm::Im2colGemm);
      ADD_FAILURE() << "expected WorkspaceTooSmall, pass " << pass;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::WorkspaceTooSmall) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(need)), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace convkit::test
