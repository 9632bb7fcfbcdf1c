// The adjoint index map (kernels/adjoint.cuh) against brute force: for every
// small axis (each boundary, stride, dilation, padding allowed by validation)
// the (output, tap) pairs for_each_reader lists for element q are exactly the
// pairs whose folded forward position is q, each once, in a fixed order.
#include "adjoint.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace convkit::test {
namespace {

using detail::axis_preimages;
using detail::fold_index;
using detail::for_each_reader;
using Pair = std::pair<std::int64_t, std::int64_t>;  // (o, i)

const Boundary kBoundaries[] = {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate,
                                Boundary::Symmetric};

// Largest padding validation allows on an axis of D elements.
std::int64_t max_pad(Boundary b, std::int64_t D) {
  switch (b) {
    case Boundary::Reflect: return D - 1;
    case Boundary::Circular:
    case Boundary::Symmetric: return D;
    default: return 2 * D + 3;
  }
}

TEST(Adjoint, ReadersAreExactlyThePairsThatFoldOntoEachElement) {
  std::int64_t axes = 0, pairs = 0;
  for (Boundary b : kBoundaries)
    for (std::int64_t D = 1; D <= 7; ++D)
      for (std::int64_t k = 1; k <= 4; ++k)
        for (std::int64_t s = 1; s <= 3; ++s)
          for (std::int64_t dil = 1; dil <= 3; ++dil)
            for (std::int64_t lo = 0; lo <= max_pad(b, D); ++lo)
              for (std::int64_t hi = 0; hi <= max_pad(b, D); ++hi) {
                const std::int64_t span = D + lo + hi - dil * (k - 1);
                if (span < 1) continue;
                const std::int64_t O = (span - 1) / s + 1;
                std::map<std::int64_t, std::vector<Pair>> want;
                for (std::int64_t o = 0; o < O; ++o)
                  for (std::int64_t i = 0; i < k; ++i) {
                    const std::int64_t q = fold_index(o * s + i * dil - lo, D, b);
                    if (q >= 0) want[q].push_back({o, i});
                  }
                ++axes;
                for (std::int64_t q = 0; q < D; ++q) {
                  std::vector<Pair> got;
                  for_each_reader(axis_preimages(q, D, lo, hi, b), O, k, s, dil, lo,
                                  [&](std::int64_t o, std::int64_t i) { got.push_back({o, i}); });
                  pairs += static_cast<std::int64_t>(got.size());
                  std::vector<Pair> sorted = got;
                  std::sort(sorted.begin(), sorted.end());
                  EXPECT_TRUE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end())
                      << "a pair listed twice: D=" << D << " k=" << k << " s=" << s << " dil=" << dil << " lo=" << lo
                      << " hi=" << hi << " q=" << q << " b=" << int(b);
                  std::vector<Pair> expect = want[q];
                  std::sort(expect.begin(), expect.end());
                  ASSERT_EQ(sorted, expect) << "D=" << D << " k=" << k << " s=" << s << " dil=" << dil
                                            << " lo=" << lo << " hi=" << hi << " q=" << q << " b=" << int(b);
                }
              }
  EXPECT_GT(axes, 10000);
  EXPECT_GT(pairs, 100000);
}

TEST(Adjoint, PreimagesAreDisjointRangesInsideTheExtendedInput) {
  for (Boundary b : kBoundaries)
    for (std::int64_t D = 1; D <= 9; ++D)
      for (std::int64_t lo = 0; lo <= max_pad(b, D); ++lo)
        for (std::int64_t hi = 0; hi <= max_pad(b, D); ++hi)
          for (std::int64_t q = 0; q < D; ++q) {
            const detail::Preimages pre = axis_preimages(q, D, lo, hi, b);
            ASSERT_GE(pre.count, 1);
            EXPECT_EQ(pre.first[0], q);  // the identity comes first
            std::int64_t covered = 0;
            for (int r = 0; r < pre.count; ++r) {
              EXPECT_LE(pre.first[r], pre.last[r]);
              EXPECT_GE(pre.first[r], -lo);
              EXPECT_LE(pre.last[r], D - 1 + hi);
              for (std::int64_t p = pre.first[r]; p <= pre.last[r]; ++p) EXPECT_EQ(fold_index(p, D, b), q);
              covered += pre.last[r] - pre.first[r] + 1;
            }
            std::int64_t expect = 0;
            for (std::int64_t p = -lo; p <= D - 1 + hi; ++p) expect += fold_index(p, D, b) == q;
            EXPECT_EQ(covered, expect) << "D=" << D << " lo=" << lo << " hi=" << hi << " q=" << q;
          }
}

// Replicate with a long padding run: the edge element's readers are found
// per tap as one arithmetic run, without walking the padding.
TEST(Adjoint, ReplicateEdgeCollectsTheWholePaddingRun) {
  const std::int64_t D = 3, lo = 1000, hi = 0, k = 3, s = 1, dil = 1;
  const std::int64_t O = D + lo + hi - dil * (k - 1);
  std::int64_t n = 0;
  for_each_reader(axis_preimages(0, D, lo, hi, Boundary::Replicate), O, k, s, dil, lo,
                  [&](std::int64_t, std::int64_t) { ++n; });
  // Every pair whose position is <= 0 reads element 0: about 1001 positions times 3 taps.
  std::int64_t brute = 0;
  for (std::int64_t o = 0; o < O; ++o)
    for (std::int64_t i = 0; i < k; ++i) brute += fold_index(o * s + i * dil - lo, D, Boundary::Replicate) == 0;
  EXPECT_EQ(n, brute);
  EXPECT_GT(n, 2900);
}

}  // namespace
}  // namespace convkit::test
