// SparseToeplitz's backward-filter as a product on T's pattern. For fixed
// shapes T's nonzero j (row r = k·ΠO + o, column cin·ΠD + s) holds the sum of
// the weight taps whose folded reads of output o land on element s, so
//
//   ∂L/∂value_j = s_j = Σ_n dy[n, r] · x[n, col_j]        (a sampled product:
//                                                         dyᵀ·x on T's pattern)
//   ∂L/∂w[k, c, t] = Σ_o s_{j(o, t)}                      (each tap t of output
//                                                         o feeds one nonzero)
//
// Step 1 runs one thread per row over its nonzeros (rows are independent).
// Step 2 splits each weight's sum over the ΠO outputs into segments (a pure
// function of the problem, sampled_dw_segments) so that a few weights over
// a long signal still fill the GPU: one thread per (segment, weight) walks
// its outputs in order, finding each (row, column) nonzero by binary search
// in the row's sorted columns, and writes a partial; a second pass sums each
// weight's partials in segment order. Everything sums in a fixed order: no
// atomics, bit-reproducible. The per-thread functions are __host__
// __device__ so the CPU tests run them on host-built matrices and compare
// with the reference's backward-filter.
#pragma once

#include <convkit/spec.hpp>

#include "indexing.cuh"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <climits>

namespace convkit::detail::toeplitz {

/// s[j] for every nonzero j of row r: Σ_n dy[n·rows + r] · x[n·cols + col[j]],
/// n ascending. dy is [N, rows] (NCHW y), x [N, cols] (NCHW x).
template <class T, class I>
CONVKIT_HD void sampled_row(const I* row_ptr, const I* col_ind, std::int64_t rows, std::int64_t cols,
                            std::int64_t N, const T* dy, const T* x, T* s, std::int64_t r) {
  for (I j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
    const std::int64_t c = col_ind[j];
    T acc = T(0);
    for (std::int64_t n = 0; n < N; ++n) acc += dy[n * rows + r] * x[n * cols + c];
    s[j] = acc;
  }
}

/// The nonzero of row r in column c (binary search in the row's ascending
/// columns), or -1 when the row has none there.
template <class I>
CONVKIT_HD std::int64_t find_in_row(const I* row_ptr, const I* col_ind, std::int64_t r, std::int64_t c) {
  std::int64_t lo = row_ptr[r], hi = row_ptr[r + 1];
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (col_ind[mid] < c)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (lo < row_ptr[r + 1] && col_ind[lo] == c) ? lo : -1;
}

/// Threads step 2 aims for (enough to fill an H100 / H200), and the most
/// segments one weight's sum is split into.
constexpr std::int64_t kSampledTargetThreads = std::int64_t(132) * 2048;
constexpr std::int64_t kSampledMaxSegments = 1024;

/// Segments of the ΠO outputs each weight's sum is split into: enough
/// (segment, weight) threads to fill the GPU, at most kSampledMaxSegments,
/// none empty. Pure.
inline std::int64_t sampled_dw_segments(const ConvProblem& p) {
  const std::int64_t weights = p.K * p.Cg() * p.ker_spatial(), Q = p.out_spatial();
  if (weights <= 0 || Q <= 1) return 1;
  // ceil(a / b) for a >= 0, b > 0, without overflowing near INT64_MAX.
  const auto cdiv = [](std::int64_t a, std::int64_t b) { return a / b + (a % b != 0 ? 1 : 0); };
  std::int64_t want = cdiv(kSampledTargetThreads, weights);
  if (want > kSampledMaxSegments) want = kSampledMaxSegments;
  if (want > Q) want = Q;
  if (want < 1) want = 1;
  const std::int64_t len = cdiv(Q, want);
  return cdiv(Q, len);
}

/// Outputs per segment (the last may have fewer).
inline std::int64_t sampled_dw_segment_length(const ConvProblem& p) {
  const std::int64_t S = sampled_dw_segments(p), Q = p.out_spatial();
  return Q / S + (Q % S != 0 ? 1 : 0);
}

/// Workspace elements of the backward-filter: s (one per nonzero) and, with
/// more than one segment, the partials [segments, weights].
/// Saturates at INT64_MAX (the queries size absurd problems too); S > 1 only
/// for fewer than kSampledTargetThreads weights, so the partials term is small.
inline std::int64_t sampled_dw_workspace_elems(const ConvProblem& p, std::int64_t nnz) {
  const std::int64_t S = sampled_dw_segments(p);
  const std::int64_t extra = S > 1 ? S * p.K * p.Cg() * p.ker_spatial() : 0;
  return nnz > INT64_MAX - extra ? INT64_MAX : nnz + extra;
}

/// ∂L/∂w at flat weight index wi = (k·C/G + c)·Πk + tap slot, summed over
/// the flat outputs o in [o_begin, o_end) (ascending) whose tap reads an
/// input element: Σ s[j(o, tap)]. The slot holds tap position
/// tap_index(slot) (the flip under convolution).
template <class T, class I>
CONVKIT_HD T filter_gradient_range(const ConvProblem& p, const I* row_ptr, const I* col_ind, const T* s,
                                   std::int64_t wi, std::int64_t o_begin, std::int64_t o_end) {
  const std::int64_t R = p.ker_spatial(), Cg = p.Cg();
  const std::int64_t slot = wi % R, kc = wi / R;
  const std::int64_t c = kc % Cg, k = kc / Cg;
  const std::int64_t j2 = slot % p.ker[2], j1 = (slot / p.ker[2]) % p.ker[1], j0 = slot / (p.ker[2] * p.ker[1]);
  const std::int64_t i0 = tap_index(j0, p.ker[0], p.mode), i1 = tap_index(j1, p.ker[1], p.mode),
                     i2 = tap_index(j2, p.ker[2], p.mode);
  const std::int64_t cin = (k / p.Kg()) * Cg + c;
  const std::int64_t P = p.in_spatial(), Q = p.out_spatial();
  T acc = T(0);
  for (std::int64_t o = o_begin; o < o_end; ++o) {
    const std::int64_t o2 = o % p.out[2], o1 = (o / p.out[2]) % p.out[1], o0 = o / (p.out[2] * p.out[1]);
    const std::int64_t src = source_offset(p, o0, o1, o2, i0, i1, i2);
    if (src < 0) continue;
    const std::int64_t j = find_in_row(row_ptr, col_ind, k * Q + o, cin * P + src);
    if (j >= 0) acc += s[j];  // always found on a matrix built for p
  }
  return acc;
}

/// The whole sum of filter_gradient_range over every output.
template <class T, class I>
CONVKIT_HD T filter_gradient_element(const ConvProblem& p, const I* row_ptr, const I* col_ind, const T* s,
                                     std::int64_t wi) {
  return filter_gradient_range(p, row_ptr, col_ind, s, wi, 0, p.out_spatial());
}

/// Step 2, pass 1: thread t = segment·weights + wi writes its partial.
template <class T, class I>
CONVKIT_HD void filter_gradient_partial(const ConvProblem& p, const I* row_ptr, const I* col_ind, const T* s,
                                        std::int64_t seg_len, std::int64_t t, T* partials) {
  const std::int64_t weights = p.K * p.Cg() * p.ker_spatial(), Q = p.out_spatial();
  const std::int64_t seg = t / weights, wi = t % weights;
  const std::int64_t b = seg * seg_len, e = b + seg_len < Q ? b + seg_len : Q;
  partials[t] = filter_gradient_range(p, row_ptr, col_ind, s, wi, b, e);
}

/// Step 2, pass 2: weight wi's partials summed in segment order into dw.
template <class T>
CONVKIT_HD void filter_gradient_finish(std::int64_t weights, std::int64_t segments, const T* partials, T* dw,
                                       bool accumulate, std::int64_t wi) {
  T acc = T(0);
  for (std::int64_t seg = 0; seg < segments; ++seg) acc += partials[seg * weights + wi];
  dw[wi] = accumulate ? dw[wi] + acc : acc;
}

/// Device launches (toeplitz_backward.cu), asynchronous on `stream`:
/// s = dyᵀ·x sampled on the pattern, then dw = (accumulate ? dw : 0) + ∂L/∂w.
/// `work` holds sampled_dw_workspace_elems(p, nnz) elements (s first).
template <class T, class I>
void filter_gradient_device(cudaStream_t stream, const ConvProblem& p, const I* row_ptr, const I* col_ind,
                            std::int64_t rows, std::int64_t cols, std::int64_t nnz, const T* dy, const T* x, T* work,
                            T* dw, bool accumulate);

}  // namespace convkit::detail::toeplitz
