// Direct's backward-data through a forward kernel (adjoint_as_forward): where
// it applies, the forward problem it builds, run by the generic forward
// kernel's per-element function, equals the reference's backward-data
// exactly on small integers; where it does not apply (other boundaries,
// stride, several channels per group, padding past dil·(k−1)) it says so;
// and the common single-signal / image / depthwise shapes reach a fast
// forward variant, which supports() names.
#include <convkit/conv.hpp>
#include <convkit/reference.hpp>

#include "direct_backward.hpp"
#include "harness.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace convkit::test {
namespace {

using detail::adjoint_as_forward;
using detail::DirectVariant;

template <class T>
void check_equal_to_reference(const std::string& name, const ConvSpec& spec, const Shape& xs, const Shape& ws) {
  ConvSpec s = spec;
  s.bias(false);
  const ConvProblem p = s.problem(xs, ws);
  ConvProblem f;
  ASSERT_TRUE(adjoint_as_forward(p, &f)) << name;
  const HostTensor<T> dy = random_ints<T>(p.y_shape(), 31), w = random_ints<T>(ws, 32);
  HostTensor<T> want(xs);
  reference::conv_backward_data(s, dy.view(), w.view(), want.view());
  EXPECT_EQ(f.x_shape(), p.y_shape()) << name;
  EXPECT_EQ(f.y_shape(), xs) << name;
  EXPECT_EQ(f.w_shape(), ws) << name;
  HostTensor<T> got(xs);
  for (std::int64_t i = 0; i < got.numel(); ++i)
    got[i] = detail::direct::generic_output<T>(f, dy.data(), w.data(), nullptr, i);
  EXPECT_TRUE(compare(got, want, nullptr, 0.0)) << name;
}

struct Shapes {
  std::string name;
  ConvSpec spec;
  Shape x, w;
};

std::vector<Shapes> applicable() {
  using M = Mode;
  const auto same = Padding::same();
  return {
      {"1d_same_k9", ConvSpec::conv1d().padding(same), {1, 1, 300}, {1, 1, 9}},
      {"1d_same_even_conv", ConvSpec::conv1d().padding(same).mode(M::Convolution), {2, 1, 301}, {1, 1, 8}},
      {"1d_full", ConvSpec::conv1d().padding(Padding::full()), {1, 1, 40}, {1, 1, 7}},
      {"1d_valid_rows", ConvSpec::conv1d().groups(3), {2, 3, 50}, {3, 1, 5}},
      {"1d_dilated_asym", ConvSpec::conv1d().groups(2).dilation(3).padding(Padding::per_dim({{4, 1}})), {1, 2, 60},
       {2, 1, 4}},
      {"2d_image_same", ConvSpec::conv2d().padding(same), {1, 1, 37, 45}, {1, 1, 5, 4}},
      {"2d_depthwise_conv", ConvSpec::conv2d().groups(4).padding(1).mode(M::Convolution), {2, 4, 13, 11},
       {4, 1, 3, 3}},
      {"2d_depthwise_dil2", ConvSpec::conv2d().groups(2).dilation(2).padding(2), {1, 2, 15, 16}, {2, 1, 3, 3}},
      {"3d_single", ConvSpec::conv3d().padding(1), {1, 1, 6, 7, 5}, {1, 1, 3, 2, 3}},
  };
}

TEST(DirectAdjoint, ForwardFormEqualsTheReferenceBackwardData) {
  for (const Shapes& c : applicable()) {
    check_equal_to_reference<float>(c.name, c.spec, c.x, c.w);
    check_equal_to_reference<double>(c.name, c.spec, c.x, c.w);
  }
  int table = 0;
  for (const ConvCase& c : problem_table()) {
    ConvSpec s = c.spec;
    s.bias(false);
    ConvProblem f;
    if (!adjoint_as_forward(s.problem(c.x, c.w), &f)) continue;
    check_equal_to_reference<float>(c.name, c.spec, c.x, c.w);
    ++table;
  }
  EXPECT_GT(table, 3) << "the problem table should hold some rows the forward form serves";
}

TEST(DirectAdjoint, RefusedWhereTheForwardFormIsNotExact) {
  ConvProblem f;
  const auto refused = [&](const ConvSpec& s, const Shape& x, const Shape& w) {
    return !adjoint_as_forward(s.problem(x, w), &f);
  };
  EXPECT_TRUE(refused(ConvSpec::conv1d().padding(1).boundary(Boundary::Reflect), {1, 1, 20}, {1, 1, 3}));
  EXPECT_TRUE(refused(ConvSpec::conv1d().padding(1).boundary(Boundary::Circular), {1, 1, 20}, {1, 1, 3}));
  EXPECT_TRUE(refused(ConvSpec::conv1d().stride(2), {1, 1, 20}, {1, 1, 3}));
  EXPECT_TRUE(refused(ConvSpec::conv1d(), {1, 2, 20}, {1, 2, 3}));           // C/G = 2
  EXPECT_TRUE(refused(ConvSpec::conv1d().groups(2), {1, 2, 20}, {4, 1, 3}));  // K/G = 2
  EXPECT_TRUE(refused(ConvSpec::conv1d().padding(3), {1, 1, 20}, {1, 1, 3}));  // padding past k − 1
  EXPECT_TRUE(refused(ConvSpec::conv1d(), {0, 1, 20}, {1, 1, 3}));             // empty batch
  EXPECT_FALSE(refused(ConvSpec::conv1d().padding(2), {1, 1, 20}, {1, 1, 3}));
}

TEST(DirectAdjoint, LongSignalsAndImagesReachAFastForwardKernel) {
  const auto variant = [](const ConvSpec& s, const Shape& x, const Shape& w, DType t = DType::F32) {
    return supports(s, x, w, t, Algorithm::Direct, Direction::BackwardData).variant;
  };
  const auto same = Padding::same();
  EXPECT_EQ(variant(ConvSpec::conv1d().padding(same), {1, 1, 1 << 20}, {1, 1, 1024}),
            "direct/long1d-adjoint (beta 0; gather for beta 1)");
  EXPECT_EQ(variant(ConvSpec::conv2d().padding(same), {1, 1, 512, 512}, {1, 1, 31, 31}, DType::F64),
            "direct/plane2d-adjoint (beta 0; gather for beta 1)");
  EXPECT_EQ(variant(ConvSpec::conv2d().padding(same).boundary(Boundary::Reflect), {1, 1, 512, 512}, {1, 1, 5, 5}),
            "direct/gather");
  EXPECT_EQ(variant(ConvSpec::conv2d().padding(1), {1, 16, 56, 56}, {32, 16, 3, 3}), "direct/gather");
  // The variant named is one that serves the forward problem built.
  ConvSpec s = ConvSpec::conv1d().padding(same);
  const ConvProblem p = s.problem({1, 1, 1 << 20}, {1, 1, 1024});
  ConvProblem f;
  EXPECT_EQ(detail::adjoint_forward_variant(p, sizeof(float), &f), DirectVariant::Long1d);
  EXPECT_TRUE(detail::direct::direct_applies(DirectVariant::Long1d, f, sizeof(float)));
}

}  // namespace
}  // namespace convkit::test
