// Pure helpers of convkit-bench: statistics over timings, the roofline
// ceilings and fractions, which output elements to check against the
// reference and with what tolerance (the per-element one and the FFT path's
// normwise one), cuDNN's symmetric-padding view of a
// problem, the performance targets and their bound formulas, and small text
// utilities. No CUDA here, so the CPU tests (tests/test_bench_math.cpp)
// cover all of it.
#pragma once

#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include "indexing.cuh"  // fold_index: the boundary extension every path uses

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

// ------------------------------------------------------------ FFT tolerance

// Algorithm::Fft is not exact on integer data and its error is normwise, so
// it gets its own bound instead of tolerance_factor's per-element one:
//
//     |y[n,k,o] - y_ref[n,k,o]| <= fft_tolerance_factor(t, p) * M[n,k],
//     M[n,k] = Σ_{c<C/G} ‖x̃_c‖₂ · ‖w_kc‖₁ + |b[k]|        (fft_magnitudes)
//     factor = ε · (3·c·(L + 1) + 2·C/G + 5),  c = kFftStageConstant = 16,
//     L = log₂ of the transform's points bound            (fft_log2_points_bound)
//
// with ε the unit roundoff (2^-24 for f32, 2^-53 for f64), x_c = x[n, g·C/G+c]
// and x̃_c its boundary extension over the whole padded extent. Derivation
// (first order in ε; the margin in c covers the second-order terms, which are
// below 1e-3 relative for f32 at any size that fits a device):
//
// 1. One transform. A Cooley-Tukey FFT of n = 2^a·3^b·5^c·7^d points is a
//    product of sparse stage matrices: per stage, radix-r butterflies (small
//    DFTs whose entries have modulus 1) and twiddles of modulus 1. A
//    radix-r stage rounds each output by at most η_r·Σ|its inputs| with
//    η_r ≈ (r + 6)·ε (an r-term complex sum, the complex products, the
//    twiddle's own error); in the 2-norm that is η_r·√r relative to the
//    stage's output (‖|B|‖₂ = r, ‖B·v‖₂ = √r·‖v‖₂), i.e. ≤ 12.9·ε per
//    log₂ of the points for every radix up to 8 (radix 2: 10.9, 3: 9.5,
//    5: 10.3, 7: 12.0, 8: 12.9; Higham, Accuracy and Stability of Numerical
//    Algorithms, §24.1, gets 6.7 for radix 2). Larger radices are factored
//    into these inside the library's kernels, and 7-smooth sizes need no
//    Bluestein. The R2C / C2R pre- and post-processing is one more
//    twiddle-and-butterfly stage. So, with c = 16 for margin:
//        ‖fl(F v) - F v‖₂ <= c·ε·(log₂n + 1)·‖F v‖₂ = c·ε·(log₂n + 1)·√n·‖v‖₂.
//    Along every stage the modulus-1 entries give exactly one path from each
//    input to each output, so the same constant also bounds each element:
//        |fl(F v) - F v|_f <= c·ε·(log₂n + 1)·‖v‖₁.
//    A transform over several axes composes the axes' stages: log₂n becomes
//    Σ_a log₂n_a = log₂Πn_a, which fft_log2_points_bound bounds from above
//    (no n_a exceeds the power of two >= 2·max(E_a, L_a)).
// 2. Spectra. X_c = F x̃_c (zero-padded to n; a copy, exact): ‖X_c‖₂ = √n‖x̃_c‖₂,
//    error ‖ΔX_c‖₂ <= c·ε·(L+1)·√n·‖x̃_c‖₂ (2-norm form). W_kc = F w_kc (the
//    kernel dilated by inserting zeros and flipped or conjugated per mode,
//    all exact): |W_kc|_f <= ‖w_kc‖₁ and |ΔW_kc|_f <= c·ε·(L+1)·‖w_kc‖₁
//    (elementwise form).
// 3. The GEMM. P_k = Σ_c X_c·conj(W_kc) per frequency: a complex product
//    rounds by <= 2√2·ε relative, a sum of C/G complex terms by
//    <= √2·(C/G - 1)·ε·Σ|terms|; both <= (2·C/G + 2)·ε·Σ_c |X_c|·|W_kc|.
//    With ‖Σ_c |X_c|·|W_kc|‖₂ <= Σ_c ‖X_c‖₂·max_f|W_kc| <= √n·S,
//    S = Σ_c ‖x̃_c‖₂·‖w_kc‖₁, and the spectra's errors carried through the
//    product the same way (‖ΔX_c ⊙ W_kc‖₂ <= ‖ΔX_c‖₂·max|W_kc|,
//    ‖X_c ⊙ ΔW_kc‖₂ <= ‖X_c‖₂·max|ΔW_kc|):
//        ‖ΔP_k‖₂ <= (2·c·(L+1) + 2·C/G + 2)·ε·√n·S,   ‖P_k‖₂ <= √n·S.
// 4. The inverse and the scale. z = F^H P / n: the inverse's own rounding
//    adds c·ε·(L+1)·‖F^H P‖₂ / n = c·ε·(L+1)·‖P‖₂/√n <= c·ε·(L+1)·S, the
//    propagated ‖F^H ΔP‖₂ / n = ‖ΔP‖₂/√n, and the scale by 1/Πn one ε·|z|.
//    So the error vector of the transform block is
//        ‖Δz‖₂ <= (3·c·(L+1) + 2·C/G + 3)·ε·S.
// 5. Per element. Every output element's error is at most the 2-norm of its
//    block's error vector; subsampling by the stride picks elements and adds
//    nothing. Adding the bias and rounding to the output type cost one ε each
//    on |z| + |b| <= ‖z‖₂ + |b| <= S + |b|: hence + 2 and the |b| in M.
// 6. Overlap-save. Each block transforms a segment of x̃, whose 2-norm is at
//    most the whole extent's, so the whole-extent ‖x̃_c‖₂ bounds every block
//    and the bound holds for every choice the library makes (so does the
//    circular boundary taken natively: one transform of x itself, n = D,
//    whose norm is at most x̃'s). (The norm of an output's own window would
//    not do: a global transform's rounding spreads over every output.)
//
// The bound still catches a wrong result: on small-integer data of moderate
// size (a 32 x 32 image, 4 channels, 5 x 5 taps, values in [-3, 3], f32) it
// is about 0.5, so an output off by one unit fails; tests/test_bench_math.cpp
// checks that and that a simulated FFT result passes. It is not per element:
// on large random problems it is far above one output's size, so the
// reference comparison of Fft rows mainly guards against gross errors (a
// wrong boundary, shift or channel), which remain much larger.

/// The constant c of the FFT bound above: rounding of one transform per
/// log₂ of its points, relative in the 2-norm, in units of ε.
inline constexpr double kFftStageConstant = 16.0;

/// log2 of an upper bound on the points of one transform of problem p (Π over the
/// problem's spatial axes of the power of two >= 2·max(E_a, L_a)), >= 1.
inline double fft_log2_points_bound(const ConvProblem& p) {
  double bits = 0;
  for (int a = 3 - p.dims; a < 3; ++a) {
    const std::int64_t extent = p.in[a] + p.pad_lo[a] + p.pad_hi[a];  // E_a
    const std::int64_t span = p.dilation[a] * (p.ker[a] - 1) + 1;     // L_a
    const std::int64_t need = 2 * std::max(extent, span);
    int b = 0;
    while ((std::int64_t(1) << b) < need) ++b;
    bits += b;
  }
  return std::max(bits, 1.0);
}

/// Tolerance factor for Algorithm::Fft: |y[n,k,o] - y_ref| <= factor * fft_magnitude[n*K + k].
inline double fft_tolerance_factor(DType t, const ConvProblem& p) {
  const double eps = t == DType::F32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
  const double L = fft_log2_points_bound(p);
  return eps * (3 * kFftStageConstant * (L + 1) + 2 * double(p.Cg()) + 5);
}

/// Per (image, output channel) magnitude, row-major [N, K]: Σ_{c<C/G} ‖x̃[n, g·C/G+c]‖₂ · ‖w[k,c]‖₁ + |b[k]|,
/// x̃ the boundary-extended input over the whole padded extent (all positions -lo..D-1+hi on each axis,
/// folded with convkit::detail::fold_index from kernels/indexing.cuh, zero where it reads an implicit zero).
/// x: [N, C, spatial] and w: [K, C/G, taps] row-major as doubles, b null without bias.
inline std::vector<double> fft_magnitudes(const ConvProblem& p, const double* x, const double* w, const double* b) {
  // Squared norms of every extended input channel, [N, C].
  const std::int64_t plane = p.in_spatial();
  std::vector<double> xnorm(static_cast<std::size_t>(p.N * p.C));
  for (std::int64_t nc = 0; nc < p.N * p.C; ++nc) {
    const double* xc = x + nc * plane;
    double s = 0;
    for (std::int64_t e0 = -p.pad_lo[0]; e0 < p.in[0] + p.pad_hi[0]; ++e0) {
      const std::int64_t q0 = detail::fold_index(e0, p.in[0], p.boundary);
      if (q0 < 0) continue;
      for (std::int64_t e1 = -p.pad_lo[1]; e1 < p.in[1] + p.pad_hi[1]; ++e1) {
        const std::int64_t q1 = detail::fold_index(e1, p.in[1], p.boundary);
        if (q1 < 0) continue;
        for (std::int64_t e2 = -p.pad_lo[2]; e2 < p.in[2] + p.pad_hi[2]; ++e2) {
          const std::int64_t q2 = detail::fold_index(e2, p.in[2], p.boundary);
          if (q2 < 0) continue;
          const double v = xc[(q0 * p.in[1] + q1) * p.in[2] + q2];
          s += v * v;
        }
      }
    }
    xnorm[static_cast<std::size_t>(nc)] = std::sqrt(s);
  }
  // 1-norms of every filter, [K, C/G].
  const std::int64_t taps = p.ker_spatial(), Cg = p.Cg(), Kg = p.Kg();
  std::vector<double> wnorm(static_cast<std::size_t>(p.K * Cg));
  for (std::int64_t kc = 0; kc < p.K * Cg; ++kc) {
    double s = 0;
    for (std::int64_t i = 0; i < taps; ++i) s += std::abs(w[kc * taps + i]);
    wnorm[static_cast<std::size_t>(kc)] = s;
  }
  std::vector<double> m(static_cast<std::size_t>(p.N * p.K));
  for (std::int64_t n = 0; n < p.N; ++n) {
    for (std::int64_t k = 0; k < p.K; ++k) {
      const std::int64_t g = k / Kg;
      double s = b ? std::abs(b[k]) : 0.0;
      for (std::int64_t c = 0; c < Cg; ++c)
        s += xnorm[static_cast<std::size_t>(n * p.C + g * Cg + c)] * wnorm[static_cast<std::size_t>(k * Cg + c)];
      m[static_cast<std::size_t>(n * p.K + k)] = s;
    }
  }
  return m;
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
inline constexpr double kFftOverFloor = 2.0;          ///< fft time / its transforms-only floor
inline constexpr double kFftSpeedupOverDirect = 5.0;  ///< 4096 taps: direct time / fft time
inline constexpr double kFftSpeedupOverCudnn = 3.0;   ///< large kernels: cuDNN's best time / fft time
/// Auto's choice between Fft and the fastest other algorithm counts as right
/// either way when their times are within this ratio (run-to-run noise).
inline constexpr double kAutoFftTie = 1.05;
}  // namespace target

/// Whether Auto chose right between Fft and the fastest other algorithm:
/// Fft exactly where it measured faster, unless the two are within
/// target::kAutoFftTie of each other. False when either time is missing.
inline bool auto_fft_choice_right(bool chose_fft, double fft_ms, double other_ms) {
  if (!(fft_ms > 0) || !(other_ms > 0) || !std::isfinite(fft_ms) || !std::isfinite(other_ms)) return false;
  if (std::max(fft_ms, other_ms) <= target::kAutoFftTie * std::min(fft_ms, other_ms)) return true;
  return chose_fft == (fft_ms < other_ms);
}

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
