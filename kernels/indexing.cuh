// Index arithmetic shared by every path: boundary folding and the source
// element a (output, tap) pair reads. Plain C++ with __host__ __device__ when
// compiled by nvcc, so the CPU reference and the CPU tests run exactly the
// code the kernels run.
#pragma once

#include <convkit/spec.hpp>

#include <cstdint>

#if defined(__CUDACC__)
#define CONVKIT_HD __host__ __device__ __forceinline__
#else
#define CONVKIT_HD inline
#endif

namespace convkit::detail {

/// Maps a position p of the boundary-extended input (p may lie in
/// [-pad_lo, D - 1 + pad_hi]) to the element of x it reads, or -1 when it
/// reads an implicit zero. Validation guarantees the folds below need a
/// single step: circular and symmetric pad <= D, reflect pad < D.
CONVKIT_HD std::int64_t fold_index(std::int64_t p, std::int64_t D, Boundary b) {
  if (p >= 0 && p < D) return p;
  switch (b) {
    case Boundary::Zeros: return -1;
    case Boundary::Circular: return p < 0 ? p + D : p - D;
    case Boundary::Reflect: return p < 0 ? -p : 2 * (D - 1) - p;
    case Boundary::Replicate: return p < 0 ? 0 : D - 1;
    case Boundary::Symmetric: return p < 0 ? -1 - p : 2 * D - 1 - p;
  }
  return -1;
}

/// Smallest power of two >= v, at least lo and at most hi (lo a power of two).
CONVKIT_HD std::int64_t pow2_between(std::int64_t v, std::int64_t lo, std::int64_t hi) {
  std::int64_t p = lo;
  while (p < v && p < hi) p *= 2;
  return p;
}

/// The weight tap index for tap position i of a kernel of size k: i for
/// cross-correlation, k-1-i for convolution (the flip).
CONVKIT_HD std::int64_t tap_index(std::int64_t i, std::int64_t k, Mode m) {
  return m == Mode::CrossCorrelation ? i : k - 1 - i;
}

/// Position (before folding) in the extended input along one slot that
/// output o and tap i read: o*s + i*dil - pad_lo.
CONVKIT_HD std::int64_t input_position(const ConvProblem& p, int slot, std::int64_t o, std::int64_t i) {
  return o * p.stride[slot] + i * p.dilation[slot] - p.pad_lo[slot];
}

/// Spatial offset (within one channel plane, row-major over the 3 slots) of
/// the input element that output (o0,o1,o2) and tap (i0,i1,i2) read, or -1
/// when it reads an implicit zero.
CONVKIT_HD std::int64_t source_offset(const ConvProblem& p, std::int64_t o0, std::int64_t o1,
                                      std::int64_t o2, std::int64_t i0, std::int64_t i1,
                                      std::int64_t i2) {
  const std::int64_t q0 = fold_index(input_position(p, 0, o0, i0), p.in[0], p.boundary);
  const std::int64_t q1 = fold_index(input_position(p, 1, o1, i1), p.in[1], p.boundary);
  const std::int64_t q2 = fold_index(input_position(p, 2, o2, i2), p.in[2], p.boundary);
  if (q0 < 0 || q1 < 0 || q2 < 0) return -1;
  return (q0 * p.in[1] + q1) * p.in[2] + q2;
}

/// Offset of weight tap (i0,i1,i2) within one [k0,k1,k2] filter, with the
/// flip applied for Mode::Convolution.
CONVKIT_HD std::int64_t weight_offset(const ConvProblem& p, std::int64_t i0, std::int64_t i1, std::int64_t i2) {
  return (tap_index(i0, p.ker[0], p.mode) * p.ker[1] + tap_index(i1, p.ker[1], p.mode)) * p.ker[2] +
         tap_index(i2, p.ker[2], p.mode);
}

}  // namespace convkit::detail
