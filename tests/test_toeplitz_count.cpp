// CPU tests of the Toeplitz matrix's closed-form counts (src/toeplitz_count.cpp):
// axis_sums and table_entries against a brute-force count -- the tables
// make_axis_tables builds by walking every border output and tap -- over an
// exhaustive sweep of small 1-D axes, every boundary and mode, and over the
// problem table; and the long-signal queries that used to walk millions of
// outputs times taps, which must now answer at once.
#include "harness.hpp"

#include "toeplitz.cuh"

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

namespace convkit::test {
namespace {

using detail::toeplitz::AxisSums;
using detail::toeplitz::AxisTables;

// Border entries / taps / outputs of axis a, read off the walked tables.
AxisSums walked(const ConvProblem& p, const AxisTables& t, int a) {
  AxisSums s;
  const auto end_of_t = [&](int axis) {
    return axis + 1 < 3 ? t.off_u_ptr[axis + 1] : static_cast<std::int64_t>(t.blob.size());
  };
  s.borders = t.borders(p, a);
  s.border_entries = t.off_t_ptr[a] - t.off_u[a];
  s.border_taps = end_of_t(a) - t.off_t[a];
  const std::int64_t inner = (t.ihi[a] - t.ilo[a]) * p.ker[a];
  s.entries = s.border_entries + inner;
  s.taps = s.border_taps + inner;
  return s;
}

::testing::AssertionResult counts_match(const ConvProblem& p) {
  const AxisTables t = detail::toeplitz::make_axis_tables(p);
  for (int a = 0; a < 3; ++a) {
    const AxisSums want = walked(p, t, a), got = detail::toeplitz::axis_sums(p, a);
    if (got.entries != want.entries || got.taps != want.taps || got.borders != want.borders ||
        got.border_entries != want.border_entries || got.border_taps != want.border_taps)
      return ::testing::AssertionFailure()
             << p << " axis " << a << ": closed form (entries " << got.entries << ", taps " << got.taps
             << ", borders " << got.borders << ", border entries " << got.border_entries << ", border taps "
             << got.border_taps << ") vs walk (" << want.entries << ", " << want.taps << ", " << want.borders
             << ", " << want.border_entries << ", " << want.border_taps << ")";
  }
  const auto blob = static_cast<std::int64_t>(t.blob.size());
  if (detail::toeplitz::table_entries(p) != blob)
    return ::testing::AssertionFailure() << p << ": table_entries " << detail::toeplitz::table_entries(p)
                                         << " but the walked tables hold " << blob;
  return ::testing::AssertionSuccess();
}

// Every small 1-D axis: sizes, kernels, strides, dilations and both paddings
// over the ranges each boundary allows, both modes. The reflect and circular
// pair counts depend on residues modulo the dilation and on the stride, so
// the sweep crosses all of them.
TEST(ToeplitzCount, ClosedFormEqualsTheWalkOnEverySmallAxis) {
  std::int64_t checked = 0;
  for (Boundary b : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate, Boundary::Symmetric})
    for (std::int64_t D = 1; D <= 9; ++D)
      for (std::int64_t k = 1; k <= 6; ++k)
        for (std::int64_t s = 1; s <= 4; ++s)
          for (std::int64_t dil = 1; dil <= 4; ++dil)
            for (std::int64_t lo = 0; lo <= 10; ++lo)
              for (std::int64_t hi = 0; hi <= 10; ++hi) {
                const ConvSpec spec = ConvSpec::conv1d()
                                          .padding(Padding::per_dim({{lo, hi}}))
                                          .stride(s)
                                          .dilation(dil)
                                          .boundary(b)
                                          .mode((lo + hi) % 2 ? Mode::Convolution : Mode::CrossCorrelation);
                ConvProblem p;
                try {
                  p = spec.problem({1, 1, D}, {1, 1, k});
                } catch (const Error&) {
                  continue;  // a shape the spec refuses (pad past the boundary's limit, no output)
                }
                ASSERT_TRUE(counts_match(p));
                ++checked;
              }
  std::printf("closed-form counts checked on %lld axes\n", static_cast<long long>(checked));
  EXPECT_GT(checked, 20000);
}

// Larger axes with big strides and dilations, where the runs of outputs
// between breakpoints are long (the arithmetic series and floor sums do the
// work) -- still small enough to walk.
TEST(ToeplitzCount, ClosedFormEqualsTheWalkOnLongRuns) {
  std::uint64_t seed = 20261203;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  auto next = [&](std::int64_t n) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::int64_t>((seed >> 33) % static_cast<std::uint64_t>(n));
  };
  std::int64_t checked = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const Boundary b = static_cast<Boundary>(next(5));
    const std::int64_t D = 1 + next(300), k = 1 + next(40), s = 1 + next(12), dil = 1 + next(30);
    const std::int64_t cap = (b == Boundary::Circular || b == Boundary::Symmetric) ? D + 1 : (b == Boundary::Reflect ? D : 400);
    const std::int64_t lo = next(cap), hi = next(cap);
    const ConvSpec spec =
        ConvSpec::conv1d().padding(Padding::per_dim({{lo, hi}})).stride(s).dilation(dil).boundary(b);
    ConvProblem p;
    try {
      p = spec.problem({1, 1, D}, {1, 1, k});
    } catch (const Error&) {
      continue;
    }
    ASSERT_TRUE(counts_match(p));
    ++checked;
  }
  EXPECT_GT(checked, 5000);
}

// Every shape of the problem table, all axes at once.
TEST(ToeplitzCount, ClosedFormEqualsTheWalkOnTheProblemTable) {
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(counts_match(c.spec.problem(c.x, c.w)));
  }
}

// The queries users hit that used to walk every border output times every
// tap (seconds to forever): each must answer at once with the exact count.
TEST(ToeplitzCount, LongSignalQueriesAnswerAtOnce) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  // Two 8192-sample signals, full padding: every input sample is read by
  // every tap once, so nnz = taps = 8192².
  {
    const ConvSpec spec = ConvSpec::conv1d().mode(Mode::Convolution).padding(Padding::full());
    const toeplitz::Info in = toeplitz::info(spec, {1, 1, 8192}, {1, 1, 8192}, DType::F32);
    EXPECT_EQ(in.nnz, std::int64_t(8192) * 8192);
    EXPECT_EQ(in.rows, 2 * 8192 - 1);
  }
  // Two 65536-sample signals, full padding.
  {
    const ConvSpec spec = ConvSpec::conv1d().padding(Padding::full());
    const toeplitz::Info in = toeplitz::info(spec, {1, 1, 65536}, {1, 1, 65536}, DType::F64);
    EXPECT_EQ(in.nnz, std::int64_t(65536) * 65536);
  }
  // 2^20 samples, 8193 taps, 'same': each output reads the taps that land
  // inside, so nnz = D·k minus the two triangles of 4096 missing taps.
  {
    const std::int64_t D = std::int64_t(1) << 20, k = 8193, half = 4096;
    const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same());
    const toeplitz::Info in = toeplitz::info(spec, {1, 1, D}, {1, 1, k}, DType::F32);
    EXPECT_EQ(in.nnz, D * k - half * (half + 1));
    // Every boundary mode of the same shape answers too; circular and
    // replicate fold every tap onto an element.
    for (Boundary b : {Boundary::Circular, Boundary::Reflect, Boundary::Replicate}) {
      const toeplitz::Info f = toeplitz::info(ConvSpec(spec).boundary(b), {1, 1, D}, {1, 1, k}, DType::F32);
      EXPECT_EQ(f.taps, D * k) << boundary_name(b);
      EXPECT_LE(f.nnz, f.taps) << boundary_name(b);
    }
  }
  // Padding 2^62 on a 1-sample signal: 2^62 + 1 outputs, one reads the sample.
  {
    const std::int64_t big = std::int64_t(1) << 62;
    const ConvSpec spec = ConvSpec::conv1d().padding(Padding::per_dim({{big, 0}}));
    const toeplitz::Info in = toeplitz::info(spec, {1, 1, 1}, {1, 1, 1}, DType::F32);
    EXPECT_EQ(in.rows, big + 1);
    EXPECT_EQ(in.nnz, 1);
    const toeplitz::Info r = toeplitz::info(ConvSpec(spec).boundary(Boundary::Replicate), {1, 1, 1}, {1, 1, 1}, DType::F32);
    EXPECT_EQ(r.nnz, big + 1);
  }
  // A huge dilation: 2^40 outputs straddle the edges with one tap each inside.
  {
    const std::int64_t dil = std::int64_t(1) << 40;
    const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same()).dilation(dil);
    const toeplitz::Info in = toeplitz::info(spec, {1, 1, dil}, {1, 1, 2}, DType::F32);
    EXPECT_EQ(in.nnz, dil);  // each output reads exactly one of its two taps
    const toeplitz::Info r = toeplitz::info(ConvSpec(spec).boundary(Boundary::Reflect), {1, 1, dil + 1}, {1, 1, 2}, DType::F32);
    EXPECT_EQ(r.taps, 2 * (dil + 1));
  }
  const double seconds = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("long-signal queries: %.6f s\n", seconds);
  EXPECT_LT(seconds, 1.0) << "closed-form queries must not depend on the lengths";
}

}  // namespace
}  // namespace convkit::test
