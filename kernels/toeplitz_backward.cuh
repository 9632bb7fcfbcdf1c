// SparseToeplitz's backward-filter as a product on T's pattern. For fixed
// shapes T's nonzero j (row r = k·ΠO + o, column cin·ΠD + s) holds the sum of
// the weight taps whose folded reads of output o land on element s, so
//
//   ∂L/∂value_j = s_j = Σ_n dy[n, r] · x[n, col_j]        (a sampled product:
//                                                         dyᵀ·x on T's pattern)
//   ∂L/∂w[k, c, t] = Σ_o s_{j(o, t)}                      (each tap t of output
//                                                         o feeds one nonzero)
//
// Step 1 runs one thread per row over its nonzeros (rows are independent);
// step 2 one thread per weight element, walking the outputs in order and
// finding each (row, column) nonzero by binary search in the row's sorted
// columns. Both sum in a fixed order: no atomics, bit-reproducible. Both are
// __host__ __device__ so the CPU tests run them on host-built matrices and
// compare with the reference's backward-filter.
#pragma once

#include <convkit/spec.hpp>

#include "indexing.cuh"

#include <cuda_runtime_api.h>

#include <cstdint>

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

/// ∂L/∂w at flat weight index wi = (k·C/G + c)·Πk + tap slot: Σ over the
/// outputs o (ascending) whose tap reads an input element of s[j(o, tap)].
/// The slot holds tap position tap_index(slot) (the flip under convolution).
template <class T, class I>
CONVKIT_HD T filter_gradient_element(const ConvProblem& p, const I* row_ptr, const I* col_ind, const T* s,
                                     std::int64_t wi) {
  const std::int64_t R = p.ker_spatial(), Cg = p.Cg();
  const std::int64_t slot = wi % R, kc = wi / R;
  const std::int64_t c = kc % Cg, k = kc / Cg;
  const std::int64_t j2 = slot % p.ker[2], j1 = (slot / p.ker[2]) % p.ker[1], j0 = slot / (p.ker[2] * p.ker[1]);
  const std::int64_t i0 = tap_index(j0, p.ker[0], p.mode), i1 = tap_index(j1, p.ker[1], p.mode),
                     i2 = tap_index(j2, p.ker[2], p.mode);
  const std::int64_t cin = (k / p.Kg()) * Cg + c;
  const std::int64_t P = p.in_spatial(), Q = p.out_spatial();
  T acc = T(0);
  for (std::int64_t o0 = 0; o0 < p.out[0]; ++o0)
    for (std::int64_t o1 = 0; o1 < p.out[1]; ++o1)
      for (std::int64_t o2 = 0; o2 < p.out[2]; ++o2) {
        const std::int64_t src = source_offset(p, o0, o1, o2, i0, i1, i2);
        if (src < 0) continue;
        const std::int64_t r = k * Q + (o0 * p.out[1] + o1) * p.out[2] + o2;
        const std::int64_t j = find_in_row(row_ptr, col_ind, r, cin * P + src);
        if (j >= 0) acc += s[j];  // always found on a matrix built for p
      }
  return acc;
}

/// Device launches (toeplitz_backward.cu), asynchronous on `stream`:
/// s = dyᵀ·x sampled on the pattern, then dw = (accumulate ? dw : 0) + ∂L/∂w.
template <class T, class I>
void filter_gradient_device(cudaStream_t stream, const ConvProblem& p, const I* row_ptr, const I* col_ind,
                            std::int64_t rows, std::int64_t cols, const T* dy, const T* x, T* s, T* dw,
                            bool accumulate);

}  // namespace convkit::detail::toeplitz
