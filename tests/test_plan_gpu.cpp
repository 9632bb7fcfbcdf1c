// ConvPlan's argument checks on a GPU: an output that overlaps the weights or
// bias bound with set_weights is refused before any work, for every
// algorithm, and the caller's memory is left as it was; and the path a plan
// reports running.
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

namespace convkit::test {
namespace {

TEST(PlanGpu, OutputOverlappingTheBoundWeightsIsRefused) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv1d().bias(true);
  const Shape xs{1, 1, 8}, ws{1, 1, 3};  // y: [1, 1, 6]
  Context ctx;
  // One buffer holds w (3), bias (1) and room for y (6) laid over w.
  DeviceTensor<float> buf(ctx, {16});
  auto x = DeviceTensor<float>::from_host(ctx, random_ints<float>(xs, 5));
  const std::vector<float> init = [] {
    std::vector<float> v(16);
    for (int i = 0; i < 16; ++i) v[i] = float(i + 1);
    return v;
  }();
  ctx.synchronize();  // the stream-ordered allocation is complete before another stream touches it
  ASSERT_EQ(cudaMemcpy(buf.data(), init.data(), init.size() * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  const auto w = TensorView<const float>::device(buf.data(), ws);
  const auto b = TensorView<const float>::device(buf.data() + 3, {1});
  for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
    SCOPED_TRACE(algorithm_name(a));
    ConvPlan plan(ctx, spec, xs, ws, DType::F32, a);
    plan.set_weights(w, b);
    for (float* y0 : {buf.data(), buf.data() + 2}) {  // over w, and over w's tail and the bias
      try {
        plan.run(x.view(), TensorView<float>::device(y0, {1, 1, 6}));
        FAIL() << "an output overlapping the bound weights must be refused";
      } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("overlaps"), std::string::npos) << e.what();
      }
    }
    std::vector<float> after(16);
    ctx.synchronize();
    ASSERT_EQ(cudaMemcpy(after.data(), buf.data(), after.size() * sizeof(float), cudaMemcpyDeviceToHost),
              cudaSuccess);
    EXPECT_EQ(after, init);
  }
}

// ConvPlan::variant() names the path Support::variant names, for every
// algorithm (Auto: its choice's); a Toeplitz SpMM plan adds its dense layout
// once it has run.
TEST(PlanGpu, VariantNamesThePathThatRuns) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  for (const Shape xs : {Shape{1, 3, 20, 18}, Shape{4, 3, 20, 18}}) {
    const Shape ws{5, 3, 3, 3};
    Context ctx;
    auto x = DeviceTensor<float>::from_host(ctx, random_ints<float>(xs, 11));
    auto w = DeviceTensor<float>::from_host(ctx, random_ints<float>(ws, 12));
    DeviceTensor<float> y(ctx, spec.problem(xs, ws).y_shape());
    for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz, Algorithm::Auto}) {
      SCOPED_TRACE(std::string(algorithm_name(a)) + " x " + xs.str());
      ConvPlan plan(ctx, spec, xs, ws, DType::F32, a);
      const std::string want = supports(spec, xs, ws, DType::F32, plan.algorithm()).variant;
      ASSERT_FALSE(want.empty());
      EXPECT_EQ(plan.variant(), want);
      plan.set_weights(w.view());
      plan.run(x.view(), y.view());
      const bool spmm = plan.algorithm() == Algorithm::SparseToeplitz && xs[0] > 1;
      EXPECT_EQ(plan.variant(), spmm ? want + "-rows" : want);  // no workspace limit: row-major copies
    }
  }
}

}  // namespace
}  // namespace convkit::test
