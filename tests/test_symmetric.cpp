// CPU tests of Boundary::Symmetric (… b a | a b c d | d c …, the edge sample
// repeated: NumPy's pad mode 'symmetric', SciPy signal's 'symm', ndimage's
// 'reflect'). The fold itself against its definition, the validation rule
// (every pad <= D), and the reference against an independent oracle: the
// input padded explicitly by the definition, then convolved with no padding.
#include "harness.hpp"

#include "indexing.cuh"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

// Index of the sample a symmetric extension shows at position p, written
// from the picture (mirror images of x alternate with x itself) rather than
// from the library's fold: p's copy number is floor(p / D); even copies run
// forwards, odd copies backwards.
std::int64_t symmetric_source(std::int64_t p, std::int64_t D) {
  const std::int64_t copy = p >= 0 ? p / D : -((-p + D - 1) / D);
  const std::int64_t within = p - copy * D;
  return (copy % 2 == 0) ? within : D - 1 - within;
}

TEST(Symmetric, FoldMatchesTheMirroredPicture) {
  // D = 4: positions -4..7 read d c b a | a b c d | d c b a.
  const std::int64_t want[] = {3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0};
  for (std::int64_t p = -4; p < 8; ++p)
    EXPECT_EQ(detail::fold_index(p, 4, Boundary::Symmetric), want[p + 4]) << "p = " << p;
  for (std::int64_t D = 1; D <= 9; ++D)
    for (std::int64_t p = -D; p < 2 * D; ++p)
      ASSERT_EQ(detail::fold_index(p, D, Boundary::Symmetric), symmetric_source(p, D)) << "D " << D << " p " << p;
  EXPECT_STREQ(boundary_name(Boundary::Symmetric), "symmetric");
}

TEST(Symmetric, PaddingUpToTheInputSizeOnly) {
  const auto spec = [](std::int64_t lo, std::int64_t hi) {
    return ConvSpec::conv1d().boundary(Boundary::Symmetric).padding(Padding::per_dim({{lo, hi}}));
  };
  EXPECT_NO_THROW(spec(5, 5).output_shape({1, 1, 5}, {1, 1, 3}));
  for (auto [lo, hi] : {std::pair<std::int64_t, std::int64_t>{6, 0}, {0, 6}}) {
    try {
      spec(lo, hi).output_shape({1, 1, 5}, {1, 1, 3});
      ADD_FAILURE() << "pad (" << lo << ", " << hi << ") > D = 5 was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("symmetric"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("<= D = 5"), std::string::npos) << e.what();
    }
  }
}

// x padded by the picture, per spatial axis, into a zero-boundary problem.
template <class T>
HostTensor<T> pad_symmetric(const HostTensor<T>& x, int dims, const std::int64_t* lo, const std::int64_t* hi) {
  Shape s = x.shape();
  std::int64_t D[3] = {1, 1, 1}, P[3] = {1, 1, 1}, L[3] = {0, 0, 0};
  for (int a = 0; a < dims; ++a) {
    const int slot = 3 - dims + a;
    D[slot] = x.shape()[2 + a];
    L[slot] = lo[a];
    P[slot] = D[slot] + lo[a] + hi[a];
    s[2 + a] = P[slot];
  }
  HostTensor<T> out(s);
  const std::int64_t planes = x.shape()[0] * x.shape()[1];
  for (std::int64_t pl = 0; pl < planes; ++pl)
    for (std::int64_t i0 = 0; i0 < P[0]; ++i0)
      for (std::int64_t i1 = 0; i1 < P[1]; ++i1)
        for (std::int64_t i2 = 0; i2 < P[2]; ++i2) {
          const std::int64_t q0 = symmetric_source(i0 - L[0], D[0]);
          const std::int64_t q1 = symmetric_source(i1 - L[1], D[1]);
          const std::int64_t q2 = symmetric_source(i2 - L[2], D[2]);
          out[((pl * P[0] + i0) * P[1] + i1) * P[2] + i2] = x[((pl * D[0] + q0) * D[1] + q1) * D[2] + q2];
        }
  return out;
}

struct SymCase {
  int dims;
  Shape x, w;
  std::int64_t lo[3], hi[3], stride, dilation, groups;
  Mode mode;
};

TEST(Symmetric, ReferenceEqualsExplicitPaddingThenValid) {
  const SymCase cases[] = {
      {1, {1, 1, 7}, {1, 1, 3}, {2}, {2}, 1, 1, 1, Mode::CrossCorrelation},
      {1, {2, 2, 5}, {3, 2, 4}, {5}, {1}, 1, 1, 1, Mode::Convolution},
      {1, {1, 1, 1}, {1, 1, 3}, {1}, {1}, 1, 1, 1, Mode::CrossCorrelation},  // D = 1, pad = D
      {1, {1, 1, 6}, {1, 1, 3}, {6}, {6}, 2, 3, 1, Mode::Convolution},       // pad = D, dilation, stride
      {2, {1, 2, 5, 4}, {2, 1, 3, 2}, {3, 1}, {2, 4}, 1, 1, 2, Mode::Convolution},
      {2, {2, 1, 6, 5}, {1, 1, 6, 5}, {6, 5}, {0, 2}, 3, 1, 1, Mode::CrossCorrelation},  // 6 x 5 kernel
      {3, {1, 1, 3, 4, 2}, {2, 1, 2, 3, 2}, {1, 2, 2}, {3, 0, 1}, 1, 2, 1, Mode::Convolution},
  };
  std::uint64_t seed = 777;
  for (const SymCase& c : cases) {
    std::vector<std::pair<std::int64_t, std::int64_t>> pads;
    for (int a = 0; a < c.dims; ++a) pads.emplace_back(c.lo[a], c.hi[a]);
    ConvSpec spec = c.dims == 1 ? ConvSpec::conv1d() : (c.dims == 2 ? ConvSpec::conv2d() : ConvSpec::conv3d());
    ConvSpec valid = spec;
    spec.boundary(Boundary::Symmetric).stride(c.stride).dilation(c.dilation).groups(c.groups).mode(c.mode);
    if (c.dims == 1) spec.padding(Padding::per_dim({pads[0]}));
    if (c.dims == 2) spec.padding(Padding::per_dim({pads[0], pads[1]}));
    if (c.dims == 3) spec.padding(Padding::per_dim({pads[0], pads[1], pads[2]}));
    valid.stride(c.stride).dilation(c.dilation).groups(c.groups).mode(c.mode);
    SCOPED_TRACE(::testing::PrintToString(spec.problem(c.x, c.w)));

    const auto x = random_ints<double>(c.x, ++seed), w = random_ints<double>(c.w, ++seed);
    const auto y_shape = spec.output_shape(c.x, c.w);
    HostTensor<double> got(y_shape), want(y_shape);
    for (std::int64_t i = 0; i < got.numel(); ++i) got[i] = want[i] = std::numeric_limits<double>::quiet_NaN();
    reference::conv(spec, x.view(), w.view(), got.view());
    const auto padded = pad_symmetric(x, c.dims, c.lo, c.hi);
    ASSERT_EQ(valid.output_shape(padded.shape(), c.w), y_shape);
    reference::conv(valid, padded.view(), w.view(), want.view());
    EXPECT_TRUE(compare(got, want, nullptr, 0.0));
  }
}

}  // namespace
}  // namespace convkit::test
