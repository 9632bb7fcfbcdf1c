// ConvPlan's argument checks on a GPU: an output that overlaps the weights or
// bias bound with set_weights is refused before any work, for every
// algorithm, and the caller's memory is left as it was.
#include "harness.hpp"

#include <cuda_runtime_api.h>

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

}  // namespace
}  // namespace convkit::test
