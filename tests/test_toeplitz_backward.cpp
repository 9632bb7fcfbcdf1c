// SparseToeplitz's backward-filter on the CPU: the per-thread functions of
// kernels/toeplitz_backward.cuh (the sampled product dyᵀ·x on T's pattern,
// then each weight's sum over its nonzeros) run on host-built matrices for
// every row of the problem table and the regression shapes, and must equal
// the reference's backward-filter exactly on small integers (and within the
// tolerance on random floats), in both index widths.
#include <convkit/reference.hpp>
#include <convkit/toeplitz.hpp>

#include "harness.hpp"
#include "toeplitz_backward.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace convkit::test {
namespace {

template <class T, class I>
HostTensor<T> filter_gradient_on_pattern(const ConvProblem& p, const I* rp, const I* ci, std::int64_t rows,
                                         std::int64_t cols, std::int64_t nnz, const HostTensor<T>& dy,
                                         const HostTensor<T>& x) {
  std::vector<T> s(static_cast<std::size_t>(nnz), T(-12345));  // poisoned: every entry must be written
  for (std::int64_t r = 0; r < rows; ++r)
    detail::toeplitz::sampled_row(rp, ci, rows, cols, p.N, dy.data(), x.data(), s.data(), r);
  HostTensor<T> dw(p.w_shape());
  for (std::int64_t wi = 0; wi < dw.numel(); ++wi)
    dw[wi] = detail::toeplitz::filter_gradient_element(p, rp, ci, s.data(), wi);
  return dw;
}

// Step 2 as the device runs it with more than one segment: pass 1 for every
// (segment, weight), pass 2 for every weight, with `segments` forced.
template <class T, class I>
HostTensor<T> segmented_on_pattern(const ConvProblem& p, const I* rp, const I* ci, std::int64_t rows,
                                   std::int64_t cols, std::int64_t nnz, const HostTensor<T>& dy,
                                   const HostTensor<T>& x, std::int64_t segments, const HostTensor<T>& prior,
                                   bool accumulate) {
  std::vector<T> s(static_cast<std::size_t>(nnz), T(-12345));
  for (std::int64_t r = 0; r < rows; ++r)
    detail::toeplitz::sampled_row(rp, ci, rows, cols, p.N, dy.data(), x.data(), s.data(), r);
  const std::int64_t weights = p.K * p.Cg() * p.ker_spatial(), Q = p.out_spatial();
  const std::int64_t len = (Q + segments - 1) / segments;
  std::vector<T> partials(static_cast<std::size_t>(segments * weights), T(-777));
  for (std::int64_t t = 0; t < segments * weights; ++t)
    detail::toeplitz::filter_gradient_partial(p, rp, ci, s.data(), len, t, partials.data());
  HostTensor<T> dw(p.w_shape());
  for (std::int64_t i = 0; i < dw.numel(); ++i) dw[i] = accumulate ? prior[i] : T(std::nan(""));
  for (std::int64_t wi = 0; wi < weights; ++wi)
    detail::toeplitz::filter_gradient_finish(weights, segments, partials.data(), dw.data(), accumulate, wi);
  return dw;
}

template <class T>
void check_case(const ConvCase& c, toeplitz::IndexWidth width, bool floats) {
  ConvSpec spec = c.spec;
  spec.bias(false);
  const ConvProblem p = spec.problem(c.x, c.w);
  const HostTensor<T> x = floats ? random_floats<T>(c.x, 21) : random_ints<T>(c.x, 21);
  const HostTensor<T> w = random_ints<T>(c.w, 22);
  const HostTensor<T> dy = floats ? random_floats<T>(p.y_shape(), 23) : random_ints<T>(p.y_shape(), 23);
  toeplitz::BuildOptions opts;
  opts.index_width = width;
  const toeplitz::Matrix<T> m = toeplitz::build(spec, c.x, w.view(), opts);
  HostTensor<T> want(c.w);
  reference::conv_backward_filter(spec, x.view(), dy.view(), want.view());
  HostTensor<T> got = m.index_width() == toeplitz::IndexWidth::I32
                          ? filter_gradient_on_pattern<T>(p, m.row_ptr_i32(), m.col_ind_i32(), m.rows(), m.cols(),
                                                          m.nnz(), dy, x)
                          : filter_gradient_on_pattern<T>(p, m.row_ptr_i64(), m.col_ind_i64(), m.rows(), m.cols(),
                                                          m.nnz(), dy, x);
  if (!floats) {
    EXPECT_TRUE(compare(got, want, nullptr, 0.0)) << c.name;
    return;
  }
  HostTensor<T> mag(c.w);
  reference::conv_backward_filter(spec, abs_of(x).view(), abs_of(dy).view(), mag.view());
  HostTensor<double> magd(c.w);
  for (std::int64_t i = 0; i < mag.numel(); ++i) magd[i] = double(mag[i]);
  EXPECT_TRUE(compare(got, want, &magd, tolerance<T>(p.N * p.out_spatial()))) << c.name;
}

template <class T>
void check_table(toeplitz::IndexWidth width, bool floats) {
  int cases = 0;
  for (const ConvCase& c : problem_table()) {
    if (c.x[0] == 0) continue;  // N = 0: the caller writes dw = beta·dw without the matrix
    SCOPED_TRACE(c.name);
    check_case<T>(c, width, floats);
    ++cases;
  }
  EXPECT_GT(cases, 20);
}

TEST(ToeplitzBackward, FilterGradientOnThePatternEqualsTheReferenceF32Ints) {
  check_table<float>(toeplitz::IndexWidth::Auto, false);
}
TEST(ToeplitzBackward, FilterGradientOnThePatternEqualsTheReferenceF64Ints) {
  check_table<double>(toeplitz::IndexWidth::Auto, false);
}
TEST(ToeplitzBackward, FilterGradientOnThePatternEqualsTheReferenceInt64Indices) {
  check_table<float>(toeplitz::IndexWidth::I64, false);
}
TEST(ToeplitzBackward, FilterGradientOnThePatternWithinToleranceOnFloats) {
  check_table<float>(toeplitz::IndexWidth::Auto, true);
  check_table<double>(toeplitz::IndexWidth::Auto, true);
}

TEST(ToeplitzBackward, SegmentedGatherEqualsTheReferenceForAnySegmentCount) {
  int cases = 0;
  for (const ConvCase& c : problem_table()) {
    if (c.x[0] == 0) continue;
    SCOPED_TRACE(c.name);
    ConvSpec spec = c.spec;
    spec.bias(false);
    const ConvProblem p = spec.problem(c.x, c.w);
    const HostTensor<double> x = random_ints<double>(c.x, 41), w = random_ints<double>(c.w, 42);
    const HostTensor<double> dy = random_ints<double>(p.y_shape(), 43), prior = random_ints<double>(c.w, 44);
    const toeplitz::Matrix<double> m = toeplitz::build(spec, c.x, w.view());
    HostTensor<double> want(c.w);
    reference::conv_backward_filter(spec, x.view(), dy.view(), want.view());
    const std::int64_t Q = p.out_spatial();
    for (std::int64_t segments : {std::int64_t(1), std::int64_t(2), std::int64_t(3), Q,
                                  detail::toeplitz::sampled_dw_segments(p)}) {
      if (segments < 1 || segments > Q) continue;
      for (bool accumulate : {false, true}) {
        const HostTensor<double> got =
            m.index_width() == toeplitz::IndexWidth::I32
                ? segmented_on_pattern<double>(p, m.row_ptr_i32(), m.col_ind_i32(), m.rows(), m.cols(), m.nnz(), dy,
                                               x, segments, prior, accumulate)
                : segmented_on_pattern<double>(p, m.row_ptr_i64(), m.col_ind_i64(), m.rows(), m.cols(), m.nnz(), dy,
                                               x, segments, prior, accumulate);
        HostTensor<double> expect(c.w);
        for (std::int64_t i = 0; i < expect.numel(); ++i) expect[i] = want[i] + (accumulate ? prior[i] : 0.0);
        EXPECT_TRUE(compare(got, expect, nullptr, 0.0)) << segments << " segments, accumulate " << accumulate;
      }
    }
    ++cases;
  }
  EXPECT_GT(cases, 20);
}

TEST(ToeplitzBackward, SegmentsFillTheDeviceAndAreNeverEmpty) {
  using detail::toeplitz::sampled_dw_segments;
  using detail::toeplitz::sampled_dw_segment_length;
  // A long single-channel signal: 31 weights over 2^20 outputs -> the cap.
  const ConvProblem sig = ConvSpec::conv1d().padding(Padding::same()).problem({1, 1, 1 << 20}, {1, 1, 31});
  EXPECT_EQ(sampled_dw_segments(sig), detail::toeplitz::kSampledMaxSegments);
  // A wide layer already has enough weights: one segment.
  const ConvProblem layer = ConvSpec::conv2d().padding(1).problem({8, 256, 14, 14}, {256, 256, 3, 3});
  EXPECT_EQ(sampled_dw_segments(layer), 1);
  for (const ConvCase& c : problem_table()) {
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const std::int64_t S = sampled_dw_segments(p), len = sampled_dw_segment_length(p), Q = p.out_spatial();
    EXPECT_GE(S, 1) << c.name;
    EXPECT_LE(S, std::max<std::int64_t>(Q, 1)) << c.name;
    EXPECT_GE(S * len, Q) << c.name;
    EXPECT_LT((S - 1) * len, std::max<std::int64_t>(Q, 1)) << c.name;  // the last segment is not empty
  }
}

TEST(ToeplitzBackward, FindInRowFindsEveryColumnAndNothingElse) {
  const std::int32_t rp[] = {0, 3, 3, 5};
  const std::int32_t ci[] = {1, 4, 9, 0, 7};
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 0, 1), 0);
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 0, 4), 1);
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 0, 9), 2);
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 0, 5), -1);
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 0, 10), -1);
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 1, 0), -1);  // empty row
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 2, 0), 3);
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 2, 7), 4);
  EXPECT_EQ(detail::toeplitz::find_in_row(rp, ci, 2, 3), -1);
}

TEST(ToeplitzBackward, SupportedInBothBackwardDirectionsWithWorkspaceForTheSampledProduct) {
  for (const ConvCase& c : problem_table()) {
    for (Direction d : {Direction::BackwardData, Direction::BackwardFilter}) {
      const Support s = supports(c.spec, c.x, c.w, DType::F32, Algorithm::SparseToeplitz, d);
      EXPECT_TRUE(s.ok) << c.name << " " << direction_name(d) << ": " << s.reason;
    }
    const std::size_t fwd = workspace_bytes(c.spec, c.x, c.w, DType::F32, Algorithm::SparseToeplitz);
    const std::size_t dw = workspace_bytes(c.spec, c.x, c.w, DType::F32, Algorithm::SparseToeplitz,
                                           Direction::BackwardFilter);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const std::int64_t nnz = toeplitz::info(c.spec, c.x, c.w, DType::F32).nnz;
    EXPECT_EQ(dw, fwd + std::size_t(detail::toeplitz::sampled_dw_workspace_elems(p, nnz)) * sizeof(float)) << c.name;
  }
}

}  // namespace
}  // namespace convkit::test
