// Algorithm::Fft, the host side shared by src/fft.cpp, the CPU tests and the
// benchmark: fast transform lengths, the block choice (overlap-save or the
// whole signal) under a workspace limit, the closed-form workspace, the
// descriptors of the cuFFT transforms and cuBLAS GEMMs, and the whole forward
// pipeline as one template over an executor. src/fft.cpp runs it with the
// kernels, cuFFT and cuBLAS; tests/test_fft.cpp runs it with host stand-ins
// (an exact DFT, a GEMM replay) against the reference (DESIGN §6). The index
// maps themselves are in kernels/fft.cuh.
#pragma once

#include <convkit/context.hpp>
#include <convkit/export.hpp>
#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include "arith.hpp"
#include "check.hpp"
#include "fft.cuh"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace convkit::detail {

/// Longest transform axis and most points per transform the path plans
/// (cuFFT takes more through its 64-bit API; these keep every count used by
/// cuBLAS, whose sizes are int, and the host arithmetic far from overflow).
inline constexpr std::int64_t kFftMaxLength = std::int64_t(1) << 30;
inline constexpr std::int64_t kFftMaxPoints = (std::int64_t(1) << 31) - 1;
/// cuBLAS sizes and batch counts are int.
inline constexpr std::int64_t kFftMaxGemmDim = std::numeric_limits<int>::max();
/// Buffers inside the workspace start at multiples of this.
inline constexpr std::size_t kFftAlign = 256;

/// Smallest 2^a·3^b·5^c·7^d >= n (SciPy's next_fast_len for real
/// transforms, which also admits 11; cuFFT's fast radices are 2, 3, 5, 7).
/// n <= 1 gives 1; n > kFftMaxLength gives -1 (not planned).
inline std::int64_t fft_next_fast_len(std::int64_t n) {
  if (n <= 1) return 1;
  if (n > kFftMaxLength) return -1;
  std::int64_t best = 1;
  while (best < n) best *= 2;
  for (std::int64_t p7 = 1; p7 < best; p7 *= 7)
    for (std::int64_t p5 = p7; p5 < best; p5 *= 5)
      for (std::int64_t p3 = p5; p3 < best; p3 *= 3) {
        std::int64_t q = p3;
        while (q < n) q *= 2;
        best = std::min(best, q);
      }
  return best;
}

/// Whether n's only prime factors are 2, 3, 5 and 7.
inline bool fft_is_fast_len(std::int64_t n) {
  if (n < 1) return false;
  for (std::int64_t f : {2, 3, 5, 7})
    while (n % f == 0) n /= f;
  return n == 1;
}

/// The workspace of one pass over `chunk` images, in bytes, each buffer
/// rounded up to kFftAlign (M = chunk·NB blocks, P, F of one transform,
/// e = sizeof(T), c = 2e):
///   real   P·max(M·C, M·K, Kw)·e     x blocks, then the inverse's output (and
///                                    first the upsampled kernels, Kw = K·Cg,
///                                    when the spectra are made per call)
///   xspec  F·M·C·c                   x's spectra (the pointwise product
///                                    overwrites them: they are y's too)
///   yspec  F·M·K·c                   y's spectra (GEMM path only)
///   wspec  F·K·Cg·c                  w's spectra (per call; a ConvPlan owns its own)
///   work   F·max(M·C, M·K, Kw)·c     cuFFT's work area: the complex side of
///                                    the largest batch (R2C/C2R commonly
///                                    need a temporary of that size); a
///                                    transform whose plan asks for more runs
///                                    in sub-batches that fit (src/fft.cpp)
struct FftWorkspace {
  std::size_t real = 0, xspec = 0, yspec = 0, wspec = 0, work = 0;
  std::size_t total = 0;
};

inline std::size_t fft_round(std::size_t b) {
  return b >= kSizeMax - kFftAlign ? kSizeMax : (b + kFftAlign - 1) / kFftAlign * kFftAlign;
}

inline FftWorkspace fft_workspace(const FftGeometry& g, std::int64_t chunk, bool weights_per_call, DType t) {
  const std::size_t e = dtype_size(t), c = 2 * e;
  const std::int64_t M = mul_sat(chunk, g.blocks);
  const std::int64_t Kw = weights_per_call ? g.K * g.Cg : 0;
  const std::int64_t batch = std::max({mul_sat(M, g.C), mul_sat(M, g.K), Kw});
  FftWorkspace w;
  w.real = fft_round(bytes_sat(mul_sat(g.points, batch), e));
  w.xspec = fft_round(bytes_sat(mul_sat(g.freqs, mul_sat(M, g.C)), c));
  w.yspec = g.pointwise ? 0 : fft_round(bytes_sat(mul_sat(g.freqs, mul_sat(M, g.K)), c));
  w.wspec = weights_per_call ? fft_round(bytes_sat(mul_sat(g.freqs, g.K * g.Cg), c)) : 0;
  w.work = fft_round(bytes_sat(mul_sat(g.freqs, batch), c));
  w.total = add_sat(add_sat(add_sat(w.real, w.xspec), add_sat(w.yspec, w.wspec)), w.work);
  return w;
}

/// Byte offsets of the buffers in the workspace, in the order above.
struct FftLayout {
  std::size_t real = 0, xspec = 0, yspec = 0, wspec = 0, work = 0;
};
inline FftLayout fft_layout(const FftWorkspace& w) {
  FftLayout l;
  l.real = 0;
  l.xspec = l.real + w.real;
  l.yspec = l.xspec + w.xspec;
  l.wspec = l.yspec + w.yspec;
  l.work = l.wspec + w.wspec;
  return l;
}

/// The arithmetic and memory traffic of the Fft path over N images (the cost
/// rule of the block choice and the cost model of Algorithm::Auto): a real
/// transform of P points as 2.5·P·log₂P flops, the per-frequency product as 8
/// flops per complex multiply-add, bytes for every pass over the blocks
/// (transforms over 2^20 points counted as two passes each way: they do not
/// stay on chip).
struct FftCostTerms {
  double flops = 0, bytes = 0;
  int launches = 0;
};
inline FftCostTerms fft_cost_terms(const FftGeometry& g, std::int64_t N, DType t, bool weights_per_call) {
  const double e = double(dtype_size(t)), P = double(g.points), F = double(g.freqs);
  const double M = double(N) * double(g.blocks);
  const double lg = std::log2(std::max(P, 2.0));
  const double passes = P > double(1 << 20) ? 2.0 : 1.0;
  const double xt = M * double(g.C), yt = M * double(g.K), wt = weights_per_call ? double(g.K * g.Cg) : 0.0;
  FftCostTerms c;
  c.flops = (xt + yt + wt) * 2.5 * P * lg + 8.0 * F * M * double(g.C) * double(g.Kg);
  const double in_plane = double(g.ax[0].D) * double(g.ax[1].D) * double(g.ax[2].D);
  c.bytes = double(N) * double(g.C) * in_plane * e          // gather reads x
            + (xt + yt + wt) * P * e * (1.0 + passes)         // real blocks written, transformed, read back
            + (xt + yt + wt) * F * 2.0 * e * (1.0 + passes)   // spectra written and read
            + F * double(g.K * g.Cg) * 2.0 * e                // weight spectra read by the product
            + 2.0 * double(N) * double(g.K) * double(g.out_spatial) * e;  // extraction
  c.launches = 6 + (g.pointwise ? 0 : int(std::min<std::int64_t>(g.G, 1 << 20)));
  return c;
}

/// Flops per byte at which the block choice trades arithmetic for traffic
/// (about a current GPU's ratio of FP32 peak to memory bandwidth).
inline constexpr double kFftFlopsPerByte = 16.0;

/// A chosen configuration of the Fft path for one problem.
struct FftChoice {
  bool ok = false;
  std::string reason;          ///< why not, when !ok
  FftGeometry geo;
  std::int64_t chunk = 1;      ///< images per pass
  FftWorkspace ws;             ///< of one pass over `chunk` images
  std::size_t min_bytes = 0;   ///< the least workspace any configuration of this problem runs with
  std::size_t full_bytes = 0;  ///< the chosen configuration over the whole batch at once
  bool overlap_save() const {
    for (const FftAxis& a : geo.ax)
      if (!a.native && (a.nb > 1 || a.n < a.Z + a.L - 1)) return true;
    return false;
  }
  bool native_circular() const { return geo.ax[0].native || geo.ax[1].native || geo.ax[2].native; }
  /// Support::variant: "fft/whole" or "fft/overlap-save", "-circular" where an
  /// axis takes the circular boundary natively, then "+pointwise" or "+gemm".
  std::string variant() const {
    return std::string(overlap_save() ? "fft/overlap-save" : "fft/whole") + (native_circular() ? "-circular" : "") +
           (geo.pointwise ? "+pointwise" : "+gemm");
  }
};

namespace fft_choice {

/// A transform length an axis may use, and whether it takes the circular
/// boundary natively (n = D, x itself).
struct Candidate {
  std::int64_t n = 1;
  bool native = false;
};

/// The candidates of an axis: the whole signal (the fast length >= Z + L -
/// 1), the powers of two from the kernel span up to it (the overlap-save
/// blocks), and under Circular with a fast D >= L the native period. Empty
/// when even the kernel span is too long.
inline std::vector<Candidate> candidates(const ConvProblem& p, int a, bool used) {
  std::vector<Candidate> c;
  if (!used) return {Candidate{}};
  const std::int64_t L = p.dilation[a] * (p.ker[a] - 1) + 1;
  const std::int64_t Z = (p.out[a] - 1) * p.stride[a] + 1;
  const std::int64_t whole = fft_next_fast_len(add_sat(Z, L - 1));
  for (std::int64_t n = 16; n <= kFftMaxLength; n *= 2) {
    if (whole > 0 && n >= whole) break;
    if (n >= L) c.push_back(Candidate{n, false});
  }
  if (whole > 0) c.push_back(Candidate{whole, false});
  if (fft_native_circular_allowed(p, a) && fft_is_fast_len(p.in[a]) && p.in[a] <= kFftMaxLength)
    c.push_back(Candidate{p.in[a], true});
  return c;
}

/// Whether candidates k give a plannable geometry (counts in range), and it.
inline bool geometry(const ConvProblem& p, const Candidate k[3], FftGeometry& g) {
  std::int64_t points = 1, blocks = 1;
  for (int a = 0; a < 3; ++a) {
    points = mul_sat(points, k[a].n);
    if (k[a].native) continue;
    const std::int64_t L = p.dilation[a] * (p.ker[a] - 1) + 1;
    const std::int64_t Z = (p.out[a] - 1) * p.stride[a] + 1;
    blocks = mul_sat(blocks, (Z + (k[a].n - L + 1) - 1) / (k[a].n - L + 1));
  }
  if (points > kFftMaxPoints) return false;
  // One image's blocks of every channel must make a cuBLAS / cuFFT batch.
  if (mul_sat(blocks, std::max(p.C, p.K)) > kFftMaxGemmDim) return false;
  const std::int64_t n[3] = {k[0].n, k[1].n, k[2].n};
  const bool native[3] = {k[0].native, k[1].native, k[2].native};
  g = fft_geometry(p, n, native);
  return true;
}

}  // namespace fft_choice

/// The Fft configuration of problem p with dtype t under a workspace `limit`:
/// per axis a transform length, so the blocks (overlap-save, or one block:
/// the whole signal) minimise the cost rule (fft_cost_terms, one-shot when
/// weights_per_call) among those whose one-image pass fits the limit; then
/// as many images per pass as fit min(limit, whole batch). The search is a
/// coordinate descent over each axis's candidates, two rounds, from the
/// configuration with the least workspace. !ok with a reason when nothing can
/// be planned, or when the least workspace exceeds the limit (min_bytes says
/// how much it needs).
inline FftChoice fft_choose(const ConvProblem& p, DType t, std::size_t limit, bool weights_per_call) {
  // A limit the unlimited choice fits changes nothing: run() then stays within
  // workspace_bytes() (the whole batch of the unlimited choice).
  if (limit != kSizeMax) {
    FftChoice free = fft_choose(p, t, kSizeMax, weights_per_call);
    if (!free.ok || free.full_bytes <= limit) return free;
  }
  FftChoice ch;
  std::vector<fft_choice::Candidate> cand[3];
  for (int a = 0; a < 3; ++a) {
    const bool used = a >= 3 - p.dims;
    cand[a] = fft_choice::candidates(p, a, used);
    if (cand[a].empty()) {
      ch.reason = msg("the transform along spatial axis ", a - (3 - p.dims), " would exceed ", kFftMaxLength,
                      " points (kernel span dil·(k-1)+1 = ", p.dilation[a] * (p.ker[a] - 1) + 1,
                      ", full-resolution outputs ", (p.out[a] - 1) * p.stride[a] + 1, ")");
      return ch;
    }
  }
  const std::int64_t N1 = std::max<std::int64_t>(p.N, 1);
  const auto eval = [&](const fft_choice::Candidate n[3], bool by_workspace, double& value, FftGeometry& g) {
    if (!fft_choice::geometry(p, n, g)) return false;
    const FftWorkspace w = fft_workspace(g, 1, weights_per_call, t);
    if (by_workspace) {
      value = double(w.total);
      return w.total < kSizeMax;
    }
    if (w.total > limit) return false;
    const FftCostTerms c = fft_cost_terms(g, N1, t, weights_per_call);
    value = c.flops / kFftFlopsPerByte + c.bytes;
    return true;
  };
  const auto descend = [&](fft_choice::Candidate n[3], bool by_workspace) {
    double best = std::numeric_limits<double>::infinity();
    FftGeometry g;
    double v = 0;
    bool found = eval(n, by_workspace, v, g);
    if (found) best = v;
    for (int round = 0; round < 2; ++round)
      for (int a = 0; a < 3; ++a)
        for (const fft_choice::Candidate& c : cand[a]) {
          fft_choice::Candidate m[3] = {n[0], n[1], n[2]};
          m[a] = c;
          if (eval(m, by_workspace, v, g) && v < best) {
            best = v;
            n[a] = c;
            found = true;
          }
        }
    return found;
  };
  // Least workspace first (from the whole-signal lengths).
  fft_choice::Candidate n[3];
  for (int a = 0; a < 3; ++a) n[a] = cand[a].back();
  if (!descend(n, true)) {
    ch.reason = "no transform lengths give a batch that cuFFT and cuBLAS can plan (the blocks of one image, "
                "times the channels, exceed 2^31 - 1, or a transform would exceed 2^31 - 1 points)";
    return ch;
  }
  FftGeometry g;
  fft_choice::geometry(p, n, g);
  ch.min_bytes = fft_workspace(g, 1, weights_per_call, t).total;
  if (p.N == 0) ch.min_bytes = 0;
  if (ch.min_bytes > limit) {
    ch.reason = "the least workspace the Fft path runs with exceeds the limit";
    return ch;
  }
  descend(n, false);  // stays feasible: the start fits the limit
  fft_choice::geometry(p, n, g);
  ch.geo = g;
  ch.ok = true;
  // Images per pass: as many as fit max(min, min(limit, whole batch)), and
  // few enough that the blocks of a pass stay a cuBLAS dimension.
  const std::size_t full = fft_workspace(g, N1, weights_per_call, t).total;
  ch.full_bytes = p.N == 0 ? 0 : full;
  const std::size_t budget = std::min(full, limit);
  std::int64_t lo = 1, hi = N1;
  const std::int64_t cap = std::max<std::int64_t>(1, kFftMaxGemmDim / std::max<std::int64_t>(
                                                                        1, g.blocks * std::max(g.C, g.K)));
  hi = std::min(hi, cap);
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (fft_workspace(g, mid, weights_per_call, t).total <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  ch.chunk = lo;
  ch.ws = fft_workspace(g, lo, weights_per_call, t);
  return ch;
}

/// The configuration a ConvPlan runs: the one-shot choice (its real buffer
/// also stages the K·Cg kernels for set_weights) less the weight spectra,
/// which the plan owns. The benchmark's transforms-only floor uses it too.
inline FftChoice fft_plan_choice(const ConvProblem& p, DType t, std::size_t limit) {
  FftChoice s = fft_choose(p, t, limit, true);
  if (s.ok) {
    s.ws.total -= s.ws.wspec;
    s.ws.wspec = 0;
  }
  return s;
}

/// One cuFFT transform of a pass, as data. Real side: batch entry b, point j
/// at b·P + j. Complex side: (b, f) at fft_spectrum_index(freq_major, batch, F, b, f).
struct FftTransform {
  bool inverse = false;  ///< C2R (Z2D) rather than R2C (D2Z)
  int rank = 1;
  std::int64_t n[3] = {1, 1, 1};  ///< the used axes' lengths, outermost first
  std::int64_t batch = 0;
  bool freq_major = false;
  std::int64_t points = 1, freqs = 1;
};
inline FftTransform fft_transform(const FftGeometry& g, bool inverse, std::int64_t batch) {
  FftTransform t;
  t.inverse = inverse;
  t.rank = g.dims;
  for (int i = 0; i < g.dims; ++i) t.n[i] = g.ax[3 - g.dims + i].n;
  t.batch = batch;
  t.freq_major = !g.pointwise;
  t.points = g.points;
  t.freqs = g.freqs;
  return t;
}

/// One cuBLAS complex strided-batched GEMM (column-major terms), batched over
/// the F frequencies, for one group g:
///   Y_f[K × M] (ldc K) slice rows g·Kg..  =  op(W_f) · X_f[C × M] (ldb C) slice rows g·Cg..
/// with W_f stored row-major [K][Cg] (column-major [Cg × K], lda Cg) and op =
/// transpose, or conjugate transpose for cross-correlation.
struct FftGemm {
  bool conj_a = true;
  std::int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  std::int64_t a_offset = 0, b_offset = 0, c_offset = 0;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0, batch = 0;
};
inline std::vector<FftGemm> fft_gemms(const FftGeometry& g, std::int64_t M) {
  std::vector<FftGemm> v;
  for (std::int64_t gr = 0; gr < g.G; ++gr) {
    FftGemm q;
    q.conj_a = g.conj;
    q.m = g.Kg;
    q.n = M;
    q.k = g.Cg;
    q.lda = g.Cg;
    q.ldb = g.C;
    q.ldc = g.K;
    q.a_offset = gr * g.Kg * g.Cg;
    q.b_offset = gr * g.Cg;
    q.c_offset = gr * g.Kg;
    q.stride_a = g.K * g.Cg;
    q.stride_b = M * g.C;
    q.stride_c = M * g.K;
    q.batch = g.freqs;
    v.push_back(q);
  }
  return v;
}

/// The weight spectra of w into `wspec` (F·K·Cg complex), through `real`
/// (P·K·Cg elements). Exec: see fft_forward.
template <class T, class Exec>
void fft_weight_spectra(Exec& ex, const FftGeometry& g, const T* w, T* real, FftComplex<T>* wspec) {
  ex.kernels(g, w, real);
  ex.transform(fft_transform(g, false, g.K * g.Cg), real, wspec);
}

/// The buffers of one pass (pointers into the workspace, or the test's).
template <class T>
struct FftBuffers {
  T* real = nullptr;
  FftComplex<T>* xspec = nullptr;
  FftComplex<T>* yspec = nullptr;  ///< null on the pointwise path (y's spectra overwrite x's)
};

/// The forward pass of N images in passes of ch.chunk: y = conv(x, w) + b,
/// with wspec the weight spectra (fft_weight_spectra). Exec provides
///   kernels(g, w, real)                              launch_fft_kernels
///   gather(g, x, first, count, real)                 launch_fft_gather
///   transform(FftTransform, real, spec)              R2C, or C2R from spec into real
///   pointwise(g, batch, xy, wspec)                   launch_fft_pointwise
///   gemm(FftGemm, wspec, xspec, yspec)               cuBLAS C/ZgemmStridedBatched
///   extract(g, real, bias, scale, count, y_chunk)    launch_fft_extract
template <class T, class Exec>
void fft_forward(Exec& ex, const FftChoice& ch, std::int64_t N, const T* x, const FftComplex<T>* wspec,
                 const T* bias, T* y, const FftBuffers<T>& buf) {
  const FftGeometry& g = ch.geo;
  const T scale = T(1) / T(g.points);
  for (std::int64_t first = 0; first < N; first += ch.chunk) {
    const std::int64_t count = std::min(ch.chunk, N - first);
    const std::int64_t M = count * g.blocks;
    ex.gather(g, x, first, count, buf.real);
    ex.transform(fft_transform(g, false, M * g.C), buf.real, buf.xspec);
    FftComplex<T>* yspec = buf.xspec;
    if (g.pointwise) {
      ex.pointwise(g, M * g.K, buf.xspec, wspec);
    } else {
      yspec = buf.yspec;
      for (const FftGemm& q : fft_gemms(g, M)) ex.gemm(q, wspec, buf.xspec, yspec);
    }
    ex.transform(fft_transform(g, true, M * g.K), buf.real, yspec);
    ex.extract(g, buf.real, bias, scale, count, y + first * g.K * g.out_spatial);
  }
}

/// Plans held by a context's cuFFT plan cache now, and its capacity (the
/// least recently used plan is destroyed beyond it).
CONVKIT_EXPORT std::size_t fft_plan_cache_entries(const Context& ctx);
CONVKIT_EXPORT std::size_t fft_plan_cache_capacity();

/// The work area cuFFT asks for to run transform `t` in one call (its plan,
/// made through ctx's cache): what the workspace's `work` reserve must hold.
/// For the GPU tests that check the reserve.
CONVKIT_EXPORT std::size_t fft_work_area_bytes(Context& ctx, const FftTransform& t, DType dt);

}  // namespace convkit::detail
