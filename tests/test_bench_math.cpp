// CPU tests of convkit-bench's pure helpers (bench/bench_math.hpp) and its
// problem table (bench/cases.hpp): statistics, roofline ceilings, sampled
// index choice, tolerances, cuDNN's symmetric-padding view, the Toeplitz size
// estimate, and that every benchmark case is a valid problem.
#include "bench_math.hpp"
#include "cases.hpp"

#include <convkit/convkit.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace convkit::bench {
namespace {

TEST(BenchMath, MedianOddEvenEmpty) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median({7}), 7);
  EXPECT_TRUE(std::isnan(median({})));
  EXPECT_DOUBLE_EQ(minimum({3, 0.5, 2}), 0.5);
  EXPECT_TRUE(std::isnan(minimum({})));
}

TEST(BenchMath, RepsWithinBudget) {
  EXPECT_EQ(reps_within_budget(50, 0.001, 5, 10), 50);   // 50 ms in all: fits
  EXPECT_EQ(reps_within_budget(50, 0.25, 5, 10), 20);    // 20 runs fit in 5 s
  EXPECT_EQ(reps_within_budget(50, 2.0, 5, 10), 10);     // never below the floor
  EXPECT_EQ(reps_within_budget(5, 2.0, 5, 10), 5);       // nor above the request
  EXPECT_EQ(reps_within_budget(50, 0.0, 5, 10), 50);
}

TEST(BenchMath, FmaPeakOfKnownParts) {
  EXPECT_EQ(fp32_lanes_per_sm(9, 0), 128);  // H100
  EXPECT_EQ(fp32_lanes_per_sm(8, 0), 64);   // A100
  EXPECT_EQ(fp32_lanes_per_sm(8, 6), 128);  // GA10x
  EXPECT_EQ(fp32_lanes_per_sm(7, 0), 64);   // V100
  EXPECT_EQ(fp64_lanes_per_sm(9, 0), 64);
  EXPECT_EQ(fp64_lanes_per_sm(8, 0), 32);
  // H100 SXM: 132 SMs at 1980 MHz -> 66.9 TFLOP/s FP32, 33.5 FP64.
  EXPECT_NEAR(fma_peak_flops(132, 128, 1980000) / 1e12, 66.9, 0.05);
  EXPECT_NEAR(fma_peak_flops(132, 64, 1980000) / 1e12, 33.45, 0.05);
  // A100 SXM: 108 SMs at 1410 MHz -> 19.5 TFLOP/s FP32.
  EXPECT_NEAR(fma_peak_flops(108, 64, 1410000) / 1e12, 19.49, 0.05);
}

TEST(BenchMath, RooflineTakesTheSlowerCeiling) {
  // 1 TFLOP at 10 TFLOP/s = 0.1 s beats 1 GB at 1 TB/s = 1 ms: compute-bound.
  EXPECT_DOUBLE_EQ(roofline_seconds(1e12, 1e9, 1e13, 1e12), 0.1);
  // 1 GFLOP and 10 GB: memory-bound, 10 ms.
  EXPECT_DOUBLE_EQ(roofline_seconds(1e9, 1e10, 1e13, 1e12), 0.01);
  EXPECT_DOUBLE_EQ(roofline_fraction(0.02, 1e9, 1e10, 1e13, 1e12), 0.5);
  EXPECT_TRUE(std::isnan(roofline_fraction(0, 1, 1, 1, 1)));
}

TEST(BenchMath, SampledIndicesSmallOutputTakesAll) {
  const auto idx = sample_output_indices(Shape{1, 2, 3, 4}, 300, 1);
  ASSERT_EQ(idx.size(), 24u);
  for (std::int64_t i = 0; i < 24; ++i) EXPECT_EQ(idx[i], i);
}

TEST(BenchMath, SampledIndicesIncludeCornersAndAreDistinctSortedInRange) {
  const Shape y{4, 3, 10, 20};
  const auto idx = sample_output_indices(y, 100, 7);
  ASSERT_EQ(idx.size(), 100u);
  const std::set<std::int64_t> s(idx.begin(), idx.end());
  EXPECT_EQ(s.size(), idx.size());
  EXPECT_TRUE(std::is_sorted(idx.begin(), idx.end()));
  EXPECT_GE(idx.front(), 0);
  EXPECT_LT(idx.back(), y.numel());
  const std::int64_t last_plane = (4 * 3 - 1) * 200;
  for (std::int64_t corner : {std::int64_t(0), std::int64_t(19), std::int64_t(180), std::int64_t(199)}) {
    EXPECT_TRUE(s.count(corner)) << corner;
    EXPECT_TRUE(s.count(last_plane + corner)) << corner;
  }
  EXPECT_EQ(idx, sample_output_indices(y, 100, 7));  // deterministic
  EXPECT_NE(idx, sample_output_indices(y, 100, 8));
}

TEST(BenchMath, SampledIndices1dCorners) {
  const auto idx = sample_output_indices(Shape{1, 1, 1000}, 10, 3);
  ASSERT_EQ(idx.size(), 10u);
  EXPECT_EQ(idx.front(), 0);
  EXPECT_EQ(idx.back(), 999);
}

TEST(BenchMath, ToleranceAndCheck) {
  EXPECT_NEAR(tolerance_factor(DType::F32, 100), 2.1e-5, 1e-12);
  EXPECT_LT(tolerance_factor(DType::F64, 100), 1e-12);
  EXPECT_TRUE(within_tolerance(1.0, 1.0, 0.0, 1e-6));
  EXPECT_FALSE(within_tolerance(NAN, 1.0, 1e9, 1e-6));
  EXPECT_FALSE(within_tolerance(INFINITY, 1.0, 1e9, 1e-6));

  const auto ok = check_samples({1, 2, 3}, {1, 2, 3}, {5, 5, 5}, 1e-6);
  EXPECT_EQ(ok.mismatches, 0);
  EXPECT_TRUE(ok.exact);
  const auto close = check_samples({1, 2.000001, 3}, {1, 2, 3}, {5, 5, 5}, 1e-6);
  EXPECT_EQ(close.mismatches, 0);
  EXPECT_FALSE(close.exact);
  const auto bad = check_samples({1, 2, NAN, 7}, {1, 2, 3, 4}, {5, 5, 5, 5}, 1e-6);
  EXPECT_EQ(bad.mismatches, 2);
  EXPECT_EQ(bad.first_bad, 2);
  EXPECT_DOUBLE_EQ(bad.max_abs_err, 3);
  EXPECT_EQ(check_samples({1}, {1, 2}, {1, 1}, 1).mismatches, 1);
}

TEST(BenchMath, SymmetricViewOfSymmetricPaddingIsIdentity) {
  const ConvProblem p = ConvSpec::conv2d().stride(2).padding(3).problem(Shape{2, 3, 224, 224}, Shape{4, 3, 7, 7});
  const SymmetricView v = symmetric_view(p);
  ASSERT_TRUE(v.ok);
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(v.out[a], p.out[a]);
    EXPECT_EQ(v.offset[a], 0);
  }
  for (std::int64_t i : {std::int64_t(0), std::int64_t(12345), p.y_shape().numel() - 1})
    EXPECT_EQ(symmetric_index(p, v, i), i);
}

TEST(BenchMath, SymmetricViewShiftsEvenSameKernel) {
  // 'same' with k = 4: lo = 1, hi = 2 -> cuDNN pads 2 and 2, one more output,
  // and convkit's y[o] is cuDNN's y'[o + 1].
  const ConvProblem p = ConvSpec::conv1d().padding(Padding::same()).problem(Shape{2, 1, 10}, Shape{3, 1, 4});
  const SymmetricView v = symmetric_view(p);
  ASSERT_TRUE(v.ok);
  EXPECT_EQ(v.pad[2], 2);
  EXPECT_EQ(v.out[2], 11);
  EXPECT_EQ(v.offset[2], 1);
  // Element (n=1, k=2, o=4): flat (1*3 + 2)*10 + 4 = 54 -> (1*3 + 2)*11 + 5 = 60.
  EXPECT_EQ(symmetric_index(p, v, 54), 60);

  // Convolution mode rounds lo up: lo = 2, hi = 1 -> offset 0.
  const ConvProblem q =
      ConvSpec::conv1d().padding(Padding::same()).mode(Mode::Convolution).problem(Shape{1, 1, 10}, Shape{1, 1, 4});
  const SymmetricView w = symmetric_view(q);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.offset[2], 0);
  EXPECT_EQ(w.out[2], 11);
}

TEST(BenchMath, SymmetricViewRejectsShiftOffTheStride) {
  const ConvProblem p = ConvSpec::conv1d().stride(2).padding(Padding::per_dim({{0, 1}}))
                            .problem(Shape{1, 1, 10}, Shape{1, 1, 3});
  EXPECT_FALSE(symmetric_view(p).ok);
}

TEST(BenchMath, ToeplitzNnzCountsTapsInside) {
  // 1-D, D = 5, k = 3, 'same' (pad 1): rows 0 and 4 lose one tap -> 3*5 - 2.
  const ConvProblem p = ConvSpec::conv1d().padding(Padding::same()).problem(Shape{1, 1, 5}, Shape{1, 1, 3});
  EXPECT_DOUBLE_EQ(toeplitz_nnz(p), 13);
  // Valid padding: every tap is inside.
  const ConvProblem v = ConvSpec::conv1d().problem(Shape{1, 1, 5}, Shape{1, 1, 3});
  EXPECT_DOUBLE_EQ(toeplitz_nnz(v), 9);
  // 2-D with channels: the per-dimension counts multiply, times K * C.
  const ConvProblem q = ConvSpec::conv2d().padding(1).problem(Shape{1, 2, 5, 5}, Shape{4, 2, 3, 3});
  EXPECT_DOUBLE_EQ(toeplitz_nnz(q), 4 * 2 * 13 * 13);
  // Circular keeps every tap.
  const ConvProblem c = ConvSpec::conv1d().padding(1).boundary(Boundary::Circular)
                            .problem(Shape{1, 1, 5}, Shape{1, 1, 3});
  EXPECT_DOUBLE_EQ(toeplitz_nnz(c), 15);
  // Strided and dilated: D = 10, k = 3, dilation 2, stride 3, pad 2.
  const ConvProblem s = ConvSpec::conv1d().stride(3).dilation(2).padding(2)
                            .problem(Shape{1, 1, 10}, Shape{1, 1, 3});
  double want = 0;
  for (std::int64_t o = 0; o < s.out[2]; ++o)
    for (std::int64_t i = 0; i < 3; ++i) {
      const std::int64_t pos = o * 3 + i * 2 - 2;
      want += pos >= 0 && pos < 10;
    }
  EXPECT_DOUBLE_EQ(toeplitz_nnz(s), want);
  EXPECT_DOUBLE_EQ(csr_bytes(13, 5, DType::F32), 13 * 8 + 6 * 4);
}

TEST(BenchMath, TextHelpers) {
  EXPECT_EQ(split_list("a,b,,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_list("").empty());
  EXPECT_EQ(json_string("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(json_number(NAN), "null");
  EXPECT_EQ(json_number(1.5), "1.5");
  EXPECT_EQ(clip("abcdef", 4), "abc~");
  EXPECT_EQ(clip("abc", 4), "abc");
}

TEST(BenchCases, EveryCaseIsAValidProblem) {
  for (bool quick : {false, true}) {
    std::size_t total = 0;
    for (const std::string& suite : suite_names()) {
      const auto cases = suite_cases(suite, quick);
      EXPECT_FALSE(cases.empty()) << suite;
      for (const Case& c : cases) {
        EXPECT_EQ(c.suite, suite);
        EXPECT_NO_THROW(c.spec.problem(c.x, c.w)) << c.name;
        ++total;
      }
    }
    EXPECT_EQ(total, quick ? 14u : 15u);
  }
  EXPECT_TRUE(suite_cases("nope", false).empty());
}

TEST(BenchCases, SameCasesKeepTheirOutputSizeAndQuickIsSmaller) {
  for (const std::string& suite : suite_names()) {
    double full = 0, quick = 0;
    for (const Case& c : suite_cases(suite, false)) full += c.spec.problem(c.x, c.w).flops();
    for (const Case& c : suite_cases(suite, true)) quick += c.spec.problem(c.x, c.w).flops();
    EXPECT_LT(quick, full / 4) << suite;
  }
  for (const Case& c : suite_cases("image2d", false)) {
    const ConvProblem p = c.spec.problem(c.x, c.w);
    EXPECT_EQ(p.out[1], 2160);
    EXPECT_EQ(p.out[2], 3840);
  }
  // The stem: 224 -> 112 with stride 2, pad 3.
  const auto cnn = suite_cases("cnn", false);
  const auto stem = std::find_if(cnn.begin(), cnn.end(), [](const Case& c) { return c.name.find("stem") != std::string::npos; });
  ASSERT_NE(stem, cnn.end());
  EXPECT_EQ(stem->spec.problem(stem->x, stem->w).out[2], 112);
}

}  // namespace
}  // namespace convkit::bench
