// Host-side checks of the index arithmetic the kernels share
// (kernels/indexing.cuh): boundary folding, the kernel flip, and the source
// element an (output, tap) pair reads, with hand-computed expected values on
// tiny problems, plus fold_index swept against independent closed forms.
#include "harness.hpp"
#include "indexing.cuh"

namespace convkit::test {
namespace {

using detail::fold_index;
using detail::input_position;
using detail::source_offset;
using detail::tap_index;
using detail::weight_offset;

// Positions inside [0, D) read themselves whatever the boundary.
TEST(FoldIndex, InsideIsIdentity) {
  for (Boundary b : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate, Boundary::Symmetric})
    for (std::int64_t p = 0; p < 5; ++p) EXPECT_EQ(fold_index(p, 5, b), p) << boundary_name(b);
}

// D = 4 holds a b c d at 0..3; expected values written out by hand.
TEST(FoldIndex, Zeros) {
  for (std::int64_t p : {-1, -2, -4, 4, 5, 7}) EXPECT_EQ(fold_index(p, 4, Boundary::Zeros), -1) << p;
}

TEST(FoldIndex, Circular) {
  // ... c d | a b c d | a b ...
  EXPECT_EQ(fold_index(-1, 4, Boundary::Circular), 3);
  EXPECT_EQ(fold_index(-2, 4, Boundary::Circular), 2);
  EXPECT_EQ(fold_index(-4, 4, Boundary::Circular), 0);  // pad == D is allowed
  EXPECT_EQ(fold_index(4, 4, Boundary::Circular), 0);
  EXPECT_EQ(fold_index(5, 4, Boundary::Circular), 1);
  EXPECT_EQ(fold_index(7, 4, Boundary::Circular), 3);
  EXPECT_EQ(fold_index(-1, 1, Boundary::Circular), 0);
  EXPECT_EQ(fold_index(1, 1, Boundary::Circular), 0);
}

TEST(FoldIndex, Reflect) {
  // ... d c b | a b c d | c b a ... (no edge repeat)
  EXPECT_EQ(fold_index(-1, 4, Boundary::Reflect), 1);
  EXPECT_EQ(fold_index(-2, 4, Boundary::Reflect), 2);
  EXPECT_EQ(fold_index(-3, 4, Boundary::Reflect), 3);  // pad = D-1, the largest allowed
  EXPECT_EQ(fold_index(4, 4, Boundary::Reflect), 2);
  EXPECT_EQ(fold_index(5, 4, Boundary::Reflect), 1);
  EXPECT_EQ(fold_index(6, 4, Boundary::Reflect), 0);
}

TEST(FoldIndex, Replicate) {
  // ... a a | a b c d | d d ...
  EXPECT_EQ(fold_index(-1, 4, Boundary::Replicate), 0);
  EXPECT_EQ(fold_index(-9, 4, Boundary::Replicate), 0);
  EXPECT_EQ(fold_index(4, 4, Boundary::Replicate), 3);
  EXPECT_EQ(fold_index(13, 4, Boundary::Replicate), 3);
  EXPECT_EQ(fold_index(-3, 1, Boundary::Replicate), 0);
  EXPECT_EQ(fold_index(3, 1, Boundary::Replicate), 0);
}

// Every position validation allows (circular |pad| <= D, reflect pad < D),
// for several D, against closed forms written differently from the library:
// modulo for wrapping, a mirror of period 2(D-1) for reflection, a clamp.
TEST(FoldIndex, SweepAgainstClosedForms) {
  for (std::int64_t D = 1; D <= 7; ++D) {
    for (std::int64_t p = -D; p < 2 * D; ++p) {
      EXPECT_EQ(fold_index(p, D, Boundary::Circular), ((p % D) + D) % D) << "D=" << D << " p=" << p;
      EXPECT_EQ(fold_index(p, D, Boundary::Replicate), std::min(std::max<std::int64_t>(p, 0), D - 1))
          << "D=" << D << " p=" << p;
      EXPECT_EQ(fold_index(p, D, Boundary::Zeros), (p >= 0 && p < D) ? p : -1) << "D=" << D << " p=" << p;
      if (D > 1 && p > -D && p < 2 * D - 1) {
        const std::int64_t period = 2 * (D - 1);
        std::int64_t q = ((p % period) + period) % period;
        if (q >= D) q = period - q;
        EXPECT_EQ(fold_index(p, D, Boundary::Reflect), q) << "D=" << D << " p=" << p;
      }
    }
  }
}

TEST(TapIndex, FlipsOnlyForConvolution) {
  for (std::int64_t i = 0; i < 5; ++i) EXPECT_EQ(tap_index(i, 5, Mode::CrossCorrelation), i);
  EXPECT_EQ(tap_index(0, 5, Mode::Convolution), 4);
  EXPECT_EQ(tap_index(2, 5, Mode::Convolution), 2);
  EXPECT_EQ(tap_index(4, 5, Mode::Convolution), 0);
  EXPECT_EQ(tap_index(0, 4, Mode::Convolution), 3);
  EXPECT_EQ(tap_index(0, 1, Mode::Convolution), 0);
}

// A 2-D problem: input 3x4, kernel 2x3, stride (1, 2), padding lo (1, 1).
// It occupies slots 1 and 2; row = o1 + i1 - 1, col = 2*o2 + i2 - 1.
ConvProblem small_2d(Boundary b, Mode m = Mode::CrossCorrelation) {
  return ConvSpec::conv2d()
      .stride({1, 2})
      .padding(Padding::per_dim({{1, 0}, {1, 1}}))
      .boundary(b)
      .mode(m)
      .problem({1, 1, 3, 4}, {1, 1, 2, 3});
}

TEST(SourceOffset, Small2dZeros) {
  const ConvProblem p = small_2d(Boundary::Zeros);
  ASSERT_EQ(p.out[1], 3);
  ASSERT_EQ(p.out[2], 2);
  EXPECT_EQ(input_position(p, 1, 0, 0), -1);
  EXPECT_EQ(input_position(p, 2, 1, 2), 3);
  EXPECT_EQ(source_offset(p, 0, 0, 0, 0, 0, 0), -1);     // row -1: padding
  EXPECT_EQ(source_offset(p, 0, 0, 0, 0, 1, 0), -1);     // col -1: padding
  EXPECT_EQ(source_offset(p, 0, 0, 0, 0, 1, 1), 0);      // (0, 0)
  EXPECT_EQ(source_offset(p, 0, 1, 1, 0, 1, 2), 7);      // (1, 3)
  EXPECT_EQ(source_offset(p, 0, 2, 1, 0, 0, 0), 5);      // (1, 1)
  EXPECT_EQ(source_offset(p, 0, 2, 1, 0, 1, 2), 11);     // (2, 3)
  EXPECT_EQ(source_offset(p, 0, 0, 1, 0, 1, 2), 3);      // (0, 3)
}

TEST(SourceOffset, Small2dFoldedBoundaries) {
  // Output (0, 0), tap (0, 0) reads the corner (-1, -1) of the extended input.
  EXPECT_EQ(source_offset(small_2d(Boundary::Circular), 0, 0, 0, 0, 0, 0), 2 * 4 + 3);  // (2, 3)
  EXPECT_EQ(source_offset(small_2d(Boundary::Reflect), 0, 0, 0, 0, 0, 0), 1 * 4 + 1);   // (1, 1)
  EXPECT_EQ(source_offset(small_2d(Boundary::Replicate), 0, 0, 0, 0, 0, 0), 0);        // (0, 0)
  // Tap (0, 1) of output (0, 1): row -1, col 2.
  EXPECT_EQ(source_offset(small_2d(Boundary::Circular), 0, 0, 1, 0, 0, 1), 2 * 4 + 2);
  EXPECT_EQ(source_offset(small_2d(Boundary::Reflect), 0, 0, 1, 0, 0, 1), 1 * 4 + 2);
  EXPECT_EQ(source_offset(small_2d(Boundary::Replicate), 0, 0, 1, 0, 0, 1), 2);
}

TEST(SourceOffset, DilatedStrided1d) {
  // 1-D lives in slot 2: position = 3*o + 2*i - 2.
  const ConvProblem p = ConvSpec::conv1d().stride(3).dilation(2).padding(2).problem({1, 1, 10}, {1, 1, 3});
  ASSERT_EQ(p.in[0], 1);
  ASSERT_EQ(p.in[1], 1);
  ASSERT_EQ(p.out[2], 4);  // floor((14 - 5) / 3) + 1
  EXPECT_EQ(source_offset(p, 0, 0, 0, 0, 0, 0), -1);
  EXPECT_EQ(source_offset(p, 0, 0, 0, 0, 0, 1), 0);
  EXPECT_EQ(source_offset(p, 0, 0, 2, 0, 0, 2), 8);
  EXPECT_EQ(source_offset(p, 0, 0, 3, 0, 0, 2), -1);  // position 11: the right padding
}

TEST(WeightOffset, FlipsEveryDimension) {
  const ConvProblem cc = small_2d(Boundary::Zeros, Mode::CrossCorrelation);
  const ConvProblem cv = small_2d(Boundary::Zeros, Mode::Convolution);
  // Kernel 2x3 in slots 1, 2: offset = i1*3 + i2.
  EXPECT_EQ(weight_offset(cc, 0, 1, 2), 5);
  EXPECT_EQ(weight_offset(cc, 0, 0, 1), 1);
  EXPECT_EQ(weight_offset(cv, 0, 1, 2), 0);
  EXPECT_EQ(weight_offset(cv, 0, 0, 1), 4);
  EXPECT_EQ(weight_offset(cv, 0, 0, 0), 5);
}

}  // namespace
}  // namespace convkit::test
