// convkit-bench's results: one Row per (case, algorithm), printed as a table
// line as soon as it is measured, and the whole run as JSON (device, date,
// ceilings, rows, targets), rewritten after every case so an interrupted run
// still leaves a readable file.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace convkit::bench {

struct Row {
  std::string suite, case_name, spec;
  std::string direction = "fwd";  ///< "fwd", "bwd-data" or "bwd-filter"
  std::string x_shape, w_shape, y_shape;
  std::string algorithm;  ///< a which_name: "direct", "fft", "auto", "cudnn", "cudnn-fft", ...
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
  double set_weights_ms = NAN;  ///< median, L2-flushed like the product
  double workspace_bytes = NAN;
  double x_bytes = NAN, y_bytes = NAN;
  std::string direct_target;  ///< "memory", "compute" or "" (the case's DirectTarget)

  // Sparse Toeplitz (whenever the row ran it), from toeplitz::info.
  std::int64_t matrix_nnz = 0;
  double matrix_bytes = NAN;       ///< values + column indices + row offsets (Info::matrix_bytes)
  double map_bytes = NAN;          ///< the source-tap map set_weights refills through
  double matrix_gbs = NAN;         ///< matrix_bytes / product time
  double matrix_copy_pct = NAN;    ///< matrix_gbs as a % of the copy bandwidth
  double matrix_ceiling_pct = NAN; ///< the most matrix_copy_pct can be (toeplitz_matrix_copy_ceiling_pct)
  double all_copy_pct = NAN;       ///< (matrix + x + y bytes) per product time, % of the copy bandwidth
  double set_weights_ratio = NAN;  ///< set_weights time / product time
  double byte_penalty = NAN;       ///< (matrix + x + y bytes) / min_bytes

  // Im2colGemm's halves timed apart (the im2col row only).
  bool split_timed = false;
  bool plain_gemm = false;   ///< the 1x1 variant: no lowering, GEMM on x
  std::string split_note;    ///< why the split was not timed
  double im2col_ms = NAN;    ///< lowering alone (median)
  double gemm_ms = NAN;      ///< GEMM alone (median)
  double column_bytes = NAN;  ///< the whole batch's column matrix
  double bound_ms = NAN;      ///< im2col_bound_seconds, in ms
  double gemm_ratio = NAN;    ///< 1x1: total / GEMM alone

  // Auto rows: the best of direct / im2col / toeplitz / fft measured for the case.
  std::string best_algorithm;
  double best_ms = NAN;
  double best_ratio = NAN;  ///< this row's time / best_ms

  // The Fft path. How the row was checked: within the normwise FFT bound
  // (fft rows, auto rows that chose it, cuDNN's FFT algorithms), or not at
  // all (fft-transforms computes no convolution).
  bool normwise_check = false;
  bool timing_only = false;
  bool fft_large_kernel = false;  ///< the case's Fft targets (Case::fft_large_kernel)
  bool fft_over_direct = false;   ///< (Case::fft_over_direct)
  // fft rows: against the case's transforms-only floor, Direct, and the
  // fastest cuDNN row (best by Find, FFT, FFT_TILING).
  double floor_ms = NAN;
  double floor_ratio = NAN;       ///< fft time / floor_ms
  double direct_ms = NAN;
  double direct_speedup = NAN;    ///< direct_ms / fft time
  std::string cudnn_best_algorithm;
  double cudnn_best_ms = NAN;
  double cudnn_best_speedup = NAN;  ///< cudnn_best_ms / fft time
  // auto rows: the fft row against the fastest other convkit algorithm, for
  // "Auto picks Fft exactly where it measured faster".
  double fft_ms = NAN;
  std::string other_best_algorithm;
  double other_best_ms = NAN;
};

/// One performance target, evaluated on a run's rows (see targets.hpp).
struct TargetResult {
  std::string target;    ///< what is measured, e.g. "direct: % of copy bandwidth"
  std::string scope;     ///< suite and case
  std::string measured;  ///< the value, formatted; "-" when not measured
  std::string goal;      ///< e.g. ">= 80%"
  std::string status;    ///< "met", "not met" or "not measured"
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
/// One row of the table (plus '^' detail lines for Toeplitz, im2col and Auto
/// rows); flushes.
void print_row(std::FILE* out, const Row& r, bool cudnn_requested);
/// Writes the JSON document to `path`; returns false (and says why on
/// stderr) when the file cannot be written.
bool write_json(const std::string& path, const RunInfo& info, const std::vector<Row>& rows,
                const std::vector<TargetResult>& targets);

}  // namespace convkit::bench
