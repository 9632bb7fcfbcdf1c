// Smoke test: the library links and the reference computes a known 1-D case.
#include "harness.hpp"

namespace convkit::test {

TEST(Smoke, Reference1dValidCrossCorrelation) {
  const float x[] = {1, 2, 3, 4, 5};
  const float w[] = {1, 0, -1};
  float y[3] = {0, 0, 0};
  reference::conv(ConvSpec::conv1d(), TensorView<const float>::host(x, {1, 1, 5}),
                  TensorView<const float>::host(w, {1, 1, 3}), TensorView<float>::host(y, {1, 1, 3}));
  EXPECT_EQ(y[0], -2.f);
  EXPECT_EQ(y[1], -2.f);
  EXPECT_EQ(y[2], -2.f);
}

}  // namespace convkit::test
