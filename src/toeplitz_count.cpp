// Closed-form counts of the Toeplitz matrix's entries, one axis at a time
// (axis_sums). toeplitz::info(), and through it Auto, supports() and
// workspace_bytes(), must answer in time independent of the signal length,
// the kernel length and the padding, so nothing here walks outputs or taps.
//
// Per axis, output o reads the arithmetic progression of positions
// A(o) = {a + i·dil : 0 <= i < k}, a = o·s - pad_lo, each folded by the
// boundary mode. Its row has E(o) distinct folded indices (the CSR entries)
// and T(o) taps that read an input element. Interior outputs have
// E = T = k; the border outputs are summed arithmetically:
//
//  * Zeros: E = T = #(A ∩ [0, D-1]).
//  * Circular (pad <= D, so A ⊂ [-D, 2D-1] and the fold is p mod D): T = k,
//    E = min(k, D / gcd(dil, D)), the number of residues of an arithmetic
//    progression modulo D.
//  * Replicate: T = k, E = #(A ∩ [0, D-1]) plus one for the low edge when
//    some tap is below 0 and none is exactly 0, likewise for the high edge.
//  * Reflect (pad < D, so A ⊂ [-(D-1), 2D-2]): T = k. A folded value v has
//    the preimages {v, -v, P - v} (P = 2(D-1)); E = k minus, over the values
//    hit, (preimages in A - 1) = k - pairs + triples, with three kinds of
//    pairs: (v, -v), (v, P - v) and (-v, P - v). Two progressions with the
//    same step meet only when their offsets agree modulo dil, and then in a
//    run of that class whose ends are linear in a; so each pair count is a
//    piecewise-linear function on an arithmetic progression of outputs.
//  * Symmetric (pad <= D, so A ⊂ [-D, 2D-1]): the same with the preimages
//    {v, -1 - v, 2D-1 - v}, three distinct for every v.
//
// Sums over outputs of #(A ∩ [lo, hi]) are floor sums (Σ floor((α·t + β)/m),
// O(log) by the Euclid-like reduction); sums of piecewise-linear counts are
// arithmetic series between their breakpoints. make_axis_tables() still
// walks every border output and tap (it builds the tables the device reads),
// and the tests check the two against each other.
#include "check.hpp"
#include "toeplitz.cuh"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace convkit::detail::toeplitz {
namespace {

using i128 = __int128;
using u128 = unsigned __int128;

constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();

// Floor and ceiling division for any signs (d > 0).
i128 fdiv(i128 n, i128 d) { return n >= 0 ? n / d : -((-n + d - 1) / d); }
i128 cdiv(i128 n, i128 d) { return -fdiv(-n, d); }
i128 fmod_pos(i128 n, i128 d) { return n - fdiv(n, d) * d; }
i128 clamp128(i128 v, i128 lo, i128 hi) { return v < lo ? lo : (v > hi ? hi : v); }

i128 gcd128(i128 a, i128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    const i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// x with a·x ≡ 1 (mod m), for gcd(a, m) = 1, m >= 1.
i128 mod_inverse(i128 a, i128 m) {
  if (m == 1) return 0;
  i128 old_r = fmod_pos(a, m), r = m, old_s = 1, s = 0;
  while (r != 0) {
    const i128 q = old_r / r;
    i128 t = old_r - q * r;
    old_r = r;
    r = t;
    t = old_s - q * s;
    old_s = s;
    s = t;
  }
  return fmod_pos(old_s, m);
}

// Σ_{i=0}^{n-1} floor((a·i + b) / m) for a, b >= 0, m >= 1. The callers keep
// every term below 2^63 and n below 2^63, so the sum fits 126 bits.
u128 floor_sum(u128 n, u128 m, u128 a, u128 b) {
  u128 ans = 0;
  while (n != 0) {
    if (a >= m) {
      const u128 tri = (n % 2 == 0) ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
      ans += tri * (a / m);
      a %= m;
    }
    if (b >= m) {
      ans += n * (b / m);
      b %= m;
    }
    const u128 y_max = a * n + b;
    if (y_max < m) break;
    n = y_max / m;
    b = y_max % m;
    const u128 t = m;
    m = a;
    a = t;
  }
  return ans;
}

// One axis of a problem, as the sums below need it.
struct Axis {
  i128 D, k, s, dil, pad, O;
};

// Σ_{o in [o0, o1)} #{i in [0, kk) : o·s - pad + i·dil <= x}.
i128 sum_taps_at_most(const Axis& ax, i128 kk, i128 o0, i128 o1, i128 x) {
  if (kk <= 0 || o0 >= o1) return 0;
  // g(o) = floor((x + pad - o·s) / dil) + 1 taps at most x, clamped to [0, kk];
  // g is non-increasing in o.
  const i128 c0 = x + ax.pad;
  const i128 oA = fdiv(c0 - (kk - 1) * ax.dil, ax.s);  // g(o) >= kk for o <= oA
  const i128 oB = fdiv(c0, ax.s) + 1;                 // g(o) <= 0 for o >= oB
  i128 total = 0;
  const i128 full_end = clamp128(oA + 1, o0, o1);
  total += (full_end - o0) * kk;
  const i128 m0 = full_end, m1 = clamp128(oB, o0, o1) - 1;  // middle: 0 < g < kk
  if (m1 >= m0) {
    // Reversed, t = m1 - o: g = floor((c + t·s) / dil) + 1 with c >= 0.
    const i128 c = c0 - m1 * ax.s;
    total += static_cast<i128>(floor_sum(static_cast<u128>(m1 - m0 + 1), static_cast<u128>(ax.dil),
                                         static_cast<u128>(ax.s), static_cast<u128>(c))) +
             (m1 - m0 + 1);
  }
  return total;
}

// Σ_{o in [o0, o1)} #{i in [0, kk) : lo <= o·s - pad + i·dil <= hi}.
i128 sum_taps_in(const Axis& ax, i128 kk, i128 o0, i128 o1, i128 lo, i128 hi) {
  if (hi < lo) return 0;
  return sum_taps_at_most(ax, kk, o0, o1, hi) - sum_taps_at_most(ax, kk, o0, o1, lo - 1);
}

// #{o in [o0, o1) : o·s < c} and #{o in [o0, o1) : o·s == c}.
i128 count_below(const Axis& ax, i128 o0, i128 o1, i128 c) {
  return clamp128(cdiv(c, ax.s), o0, o1) - o0;
}
i128 count_equal(const Axis& ax, i128 o0, i128 o1, i128 c) {
  if (fmod_pos(c, ax.s) != 0) return 0;
  const i128 o = c / ax.s;
  return (o >= o0 && o < o1) ? 1 : 0;
}

// A line v(t) = c + t·d over t in [0, n).
struct Line {
  i128 c, d;
  i128 at(i128 t) const { return c + d * t; }
};

// Σ_{t in [0, n)} max(0, (min_j U_j(t) - max_l L_l(t)) / dil + 1), where every
// difference U_j(t) - L_l(t) is a multiple of dil at every t (the bounds are
// members of one residue class). The minimum of the differences is concave
// and piecewise linear; between consecutive crossings of the lines it
// follows one line, whose non-negative part (a prefix or a suffix of the
// run) is summed as an arithmetic series.
i128 sum_class_runs(const std::vector<Line>& U, const std::vector<Line>& L, i128 n, i128 dil) {
  if (n <= 0) return 0;
  std::vector<Line> h;
  for (const Line& u : U)
    for (const Line& l : L) h.push_back({u.c - l.c, u.d - l.d});
  std::vector<i128> cut{0, n};
  auto add_cut = [&](i128 num, i128 den) {  // the real root num / den, rounded both ways
    if (den < 0) num = -num, den = -den;
    for (const i128 t : {fdiv(num, den), cdiv(num, den)})
      if (t > 0 && t < n) cut.push_back(t);
  };
  for (std::size_t i = 0; i < h.size(); ++i) {
    for (std::size_t j = i + 1; j < h.size(); ++j)
      if (h[i].d != h[j].d) add_cut(h[j].c - h[i].c, h[i].d - h[j].d);
  }
  std::sort(cut.begin(), cut.end());
  cut.erase(std::unique(cut.begin(), cut.end()), cut.end());
  auto min_at = [&](i128 t) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < h.size(); ++i)
      if (h[i].at(t) < h[best].at(t)) best = i;
    return best;
  };
  i128 total = 0;
  for (std::size_t c = 0; c + 1 < cut.size(); ++c) {
    const i128 t0 = cut[c], t1 = cut[c + 1] - 1;
    // No crossing lies strictly inside (t0, t1 + 1) unless the run is a single
    // t, so the line that is least just inside is least on the whole run.
    const Line& line = h[min_at(t1 > t0 ? t0 + 1 : t0)];
    // The positive part of one line on [t0, t1]: a prefix or a suffix.
    i128 lo = t0, hi = t1;
    if (line.d > 0) lo = std::max(lo, cdiv(-line.c, line.d));
    if (line.d < 0) hi = std::min(hi, fdiv(line.c, -line.d));
    if (line.d == 0 && line.c < 0) continue;
    if (lo > hi) continue;
    const i128 len = hi - lo + 1, ends = line.at(lo) / dil + 1 + line.at(hi) / dil + 1;
    total += (len % 2 == 0) ? (len / 2) * ends : len * (ends / 2);
  }
  return total;
}

// Σ over o in [o0, o1) with 2a ≡ r (mod dil) (a = o·s - pad) of the class run
// count with bounds U(a), L(a) given as lines in a: {ca + da·a}.
i128 sum_over_class(const Axis& ax, i128 o0, i128 o1, i128 r, const std::vector<Line>& U_a,
                    const std::vector<Line>& L_a) {
  if (o0 >= o1) return 0;
  // 2s·o ≡ 2·pad + r (mod dil).
  const i128 A = fmod_pos(2 * ax.s, ax.dil), B = fmod_pos(2 * ax.pad + r, ax.dil);
  const i128 g = gcd128(A, ax.dil);  // gcd(0, dil) = dil
  if (fmod_pos(B, g) != 0) return 0;
  const i128 q = ax.dil / g;
  const i128 o_star = fmod_pos((B / g) * mod_inverse(A / g, q), q);
  const i128 first = o0 + fmod_pos(o_star - o0, q);
  if (first >= o1) return 0;
  const i128 n = (o1 - 1 - first) / q + 1;
  // Along t: a = a_f + t·q·s.
  const i128 a_f = first * ax.s - ax.pad, step = q * ax.s;
  auto to_t = [&](const std::vector<Line>& in) {
    std::vector<Line> out;
    for (const Line& l : in) out.push_back({l.c + l.d * a_f, l.d * step});
    return out;
  };
  return sum_class_runs(to_t(U_a), to_t(L_a), n, ax.dil);
}

// Entries and taps summed over the outputs [o0, o1) of one axis.
struct Sums {
  i128 entries = 0, taps = 0;
};

Sums border_sums(const Axis& ax, Boundary b, i128 o0, i128 o1) {
  Sums r;
  if (o0 >= o1) return r;
  const i128 n = o1 - o0, k = ax.k, D = ax.D, dil = ax.dil;
  const i128 in_range = sum_taps_in(ax, k, o0, o1, 0, D - 1);
  switch (b) {
    case Boundary::Zeros:
      r.entries = r.taps = in_range;
      break;
    case Boundary::Circular:
      r.taps = n * k;
      r.entries = n * std::min<i128>(k, D / gcd128(dil, D));
      break;
    case Boundary::Replicate: {
      r.taps = n * k;
      if (D == 1) {  // both edges and the sample are element 0
        r.entries = n;
        break;
      }
      // Low edge: [a < 0] - [0 in A] + [a == 0]; high edge likewise with the
      // last position a + (k-1)·dil against D - 1.
      const i128 low = count_below(ax, o0, o1, ax.pad) - sum_taps_in(ax, k, o0, o1, 0, 0) +
                       count_equal(ax, o0, o1, ax.pad);
      const i128 c_hi = D - 1 + ax.pad - (k - 1) * dil;  // last == D - 1 at o·s == c_hi
      const i128 high = (n - count_below(ax, o0, o1, c_hi) - count_equal(ax, o0, o1, c_hi)) -
                        sum_taps_in(ax, k, o0, o1, D - 1, D - 1) + count_equal(ax, o0, o1, c_hi);
      r.entries = in_range + low + high;
      break;
    }
    case Boundary::Reflect: {
      r.taps = n * k;
      if (D == 1) {  // every tap folds onto element 0
        r.entries = n;
        break;
      }
      const i128 P = 2 * (D - 1), span = (k - 1) * dil;
      // Lines in a: a, -a, last = a + span, -last, P - a, P - last.
      const Line la{0, 1}, neg_a{0, -1}, last{span, 1}, neg_last{-span, -1}, p_a{P, -1}, p_last{P - span, -1};
      // (v, -v), v in [1, D-1]: (#(A ∩ -A) - [0 in A]) / 2.
      const i128 pairs1 = (sum_over_class(ax, o0, o1, 0, {last, neg_a}, {la, neg_last}) -
                           sum_taps_in(ax, k, o0, o1, 0, 0)) / 2;
      // (v, P - v), v in [0, D-2]: (#(A ∩ (P - A)) - [D-1 in A]) / 2.
      const i128 pairs2 = (sum_over_class(ax, o0, o1, P, {last, p_a}, {la, p_last}) -
                           sum_taps_in(ax, k, o0, o1, D - 1, D - 1)) / 2;
      i128 pairs3 = 0, triples = 0;
      if (P % dil == 0) {
        // (p, p + P) with p in [-(D-2), -1]: p + P in A iff p's tap index is
        // below k - P/dil, i.e. p is a tap of the progression cut to that length.
        const i128 kk = k - P / dil;
        pairs3 = sum_taps_in(ax, kk, o0, o1, -(D - 2), -1);
        // v in [1, D-2] with v, -v, P - v in A: the class run minus the ends
        // v = 0 (0 and P in A) and v = D-1 (-(D-1) and D-1 in A).
        triples = sum_over_class(ax, o0, o1, 0, {last, neg_a, p_a}, {la, neg_last, p_last}) -
                  sum_taps_in(ax, kk, o0, o1, 0, 0) - sum_taps_in(ax, kk, o0, o1, -(D - 1), -(D - 1));
      }
      r.entries = n * k - pairs1 - pairs2 - pairs3 + triples;
      break;
    }
    case Boundary::Symmetric: {
      r.taps = n * k;
      // Preimages of v in [0, D-1]: v, -1-v, Q-v (Q = 2D-1), always three
      // distinct positions and no fixed point, so no end corrections.
      const i128 Q = 2 * D - 1, span = (k - 1) * dil;
      const Line la{0, 1}, m1_a{-1, -1}, last{span, 1}, m1_last{-1 - span, -1}, q_a{Q, -1}, q_last{Q - span, -1};
      // (v, -1-v): A ∩ (-1 - A), offsets agree when 2a + 1 ≡ 0 (mod dil).
      const i128 pairs1 = sum_over_class(ax, o0, o1, -1, {last, m1_a}, {la, m1_last}) / 2;
      // (v, Q-v): A ∩ (Q - A), offsets agree when 2a ≡ Q (mod dil).
      const i128 pairs2 = sum_over_class(ax, o0, o1, Q, {last, q_a}, {la, q_last}) / 2;
      i128 pairs3 = 0, triples = 0;
      if ((2 * D) % dil == 0) {
        // (-1-v, Q-v) = (p, p + 2D), p in [-D, -1]: the progression cut to k - 2D/dil taps.
        pairs3 = sum_taps_in(ax, k - 2 * D / dil, o0, o1, -D, -1);
        triples = sum_over_class(ax, o0, o1, -1, {last, m1_a, q_a}, {la, m1_last, q_last});
      }
      r.entries = n * k - pairs1 - pairs2 - pairs3 + triples;
      break;
    }
  }
  return r;
}

std::int64_t sat64(i128 v) { return v > kI64Max ? kI64Max : static_cast<std::int64_t>(v); }

}  // namespace

AxisSums axis_sums(const ConvProblem& p, int slot) {
  const Axis ax{p.in[slot], p.ker[slot], p.stride[slot], p.dilation[slot], p.pad_lo[slot], p.out[slot]};
  const auto [ilo, ihi] = interior(p, slot);
  Sums lo = border_sums(ax, p.boundary, 0, ilo);
  Sums hi = border_sums(ax, p.boundary, ihi, ax.O);
  const i128 inner = static_cast<i128>(ihi - ilo) * ax.k;
  AxisSums s;
  s.borders = sat64(static_cast<i128>(ilo) + (ax.O - ihi));
  s.border_entries = sat64(lo.entries + hi.entries);
  s.border_taps = sat64(lo.taps + hi.taps);
  s.entries = sat64(lo.entries + hi.entries + inner);
  s.taps = sat64(lo.taps + hi.taps + inner);
  return s;
}

}  // namespace convkit::detail::toeplitz
