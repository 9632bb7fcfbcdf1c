// GPU sweep of the regression file (regressions.hpp): every "run" entry on
// every GPU algorithm, one-shot conv() and a ConvPlan, f32 and f64, small
// integers so every path must match the reference exactly; outputs are
// NaN-poisoned before each run so an unwritten element fails.
#include "regressions.hpp"

#include <cuda_runtime_api.h>

namespace convkit::test {
namespace {

template <class T>
void check_entry(Context& ctx, const ConvCase& c, std::uint64_t seed) {
  const ConvProblem p = c.spec.problem(c.x, c.w);
  const HostTensor<T> hx = random_ints<T>(c.x, seed), hw = random_ints<T>(c.w, seed + 1),
                      hb = random_ints<T>(Shape{p.K}, seed + 2);
  const bool bias = c.spec.has_bias();
  const Expected<T> e = expected_output<T>(c.spec, hx, hw, bias ? &hb : nullptr);
  auto x = DeviceTensor<T>::from_host(ctx, hx);
  auto w = DeviceTensor<T>::from_host(ctx, hw);
  auto b = DeviceTensor<T>::from_host(ctx, hb);
  DeviceTensor<T> y(ctx, p.y_shape());
  auto poison = [&] {
    if (y.bytes()) ASSERT_EQ(cudaMemsetAsync(y.data(), 0xFF, y.bytes(), ctx.stream()), cudaSuccess);
  };
  for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz, Algorithm::Auto}) {
    SCOPED_TRACE(c.name + " " + algorithm_name(a) + " " + dtype_name(dtype_v<T>) + " seed " + std::to_string(seed));
    const Support s = supports(c.spec, c.x, c.w, dtype_v<T>, a);
    ASSERT_TRUE(s.ok) << s.reason;
    poison();
    if (bias)
      conv(ctx, c.spec, x.view(), w.view(), b.view(), y.view(), a);
    else
      conv(ctx, c.spec, x.view(), w.view(), y.view(), a);
    EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "conv()";
    ConvPlan plan(ctx, c.spec, c.x, c.w, dtype_v<T>, a);
    plan.set_weights(w.view(), bias ? TensorArg(b.view()) : TensorArg());
    poison();
    plan.run(x.view(), y.view());
    EXPECT_TRUE(compare(y.to_host(), e.y, nullptr, 0.0)) << "ConvPlan " << plan.variant();
  }
}

TEST(RegressionsGpu, RunEntriesOnEveryAlgorithm) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  ctx.set_exact(true);  // compared exactly: Auto must not pick Fft, whose error is normwise
  std::uint64_t seed = 7000;
  for (const ConvCase& c : regression_cases(RegressionUse::Run)) {
    check_entry<float>(ctx, c, seed += 10);
    check_entry<double>(ctx, c, seed += 10);
  }
}

}  // namespace
}  // namespace convkit::test
