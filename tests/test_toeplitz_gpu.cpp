// GPU tests of the sparse Toeplitz path: the device build against the host
// build (same Thrust functors, device policy), Algorithm::SparseToeplitz
// (one-shot conv and ConvPlan, SpMV for N = 1 and SpMM for N > 1) against the
// reference over the problem table -- small integers exact, random floats
// within the harness tolerance, outputs NaN-poisoned first and checked to be
// fully written, on a caller's stream -- set_weights refills, run_transpose
// against reference::conv_transpose, and the budget refusals (the workspace
// limit: NotSupported; the device's free memory: OutOfMemory). Every test skips
// itself without a CUDA device.
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string>

namespace convkit::test {
namespace {

using toeplitz::IndexWidth;

// A caller-owned non-blocking stream, destroyed after everything using it.
struct UserStream {
  cudaStream_t s = nullptr;
  UserStream() { EXPECT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess); }
  ~UserStream() {
    cudaStreamSynchronize(s);
    cudaStreamDestroy(s);
  }
};

// Fills a device tensor with NaN bytes (0xFF...), on the context's stream.
template <class T>
void poison(Context& ctx, DeviceTensor<T>& t) {
  if (t.bytes()) ASSERT_EQ(cudaMemsetAsync(t.data(), 0xFF, t.bytes(), ctx.stream()), cudaSuccess);
}

template <class T>
::testing::AssertionResult same_matrix(const toeplitz::Matrix<T>& a, const toeplitz::Matrix<T>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols() || a.nnz() != b.nnz() || a.index_width() != b.index_width())
    return ::testing::AssertionFailure() << a.info().str() << " vs " << b.info().str();
  for (std::int64_t r = 0; r <= a.rows(); ++r)
    if (a.row_begin(r) != b.row_begin(r)) return ::testing::AssertionFailure() << "row offset " << r << " differs";
  for (std::int64_t j = 0; j < a.nnz(); ++j) {
    if (a.col(j) != b.col(j) || a.value(j) != b.value(j))
      return ::testing::AssertionFailure() << "nonzero " << j << ": (" << a.col(j) << ", " << a.value(j)
                                           << ") vs (" << b.col(j) << ", " << b.value(j) << ")";
    if (a.source_taps(j) != b.source_taps(j))
      return ::testing::AssertionFailure() << "source taps of nonzero " << j << " differ";
  }
  return ::testing::AssertionSuccess();
}

TEST(ToeplitzGpu, DeviceBuildEqualsHostBuild) {
  CONVKIT_REQUIRE_GPU();
  UserStream us;
  Context ctx(us.s);
  std::uint64_t seed = 3000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
    HostTensor<float> w = random_ints<float>(c.w, seed += 10);
    auto dw = DeviceTensor<float>::from_host(ctx, w);
    for (IndexWidth width : {IndexWidth::Auto, IndexWidth::I64}) {
      toeplitz::BuildOptions o;
      o.index_width = width;
      const auto host = toeplitz::build(c.spec, c.x, w.view(), o);
      const auto dev = toeplitz::build_device(ctx, c.spec, c.x, dw.view(), o);
      EXPECT_EQ(dev.bytes(), host.bytes());
      EXPECT_TRUE(same_matrix(dev.to_host(), host));
    }
  }
}

TEST(ToeplitzGpu, DeviceRefillEqualsFreshBuild) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    HostTensor<double> w1 = random_ints<double>(c.w, 51), w2 = random_ints<double>(c.w, 52);
    auto d1 = DeviceTensor<double>::from_host(ctx, w1), d2 = DeviceTensor<double>::from_host(ctx, w2);
    auto m = toeplitz::build_device(ctx, c.spec, c.x, d1.view());
    m.refill(d2.view());
    EXPECT_TRUE(same_matrix(m.to_host(), toeplitz::build(c.spec, c.x, w2.view())));
  }
}

// The product through conv() (a temporary plan) and through a ConvPlan,
// against the reference. ints: exact; otherwise the harness tolerance.
template <class T>
void check_product(const ConvCase& c, std::uint64_t seed, bool ints) {
  SCOPED_TRACE(c.name + " seed " + std::to_string(seed) + " " + dtype_name(dtype_v<T>) + (ints ? " ints" : " floats"));
  UserStream us;
  Context ctx(us.s);
  const ConvProblem p = c.spec.problem(c.x, c.w);
  auto gen = [&](const Shape& s, std::uint64_t sd) { return ints ? random_ints<T>(s, sd) : random_floats<T>(s, sd); };
  HostTensor<T> x = gen(c.x, seed), w = gen(c.w, seed + 1), b = gen(Shape{p.K}, seed + 2);
  const HostTensor<T>* bias = c.spec.has_bias() ? &b : nullptr;
  const Expected<T> e = expected_output(c.spec, x, w, bias);
  const double tol = ints ? 0.0 : tolerance<T>(p.Cg() * p.ker_spatial());

  auto dx = DeviceTensor<T>::from_host(ctx, x), dw = DeviceTensor<T>::from_host(ctx, w);
  auto db = DeviceTensor<T>::from_host(ctx, b);
  DeviceTensor<T> dy(ctx, p.y_shape());
  poison(ctx, dy);
  if (bias)
    conv(ctx, c.spec, dx.view(), dw.view(), db.view(), dy.view(), Algorithm::SparseToeplitz);
  else
    conv(ctx, c.spec, dx.view(), dw.view(), dy.view(), Algorithm::SparseToeplitz);
  EXPECT_TRUE(compare(dy.to_host(), e.y, &e.magnitude, tol)) << "conv()";

  ConvPlan plan(ctx, c.spec, c.x, c.w, dtype_v<T>, Algorithm::SparseToeplitz);
  EXPECT_EQ(plan.algorithm(), Algorithm::SparseToeplitz);
  if (bias)
    plan.set_weights(dw.view(), db.view());
  else
    plan.set_weights(dw.view());
  for (int rep = 0; rep < 2; ++rep) {  // the second run reuses the preprocessed state
    poison(ctx, dy);
    plan.run(dx.view(), dy.view());
    EXPECT_TRUE(compare(dy.to_host(), e.y, &e.magnitude, tol)) << "ConvPlan::run #" << rep;
  }
  EXPECT_GE(plan.workspace_bytes(), toeplitz::info(c.spec, c.x, c.w, dtype_v<T>).total_bytes());
}

TEST(ToeplitzGpu, ProductMatchesReferenceF32Ints) {
  CONVKIT_REQUIRE_GPU();
  std::uint64_t seed = 4000;
  for (const ConvCase& c : problem_table()) check_product<float>(c, seed += 10, true);
}
TEST(ToeplitzGpu, ProductMatchesReferenceF64Ints) {
  CONVKIT_REQUIRE_GPU();
  std::uint64_t seed = 5000;
  for (const ConvCase& c : problem_table()) check_product<double>(c, seed += 10, true);
}
TEST(ToeplitzGpu, ProductMatchesReferenceF32Floats) {
  CONVKIT_REQUIRE_GPU();
  std::uint64_t seed = 6000;
  for (const ConvCase& c : problem_table()) check_product<float>(c, seed += 10, false);
}
TEST(ToeplitzGpu, ProductMatchesReferenceF64Floats) {
  CONVKIT_REQUIRE_GPU();
  std::uint64_t seed = 7000;
  for (const ConvCase& c : problem_table()) check_product<double>(c, seed += 10, false);
}

TEST(ToeplitzGpu, SetWeightsThenRunEqualsFreshPlan) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  std::uint64_t seed = 8000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    HostTensor<float> x = random_ints<float>(c.x, seed += 10), w1 = random_ints<float>(c.w, seed + 1);
    HostTensor<float> w2 = random_ints<float>(c.w, seed + 2), b = random_ints<float>(Shape{p.K}, seed + 3);
    auto dx = DeviceTensor<float>::from_host(ctx, x), dw1 = DeviceTensor<float>::from_host(ctx, w1);
    auto dw2 = DeviceTensor<float>::from_host(ctx, w2), db = DeviceTensor<float>::from_host(ctx, b);
    DeviceTensor<float> y_re(ctx, p.y_shape()), y_fresh(ctx, p.y_shape());
    auto bind = [&](ConvPlan& plan, DeviceTensor<float>& w) {
      if (c.spec.has_bias())
        plan.set_weights(w.view(), db.view());
      else
        plan.set_weights(w.view());
    };
    ConvPlan reused(ctx, c.spec, c.x, c.w, DType::F32, Algorithm::SparseToeplitz);
    bind(reused, dw1);
    poison(ctx, y_re);
    reused.run(dx.view(), y_re.view());
    bind(reused, dw2);
    poison(ctx, y_re);
    reused.run(dx.view(), y_re.view());
    ConvPlan fresh(ctx, c.spec, c.x, c.w, DType::F32, Algorithm::SparseToeplitz);
    bind(fresh, dw2);
    poison(ctx, y_fresh);
    fresh.run(dx.view(), y_fresh.view());
    const Expected<float> e = expected_output(c.spec, x, w2, c.spec.has_bias() ? &b : nullptr);
    const HostTensor<float> got = y_re.to_host();
    EXPECT_TRUE(compare(got, e.y, nullptr, 0.0));
    EXPECT_TRUE(compare(got, y_fresh.to_host(), nullptr, 0.0));
  }
}

template <class T>
void check_transpose(const ConvCase& c, std::uint64_t seed, bool ints) {
  SCOPED_TRACE(c.name + " seed " + std::to_string(seed) + " " + dtype_name(dtype_v<T>) + (ints ? " ints" : " floats"));
  UserStream us;
  Context ctx(us.s);
  ConvSpec nobias = c.spec;
  nobias.bias(false);
  const ConvProblem p = nobias.problem(c.x, c.w);
  auto gen = [&](const Shape& s, std::uint64_t sd) { return ints ? random_ints<T>(s, sd) : random_floats<T>(s, sd); };
  HostTensor<T> dy = gen(p.y_shape(), seed), w = gen(c.w, seed + 1);
  HostTensor<T> want(p.x_shape());
  reference::conv_transpose(nobias, dy.view(), w.view(), want.view());
  // Σ|dy·w| per input element bounds the rounding of the adjoint's sums.
  HostTensor<double> ady(dy.shape()), aw(w.shape()), mag(p.x_shape());
  for (std::int64_t i = 0; i < dy.numel(); ++i) ady[i] = std::abs(double(dy[i]));
  for (std::int64_t i = 0; i < w.numel(); ++i) aw[i] = std::abs(double(w[i]));
  reference::conv_transpose(nobias, ady.view(), aw.view(), mag.view());
  // An input element gathers at most (K/G)·Πk terms.
  const double tol = ints ? 0.0 : tolerance<T>(p.Kg() * p.ker_spatial());

  auto ddy = DeviceTensor<T>::from_host(ctx, dy), dw = DeviceTensor<T>::from_host(ctx, w);
  DeviceTensor<T> ddx(ctx, p.x_shape());
  poison(ctx, ddx);
  ConvPlan plan(ctx, nobias, c.x, c.w, dtype_v<T>, Algorithm::SparseToeplitz);
  plan.set_weights(dw.view());
  plan.run_transpose(ddy.view(), ddx.view());
  EXPECT_TRUE(compare(ddx.to_host(), want, &mag, tol));
}

TEST(ToeplitzGpu, RunTransposeMatchesReferenceConvTranspose) {
  CONVKIT_REQUIRE_GPU();
  std::uint64_t seed = 9000;
  for (const ConvCase& c : problem_table()) {
    check_transpose<float>(c, seed += 10, true);
    check_transpose<double>(c, seed += 10, false);
  }
}

// The SpMM layout tests' problem: 8 images 4×48×40, 6 output channels 3×3,
// padding 1, bias; small-integer data, the reference's forward product and
// its transposed product (bias-free) of dy, and the row-major copies' bytes
// as the plan lays them out (x and y each rounded up to 256 bytes).
struct SpmmCase {
  ConvSpec spec = ConvSpec::conv2d().padding(1).bias(true);
  ConvSpec nobias = ConvSpec(spec).bias(false);
  Shape xs{8, 4, 48, 40}, ws{6, 4, 3, 3};
  ConvProblem p = spec.problem(xs, ws);
  HostTensor<float> x, w, b, dy, want_dx{xs};
  Expected<float> e;
  toeplitz::Info info = toeplitz::info(spec, xs, ws, DType::F32);
  std::size_t copies = 0;
  explicit SpmmCase(std::uint64_t seed)
      : x(random_ints<float>(xs, seed)),
        w(random_ints<float>(ws, seed + 1)),
        b(random_ints<float>(Shape{6}, seed + 2)),
        dy(random_ints<float>(p.y_shape(), seed + 3)) {
    e = expected_output(spec, x, w, &b);
    reference::conv_transpose(nobias, dy.view(), w.view(), want_dx.view());
    auto aligned = [](std::size_t bytes) { return (bytes + 255) / 256 * 256; };
    copies = aligned(static_cast<std::size_t>(p.N * info.cols) * sizeof(float)) +
             aligned(static_cast<std::size_t>(p.N * info.rows) * sizeof(float));
  }
};

// A SpmmCase's operands on the device, with its output y and the transposed
// product's output gx, and a plan with the weights and bias set.
struct SpmmOnDevice {
  DeviceTensor<float> x, w, b, dy, y, gx;
  SpmmOnDevice(Context& ctx, const SpmmCase& k)
      : x(DeviceTensor<float>::from_host(ctx, k.x)),
        w(DeviceTensor<float>::from_host(ctx, k.w)),
        b(DeviceTensor<float>::from_host(ctx, k.b)),
        dy(DeviceTensor<float>::from_host(ctx, k.dy)),
        y(ctx, k.p.y_shape()),
        gx(ctx, k.xs) {}
  ConvPlan plan(Context& ctx, const SpmmCase& k) const {
    ConvPlan pl(ctx, k.spec, k.xs, k.ws, DType::F32, Algorithm::SparseToeplitz);
    pl.set_weights(w.view(), b.view());
    return pl;
  }
};

// SpMM's two dense layouts: row-major copies (the default, workspace
// unlimited) and, under a limit that holds the matrix but not the copies,
// cuSPARSE on NCHW in place. Both forward (with bias) and transposed, exact.
TEST(ToeplitzGpu, SpmmBothLayoutsMatchTheReference) {
  CONVKIT_REQUIRE_GPU();
  const SpmmCase k(71);
  const ConvSpec &spec = k.spec, &nobias = k.nobias;
  const Shape &xs = k.xs, &ws = k.ws;
  const ConvProblem& p = k.p;
  const HostTensor<float>& want_dx = k.want_dx;
  const Expected<float>& e = k.e;
  const toeplitz::Info& in = k.info;
  // Unaligned: a limit one byte under the copies' raw size is under their
  // aligned size too.
  const std::size_t copies = static_cast<std::size_t>(p.N * (in.rows + in.cols)) * sizeof(float);
  for (const std::size_t limit : {std::numeric_limits<std::size_t>::max(), in.total_bytes() + copies - 1}) {
    SCOPED_TRACE("workspace limit " + std::to_string(limit));
    Context ctx;
    ctx.set_workspace_limit(limit);
    SpmmOnDevice dev(ctx, k);
    auto &dx = dev.x, &dw = dev.w, &db = dev.b, &ddy = dev.dy, &y = dev.y, &gx = dev.gx;
    ConvPlan plan = dev.plan(ctx, k);
    poison(ctx, y);
    plan.run(dx.view(), y.view());
    EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "run";
    // Which layout ran: the plan names it, and only the row-major copies take
    // context workspace.
    if (limit == std::numeric_limits<std::size_t>::max()) {
      EXPECT_EQ(plan.variant(), "toeplitz/spmm-rows");
      EXPECT_GE(ctx.workspace_allocated(), copies) << "row-major copies expected";
    } else {
      EXPECT_EQ(plan.variant(), "toeplitz/spmm-columns");
      EXPECT_LT(ctx.workspace_allocated(), copies) << "column-major (no copies) expected";
    }
    ConvPlan tplan(ctx, nobias, xs, ws, DType::F32, Algorithm::SparseToeplitz);
    tplan.set_weights(dw.view());
    poison(ctx, gx);
    tplan.run_transpose(ddy.view(), gx.view());
    EXPECT_TRUE(compare(gx.to_host(), want_dx, nullptr, 0.0)) << "run_transpose";
    poison(ctx, y);
    conv(ctx, spec, dx.view(), dw.view(), db.view(), y.view(), Algorithm::SparseToeplitz);
    EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "conv()";
  }
  // One plan across limit changes: row-major, then (limit lowered below the
  // copies) column-major, then row-major again; exact every time.
  Context ctx;
  SpmmOnDevice dev(ctx, k);
  auto &dx = dev.x, &y = dev.y;
  ConvPlan plan = dev.plan(ctx, k);
  for (const std::size_t limit : {std::numeric_limits<std::size_t>::max(), in.total_bytes() + copies - 1,
                                  std::numeric_limits<std::size_t>::max()}) {
    SCOPED_TRACE("same plan, workspace limit " + std::to_string(limit));
    ctx.set_workspace_limit(limit);
    poison(ctx, y);
    plan.run(dx.view(), y.view());
    EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0));
    EXPECT_EQ(plan.variant(), limit == std::numeric_limits<std::size_t>::max() ? "toeplitz/spmm-rows"
                                                                              : "toeplitz/spmm-columns");
  }
}

// One plan, both products, under a limit that just fits the forward
// product's row-major copies: the transposed product then cannot take
// row-major copies as well (unless its buffer is empty) and takes a
// column-major buffer of its own; the next forward run must re-decide its
// layout against what the plan now holds instead of failing on the stale
// choice. Exact every time.
TEST(ToeplitzGpu, OnePlanRunsBothProductsUnderATightLimit) {
  CONVKIT_REQUIRE_GPU();
  const SpmmCase k(81);
  const HostTensor<float>& want_dx = k.want_dx;
  const Expected<float>& e = k.e;
  const std::size_t copies = k.copies;
  Context ctx;
  SpmmOnDevice dev(ctx, k);
  auto &dx = dev.x, &ddy = dev.dy, &y = dev.y, &gx = dev.gx;
  ConvPlan plan = dev.plan(ctx, k);
  poison(ctx, y);
  plan.run(dx.view(), y.view());
  ASSERT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "unlimited";
  ASSERT_EQ(plan.variant(), "toeplitz/spmm-rows");
  const std::size_t forward_held = plan.workspace_bytes();
  ctx.set_workspace_limit(forward_held + copies);
  poison(ctx, y);
  plan.run(dx.view(), y.view());
  EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "limit = matrix + buffer + copies";
  EXPECT_EQ(plan.variant(), "toeplitz/spmm-rows");
  // The test's premise is that cuSPARSE's column-major buffers fit beside
  // the matrix within the copies' bytes. If a buffer is larger, a correct
  // plan refuses the call without naming the row-major operands, and the
  // test skips itself with the numbers; a refusal naming the operands means
  // the plan chose row-major copies that do not fit, a bug.
  const auto run_or_skip = [&](const std::function<void()>& call, const char* what) {
    try {
      call();
      return true;
    } catch (const Error& err) {
      if (err.status() != Status::WorkspaceTooSmall) throw;
      const std::string m = err.what();
      if (m.find("operands") != std::string::npos) {
        ADD_FAILURE() << what << ": row-major copies chosen though they do not fit: " << m;
        return false;
      }
      std::printf("premise not met (%s): %s; plan holds %zu bytes, limit %zu, copies %zu\n", what, m.c_str(),
                  plan.workspace_bytes(), forward_held + copies, copies);
      return false;
    }
  };
  poison(ctx, gx);
  if (!run_or_skip([&] { plan.run_transpose(ddy.view(), gx.view()); }, "run_transpose")) {
    if (!HasFailure()) GTEST_SKIP() << "cuSPARSE's transposed buffer is larger than the copies' bytes";
    return;
  }
  EXPECT_TRUE(compare(gx.to_host(), want_dx, nullptr, 0.0)) << "run_transpose";
  const bool transposed_took_buffer = plan.workspace_bytes() > forward_held;
  poison(ctx, y);
  if (!run_or_skip([&] { plan.run(dx.view(), y.view()); }, "forward after the transposed product")) {
    if (!HasFailure()) GTEST_SKIP() << "the forward column-major buffer does not fit beside the transposed one";
    return;
  }
  EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "forward after the transposed product";
  EXPECT_EQ(plan.variant(), transposed_took_buffer ? "toeplitz/spmm-columns" : "toeplitz/spmm-rows");
  ctx.set_workspace_limit(std::numeric_limits<std::size_t>::max());
  poison(ctx, y);
  plan.run(dx.view(), y.view());
  EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "limit lifted";
  EXPECT_EQ(plan.variant(), "toeplitz/spmm-rows");
}

// A limit of workspace_bytes(): the matrix, its map and its build scratch,
// but maybe not cuSPARSE's buffer (nor the row-major copies). The matrix is
// never refused at that limit; then either the product runs (in place, exact)
// or it is refused with WorkspaceTooSmall and the caller's output keeps every
// poisoned byte. SpMV (N = 1) and column-major SpMM (N = 3), one-shot and
// plan. (Which of the two happens depends on cuSPARSE's buffer size; the
// test's log says.)
TEST(ToeplitzGpu, RefusedForItsBufferLeavesTheOutputUntouched) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv2d().padding(1).bias(true);
  for (const std::int64_t n : {1, 3}) {
    const Shape xs{n, 3, 20, 17}, ws{5, 3, 3, 3};
    SCOPED_TRACE("N = " + std::to_string(n));
    const ConvProblem p = spec.problem(xs, ws);
    HostTensor<float> x = random_ints<float>(xs, 91), w = random_ints<float>(ws, 92), b = random_ints<float>(Shape{5}, 93);
    const Expected<float> e = expected_output(spec, x, w, &b);
    const std::size_t limit = workspace_bytes(spec, xs, ws, DType::F32, Algorithm::SparseToeplitz);
    for (const bool use_plan : {false, true}) {
      SCOPED_TRACE(use_plan ? "ConvPlan" : "conv()");
      Context ctx;
      ctx.set_workspace_limit(limit);
      auto dx = DeviceTensor<float>::from_host(ctx, x), dw = DeviceTensor<float>::from_host(ctx, w);
      auto db = DeviceTensor<float>::from_host(ctx, b);
      DeviceTensor<float> y(ctx, p.y_shape());
      poison(ctx, y);
      try {
        if (use_plan) {
          ConvPlan plan(ctx, spec, xs, ws, DType::F32, Algorithm::SparseToeplitz);
          plan.set_weights(dw.view(), db.view());
          plan.run(dx.view(), y.view());
          if (n > 1) EXPECT_EQ(plan.variant(), "toeplitz/spmm-columns");
        } else {
          conv(ctx, spec, dx.view(), dw.view(), db.view(), y.view(), Algorithm::SparseToeplitz);
        }
        EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "ran within the limit";
        std::printf("N = %lld, %s: ran within a limit of %zu bytes\n", static_cast<long long>(n),
                    use_plan ? "plan" : "conv()", limit);
      } catch (const Error& err) {
        std::printf("N = %lld, %s: refused: %s\n", static_cast<long long>(n), use_plan ? "plan" : "conv()",
                    err.what());
        EXPECT_EQ(err.status(), Status::WorkspaceTooSmall) << err.what();
        const HostTensor<float> got = y.to_host();
        std::int64_t touched = 0;
        for (std::int64_t i = 0; i < got.numel(); ++i) {
          std::uint32_t bits = 0;
          std::memcpy(&bits, &got[i], sizeof bits);
          touched += bits != 0xFFFFFFFFu;
        }
        EXPECT_EQ(touched, 0) << "output elements written by a refused call";
      }
    }
  }
}

TEST(ToeplitzGpu, PlanOverWorkspaceLimitIsRefusedWithTheBytes) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape x{2, 3, 32, 32}, w{8, 3, 3, 3};
  const toeplitz::Info in = toeplitz::info(spec, x, w, DType::F32);
  ctx.set_workspace_limit(in.total_bytes() / 2);
  try {
    ConvPlan plan(ctx, spec, x, w, DType::F32, Algorithm::SparseToeplitz);
    ADD_FAILURE() << "plan accepted over the workspace limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::NotSupported);
    EXPECT_NE(std::string(e.what()).find(std::to_string(in.total_bytes())), std::string::npos) << e.what();
  }
  EXPECT_EQ(ctx.workspace_allocated(), 0u);
}

// Within the workspace limit but over the device's free memory (held by
// others): OutOfMemory naming the bytes, since it may pass later; nothing
// allocated. Over the limit it stays NotSupported, memory short or not.
TEST(ToeplitzGpu, PlanOverFreeMemoryIsOutOfMemoryWithinTheLimit) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  ctx.stream();
  const ConvSpec spec = ConvSpec::conv2d().padding(2);
  const Shape x{1, 8, 384, 384}, w{8, 8, 5, 5};
  const toeplitz::Info in = toeplitz::info(spec, x, w, DType::F32);
  struct Hog {
    void* p = nullptr;
    ~Hog() {
      if (p) cudaFree(p);
    }
  } hog;
  std::size_t free_bytes = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_bytes, &total), cudaSuccess);
  const std::size_t leave = std::size_t(512) << 20;
  ASSERT_GT(in.total_bytes(), leave);
  ASSERT_GT(free_bytes, leave);
  ASSERT_EQ(cudaMalloc(&hog.p, free_bytes - leave), cudaSuccess);
  for (const bool limited : {false, true}) {
    SCOPED_TRACE(limited ? "limit below the matrix" : "no limit");
    ctx.set_workspace_limit(limited ? in.total_bytes() / 2 : std::numeric_limits<std::size_t>::max());
    try {
      ConvPlan plan(ctx, spec, x, w, DType::F32, Algorithm::SparseToeplitz);
      ADD_FAILURE() << "plan accepted over the device's free memory";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), limited ? Status::NotSupported : Status::OutOfMemory) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(in.total_bytes())), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(ctx.workspace_allocated(), 0u);
}

}  // namespace
}  // namespace convkit::test
