// convkit-bench's results: one Row per (case, algorithm), printed as a table
// line as soon as it is measured, and the whole run as JSON (device, date,
// ceilings, rows), rewritten after every case so an interrupted run still
// leaves a readable file.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace convkit::bench {

struct Row {
  std::string suite, case_name, spec;
  std::string x_shape, w_shape, y_shape;
  std::string algorithm;  ///< "direct", "im2col", "toeplitz", "auto", "cudnn"
  std::string chosen;     ///< the algorithm that ran ("auto" resolves to one)
  std::string variant;    ///< Support::variant, or cuDNN's algorithm
  std::string status;     ///< "ok", "FAIL", "skipped", "error"
  std::string reason;     ///< why skipped / failed
  double flops = 0, min_bytes = 0;
  int reps = 0;
  double ms_median = NAN, ms_min = NAN;
  double gflops = NAN, gbs = NAN, roofline_pct = NAN;
  std::int64_t samples = 0, mismatches = 0;
  double max_abs_err = NAN;
  bool exact = false;
  double cudnn_ratio = NAN;  ///< convkit time / cuDNN time; NaN when none
  double plan_ms = NAN;      ///< plan creation (cuDNN: Find), host wall time
  double set_weights_ms = NAN;
  double workspace_bytes = NAN;
  double matrix_bytes = NAN;  ///< Toeplitz: estimated CSR bytes
  double matrix_gbs = NAN;    ///< Toeplitz: matrix values written per second by set_weights
};

/// What the header and the JSON say about the run.
struct RunInfo {
  std::string program_version, device, compute_capability, date, dtype;
  int sms = 0;
  double clock_mhz = 0, l2_bytes = 0, memory_bytes = 0;
  double copy_gbs = 0, copy_bytes = 0;
  int copy_reps = 0;
  double fp32_peak_gflops = 0, fp64_peak_gflops = 0, peak_gflops = 0;
  int fp32_lanes = 0, fp64_lanes = 0;
  std::string cudnn;  ///< version, or "n/a (reason)"
  bool quick = false;
  int reps = 0, samples = 0;
  unsigned long long seed = 0;
  std::string command;
};

/// The table's column headings (two lines).
void print_table_header(std::FILE* out);
/// One row of the table (plus a detail line for Toeplitz / Auto rows); flushes.
void print_row(std::FILE* out, const Row& r, bool cudnn_requested);
/// Writes the JSON document to `path`; returns false (and says why on
/// stderr) when the file cannot be written.
bool write_json(const std::string& path, const RunInfo& info, const std::vector<Row>& rows);

}  // namespace convkit::bench
