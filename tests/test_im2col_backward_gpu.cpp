// GPU tests of Algorithm::Im2colGemm's backward passes: backward-data and
// backward-filter over the problem table in f32 and f64 with small integers
// (bit-exact against the reference), outputs poisoned with NaN under beta 0
// (never read, every element written) and random starting values under
// beta 1 (accumulated); workspace limits forcing several chunks and exactly
// one image; the plain 1x1 GEMM with no workspace; ConvPlan's backward
// calls. Each test skips without a device. (The cross-algorithm sweep lives
// in test_backward_gpu.cpp.)
#include "harness.hpp"

#include "im2col_gemm.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace convkit::test {
namespace {

constexpr Algorithm kAlgo = Algorithm::Im2colGemm;

template <class T>
HostTensor<T> copy_of(const HostTensor<T>& a) {
  HostTensor<T> t(a.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = a[i];
  return t;
}

// dx from the device, starting from `init` (NaN for beta 0).
template <class T>
HostTensor<T> device_dx(Context& ctx, const ConvSpec& spec, const HostTensor<T>& dy, const HostTensor<T>& w,
                        const HostTensor<T>& init, double beta) {
  const auto ddy = DeviceTensor<T>::from_host(ctx, dy);
  const auto dw = DeviceTensor<T>::from_host(ctx, w);
  auto ddx = DeviceTensor<T>::from_host(ctx, init);
  conv_backward_data(ctx, spec, ddy.view(), dw.view(), ddx.view(), kAlgo, beta);
  return ddx.to_host();
}

template <class T>
HostTensor<T> device_dw(Context& ctx, const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& dy,
                        const HostTensor<T>& init, double beta) {
  const auto dx = DeviceTensor<T>::from_host(ctx, x);
  const auto ddy = DeviceTensor<T>::from_host(ctx, dy);
  auto ddw = DeviceTensor<T>::from_host(ctx, init);
  conv_backward_filter(ctx, spec, dx.view(), ddy.view(), ddw.view(), kAlgo, beta);
  return ddw.to_host();
}

// Both passes of one case on `ctx`, exact against the reference.
template <class T>
void check_case(Context& ctx, const ConvCase& c, std::uint64_t seed, bool accumulate) {
  const ConvProblem p = c.spec.problem(c.x, c.w);
  const double beta = accumulate ? 1.0 : 0.0;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const HostTensor<T> x = random_ints<T>(c.x, seed + 1), w = random_ints<T>(c.w, seed + 2),
                      dy = random_ints<T>(p.y_shape(), seed + 3);
  {
    const HostTensor<T> init = accumulate ? random_ints<T>(c.x, seed + 4) : filled<T>(c.x, nan);
    HostTensor<T> want = copy_of(init);
    reference::conv_backward_data(c.spec, dy.view(), w.view(), want.view(), beta);
    EXPECT_TRUE(compare(device_dx<T>(ctx, c.spec, dy, w, init, beta), want, nullptr, 0.0)) << "backward-data";
  }
  {
    const HostTensor<T> init = accumulate ? random_ints<T>(c.w, seed + 5) : filled<T>(c.w, nan);
    HostTensor<T> want = copy_of(init);
    reference::conv_backward_filter(c.spec, x.view(), dy.view(), want.view(), beta);
    EXPECT_TRUE(compare(device_dw<T>(ctx, c.spec, x, dy, init, beta), want, nullptr, 0.0)) << "backward-filter";
  }
}

template <class T>
void check_table(bool accumulate) {
  Context ctx;
  std::uint64_t seed = accumulate ? 8100 : 8000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name + " seed " + std::to_string(seed + 8) + (accumulate ? " beta 1" : " beta 0"));
    check_case<T>(ctx, c, seed += 8, accumulate);
  }
}

TEST(Im2colGemmBackwardGpu, TableExactF32Beta0) {
  CONVKIT_REQUIRE_GPU();
  check_table<float>(false);
}
TEST(Im2colGemmBackwardGpu, TableExactF64Beta0) {
  CONVKIT_REQUIRE_GPU();
  check_table<double>(false);
}
TEST(Im2colGemmBackwardGpu, TableExactF32Beta1) {
  CONVKIT_REQUIRE_GPU();
  check_table<float>(true);
}
TEST(Im2colGemmBackwardGpu, TableExactF64Beta1) {
  CONVKIT_REQUIRE_GPU();
  check_table<double>(true);
}

// Limits of one image per chunk, 3 (chunks 3 + 3 + 1), an odd one, and all.
template <class T>
void check_chunked(std::uint64_t seed) {
  const ConvCase c{"chunked", ConvSpec::conv2d().padding(1).groups(2).stride({2, 1}).boundary(Boundary::Reflect),
                   {7, 4, 9, 8}, {6, 2, 3, 3}};
  const ConvProblem p = c.spec.problem(c.x, c.w);
  const detail::Im2colWorkspace ws = detail::im2col_backward_workspace(p, dtype_v<T>);
  for (Direction d : {Direction::BackwardData, Direction::BackwardFilter}) {
    EXPECT_EQ(workspace_bytes(c.spec, c.x, c.w, dtype_v<T>, kAlgo, d), ws.full);
    EXPECT_EQ(ws.min, ws.per_image);
  }
  for (std::size_t limit : {ws.min, 3 * ws.per_image, 5 * ws.per_image - 1, ws.full}) {
    SCOPED_TRACE(std::string(dtype_name(dtype_v<T>)) + " limit " + std::to_string(limit));
    Context ctx;
    ctx.set_workspace_limit(limit);
    for (bool accumulate : {false, true}) check_case<T>(ctx, c, seed += 8, accumulate);
    EXPECT_LE(ctx.workspace_allocated(), limit);
    EXPECT_EQ(ctx.workspace_allocated(), detail::im2col_chunk_images(p, ws, limit) * ws.per_image);
  }
}

TEST(Im2colGemmBackwardGpu, ChunkedUnderSmallWorkspaceLimits) {
  CONVKIT_REQUIRE_GPU();
  check_chunked<float>(8300);
  check_chunked<double>(8400);
}

TEST(Im2colGemmBackwardGpu, PlainGemmNeedsNoWorkspace) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  ctx.set_workspace_limit(0);
  for (const ConvCase& c : {ConvCase{"1x1 groups 2", ConvSpec::conv2d().groups(2), {3, 4, 5, 6}, {6, 2, 1, 1}},
                            ConvCase{"1x1 3-D N<G", ConvSpec::conv3d().groups(3), {2, 6, 2, 3, 4}, {3, 2, 1, 1, 1}}}) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(supports(c.spec, c.x, c.w, DType::F32, kAlgo, Direction::BackwardData).variant, "im2col/gemm-1x1-dx");
    EXPECT_EQ(supports(c.spec, c.x, c.w, DType::F32, kAlgo, Direction::BackwardFilter).variant,
              "im2col/gemm-1x1-dw");
    for (bool accumulate : {false, true}) check_case<float>(ctx, c, 8500, accumulate);
  }
  EXPECT_EQ(ctx.workspace_allocated(), 0u);
}

TEST(Im2colGemmBackwardGpu, PlanBackwardCalls) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).mode(Mode::Convolution);
  const Shape xs{3, 4, 7, 9}, wsh{5, 4, 3, 2};
  ConvPlan plan(ctx, spec, xs, wsh, DType::F64, kAlgo);
  const HostTensor<double> x = random_ints<double>(xs, 91), w = random_ints<double>(wsh, 92),
                           dy = random_ints<double>(plan.problem().y_shape(), 93);
  const auto dxv = DeviceTensor<double>::from_host(ctx, x);
  const auto dwv = DeviceTensor<double>::from_host(ctx, w);
  const auto dyv = DeviceTensor<double>::from_host(ctx, dy);
  plan.set_weights(dwv.view());
  auto gx = DeviceTensor<double>::from_host(ctx, filled<double>(xs, NAN));
  auto gw = DeviceTensor<double>::from_host(ctx, filled<double>(wsh, NAN));
  plan.run_backward_data(dyv.view(), gx.view(), 0.0);
  plan.run_backward_filter(dxv.view(), dyv.view(), gw.view(), 0.0);
  HostTensor<double> want_x(xs), want_w(wsh);
  reference::conv_backward_data(spec, dy.view(), w.view(), want_x.view(), 0.0);
  reference::conv_backward_filter(spec, x.view(), dy.view(), want_w.view(), 0.0);
  EXPECT_TRUE(compare(gx.to_host(), want_x, nullptr, 0.0));
  EXPECT_TRUE(compare(gw.to_host(), want_w, nullptr, 0.0));
}

}  // namespace
}  // namespace convkit::test
