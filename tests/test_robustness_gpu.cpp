// GPU robustness tests: non-finite inputs propagate as in the reference on
// every path; every algorithm the determinism table calls bit-identical is
// bit-identical over ten runs; two threads with their own contexts run at
// once; ten thousand contexts are created and destroyed; tensors and plans
// outlive the Context object that made them (the documented rule: a
// DeviceTensor or ConvPlan holds the context's shared state, so it keeps
// working after the Context is destroyed, and the state is freed with the
// last of them). Each test runs in seconds; all skip without a device.
#include "determinism.hpp"
#include "direct.hpp"
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace convkit::test {
namespace {

constexpr Algorithm kGpuAlgorithms[] = {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz};

template <class T>
void poison(Context& ctx, DeviceTensor<T>& y) {
  if (y.bytes()) ASSERT_EQ(cudaMemsetAsync(y.data(), 0xFF, y.bytes(), ctx.stream()), cudaSuccess);  // NaN
}

// Runs `a` into a poisoned y and returns it.
template <class T>
HostTensor<T> run_once(Context& ctx, const ConvSpec& spec, const DeviceTensor<T>& x, const DeviceTensor<T>& w,
                       const DeviceTensor<T>* b, DeviceTensor<T>& y, Algorithm a) {
  poison(ctx, y);
  if (b)
    conv(ctx, spec, x.view(), w.view(), b->view(), y.view(), a);
  else
    conv(ctx, spec, x.view(), w.view(), y.view(), a);
  return y.to_host();
}

// ---------------------------------------------------------------- NaN and Inf

// Element by element: NaN where the reference has NaN, the same infinity where
// it has one, and the reference's value elsewhere (small integers: exact).
template <class T>
::testing::AssertionResult same_specials(const HostTensor<T>& got, const HostTensor<T>& want) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape() << " != " << want.shape();
  std::int64_t bad = 0, nans = 0, infs = 0;
  std::ostringstream first;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    const bool ok = std::isnan(w) ? std::isnan(g) : g == w;  // == also matches the sign of an infinity
    nans += std::isnan(w);
    infs += std::isinf(w);
    if (!ok && bad++ < 8) first << "\n  at " << i << ": got " << g << ", expected " << w;
  }
  // The data must reach both kinds, or the check proves nothing.
  if (nans == 0 || infs == 0)
    return ::testing::AssertionFailure() << "the reference has " << nans << " NaN and " << infs << " Inf outputs";
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.numel() << " elements differ:" << first.str();
}

struct SpecialCase {
  std::string name;
  ConvSpec spec;
  Shape x, w;
};

// One case per direct variant and boundary family, with and without bias.
std::vector<SpecialCase> special_cases() {
  using B = Boundary;
  return {
      {"1d_generic_zeros", ConvSpec::conv1d().padding(Padding::same()), {2, 1, 97}, {1, 1, 7}},
      {"1d_long_reflect_bias", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Reflect).bias(true), {1, 1, 4099}, {2, 1, 31}},
      {"2d_plane_circular", ConvSpec::conv2d().padding(Padding::same()).boundary(B::Circular), {1, 1, 37, 41}, {1, 1, 5, 5}},
      {"2d_smallc_replicate_bias", ConvSpec::conv2d().stride(2).padding(3).boundary(B::Replicate).bias(true), {2, 3, 37, 41}, {9, 3, 7, 7}},
      {"2d_depthwise_zeros_bias", ConvSpec::conv2d().groups(6).stride(2).padding(1).bias(true), {3, 6, 23, 29}, {6, 1, 3, 3}},
      {"2d_valid_bias", ConvSpec::conv2d().bias(true), {2, 3, 13, 11}, {4, 3, 3, 3}},
      {"3d_reflect", ConvSpec::conv3d().padding(1).boundary(B::Reflect).mode(Mode::Convolution), {1, 2, 5, 6, 7}, {3, 2, 3, 3, 3}},
  };
}

bool reads_zero_padding(const ConvProblem& p) {
  if (p.boundary != Boundary::Zeros) return false;
  for (int a = 0; a < 3; ++a)
    if (p.pad_lo[a] || p.pad_hi[a]) return true;
  return false;
}

// x holds NaN, +Inf and -Inf; the bias NaN and +Inf; the weights +Inf and
// -Inf where no path multiplies a weight by a zero-padding element the
// reference skips (Direct and Im2colGemm multiply padding zeros, 0·Inf =
// NaN; the reference and the Toeplitz matrix leave those taps out). Weights
// are positive otherwise: the Toeplitz matrix sums taps that fold onto one
// input before multiplying, and with mixed signs Inf·(3 - 1) = Inf where the
// reference's Inf·3 - Inf·1 is NaN.
template <class T>
void check_specials(Context& ctx, const SpecialCase& c, std::uint64_t seed) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const ConvProblem p = c.spec.problem(c.x, c.w);
  HostTensor<T> hx = random_ints<T>(c.x, seed), hw = random_ints<T>(c.w, seed + 1, 1, 4),
                hb = random_ints<T>(Shape{p.K}, seed + 2);
  const std::int64_t nx = hx.numel(), per_image = nx / p.N;
  hx[per_image / 3] = nan;
  hx[per_image / 2] = inf;
  hx[nx - 1 - per_image / 5] = -inf;
  if (c.spec.has_bias()) {
    hb[0] = nan;
    hb[p.K - 1] = inf;  // the same channel when K = 1: NaN wins there, as in the reference
  }
  if (!reads_zero_padding(p)) {
    hw[0] = inf;
    hw[hw.numel() - 1] = -inf;
  }
  const bool bias = c.spec.has_bias();
  const Expected<T> e = expected_output<T>(c.spec, hx, hw, bias ? &hb : nullptr);
  auto x = DeviceTensor<T>::from_host(ctx, hx);
  auto w = DeviceTensor<T>::from_host(ctx, hw);
  auto b = DeviceTensor<T>::from_host(ctx, hb);
  DeviceTensor<T> y(ctx, p.y_shape());
  for (Algorithm a : kGpuAlgorithms) {
    SCOPED_TRACE(c.name + " " + algorithm_name(a) + " " + dtype_name(dtype_v<T>) + " seed " + std::to_string(seed));
    EXPECT_TRUE(same_specials(run_once(ctx, c.spec, x, w, bias ? &b : nullptr, y, a), e.y));
  }
  // Every direct variant that serves the shape, not only the selected one.
  for (detail::DirectVariant v : detail::kDirectVariants) {
    if (!detail::direct::direct_applies(v, p, sizeof(T))) continue;
    SCOPED_TRACE(c.name + " " + detail::direct_variant_name(v) + " " + dtype_name(dtype_v<T>));
    poison(ctx, y);
    detail::run_direct_variant(ctx, c.spec, x.view(), w.view(), bias ? TensorArg(b.view()) : TensorArg(), y.view(), v);
    EXPECT_TRUE(same_specials(y.to_host(), e.y));
  }
}

TEST(RobustnessGpu, NanAndInfPropagateAsInTheReference) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  std::uint64_t seed = 8000;
  for (const SpecialCase& c : special_cases()) {
    check_specials<float>(ctx, c, seed += 10);
    check_specials<double>(ctx, c, seed += 10);
  }
}

// ---------------------------------------------------------------- determinism

template <class T>
bool bit_identical(const HostTensor<T>& a, const HostTensor<T>& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.vector().size() * sizeof(T)) == 0;
}

// Ten one-shot runs and ten plan runs per algorithm the table calls
// deterministic (and Auto on a context that asks for determinism), on random
// floats where summation order shows; N = 1 and N > 1 take different
// library products (SpMV / SpMM, one GEMM / batched).
TEST(RobustnessGpu, TenRunsBitIdenticalWhereDeterminismIsPromised) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv2d().padding(1).bias(true);
  int checked = 0;
  for (const Shape xs : {Shape{1, 8, 33, 29}, Shape{4, 8, 33, 29}}) {
    const Shape ws{16, 8, 3, 3};
    Context ctx;
    ctx.set_deterministic(true);
    auto x = DeviceTensor<float>::from_host(ctx, random_floats<float>(xs, 91));
    auto w = DeviceTensor<float>::from_host(ctx, random_floats<float>(ws, 92));
    auto b = DeviceTensor<float>::from_host(ctx, random_floats<float>(Shape{16}, 93));
    DeviceTensor<float> y(ctx, spec.output_shape(xs, ws));
    for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz, Algorithm::Auto}) {
      if (a != Algorithm::Auto && !detail::is_deterministic(a)) continue;
      SCOPED_TRACE(std::string(algorithm_name(a)) + " x " + xs.str());
      ++checked;
      const HostTensor<float> first = run_once(ctx, spec, x, w, &b, y, a);
      for (int r = 1; r < 10; ++r)
        ASSERT_TRUE(bit_identical(run_once(ctx, spec, x, w, &b, y, a), first)) << "conv() run " << r;
      ConvPlan plan(ctx, spec, xs, ws, DType::F32, a);
      plan.set_weights(w.view(), b.view());
      for (int r = 0; r < 10; ++r) {
        poison(ctx, y);
        plan.run(x.view(), y.view());
        ASSERT_TRUE(bit_identical(y.to_host(), first)) << "ConvPlan run " << r << " (" << plan.variant() << ")";
      }
    }
  }
  EXPECT_GE(checked, 2);
}

// ---------------------------------------------------------------- threads

// Two threads, each with its own context, run different problems on every
// GPU algorithm at the same time; every result is checked (on the main
// thread, after the join) against the reference computed beforehand.
TEST(RobustnessGpu, TwoThreadsWithTheirOwnContexts) {
  CONVKIT_REQUIRE_GPU();
  struct Job {
    ConvSpec spec;
    Shape xs, ws;
    HostTensor<float> x, w;
    HostTensor<float> want;
    int mismatches = 0;
    std::string error;
  };
  std::vector<Job> jobs;
  jobs.push_back({ConvSpec::conv2d().padding(1), {2, 3, 40, 36}, {8, 3, 3, 3}, {}, {}, {}});
  jobs.push_back({ConvSpec::conv1d().padding(Padding::same()).boundary(Boundary::Reflect), {1, 2, 5000}, {3, 2, 9}, {}, {}, {}});
  std::uint64_t seed = 9000;
  for (Job& j : jobs) {
    j.x = random_ints<float>(j.xs, ++seed);
    j.w = random_ints<float>(j.ws, ++seed);
    j.want = expected_output<float>(j.spec, j.x, j.w, nullptr).y;
  }
  std::atomic<int> ready{0};
  auto work = [&](Job& j) {
    try {
      Context ctx;
      auto x = DeviceTensor<float>::from_host(ctx, j.x);
      auto w = DeviceTensor<float>::from_host(ctx, j.w);
      DeviceTensor<float> y(ctx, j.want.shape());
      ctx.synchronize();
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();  // overlap the two threads' runs
      for (int it = 0; it < 10; ++it)
        for (Algorithm a : kGpuAlgorithms) {
          if (y.bytes() && cudaMemsetAsync(y.data(), 0xFF, y.bytes(), ctx.stream()) != cudaSuccess) ++j.mismatches;
          conv(ctx, j.spec, x.view(), w.view(), y.view(), a);
          const HostTensor<float> got = y.to_host();
          if (std::memcmp(got.data(), j.want.data(), got.vector().size() * sizeof(float)) != 0) ++j.mismatches;
        }
    } catch (const std::exception& e) {
      j.error = e.what();
      ++ready;
    }
  };
  std::thread t0(work, std::ref(jobs[0])), t1(work, std::ref(jobs[1]));
  t0.join();
  t1.join();
  for (const Job& j : jobs) {
    EXPECT_EQ(j.error, "");
    EXPECT_EQ(j.mismatches, 0) << "results that differ from the reference, of 30 runs";
  }
}

// ---------------------------------------------------------------- context churn

// 10^4 contexts, each made to create its stream; every 100th also runs a
// convolution (rotating through the GPU algorithms, so library handles are
// created and destroyed too) and checks it. Device memory must not leak by
// more than a pool's worth.
TEST(RobustnessGpu, TenThousandContextCycles) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape xs{1, 2, 12, 10}, ws{3, 2, 3, 3};
  const HostTensor<float> hx = random_ints<float>(xs, 95), hw = random_ints<float>(ws, 96);
  const HostTensor<float> want = expected_output<float>(spec, hx, hw, nullptr).y;
  std::size_t free_before = 0, free_after = 0, total = 0;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&free_before, &total), cudaSuccess);
  int convs = 0;
  for (int cycle = 0; cycle < 10000; ++cycle) {
    Context ctx;
    ASSERT_NE(ctx.stream(), nullptr) << "cycle " << cycle;
    if (cycle % 100 != 0) continue;
    const Algorithm a = kGpuAlgorithms[(cycle / 100) % 3];
    auto x = DeviceTensor<float>::from_host(ctx, hx);
    auto w = DeviceTensor<float>::from_host(ctx, hw);
    DeviceTensor<float> y(ctx, want.shape());
    ASSERT_TRUE(compare(run_once<float>(ctx, spec, x, w, nullptr, y, a), want, nullptr, 0.0))
        << "cycle " << cycle << " " << algorithm_name(a);
    ++convs;
  }
  EXPECT_EQ(convs, 100);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(cudaMemGetInfo(&free_after, &total), cudaSuccess);
  EXPECT_GE(free_after + (std::size_t(256) << 20), free_before) << "device memory lost over the cycles";
}

// ---------------------------------------------------------------- lifetime

// The rule (context.hpp, tensor.hpp, README): tensors and plans share the
// context's state, so destroying the Context object leaves them fully usable
// -- a plan still runs on the context's stream, a tensor still copies back --
// and the state (stream, handles, workspace) is freed with the last of them,
// in either order.
TEST(RobustnessGpu, TensorsAndPlansOutliveTheirContext) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv2d().padding(1).bias(true);
  for (const Shape xs : {Shape{1, 3, 14, 11}, Shape{3, 3, 14, 11}}) {
    const Shape ws{4, 3, 3, 3};
    const HostTensor<float> hx = random_ints<float>(xs, 97), hw = random_ints<float>(ws, 98),
                            hb = random_ints<float>(Shape{4}, 99);
    const HostTensor<float> want = expected_output<float>(spec, hx, hw, &hb).y;
    for (Algorithm a : kGpuAlgorithms) {
      for (bool plan_first : {true, false}) {
        SCOPED_TRACE(std::string(algorithm_name(a)) + " x " + xs.str() + (plan_first ? " plan freed first" : " tensors freed first"));
        std::optional<Context> ctx(std::in_place);
        std::optional<DeviceTensor<float>> x(DeviceTensor<float>::from_host(*ctx, hx)),
            w(DeviceTensor<float>::from_host(*ctx, hw)), b(DeviceTensor<float>::from_host(*ctx, hb)),
            y(std::in_place, *ctx, want.shape());
        std::optional<ConvPlan> plan(std::in_place, *ctx, spec, xs, ws, DType::F32, a);
        plan->set_weights(w->view(), b->view());
        poison(*ctx, *y);  // on the context's stream, so ordered before the run
        ctx.reset();       // the Context object is gone; its state is not
        plan->run(x->view(), y->view());
        EXPECT_TRUE(compare(y->to_host(), want, nullptr, 0.0));
        if (plan_first) plan.reset();
        HostTensor<float> again = y->to_host();  // still readable after the plan is gone
        EXPECT_TRUE(compare(again, want, nullptr, 0.0));
        x.reset();
        w.reset();
        b.reset();
        if (!plan_first) {
          // The plan holds only views of the freed weights now; destroying it must still be clean.
          plan.reset();
        }
        y.reset();  // the last holder: the state is freed here
        EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        EXPECT_EQ(cudaGetLastError(), cudaSuccess);
      }
    }
  }
}

}  // namespace
}  // namespace convkit::test
