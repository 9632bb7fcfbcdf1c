// The adjoint of the forward index map along one spatial axis: which
// (output o, tap i) pairs read input element q once boundary folding is
// applied. Backward-data gathers (Direct) and col2im (Im2colGemm) both sum
// over exactly these pairs, so each dx element is owned by one thread and
// summed in a fixed order: no atomics, bit-reproducible.
//
// Forward: output o and tap i read extended position p = o·s + i·dil − lo,
// which folds onto q = fold_index(p) (or an implicit zero). Its adjoint: the
// positions p in [−lo, D − 1 + hi] with fold_index(p) == q form at most three
// disjoint ranges (the identity, and per boundary mode the mirrored or
// wrapped copies; replicate's whole padding run onto the edge elements), and
// for each range and tap the outputs that land in it are an arithmetic run,
// found without walking the range.
#pragma once

#include "indexing.cuh"

#include <cstdint>

namespace convkit::detail {

/// Up to three disjoint ranges [first[r], last[r]] of extended positions.
struct Preimages {
  int count = 0;
  std::int64_t first[3] = {0, 0, 0};
  std::int64_t last[3] = {0, 0, 0};
};

/// The extended positions p in [−lo, D − 1 + hi] that fold onto element q
/// (0 <= q < D) under `b`, as disjoint ranges in increasing order of the
/// rule that produces them (identity first). Assumes validated padding
/// (circular / symmetric pad <= D, reflect pad < D; replicate any).
CONVKIT_HD Preimages axis_preimages(std::int64_t q, std::int64_t D, std::int64_t lo, std::int64_t hi, Boundary b) {
  Preimages r;
  auto add = [&](std::int64_t a, std::int64_t z) {
    if (a < -lo) a = -lo;
    if (z > D - 1 + hi) z = D - 1 + hi;
    if (a > z) return;
    r.first[r.count] = a;
    r.last[r.count] = z;
    ++r.count;
  };
  add(q, q);
  switch (b) {
    case Boundary::Zeros: break;
    case Boundary::Circular:
      add(q - D, q - D);
      add(q + D, q + D);
      break;
    case Boundary::Reflect:
      if (q >= 1) add(-q, -q);
      if (q <= D - 2) add(2 * (D - 1) - q, 2 * (D - 1) - q);
      break;
    case Boundary::Symmetric:
      add(-1 - q, -1 - q);
      add(2 * D - 1 - q, 2 * D - 1 - q);
      break;
    case Boundary::Replicate:
      if (q == 0) add(-lo, -1);
      if (q == D - 1) add(D, D - 1 + hi);
      break;
  }
  return r;
}

/// floor(a / b) for b > 0.
CONVKIT_HD std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t d = a / b;
  return (a % b != 0 && a < 0) ? d - 1 : d;
}

/// Calls f(o, i) for every output o in [0, O) and tap i in [0, k) whose
/// extended position o·s + i·dil − lo lies in one of `pre`'s ranges: ranges
/// in order, then taps ascending, then outputs ascending (a fixed order, so
/// sums over the pairs are reproducible). Each pair comes at most once.
template <class F>
CONVKIT_HD void for_each_reader(const Preimages& pre, std::int64_t O, std::int64_t k, std::int64_t s,
                                std::int64_t dil, std::int64_t lo, F&& f) {
  for (int r = 0; r < pre.count; ++r)
    for (std::int64_t i = 0; i < k; ++i) {
      // o·s ∈ [first + lo − i·dil, last + lo − i·dil]
      const std::int64_t a = pre.first[r] + lo - i * dil, z = pre.last[r] + lo - i * dil;
      std::int64_t o0 = -floor_div(-a, s);  // ceil(a / s)
      std::int64_t o1 = floor_div(z, s);
      if (o0 < 0) o0 = 0;
      if (o1 > O - 1) o1 = O - 1;
      for (std::int64_t o = o0; o <= o1; ++o) f(o, i);
    }
}

/// for_each_reader for element q of spatial slot `slot` of problem p.
template <class F>
CONVKIT_HD void for_each_reader_of(const ConvProblem& p, int slot, std::int64_t q, F&& f) {
  const Preimages pre = axis_preimages(q, p.in[slot], p.pad_lo[slot], p.pad_hi[slot], p.boundary);
  for_each_reader(pre, p.out[slot], p.ker[slot], p.stride[slot], p.dilation[slot], p.pad_lo[slot], f);
}

}  // namespace convkit::detail
