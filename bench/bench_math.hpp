// Pure helpers of convkit-bench: statistics over timings, the roofline
// ceilings and fractions, which output elements to check against the
// reference and with what tolerance, cuDNN's symmetric-padding view of a
// problem, the performance targets and their bound formulas, and small text
// utilities. No CUDA here, so the CPU tests (tests/test_bench_math.cpp)
// cover all of it.
#pragma once

#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace convkit::bench {

// ------------------------------------------------------------ statistics

/// Median of `v` (mean of the two middle values for an even count); NaN when
/// empty. Takes a copy because it reorders.
inline double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
  const double hi = v[m];
  if (v.size() % 2) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m));
  return 0.5 * (lo + hi);
}

/// Smallest value of `v`; NaN when empty.
inline double minimum(const std::vector<double>& v) {
  return v.empty() ? std::nan("") : *std::min_element(v.begin(), v.end());
}

/// How many timed runs a row gets: `requested`, unless one run takes so long
/// that they would not fit `budget_s`; then as many as fit, but never fewer
/// than `floor_reps` (a median of very few runs says little).
inline int reps_within_budget(int requested, double one_run_s, double budget_s, int floor_reps) {
  if (one_run_s <= 0 || requested * one_run_s <= budget_s) return requested;
  const int fit = static_cast<int>(budget_s / one_run_s);
  return std::max(std::min(requested, floor_reps), std::min(requested, fit));
}

// ------------------------------------------------------------ roofline

/// FP32 lanes (FMA units) per SM for compute capability major.minor, from
/// NVIDIA's architecture whitepapers: 64 on the big-die parts of Pascal
/// (6.0), Volta (7.x), Turing (7.5) and Ampere GA100 (8.0); 128 on Maxwell,
/// consumer Pascal, GA10x (8.6/8.7), Ada (8.9), Hopper (9.0) and Blackwell.
/// Unknown newer parts are assumed to keep 128.
inline int fp32_lanes_per_sm(int major, int minor) {
  if (major == 6) return minor == 0 ? 64 : 128;
  if (major == 7) return 64;
  if (major == 8) return minor == 0 ? 64 : 128;
  return 128;
}

/// FP64 lanes per SM: 32 on GP100, GV100 and GA100, 64 on Hopper and
/// Blackwell data-centre parts (9.0, 10.x); consumer parts run FP64 at 1/64
/// of their FP32 rate (1/32 on Turing, where FP32 has 64 lanes).
inline int fp64_lanes_per_sm(int major, int minor) {
  if ((major == 6 || major == 8) && minor == 0) return 32;
  if (major == 7) return minor == 5 ? 2 : 32;
  if (major == 9 || major == 10) return 64;
  return 2;
}

/// Peak FMA throughput in FLOP/s: every lane retires one fused multiply-add
/// (2 FLOPs) per clock. clock_khz as cudaDevAttrClockRate reports it.
inline double fma_peak_flops(int sms, int lanes_per_sm, double clock_khz) {
  return double(sms) * double(lanes_per_sm) * 2.0 * clock_khz * 1e3;
}

/// The time the roofline allows: the slower of doing the arithmetic at the
/// FMA peak and moving the minimum bytes at the copy bandwidth.
inline double roofline_seconds(double flops, double bytes, double peak_flops, double bandwidth) {
  const double t_math = peak_flops > 0 ? flops / peak_flops : 0.0;
  const double t_mem = bandwidth > 0 ? bytes / bandwidth : 0.0;
  return std::max(t_math, t_mem);
}

/// Fraction of the roofline a measured time reaches (1 = at the ceiling).
inline double roofline_fraction(double measured_s, double flops, double bytes, double peak_flops,
                                double bandwidth) {
  if (!(measured_s > 0)) return std::nan("");
  return roofline_seconds(flops, bytes, peak_flops, bandwidth) / measured_s;
}

// ------------------------------------------------------------ checking

/// Deterministic 64-bit generator (splitmix64): the same seed gives the same
/// data and the same sampled indices on every machine.
struct SplitMix64 {
  std::uint64_t state;
  explicit SplitMix64(std::uint64_t seed) : state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n), n > 0 (the modulo bias is irrelevant at these sizes).
  std::int64_t below(std::int64_t n) { return static_cast<std::int64_t>(next() % std::uint64_t(n)); }
};

/// Flat output indices to check against the reference for an output of shape
/// y = [N, K, O1..Od]: every element when there are at most `count`;
/// otherwise the spatial corners of the first and the last (n, k) plane --
/// where padding and tile edges bite -- plus uniform random picks, up to
/// `count` distinct indices in increasing order.
inline std::vector<std::int64_t> sample_output_indices(const Shape& y, int count, std::uint64_t seed) {
  const std::int64_t total = y.numel();
  std::vector<std::int64_t> idx;
  if (total <= 0 || count <= 0) return idx;
  if (total <= count) {
    for (std::int64_t i = 0; i < total; ++i) idx.push_back(i);
    return idx;
  }
  const int d = y.rank() - 2;
  std::int64_t plane = 1;
  for (int a = 2; a < y.rank(); ++a) plane *= y[a];
  const std::int64_t planes = total / plane;
  for (std::int64_t base : {std::int64_t(0), (planes - 1) * plane}) {
    for (int corner = 0; corner < (1 << d); ++corner) {
      std::int64_t off = 0;
      for (int a = 0; a < d; ++a) off = off * y[2 + a] + ((corner >> a) & 1 ? y[2 + a] - 1 : 0);
      idx.push_back(base + off);
    }
  }
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  SplitMix64 rng(seed);
  while (static_cast<int>(idx.size()) < count) {
    const std::int64_t i = rng.below(total);
    if (!std::binary_search(idx.begin(), idx.end(), i)) idx.insert(std::lower_bound(idx.begin(), idx.end(), i), i);
  }
  return idx;
}

/// Per-element tolerance factor, as DESIGN §5 states it:
/// |y - y_ref| <= factor * M, M = Σ|x·w| over that output's `terms` products
/// (+ |b| with a bias), with
/// f32 1e-6·sqrt(terms) and f64 1e-14·sqrt(terms), plus a floor a tenth of
/// that for one term (the bias add and a single product round too). The
/// tests use the same factor (tests/harness.cpp).
inline double tolerance_factor(DType t, std::int64_t terms) {
  const double n = double(std::max<std::int64_t>(terms, 1));
  return t == DType::F32 ? 1e-6 * std::sqrt(n) + 1e-7 : 1e-14 * std::sqrt(n) + 1e-15;
}

/// Whether a value passes: finite (a NaN left by the poison never passes) and
/// within factor * magnitude of the reference.
inline bool within_tolerance(double got, double want, double magnitude, double factor) {
  return std::isfinite(got) && std::abs(got - want) <= factor * magnitude;
}

/// Outcome of comparing sampled outputs with the reference.
struct SampleCheck {
  std::int64_t checked = 0;
  std::int64_t mismatches = 0;
  std::int64_t first_bad = -1;  ///< position in the sample list of the first mismatch
  double max_abs_err = 0;       ///< over the finite values; NaN / inf count as mismatches
  bool exact = true;            ///< every value equal to the reference
};

/// Compares got[j] with want[j] within factor * magnitude[j] for every j.
inline SampleCheck check_samples(const std::vector<double>& got, const std::vector<double>& want,
                                 const std::vector<double>& magnitude, double factor) {
  SampleCheck c;
  const std::size_t n = std::min({got.size(), want.size(), magnitude.size()});
  c.checked = static_cast<std::int64_t>(n);
  if (got.size() != want.size() || want.size() != magnitude.size()) {
    c.mismatches = 1;  // a length mismatch is a bench bug; never pass it
    c.exact = false;
  }
  for (std::size_t j = 0; j < n; ++j) {
    if (got[j] != want[j]) c.exact = false;
    if (std::isfinite(got[j])) c.max_abs_err = std::max(c.max_abs_err, std::abs(got[j] - want[j]));
    if (!within_tolerance(got[j], want[j], magnitude[j], factor)) {
      if (c.first_bad < 0) c.first_bad = static_cast<std::int64_t>(j);
      ++c.mismatches;
    }
  }
  return c;
}

// ------------------------------------------------------------ cuDNN's view

/// cuDNN pads symmetrically, so a problem with pad_lo != pad_hi (`same` with
/// an even kernel) runs there with pad = max(lo, hi) on both sides; its output
/// is then larger and convkit's y[o] sits at y'[o + offset]. ok is false when
/// no such shift exists (the padding difference is not a multiple of the
/// stride).
struct SymmetricView {
  bool ok = true;
  std::int64_t pad[3] = {0, 0, 0};
  std::int64_t out[3] = {1, 1, 1};
  std::int64_t offset[3] = {0, 0, 0};
};

inline SymmetricView symmetric_view(const ConvProblem& p) {
  SymmetricView v;
  for (int a = 0; a < 3; ++a) {
    v.pad[a] = std::max(p.pad_lo[a], p.pad_hi[a]);
    const std::int64_t span = p.dilation[a] * (p.ker[a] - 1) + 1;
    v.out[a] = (p.in[a] + 2 * v.pad[a] - span) / p.stride[a] + 1;
    const std::int64_t shift = v.pad[a] - p.pad_lo[a];
    if (shift % p.stride[a] != 0) v.ok = false;
    v.offset[a] = shift / p.stride[a];
    if (v.offset[a] + p.out[a] > v.out[a]) v.ok = false;
  }
  return v;
}

/// Where convkit's flat output index `i` lies in cuDNN's (larger) output.
inline std::int64_t symmetric_index(const ConvProblem& p, const SymmetricView& v, std::int64_t i) {
  std::int64_t o[3];
  for (int a = 2; a >= 0; --a) {
    o[a] = i % p.out[a];
    i /= p.out[a];
  }
  const std::int64_t nk = i;  // n * K + k
  std::int64_t r = nk;
  for (int a = 0; a < 3; ++a) r = r * v.out[a] + o[a] + v.offset[a];
  return r;
}

// ------------------------------------------------------------ targets

/// The performance targets the benchmark reports (docs/PERF.md), in one place
/// so that the detail lines, the summary table and the tests agree. They are
/// reported, never asserted: a slow device is not a failed check.
namespace target {
inline constexpr double kMemoryBoundCopyFraction = 0.80;   ///< direct, memory-bound: of the copy bandwidth
inline constexpr double kComputeBoundPeakFraction = 0.60;  ///< direct, compute-bound: of the FMA peak
inline constexpr double kDirectSpeedupOverCudnn = 2.0;     ///< direct target cases: cuDNN time / direct time
inline constexpr double kIm2colSlack = 1.2;                ///< im2col total <= this x its bound
inline constexpr double kIm2colLoweringCopyFraction = 0.80;  ///< the bound's lowering runs at this x copy
inline constexpr double kPlainGemmOverhead = 1.05;         ///< 1x1 im2col: total / GEMM alone
inline constexpr double kToeplitzCopyFraction = 0.75;      ///< matrix bytes per product time, of copy
inline constexpr double kSetWeightsPerProduct = 1.0;       ///< Toeplitz set_weights / one product
inline constexpr double kTunedOverBest = 1.05;             ///< auto-tuned time / best algorithm's time
inline constexpr double kCostModelOverBest = 1.3;          ///< auto (cost model) time / best algorithm's time
}  // namespace target

/// a / b, NaN unless both are finite and b > 0 (a missing measurement stays
/// missing instead of turning into 0 or infinity).
inline double ratio(double a, double b) {
  return std::isfinite(a) && std::isfinite(b) && b > 0 ? a / b : std::nan("");
}

/// The time im2col + GEMM may take: kIm2colSlack x (the GEMM alone + the
/// lowering's traffic -- the column matrix written, x read -- at
/// kIm2colLoweringCopyFraction of the copy bandwidth, which counts bytes read
/// + written). Seconds; NaN when the bandwidth is unknown.
inline double im2col_bound_seconds(double gemm_s, double column_bytes, double x_bytes, double copy_bandwidth) {
  if (!(copy_bandwidth > 0) || !std::isfinite(gemm_s)) return std::nan("");
  const double lowering_s = (column_bytes + x_bytes) / (target::kIm2colLoweringCopyFraction * copy_bandwidth);
  return target::kIm2colSlack * (gemm_s + lowering_s);
}

/// How many times the direct path's minimum bytes one sparse Toeplitz product
/// moves: the matrix (values + column indices + row offsets) and x read, y
/// written, over min_bytes (x, w read once, y written once). NaN without a
/// minimum.
inline double toeplitz_byte_penalty(double matrix_bytes, double x_bytes, double y_bytes, double min_bytes) {
  return ratio(matrix_bytes + x_bytes + y_bytes, min_bytes);
}

/// The most the "matrix bytes per product time" figure can reach, as a % of
/// the copy bandwidth: a product also reads x and writes y, so even moving
/// only its minimum bytes (matrix + x + y) at copy speed it spends
/// (x + y) / (matrix + x + y) of its time on the dense operands. With many
/// right-hand sides (SpMM) the dense operands can outweigh the matrix, and a
/// fixed fraction of the copy bandwidth on the matrix bytes alone is then
/// unreachable. NaN without a matrix.
inline double toeplitz_matrix_copy_ceiling_pct(double matrix_bytes, double x_bytes, double y_bytes) {
  return 100.0 * ratio(matrix_bytes, matrix_bytes + x_bytes + y_bytes);
}

// ------------------------------------------------------------ text

/// Splits "a,b,,c" into {"a", "b", "c"}.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

/// A JSON string literal (with the quotes) for `s`.
inline std::string json_string(const std::string& s) {
  std::string r = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': r += "\\\""; break;
      case '\\': r += "\\\\"; break;
      case '\n': r += "\\n"; break;
      case '\t': r += "\\t"; break;
      case '\r': r += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          r += buf;
        } else {
          r += static_cast<char>(c);
        }
    }
  }
  return r + "\"";
}

/// A JSON number, or null for NaN / infinity (which JSON cannot hold).
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

/// The current time in UTC, ISO 8601 ("2026-11-24T09:52:34Z").
inline std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// `s` cut to `width` characters, ending in "~" when cut (table cells).
inline std::string clip(const std::string& s, std::size_t width) {
  if (s.size() <= width) return s;
  if (width == 0) return {};
  return s.substr(0, width - 1) + "~";
}

}  // namespace convkit::bench
