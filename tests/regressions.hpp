// Every shape that exposed a bug, or that a fix had to get right, kept for
// good with a one-line note each. "Run" entries are small enough to run on
// every path and compare with the reference: the CPU tests of each path
// (test_direct.cpp, test_im2col.cpp, test_toeplitz.cpp) and the GPU test
// (test_regressions_gpu.cpp) sweep them. "Query" entries are too large to
// run through the reference (or are refused by design): for them
// output_shape, supports, workspace_bytes and toeplitz::info must answer --
// a value or a convkit::Error -- quickly and without crashing
// (test_regressions.cpp). Header-only because the test targets compile
// test_*.cpp and the harness, nothing else.
#pragma once

#include "harness.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace convkit::test {

enum class RegressionUse {
  Run,    ///< run on every path, compared with the reference
  Query,  ///< only the queries must answer
};

struct Regression {
  ConvCase c;
  RegressionUse use;
  std::string note;
};

inline std::vector<Regression> regressions() {
  using B = Boundary;
  using M = Mode;
  constexpr RegressionUse Run = RegressionUse::Run, Query = RegressionUse::Query;
  std::vector<Regression> r;
  auto add = [&](RegressionUse u, std::string name, ConvSpec spec, Shape x, Shape w, std::string note) {
    r.push_back({{std::move(name), std::move(spec), x, w}, u, std::move(note)});
  };

  // The reliability issue's shapes. Too large for the CPU reference: queries.
  add(Query, "issue_conv_full_8192_by_8192", ConvSpec::conv1d().padding(Padding::full()).mode(M::Convolution),
      {1, 1, 8192}, {1, 1, 8192}, "toeplitz::info enumerates the rows: supports(Auto) took 13-31 s");
  add(Query, "issue_same_2e20_k8193", ConvSpec::conv1d().padding(Padding::same()), {1, 1, 1 << 20}, {1, 1, 8193},
      "a long signal with a kernel wider than any tile; supports(Auto) took 7 s");
  add(Query, "issue_two_65536_signals_full", ConvSpec::conv1d().padding(Padding::full()).mode(M::Convolution),
      {1, 1, 65536}, {1, 1, 65536}, "supports(Auto) did not finish in minutes (toeplitz::info enumerates the rows)");
  add(Query, "issue_pad_2e62_on_one_sample", ConvSpec::conv1d().padding(Padding::per_dim({{std::int64_t(1) << 62, 0}})),
      {1, 1, 1}, {1, 1, 1}, "an output of 2^62 + 1 samples: sizes must not wrap, queries must not loop over it");
  add(Query, "issue_pad_2e62_on_one_sample_k3",
      ConvSpec::conv1d().padding(Padding::per_dim({{std::int64_t(1) << 62, 0}})), {1, 1, 1}, {1, 1, 3},
      "as above with an im2col column matrix of 3 * 2^62 rows x columns (wraps 64 bits in bytes)");
  // Runnable analogs of the shapes, small enough for every path.
  add(Run, "issue_small_conv_full_k_eq_D", ConvSpec::conv1d().padding(Padding::full()).mode(M::Convolution),
      {1, 1, 64}, {1, 1, 64}, "the 8192-by-8192 full convolution scaled down: kernel as long as the signal");
  add(Run, "issue_small_same_odd_k", ConvSpec::conv1d().padding(Padding::same()), {1, 1, 1031}, {1, 1, 33},
      "the 2^20 / 8193-tap 'same' case scaled down");
  add(Run, "issue_small_pad_huge_lo_on_one_sample", ConvSpec::conv1d().padding(Padding::per_dim({{40, 0}})),
      {1, 1, 1}, {1, 1, 3}, "the 2^62-padding case scaled down: all outputs but the last read padding only");

  // From the history.
  add(Query, "spec_rank4_unvalidated", ConvSpec(4).stride({1, 2, 3}).dilation({2, 1, 1}), {1, 1, 4, 4, 4},
      {1, 1, 2, 2, 2}, "ConvSpec ==/hash read past 3 slots for a 4-D spec (bc1a8ac); validation must refuse it");
  add(Query, "toeplitz_long_2e24_k31_same", ConvSpec::conv1d().padding(Padding::same()), {1, 1, 1 << 24},
      {1, 1, 31}, "per-output axis tables refused this matrix under a 16 GiB budget (ccc4742)");
  add(Query, "toeplitz_long_2e26_k7_same_circular", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Circular),
      {1, 1, 1 << 26}, {1, 1, 7}, "as above, 2^26 samples (ccc4742)");
  add(Query, "auto_resnet_7x7_512", ConvSpec::conv2d().padding(1), {8, 512, 7, 7}, {512, 512, 3, 3},
      "the cost model ranked the batched Toeplitz SpMM ahead of direct here (27959e4)");
  add(Run, "toeplitz_circular_k_gt_D", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Circular), {1, 1, 5},
      {1, 1, 7}, "an axis with no interior output, every row from the border tables (ccc4742)");
  add(Run, "toeplitz_circular_k_gt_D_2d", ConvSpec::conv2d().padding(Padding::same()).boundary(B::Circular),
      {1, 2, 4, 20}, {2, 2, 9, 5}, "no interior output along one axis of two (ccc4742)");
  add(Run, "toeplitz_reflect_k_gt_D", ConvSpec::conv1d().padding(5).boundary(B::Reflect).mode(M::Convolution),
      {1, 1, 6}, {1, 1, 9}, "reflected taps folding twice onto one input (ccc4742)");
  add(Run, "toeplitz_replicate_pad_gt_D", ConvSpec::conv1d().padding(Padding::per_dim({{6, 5}})).boundary(B::Replicate),
      {1, 1, 3}, {1, 1, 4}, "padding wider than the input, every tap clamped (ccc4742)");
  add(Run, "toeplitz_zeros_full_k_gt_D", ConvSpec::conv1d().padding(Padding::full()), {1, 1, 3}, {1, 1, 8},
      "kernel wider than the input under full padding (ccc4742)");
  add(Run, "toeplitz_zeros_stride_gt_k_empty_rows", ConvSpec::conv1d().stride(7).padding(Padding::per_dim({{10, 9}})),
      {1, 1, 20}, {1, 1, 3}, "rows with no nonzero: outputs reading padding only (ccc4742)");
  add(Run, "toeplitz_reflect_stride_gt_k_2d",
      ConvSpec::conv2d().stride({4, 5}).dilation({3, 4}).padding(Padding::per_dim({{2, 3}, {4, 1}})).boundary(B::Reflect),
      {1, 1, 9, 11}, {1, 1, 3, 2}, "stride and dilation past the kernel on both axes (ccc4742)");
  add(Run, "plan_overlap_bias_1d", ConvSpec::conv1d().bias(true), {1, 1, 8}, {1, 1, 3},
      "a plan's output laid over its bound weights and bias was not refused (06283a2)");
  add(Run, "toeplitz_spmm_narrow_batch", ConvSpec::conv2d().padding(1).bias(true), {3, 2, 9, 7}, {4, 2, 3, 3},
      "row-major SpMM transposes with a narrow side N < 32 (84ab299)");
  add(Run, "circular_pad_eq_D", ConvSpec::conv2d().padding(5).boundary(B::Circular), {1, 1, 5, 5}, {1, 1, 3, 3},
      "Circular padding equal to the input: the limit PyTorch allows");
  return r;
}

/// The entries of one use, as problem-table rows for the existing check helpers.
inline std::vector<ConvCase> regression_cases(RegressionUse use) {
  std::vector<ConvCase> out;
  for (Regression& e : regressions())
    if (e.use == use) out.push_back(std::move(e.c));
  return out;
}

}  // namespace convkit::test
