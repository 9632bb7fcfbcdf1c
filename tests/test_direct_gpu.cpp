// GPU tests of Algorithm::Direct: every kernel variant (forced through the
// internal run_direct_variant hook, and as selected through conv() /
// ConvPlan) against the CPU reference over the problem table and shapes that
// route to each fast variant. f32 and f64; exact with small-integer data,
// within the harness tolerance with random floats. Outputs are poisoned with
// NaN before every run so an unwritten element fails; repeated runs must be
// bit-identical; a caller-owned stream is honoured; an input past 2^31
// elements is checked at sampled outputs. Large shapes are checked with
// reference::conv_sampled to keep the CPU side short.
#include "direct.hpp"
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

namespace convkit::test {
namespace {

using detail::DirectVariant;
using detail::kDirectVariants;

template <class T>
struct Data {
  HostTensor<T> x, w, b;
};

template <class T>
Data<T> make_data(const Shape& xs, const Shape& ws, bool floats, std::uint64_t seed) {
  const Shape bs{ws[0]};
  if (floats) return {random_floats<T>(xs, seed), random_floats<T>(ws, seed + 1), random_floats<T>(bs, seed + 2)};
  return {random_ints<T>(xs, seed), random_ints<T>(ws, seed + 1), random_ints<T>(bs, seed + 2)};
}

// Runs Direct (the selected variant, or `v`) on ctx's stream into a
// NaN-poisoned output and returns it. `again` (optional) receives a second
// run's output, for the bit-identity check.
template <class T>
HostTensor<T> run_gpu(Context& ctx, const ConvSpec& spec, const Data<T>& d, std::optional<DirectVariant> v,
                      HostTensor<T>* again = nullptr) {
  auto dx = DeviceTensor<T>::from_host(ctx, d.x);
  auto dw = DeviceTensor<T>::from_host(ctx, d.w);
  DeviceTensor<T> db;
  if (spec.has_bias()) db = DeviceTensor<T>::from_host(ctx, d.b);
  DeviceTensor<T> dy(ctx, spec.output_shape(d.x.shape(), d.w.shape()));
  const TensorArg bias = spec.has_bias() ? TensorArg(db.view()) : TensorArg();
  auto once = [&] {
    if (dy.bytes() > 0) EXPECT_EQ(cudaMemsetAsync(dy.data(), 0xFF, dy.bytes(), ctx.stream()), cudaSuccess);
    if (v)
      detail::run_direct_variant(ctx, spec, dx.view(), dw.view(), bias, dy.view(), *v);
    else
      conv(ctx, spec, dx.view(), dw.view(), bias, dy.view(), Algorithm::Direct);
    return dy.to_host();
  };
  HostTensor<T> y = once();
  if (again) *again = once();
  return y;
}

template <class T>
bool bit_identical(const HostTensor<T>& a, const HostTensor<T>& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(T)) == 0;
}

// Full comparison with the reference for every variant serving the shape
// (and the selected one through conv()).
template <class T>
void check_full(Context& ctx, const std::string& name, const ConvSpec& spec, const Shape& xs, const Shape& ws) {
  const ConvProblem p = spec.problem(xs, ws);
  for (bool floats : {false, true}) {
    const Data<T> d = make_data<T>(xs, ws, floats, 101);
    const Expected<T> e = expected_output(spec, d.x, d.w, spec.has_bias() ? &d.b : nullptr);
    const double tol = floats ? tolerance<T>(p.Cg() * p.ker_spatial()) : 0.0;
    std::vector<std::optional<DirectVariant>> runs{std::nullopt};
    for (DirectVariant v : kDirectVariants)
      if (detail::direct::direct_applies(v, p, sizeof(T))) runs.push_back(v);
    for (const auto& v : runs) {
      SCOPED_TRACE(name + (floats ? " floats " : " ints ") + dtype_name(dtype_v<T>) + " variant " +
                   (v ? detail::direct_variant_name(*v) : supports(spec, xs, ws, dtype_v<T>, Algorithm::Direct).variant.c_str()));
      HostTensor<T> second;
      const HostTensor<T> y = run_gpu(ctx, spec, d, v, &second);
      EXPECT_TRUE(compare(y, e.y, &e.magnitude, tol));
      EXPECT_TRUE(bit_identical(y, second)) << "repeated runs differ";
    }
  }
}

// Sampled comparison for shapes too large for the full CPU reference: the
// first and last outputs, tile edges and random ones.
template <class T>
void check_sampled(Context& ctx, const std::string& name, const ConvSpec& spec, const Shape& xs, const Shape& ws,
                   const char* expect_variant) {
  const ConvProblem p = spec.problem(xs, ws);
  const std::int64_t ny = p.y_shape().numel();
  EXPECT_EQ(supports(spec, xs, ws, dtype_v<T>, Algorithm::Direct).variant, expect_variant) << name;
  std::vector<std::int64_t> idx;
  for (std::int64_t i = 0; i < 64 && i < ny; ++i) idx.push_back(i), idx.push_back(ny - 1 - i);
  for (std::int64_t e : {std::int64_t(119), std::int64_t(120), std::int64_t(1919), std::int64_t(1920),
                         std::int64_t(143), std::int64_t(144), std::int64_t(159), std::int64_t(160),
                         std::int64_t(2303), std::int64_t(2304), std::int64_t(2559), std::int64_t(2560),
                         p.out[2] - 1, p.out[2], p.out[1] * p.out[2] - 1})
    if (e >= 0 && e < ny) idx.push_back(e);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1500; ++i) idx.push_back(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(ny)));
  for (bool floats : {false, true}) {
    const Data<T> d = make_data<T>(xs, ws, floats, 202);
    const TensorArg hb = spec.has_bias() ? TensorArg(d.b.view()) : TensorArg();
    std::vector<double> want(idx.size()), mag(idx.size());
    reference::conv_sampled(spec, d.x.view(), d.w.view(), hb, idx.data(), static_cast<std::int64_t>(idx.size()),
                            want.data());
    const HostTensor<T> ax = abs_of(d.x), aw = abs_of(d.w), ab = abs_of(d.b);
    const TensorArg hab = spec.has_bias() ? TensorArg(ab.view()) : TensorArg();
    reference::conv_sampled(spec, ax.view(), aw.view(), hab, idx.data(), static_cast<std::int64_t>(idx.size()), mag.data());
    const double tol = floats ? tolerance<T>(p.Cg() * p.ker_spatial()) : 0.0;
    for (const std::optional<DirectVariant> v : {std::optional<DirectVariant>(), std::optional<DirectVariant>(DirectVariant::Generic)}) {
      SCOPED_TRACE(name + (floats ? " floats " : " ints ") + dtype_name(dtype_v<T>) + (v ? " generic" : " selected"));
      const HostTensor<T> y = run_gpu(ctx, spec, d, v);
      std::int64_t bad = 0;
      for (std::size_t j = 0; j < idx.size(); ++j) {
        const double got = double(y[idx[j]]);
        const bool ok = !std::isnan(got) && (floats ? std::abs(got - want[j]) <= tol * mag[j]
                                                    : got == static_cast<double>(static_cast<T>(want[j])));
        if (!ok && bad++ < 8)
          ADD_FAILURE() << "y[" << idx[j] << "] = " << got << ", expected " << want[j];
      }
      EXPECT_EQ(bad, 0);
      // Every element written: the poison is NaN.
      std::int64_t nans = 0;
      for (std::int64_t i = 0; i < y.numel(); ++i) nans += std::isnan(double(y[i])) ? 1 : 0;
      EXPECT_EQ(nans, 0) << "outputs left unwritten";
    }
  }
}

struct Extra {
  std::string name;
  ConvSpec spec;
  Shape x, w;
};

// Medium shapes, checked in full, routing to each fast variant with edges:
// several tiles, odd and prime sizes, tap-loop tails, all boundaries and modes.
std::vector<Extra> medium_shapes() {
  using B = Boundary;
  using M = Mode;
  std::vector<Extra> t;
  auto add = [&](std::string n, ConvSpec s, Shape x, Shape w) { t.push_back({std::move(n), std::move(s), x, w}); };
  add("1d_k1024_same", ConvSpec::conv1d().padding(Padding::same()), {1, 1, 9001}, {1, 1, 1024});
  add("1d_k1023_full_conv", ConvSpec::conv1d().padding(Padding::full()).mode(M::Convolution), {1, 1, 4003}, {1, 1, 1023});
  add("1d_rows_reflect_conv_bias",
      ConvSpec::conv1d().groups(3).padding(Padding::same()).boundary(B::Reflect).mode(M::Convolution).bias(true),
      {8, 3, 2111}, {3, 1, 17});
  add("1d_circular_mult2", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Circular).groups(2), {2, 2, 3851}, {4, 1, 9});
  add("1d_replicate_full_k8", ConvSpec::conv1d().padding(Padding::full()).boundary(B::Replicate), {1, 1, 1931}, {1, 1, 8});
  add("1d_valid_k_eq_L", ConvSpec::conv1d(), {3, 1, 257}, {1, 1, 257});
  add("2d_k31_tiles", ConvSpec::conv2d().padding(Padding::same()), {1, 1, 37, 251}, {1, 1, 31, 31});
  add("2d_k31_valid_eq_input", ConvSpec::conv2d(), {2, 1, 31, 31}, {1, 1, 31, 31});
  add("2d_k16x9_conv_reflect", ConvSpec::conv2d().padding(Padding::same()).mode(M::Convolution).boundary(B::Reflect),
      {1, 1, 41, 127}, {1, 1, 16, 9});
  add("2d_circular_bias_N2", ConvSpec::conv2d().padding(Padding::same()).boundary(B::Circular).bias(true),
      {2, 1, 19, 131}, {1, 1, 5, 7});
  add("2d_replicate_asym", ConvSpec::conv2d().padding(Padding::per_dim({{3, 0}, {0, 5}})).boundary(B::Replicate),
      {1, 1, 33, 64}, {1, 1, 3, 11});
  add("2d_depthwise_s2_bias", ConvSpec::conv2d().groups(6).stride(2).padding(1).bias(true), {8, 6, 23, 29}, {6, 1, 3, 3});
  add("2d_depthwise_dil2_mult2_circular",
      ConvSpec::conv2d().groups(4).dilation(2).padding(Padding::same()).boundary(B::Circular), {2, 4, 13, 11}, {8, 1, 3, 5});
  add("2d_depthwise_s3_conv_reflect",
      ConvSpec::conv2d().groups(2).stride({3, 2}).padding(2).boundary(B::Reflect).mode(M::Convolution), {1, 2, 17, 40},
      {2, 1, 5, 4});
  add("2d_depthwise_7x7_planes", ConvSpec::conv2d().groups(16).padding(1), {4, 16, 7, 7}, {16, 1, 3, 3});
  add("2d_depthwise_56", ConvSpec::conv2d().groups(32).padding(1), {2, 32, 56, 56}, {32, 1, 3, 3});
  add("2d_smallc_rgb_7x7_s2", ConvSpec::conv2d().stride(2).padding(3).bias(true), {2, 3, 37, 41}, {9, 3, 7, 7});
  add("2d_smallc_groups_reflect", ConvSpec::conv2d().groups(2).padding(1).boundary(B::Reflect), {2, 6, 19, 17}, {18, 3, 3, 3});
  add("2d_smallc_dil2_conv_replicate",
      ConvSpec::conv2d().dilation(2).padding(Padding::same()).mode(M::Convolution).boundary(B::Replicate), {1, 5, 21, 35},
      {4, 5, 3, 2});
  add("2d_smallc_circular_s2_even",
      ConvSpec::conv2d().stride(2).padding(Padding::per_dim({{1, 2}, {2, 1}})).boundary(B::Circular), {8, 2, 12, 15},
      {3, 2, 4, 4});
  add("2d_smallc_c64", ConvSpec::conv2d().padding(1), {1, 64, 9, 10}, {8, 64, 3, 3});
  return t;
}

template <class T>
void table_and_medium() {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  for (const ConvCase& c : problem_table()) check_full<T>(ctx, c.name, c.spec, c.x, c.w);
  for (const Extra& c : medium_shapes()) check_full<T>(ctx, c.name, c.spec, c.x, c.w);
}

TEST(DirectGpu, EveryVariantOnTableAndMediumShapesF32) { table_and_medium<float>(); }
TEST(DirectGpu, EveryVariantOnTableAndMediumShapesF64) { table_and_medium<double>(); }

template <class T>
void large_shapes() {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const auto same = Padding::same();
  check_sampled<T>(ctx, "1d_4M_k1024", ConvSpec::conv1d().padding(same), {1, 1, (1 << 22) + 3}, {1, 1, 1024}, "direct/long1d");
  check_sampled<T>(ctx, "1d_rows_k255_reflect_conv_bias",
                   ConvSpec::conv1d().groups(4).padding(same).boundary(Boundary::Reflect).mode(Mode::Convolution).bias(true),
                   {8, 4, 100003}, {4, 1, 255}, "direct/long1d");
  check_sampled<T>(ctx, "2d_image_k31_reflect", ConvSpec::conv2d().padding(same).boundary(Boundary::Reflect),
                   {1, 1, 1023, 1531}, {1, 1, 31, 31}, "direct/plane2d");
  check_sampled<T>(ctx, "2d_image_k7x5_circular", ConvSpec::conv2d().padding(same).boundary(Boundary::Circular),
                   {2, 1, 517, 509}, {1, 1, 7, 5}, "direct/plane2d");
  check_sampled<T>(ctx, "2d_depthwise_s1", ConvSpec::conv2d().groups(64).padding(1), {8, 64, 56, 56}, {64, 1, 3, 3},
                   "direct/plane2d");
  check_sampled<T>(ctx, "2d_depthwise_s2_bias", ConvSpec::conv2d().groups(64).padding(1).stride(2).bias(true),
                   {8, 64, 56, 56}, {64, 1, 3, 3}, "direct/depthwise2d");
  check_sampled<T>(ctx, "2d_depthwise_k5_14", ConvSpec::conv2d().groups(128).padding(2), {8, 128, 14, 14}, {128, 1, 5, 5},
                   "direct/depthwise2d");
  check_sampled<T>(ctx, "2d_stem_7x7_s2_bias", ConvSpec::conv2d().padding(3).stride(2).bias(true), {8, 3, 224, 224},
                   {64, 3, 7, 7}, "direct/smallchannel2d");
  check_sampled<T>(ctx, "2d_narrow_3x3", ConvSpec::conv2d().padding(1), {4, 16, 64, 64}, {24, 16, 3, 3},
                   "direct/smallchannel2d");
}

TEST(DirectGpu, LargeShapesSampledF32) { large_shapes<float>(); }
TEST(DirectGpu, LargeShapesSampledF64) { large_shapes<double>(); }

TEST(DirectGpu, CallerOwnedStream) {
  CONVKIT_REQUIRE_GPU();
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  {
    Context ctx(s);
    EXPECT_EQ(ctx.stream(), s);
    check_full<float>(ctx, "2d_image_k5_stream", ConvSpec::conv2d().padding(Padding::same()), {1, 1, 37, 200},
                      {1, 1, 5, 5});
    check_full<double>(ctx, "1d_long_stream", ConvSpec::conv1d().padding(Padding::same()), {2, 1, 5003}, {1, 1, 31});
    ctx.synchronize();
  }
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST(DirectGpu, ConvPlanRunsManyInputs) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const ConvSpec spec = ConvSpec::conv2d().padding(1).stride(2).bias(true);
  const Shape xs{4, 3, 33, 35}, ws{10, 3, 3, 3};
  ConvPlan plan(ctx, spec, xs, ws, DType::F32, Algorithm::Direct);
  EXPECT_EQ(plan.algorithm(), Algorithm::Direct);
  EXPECT_EQ(plan.workspace_bytes(), 0u);
  const Data<float> d = make_data<float>(xs, ws, false, 303);
  auto dw = DeviceTensor<float>::from_host(ctx, d.w);
  auto db = DeviceTensor<float>::from_host(ctx, d.b);
  plan.set_weights(dw.view(), db.view());
  DeviceTensor<float> dy(ctx, spec.output_shape(xs, ws));
  for (std::uint64_t seed : {1, 2, 3}) {
    const HostTensor<float> x = random_ints<float>(xs, seed);
    auto dx = DeviceTensor<float>::from_host(ctx, x);
    ASSERT_EQ(cudaMemsetAsync(dy.data(), 0xFF, dy.bytes(), ctx.stream()), cudaSuccess);
    plan.run(dx.view(), dy.view());
    const Expected<float> e = expected_output(spec, x, d.w, &d.b);
    EXPECT_TRUE(compare(dy.to_host(), e.y, nullptr, 0.0)) << "seed " << seed;
  }
}

// x with 2^31 + 3 elements: every index computation must be 64-bit. Checked
// at sampled outputs around 2^31 and at random.
TEST(DirectGpu, InputPast2To31Elements) {
  CONVKIT_REQUIRE_GPU();
  const std::int64_t L = (std::int64_t(1) << 31) + 3;
  const std::size_t bytes = static_cast<std::size_t>(L) * sizeof(float);
  std::size_t free_b = 0, total_b = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_b, &total_b), cudaSuccess);
  if (free_b < 2 * bytes + (std::size_t(1) << 28))
    GTEST_SKIP() << "needs " << 2 * bytes << " bytes of device memory for x and y, " << free_b << " free";
  Context ctx;
  const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same()).boundary(Boundary::Reflect);
  const Shape xs{1, 1, L}, ws{1, 1, 3};
  EXPECT_EQ(supports(spec, xs, ws, DType::F32, Algorithm::Direct).variant, "direct/long1d");
  HostTensor<float> x(xs);
  for (std::int64_t i = 0; i < L; ++i)
    x[i] = static_cast<float>(static_cast<int>((static_cast<std::uint64_t>(i) * 2654435761u >> 9) % 9) - 4);
  const float wv[3] = {1, -2, 3};
  auto dx = DeviceTensor<float>::from_host(ctx, x);
  auto dw = DeviceTensor<float>::from_host(ctx, wv, ws);
  DeviceTensor<float> dy(ctx, xs);
  std::vector<std::int64_t> idx{0, 1, 2, 1919, 1920, L - 1, L - 2, L - 3, L - 4};
  for (std::int64_t c = (std::int64_t(1) << 31) - 4; c <= (std::int64_t(1) << 31) + 2; ++c) idx.push_back(c);
  std::mt19937_64 rng(9);
  for (int i = 0; i < 200; ++i) idx.push_back(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(L)));
  std::vector<double> want(idx.size());
  reference::conv_sampled(spec, x.view(), TensorView<const float>::host(wv, ws), TensorArg(), idx.data(),
                          static_cast<std::int64_t>(idx.size()), want.data());
  for (DirectVariant v : {DirectVariant::Long1d, DirectVariant::Generic}) {
    ASSERT_EQ(cudaMemsetAsync(dy.data(), 0xFF, bytes, ctx.stream()), cudaSuccess);
    detail::run_direct_variant(ctx, spec, dx.view(), dw.view(), TensorArg(), dy.view(), v);
    ctx.synchronize();
    for (std::size_t j = 0; j < idx.size(); ++j) {
      float got = 0;
      ASSERT_EQ(cudaMemcpy(&got, dy.data() + idx[j], sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
      EXPECT_EQ(double(got), want[j]) << detail::direct_variant_name(v) << " at y[" << idx[j] << "]";
    }
  }
}

}  // namespace
}  // namespace convkit::test
