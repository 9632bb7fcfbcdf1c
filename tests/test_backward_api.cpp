// The public gradient API on the CPU (no device needed): conv_backward_data,
// conv_backward_filter, conv_backward_bias, conv_transpose and
// conv_transpose_output_shape reject bad input with InvalidArgument naming the
// parameter, before any device work and without writing the output (device
// views over small static arrays that nothing may dereference); their
// Algorithm::Reference paths equal convkit::reference; the output shape of
// the transposed convolution is PyTorch's; and supports(), workspace_bytes(),
// choose_algorithm() and tuning_key() answer per Direction.
#include <convkit/reference.hpp>
#include <convkit/toeplitz.hpp>

#include "harness.hpp"

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

constexpr float kSentinel = 7.25f;

// Device views over host arrays: validation must fail before anything reads
// or writes them. Each slot is 512 floats (or 256 doubles) of sentinel.
struct FakeDevice {
  alignas(64) float f[8][512];
  alignas(64) double d[4][512];
  FakeDevice() { reset(); }
  void reset() {
    for (auto& a : f)
      for (float& v : a) v = kSentinel;
    for (auto& a : d)
      for (double& v : a) v = kSentinel;
  }
  bool untouched() const {
    for (const auto& a : f)
      for (float v : a)
        if (v != kSentinel) return false;
    for (const auto& a : d)
      for (double v : a)
        if (v != kSentinel) return false;
    return true;
  }
};

FakeDevice& fake() {
  static FakeDevice fd;  // static: never on a stack that a wild write could hide in
  return fd;
}

template <class T>
TensorView<const T> cdev(T* p, const Shape& s) {
  return TensorView<const T>::device(p, s);
}
template <class T>
TensorView<T> dev(T* p, const Shape& s) {
  return TensorView<T>::device(p, s);
}

// Runs `f`, which must throw Error(InvalidArgument) whose message contains
// every needle, and leave the fake device memory as it was.
template <class F>
void expect_invalid(F&& f, std::initializer_list<const char*> needles, const char* what) {
  SCOPED_TRACE(what);
  fake().reset();
  try {
    f();
    ADD_FAILURE() << "no error; expected InvalidArgument";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument) << e.what();
    for (const char* n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << n << " not in: " << e.what();
  }
  EXPECT_TRUE(fake().untouched()) << "memory written before the error";
}

// Host variant: `out` (bytes) must be unchanged.
template <class F>
void expect_invalid_host(F&& f, const void* out, std::size_t bytes, std::initializer_list<const char*> needles,
                         const char* what) {
  SCOPED_TRACE(what);
  std::vector<unsigned char> before(bytes);
  std::memcpy(before.data(), out, bytes);
  try {
    f();
    ADD_FAILURE() << "no error; expected InvalidArgument";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument) << e.what();
    for (const char* n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << n << " not in: " << e.what();
  }
  EXPECT_EQ(std::memcmp(before.data(), out, bytes), 0) << "output written before the error";
}

// A grouped, strided 2-D problem: x [2,4,7,6], w [6,2,3,3], y [2,6,4,3].
const ConvSpec kSpec = ConvSpec::conv2d().padding(1).stride(2).groups(2);
const Shape kX{2, 4, 7, 6}, kW{6, 2, 3, 3}, kY{2, 6, 4, 3};

const Algorithm kDeviceAlgos[] = {Algorithm::Auto, Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz};
const Direction kDirections[] = {Direction::Forward, Direction::BackwardData, Direction::BackwardFilter};
const double kBadBetas[] = {0.5, -1.0, 2.0, std::numeric_limits<double>::quiet_NaN()};

TEST(BackwardApi, ProblemShapesAreWhatTheTestsAssume) {
  EXPECT_EQ(kSpec.output_shape(kX, kW), kY);
  // dx of 9 rows would give 5 output rows, not kY's 4.
  EXPECT_EQ(kSpec.output_shape(Shape{2, 4, 9, 6}, kW), (Shape{2, 6, 5, 3}));
}

TEST(BackwardApi, BackwardDataRejectsBadInputBeforeDeviceWork) {
  Context ctx;
  FakeDevice& m = fake();
  for (Algorithm a : kDeviceAlgos) {
    SCOPED_TRACE(algorithm_name(a));
    auto dy = cdev(m.f[0], kY);
    auto w = cdev(m.f[1], kW);
    auto dx = dev(m.f[2], kX);
    auto call = [&](TensorArg dy_, TensorArg w_, TensorArg dx_, double beta = 0.0) {
      return [=, &ctx] { conv_backward_data(ctx, kSpec, dy_, w_, dx_, a, beta); };
    };
    expect_invalid(call(TensorArg(), w, dx), {"dy is missing"}, "missing dy");
    expect_invalid(call(dy, TensorArg(), dx), {"w is missing"}, "missing w");
    expect_invalid(call(dy, w, TensorArg()), {"dx is missing"}, "missing dx");
    expect_invalid(call(dy, cdev(m.d[0], kW), dx), {"w dtype", "f64"}, "w dtype");
    expect_invalid(call(dy, w, dev(m.d[0], kX)), {"dx dtype"}, "dx dtype");
    // dx of 9 rows: a valid forward input, but for 5 output rows.
    expect_invalid(call(dy, w, dev(m.f[2], {2, 4, 9, 6})), {"dy shape", "dx shape [2, 4, 9, 6]"},
                   "dx shape not giving dy's");
    expect_invalid(call(dy, w, dev(m.f[2], {2, 3, 7, 6})), {"dx shape [2, 3, 7, 6]", "not a valid forward problem"},
                   "dx channels the groups reject");
    expect_invalid(call(cdev(m.f[0], {2, 6, 4, 4}), w, dx), {"dy shape = [2, 6, 4, 4]"}, "dy shape");
    expect_invalid(call(cdev(m.f[0], {2, 5, 4, 3}), w, dx), {"dy shape = [2, 5, 4, 3]"}, "dy channels");
    expect_invalid(call(dy, cdev(m.f[1], {6, 4, 3, 3}), dx), {"w shape [6, 4, 3, 3]"}, "w shape");
    expect_invalid(call(dy, w, dx, 0.5), {"beta = 0.5"}, "beta 0.5");
    for (double beta : kBadBetas) expect_invalid(call(dy, w, dx, beta), {"beta"}, "bad beta");
    expect_invalid(call(cdev(m.f[3], kY), w, dev(m.f[3] + 100, kX)), {"dx overlaps dy"}, "dx over dy");
    expect_invalid(call(dy, cdev(m.f[3], kW), dev(m.f[3] + 50, kX)), {"dx overlaps w"}, "dx over w");
    expect_invalid(call(dy, w, TensorView<const float>::device(m.f[2], kX)), {"dx", "writable"}, "const dx");
    expect_invalid(call(TensorView<const float>::host(m.f[0], kY), TensorView<const float>::host(m.f[1], kW),
                        TensorView<float>::host(m.f[2], kX)),
                   {"host", "device memory"}, "host views");
    expect_invalid(call(dy, w, TensorView<float>::host(m.f[2], kX)), {"dx is a host view"}, "host dx");
  }
  expect_invalid([&] { conv_backward_data(ctx, kSpec, cdev(m.f[0], kY), cdev(m.f[1], kW), dev(m.f[2], kX),
                                          static_cast<Algorithm>(42)); },
                 {"Algorithm(42)"}, "bad algorithm");
}

TEST(BackwardApi, BackwardFilterRejectsBadInputBeforeDeviceWork) {
  Context ctx;
  FakeDevice& m = fake();
  for (Algorithm a : kDeviceAlgos) {
    SCOPED_TRACE(algorithm_name(a));
    auto x = cdev(m.f[0], kX);
    auto dy = cdev(m.f[1], kY);
    auto dw = dev(m.f[2], kW);
    auto call = [&](TensorArg x_, TensorArg dy_, TensorArg dw_, double beta = 0.0) {
      return [=, &ctx] { conv_backward_filter(ctx, kSpec, x_, dy_, dw_, a, beta); };
    };
    expect_invalid(call(TensorArg(), dy, dw), {"x is missing"}, "missing x");
    expect_invalid(call(x, TensorArg(), dw), {"dy is missing"}, "missing dy");
    expect_invalid(call(x, dy, TensorArg()), {"dw is missing"}, "missing dw");
    expect_invalid(call(x, cdev(m.d[0], kY), dw), {"dy dtype"}, "dy dtype");
    expect_invalid(call(x, dy, dev(m.d[0], kW)), {"dw dtype"}, "dw dtype");
    // A 3x1 kernel gives (6 + 2 - 1)/2 + 1 = 4 output columns, not dy's 3.
    expect_invalid(call(x, dy, dev(m.f[2], {6, 2, 3, 1})), {"dy shape", "dw shape [6, 2, 3, 1]"},
                   "dw shape not giving dy's");
    expect_invalid(call(x, dy, dev(m.f[2], {6, 4, 3, 3})), {"dw shape [6, 4, 3, 3]", "not a valid forward problem"},
                   "dw channels");
    expect_invalid(call(x, dy, dev(m.f[2], {5, 2, 3, 3})), {"dw shape [5, 2, 3, 3]"}, "dw filters the groups reject");
    expect_invalid(call(x, cdev(m.f[1], {2, 6, 4, 2}), dw), {"dy shape = [2, 6, 4, 2]"}, "dy shape");
    expect_invalid(call(cdev(m.f[0], {2, 3, 7, 6}), dy, dw), {"x shape [2, 3, 7, 6]"}, "x shape");
    expect_invalid(call(x, dy, dw, 0.5), {"beta = 0.5"}, "beta 0.5");
    for (double beta : kBadBetas) expect_invalid(call(x, dy, dw, beta), {"beta"}, "bad beta");
    expect_invalid(call(cdev(m.f[3], kX), dy, dev(m.f[3] + 300, kW)), {"dw overlaps x"}, "dw over x");
    expect_invalid(call(x, cdev(m.f[3], kY), dev(m.f[3] + 143, kW)), {"dw overlaps dy"}, "dw over dy");
    expect_invalid(call(x, dy, TensorView<const float>::device(m.f[2], kW)), {"dw", "writable"}, "const dw");
    expect_invalid(call(TensorView<const float>::host(m.f[0], kX), TensorView<const float>::host(m.f[1], kY),
                        TensorView<float>::host(m.f[2], kW)),
                   {"host", "device memory"}, "host views");
    expect_invalid(call(x, dy, TensorView<float>::host(m.f[2], kW)), {"dw is a host view"}, "host dw");
  }
}

TEST(BackwardApi, BackwardBiasRejectsBadInputBeforeDeviceWork) {
  Context ctx;
  FakeDevice& m = fake();
  auto dy = cdev(m.f[0], kY);
  auto db = dev(m.f[1], {6});
  auto call = [&](TensorArg dy_, TensorArg db_, double beta = 0.0) {
    return [=, &ctx] { conv_backward_bias(ctx, dy_, db_, beta); };
  };
  expect_invalid(call(TensorArg(), db), {"dy is missing"}, "missing dy");
  expect_invalid(call(dy, TensorArg()), {"db is missing"}, "missing db");
  expect_invalid(call(dy, dev(m.d[0], {6})), {"db dtype"}, "db dtype");
  expect_invalid(call(dy, dev(m.f[1], {5})), {"db shape = [5]"}, "db shape");
  expect_invalid(call(dy, dev(m.f[1], {6, 1})), {"db shape = [6, 1]"}, "db rank");
  expect_invalid(call(cdev(m.f[0], {12, 12}), dev(m.f[1], {12})), {"dy shape", "rank"}, "dy rank 2");
  expect_invalid(call(cdev(m.f[0], {6}), dev(m.f[1], {6})), {"dy shape", "rank"}, "dy rank 1");
  expect_invalid(call(dy, db, 0.5), {"beta = 0.5"}, "beta 0.5");
  for (double beta : kBadBetas) expect_invalid(call(dy, db, beta), {"beta"}, "bad beta");
  expect_invalid(call(cdev(m.f[2], kY), dev(m.f[2] + 10, {6})), {"db overlaps dy"}, "db in dy");
  expect_invalid(call(dy, TensorView<const float>::device(m.f[1], {6})), {"db", "writable"}, "const db");
  // Host dy routes to the reference, which wants host memory for db too.
  expect_invalid(call(TensorView<const float>::host(m.f[0], kY), db), {"db is a device view", "host memory"},
                 "host dy, device db");
  expect_invalid(call(dy, TensorView<float>::host(m.f[1], {6})), {"db is a host view", "device memory"},
                 "device dy, host db");
}

// Host views: the reference's reduction, through the same entry point.
TEST(BackwardApi, BackwardBiasOnHostViewsIsTheReference) {
  Context ctx;
  const auto dy = random_ints<double>(kY, 7);
  for (double beta : {0.0, 1.0}) {
    auto want = random_ints<double>(Shape{kY[1]}, 8), got = random_ints<double>(Shape{kY[1]}, 8);
    reference::conv_backward_bias(dy.view(), want.view(), beta);
    conv_backward_bias(ctx, dy.view(), got.view(), beta);
    EXPECT_TRUE(compare(got, want, nullptr, 0.0)) << "beta " << beta;
  }
}

TEST(BackwardApi, ConvTransposeRejectsBadInputBeforeDeviceWork) {
  Context ctx;
  FakeDevice& m = fake();
  const ConvSpec biased = ConvSpec(kSpec).bias(true);
  // x plays dy ([N, K, O...] = kY), y plays dx (kX); the bias is [C] = [4].
  for (Algorithm a : kDeviceAlgos) {
    SCOPED_TRACE(algorithm_name(a));
    auto x = cdev(m.f[0], kY);
    auto w = cdev(m.f[1], kW);
    auto b = cdev(m.f[4], {4});
    auto y = dev(m.f[2], kX);
    auto call = [&](const ConvSpec& s, TensorArg x_, TensorArg w_, TensorArg b_, TensorArg y_) {
      return [=, &ctx] { conv_transpose(ctx, s, x_, w_, b_, y_, a); };
    };
    expect_invalid(call(biased, TensorArg(), w, b, y), {"x is missing"}, "missing x");
    expect_invalid(call(biased, x, TensorArg(), b, y), {"w is missing"}, "missing w");
    expect_invalid(call(biased, x, w, b, TensorArg()), {"y is missing"}, "missing y");
    expect_invalid(call(biased, x, w, TensorArg(), y), {"bias is missing"}, "missing bias");
    expect_invalid(call(kSpec, x, w, b, y), {"bias given"}, "bias without bias(true)");
    expect_invalid(call(biased, x, w, cdev(m.f[4], {6}), y), {"bias shape = [6]", "[4]"}, "bias of K, not C");
    expect_invalid(call(biased, x, w, cdev(m.d[0], {4}), y), {"bias dtype"}, "bias dtype");
    expect_invalid(call(biased, x, cdev(m.d[1], kW), b, y), {"w dtype"}, "w dtype");
    expect_invalid(call(biased, x, w, b, dev(m.f[2], {2, 4, 9, 6})), {"y shape [2, 4, 9, 6]"}, "y shape");
    expect_invalid(call(biased, cdev(m.f[0], {2, 6, 4, 4}), w, b, y), {"x shape = [2, 6, 4, 4]"}, "x shape");
    expect_invalid(call(biased, x, w, cdev(m.f[2] + 8, {4}), y), {"y overlaps bias"}, "y over bias");
    expect_invalid(call(biased, cdev(m.f[3], kY), w, b, dev(m.f[3] + 1, kX)), {"y overlaps x"}, "y over x");
    expect_invalid(call(biased, x, w, b, TensorView<const float>::device(m.f[2], kX)), {"y", "writable"}, "const y");
    expect_invalid(call(biased, TensorView<const float>::host(m.f[0], kY), TensorView<const float>::host(m.f[1], kW),
                        TensorView<const float>::host(m.f[4], {4}), TensorView<float>::host(m.f[2], kX)),
                   {"host", "device memory"}, "host views");
    expect_invalid(call(biased, x, w, TensorView<const float>::host(m.f[4], {4}), y), {"bias is a host view"},
                   "host bias");
  }
  // Algorithm::Reference takes host memory only.
  expect_invalid([&] { conv_transpose(ctx, biased, cdev(m.f[0], kY), cdev(m.f[1], kW), cdev(m.f[4], {4}),
                                      dev(m.f[2], kX), Algorithm::Reference); },
                 {"device view", "host memory"}, "device views on Reference");
}

TEST(BackwardApi, ReferencePathsRejectDeviceViews) {
  Context ctx;
  FakeDevice& m = fake();
  expect_invalid([&] { conv_backward_data(ctx, kSpec, cdev(m.f[0], kY), cdev(m.f[1], kW), dev(m.f[2], kX),
                                          Algorithm::Reference); },
                 {"device view", "host memory"}, "backward-data");
  expect_invalid([&] { conv_backward_filter(ctx, kSpec, cdev(m.f[0], kX), cdev(m.f[1], kY), dev(m.f[2], kW),
                                            Algorithm::Reference); },
                 {"device view", "host memory"}, "backward-filter");
  // And a bad beta on host tensors, with the output left alone.
  auto x = random_ints<float>(kX, 1), w = random_ints<float>(kW, 2), dy = random_ints<float>(kY, 3);
  auto dx = random_ints<float>(kX, 4), dw = random_ints<float>(kW, 5);
  expect_invalid_host([&] { conv_backward_data(ctx, kSpec, dy.view(), w.view(), dx.view(), Algorithm::Reference, 0.5); },
                      dx.data(), dx.numel() * sizeof(float), {"beta = 0.5"}, "beta, backward-data");
  expect_invalid_host(
      [&] { conv_backward_filter(ctx, kSpec, x.view(), dy.view(), dw.view(), Algorithm::Reference, 2.0); },
      dw.data(), dw.numel() * sizeof(float), {"beta = 2"}, "beta, backward-filter");
}

// ---------------------------------------------------------------- Reference

template <class T>
void reference_paths_equal_reference(std::uint64_t seed) {
  Context ctx;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name + " " + dtype_name(dtype_v<T>));
    const Shape ys = c.spec.output_shape(c.x, c.w);
    const auto x = random_ints<T>(c.x, ++seed), w = random_ints<T>(c.w, ++seed), dy = random_ints<T>(ys, ++seed);
    for (double beta : {0.0, 1.0}) {
      SCOPED_TRACE("beta " + std::to_string(beta));
      auto want_dx = random_ints<T>(c.x, seed + 100), got_dx = random_ints<T>(c.x, seed + 100);
      auto want_dw = random_ints<T>(c.w, seed + 200), got_dw = random_ints<T>(c.w, seed + 200);
      reference::conv_backward_data(c.spec, dy.view(), w.view(), want_dx.view(), beta);
      conv_backward_data(ctx, c.spec, dy.view(), w.view(), got_dx.view(), Algorithm::Reference, beta);
      EXPECT_TRUE(compare(got_dx, want_dx, nullptr, 0.0)) << "dx";
      reference::conv_backward_filter(c.spec, x.view(), dy.view(), want_dw.view(), beta);
      conv_backward_filter(ctx, c.spec, x.view(), dy.view(), got_dw.view(), Algorithm::Reference, beta);
      EXPECT_TRUE(compare(got_dw, want_dw, nullptr, 0.0)) << "dw";
    }
  }
}

TEST(BackwardApi, ReferenceAlgorithmEqualsReferenceFunctions) {
  reference_paths_equal_reference<float>(100);
  reference_paths_equal_reference<double>(50000);
}

// conv_transpose with Algorithm::Reference and a bias [C]: the adjoint plus
// the bias on every element of channel c, over the problem table.
TEST(BackwardApi, ConvTransposeReferenceWithBiasIsAdjointPlusBias) {
  Context ctx;
  std::uint64_t seed = 900;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const auto in = random_ints<double>(p.y_shape(), ++seed), w = random_ints<double>(c.w, ++seed);
    const auto bias = random_ints<double>(Shape{p.C}, ++seed);
    HostTensor<double> want(c.x);
    reference::conv_backward_data(c.spec, in.view(), w.view(), want.view(), 0.0);
    const std::int64_t Q = p.in_spatial();
    for (std::int64_t i = 0; i < want.numel(); ++i) want[i] += bias[(i / Q) % p.C];

    HostTensor<double> got(c.x);
    for (std::int64_t i = 0; i < got.numel(); ++i) got[i] = std::numeric_limits<double>::quiet_NaN();
    conv_transpose(ctx, ConvSpec(c.spec).bias(true), in.view(), w.view(), bias.view(), got.view(),
                   Algorithm::Reference);
    EXPECT_TRUE(compare(got, want, nullptr, 0.0)) << "with bias";

    HostTensor<double> nb(c.x), want_nb(c.x);
    reference::conv_backward_data(c.spec, in.view(), w.view(), want_nb.view(), 0.0);
    conv_transpose(ctx, ConvSpec(c.spec).bias(false), in.view(), w.view(), TensorArg(), nb.view(),
                   Algorithm::Reference);
    EXPECT_TRUE(compare(nb, want_nb, nullptr, 0.0)) << "without bias";
  }
}

// ------------------------------------------------- conv_transpose_output_shape

struct TransposeShapeCase {
  const char* name;
  ConvSpec spec;
  Shape x, w;  // x: the transposed convolution's input [N, K, O...]
  std::vector<std::int64_t> output_padding;
};

// PyTorch's formula, written out per dimension: (O−1)·s − lo − hi + dil·(k−1) + op + 1.
Shape pytorch_shape(const TransposeShapeCase& t) {
  const int d = t.spec.dims();
  Shape y{t.x[0], t.w[1] * t.spec.groups()};
  for (int i = 0; i < d; ++i) {
    const auto [lo, hi] = t.spec.resolved_padding(i, t.w[2 + i]);
    const std::int64_t op = t.output_padding.empty() ? 0 : t.output_padding[static_cast<std::size_t>(i)];
    y.push_back((t.x[2 + i] - 1) * t.spec.stride_at(i) - lo - hi + t.spec.dilation_at(i) * (t.w[2 + i] - 1) + op + 1);
  }
  return y;
}

TEST(BackwardApi, TransposeOutputShapeIsPytorchs) {
  using P = Padding;
  const std::vector<TransposeShapeCase> table = {
      {"1d_plain", ConvSpec::conv1d(), {1, 1, 5}, {1, 1, 3}, {}},
      {"1d_stride2_op1", ConvSpec::conv1d().stride(2).padding(1), {2, 3, 5}, {3, 4, 3}, {1}},
      {"1d_stride3_op2", ConvSpec::conv1d().stride(3), {1, 2, 4}, {2, 1, 2}, {2}},
      {"1d_dil3_stride2_op1", ConvSpec::conv1d().dilation(3).stride(2), {1, 1, 6}, {1, 1, 3}, {1}},
      {"1d_asym_pad", ConvSpec::conv1d().padding(P::per_dim({{3, 1}})).stride(2), {1, 1, 7}, {1, 1, 5}, {0}},
      {"1d_full", ConvSpec::conv1d().padding(P::full()), {1, 1, 9}, {1, 1, 4}, {}},
      {"1d_same", ConvSpec::conv1d().padding(P::same()), {1, 2, 9}, {2, 2, 4}, {0}},
      {"2d_groups_stride_dil", ConvSpec::conv2d().groups(2).stride({2, 3}).dilation({1, 2}).padding(1), {2, 4, 5, 6},
       {4, 3, 3, 3}, {1, 2}},
      {"2d_asym_op", ConvSpec::conv2d().stride(2).padding(P::per_dim({{0, 2}, {1, 0}})), {1, 1, 4, 4}, {1, 1, 3, 2},
       {1, 0}},
      {"2d_depthwise", ConvSpec::conv2d().groups(3).stride(2).padding(1), {1, 3, 8, 8}, {3, 1, 3, 3}, {1, 1}},
      {"3d_mixed", ConvSpec::conv3d().stride({2, 1, 3}).dilation({1, 2, 1}).padding(P::per_dim({{1, 0}, {2, 2}, {0, 1}})),
       {1, 2, 3, 4, 5}, {2, 1, 2, 3, 2}, {1, 0, 2}},
      {"3d_N0", ConvSpec::conv3d().stride(2), {0, 2, 3, 3, 3}, {2, 2, 2, 2, 2}, {0, 1, 0}},
  };
  for (const auto& t : table) {
    SCOPED_TRACE(t.name);
    const Shape want = pytorch_shape(t);
    Shape got;
    ASSERT_NO_THROW(got = conv_transpose_output_shape(t.spec, t.x, t.w, t.output_padding));
    EXPECT_EQ(got, want);
    // And it is an adjoint shape: the forward of the result gives x back.
    EXPECT_EQ(t.spec.output_shape(got, t.w), t.x);
  }
  // The literal numbers for one case, so the formula above cannot drift with
  // the code: PyTorch ConvTranspose2d(4, 6, 3, stride=(2, 3), padding=1,
  // output_padding=(1, 2), groups=2, dilation=(1, 2)) maps [2,4,5,6] to
  // [2,6,10,20]: H = 4·2 − 2 + 2 + 1 + 1, W = 5·3 − 2 + 4 + 2 + 1.
  EXPECT_EQ(conv_transpose_output_shape(table[7].spec, table[7].x, table[7].w, {1, 2}), (Shape{2, 6, 10, 20}));
}

TEST(BackwardApi, TransposeOutputShapeRejectsBadOutputPadding) {
  const ConvSpec s2 = ConvSpec::conv2d().stride({2, 1}).dilation({1, 3});
  const Shape x{1, 2, 4, 4}, w{2, 3, 3, 3};
  const auto bad = [&](std::vector<std::int64_t> op, std::initializer_list<const char*> needles, const char* what) {
    SCOPED_TRACE(what);
    try {
      conv_transpose_output_shape(s2, x, w, op);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument) << e.what();
      for (const char* n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
    }
  };
  // The range is PyTorch's [0, max(stride, dilation)): dim 0 allows 0..1,
  // dim 1 (stride 1, dilation 3) 0..2.
  EXPECT_EQ(conv_transpose_output_shape(s2, x, w, {1, 0}), (Shape{1, 3, 10, 10}));
  bad({2, 0}, {"output_padding[0] = 2"}, "op = stride");
  bad({0, 3}, {"output_padding[1] = 3"}, "op = dilation");
  // Inside that range but not below the stride, PyTorch pads its output
  // (positions no input reaches); convkit keeps the transposed convolution
  // an adjoint, so a shape the forward does not map back onto x is refused.
  bad({0, 2}, {"gives", "not x's"}, "op in [stride, dilation)");
  bad({-1, 0}, {"output_padding[0] = -1"}, "negative");
  bad({0, -2}, {"output_padding[1] = -2"}, "negative dim 1");
  bad({1}, {"output_padding", "1 entries"}, "too few");
  bad({0, 0, 0}, {"output_padding", "3 entries"}, "too many");
  // Stride 1, dilation 1: only 0 is allowed.
  try {
    conv_transpose_output_shape(ConvSpec::conv1d(), {1, 1, 4}, {1, 1, 2}, {1});
    ADD_FAILURE() << "output_padding 1 accepted with stride 1 and dilation 1";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("output_padding[0] = 1"), std::string::npos) << e.what();
  }
  // x's channels must be w's filters.
  try {
    conv_transpose_output_shape(s2, {1, 3, 4, 4}, w, {});
    ADD_FAILURE() << "channel mismatch accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
  }
}

// ---------------------------------------------------- queries per direction

TEST(BackwardApi, BadDirectionIsInvalidArgument) {
  Context ctx;
  const auto bad = static_cast<Direction>(7);
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct, Algorithm::SparseToeplitz, Algorithm::Reference}) {
    SCOPED_TRACE(algorithm_name(a));
    try {
      supports(kSpec, kX, kW, DType::F32, a, bad);
      ADD_FAILURE() << "supports accepted Direction(7)";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("Direction(7)"), std::string::npos) << e.what();
    }
    try {
      workspace_bytes(kSpec, kX, kW, DType::F32, a, bad);
      ADD_FAILURE() << "workspace_bytes accepted Direction(7)";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("Direction(7)"), std::string::npos) << e.what();
    }
  }
  for (auto f : {+[](Context& c) { choose_algorithm(c, kSpec, kX, kW, DType::F32, false, static_cast<Direction>(7)); },
                 +[](Context& c) { tuning_key(c, kSpec, kX, kW, DType::F32, static_cast<Direction>(7)); }}) {
    try {
      f(ctx);
      ADD_FAILURE() << "Direction(7) accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("Direction"), std::string::npos) << e.what();
    }
  }
  EXPECT_STREQ(direction_name(Direction::Forward), "forward");
  EXPECT_STREQ(direction_name(Direction::BackwardData), "backward-data");
  EXPECT_STREQ(direction_name(Direction::BackwardFilter), "backward-filter");
}

TEST(BackwardApi, InvalidProblemIsInvalidArgumentInEveryDirection) {
  for (Direction d : kDirections) {
    SCOPED_TRACE(direction_name(d));
    try {
      supports(kSpec, kX, Shape{6, 3, 3, 3}, DType::F32, Algorithm::Reference, d);
      ADD_FAILURE() << "bad w shape accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
    }
    try {
      workspace_bytes(kSpec, kX, Shape{6, 3, 3, 3}, DType::F32, Algorithm::SparseToeplitz, d);
      ADD_FAILURE() << "bad w shape accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
    }
  }
}

// What is built today and what is not, each with its reason; and for every
// algorithm and direction, supports() and workspace_bytes() agree (a
// supported pass has a workspace answer, an unsupported one is NotSupported
// with the same reason). Written so that it stays right as the Direct and
// im2col backward paths land.
TEST(BackwardApi, SupportsAndWorkspaceAnswerPerDirection) {
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    for (DType t : {DType::F32, DType::F64}) {
      for (Direction d : kDirections) {
        SCOPED_TRACE(direction_name(d));
        const Support ref = supports(c.spec, c.x, c.w, t, Algorithm::Reference, d);
        EXPECT_TRUE(ref.ok) << ref.reason;
        EXPECT_EQ(workspace_bytes(c.spec, c.x, c.w, t, Algorithm::Reference, d), 0u);
        const Support fft = supports(c.spec, c.x, c.w, t, Algorithm::Fft, d);
        if (d == Direction::Forward) {  // every forward spec; no backward pass yet
          EXPECT_TRUE(fft.ok) << fft.reason;
          EXPECT_EQ(fft.variant.rfind("fft/", 0), 0u) << fft.variant;
          EXPECT_NO_THROW(workspace_bytes(c.spec, c.x, c.w, t, Algorithm::Fft, d));
        } else {
          EXPECT_FALSE(fft.ok);
          EXPECT_FALSE(fft.reason.empty());
        }

        bool any = false;
        for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
          SCOPED_TRACE(algorithm_name(a));
          const Support s = supports(c.spec, c.x, c.w, t, a, d);
          any |= s.ok;
          if (s.ok) {
            EXPECT_TRUE(s.reason.empty());
            EXPECT_FALSE(s.variant.empty());
            EXPECT_NO_THROW(workspace_bytes(c.spec, c.x, c.w, t, a, d));
          } else {
            EXPECT_FALSE(s.reason.empty());
            try {
              workspace_bytes(c.spec, c.x, c.w, t, a, d);
              ADD_FAILURE() << "workspace_bytes answered for an unsupported pass";
            } catch (const Error& e) {
              EXPECT_EQ(e.status(), Status::NotSupported);
              EXPECT_NE(std::string(e.what()).find(s.reason), std::string::npos) << e.what();
            }
          }
        }
        const Support au = supports(c.spec, c.x, c.w, t, Algorithm::Auto, d);
        EXPECT_EQ(au.ok, any) << au.reason;
        if (!au.ok) EXPECT_NE(au.reason.find(direction_name(d)), std::string::npos) << au.reason;
      }
      // SparseToeplitz: backward-data wherever the forward is (Tᵀ·dy on the
      // same matrix, same workspace); backward-filter too, with at least one
      // value per nonzero more (the sampled product dyᵀ·x; test_toeplitz_backward
      // checks the exact figure).
      const Support fwd = supports(c.spec, c.x, c.w, t, Algorithm::SparseToeplitz, Direction::Forward);
      const Support bd = supports(c.spec, c.x, c.w, t, Algorithm::SparseToeplitz, Direction::BackwardData);
      EXPECT_EQ(bd.ok, fwd.ok) << bd.reason;
      if (fwd.ok && bd.ok)
        EXPECT_EQ(workspace_bytes(c.spec, c.x, c.w, t, Algorithm::SparseToeplitz, Direction::BackwardData),
                  workspace_bytes(c.spec, c.x, c.w, t, Algorithm::SparseToeplitz, Direction::Forward));
      const Support bf = supports(c.spec, c.x, c.w, t, Algorithm::SparseToeplitz, Direction::BackwardFilter);
      EXPECT_EQ(bf.ok, fwd.ok) << bf.reason;
      if (fwd.ok && bf.ok)
        EXPECT_GE(workspace_bytes(c.spec, c.x, c.w, t, Algorithm::SparseToeplitz, Direction::BackwardFilter),
                  workspace_bytes(c.spec, c.x, c.w, t, Algorithm::SparseToeplitz, Direction::Forward) +
                      std::size_t(toeplitz::info(c.spec, c.x, c.w, t).nnz) * dtype_size(t));
    }
  }
}

TEST(BackwardApi, ChooseAlgorithmChoosesPerDirection) {
  Context ctx;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    for (Direction d : kDirections) {
      SCOPED_TRACE(direction_name(d));
      bool any = false;
      for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz})
        any |= supports(c.spec, c.x, c.w, DType::F32, a, d).ok;
      for (bool for_plan : {false, true}) {
        try {
          const AlgorithmChoice ch = choose_algorithm(ctx, c.spec, c.x, c.w, DType::F32, for_plan, d);
          EXPECT_TRUE(any) << "chose for a pass no algorithm supports";
          EXPECT_EQ(ch.direction, d);
          EXPECT_NE(ch.explain().find(direction_name(d)), std::string::npos) << ch.explain();
          const Support s = supports(c.spec, c.x, c.w, DType::F32, ch.chosen, d);
          EXPECT_TRUE(s.ok) << algorithm_name(ch.chosen) << " chosen but: " << s.reason;
          for (const CandidateReport& r : ch.candidates) {
            const Support rs = supports(c.spec, c.x, c.w, DType::F32, r.algorithm, d);
            if (!rs.ok) {
              EXPECT_FALSE(r.considered) << algorithm_name(r.algorithm);
              EXPECT_NE(r.excluded_because.find(rs.reason), std::string::npos) << r.excluded_because;
            }
          }
          if (!for_plan) {
            // supports(Auto) names the variant of this very choice.
            const Support au = supports(c.spec, c.x, c.w, DType::F32, Algorithm::Auto, d);
            EXPECT_TRUE(au.ok);
            for (const CandidateReport& r : ch.candidates)
              if (r.algorithm == ch.chosen) EXPECT_EQ(au.variant, r.variant);
          }
        } catch (const Error& e) {
          EXPECT_EQ(e.status(), Status::NotSupported) << e.what();
          EXPECT_FALSE(any) << "no choice although an algorithm supports it: " << e.what();
          EXPECT_NE(std::string(e.what()).find(direction_name(d)), std::string::npos) << e.what();
        }
      }
    }
  }
}

TEST(BackwardApi, TuningKeyDiffersBetweenDirections) {
  Context ctx;
  const std::string f = tuning_key(ctx, kSpec, kX, kW, DType::F32, Direction::Forward);
  const std::string bd = tuning_key(ctx, kSpec, kX, kW, DType::F32, Direction::BackwardData);
  const std::string bf = tuning_key(ctx, kSpec, kX, kW, DType::F32, Direction::BackwardFilter);
  EXPECT_NE(f, bd);
  EXPECT_NE(f, bf);
  EXPECT_NE(bd, bf);
  EXPECT_EQ(f, tuning_key(ctx, kSpec, kX, kW, DType::F32));  // Forward is the default
  EXPECT_NE(bd.find("backward-data"), std::string::npos) << bd;
  EXPECT_NE(bf.find("backward-filter"), std::string::npos) << bf;
  // The bias does not take part in the backward passes: the key ignores it
  // there, and not in the forward.
  const ConvSpec biased = ConvSpec(kSpec).bias(true);
  EXPECT_EQ(bd, tuning_key(ctx, biased, kX, kW, DType::F32, Direction::BackwardData));
  EXPECT_EQ(bf, tuning_key(ctx, biased, kX, kW, DType::F32, Direction::BackwardFilter));
  EXPECT_NE(f, tuning_key(ctx, biased, kX, kW, DType::F32, Direction::Forward));
}

// Valid gradient calls with device algorithms on a machine without a device
// fail with NoDevice or NotSupported (never InvalidArgument, never a crash),
// and write nothing.
TEST(BackwardApi, ValidCallsWithoutDeviceAreNoDeviceOrNotSupported) {
  if (has_gpu()) GTEST_SKIP() << "a device is present";
  Context ctx;
  FakeDevice& m = fake();
  for (Algorithm a : kDeviceAlgos) {
    SCOPED_TRACE(algorithm_name(a));
    const auto check = [&](auto&& f, const char* what) {
      SCOPED_TRACE(what);
      m.reset();
      try {
        f();
        ADD_FAILURE() << "ran without a device";
      } catch (const Error& e) {
        EXPECT_TRUE(e.status() == Status::NoDevice || e.status() == Status::NotSupported) << e.what();
      }
      EXPECT_TRUE(m.untouched());
    };
    check([&] { conv_backward_data(ctx, kSpec, cdev(m.f[0], kY), cdev(m.f[1], kW), dev(m.f[2], kX), a, 1.0); },
          "backward-data");
    check([&] { conv_backward_filter(ctx, kSpec, cdev(m.f[0], kX), cdev(m.f[1], kY), dev(m.f[2], kW), a, 0.0); },
          "backward-filter");
    check([&] { conv_transpose(ctx, ConvSpec(kSpec).bias(true), cdev(m.f[0], kY), cdev(m.f[1], kW),
                               cdev(m.f[4], {4}), dev(m.f[2], kX), a); },
          "conv_transpose");
  }
  const auto check_bias = [&] {
    m.reset();
    try {
      conv_backward_bias(ctx, cdev(m.f[0], kY), dev(m.f[1], {6}), 0.0);
      ADD_FAILURE() << "ran without a device";
    } catch (const Error& e) {
      EXPECT_TRUE(e.status() == Status::NoDevice || e.status() == Status::NotSupported) << e.what();
    }
    EXPECT_TRUE(m.untouched());
  };
  check_bias();
}

}  // namespace
}  // namespace convkit::test
