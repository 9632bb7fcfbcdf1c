// CPU tests of the explicit Toeplitz matrix (include/convkit/toeplitz.hpp):
// the host build -- the same Thrust functors the device build runs, here
// under the host policy -- checked row by row against an independent
// enumeration of the reference's own index arithmetic, its products against
// reference::conv / conv_transpose over the problem table (small integers,
// exact), the closed-form sizes, value refills, index widths, Matrix Market
// round trips, the dense view, and the memory-budget refusals.
#include "harness.hpp"
#include "regressions.hpp"

#include "indexing.cuh"
#include "toeplitz.cuh"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

using toeplitz::IndexWidth;

template <class T>
HostTensor<T> image(const HostTensor<T>& t, std::int64_t n) {
  Shape s = t.shape();
  s[0] = 1;
  HostTensor<T> r(s);
  const std::int64_t per = r.numel();
  for (std::int64_t i = 0; i < per; ++i) r[i] = t[n * per + i];
  return r;
}

// Row r of T, built independently from the reference's index helpers: every
// (input channel, tap) the output reads, folded duplicates summed in double.
std::map<std::int64_t, double> expected_row(const ConvProblem& p, const double* w, std::int64_t r) {
  std::map<std::int64_t, double> row;
  const std::int64_t Q = p.out_spatial(), k = r / Q, q = r % Q;
  const std::int64_t o0 = q / (p.out[1] * p.out[2]), o1 = (q / p.out[2]) % p.out[1], o2 = q % p.out[2];
  const std::int64_t g = k / p.Kg();
  for (std::int64_t c = 0; c < p.Cg(); ++c)
    for (std::int64_t i0 = 0; i0 < p.ker[0]; ++i0)
      for (std::int64_t i1 = 0; i1 < p.ker[1]; ++i1)
        for (std::int64_t i2 = 0; i2 < p.ker[2]; ++i2) {
          const std::int64_t s = detail::source_offset(p, o0, o1, o2, i0, i1, i2);
          if (s < 0) continue;
          row[(g * p.Cg() + c) * p.in_spatial() + s] +=
              w[(k * p.Cg() + c) * p.ker_spatial() + detail::weight_offset(p, i0, i1, i2)];
        }
  return row;
}

// Structure and values of every row against expected_row; also that the row's
// column indices are strictly ascending (sorted and unique, as CSR requires).
template <class T>
::testing::AssertionResult rows_match(const toeplitz::Matrix<T>& m, const ConvProblem& p, const HostTensor<T>& w) {
  std::vector<double> wd(static_cast<std::size_t>(w.numel()));
  for (std::int64_t i = 0; i < w.numel(); ++i) wd[static_cast<std::size_t>(i)] = double(w[i]);
  std::int64_t nnz = 0;
  for (std::int64_t r = 0; r < m.rows(); ++r) {
    const auto want = expected_row(p, wd.data(), r);
    if (m.row_end(r) - m.row_begin(r) != static_cast<std::int64_t>(want.size()))
      return ::testing::AssertionFailure() << "row " << r << " has " << m.row_end(r) - m.row_begin(r)
                                           << " entries, expected " << want.size();
    auto it = want.begin();
    for (std::int64_t j = m.row_begin(r); j < m.row_end(r); ++j, ++it) {
      if (j > m.row_begin(r) && m.col(j) <= m.col(j - 1))
        return ::testing::AssertionFailure() << "row " << r << ": columns not strictly ascending at entry " << j;
      if (m.col(j) != it->first || double(m.value(j)) != it->second)
        return ::testing::AssertionFailure() << "row " << r << " entry " << j << ": (" << m.col(j) << ", "
                                             << double(m.value(j)) << "), expected (" << it->first << ", "
                                             << it->second << ")";
    }
    nnz += static_cast<std::int64_t>(want.size());
  }
  if (nnz != m.nnz()) return ::testing::AssertionFailure() << "nnz " << m.nnz() << ", rows hold " << nnz;
  return ::testing::AssertionSuccess();
}

template <class T>
void check_case(const ConvCase& c, std::uint64_t seed) {
  SCOPED_TRACE(c.name + " seed " + std::to_string(seed) + " " + dtype_name(dtype_v<T>));
  const ConvProblem p = c.spec.problem(c.x, c.w);
  HostTensor<T> x = random_ints<T>(c.x, seed), w = random_ints<T>(c.w, seed + 1);
  HostTensor<T> b = random_ints<T>(Shape{p.K}, seed + 2);
  const toeplitz::Matrix<T> m = toeplitz::build(c.spec, c.x, w.view());

  // Sizes: closed form == what was built == the independent enumeration.
  const toeplitz::Info in = toeplitz::info(c.spec, c.x, c.w, dtype_v<T>);
  EXPECT_EQ(m.rows(), p.K * p.out_spatial());
  EXPECT_EQ(m.cols(), p.C * p.in_spatial());
  EXPECT_EQ(m.nnz(), in.nnz);
  EXPECT_EQ(m.bytes(), in.matrix_bytes);
  EXPECT_EQ(in.matrix_bytes, in.value_bytes + in.col_bytes + in.row_ptr_bytes);
  EXPECT_TRUE(rows_match(m, p, w));

  // y = T·x (+ bias) per image == the reference.
  const Expected<T> e = expected_output(c.spec, x, w, c.spec.has_bias() ? &b : nullptr);
  HostTensor<T> y(p.y_shape());
  const std::int64_t rows = m.rows(), cols = m.cols();
  for (std::int64_t n = 0; n < p.N; ++n) {
    m.multiply(x.data() + n * cols, y.data() + n * rows);
    if (c.spec.has_bias())
      for (std::int64_t r = 0; r < rows; ++r) y[n * rows + r] += b[r / p.out_spatial()];
  }
  EXPECT_TRUE(compare(y, e.y, nullptr, 0.0));

  // Tᵀ·dy == reference::conv_transpose, and <T·x, dy> == <x, Tᵀ·dy>.
  ConvSpec nobias = c.spec;
  nobias.bias(false);
  HostTensor<T> dy = random_ints<T>(p.y_shape(), seed + 3), dx(p.x_shape()), dx_ref(p.x_shape());
  for (std::int64_t n = 0; n < p.N; ++n) m.multiply_transpose(dy.data() + n * rows, dx.data() + n * cols);
  reference::conv_transpose(nobias, dy.view(), w.view(), dx_ref.view());
  EXPECT_TRUE(compare(dx, dx_ref, nullptr, 0.0));
  double lhs = 0, rhs = 0;
  for (std::int64_t n = 0; n < p.N; ++n) {
    HostTensor<T> tx(Shape{rows});
    m.multiply(x.data() + n * cols, tx.data());
    for (std::int64_t r = 0; r < rows; ++r) lhs += double(tx[r]) * double(dy[n * rows + r]);
  }
  for (std::int64_t i = 0; i < x.numel(); ++i) rhs += double(x[i]) * double(dx[i]);
  EXPECT_EQ(lhs, rhs);

  // Refilled from new weights == a fresh build with them, pattern untouched.
  HostTensor<T> w2 = random_ints<T>(c.w, seed + 4);
  toeplitz::Matrix<T> refilled = toeplitz::build(c.spec, c.x, w.view());
  refilled.refill(w2.view());
  const toeplitz::Matrix<T> fresh = toeplitz::build(c.spec, c.x, w2.view());
  ASSERT_EQ(refilled.nnz(), fresh.nnz());
  for (std::int64_t r = 0; r <= refilled.rows(); ++r) ASSERT_EQ(refilled.row_begin(r), fresh.row_begin(r));
  for (std::int64_t j = 0; j < fresh.nnz(); ++j) {
    ASSERT_EQ(refilled.col(j), fresh.col(j));
    ASSERT_EQ(refilled.value(j), fresh.value(j)) << "nonzero " << j;
  }
}

TEST(Toeplitz, HostBuildMatchesReferenceOverProblemTableF32) {
  std::uint64_t seed = 1000;
  for (const ConvCase& c : problem_table()) check_case<float>(c, seed += 10);
}

TEST(Toeplitz, HostBuildMatchesReferenceOverProblemTableF64) {
  std::uint64_t seed = 2000;
  for (const ConvCase& c : problem_table()) check_case<double>(c, seed += 10);
}

TEST(Toeplitz, HostBuildMatchesReferenceOnRegressionShapes) {
  std::uint64_t seed = 3000;
  for (const ConvCase& c : regression_cases(RegressionUse::Run)) {
    check_case<float>(c, seed += 10);
    check_case<double>(c, seed += 10);
  }
}

TEST(Toeplitz, ClassicSignalOfFiveKernelOfThree) {
  const float w[] = {1, 2, 3};
  auto m = toeplitz::build(ConvSpec::conv1d(), {1, 1, 5}, TensorView<const float>::host(w, {1, 1, 3}));
  const std::vector<float> want = {1, 2, 3, 0, 0,  //
                                   0, 1, 2, 3, 0,  //
                                   0, 0, 1, 2, 3};
  EXPECT_EQ(m.to_dense(), want);
  EXPECT_EQ(m.rows(), 3);
  EXPECT_EQ(m.cols(), 5);
  EXPECT_EQ(m.nnz(), 9);
  EXPECT_DOUBLE_EQ(m.density(), 0.6);
  EXPECT_EQ(m.index_width(), IndexWidth::I32);
  EXPECT_EQ(m.bytes(), 9u * 4 + 9u * 4 + 4u * 4);
  // True convolution flips the kernel.
  auto f = toeplitz::build(ConvSpec::conv1d().mode(Mode::Convolution), {1, 1, 5},
                           TensorView<const float>::host(w, {1, 1, 3}));
  const std::vector<float> flipped = {3, 2, 1, 0, 0, 0, 3, 2, 1, 0, 0, 0, 3, 2, 1};
  EXPECT_EQ(f.to_dense(), flipped);
}

TEST(Toeplitz, ReflectFoldsAndSumsDuplicateTaps) {
  // Row 0 reads positions -1, 0, 1 -> reflected 1, 0, 1: taps 0 and 2 share column 1.
  const float w[] = {1, 2, 4};
  auto m = toeplitz::build(ConvSpec::conv1d().padding(1).boundary(Boundary::Reflect), {1, 1, 4},
                           TensorView<const float>::host(w, {1, 1, 3}));
  const std::vector<float> want = {2, 5, 0, 0,  //
                                   1, 2, 4, 0,  //
                                   0, 1, 2, 4,  //
                                   0, 0, 5, 2};
  EXPECT_EQ(m.to_dense(), want);
  EXPECT_FALSE(m.info().single_tap);
  EXPECT_EQ(m.info().taps, 12);
  EXPECT_EQ(m.nnz(), 10);
  EXPECT_EQ(m.source_taps(1), (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(m.source_taps(0), (std::vector<std::int64_t>{1}));
}

TEST(Toeplitz, ReplicateFoldsOntoTheEdge) {
  const double w[] = {1, 10, 100};
  auto m = toeplitz::build(ConvSpec::conv1d().padding(2).boundary(Boundary::Replicate), {1, 1, 3},
                           TensorView<const double>::host(w, {1, 1, 3}));
  // Output 0 reads positions -2, -1, 0: all the left edge.
  const std::vector<double> d = m.to_dense();
  ASSERT_EQ(m.rows(), 5);
  EXPECT_EQ(d[0], 111.0);
  EXPECT_EQ(d[1], 0.0);
  EXPECT_EQ(m.row_end(0) - m.row_begin(0), 1);
}

TEST(Toeplitz, CircularIsDoublyBlockCirculant) {
  const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).boundary(Boundary::Circular);
  const Shape xs{1, 1, 5, 6}, ws{1, 1, 3, 4};
  HostTensor<float> w = random_ints<float>(ws, 7);
  auto m = toeplitz::build(spec, xs, w.view());
  const std::vector<float> d = m.to_dense();
  const std::int64_t H = 5, W = 6, n = H * W;
  auto at = [&](std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
    return d[static_cast<std::size_t>((r0 * W + r1) * n + c0 * W + c1)];
  };
  for (std::int64_t r0 = 0; r0 < H; ++r0)
    for (std::int64_t r1 = 0; r1 < W; ++r1)
      for (std::int64_t c0 = 0; c0 < H; ++c0)
        for (std::int64_t c1 = 0; c1 < W; ++c1) {
          ASSERT_EQ(at(r0, r1, c0, c1), at((r0 + 1) % H, r1, (c0 + 1) % H, c1));
          ASSERT_EQ(at(r0, r1, c0, c1), at(r0, (r1 + 1) % W, c0, (c1 + 1) % W));
        }
}

TEST(Toeplitz, AxisTablesGroupFoldedTaps) {
  const ConvProblem p = ConvSpec::conv1d().padding(1).boundary(Boundary::Reflect).problem({1, 1, 4}, {1, 1, 3});
  const auto t = detail::toeplitz::make_axis_tables(p);
  const auto pat = detail::toeplitz::make_pattern(p, t, t.blob.data());
  EXPECT_FALSE(pat.single);
  // Axis slot 2 (the signal), output 0: inputs {0, 1}; input 1 read by taps {0, 2}.
  const auto o0 = detail::toeplitz::axis_row(pat, 2, 0);
  EXPECT_FALSE(o0.interior);
  ASSERT_EQ(o0.n, 2);
  EXPECT_EQ(o0.input(0), 0);
  EXPECT_EQ(o0.input(1), 1);
  EXPECT_EQ(o0.tap_end(1) - o0.tap_begin(1), 2);
  EXPECT_EQ(o0.tap(o0.tap_begin(1)), 0);
  EXPECT_EQ(o0.tap(o0.tap_begin(1) + 1), 2);
  // Outputs 1 and 2 are interior (computed, not tabled); 0 and 3 are the borders.
  EXPECT_EQ(t.ilo[2], 1);
  EXPECT_EQ(t.ihi[2], 3);
  EXPECT_EQ(t.borders(p, 2), 2);
  const auto o2 = detail::toeplitz::axis_row(pat, 2, 2);
  EXPECT_TRUE(o2.interior);
  ASSERT_EQ(o2.n, 3);
  EXPECT_EQ(o2.input(0), 1);
  EXPECT_EQ(o2.input(2), 3);
  EXPECT_EQ(o2.tap(o2.tap_begin(2)), 2);
  EXPECT_EQ(o2.taps(), 3);
  // Output 3 (high border) reads 2, 3, 4 -> 2: inputs {2, 3}, input 2 by taps {0, 2}.
  const auto o3 = detail::toeplitz::axis_row(pat, 2, 3);
  EXPECT_FALSE(o3.interior);
  ASSERT_EQ(o3.n, 2);
  EXPECT_EQ(o3.input(0), 2);
  EXPECT_EQ(o3.input(1), 3);
  EXPECT_EQ(o3.tap_end(0) - o3.tap_begin(0), 2);
  EXPECT_EQ(o3.taps(), 3);
  EXPECT_EQ(detail::toeplitz::row_nnz(pat, 0), 2);
  EXPECT_EQ(detail::toeplitz::row_taps(pat, 0), 3);
  const auto sums = detail::toeplitz::axis_sums(p, 2);
  EXPECT_EQ(sums.entries, 10);
  EXPECT_EQ(sums.taps, 12);
}

// Long 1-D signals: only the k - 1 border outputs of a 'same' convolution are
// tabled, so the tables stay a few thousand entries whatever the length, and
// the device build's budget (matrix + build scratch) admits what the matrix
// itself needs. Nothing of the size of the matrix is built here.
TEST(Toeplitz, LongSignalTablesCoverOnlyTheBorders) {
  struct LongCase {
    int log2_len;
    std::int64_t k;
    std::size_t max_entries;
  };
  // Per border output at most k entries and k taps, so axis slot 2 holds at
  // most (b + 1) + b·k + (b·k + 1) + b·k int64s with b = k - 1 border
  // outputs, and slots 0 and 1 (size 1, no borders) one u_ptr and one t_ptr
  // each: k = 31 -> 31 + 930 + 931 + 930 + 4 = 2826; k = 7 -> 7 + 42 + 43 + 42 + 4 = 138.
  const LongCase cases[] = {{24, 31, 2826}, {26, 7, 138}};
  const std::size_t budget = std::size_t(16) << 30;
  for (const LongCase& lc : cases)
    for (Boundary b : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate, Boundary::Symmetric}) {
      const std::int64_t D = std::int64_t(1) << lc.log2_len, k = lc.k;
      SCOPED_TRACE("2^" + std::to_string(lc.log2_len) + " k=" + std::to_string(k) + " " + boundary_name(b));
      const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same()).boundary(b);
      const ConvProblem p = spec.problem({1, 1, D}, {1, 1, k});
      const auto t = detail::toeplitz::make_axis_tables(p);
      EXPECT_EQ(t.borders(p, 2), k - 1);
      EXPECT_EQ(t.borders(p, 0), 0);
      EXPECT_EQ(t.borders(p, 1), 0);
      const std::int64_t nb = k - 1;
      EXPECT_EQ(static_cast<std::int64_t>(lc.max_entries), (nb + 1) + nb * k + (nb * k + 1) + nb * k + 4);
      EXPECT_LE(t.blob.size(), lc.max_entries);

      // The pattern over those tables agrees with the independent enumeration
      // on the border rows and on interior rows spread over the signal.
      const auto pat = detail::toeplitz::make_pattern(p, t, t.blob.data());
      const std::vector<double> ones(static_cast<std::size_t>(k), 1.0);
      std::vector<std::int64_t> rows;
      for (std::int64_t r = 0; r < k + 2; ++r) rows.push_back(r);
      for (std::int64_t r = D - k - 2; r < D; ++r) rows.push_back(r);
      for (std::int64_t r : {D / 3, D / 2, D - 2 * k}) rows.push_back(r);
      for (std::int64_t r : rows) {
        const auto want = expected_row(p, ones.data(), r);
        ASSERT_EQ(detail::toeplitz::row_nnz(pat, r), static_cast<std::int64_t>(want.size())) << "row " << r;
        double taps = 0;
        for (const auto& e : want) taps += e.second;
        ASSERT_EQ(double(detail::toeplitz::row_taps(pat, r)), taps) << "row " << r;
        const auto a = detail::toeplitz::axis_row(pat, 2, r);
        auto it = want.begin();
        for (std::int64_t m = 0; m < a.n; ++m, ++it) ASSERT_EQ(a.input(m), it->first) << "row " << r;
      }

      // Budget: matrix + scratch (tables, per-row tap offsets) fits 16 GiB.
      const toeplitz::Info in = toeplitz::info(spec, {1, 1, D}, {1, 1, k}, DType::F32);
      const std::size_t idx = in.index_width == IndexWidth::I64 ? 8 : 4;
      const std::size_t scratch = detail::toeplitz::build_scratch_bytes(in);
      EXPECT_EQ(scratch, 8 * t.blob.size() + (in.single_tap ? 0 : std::size_t(in.rows + 1) * idx));
      EXPECT_NO_THROW(detail::toeplitz::check_budget(in, scratch, budget, "16 GiB"));
      // The same rule with tables over every output (u_ptr [O + 1], u [S],
      // t_ptr [S + 1], t [taps] per axis) is what used to refuse these.
      std::size_t every_output = 0;
      for (int a = 0; a < 3; ++a) {
        const auto sums = detail::toeplitz::axis_sums(p, a);
        every_output += std::size_t(p.out[a] + 1 + 2 * sums.entries + 1 + sums.taps);
      }
      const std::size_t old_scratch = scratch - 8 * t.blob.size() + 8 * every_output;
      EXPECT_THROW(detail::toeplitz::check_budget(in, old_scratch, budget, "16 GiB"), Error);
    }
}

// Whole matrices large enough that most rows are interior (computed, not
// tabled) and both borders are wide: every row against the independent
// enumeration, T·x and Tᵀ·y against the reference, refills (check_case).
TEST(Toeplitz, MediumSignalEachBoundaryStrideAndDilation) {
  std::uint64_t seed = 4000;
  for (Boundary b : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate, Boundary::Symmetric})
    for (Mode m : {Mode::CrossCorrelation, Mode::Convolution}) {
      const ConvSpec base = ConvSpec::conv1d().dilation(2).boundary(b).mode(m);
      const std::string tag = std::string(boundary_name(b)) + (m == Mode::Convolution ? " conv" : " xcorr");
      check_case<float>({"1d_10007_same " + tag, ConvSpec(base).padding(Padding::same()), {1, 1, 10007}, {1, 1, 31}},
                        seed += 10);
      check_case<float>({"1d_10007_s3 " + tag, ConvSpec(base).stride(3).padding(Padding::per_dim({{30, 23}})),
                         {1, 1, 10007}, {1, 1, 31}},
                        seed += 10);
      check_case<double>({"1d_10007_s3_low " + tag, ConvSpec(base).stride(3).padding(Padding::per_dim({{7, 45}})),
                          {2, 2, 10007}, {3, 2, 31}},
                         seed += 10);
    }
}

TEST(Toeplitz, MediumImageEachBoundary) {
  std::uint64_t seed = 5000;
  for (Boundary b : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate, Boundary::Symmetric}) {
    const std::string tag = boundary_name(b);
    check_case<float>({"2d_61x67_same " + tag, ConvSpec::conv2d().padding(Padding::same()).boundary(b),
                       {1, 1, 61, 67}, {1, 1, 7, 5}},
                      seed += 10);
    check_case<double>({"2d_61x67_strided " + tag,
                        ConvSpec::conv2d()
                            .stride({2, 3})
                            .dilation({1, 2})
                            .padding(Padding::per_dim({{5, 2}, {1, 6}}))
                            .boundary(b)
                            .mode(Mode::Convolution),
                        {1, 2, 61, 67}, {3, 2, 7, 5}},
                       seed += 10);
  }
}

// Axes without any interior output (kernel wider than the input, Circular
// with k > D, all-padding outputs under a stride larger than the kernel):
// every output is a border output and comes from the tables.
TEST(Toeplitz, AxesWithoutInteriorOutputs) {
  using B = Boundary;
  const ConvCase cases[] = {
      {"circular_k_gt_D", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Circular), {1, 1, 5}, {1, 1, 7}},
      {"circular_k_gt_D_2d", ConvSpec::conv2d().padding(Padding::same()).boundary(B::Circular), {1, 2, 4, 20},
       {2, 2, 9, 5}},
      {"reflect_k_gt_D", ConvSpec::conv1d().padding(5).boundary(B::Reflect).mode(Mode::Convolution), {1, 1, 6},
       {1, 1, 9}},
      {"replicate_pad_gt_D", ConvSpec::conv1d().padding(Padding::per_dim({{6, 5}})).boundary(B::Replicate),
       {1, 1, 3}, {1, 1, 4}},
      {"zeros_full_k_gt_D", ConvSpec::conv1d().padding(Padding::full()), {1, 1, 3}, {1, 1, 8}},
      {"zeros_stride_gt_k_empty_rows", ConvSpec::conv1d().stride(7).padding(Padding::per_dim({{10, 9}})),
       {1, 1, 20}, {1, 1, 3}},
      {"reflect_stride_gt_k_2d", ConvSpec::conv2d().stride({4, 5}).dilation({3, 4}).padding(Padding::per_dim({{2, 3}, {4, 1}})).boundary(B::Reflect),
       {1, 1, 9, 11}, {1, 1, 3, 2}},
  };
  std::uint64_t seed = 6000;
  for (const ConvCase& c : cases) {
    check_case<double>(c, seed += 10);
    check_case<float>(c, seed += 10);
  }
  // The first: no interior, so all 5 outputs are tabled.
  const ConvProblem p = cases[0].spec.problem(cases[0].x, cases[0].w);
  const auto t = detail::toeplitz::make_axis_tables(p);
  EXPECT_EQ(t.ilo[2], p.out[2]);
  EXPECT_EQ(t.ihi[2], p.out[2]);
  EXPECT_EQ(t.borders(p, 2), 5);
}

TEST(Toeplitz, Forced64BitIndicesGiveTheSameMatrix) {
  for (const ConvCase& c : problem_table()) {
    if (c.name != "2d_reflect_conv" && c.name != "3d_stride_dil_groups" && c.name != "1d_replicate_bias") continue;
    SCOPED_TRACE(c.name);
    HostTensor<double> w = random_ints<double>(c.w, 31);
    toeplitz::BuildOptions o64;
    o64.index_width = IndexWidth::I64;
    auto a = toeplitz::build(c.spec, c.x, w.view());
    auto b = toeplitz::build(c.spec, c.x, w.view(), o64);
    ASSERT_EQ(a.index_width(), IndexWidth::I32);
    ASSERT_EQ(b.index_width(), IndexWidth::I64);
    EXPECT_NE(b.row_ptr_i64(), nullptr);
    EXPECT_EQ(b.row_ptr_i32(), nullptr);
    ASSERT_EQ(a.nnz(), b.nnz());
    EXPECT_EQ(b.bytes(), a.nnz() * (8 + 8) + (a.rows() + 1) * 8);
    for (std::int64_t r = 0; r <= a.rows(); ++r) ASSERT_EQ(a.row_begin(r), b.row_begin(r));
    for (std::int64_t j = 0; j < a.nnz(); ++j) {
      ASSERT_EQ(a.col(j), b.col(j));
      ASSERT_EQ(a.value(j), b.value(j));
      ASSERT_EQ(a.source_taps(j), b.source_taps(j));
    }
  }
}

TEST(Toeplitz, DimensionPast2To31SelectsInt64) {
  // 3·2^30 input samples (never allocated: the host build needs w only), a
  // stride so large that T has 12 rows: the column count alone forces int64.
  const std::int64_t D = std::int64_t(3) << 30, s = std::int64_t(1) << 28;
  const ConvSpec spec = ConvSpec::conv1d().stride(s);
  const float w[] = {1, 2, 3};
  const toeplitz::Info in = toeplitz::info(spec, {1, 1, D}, {1, 1, 3}, DType::F32);
  EXPECT_EQ(in.index_width, IndexWidth::I64);
  EXPECT_EQ(in.rows, 12);
  EXPECT_EQ(in.nnz, 36);
  auto m = toeplitz::build(spec, {1, 1, D}, TensorView<const float>::host(w, {1, 1, 3}));
  ASSERT_EQ(m.index_width(), IndexWidth::I64);
  EXPECT_EQ(m.cols(), D);
  EXPECT_EQ(m.col(m.row_begin(11) + 2), 11 * s + 2);
  EXPECT_EQ(m.value(m.row_begin(11) + 2), 3.f);
  toeplitz::BuildOptions o32;
  o32.index_width = IndexWidth::I32;
  try {
    toeplitz::build(spec, {1, 1, D}, TensorView<const float>::host(w, {1, 1, 3}), o32);
    ADD_FAILURE() << "int32 was accepted for " << D << " columns";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::NotSupported);
  }
}

TEST(Toeplitz, MatrixMarketRoundTrip) {
  const ConvSpec spec = ConvSpec::conv2d().padding(2).boundary(Boundary::Reflect).mode(Mode::Convolution);
  HostTensor<float> w = random_floats<float>({2, 2, 5, 3}, 41);
  auto m = toeplitz::build(spec, {2, 2, 7, 6}, w.view());
  std::stringstream ss;
  m.write_matrix_market(ss);
  const std::string text = ss.str();
  EXPECT_EQ(text.rfind("%%MatrixMarket matrix coordinate real general\n", 0), 0u);
  auto back = toeplitz::Matrix<float>::read_matrix_market(ss);
  ASSERT_EQ(back.rows(), m.rows());
  ASSERT_EQ(back.cols(), m.cols());
  ASSERT_EQ(back.nnz(), m.nnz());
  EXPECT_FALSE(back.has_source_map());
  for (std::int64_t r = 0; r <= m.rows(); ++r) ASSERT_EQ(back.row_begin(r), m.row_begin(r));
  for (std::int64_t j = 0; j < m.nnz(); ++j) {
    ASSERT_EQ(back.col(j), m.col(j));
    ASSERT_EQ(back.value(j), m.value(j)) << "value " << j << " did not round-trip";
  }
  // Through a file too, and in double.
  HostTensor<double> wd = random_floats<double>({3, 1, 4}, 43);
  auto md = toeplitz::build(ConvSpec::conv1d().padding(Padding::full()), {1, 1, 9}, wd.view());
  const std::string path = ::testing::TempDir() + "convkit_toeplitz_roundtrip.mtx";
  md.write_matrix_market(path);
  auto bd = toeplitz::Matrix<double>::read_matrix_market(path);
  std::remove(path.c_str());
  ASSERT_EQ(bd.nnz(), md.nnz());
  EXPECT_EQ(bd.to_dense(), md.to_dense());
  try {
    back.refill(w.view());
    ADD_FAILURE() << "refill without a source map was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::NotSupported);
  }
}

TEST(Toeplitz, MatrixMarketReaderSumsDuplicatesAndRejectsBadInput) {
  std::istringstream ok(
      "%%MatrixMarket matrix coordinate integer general\n% a comment\n\n2 3 3\n2 3 4\n1 1 1\n2 3 5\n");
  auto m = toeplitz::Matrix<double>::read_matrix_market(ok);
  EXPECT_EQ(m.nnz(), 2);
  EXPECT_EQ(m.to_dense(), (std::vector<double>{1, 0, 0, 0, 0, 9}));
  for (const char* bad : {"%%MatrixMarket matrix array real general\n1 1\n1\n",
                          "%%MatrixMarket matrix coordinate real symmetric\n1 1 1\n1 1 1\n",
                          "%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1\n",
                          "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n", "not a matrix\n"}) {
    std::istringstream is(bad);
    try {
      toeplitz::Matrix<double>::read_matrix_market(is);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument) << bad;
    }
  }
}

TEST(Toeplitz, ToDenseRefusesLargeMatrices) {
  const float w[] = {1, 2, 3};
  auto m = toeplitz::build(ConvSpec::conv1d(), {1, 1, 5000}, TensorView<const float>::host(w, {1, 1, 3}));
  try {
    m.to_dense(1000);
    ADD_FAILURE() << "to_dense accepted " << m.rows() * m.cols() << " elements with a limit of 1000";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::NotSupported);
    EXPECT_NE(std::string(e.what()).find("4998 x 5000"), std::string::npos) << e.what();
  }
  // 25M elements is over the default limit (kDenseLimit = 2^24) too.
  EXPECT_THROW(m.to_dense(), Error);
}

TEST(Toeplitz, BuildOverBudgetIsRefusedWithTheBytes) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  HostTensor<float> w = random_ints<float>({4, 3, 3, 3}, 5);
  const toeplitz::Info in = toeplitz::info(spec, {1, 3, 16, 16}, w.shape(), DType::F32);
  toeplitz::BuildOptions o;
  o.max_bytes = in.total_bytes() - 1;
  try {
    toeplitz::build(spec, {1, 3, 16, 16}, w.view(), o);
    ADD_FAILURE() << "over-budget build accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::NotSupported);
    EXPECT_NE(std::string(e.what()).find(std::to_string(in.total_bytes()) + " bytes"), std::string::npos)
        << e.what();
  }
  o.max_bytes = in.total_bytes();
  EXPECT_EQ(toeplitz::build(spec, {1, 3, 16, 16}, w.view(), o).nnz(), in.nnz);
}

TEST(Toeplitz, SupportsRefusesMatricesThatCannotFit) {
  // A VGG-style layer on 224x224 images: ~1.2e11 nonzeros, about a terabyte.
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape x{32, 512, 224, 224}, w{512, 512, 3, 3};
  const Support s = supports(spec, x, w, DType::F32, Algorithm::SparseToeplitz);
  EXPECT_FALSE(s.ok);
  const toeplitz::Info in = toeplitz::info(spec, x, w, DType::F32);
  EXPECT_EQ(in.index_width, IndexWidth::I64);
  EXPECT_NE(s.reason.find(std::to_string(in.total_bytes()) + " bytes"), std::string::npos) << s.reason;

  const Support small = supports(ConvSpec::conv1d(), {1, 1, 5}, {1, 1, 3}, DType::F32, Algorithm::SparseToeplitz);
  EXPECT_TRUE(small.ok) << small.reason;
  EXPECT_EQ(small.variant, "toeplitz/spmv");
  const Support batch = supports(ConvSpec::conv1d(), {4, 1, 5}, {1, 1, 3}, DType::F64, Algorithm::SparseToeplitz);
  EXPECT_EQ(batch.variant, "toeplitz/spmm");
  // The matrix, its map and the scratch its build counts against the budget.
  const toeplitz::Info bi = toeplitz::info(ConvSpec::conv1d(), {4, 1, 5}, {1, 1, 3}, DType::F64);
  const std::size_t scratch =
      detail::toeplitz::build_scratch_bytes(bi);
  EXPECT_EQ(workspace_bytes(ConvSpec::conv1d(), {4, 1, 5}, {1, 1, 3}, DType::F64, Algorithm::SparseToeplitz),
            bi.total_bytes() + scratch);
  const ConvSpec padded = ConvSpec::conv1d().padding(1);  // border outputs: a non-empty build scratch
  const toeplitz::Info pi = toeplitz::info(padded, {4, 1, 5}, {1, 1, 3}, DType::F64);
  const std::size_t padded_scratch =
      detail::toeplitz::build_scratch_bytes(pi);
  EXPECT_GT(padded_scratch, 0u);
  EXPECT_EQ(workspace_bytes(padded, {4, 1, 5}, {1, 1, 3}, DType::F64, Algorithm::SparseToeplitz),
            pi.total_bytes() + padded_scratch);
}

TEST(Toeplitz, RejectsBadWeightViews) {
  const float w[] = {1, 2, 3};
  try {
    toeplitz::build(ConvSpec::conv1d(), {1, 1, 5}, TensorView<const float>::device(w, {1, 1, 3}));
    ADD_FAILURE() << "device view accepted by the host build";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
  }
  auto m = toeplitz::build(ConvSpec::conv1d(), {1, 1, 5}, TensorView<const float>::host(w, {1, 1, 3}));
  const float w4[] = {1, 2, 3, 4};
  try {
    m.refill(TensorView<const float>::host(w4, {1, 1, 4}));
    ADD_FAILURE() << "refill with another weight shape accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
  }
}

namespace {
// Shapes for the transpose tests: [rows, cols] of `in` (one side is N, the
// other C·ΠD or K·ΠO in the library), partial tiles on both edges, narrow
// sides of every width from 1 to past 32, and the bias period Q.
const std::int64_t kTransposeShapes[][3] = {
    {1, 1, 1},    {2, 70, 7},   {64, 33, 1},  {45, 64, 5},  {31, 97, 31}, {3, 1000, 100}, {1000, 3, 7},
    {4, 1000, 10}, {1000, 4, 1}, {2, 64, 1},  {64, 2, 1},   {1, 5, 1},    {5, 1, 1},      {16, 16, 1},
    {33, 33, 2},  {7, 300, 3},  {300, 7, 30}, {17, 129, 1}, {129, 17, 1}, {1, 2049, 1},   {2049, 1, 1}};
}  // namespace

// The row-major SpMM formulation's transpose, run on the CPU thread by
// thread and tile by tile exactly as the kernel runs it (load every thread,
// barrier, store every thread): every output written once, with the bias of
// its input row, on shapes that leave partial tiles on both edges.
TEST(Toeplitz, TransposeStepsCoverEveryElementOnce) {
  namespace dt = detail::toeplitz;
  using G = dt::TransposeGeom;
  for (const auto& sh : kTransposeShapes) {
    const std::int64_t rows = sh[0], cols = sh[1], Q = sh[2];
    SCOPED_TRACE(std::to_string(rows) + " x " + std::to_string(cols) + ", Q = " + std::to_string(Q));
    std::vector<double> in(static_cast<std::size_t>(rows * cols)), b(static_cast<std::size_t>((rows + Q - 1) / Q));
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = double(i % 1013) - 500.0;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = 1000.0 * double(i + 1);
    for (const bool with_bias : {false, true}) {
      const G g = G::make(rows, cols, Q);
      ASSERT_EQ(g.th * g.tw, G::kElems);
      ASSERT_LE(g.th * g.pitch, G::kShared);
      ASSERT_EQ(g.tiles, ((rows + g.th - 1) / g.th) * ((cols + g.tw - 1) / g.tw));
      std::vector<double> out(in.size(), std::nan("")), tile(G::kShared);
      std::vector<int> writes(in.size(), 0);
      std::vector<double> step(out.size());
      for (std::int64_t t = 0; t < g.tiles; ++t) {
        std::fill(tile.begin(), tile.end(), std::nan(""));
        for (int thread = 0; thread < G::kThreads; ++thread)
          dt::transpose_load(g, in.data(), with_bias ? b.data() : static_cast<const double*>(nullptr), t, thread,
                             tile.data());
        // Each thread's stores go to a NaN-filled array of their own, so a
        // second store to an element counts even when it writes the same value.
        for (int thread = 0; thread < G::kThreads; ++thread) {
          std::fill(step.begin(), step.end(), std::nan(""));
          dt::transpose_store(g, step.data(), t, thread, tile.data());
          for (std::size_t i = 0; i < step.size(); ++i)
            if (!std::isnan(step[i])) {
              ++writes[i];
              out[i] = step[i];
            }
        }
      }
      for (std::int64_t c = 0; c < cols; ++c)
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::size_t o = static_cast<std::size_t>(c * rows + r);
          const double want = in[static_cast<std::size_t>(r * cols + c)] + (with_bias ? b[static_cast<std::size_t>(r / Q)] : 0.0);
          ASSERT_EQ(out[o], want) << "out[" << c << ", " << r << "]";
          ASSERT_EQ(writes[o], 1) << "out[" << c << ", " << r << "]";
        }
    }
  }
}

// The transpose's memory access patterns, warp by warp (32 consecutive
// threads, one of the kPer steps), from the same per-thread index functions
// the kernel runs: every warp's active global addresses are one contiguous
// run on both the load and the store side (coalesced), a warp's shared-memory
// words fall at most two to a bank (at most one when the tile is at least 32
// wide), and lanes idle only on the matrix's edges and the rounding of a
// narrow side to a power of two: the warps that touch memory number at most
// twice the minimum plus one per tile. A 32 × 32 tile on an N = 4 side (the
// old layout) stores with 4 of 32 lanes active, about 8× the minimum.
TEST(Toeplitz, TransposeWarpsAreCoalescedAndBankConflictFree) {
  namespace dt = detail::toeplitz;
  using G = dt::TransposeGeom;
  for (const auto& sh : kTransposeShapes) {
    const std::int64_t rows = sh[0], cols = sh[1];
    SCOPED_TRACE(std::to_string(rows) + " x " + std::to_string(cols));
    const G g = G::make(rows, cols, 1);
    std::int64_t warps[2] = {0, 0};  // load, store warps with an active lane
    for (std::int64_t t = 0; t < g.tiles; ++t)
      for (int side = 0; side < 2; ++side)
        for (int u = 0; u < G::kPer; ++u)
          for (int w0 = 0; w0 < G::kThreads; w0 += 32) {
            std::vector<std::int64_t> addr;
            std::map<int, std::vector<int>> bank_words;
            for (int lane = 0; lane < 32; ++lane) {
              const int e = u * G::kThreads + w0 + lane;
              const int i = side == 0 ? g.load_row(e) : g.store_row(e);
              const int j = side == 0 ? g.load_col(e) : g.store_col(e);
              ASSERT_LT(i, g.th);
              ASSERT_LT(j, g.tw);
              const std::int64_t r = g.row0(t) + i, c = g.col0(t) + j;
              if (r >= rows || c >= cols) continue;
              addr.push_back(side == 0 ? r * cols + c : c * rows + r);
              const int word = i * g.pitch + j;
              ASSERT_LT(word, G::kShared);
              std::vector<int>& in_bank = bank_words[word % 32];
              if (std::find(in_bank.begin(), in_bank.end(), word) == in_bank.end()) in_bank.push_back(word);
            }
            if (addr.empty()) continue;
            ++warps[side];
            const auto mm = std::minmax_element(addr.begin(), addr.end());
            ASSERT_EQ(*mm.second - *mm.first + 1, std::int64_t(addr.size()))
                << (side == 0 ? "load" : "store") << " of tile " << t << ", step " << u << ", warp " << w0 / 32
                << " is not one contiguous run";
            std::size_t degree = 0;
            for (const auto& kv : bank_words) degree = std::max(degree, kv.second.size());
            ASSERT_LE(degree, g.tw >= 32 ? 1u : 2u)
                << (side == 0 ? "load" : "store") << " of tile " << t << ", step " << u << ", warp " << w0 / 32
                << ": bank conflict, tile " << g.th << " x " << g.tw << ", pitch " << g.pitch;
          }
    const std::int64_t minimum = (rows * cols + 31) / 32;
    EXPECT_LE(warps[0], 2 * minimum + g.tiles) << "load warps, tile " << g.th << " x " << g.tw;
    EXPECT_LE(warps[1], 2 * minimum + g.tiles) << "store warps, tile " << g.th << " x " << g.tw;
  }
}

// Rows whenever N > 1 and the copies fit beside what is already held.
TEST(Toeplitz, SpmmLayoutFollowsTheWorkspaceLimit) {
  namespace dt = detail::toeplitz;
  const std::size_t unlimited = std::numeric_limits<std::size_t>::max();
  EXPECT_EQ(dt::spmm_layout(1, 100, 10, unlimited), dt::SpmmLayout::Columns);
  EXPECT_EQ(dt::spmm_layout(2, 100, 10, unlimited), dt::SpmmLayout::Rows);
  EXPECT_EQ(dt::spmm_layout(64, 100, 10, 110), dt::SpmmLayout::Rows);
  EXPECT_EQ(dt::spmm_layout(64, 100, 10, 109), dt::SpmmLayout::Columns);
  EXPECT_EQ(dt::spmm_layout(64, 200, 10, 150), dt::SpmmLayout::Columns);
  EXPECT_EQ(dt::spmm_layout(64, 100, unlimited, unlimited), dt::SpmmLayout::Columns);
}


// The refill's per-thread steps (the device kernel runs refill_tile for each
// thread of each tile): every nonzero written exactly once, by the thread
// RefillSplit assigns it, with its one tap or the sum of its taps.
TEST(Toeplitz, RefillStepsWriteEveryNonzeroOnce) {
  namespace dt = detail::toeplitz;
  using S = dt::RefillSplit;
  const std::vector<std::int32_t> counts = {0, 1, 255, 256, 1023, 1024, 1025, 5000};
  for (const std::int32_t nnz : counts)
    for (const bool multi : {false, true}) {
      SCOPED_TRACE("nnz " + std::to_string(nnz) + (multi ? ", several taps" : ", one tap"));
      std::vector<double> w(97);
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = double(i) * 3.0 - 100.0;
      // Nonzero j reads taps (j·7) % 97 and, when multi, also ((j·7) + j % 3 + 1) % 97 once per j % 3.
      std::vector<std::int32_t> tap_ptr{0}, taps;
      for (std::int32_t j = 0; j < nnz; ++j) {
        taps.push_back((j * 7) % 97);
        if (multi)
          for (std::int32_t e = 0; e < j % 3; ++e) taps.push_back((j * 7 + e + 1) % 97);
        tap_ptr.push_back(static_cast<std::int32_t>(taps.size()));
      }
      std::vector<double> values(static_cast<std::size_t>(nnz), std::nan(""));
      std::vector<int> writes(values.size(), 0);
      std::vector<double> step(values.size());
      const dt::Refill<double, std::int32_t> f{multi ? tap_ptr.data() : nullptr, taps.data(), w.data(), step.data()};
      EXPECT_EQ(S::tiles(nnz), (nnz + S::kTile - 1) / S::kTile);
      // Each thread writes into a NaN-filled array of its own, so every store
      // counts, even one that repeats a value.
      for (std::int64_t t = 0; t < S::tiles(nnz); ++t)
        for (int thread = 0; thread < S::kThreads; ++thread) {
          std::fill(step.begin(), step.end(), std::nan(""));
          dt::refill_tile(f, nnz, t, thread);
          for (std::size_t i = 0; i < step.size(); ++i)
            if (!std::isnan(step[i])) {
              ++writes[i];
              values[i] = step[i];
              EXPECT_EQ(std::int64_t(i) % S::kThreads, thread) << "nonzero " << i;
              EXPECT_EQ(std::int64_t(i) / S::kTile, t) << "nonzero " << i;
            }
        }
      for (std::int32_t j = 0; j < nnz; ++j) {
        double want = 0.0;
        for (std::int32_t k = multi ? tap_ptr[j] : j; k < (multi ? tap_ptr[j + 1] : j + 1); ++k)
          want += w[static_cast<std::size_t>(multi ? taps[k] : taps[j])];
        ASSERT_EQ(values[j], want) << "nonzero " << j;
        ASSERT_EQ(writes[j], 1) << "nonzero " << j;
      }
    }
}

}  // namespace
}  // namespace convkit::test
