// CPU tests of convkit-bench's pure helpers (bench/bench_math.hpp), its
// target summary (bench/targets.hpp) and its problem table (bench/cases.hpp):
// statistics, roofline ceilings, sampled index choice, tolerances, cuDNN's
// symmetric-padding view, the target bound formulas and verdicts, and that
// every benchmark case is a valid problem with the right direct targets.
#include "bench_math.hpp"
#include "cases.hpp"
#include "targets.hpp"

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
  EXPECT_NEAR(tolerance_factor(DType::F32, 100), 1.01e-5, 1e-12);
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

TEST(BenchMath, RatioKeepsMissingValuesMissing) {
  EXPECT_DOUBLE_EQ(ratio(3, 2), 1.5);
  EXPECT_TRUE(std::isnan(ratio(1, 0)));
  EXPECT_TRUE(std::isnan(ratio(NAN, 2)));
  EXPECT_TRUE(std::isnan(ratio(1, NAN)));
}

TEST(BenchMath, Im2colBound) {
  // GEMM 1 ms; columns 1.5 GB + x 0.1 GB at 80% of 2 TB/s = 1 ms; 1.2 x 2 ms.
  EXPECT_NEAR(im2col_bound_seconds(1e-3, 1.5e9, 0.1e9, 2e12), 2.4e-3, 1e-15);
  EXPECT_DOUBLE_EQ(im2col_bound_seconds(1e-3, 0, 0, 2e12), 1.2e-3);
  EXPECT_TRUE(std::isnan(im2col_bound_seconds(1e-3, 1, 1, 0)));
  EXPECT_TRUE(std::isnan(im2col_bound_seconds(NAN, 1, 1, 1e12)));
}

TEST(BenchMath, ToeplitzBytePenaltyUsesTheRealMatrix) {
  // 1-D, 2^10 samples, k = 7, 'same': the matrix from toeplitz::info, x and
  // y read / written once, against x + w + y.
  const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same());
  const Shape x{1, 1, 1024}, w{1, 1, 7};
  const toeplitz::Info in = toeplitz::info(spec, x, w, DType::F32);
  const ConvProblem p = spec.problem(x, w);
  EXPECT_EQ(in.nnz, 7 * 1024 - 2 * (1 + 2 + 3));  // three taps fall off each end
  EXPECT_EQ(in.matrix_bytes, in.value_bytes + in.col_bytes + in.row_ptr_bytes);
  const double xb = 1024 * 4, yb = 1024 * 4;
  EXPECT_DOUBLE_EQ(p.min_bytes(DType::F32), xb + yb + 7 * 4);
  const double penalty = toeplitz_byte_penalty(double(in.matrix_bytes), xb, yb, p.min_bytes(DType::F32));
  EXPECT_DOUBLE_EQ(penalty, (double(in.matrix_bytes) + xb + yb) / (xb + yb + 28));
  EXPECT_GT(penalty, 4);  // 8 bytes per stored tap vs 8 bytes per output: about 1 + 7/2
  EXPECT_TRUE(std::isnan(toeplitz_byte_penalty(1, 1, 1, 0)));
}

// The SpMM case: 2^20 samples, k = 31, 64 signals. Its matrix is
// smaller than x and y together, so 75% of the copy bandwidth on the matrix
// bytes alone is out of reach (the ceiling is about a third).
TEST(BenchMath, ToeplitzMatrixCeilingCountsTheDenseOperands) {
  EXPECT_DOUBLE_EQ(toeplitz_matrix_copy_ceiling_pct(2, 1, 1), 50.0);
  EXPECT_TRUE(std::isnan(toeplitz_matrix_copy_ceiling_pct(0, 0, 0)));
  const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same());
  const Shape x{64, 1, std::int64_t(1) << 20}, w{1, 1, 31};
  const toeplitz::Info in = toeplitz::info(spec, x, w, DType::F32);
  const double xb = 64.0 * (1 << 20) * 4, yb = xb;
  const double ceiling = toeplitz_matrix_copy_ceiling_pct(double(in.matrix_bytes), xb, yb);
  EXPECT_GT(ceiling, 30.0);
  EXPECT_LT(ceiling, 100.0 * target::kToeplitzCopyFraction);
}

// A row as run_case leaves it, for the summary tests.
Row row(const std::string& algorithm, const std::string& name, double ms) {
  Row r;
  r.suite = "s";
  r.case_name = name;
  r.algorithm = algorithm;
  r.chosen = algorithm;
  r.status = "ok";
  r.ms_median = ms;
  return r;
}

const TargetResult* find_target(const std::vector<TargetResult>& ts, const std::string& target,
                                const std::string& scope) {
  for (const TargetResult& t : ts)
    if (t.target.find(target) == 0 && t.scope == scope) return &t;
  return nullptr;
}

TEST(BenchTargets, DirectCasesAgainstCeilingsAndCudnn) {
  std::vector<Row> rows;
  Row mem = row("direct", "mem", 1);
  mem.direct_target = "memory";
  mem.gbs = 1700;         // of 2000 GB/s copy: 85%
  mem.cudnn_ratio = 0.4;  // 2.5x faster
  Row comp = row("direct", "comp", 1);
  comp.direct_target = "compute";
  comp.gflops = 30000;    // of 60000: 50%
  Row gone = row("direct", "gone", NAN);
  gone.direct_target = "memory";
  gone.status = "skipped";
  Row plain = row("direct", "plain", 1);  // no target: not listed
  rows = {mem, comp, gone, plain};
  const auto ts = evaluate_targets(rows, 2000, 60000);
  ASSERT_EQ(ts.size(), 6u);
  const TargetResult* t = find_target(ts, "direct, memory-bound", "s mem");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->measured, "85.0%");
  EXPECT_EQ(t->goal, ">= 80%");
  EXPECT_EQ(t->status, "met");
  EXPECT_EQ(find_target(ts, "direct: speed-up", "s mem")->status, "met");
  EXPECT_EQ(find_target(ts, "direct, compute-bound", "s comp")->status, "not met");
  // No cuDNN time: not measured, never "met".
  EXPECT_EQ(find_target(ts, "direct: speed-up", "s comp")->status, "not measured");
  EXPECT_EQ(find_target(ts, "direct, memory-bound", "s gone")->status, "not measured");
  EXPECT_EQ(find_target(ts, "direct, memory-bound", "s gone")->measured, "- (skipped)");
}

TEST(BenchTargets, Im2colToeplitzAndAuto) {
  Row lowered = row("im2col", "lowered", 2.0);
  lowered.split_timed = true;
  lowered.bound_ms = 2.5;
  Row over = row("im2col", "over", 3.0);
  over.split_timed = true;
  over.bound_ms = 2.5;
  Row chunked = row("im2col", "chunked", 3.0);
  chunked.split_note = "the column matrix exceeds the workspace";
  Row one = row("im2col", "1x1", 1.04);
  one.plain_gemm = true;
  one.split_timed = true;
  one.gemm_ratio = 1.04;
  Row tz = row("toeplitz", "tz", 1.0);
  tz.matrix_copy_pct = 80;
  tz.set_weights_ratio = 1.5;
  Row tz_skipped = row("toeplitz", "big", NAN);
  tz_skipped.status = "skipped";
  Row tuned = row("auto-tuned", "tz", 1.0);
  tuned.chosen = "direct";
  tuned.best_algorithm = "direct";
  tuned.best_ratio = 1.06;
  Row model = row("auto", "tz", 1.0);
  model.chosen = "im2col";
  model.best_algorithm = "direct";
  model.best_ratio = 1.2;
  const auto ts = evaluate_targets({lowered, over, chunked, one, tz, tz_skipped, tuned, model}, 2000, 60000);
  ASSERT_EQ(ts.size(), 8u);  // the skipped Toeplitz row carries no target
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s lowered")->status, "met");
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s lowered")->measured, "0.80x (2 ms / 2.5 ms)");
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s over")->status, "not met");
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s chunked")->status, "not measured");
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s chunked")->measured, "- (split not timed)");
  EXPECT_EQ(find_target(ts, "im2col 1x1", "s 1x1")->status, "met");
  EXPECT_EQ(find_target(ts, "toeplitz: % of copy", "s tz")->status, "met");
  EXPECT_EQ(find_target(ts, "toeplitz: set_weights", "s tz")->status, "not met");
  EXPECT_EQ(find_target(ts, "auto-tuned", "s tz")->status, "not met");  // 1.06 > 1.05
  EXPECT_EQ(find_target(ts, "auto (cost model)", "s tz")->status, "met");  // 1.2 <= 1.3
  EXPECT_EQ(find_target(ts, "auto (cost model)", "s tz")->measured, "1.20x (im2col; best direct)");

  const std::string md = targets_markdown(ts);
  EXPECT_EQ(md.rfind("| Target | Case | Measured | Goal | Status |\n|---|---|---|---|---|\n", 0), 0u);
  EXPECT_NE(md.find("| im2col 1x1: total / GEMM alone | s 1x1 | 1.040x | <= 1.05x | met |\n"), std::string::npos);
  EXPECT_NE(md.find("4 of 7 measured targets met, 1 not measured.\n"), std::string::npos);
}

TEST(BenchTargets, MarkdownEscapesPipes) {
  TargetResult t{"a|b", "c", "d", "e", "met"};
  EXPECT_NE(targets_markdown({t}).find("| a\\|b | c |"), std::string::npos);
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

TEST(BenchCases, DirectTargetCases) {
  // Memory-bound: 1-D 2^26 k=7, 4K k=3 and k=7; compute-bound: 1-D 2^26
  // k=127, 4K k=15 and k=31.
  std::set<std::string> memory, compute;
  for (const std::string& suite : suite_names())
    for (const Case& c : suite_cases(suite, false)) {
      if (c.direct_target == DirectTarget::MemoryBound) memory.insert(c.name);
      if (c.direct_target == DirectTarget::ComputeBound) compute.insert(c.name);
    }
  EXPECT_EQ(memory, (std::set<std::string>{"L=2^26 k=7", "3840x2160 k=3", "3840x2160 k=7"}));
  EXPECT_EQ(compute, (std::set<std::string>{"L=2^26 k=127", "3840x2160 k=15", "3840x2160 k=31"}));
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
