// The CPU reference's gradients (DESIGN §1b): conv_backward_data,
// conv_backward_filter and conv_backward_bias checked against central finite
// differences of the forward reference on the loss L = Σ y·r, against the
// adjoint identities on small-integer data (exact in double), for beta 0
// (never reads the output) and beta 1 (accumulates), and for validation that
// rejects bad calls before writing anything. Every row of the shared problem
// table is swept; seeds are fixed.
#include "harness.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace convkit::test {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The gradients ignore the bias flag; the forward used to differentiate
// must not add one unless the bias is what is being differentiated.
ConvSpec without_bias(ConvSpec s) { return s.bias(false); }

template <class T>
double dot(const HostTensor<T>& a, const HostTensor<T>& b) {
  double s = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

// L = Σ conv(x, w) (+ b) · r, in double.
double loss(const ConvSpec& spec, const HostTensor<double>& x, const HostTensor<double>& w,
            const HostTensor<double>* b, const HostTensor<double>& r) {
  HostTensor<double> y(r.shape());
  if (b)
    reference::conv(spec, x.view(), w.view(), b->view(), y.view());
  else
    reference::conv(spec, x.view(), w.view(), y.view());
  return dot(y, r);
}

// Indices at which to take finite differences: all of them for small
// tensors, else both ends and a fixed random sample (the adjoint tests cover
// every element exactly).
std::vector<std::int64_t> probe_indices(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> idx;
  if (n <= 160) {
    for (std::int64_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  idx = {0, n - 1};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> d(0, n - 1);
  for (int j = 0; j < 40; ++j) idx.push_back(d(rng));
  return idx;
}

// Central difference of L in t[i]. L is linear in each operand, so the
// difference is exact up to rounding; h = 1/2 keeps the perturbation exact.
template <class F>
::testing::AssertionResult check_by_differences(HostTensor<double>& t, const HostTensor<double>& grad,
                                                F&& L, double scale, std::uint64_t seed, const char* what) {
  const double h = 0.5;
  // Rounding of L's sums (about 1e-16 of `scale`, the sum of the terms'
  // magnitudes), divided by 2h; a wrong gradient is off by O(1).
  const double tol = 1e-12 * (1.0 + scale);
  int bad = 0;
  std::ostringstream os;
  for (std::int64_t i : probe_indices(t.numel(), seed)) {
    const double keep = t[i];
    t[i] = keep + h;
    const double up = L();
    t[i] = keep - h;
    const double down = L();
    t[i] = keep;
    const double fd = (up - down) / (2 * h);
    if (!(std::abs(fd - grad[i]) <= tol)) {
      if (bad < 5) os << "\n  " << what << "[" << i << "] = " << grad[i] << ", finite difference " << fd;
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " mismatches in " << what << os.str();
}

TEST(BackwardReference, GradientsMatchFiniteDifferences) {
  std::uint64_t seed = 1000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvSpec spec = without_bias(c.spec);
    const ConvProblem p = spec.problem(c.x, c.w);
    auto x = random_floats<double>(c.x, ++seed);
    auto w = random_floats<double>(c.w, ++seed);
    auto b = random_floats<double>(Shape{p.K}, ++seed);
    const auto r = random_floats<double>(p.y_shape(), ++seed);
    HostTensor<double> dx(c.x), dw(c.w), db(Shape{p.K});
    reference::conv_backward_data(c.spec, r.view(), w.view(), dx.view(), 0.0);
    reference::conv_backward_filter(c.spec, x.view(), r.view(), dw.view(), 0.0);
    reference::conv_backward_bias(r.view(), db.view(), 0.0);
    // Every term is |x·w·r| <= 1; there are numel(y)·(C/G)·Πk of them.
    const double scale = static_cast<double>(r.numel()) * static_cast<double>(p.Cg() * p.ker_spatial() + 1);
    EXPECT_TRUE(check_by_differences(x, dx, [&] { return loss(spec, x, w, nullptr, r); }, scale, ++seed, "dx"));
    EXPECT_TRUE(check_by_differences(w, dw, [&] { return loss(spec, x, w, nullptr, r); }, scale, ++seed, "dw"));
    const ConvSpec with_bias = ConvSpec(spec).bias(true);
    EXPECT_TRUE(check_by_differences(b, db, [&] { return loss(with_bias, x, w, &b, r); }, scale, ++seed, "db"));
  }
}

// ⟨conv(x, w), dy⟩ = ⟨x, backward_data(dy, w)⟩ = ⟨w, backward_filter(x, dy)⟩
// and ⟨1_K, db⟩ = Σ dy: small integers keep every double sum exact, so the
// identities hold bit for bit. The element-wise check against conv_transpose
// pins backward_data to the existing adjoint.
TEST(BackwardReference, AdjointIdentitiesExact) {
  std::uint64_t seed = 2000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvSpec spec = without_bias(c.spec);
    const ConvProblem p = spec.problem(c.x, c.w);
    const auto x = random_ints<double>(c.x, ++seed);
    const auto w = random_ints<double>(c.w, ++seed);
    const auto dy = random_ints<double>(p.y_shape(), ++seed);
    HostTensor<double> y(p.y_shape()), dx(c.x), dw(c.w), db(Shape{p.K}), dxt(c.x);
    reference::conv(spec, x.view(), w.view(), y.view());
    reference::conv_backward_data(spec, dy.view(), w.view(), dx.view());
    reference::conv_backward_filter(spec, x.view(), dy.view(), dw.view());
    reference::conv_backward_bias(dy.view(), db.view());
    reference::conv_transpose(spec, dy.view(), w.view(), dxt.view());
    const double lhs = dot(y, dy);
    EXPECT_EQ(lhs, dot(x, dx));
    EXPECT_EQ(lhs, dot(w, dw));
    double sum_dy = 0.0, sum_db = 0.0;
    for (std::int64_t i = 0; i < dy.numel(); ++i) sum_dy += dy[i];
    for (std::int64_t k = 0; k < db.numel(); ++k) sum_db += db[k];
    EXPECT_EQ(sum_dy, sum_db);
    EXPECT_TRUE(compare(dx, dxt, nullptr, 0.0));
    if (p.N > 0) EXPECT_NE(lhs, 0.0) << "a zero inner product would make the identity vacuous";
  }
}

// f32 with small integers is exact too, so it must agree with f64 bit for bit.
TEST(BackwardReference, FloatAgreesWithDoubleOnIntegers) {
  std::uint64_t seed = 3000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const auto xd = random_ints<double>(c.x, ++seed), wd = random_ints<double>(c.w, ++seed);
    const auto dyd = random_ints<double>(p.y_shape(), ++seed);
    const auto xf = random_ints<float>(c.x, seed - 2), wf = random_ints<float>(c.w, seed - 1);
    const auto dyf = random_ints<float>(p.y_shape(), seed);
    HostTensor<double> dxd(c.x), dwd(c.w), dbd(Shape{p.K});
    HostTensor<float> dxf(c.x), dwf(c.w), dbf(Shape{p.K});
    reference::conv_backward_data(c.spec, dyd.view(), wd.view(), dxd.view());
    reference::conv_backward_filter(c.spec, xd.view(), dyd.view(), dwd.view());
    reference::conv_backward_bias(dyd.view(), dbd.view());
    reference::conv_backward_data(c.spec, dyf.view(), wf.view(), dxf.view());
    reference::conv_backward_filter(c.spec, xf.view(), dyf.view(), dwf.view());
    reference::conv_backward_bias(dyf.view(), dbf.view());
    for (std::int64_t i = 0; i < dxd.numel(); ++i) ASSERT_EQ(static_cast<double>(dxf[i]), dxd[i]) << "dx " << i;
    for (std::int64_t i = 0; i < dwd.numel(); ++i) ASSERT_EQ(static_cast<double>(dwf[i]), dwd[i]) << "dw " << i;
    for (std::int64_t i = 0; i < dbd.numel(); ++i) ASSERT_EQ(static_cast<double>(dbf[i]), dbd[i]) << "db " << i;
  }
}

// A hand-computed 1-D case pins the tap order of both modes: x = [1 2 3 4],
// w of 2 taps, valid padding, dy = [1 0 0] picks the first window [1 2].
TEST(BackwardReference, FilterTapOrderPerMode) {
  const std::vector<double> x{1, 2, 3, 4}, dy{1, 0, 0};
  std::vector<double> dw(2, kNaN);
  const auto xv = TensorView<const double>::host(x.data(), {1, 1, 4});
  const auto dyv = TensorView<const double>::host(dy.data(), {1, 1, 3});
  const auto dwv = TensorView<double>::host(dw.data(), {1, 1, 2});
  reference::conv_backward_filter(ConvSpec::conv1d(), xv, dyv, dwv);
  EXPECT_EQ(dw, (std::vector<double>{1, 2}));
  reference::conv_backward_filter(ConvSpec::conv1d().mode(Mode::Convolution), xv, dyv, dwv);
  EXPECT_EQ(dw, (std::vector<double>{2, 1}));
}

// beta 0 never reads the output: NaN there must not leak. beta 1 adds onto
// what is there, in double, rounded once (so for f64 exactly prior + grad).
TEST(BackwardReference, BetaZeroOverwritesAndBetaOneAccumulates) {
  std::uint64_t seed = 4000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const auto x = random_floats<double>(c.x, ++seed), w = random_floats<double>(c.w, ++seed);
    const auto dy = random_floats<double>(p.y_shape(), ++seed);
    HostTensor<double> dx(c.x), dw(c.w), db(Shape{p.K});
    reference::conv_backward_data(c.spec, dy.view(), w.view(), dx.view(), 0.0);
    reference::conv_backward_filter(c.spec, x.view(), dy.view(), dw.view(), 0.0);
    reference::conv_backward_bias(dy.view(), db.view(), 0.0);

    HostTensor<double> dx0(c.x), dw0(c.w), db0(Shape{p.K});
    for (auto* t : {&dx0, &dw0, &db0})
      for (std::int64_t i = 0; i < t->numel(); ++i) (*t)[i] = kNaN;
    reference::conv_backward_data(c.spec, dy.view(), w.view(), dx0.view(), 0.0);
    reference::conv_backward_filter(c.spec, x.view(), dy.view(), dw0.view(), 0.0);
    reference::conv_backward_bias(dy.view(), db0.view(), 0.0);
    EXPECT_TRUE(compare(dx0, dx, nullptr, 0.0)) << "dx, beta 0 over NaN";
    EXPECT_TRUE(compare(dw0, dw, nullptr, 0.0)) << "dw, beta 0 over NaN";
    EXPECT_TRUE(compare(db0, db, nullptr, 0.0)) << "db, beta 0 over NaN";

    auto dx1 = random_floats<double>(c.x, ++seed), dw1 = random_floats<double>(c.w, ++seed);
    auto db1 = random_floats<double>(Shape{p.K}, ++seed);
    HostTensor<double> want_dx(c.x), want_dw(c.w), want_db(Shape{p.K});
    for (std::int64_t i = 0; i < dx.numel(); ++i) want_dx[i] = dx1[i] + dx[i];
    for (std::int64_t i = 0; i < dw.numel(); ++i) want_dw[i] = dw1[i] + dw[i];
    for (std::int64_t i = 0; i < db.numel(); ++i) want_db[i] = db1[i] + db[i];
    reference::conv_backward_data(c.spec, dy.view(), w.view(), dx1.view(), 1.0);
    reference::conv_backward_filter(c.spec, x.view(), dy.view(), dw1.view(), 1.0);
    reference::conv_backward_bias(dy.view(), db1.view(), 1.0);
    EXPECT_TRUE(compare(dx1, want_dx, nullptr, 0.0)) << "dx, beta 1";
    EXPECT_TRUE(compare(dw1, want_dw, nullptr, 0.0)) << "dw, beta 1";
    EXPECT_TRUE(compare(db1, want_db, nullptr, 0.0)) << "db, beta 1";
  }
}

// N = 0: the weight and bias gradients are empty sums, 0 with beta 0 (over
// NaN) and the prior value with beta 1; dx is empty.
TEST(BackwardReference, EmptyBatch) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1).boundary(Boundary::Symmetric);
  const Shape xs{0, 3, 6, 5}, ws{4, 3, 3, 3}, ys{0, 4, 6, 5};
  const auto w = random_ints<float>(ws, 1);
  HostTensor<float> dw(ws), db(Shape{4});
  for (std::int64_t i = 0; i < dw.numel(); ++i) dw[i] = std::numeric_limits<float>::quiet_NaN();
  for (std::int64_t i = 0; i < db.numel(); ++i) db[i] = std::numeric_limits<float>::quiet_NaN();
  const auto x = TensorView<const float>::host(nullptr, xs);
  const auto dy = TensorView<const float>::host(nullptr, ys);
  reference::conv_backward_filter(spec, x, dy, dw.view(), 0.0);
  reference::conv_backward_bias(dy, db.view(), 0.0);
  for (std::int64_t i = 0; i < dw.numel(); ++i) EXPECT_EQ(dw[i], 0.0f) << i;
  for (std::int64_t i = 0; i < db.numel(); ++i) EXPECT_EQ(db[i], 0.0f) << i;
  auto dw1 = random_ints<float>(ws, 2), db1 = random_ints<float>(Shape{4}, 3);
  const auto dw1_before = random_ints<float>(ws, 2), db1_before = random_ints<float>(Shape{4}, 3);
  reference::conv_backward_filter(spec, x, dy, dw1.view(), 1.0);
  reference::conv_backward_bias(dy, db1.view(), 1.0);
  EXPECT_TRUE(compare(dw1, dw1_before, nullptr, 0.0));
  EXPECT_TRUE(compare(db1, db1_before, nullptr, 0.0));
  reference::conv_backward_data(spec, dy, w.view(), TensorView<float>::host(nullptr, xs), 0.0);
}

// The stride ambiguity: inputs of 9 and 10 samples both give 4 outputs
// under stride 2 and a 3-tap kernel; dx's shape says which one is meant.
TEST(BackwardReference, DataShapeResolvesStrideAmbiguity) {
  const ConvSpec spec = ConvSpec::conv1d().stride(2);
  const auto w = random_ints<double>({1, 1, 3}, 5);
  const auto dy = random_ints<double>({1, 1, 4}, 6);
  HostTensor<double> dx9({1, 1, 9}), dx10({1, 1, 10});
  reference::conv_backward_data(spec, dy.view(), w.view(), dx9.view());
  reference::conv_backward_data(spec, dy.view(), w.view(), dx10.view());
  for (std::int64_t i = 0; i < 9; ++i) EXPECT_EQ(dx9[i], dx10[i]) << i;
  EXPECT_EQ(dx10[9], 0.0) << "the last sample is read by no output";
}

// Runs `f`, which must throw Error(InvalidArgument) with `needle` in its
// message, and checks that `out` (bytes) did not change.
template <class F>
void expect_rejected(F&& f, const void* out, std::size_t bytes, const char* needle) {
  std::vector<unsigned char> before(bytes);
  std::memcpy(before.data(), out, bytes);
  try {
    f();
    ADD_FAILURE() << "no error; expected InvalidArgument mentioning \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::memcmp(before.data(), out, bytes), 0) << "output written before the error (" << needle << ")";
}

TEST(BackwardReference, BadInputRejectedBeforeWriting) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1).stride(2).groups(2);
  const Shape xs{2, 4, 7, 6}, ws{6, 2, 3, 3};
  const Shape ys = spec.output_shape(xs, ws);  // [2, 6, 4, 3]
  const auto x = random_ints<double>(xs, 10), w = random_ints<double>(ws, 11);
  const auto dy = random_ints<double>(ys, 12);
  auto dx = random_ints<double>(xs, 13);
  auto dw = random_ints<double>(ws, 14);
  auto db = random_ints<double>(Shape{6}, 15);
  const std::size_t dx_bytes = dx.numel() * sizeof(double), dw_bytes = dw.numel() * sizeof(double);
  using reference::conv_backward_bias;
  using reference::conv_backward_data;
  using reference::conv_backward_filter;

  // dw of a kernel size that gives another output shape, and of a channel
  // count the groups reject.
  expect_rejected([&] { conv_backward_filter(spec, x.view(), dy.view(), TensorView<double>::host(dw.data(), {6, 2, 1, 3})); },
                  dw.data(), dw_bytes, "dy shape");
  expect_rejected([&] { conv_backward_filter(spec, x.view(), dy.view(), TensorView<double>::host(dw.data(), {6, 4, 3, 1})); },
                  dw.data(), dw_bytes, "dw shape [6, 4, 3, 1] is not a valid forward problem for the spec: w.shape[1]");
  // dx of 9 rows gives 5 output rows, not dy's 4.
  expect_rejected([&] { conv_backward_data(spec, dy.view(), w.view(), TensorView<double>::host(dx.data(), {2, 4, 9, 6})); },
                  dx.data(), dx_bytes, "dy shape");
  expect_rejected([&] { conv_backward_bias(dy.view(), TensorView<double>::host(db.data(), {5})); }, db.data(),
                  db.numel() * sizeof(double), "db shape");
  expect_rejected([&] { conv_backward_bias(TensorView<const double>::host(dy.data(), {48, 6}), db.view()); },
                  db.data(), db.numel() * sizeof(double), "rank");

  // dtypes: every operand must share the reference operand's dtype.
  HostTensor<float> dwf(ws), dxf(xs);
  expect_rejected([&] { conv_backward_filter(spec, x.view(), dy.view(), dwf.view()); }, dwf.data(),
                  dwf.numel() * sizeof(float), "dw dtype");
  expect_rejected([&] { conv_backward_data(spec, dy.view(), w.view(), dxf.view()); }, dxf.data(),
                  dxf.numel() * sizeof(float), "dx dtype");
  const auto dyf = random_ints<float>(ys, 16);
  expect_rejected([&] { conv_backward_bias(dyf.view(), db.view()); }, db.data(), db.numel() * sizeof(double),
                  "db dtype");

  // The output overlapping an input: dw sharing the end of x's buffer, dx
  // sharing dy's, db inside dy.
  std::vector<double> shared(x.numel() + dw.numel() - 1, 3.0);
  const auto xs_view = TensorView<const double>::host(shared.data(), xs);
  const auto dw_in_x = TensorView<double>::host(shared.data() + x.numel() - 1, ws);
  expect_rejected([&] { conv_backward_filter(spec, xs_view, dy.view(), dw_in_x); }, shared.data(),
                  shared.size() * sizeof(double), "dw overlaps x");
  std::vector<double> shared2(dy.numel() + dx.numel(), 2.0);
  const auto dy_view = TensorView<const double>::host(shared2.data() + dx.numel() / 2, ys);
  expect_rejected([&] { conv_backward_data(spec, dy_view, w.view(), TensorView<double>::host(shared2.data(), xs)); },
                  shared2.data(), shared2.size() * sizeof(double), "dx overlaps dy");
  std::vector<double> shared3(dy.numel(), 1.0);
  expect_rejected([&] {
    conv_backward_bias(TensorView<const double>::host(shared3.data(), ys), TensorView<double>::host(shared3.data() + 5, {6}));
  }, shared3.data(), shared3.size() * sizeof(double), "db overlaps dy");

  // A misaligned output pointer.
  std::vector<unsigned char> raw(dw_bytes + sizeof(double), 0x5a);
  auto* dw_odd = reinterpret_cast<double*>(raw.data() + 1);
  expect_rejected([&] { conv_backward_filter(spec, x.view(), dy.view(), TensorView<double>::host(dw_odd, ws)); },
                  raw.data(), raw.size(), "not aligned");

  // A read-only output, a device view, a missing tensor, a bad beta.
  expect_rejected([&] { conv_backward_filter(spec, x.view(), dy.view(), TensorView<const double>::host(dw.data(), ws)); },
                  dw.data(), dw_bytes, "writable");
  expect_rejected([&] { conv_backward_data(spec, dy.view(), w.view(), TensorView<double>::device(dx.data(), xs)); },
                  dx.data(), dx_bytes, "dx is a");
  expect_rejected([&] { conv_backward_data(spec, TensorArg(), w.view(), dx.view()); }, dx.data(), dx_bytes,
                  "dy is missing");
  for (double beta : {0.5, -1.0, 2.0, kNaN}) {
    expect_rejected([&] { conv_backward_filter(spec, x.view(), dy.view(), dw.view(), beta); }, dw.data(), dw_bytes,
                    "beta");
    expect_rejected([&] { conv_backward_data(spec, dy.view(), w.view(), dx.view(), beta); }, dx.data(), dx_bytes,
                    "beta");
    expect_rejected([&] { conv_backward_bias(dy.view(), db.view(), beta); }, db.data(), db.numel() * sizeof(double),
                    "beta");
  }
}

}  // namespace
}  // namespace convkit::test
