// Table lines, their '^' detail lines and the JSON document of convkit-bench
// (see report.hpp).
#include "report.hpp"

#include "bench_math.hpp"

#include <fstream>
#include <sstream>

namespace convkit::bench {
namespace {

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Three significant digits whatever the magnitude: times range from
// microseconds to seconds across the suites.
std::string sig3(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  if (v >= 1000)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v >= 100)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (v >= 10)
    std::snprintf(buf, sizeof buf, "%.2f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string gb(double bytes) { return fixed(bytes / 1e9, 3) + " GB"; }

// A target's verdict; "n/a" when the value it rests on is missing.
const char* met(bool ok, double value) { return !std::isfinite(value) ? "n/a" : ok ? "met" : "not met"; }

const char* kRowFormat = "%-12s %-34s %-22s %9s %9s %9s %8s %6s %-5s %8s\n";

}  // namespace

void print_table_header(std::FILE* out) {
  std::fprintf(out, kRowFormat, "suite", "case", "algorithm", "median", "min", "GFLOP/s", "GB/s", "roof%", "check",
               "vs cuDNN");
  std::fprintf(out, kRowFormat, "", "", "", "ms", "ms", "", "", "", "", "time");
  std::fflush(out);
}

void print_row(std::FILE* out, const Row& r, bool cudnn_requested) {
  std::string algo = r.algorithm;
  if (r.direction != "fwd") algo = (r.direction == "bwd-data" ? "dX:" : "dW:") + algo;
  if ((r.algorithm == "auto" || r.algorithm == "auto-tuned") && !r.chosen.empty()) algo += "->" + r.chosen;
  if (!r.variant.empty()) algo += " " + r.variant;
  algo = clip(algo, 22);
  const std::string name = clip(r.case_name, 34);
  // A row that never ran: its reason, clipped to one line (the JSON keeps it whole).
  if (r.status == "skipped" || (r.status == "error" && !std::isfinite(r.ms_median))) {
    std::fprintf(out, "%-12s %-34s %-22s %s (%s)\n", r.suite.c_str(), name.c_str(), algo.c_str(),
                 r.status.c_str(), clip(r.reason, 110).c_str());
    std::fflush(out);
    return;
  }
  std::string ratio = cudnn_requested ? "n/a" : "-";
  if (r.algorithm == "cudnn") ratio = "1.00x";
  else if (std::isfinite(r.cudnn_ratio)) ratio = fixed(r.cudnn_ratio, 2) + "x";
  // "exact": every sampled value equal to the reference; "OK": within the
  // per-element tolerance; "norm": within the normwise FFT bound; "-": not
  // checked (the transforms-only floor computes no convolution).
  const std::string check = r.status != "ok" ? r.status
                            : r.timing_only  ? "-"
                            : r.exact        ? "exact"
                            : r.normwise_check ? "norm"
                                               : "OK";
  std::fprintf(out, kRowFormat, r.suite.c_str(), name.c_str(), algo.c_str(), sig3(r.ms_median).c_str(),
               sig3(r.ms_min).c_str(), sig3(r.gflops).c_str(), sig3(r.gbs).c_str(), fixed(r.roofline_pct, 1).c_str(),
               check.c_str(), ratio.c_str());
  if (r.status != "ok")
    std::fprintf(out, "         ^ %s: %s\n", r.status.c_str(), r.reason.c_str());
  // The sparse Toeplitz path moves its matrix on every product and refills it
  // when the weights change: both costs, and what the matrix costs in bytes
  // against the direct path's minimum.
  if (r.chosen == "toeplitz" && std::isfinite(r.matrix_bytes))
    std::fprintf(out,
                 "         ^ matrix %s (+ map %s) read at %s GB/s = %s%% of copy (target >= %.0f%%: %s; "
                 "ceiling with x and y %s%%; matrix+x+y at %s%% of copy); "
                 "set_weights %s ms = %sx product (target <= %.0fx: %s); (matrix+x+y)/min bytes %sx; plan %s ms\n",
                 gb(r.matrix_bytes).c_str(), gb(r.map_bytes).c_str(), sig3(r.matrix_gbs).c_str(),
                 fixed(r.matrix_copy_pct, 1).c_str(), 100 * target::kToeplitzCopyFraction,
                 met(r.matrix_copy_pct >= 100 * target::kToeplitzCopyFraction, r.matrix_copy_pct),
                 fixed(r.matrix_ceiling_pct, 1).c_str(), fixed(r.all_copy_pct, 1).c_str(),
                 sig3(r.set_weights_ms).c_str(), fixed(r.set_weights_ratio, 2).c_str(),
                 target::kSetWeightsPerProduct,
                 met(r.set_weights_ratio <= target::kSetWeightsPerProduct, r.set_weights_ratio),
                 sig3(r.byte_penalty).c_str(), sig3(r.plan_ms).c_str());
  // Im2colGemm's two halves timed apart, against the bound the design sets.
  if (r.algorithm == "im2col") {
    if (r.split_timed && r.plain_gemm)
      std::fprintf(out, "         ^ GEMM alone %s ms; total / GEMM = %sx (target <= %.2fx: %s)\n",
                   sig3(r.gemm_ms).c_str(), fixed(r.gemm_ratio, 3).c_str(), target::kPlainGemmOverhead,
                   met(r.gemm_ratio <= target::kPlainGemmOverhead, r.gemm_ratio));
    else if (r.split_timed)
      std::fprintf(out,
                   "         ^ im2col %s ms, GEMM %s ms; bound %.1f x (GEMM + columns %s + x %s at %.0f%% of "
                   "copy) = %s ms; total %s ms <= bound: %s\n",
                   sig3(r.im2col_ms).c_str(), sig3(r.gemm_ms).c_str(), target::kIm2colSlack,
                   gb(r.column_bytes).c_str(), gb(r.x_bytes).c_str(), 100 * target::kIm2colLoweringCopyFraction,
                   sig3(r.bound_ms).c_str(), sig3(r.ms_median).c_str(),
                   met(r.ms_median <= r.bound_ms, r.bound_ms));
    else if (!r.split_note.empty())
      std::fprintf(out, "         ^ im2col / GEMM split not timed: %s\n", r.split_note.c_str());
  }
  // The Fft floor: what it transformed (the table's variant cell is clipped).
  if (r.timing_only) std::fprintf(out, "         ^ R2C + C2R only (not checked): %s\n", r.variant.c_str());
  // Fft: against its transforms-only floor, and on its target cases against
  // Direct and the fastest cuDNN row.
  if (r.algorithm == "fft") {
    std::string line = "         ^ fft / transforms-only floor = " + fixed(r.floor_ratio, 2) + "x (floor " +
                       sig3(r.floor_ms) + " ms; target <= " + fixed(target::kFftOverFloor, 0) +
                       "x: " + met(r.floor_ratio <= target::kFftOverFloor, r.floor_ratio) + ")";
    if (r.fft_over_direct || std::isfinite(r.direct_speedup))
      line += "; direct " + sig3(r.direct_ms) + " ms = " + fixed(r.direct_speedup, 2) + "x" +
              (r.fft_over_direct ? std::string(" (target >= ") + fixed(target::kFftSpeedupOverDirect, 0) + "x: " +
                                       met(r.direct_speedup >= target::kFftSpeedupOverDirect, r.direct_speedup) + ")"
                                 : std::string());
    if (r.fft_large_kernel || std::isfinite(r.cudnn_best_speedup))
      line += "; fastest cuDNN " + (r.cudnn_best_algorithm.empty() ? std::string("-") : r.cudnn_best_algorithm) +
              " " + sig3(r.cudnn_best_ms) + " ms = " + fixed(r.cudnn_best_speedup, 2) + "x" +
              (r.fft_large_kernel ? std::string(" (target >= ") + fixed(target::kFftSpeedupOverCudnn, 0) + "x: " +
                                        met(r.cudnn_best_speedup >= target::kFftSpeedupOverCudnn, r.cudnn_best_speedup) +
                                        ")"
                                  : std::string());
    std::fprintf(out, "%s; plan %s ms\n", line.c_str(), sig3(r.plan_ms).c_str());
  }
  // Auto: what it chose and how far that is from the best algorithm measured
  // for the case (tuning time shows in the plan time).
  if (r.algorithm == "auto" || r.algorithm == "auto-tuned") {
    const bool tuned = r.algorithm == "auto-tuned";
    const double goal = tuned ? target::kTunedOverBest : target::kCostModelOverBest;
    const std::string best =
        r.best_algorithm.empty() ? std::string("no other convkit row measured")
                                 : "best " + r.best_algorithm + " " + sig3(r.best_ms) + " ms";
    std::fprintf(out, "         ^ chose %s (%s); time / best = %sx (%s; target <= %.2fx: %s); plan %s%s ms\n",
                 r.chosen.c_str(), tuned ? "tuned" : "cost model", fixed(r.best_ratio, 2).c_str(), best.c_str(),
                 goal, met(r.best_ratio <= goal, r.best_ratio), tuned ? "with tuning " : "",
                 sig3(r.plan_ms).c_str());
    if (std::isfinite(r.fft_ms) && std::isfinite(r.other_best_ms)) {
      const bool right = auto_fft_choice_right(r.chosen == "fft", r.fft_ms, r.other_best_ms);
      std::fprintf(out, "         ^ fft %s ms vs best other (%s) %s ms: chose %s, %s\n", sig3(r.fft_ms).c_str(),
                   r.other_best_algorithm.c_str(), sig3(r.other_best_ms).c_str(), r.chosen.c_str(),
                   right ? "right (Fft exactly where faster)" : "wrong (Fft exactly where faster)");
    }
  }
  std::fflush(out);
}

bool write_json(const std::string& path, const RunInfo& in, const std::vector<Row>& rows,
                const std::vector<TargetResult>& targets) {
  std::ostringstream o;
  const auto str = [](const std::string& s) { return json_string(s); };
  const auto num = [](double v) { return json_number(v); };
  o << "{\n";
  o << "  \"program\": \"convkit-bench\",\n";
  o << "  \"convkit_version\": " << str(in.program_version) << ",\n";
  o << "  \"command\": " << str(in.command) << ",\n";
  o << "  \"date\": " << str(in.date) << ",\n";
  o << "  \"device\": {\"name\": " << str(in.device) << ", \"compute_capability\": " << str(in.compute_capability)
    << ", \"sms\": " << in.sms << ", \"clock_mhz\": " << num(in.clock_mhz) << ", \"l2_bytes\": " << num(in.l2_bytes)
    << ", \"memory_bytes\": " << num(in.memory_bytes) << "},\n";
  o << "  \"copy_bandwidth_gbs\": " << num(in.copy_gbs) << ",\n";
  o << "  \"copy_bandwidth_method\": {\"bytes_per_copy\": " << num(in.copy_bytes) << ", \"reps\": " << in.copy_reps
    << ", \"counts\": \"bytes read + written, device-to-device cudaMemcpyAsync, median\"},\n";
  o << "  \"fp32_peak_gflops\": " << num(in.fp32_peak_gflops) << ",\n";
  o << "  \"fp64_peak_gflops\": " << num(in.fp64_peak_gflops) << ",\n";
  o << "  \"peak_method\": {\"fp32_lanes_per_sm\": " << in.fp32_lanes << ", \"fp64_lanes_per_sm\": " << in.fp64_lanes
    << ", \"formula\": \"SMs x lanes x 2 x clock\"},\n";
  o << "  \"cudnn\": " << str(in.cudnn) << ",\n";
  o << "  \"dtype\": " << str(in.dtype) << ",\n";
  o << "  \"quick\": " << (in.quick ? "true" : "false") << ",\n";
  o << "  \"reps\": " << in.reps << ",\n";
  o << "  \"samples\": " << in.samples << ",\n";
  o << "  \"seed\": " << in.seed << ",\n";
  o << "  \"rows\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    o << (i ? ",\n" : "\n") << "    {";
    o << "\"suite\": " << str(r.suite) << ", \"case\": " << str(r.case_name) << ", \"spec\": " << str(r.spec);
    o << ", \"direction\": " << str(r.direction);
    o << ", \"shape\": {\"x\": " << str(r.x_shape) << ", \"w\": " << str(r.w_shape) << ", \"y\": " << str(r.y_shape)
      << "}";
    o << ", \"algorithm\": " << str(r.algorithm) << ", \"chosen\": " << str(r.chosen)
      << ", \"variant\": " << str(r.variant);
    o << ", \"status\": " << str(r.status) << ", \"reason\": " << str(r.reason);
    o << ", \"flops\": " << num(r.flops) << ", \"min_bytes\": " << num(r.min_bytes);
    o << ", \"reps\": " << r.reps << ", \"time_ms_median\": " << num(r.ms_median)
      << ", \"time_ms_min\": " << num(r.ms_min);
    o << ", \"gflops\": " << num(r.gflops) << ", \"gbs\": " << num(r.gbs)
      << ", \"roofline_pct\": " << num(r.roofline_pct);
    o << ", \"check\": {\"status\": "
      << str(r.status == "skipped" ? "skipped" : r.timing_only ? "not checked" : r.status == "ok" ? "pass" : "fail")
      << ", \"samples\": " << r.samples << ", \"mismatches\": " << r.mismatches
      << ", \"max_abs_err\": " << num(r.max_abs_err) << ", \"exact\": " << (r.exact ? "true" : "false")
      << ", \"tolerance\": "
      << str(r.timing_only ? "none" : r.normwise_check ? "normwise (fft_tolerance_factor)" : "per element") << "}";
    o << ", \"cudnn_ratio\": " << num(r.cudnn_ratio) << ", \"plan_ms\": " << num(r.plan_ms)
      << ", \"set_weights_ms\": " << num(r.set_weights_ms) << ", \"workspace_bytes\": " << num(r.workspace_bytes);
    o << ", \"x_bytes\": " << num(r.x_bytes) << ", \"y_bytes\": " << num(r.y_bytes);
    o << ", \"direct_target\": " << (r.direct_target.empty() ? std::string("null") : str(r.direct_target));
    o << ", \"toeplitz\": ";
    if (r.chosen == "toeplitz" && std::isfinite(r.matrix_bytes))
      o << "{\"nnz\": " << r.matrix_nnz << ", \"matrix_bytes\": " << num(r.matrix_bytes)
        << ", \"map_bytes\": " << num(r.map_bytes) << ", \"matrix_gbs\": " << num(r.matrix_gbs)
        << ", \"matrix_copy_pct\": " << num(r.matrix_copy_pct)
        << ", \"target_copy_pct\": " << num(100 * target::kToeplitzCopyFraction)
        << ", \"matrix_copy_ceiling_pct\": " << num(r.matrix_ceiling_pct)
        << ", \"all_bytes_copy_pct\": " << num(r.all_copy_pct)
        << ", \"set_weights_over_product\": " << num(r.set_weights_ratio)
        << ", \"target_set_weights_over_product\": " << num(target::kSetWeightsPerProduct)
        << ", \"byte_penalty_vs_min\": " << num(r.byte_penalty) << "}";
    else
      o << "null";
    o << ", \"im2col_split\": ";
    if (r.algorithm == "im2col" && (r.split_timed || !r.split_note.empty()))
      o << "{\"timed\": " << (r.split_timed ? "true" : "false") << ", \"note\": " << str(r.split_note)
        << ", \"plain_gemm\": " << (r.plain_gemm ? "true" : "false") << ", \"im2col_ms\": " << num(r.im2col_ms)
        << ", \"gemm_ms\": " << num(r.gemm_ms) << ", \"column_bytes\": " << num(r.column_bytes)
        << ", \"bound_ms\": " << num(r.bound_ms) << ", \"within_bound\": "
        << (std::isfinite(r.bound_ms) ? (r.ms_median <= r.bound_ms ? "true" : "false") : "null")
        << ", \"total_over_gemm\": " << num(r.gemm_ratio)
        << ", \"target_total_over_gemm\": " << num(target::kPlainGemmOverhead) << "}";
    else
      o << "null";
    o << ", \"auto\": ";
    if (r.algorithm == "auto" || r.algorithm == "auto-tuned")
      o << "{\"tuned\": " << (r.algorithm == "auto-tuned" ? "true" : "false")
        << ", \"best_algorithm\": " << str(r.best_algorithm) << ", \"best_ms\": " << num(r.best_ms)
        << ", \"time_over_best\": " << num(r.best_ratio) << ", \"target_time_over_best\": "
        << num(r.algorithm == "auto-tuned" ? target::kTunedOverBest : target::kCostModelOverBest)
        << ", \"fft_ms\": " << num(r.fft_ms) << ", \"other_best_algorithm\": " << str(r.other_best_algorithm)
        << ", \"other_best_ms\": " << num(r.other_best_ms) << "}";
    else
      o << "null";
    o << ", \"fft\": ";
    if (r.algorithm == "fft")
      o << "{\"floor_ms\": " << num(r.floor_ms) << ", \"time_over_floor\": " << num(r.floor_ratio)
        << ", \"target_time_over_floor\": " << num(target::kFftOverFloor) << ", \"direct_ms\": " << num(r.direct_ms)
        << ", \"speedup_over_direct\": " << num(r.direct_speedup)
        << ", \"target_speedup_over_direct\": " << (r.fft_over_direct ? num(target::kFftSpeedupOverDirect) : "null")
        << ", \"cudnn_best_algorithm\": " << str(r.cudnn_best_algorithm)
        << ", \"cudnn_best_ms\": " << num(r.cudnn_best_ms)
        << ", \"speedup_over_cudnn_best\": " << num(r.cudnn_best_speedup)
        << ", \"target_speedup_over_cudnn_best\": "
        << (r.fft_large_kernel ? num(target::kFftSpeedupOverCudnn) : "null") << "}";
    else
      o << "null";
    o << "}";
  }
  o << "\n  ],\n  \"targets\": [";
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const TargetResult& t = targets[i];
    o << (i ? ",\n" : "\n") << "    {\"target\": " << str(t.target) << ", \"case\": " << str(t.scope)
      << ", \"measured\": " << str(t.measured) << ", \"goal\": " << str(t.goal) << ", \"status\": " << str(t.status)
      << "}";
  }
  o << "\n  ]\n}\n";
  std::ofstream f(path, std::ios::trunc);
  if (!f || !(f << o.str()) || !f.flush()) {
    std::fprintf(stderr, "convkit-bench: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace convkit::bench
