// The end-of-run summary of convkit-bench: every performance target the
// bench knows (the constants in bench_math.hpp's `target` namespace),
// evaluated on the run's rows, and a markdown table of them that pastes into
// docs/PERF.md as is. Pure -- rows in, text out -- so the CPU tests check
// which rows count for which target and how each verdict is reached.
#pragma once

#include "bench_math.hpp"
#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace convkit::bench {

namespace detail_targets {

inline std::string format(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// A verdict on one row: "not measured" when the row did not run cleanly or
// the value is missing (say, no cuDNN), so a gap never reads as "met".
inline TargetResult verdict(const std::string& target, const Row& r, double value, const std::string& measured,
                            const std::string& goal, bool met) {
  TargetResult t{target, r.suite + " " + r.case_name, measured, goal, met ? "met" : "not met"};
  if (r.status != "ok") {
    t.measured = "- (" + r.status + ")";
    t.status = "not measured";
  } else if (!std::isfinite(value)) {
    t.measured = "-";
    t.status = "not measured";
  }
  return t;
}

// Markdown table cells cannot hold a bare '|'.
inline std::string cell(const std::string& s) {
  std::string r;
  for (char c : s) r += c == '|' ? std::string("\\|") : std::string(1, c);
  return r;
}

}  // namespace detail_targets

/// Every target, in a fixed order: the direct path's target cases (bandwidth
/// or peak fraction, and speed-up over cuDNN), im2col (total within its bound;
/// the 1x1 variant within 5% of the GEMM alone), sparse Toeplitz (matrix
/// bandwidth, set_weights against one product), Fft (time over its
/// transforms-only floor; on its target cases speed-up over Direct and over
/// the fastest cuDNN row), and Auto (time over the best algorithm, tuned and
/// by the cost model; and whether it picked Fft exactly where Fft measured
/// faster than the fastest other algorithm). Direct and Fft target cases are
/// listed even when their row did not run; the other targets only for rows
/// that ran the algorithm. `copy_gbs` is the measured copy bandwidth, `peak_gflops`
/// the FMA peak of the run's dtype.
inline std::vector<TargetResult> evaluate_targets(const std::vector<Row>& rows, double copy_gbs,
                                                  double peak_gflops) {
  using detail_targets::format;
  using detail_targets::verdict;
  std::vector<TargetResult> out;
  for (const Row& r : rows) {
    if (r.algorithm != "direct" || r.direct_target.empty()) continue;
    if (r.direct_target == "memory") {
      const double pct = 100.0 * ratio(r.gbs, copy_gbs);
      const double goal = 100.0 * target::kMemoryBoundCopyFraction;
      out.push_back(verdict("direct, memory-bound: % of copy bandwidth", r, pct, format("%.1f%%", pct),
                            format(">= %.0f%%", goal), pct >= goal));
    } else {
      const double pct = 100.0 * ratio(r.gflops, peak_gflops);
      const double goal = 100.0 * target::kComputeBoundPeakFraction;
      out.push_back(verdict("direct, compute-bound: % of FMA peak", r, pct, format("%.1f%%", pct),
                            format(">= %.0f%%", goal), pct >= goal));
    }
    const double speedup = ratio(1.0, r.cudnn_ratio);
    out.push_back(verdict("direct: speed-up over cuDNN", r, speedup, format("%.2fx", speedup),
                          format(">= %.0fx", target::kDirectSpeedupOverCudnn),
                          speedup >= target::kDirectSpeedupOverCudnn));
  }
  for (const Row& r : rows) {
    if (r.algorithm != "im2col" || r.status == "skipped") continue;
    if (r.plain_gemm) {
      out.push_back(verdict("im2col 1x1: total / GEMM alone", r, r.gemm_ratio, format("%.3fx", r.gemm_ratio),
                            format("<= %.2fx", target::kPlainGemmOverhead),
                            r.gemm_ratio <= target::kPlainGemmOverhead));
    } else {
      const double of_bound = ratio(r.ms_median, r.bound_ms);
      TargetResult t = verdict("im2col: total / bound", r, of_bound,
                               format("%.2fx", of_bound) + format(" (%.3g ms", r.ms_median) +
                                   format(" / %.3g ms)", r.bound_ms),
                               "<= 1x", of_bound <= 1.0);
      if (t.status == "not measured" && !r.split_note.empty()) t.measured = "- (split not timed)";
      out.push_back(t);
    }
  }
  for (const Row& r : rows) {
    if (r.algorithm != "toeplitz" || r.status == "skipped") continue;
    const double goal = 100.0 * target::kToeplitzCopyFraction;
    out.push_back(verdict("toeplitz: % of copy bandwidth on matrix bytes", r, r.matrix_copy_pct,
                          format("%.1f%%", r.matrix_copy_pct) + format(" (ceiling %.1f%%", r.matrix_ceiling_pct) +
                              format("; all bytes %.1f%%)", r.all_copy_pct),
                          format(">= %.0f%%", goal),
                          r.matrix_copy_pct >= goal));
    out.push_back(verdict("toeplitz: set_weights / one product", r, r.set_weights_ratio,
                          format("%.2fx", r.set_weights_ratio), format("<= %.0fx", target::kSetWeightsPerProduct),
                          r.set_weights_ratio <= target::kSetWeightsPerProduct));
  }
  for (const Row& r : rows) {
    if (r.algorithm != "fft") continue;
    if (r.status != "skipped")
      out.push_back(verdict("fft: time / transforms-only floor", r, r.floor_ratio,
                            format("%.2fx", r.floor_ratio) + format(" (%.3g ms", r.ms_median) +
                                format(" / %.3g ms)", r.floor_ms),
                            format("<= %.0fx", target::kFftOverFloor), r.floor_ratio <= target::kFftOverFloor));
    if (r.fft_over_direct)
      out.push_back(verdict("fft: speed-up over direct", r, r.direct_speedup, format("%.2fx", r.direct_speedup),
                            format(">= %.0fx", target::kFftSpeedupOverDirect),
                            r.direct_speedup >= target::kFftSpeedupOverDirect));
    if (r.fft_large_kernel)
      out.push_back(verdict("fft: speed-up over cuDNN's best", r, r.cudnn_best_speedup,
                            format("%.2fx", r.cudnn_best_speedup) + " (" +
                                (r.cudnn_best_algorithm.empty() ? std::string("-") : r.cudnn_best_algorithm) + ")",
                            format(">= %.0fx", target::kFftSpeedupOverCudnn),
                            r.cudnn_best_speedup >= target::kFftSpeedupOverCudnn));
  }
  for (const char* which : {"auto-tuned", "auto"}) {
    const bool tuned = std::string(which) == "auto-tuned";
    const double goal = tuned ? target::kTunedOverBest : target::kCostModelOverBest;
    for (const Row& r : rows) {
      if (r.algorithm != which || r.status == "skipped") continue;
      out.push_back(verdict(tuned ? "auto-tuned: time / best algorithm" : "auto (cost model): time / best algorithm",
                            r, r.best_ratio,
                            format("%.2fx", r.best_ratio) + " (" + r.chosen + "; best " + r.best_algorithm + ")",
                            format("<= %.2fx", goal), r.best_ratio <= goal));
    }
  }
  // Auto and Fft: only where both Fft and another algorithm ran for the case.
  for (const char* which : {"auto-tuned", "auto"}) {
    for (const Row& r : rows) {
      if (r.algorithm != which || r.status == "skipped") continue;
      if (!std::isfinite(r.fft_ms) || !std::isfinite(r.other_best_ms)) continue;
      const bool chose_fft = r.chosen == "fft";
      const double fft_over_other = ratio(r.fft_ms, r.other_best_ms);
      out.push_back(verdict(std::string(which) + ": picks fft exactly where faster", r, fft_over_other,
                            std::string("chose ") + r.chosen + format("; fft %.3g ms", r.fft_ms) + " vs " +
                                r.other_best_algorithm + format(" %.3g ms", r.other_best_ms),
                            format("fft iff faster (tie within %.2fx)", target::kAutoFftTie),
                            auto_fft_choice_right(chose_fft, r.fft_ms, r.other_best_ms)));
    }
  }
  return out;
}

/// The targets as a markdown table (Target | Case | Measured | Goal | Status)
/// followed by a one-line count.
inline std::string targets_markdown(const std::vector<TargetResult>& targets) {
  using detail_targets::cell;
  std::string s = "| Target | Case | Measured | Goal | Status |\n|---|---|---|---|---|\n";
  int met = 0, measured = 0;
  for (const TargetResult& t : targets) {
    s += "| " + cell(t.target) + " | " + cell(t.scope) + " | " + cell(t.measured) + " | " + cell(t.goal) + " | " +
         cell(t.status) + " |\n";
    if (t.status != "not measured") ++measured;
    if (t.status == "met") ++met;
  }
  s += "\n" + std::to_string(met) + " of " + std::to_string(measured) + " measured targets met";
  if (measured < static_cast<int>(targets.size()))
    s += ", " + std::to_string(targets.size() - measured) + " not measured";
  return s + ".\n";
}

}  // namespace convkit::bench
