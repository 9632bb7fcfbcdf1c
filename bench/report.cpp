// Table lines and the JSON document of convkit-bench (see report.hpp).
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

const char* kRowFormat = "%-8s %-34s %-22s %9s %9s %9s %8s %6s %-5s %8s\n";

}  // namespace

void print_table_header(std::FILE* out) {
  std::fprintf(out, kRowFormat, "suite", "case", "algorithm", "median", "min", "GFLOP/s", "GB/s", "roof%", "check",
               "vs cuDNN");
  std::fprintf(out, kRowFormat, "", "", "", "ms", "ms", "", "", "", "", "time");
  std::fflush(out);
}

void print_row(std::FILE* out, const Row& r, bool cudnn_requested) {
  std::string algo = r.algorithm;
  if (r.algorithm == "auto" && !r.chosen.empty()) algo += "->" + r.chosen;
  if (!r.variant.empty()) algo += " " + r.variant;
  algo = clip(algo, 22);
  const std::string name = clip(r.case_name, 34);
  // A row that never ran: its reason, clipped to one line (the JSON keeps it whole).
  if (r.status == "skipped" || (r.status == "error" && !std::isfinite(r.ms_median))) {
    std::fprintf(out, "%-8s %-34s %-22s %s (%s)\n", r.suite.c_str(), name.c_str(), algo.c_str(),
                 r.status.c_str(), clip(r.reason, 110).c_str());
    std::fflush(out);
    return;
  }
  std::string ratio = cudnn_requested ? "n/a" : "-";
  if (r.algorithm == "cudnn") ratio = "1.00x";
  else if (std::isfinite(r.cudnn_ratio)) ratio = fixed(r.cudnn_ratio, 2) + "x";
  const std::string check = r.status == "ok" ? (r.exact ? "exact" : "OK") : r.status;
  std::fprintf(out, kRowFormat, r.suite.c_str(), name.c_str(), algo.c_str(), sig3(r.ms_median).c_str(),
               sig3(r.ms_min).c_str(), sig3(r.gflops).c_str(), sig3(r.gbs).c_str(), fixed(r.roofline_pct, 1).c_str(),
               check.c_str(), ratio.c_str());
  if (r.status != "ok")
    std::fprintf(out, "         ^ %s: %s\n", r.status.c_str(), r.reason.c_str());
  // The sparse Toeplitz path has a second cost worth seeing: refreshing the
  // matrix values when the weights change.
  if (r.chosen == "toeplitz" && std::isfinite(r.set_weights_ms))
    std::fprintf(out, "         ^ set_weights %s ms; matrix ~%s (estimated), values written at %s GB/s; plan %s ms\n",
                 sig3(r.set_weights_ms).c_str(), gb(r.matrix_bytes).c_str(), sig3(r.matrix_gbs).c_str(),
                 sig3(r.plan_ms).c_str());
  std::fflush(out);
}

bool write_json(const std::string& path, const RunInfo& in, const std::vector<Row>& rows) {
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
    o << ", \"check\": {\"status\": " << str(r.status == "skipped" ? "skipped" : r.status == "ok" ? "pass" : "fail")
      << ", \"samples\": " << r.samples << ", \"mismatches\": " << r.mismatches
      << ", \"max_abs_err\": " << num(r.max_abs_err) << ", \"exact\": " << (r.exact ? "true" : "false") << "}";
    o << ", \"cudnn_ratio\": " << num(r.cudnn_ratio) << ", \"plan_ms\": " << num(r.plan_ms)
      << ", \"set_weights_ms\": " << num(r.set_weights_ms) << ", \"workspace_bytes\": " << num(r.workspace_bytes);
    o << ", \"matrix_bytes_estimate\": " << num(r.matrix_bytes) << ", \"matrix_gbs\": " << num(r.matrix_gbs);
    o << "}";
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
