// GPU tests of Algorithm::Im2colGemm: the problem table in f32 and f64 with
// small integers (bit-exact) and random floats (toleranced), outputs poisoned
// with NaN so every element must be written; a caller's stream; ConvPlan;
// workspace limits (exactly enough, one byte short, several chunks); TF32
// only on request; and the benchmark hooks. Each test skips without a device.
#include "harness.hpp"

#include "im2col_gemm.hpp"

#include <cuda_runtime_api.h>

#include <cmath>
#include <limits>

namespace convkit::test {
namespace {

constexpr Algorithm kAlgo = Algorithm::Im2colGemm;

// Runs conv on the device into a y poisoned with `poison`, returns y.
template <class T>
HostTensor<T> run_conv(Context& ctx, const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& w,
                       const HostTensor<T>* b, T poison = std::numeric_limits<T>::quiet_NaN()) {
  return run_conv_on_device(ctx, spec, x, w, b, kAlgo, poison);
}

template <class T>
void check_table(bool ints) {
  Context ctx;
  std::uint64_t seed = ints ? 5000 : 6000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name + (ints ? " ints seed " : " floats seed ") + std::to_string(seed + 1));
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const HostTensor<T> x = ints ? random_ints<T>(c.x, ++seed) : random_floats<T>(c.x, ++seed);
    const HostTensor<T> w = ints ? random_ints<T>(c.w, ++seed) : random_floats<T>(c.w, ++seed);
    const HostTensor<T> b = ints ? random_ints<T>(Shape{p.K}, ++seed) : random_floats<T>(Shape{p.K}, ++seed);
    const HostTensor<T>* bias = p.has_bias ? &b : nullptr;
    const Expected<T> e = expected_output<T>(c.spec, x, w, bias);
    const HostTensor<T> y = run_conv<T>(ctx, c.spec, x, w, bias);
    const double tol = ints ? 0.0 : tolerance<T>(p.Cg() * p.ker_spatial() + (p.has_bias ? 1 : 0));
    EXPECT_TRUE(compare(y, e.y, &e.magnitude, tol));
  }
}

TEST(Im2colGemmGpu, TableExactIntsF32) {
  CONVKIT_REQUIRE_GPU();
  check_table<float>(true);
}
TEST(Im2colGemmGpu, TableExactIntsF64) {
  CONVKIT_REQUIRE_GPU();
  check_table<double>(true);
}
TEST(Im2colGemmGpu, TableRandomFloatsF32) {
  CONVKIT_REQUIRE_GPU();
  check_table<float>(false);
}
TEST(Im2colGemmGpu, TableRandomFloatsF64) {
  CONVKIT_REQUIRE_GPU();
  check_table<double>(false);
}

TEST(Im2colGemmGpu, CallersStream) {
  CONVKIT_REQUIRE_GPU();
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  {
    Context ctx(s);
    EXPECT_EQ(ctx.stream(), s);
    const ConvSpec spec = ConvSpec::conv2d().stride(2).padding(1).groups(2).bias(true);
    const HostTensor<float> x = random_ints<float>({3, 4, 11, 10}, 1), w = random_ints<float>({6, 2, 3, 3}, 2),
                            b = random_ints<float>({6}, 3);
    const Expected<float> e = expected_output<float>(spec, x, w, &b);
    EXPECT_TRUE(compare(run_conv<float>(ctx, spec, x, w, &b), e.y, nullptr, 0.0));
    // The 1x1 plain GEMM (bias filled first) on the caller's stream too.
    const ConvSpec one = ConvSpec::conv2d().bias(true);
    const HostTensor<float> w1 = random_ints<float>({5, 4, 1, 1}, 4), b1 = random_ints<float>({5}, 5);
    const Expected<float> e1 = expected_output<float>(one, x, w1, &b1);
    EXPECT_TRUE(compare(run_conv<float>(ctx, one, x, w1, &b1), e1.y, nullptr, 0.0));
  }
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST(Im2colGemmGpu, PlanRunsManyInputs) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).mode(Mode::Convolution).bias(true);
  const Shape xs{2, 3, 9, 12}, ws{4, 3, 3, 5};
  const HostTensor<double> w = random_ints<double>(ws, 11), b = random_ints<double>({4}, 12);
  ConvPlan plan(ctx, spec, xs, ws, DType::F64, kAlgo);
  EXPECT_EQ(plan.algorithm(), kAlgo);
  EXPECT_EQ(plan.workspace_bytes(), workspace_bytes(spec, xs, ws, DType::F64, kAlgo));
  const auto dw = DeviceTensor<double>::from_host(ctx, w);
  const auto db = DeviceTensor<double>::from_host(ctx, b);
  plan.set_weights(dw.view(), db.view());
  for (std::uint64_t seed : {13, 14, 15}) {
    const HostTensor<double> x = random_ints<double>(xs, seed);
    const auto dx = DeviceTensor<double>::from_host(ctx, x);
    auto dy = DeviceTensor<double>::from_host(ctx, filled<double>(plan.problem().y_shape(), NAN));
    plan.run(dx.view(), dy.view());
    EXPECT_TRUE(compare(dy.to_host(), expected_output<double>(spec, x, w, &b).y, nullptr, 0.0)) << "seed " << seed;
  }
}

// ---------------------------------------------------------------- workspace limits

struct LimitCase {
  ConvSpec spec = ConvSpec::conv2d().padding(1).bias(true);
  Shape xs{8, 3, 13, 11}, ws{7, 3, 3, 3};
  ConvProblem p = spec.problem(xs, ws);
  detail::Im2colWorkspace w = detail::im2col_workspace(p, DType::F32);
  HostTensor<float> x = random_ints<float>(xs, 21), wt = random_ints<float>(ws, 22), b = random_ints<float>({7}, 23);
  Expected<float> e = expected_output<float>(spec, x, wt, &b);
};

TEST(Im2colGemmGpu, LimitEqualToMinWorkspaceWorks) {
  CONVKIT_REQUIRE_GPU();
  LimitCase c;
  Context ctx;
  ctx.set_workspace_limit(c.w.min);
  EXPECT_TRUE(compare(run_conv<float>(ctx, c.spec, c.x, c.wt, &c.b), c.e.y, nullptr, 0.0));
  EXPECT_EQ(ctx.workspace_allocated(), c.w.min);  // one image's columns + the packed weights, exactly
}

TEST(Im2colGemmGpu, LimitOneByteShortIsRefusedAndYUntouched) {
  CONVKIT_REQUIRE_GPU();
  LimitCase c;
  Context ctx;
  ctx.set_workspace_limit(c.w.min - 1);
  const auto dx = DeviceTensor<float>::from_host(ctx, c.x);
  const auto dw = DeviceTensor<float>::from_host(ctx, c.wt);
  const auto db = DeviceTensor<float>::from_host(ctx, c.b);
  auto dy = DeviceTensor<float>::from_host(ctx, filled<float>(c.p.y_shape(), 7.f));
  try {
    conv(ctx, c.spec, dx.view(), dw.view(), db.view(), dy.view(), kAlgo);
    FAIL() << "expected WorkspaceTooSmall";
  } catch (const Error& err) {
    EXPECT_EQ(err.status(), Status::WorkspaceTooSmall);
    EXPECT_NE(std::string(err.what()).find(std::to_string(c.w.min)), std::string::npos) << err.what();
  }
  EXPECT_TRUE(compare(dy.to_host(), filled<float>(c.p.y_shape(), 7.f), nullptr, 0.0));
  EXPECT_THROW({ ConvPlan plan(ctx, c.spec, c.xs, c.ws, DType::F32, kAlgo); }, Error);
}

TEST(Im2colGemmGpu, LimitForcingSeveralChunksIsCorrect) {
  CONVKIT_REQUIRE_GPU();
  LimitCase c;
  // Room for 3 images: chunks of 3, 3 and 2; then odd limits in between.
  for (std::size_t limit : {c.w.packed + 3 * c.w.per_image, c.w.packed + 3 * c.w.per_image + 1,
                            c.w.packed + 5 * c.w.per_image - 1, c.w.full - 1, c.w.full}) {
    Context ctx;
    ctx.set_workspace_limit(limit);
    EXPECT_TRUE(compare(run_conv<float>(ctx, c.spec, c.x, c.wt, &c.b), c.e.y, nullptr, 0.0)) << "limit " << limit;
    EXPECT_LE(ctx.workspace_allocated(), limit);
  }
  // No bias: the columns alone, in chunks of 2 over N = 8, f64.
  const ConvSpec nb = ConvSpec::conv2d().padding(1).groups(3).dilation(2);
  const HostTensor<double> x = random_ints<double>({8, 6, 10, 9}, 31), w = random_ints<double>({9, 2, 3, 3}, 32);
  const detail::Im2colWorkspace ws = detail::im2col_workspace(nb.problem(x.shape(), w.shape()), DType::F64);
  Context ctx;
  ctx.set_workspace_limit(2 * ws.per_image);
  EXPECT_TRUE(compare(run_conv<double>(ctx, nb, x, w, nullptr), expected_output<double>(nb, x, w, nullptr).y,
                      nullptr, 0.0));
  EXPECT_EQ(ctx.workspace_allocated(), 2 * ws.per_image);
}

TEST(Im2colGemmGpu, PlainGemmNeedsNoWorkspace) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  ctx.set_workspace_limit(0);
  const ConvSpec spec = ConvSpec::conv3d().groups(2).bias(true);
  const HostTensor<float> x = random_ints<float>({3, 4, 3, 5, 6}, 41), w = random_ints<float>({6, 2, 1, 1, 1}, 42),
                          b = random_ints<float>({6}, 43);
  EXPECT_EQ(supports(spec, x.shape(), w.shape(), DType::F32, kAlgo).variant, "im2col/gemm-1x1");
  EXPECT_TRUE(compare(run_conv<float>(ctx, spec, x, w, &b), expected_output<float>(spec, x, w, &b).y, nullptr, 0.0));
  EXPECT_EQ(ctx.workspace_allocated(), 0u);
}

// ---------------------------------------------------------------- precision

// Inputs with 12 significant bits: exact in FP32 (sums stay below 2^24) but
// not representable in TF32 (10 explicit mantissa bits), so only exact FP32
// arithmetic reproduces the reference bit for bit.
TEST(Im2colGemmGpu, DefaultIsExactFp32) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const HostTensor<float> x = random_ints<float>({2, 16, 20, 20}, 51, 2049, 2061);
  const HostTensor<float> w = random_ints<float>({32, 16, 3, 3}, 52, -3, 3);
  EXPECT_TRUE(compare(run_conv<float>(ctx, spec, x, w, nullptr), expected_output<float>(spec, x, w, nullptr).y,
                      nullptr, 0.0));
}

TEST(Im2colGemmGpu, Tf32OnlyOnRequestAndClose) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv2d().padding(1).bias(true);
  const HostTensor<float> x = random_floats<float>({4, 32, 24, 24}, 61), w = random_floats<float>({64, 32, 3, 3}, 62),
                          b = random_floats<float>({64}, 63);
  const Expected<float> e = expected_output<float>(spec, x, w, &b);
  Context ctx;
  ctx.set_allow_tf32(true);
  // TF32 keeps 10 mantissa bits of each operand: about 1e-3 relative per
  // product, bounded by the sum of |x·w|.
  EXPECT_TRUE(compare(run_conv<float>(ctx, spec, x, w, &b), e.y, &e.magnitude, 2e-3));
  ctx.set_allow_tf32(false);
  EXPECT_TRUE(compare(run_conv<float>(ctx, spec, x, w, &b), e.y, &e.magnitude, tolerance<float>(32 * 9 + 1)));
}

// ---------------------------------------------------------------- benchmark hooks

TEST(Im2colGemmGpu, HooksComposeToTheConvolution) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const ConvSpec spec = ConvSpec::conv2d().stride(2).padding(2).groups(2).boundary(Boundary::Reflect);
  const HostTensor<float> x = random_ints<float>({5, 4, 13, 12}, 71), w = random_ints<float>({6, 2, 5, 3}, 72);
  const ConvProblem p = spec.problem(x.shape(), w.shape());
  const std::size_t per_image = detail::im2col_column_bytes_per_image(p, DType::F32);
  EXPECT_EQ(per_image, detail::im2col_workspace(p, DType::F32).per_image);
  const auto dx = DeviceTensor<float>::from_host(ctx, x);
  const auto dw = DeviceTensor<float>::from_host(ctx, w);
  auto dy = DeviceTensor<float>::from_host(ctx, filled<float>(p.y_shape(), NAN));
  DeviceTensor<float> cols(ctx, {static_cast<std::int64_t>(2 * per_image / sizeof(float))});
  for (std::int64_t first = 0; first < p.N; first += 2) {
    const std::int64_t count = std::min<std::int64_t>(2, p.N - first);
    detail::im2col_only(ctx, p, DType::F32, dx.data(), cols.data(), first, count);
    detail::gemm_only(ctx, p, DType::F32, cols.data(), dw.data(), dy.data(), first, count);
  }
  EXPECT_TRUE(compare(dy.to_host(), expected_output<float>(spec, x, w, nullptr).y, nullptr, 0.0));
}

}  // namespace
}  // namespace convkit::test
