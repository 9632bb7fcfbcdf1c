// GPU tests of Algorithm::Fft (forward pass). Its error is normwise (DESIGN
// §5), so each output is checked against the reference within
// bench::fft_tolerance_factor · bench::fft_magnitudes, the one definition the
// benchmark uses too; on small-integer data the result rounded to the nearest
// integer must also equal the exact reference. Outputs are NaN-poisoned
// first, so every element must be written. Covered: the problem table in f32
// and f64 (every forward row must be supported), a sweep of every boundary,
// mode, stride, dilation and group count, long 1-D signals that take
// overlap-save blocks and large 2-D / 3-D kernels, a caller's stream, ConvPlan
// across inputs and set_weights calls, the per-context cuFFT plan cache
// (bounded, evicting, still right afterwards), workspace limits (chunks of
// the batch; below the minimum: WorkspaceTooSmall naming the bytes, y
// untouched), and Context::set_exact keeping Auto away from Fft. Each test
// skips itself without a device.
#include "harness.hpp"

#include "bench_math.hpp"
#include "fft.hpp"

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

constexpr Algorithm kAlgo = Algorithm::Fft;

template <class T>
std::vector<double> as_doubles(const HostTensor<T>& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = double(t[i]);
  return v;
}

// The reference output alone (the large problems skip expected_output's
// second convolution for Σ|x·w|, which the FFT bound does not use).
template <class T>
HostTensor<T> reference_y(const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& w,
                          const HostTensor<T>* b) {
  HostTensor<T> y(spec.output_shape(x.shape(), w.shape()));
  if (b)
    reference::conv(spec, x.view(), w.view(), b->view(), y.view());
  else
    reference::conv(spec, x.view(), w.view(), y.view());
  return y;
}

// The FFT bound's magnitude M[n, k] spread over y's shape, so that the
// harness's compare() checks |y - y_ref| <= factor · M element by element.
template <class T>
HostTensor<double> fft_bound(const ConvProblem& p, const HostTensor<T>& x, const HostTensor<T>& w,
                             const HostTensor<T>* b) {
  const std::vector<double> xd = as_doubles(x), wd = as_doubles(w);
  const std::vector<double> bd = b ? as_doubles(*b) : std::vector<double>();
  const std::vector<double> m = bench::fft_magnitudes(p, xd.data(), wd.data(), b ? bd.data() : nullptr);
  HostTensor<double> r(p.y_shape());
  EXPECT_EQ(static_cast<std::int64_t>(m.size()), p.N * p.K);
  const std::int64_t q = p.out_spatial();
  for (std::int64_t i = 0; i < r.numel(); ++i) r[i] = m[static_cast<std::size_t>(i / q)];
  return r;
}

template <class T>
HostTensor<T> rounded(const HostTensor<T>& y) {
  HostTensor<T> r(y.shape());
  for (std::int64_t i = 0; i < y.numel(); ++i) r[i] = std::nearbyint(y[i]);  // NaN stays NaN
  return r;
}

// T deduced from the other arguments only (a bias argument may be nullptr).
template <class T>
struct NoDeduce {
  using type = T;
};

// Checks an Fft output against the reference: within the FFT bound always,
// and, on small-integer data, rounded to the nearest integer, exactly.
template <class T>
void check_fft(const ConvProblem& p, const HostTensor<T>& y, const HostTensor<T>& want, const HostTensor<T>& x,
               const HostTensor<T>& w, const typename NoDeduce<HostTensor<T>>::type* b, bool ints) {
  const double factor = bench::fft_tolerance_factor(dtype_v<T>, p);
  ASSERT_TRUE(factor > 0 && std::isfinite(factor)) << factor;
  const HostTensor<double> bound = fft_bound(p, x, w, b);
  EXPECT_TRUE(compare(y, want, &bound, factor)) << "normwise bound, factor " << factor;
  if (ints) EXPECT_TRUE(compare(rounded(y), want, nullptr, 0.0)) << "rounded to the nearest integer";
}

// Runs conv on the device into a y poisoned with `poison`, returns y.
template <class T>
HostTensor<T> run_conv(Context& ctx, const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& w,
                       const HostTensor<T>* b, Algorithm algo = kAlgo,
                       T poison = std::numeric_limits<T>::quiet_NaN()) {
  return run_conv_on_device(ctx, spec, x, w, b, algo, poison);
}

// One problem end to end: data (small integers or uniform floats) with the
// bias the spec asks for, Fft on `ctx`, the checks above.
template <class T>
void check_problem(Context& ctx, const ConvSpec& spec, const Shape& xs, const Shape& ws, bool ints,
                   std::uint64_t seed) {
  const ConvProblem p = spec.problem(xs, ws);
  const HostTensor<T> x = ints ? random_ints<T>(xs, seed) : random_floats<T>(xs, seed);
  const HostTensor<T> w = ints ? random_ints<T>(ws, seed + 1) : random_floats<T>(ws, seed + 1);
  const HostTensor<T> b = ints ? random_ints<T>(Shape{p.K}, seed + 2) : random_floats<T>(Shape{p.K}, seed + 2);
  const HostTensor<T>* bias = p.has_bias ? &b : nullptr;
  const HostTensor<T> y = run_conv<T>(ctx, spec, x, w, bias);
  check_fft(p, y, reference_y(spec, x, w, bias), x, w, bias, ints);
}

// ---------------------------------------------------------------- the problem table

// Fft is meant to serve every forward spec: every row of the table.
TEST(FftGpu, EveryForwardTableRowIsSupported) {
  CONVKIT_REQUIRE_GPU();
  for (const ConvCase& c : problem_table())
    for (DType t : {DType::F32, DType::F64}) {
      const Support s = supports(c.spec, c.x, c.w, t, kAlgo);
      EXPECT_TRUE(s.ok) << c.name << " " << dtype_name(t) << ": " << s.reason;
      if (s.ok) {
        EXPECT_FALSE(s.variant.empty()) << c.name;
        EXPECT_NO_THROW((void)workspace_bytes(c.spec, c.x, c.w, t, kAlgo)) << c.name;
      }
    }
}

template <class T>
void check_table(bool ints) {
  Context ctx;
  std::uint64_t seed = ints ? 7000 : 8000;
  for (const ConvCase& c : problem_table()) {
    seed += 3;
    SCOPED_TRACE(c.name + (ints ? " ints seed " : " floats seed ") + std::to_string(seed));
    if (!supports(c.spec, c.x, c.w, dtype_v<T>, kAlgo)) continue;  // EveryForwardTableRowIsSupported fails then
    check_problem<T>(ctx, c.spec, c.x, c.w, ints, seed);
  }
}

TEST(FftGpu, TableSmallIntsRoundToExactF32) {
  CONVKIT_REQUIRE_GPU();
  check_table<float>(true);
}
TEST(FftGpu, TableSmallIntsRoundToExactF64) {
  CONVKIT_REQUIRE_GPU();
  check_table<double>(true);
}
TEST(FftGpu, TableRandomFloatsF32) {
  CONVKIT_REQUIRE_GPU();
  check_table<float>(false);
}
TEST(FftGpu, TableRandomFloatsF64) {
  CONVKIT_REQUIRE_GPU();
  check_table<double>(false);
}

// ---------------------------------------------------------------- every boundary, mode, stride, dilation, groups

// 1-D and 2-D, every combination; pads below D so every boundary allows them,
// a kernel even along one axis, a bias on odd combinations.
template <class T>
void sweep(bool ints) {
  Context ctx;
  std::uint64_t seed = ints ? 9000 : 9500;
  for (int dims : {1, 2})
    for (Boundary bd : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Symmetric,
                        Boundary::Replicate})
      for (Mode mode : {Mode::CrossCorrelation, Mode::Convolution})
        for (std::int64_t s : {1, 2, 3})
          for (std::int64_t dil : {1, 2})
            for (std::int64_t g : {1, 2, 4}) {
              seed += 3;
              const bool bias = (seed / 3) % 2 == 1;
              ConvSpec spec = dims == 1 ? ConvSpec::conv1d() : ConvSpec::conv2d();
              spec.boundary(bd).mode(mode).stride(s).dilation(dil).groups(g).bias(bias);
              Shape xs, ws;
              if (dims == 1) {
                spec.padding(Padding::per_dim({{4, 3}}));
                xs = {2, 4, 37};
                ws = {8, 4 / g, 6};
              } else {
                spec.padding(Padding::per_dim({{3, 2}, {1, 4}}));
                xs = {2, 4, 17, 14};
                ws = {4, 4 / g, 5, 4};
              }
              SCOPED_TRACE(std::to_string(dims) + "-D " + spec.str() + " seed " + std::to_string(seed));
              ASSERT_TRUE(supports(spec, xs, ws, dtype_v<T>, kAlgo).ok);
              check_problem<T>(ctx, spec, xs, ws, ints, seed);
            }
}

TEST(FftGpu, EveryBoundaryModeStrideDilationGroupsIntsF32) {
  CONVKIT_REQUIRE_GPU();
  sweep<float>(true);
}
TEST(FftGpu, EveryBoundaryModeStrideDilationGroupsFloatsF32) {
  CONVKIT_REQUIRE_GPU();
  sweep<float>(false);
}
TEST(FftGpu, EveryBoundaryModeStrideDilationGroupsIntsF64) {
  CONVKIT_REQUIRE_GPU();
  sweep<double>(true);
}
TEST(FftGpu, EveryBoundaryModeStrideDilationGroupsFloatsF64) {
  CONVKIT_REQUIRE_GPU();
  sweep<double>(false);
}

// ---------------------------------------------------------------- long signals and large kernels

// 2^20 samples against 257 taps: far longer than any one transform the
// overlap-save cost rule keeps, so the signal runs in blocks whose seams must
// not show (the first and last outputs read padding; every output is checked).
TEST(FftGpu, LongSignalsInOverlapSaveBlocks) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  struct Long {
    ConvSpec spec;
    Shape x, w;
  };
  const std::vector<Long> cases = {
      {ConvSpec::conv1d().padding(Padding::same()), {1, 1, 1 << 20}, {1, 1, 257}},
      {ConvSpec::conv1d().padding(Padding::full()).mode(Mode::Convolution).bias(true), {1, 1, 1 << 20}, {1, 1, 257}},
      {ConvSpec::conv1d().padding(128).boundary(Boundary::Reflect), {1, 1, (1 << 20) + 3}, {1, 1, 257}},
      {ConvSpec::conv1d().padding(128).boundary(Boundary::Circular).stride(3), {2, 2, 1 << 17}, {3, 2, 257}},
      {ConvSpec::conv1d().dilation(3).padding(Padding::same()).boundary(Boundary::Symmetric), {1, 1, 300001},
       {1, 1, 129}},
  };
  std::uint64_t seed = 100;
  for (const Long& c : cases) {
    const std::string variant = supports(c.spec, c.x, c.w, DType::F32, kAlgo).variant;
    SCOPED_TRACE(c.spec.str() + " x " + c.x.str() + " w " + c.w.str() + " variant " + variant);
    // The circular case may take its period natively instead (a fast length).
    if (c.spec.boundary() != Boundary::Circular)
      EXPECT_EQ(variant.rfind("fft/overlap-save", 0), 0u) << "the signal should run in blocks";
    check_problem<float>(ctx, c.spec, c.x, c.w, true, seed += 3);
    check_problem<float>(ctx, c.spec, c.x, c.w, false, seed += 3);
    check_problem<double>(ctx, c.spec, c.x, c.w, true, seed += 3);
    check_problem<double>(ctx, c.spec, c.x, c.w, false, seed += 3);
  }
}

TEST(FftGpu, LargeKernels) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  struct Big {
    ConvSpec spec;
    Shape x, w;
  };
  const std::vector<Big> cases = {
      {ConvSpec::conv2d().padding(Padding::same()), {1, 1, 256, 300}, {1, 1, 63, 63}},
      {ConvSpec::conv2d().padding(Padding::same()).mode(Mode::Convolution).boundary(Boundary::Reflect).bias(true),
       {2, 3, 96, 80}, {4, 3, 31, 25}},
      {ConvSpec::conv2d().stride(2).padding(Padding::full()).boundary(Boundary::Zeros), {1, 2, 64, 64}, {2, 2, 64, 64}},
      {ConvSpec::conv2d().groups(2).dilation({2, 1}).padding(Padding::same()).boundary(Boundary::Replicate),
       {1, 4, 72, 90}, {2, 2, 17, 33}},
      {ConvSpec::conv3d().padding(Padding::same()).boundary(Boundary::Circular), {1, 2, 32, 30, 28},
       {2, 2, 9, 11, 7}},
  };
  std::uint64_t seed = 200;
  for (const Big& c : cases) {
    SCOPED_TRACE(c.spec.str() + " x " + c.x.str() + " w " + c.w.str());
    check_problem<float>(ctx, c.spec, c.x, c.w, true, seed += 3);
    check_problem<float>(ctx, c.spec, c.x, c.w, false, seed += 3);
    check_problem<double>(ctx, c.spec, c.x, c.w, true, seed += 3);
    check_problem<double>(ctx, c.spec, c.x, c.w, false, seed += 3);
  }
}

// ---------------------------------------------------------------- a caller's stream

TEST(FftGpu, CallersStream) {
  CONVKIT_REQUIRE_GPU();
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  {
    Context ctx(s);
    EXPECT_EQ(ctx.stream(), s);
    check_problem<float>(ctx, ConvSpec::conv2d().stride(2).padding(3).groups(2).bias(true), {3, 4, 41, 38},
                         {6, 2, 7, 7}, true, 301);
    check_problem<double>(ctx, ConvSpec::conv1d().padding(Padding::same()), {1, 1, 1 << 18}, {1, 1, 257}, false,
                          311);
  }
  EXPECT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

// ---------------------------------------------------------------- ConvPlan

// One plan, three inputs, then new weights (and bias) and the same three
// inputs again: the weight spectra it keeps follow set_weights. A one-shot
// Fft of another shape on the same context runs in between, so the plan's
// transforms must not depend on what the context ran last.
template <class T>
void plan_reuse(const ConvSpec& spec, const Shape& xs, const Shape& ws, bool ints, std::uint64_t seed) {
  Context ctx;
  const ConvProblem p = spec.problem(xs, ws);
  ConvPlan plan(ctx, spec, xs, ws, dtype_v<T>, kAlgo);
  EXPECT_EQ(plan.algorithm(), kAlgo);
  // Never more than the one-shot call (which transforms the weights in its workspace too).
  EXPECT_LE(plan.workspace_bytes(), workspace_bytes(spec, xs, ws, dtype_v<T>, kAlgo));
  EXPECT_EQ(plan.variant(), supports(spec, xs, ws, dtype_v<T>, kAlgo).variant);
  auto make = [&](const Shape& s, std::uint64_t sd) { return ints ? random_ints<T>(s, sd) : random_floats<T>(s, sd); };
  std::vector<HostTensor<T>> xs_host;
  for (int i = 0; i < 3; ++i) xs_host.push_back(make(xs, seed + 10 + i));
  const ConvSpec other = ConvSpec::conv2d().padding(2).mode(Mode::Convolution);
  for (int round = 0; round < 2; ++round) {
    const HostTensor<T> w = make(ws, seed + 20 * (round + 1)), b = make(Shape{p.K}, seed + 20 * (round + 1) + 1);
    const HostTensor<T>* bias = p.has_bias ? &b : nullptr;
    const auto dw = DeviceTensor<T>::from_host(ctx, w);
    const auto db = DeviceTensor<T>::from_host(ctx, b);
    if (bias)
      plan.set_weights(dw.view(), db.view());
    else
      plan.set_weights(dw.view());
    for (int i = 0; i < 3; ++i) {
      SCOPED_TRACE("weights " + std::to_string(round) + ", input " + std::to_string(i));
      const HostTensor<T>& x = xs_host[static_cast<std::size_t>(i)];
      const auto dx = DeviceTensor<T>::from_host(ctx, x);
      auto dy = DeviceTensor<T>::from_host(ctx, filled<T>(p.y_shape(), std::numeric_limits<T>::quiet_NaN()));
      plan.run(dx.view(), dy.view());
      check_fft(p, dy.to_host(), reference_y(spec, x, w, bias), x, w, bias, ints);
      // Something else on the context between two runs of the plan.
      const HostTensor<T> ox = make({1, 2, 21 + 4 * i, 19}, seed + 40 + i), ow = make({3, 2, 5, 5}, seed + 50 + i);
      check_fft(other.problem(ox.shape(), ow.shape()), run_conv<T>(ctx, other, ox, ow, nullptr),
                reference_y<T>(other, ox, ow, nullptr), ox, ow, nullptr, ints);
    }
  }
}

TEST(FftGpuPlan, ReusedAcrossInputsAndWeightsF32) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).mode(Mode::Convolution).bias(true);
  plan_reuse<float>(spec, {2, 3, 33, 40}, {4, 3, 9, 7}, true, 400);
  plan_reuse<float>(spec, {2, 3, 33, 40}, {4, 3, 9, 7}, false, 410);
}

TEST(FftGpuPlan, ReusedAcrossInputsAndWeightsF64) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same()).groups(2).boundary(Boundary::Reflect);
  plan_reuse<double>(spec, {3, 4, 1 << 16}, {2, 2, 129}, true, 500);
  plan_reuse<double>(spec, {3, 4, 1 << 16}, {2, 2, 129}, false, 510);
}

// ---------------------------------------------------------------- the cuFFT plan cache

// More distinct transform sizes than the cache holds, on one context: the
// count of cached plans grows, never passes the capacity, and is at the
// capacity once more sizes than that have run (the least recently used
// plans were evicted); another context's cache is its own; the first shape,
// run again after its plans were evicted, is still right; and a ConvPlan made
// before the cache churned still runs right after it.
//
// The shapes: 2-D images whose kernel is half the image along each axis (one
// transform block is then the cheapest, whatever the cost rule), the sizes
// per axis 2^a·3^b·5^c·7^d numbers at least 25% apart, so that no two shapes
// share a transform size along both axes under any rounding to fast sizes.
std::vector<std::int64_t> spread_fast_sizes(std::size_t count) {
  std::vector<std::int64_t> sizes;
  for (std::int64_t v = 12; sizes.size() < count; ++v) {
    std::int64_t r = v;
    for (std::int64_t f : {2, 3, 5, 7})
      while (r % f == 0) r /= f;
    if (r == 1 && (sizes.empty() || 4 * v >= 5 * sizes.back())) sizes.push_back(v);
  }
  return sizes;
}

TEST(FftGpuCache, BoundedEvictsAndStaysCorrect) {
  CONVKIT_REQUIRE_GPU();
  const std::size_t cap = detail::fft_plan_cache_capacity();
  ASSERT_GT(cap, 0u);
  ASSERT_LE(cap, 128u) << "the shapes below grow with the capacity; past 128 the reference gets slow";
  std::size_t per_axis = 1;
  while (per_axis * per_axis < cap + cap / 4 + 4) ++per_axis;  // some slack for shapes that share a plan anyway
  const std::vector<std::int64_t> sizes = spread_fast_sizes(per_axis);
  std::vector<std::pair<Shape, Shape>> shapes;
  for (std::int64_t h : sizes)
    for (std::int64_t w : sizes) shapes.push_back({Shape{1, 1, h, w}, Shape{1, 1, h / 2, w / 2}});
  const ConvSpec spec = ConvSpec::conv2d();
  auto run_and_check = [&](Context& ctx, const std::pair<Shape, Shape>& sh, std::uint64_t seed) {
    const HostTensor<float> x = random_ints<float>(sh.first, seed), w = random_ints<float>(sh.second, seed + 1);
    check_fft<float>(spec.problem(sh.first, sh.second), run_conv<float>(ctx, spec, x, w, nullptr),
                     reference_y<float>(spec, x, w, nullptr), x, w, nullptr, true);
  };
  Context ctx, other;
  EXPECT_EQ(detail::fft_plan_cache_entries(ctx), 0u);
  // A plan made first, run again after the churn below.
  const Shape ps{2, 1, 30, 28}, pws{1, 1, 7, 5};
  ConvPlan plan(ctx, spec, ps, pws, DType::F32, kAlgo);
  const HostTensor<float> pw = random_ints<float>(pws, 600);
  const auto dpw = DeviceTensor<float>::from_host(ctx, pw);
  plan.set_weights(dpw.view());
  std::size_t most = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    SCOPED_TRACE("shape " + std::to_string(i) + ": x " + shapes[i].first.str() + " w " + shapes[i].second.str());
    run_and_check(ctx, shapes[i], 610 + 2 * i);
    const std::size_t n = detail::fft_plan_cache_entries(ctx);
    EXPECT_GT(n, 0u);
    EXPECT_LE(n, cap);
    EXPECT_GE(n, most) << "the cache shrank while only new shapes ran";
    most = std::max(most, n);
  }
  EXPECT_EQ(detail::fft_plan_cache_entries(ctx), cap) << shapes.size() << " distinct sizes ran";
  EXPECT_EQ(detail::fft_plan_cache_entries(other), 0u) << "another context's cache filled";
  {
    SCOPED_TRACE("the first shape again, its plans evicted long ago");
    run_and_check(ctx, shapes[0], 999);
    EXPECT_LE(detail::fft_plan_cache_entries(ctx), cap);
  }
  const HostTensor<float> px = random_ints<float>(ps, 601);
  const auto dx = DeviceTensor<float>::from_host(ctx, px);
  auto dy = DeviceTensor<float>::from_host(ctx, filled<float>(plan.problem().y_shape(), NAN));
  plan.run(dx.view(), dy.view());
  check_fft<float>(plan.problem(), dy.to_host(), reference_y<float>(spec, px, pw, nullptr), px, pw, nullptr, true);
  EXPECT_LE(detail::fft_plan_cache_entries(ctx), cap);
}

// ---------------------------------------------------------------- workspace limits

struct LimitCase {
  ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).bias(true).boundary(Boundary::Symmetric);
  Shape xs{8, 3, 45, 38}, ws{5, 3, 11, 9};
  ConvProblem p = spec.problem(xs, ws);
  std::size_t full = workspace_bytes(spec, xs, ws, DType::F32, kAlgo);
  HostTensor<float> x = random_ints<float>(xs, 801), w = random_ints<float>(ws, 802), b = random_ints<float>({5}, 803);
  HostTensor<float> want = reference_y<float>(spec, x, w, &b);
};

// Whether conv runs (true) or refuses the limit (false, WorkspaceTooSmall).
bool runs_under(const LimitCase& c, std::size_t limit) {
  Context ctx;
  ctx.set_workspace_limit(limit);
  try {
    (void)run_conv<float>(ctx, c.spec, c.x, c.w, &c.b);
    return true;
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::WorkspaceTooSmall) << e.what();
    return false;
  }
}

// The least limit under which it runs, by bisection over [0, full] (a larger
// limit never refuses what a smaller one runs).
std::size_t least_limit(const LimitCase& c) {
  std::size_t lo = 0, hi = c.full;  // refuses at lo (checked by the caller), runs at hi
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    (runs_under(c, mid) ? hi : lo) = mid;
  }
  return hi;
}

TEST(FftGpuWorkspace, LimitsForcingChunksOfTheBatchAreCorrect) {
  CONVKIT_REQUIRE_GPU();
  LimitCase c;
  ASSERT_GT(c.full, 0u);
  ASSERT_FALSE(runs_under(c, 0));
  const std::size_t least = least_limit(c);
  ASSERT_LT(least, c.full) << "the batch of " << c.p.N << " cannot be split under the workspace limit";
  // The least limit is the block choice's own minimum, and at it the batch
  // runs in several passes.
  const detail::FftChoice at_least = detail::fft_choose(c.p, DType::F32, least, true);
  EXPECT_EQ(least, at_least.min_bytes);
  EXPECT_LT(at_least.chunk, c.p.N);
  for (std::size_t limit : {least, least + 1, least + (c.full - least) / 3, (least + c.full) / 2, c.full - 1, c.full,
                            std::numeric_limits<std::size_t>::max()}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    Context ctx;
    ctx.set_workspace_limit(limit);
    check_fft(c.p, run_conv<float>(ctx, c.spec, c.x, c.w, &c.b), c.want, c.x, c.w, &c.b, true);
    EXPECT_LE(ctx.workspace_allocated(), std::min(limit, c.full));
  }
  // f64 random floats, a limit between the least and the whole batch.
  const HostTensor<double> x = random_floats<double>(c.xs, 811), w = random_floats<double>(c.ws, 812),
                           b = random_floats<double>({5}, 813);
  const std::size_t full64 = workspace_bytes(c.spec, c.xs, c.ws, DType::F64, kAlgo);
  Context ctx;
  ctx.set_workspace_limit(full64 / 2);
  check_fft(c.p, run_conv<double>(ctx, c.spec, x, w, &b), reference_y<double>(c.spec, x, w, &b), x, w, &b, false);
  EXPECT_LE(ctx.workspace_allocated(), full64 / 2);
}

TEST(FftGpuWorkspace, BelowTheLeastIsRefusedNamingTheBytesAndYUntouched) {
  CONVKIT_REQUIRE_GPU();
  LimitCase c;
  ASSERT_FALSE(runs_under(c, 0));
  const std::size_t least = least_limit(c);
  for (std::size_t limit : {std::size_t(0), least / 2, least - 1}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    Context ctx;
    ctx.set_workspace_limit(limit);
    const auto dx = DeviceTensor<float>::from_host(ctx, c.x);
    const auto dw = DeviceTensor<float>::from_host(ctx, c.w);
    const auto db = DeviceTensor<float>::from_host(ctx, c.b);
    const HostTensor<float> poison = filled<float>(c.p.y_shape(), NAN);
    auto dy = DeviceTensor<float>::from_host(ctx, poison);
    try {
      conv(ctx, c.spec, dx.view(), dw.view(), db.view(), dy.view(), kAlgo);
      ADD_FAILURE() << "expected WorkspaceTooSmall";
    } catch (const Error& err) {
      EXPECT_EQ(err.status(), Status::WorkspaceTooSmall);
      EXPECT_NE(std::string(err.what()).find(std::to_string(least)), std::string::npos) << err.what();
    }
    const HostTensor<float> after = dy.to_host();
    std::int64_t written = 0;
    for (std::int64_t i = 0; i < after.numel(); ++i) written += std::isnan(after[i]) ? 0 : 1;
    EXPECT_EQ(written, 0) << "a refused call wrote into y";
    EXPECT_LE(ctx.workspace_allocated(), limit);
    EXPECT_THROW({ ConvPlan plan(ctx, c.spec, c.xs, c.ws, DType::F32, kAlgo); }, Error);
  }
}

// ---------------------------------------------------------------- exact contexts

// Problems where the FFT is a serious candidate (long kernels). On an exact
// context Auto never chooses Fft, one-shot or plan, and its report says why;
// on a default context the same candidate is considered, so the exclusion is
// the flag's doing. Auto's result on the exact context is then bit-exact on
// small integers.
TEST(FftGpu, ExactContextKeepsAutoAwayFromFft) {
  CONVKIT_REQUIRE_GPU();
  struct Case {
    ConvSpec spec;
    Shape x, w;
  };
  const std::vector<Case> cases = {
      {ConvSpec::conv1d().padding(Padding::same()), {1, 1, 1 << 20}, {1, 1, 257}},
      {ConvSpec::conv2d().padding(Padding::same()), {1, 1, 256, 256}, {1, 1, 63, 63}},
      {ConvSpec::conv2d().padding(Padding::same()), {4, 16, 64, 64}, {16, 16, 15, 15}},
  };
  Context exact_ctx;
  EXPECT_FALSE(exact_ctx.exact());
  exact_ctx.set_exact(true);
  EXPECT_TRUE(exact_ctx.exact());
  Context plain;
  std::uint64_t seed = 900;
  for (const Case& c : cases) {
    for (DType t : {DType::F32, DType::F64})
      for (bool for_plan : {false, true}) {
        SCOPED_TRACE(c.spec.str() + " x " + c.x.str() + " w " + c.w.str() + " " + dtype_name(t) +
                     (for_plan ? " plan" : " one-shot"));
        const AlgorithmChoice ch = choose_algorithm(exact_ctx, c.spec, c.x, c.w, t, for_plan);
        EXPECT_NE(ch.chosen, kAlgo) << ch.explain();
        bool listed = false;
        for (const CandidateReport& r : ch.candidates) {
          if (r.algorithm != kAlgo) continue;
          listed = true;
          EXPECT_FALSE(r.considered);
          EXPECT_NE(r.excluded_because.find("exact"), std::string::npos) << r.excluded_because;
        }
        EXPECT_TRUE(listed) << "Fft is missing from the candidates:\n" << ch.explain();
        const AlgorithmChoice pc = choose_algorithm(plain, c.spec, c.x, c.w, t, for_plan);
        for (const CandidateReport& r : pc.candidates)
          if (r.algorithm == kAlgo) EXPECT_TRUE(r.considered) << r.excluded_because;
      }
    const HostTensor<float> x = random_ints<float>(c.x, seed += 3), w = random_ints<float>(c.w, seed += 3);
    EXPECT_TRUE(compare(run_conv<float>(exact_ctx, c.spec, x, w, nullptr, Algorithm::Auto),
                        reference_y<float>(c.spec, x, w, nullptr), nullptr, 0.0));
  }
}

}  // namespace
}  // namespace convkit::test
