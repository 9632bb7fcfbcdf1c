// GPU tests of the gradient API (DESIGN §1b): conv_backward_data,
// conv_backward_filter, conv_backward_bias, conv_transpose and
// ConvPlan::run_backward_* against the CPU reference, for Algorithm::Direct,
// Im2colGemm, SparseToeplitz and Auto, every problem_table() case, f32 and
// f64. Small integers must match exactly, random floats within the harness
// tolerance over the terms of each gradient element. beta 0 writes over a
// NaN-poisoned output (every element written, no NaN leaks); beta 1 adds onto
// random prior values. Algorithms deterministic in a direction
// (detail::is_deterministic) must repeat bit for bit. A combination that
// supports() refuses is skipped, not failed -- the paths are being built --
// except that Direct and Im2colGemm must support both backward directions of
// every case (DESIGN §1b: every algorithm computes both gradients), which
// BackwardGpuSupport checks. Every test skips itself without a CUDA device.
#include "determinism.hpp"
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace convkit {
// Test names and CTest entries print the algorithm's name (internal linkage:
// only this file's parameterised tests use it).
static void PrintTo(Algorithm a, std::ostream* os) { *os << algorithm_name(a); }
}  // namespace convkit

namespace convkit::test {
namespace {

const Direction kBackward[] = {Direction::BackwardData, Direction::BackwardFilter};

// Fills a device tensor with NaN bytes (0xFF...), on the context's stream.
template <class T>
void poison(Context& ctx, DeviceTensor<T>& t) {
  if (t.bytes()) ASSERT_EQ(cudaMemsetAsync(t.data(), 0xFF, t.bytes(), ctx.stream()), cudaSuccess);
}

template <class T>
bool bit_identical(const HostTensor<T>& a, const HostTensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  return a.numel() == 0 || std::memcmp(a.data(), b.data(), a.numel() * sizeof(T)) == 0;
}

template <class T>
HostTensor<double> abs_double(const HostTensor<T>& t) {
  HostTensor<double> r(t.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) r[i] = std::abs(static_cast<double>(t[i]));
  return r;
}

template <class T>
HostTensor<T> copy_of(const HostTensor<T>& t) {
  HostTensor<T> r(t.shape());
  if (t.numel()) std::memcpy(r.data(), t.data(), t.numel() * sizeof(T));
  return r;
}

HostTensor<double> ones(const Shape& s) {
  HostTensor<double> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = 1.0;
  return t;
}

std::int64_t max_count(const HostTensor<double>& t) {
  double m = 1;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, t[i]);
  return static_cast<std::int64_t>(m);
}

// One case's operands and the reference gradients with their tolerance data.
template <class T>
struct Grad {
  ConvSpec spec = ConvSpec(1);
  HostTensor<T> x, w, dy;
  HostTensor<T> dx, dw, db;           // reference, beta 0
  HostTensor<double> mdx, mdw, mdb;   // Σ|terms| of each element
  std::int64_t tdx = 1, tdw = 1;      // terms per element (an upper bound)
  bool floats = false;
};

template <class T>
Grad<T> make_grad(const ConvCase& c, bool floats, std::uint64_t seed) {
  Grad<T> g;
  g.spec = c.spec;
  g.floats = floats;
  const ConvProblem p = c.spec.problem(c.x, c.w);
  const Shape ys = p.y_shape();
  if (floats) {
    g.x = random_floats<T>(c.x, seed);
    g.w = random_floats<T>(c.w, seed + 1);
    g.dy = random_floats<T>(ys, seed + 2);
  } else {
    g.x = random_ints<T>(c.x, seed);
    g.w = random_ints<T>(c.w, seed + 1);
    g.dy = random_ints<T>(ys, seed + 2);
  }
  g.dx = HostTensor<T>(c.x);
  g.dw = HostTensor<T>(c.w);
  g.db = HostTensor<T>(Shape{p.K});
  reference::conv_backward_data(c.spec, g.dy.view(), g.w.view(), g.dx.view());
  reference::conv_backward_filter(c.spec, g.x.view(), g.dy.view(), g.dw.view());
  reference::conv_backward_bias(g.dy.view(), g.db.view());
  // Magnitudes: the same gradients of |operands|; the term count of dx from
  // the gradient of ones (every (o, tap) pair that folds onto an element).
  const auto ax = abs_double(g.x), aw = abs_double(g.w), ady = abs_double(g.dy);
  g.mdx = HostTensor<double>(c.x);
  g.mdw = HostTensor<double>(c.w);
  g.mdb = HostTensor<double>(Shape{p.K});
  reference::conv_backward_data(c.spec, ady.view(), aw.view(), g.mdx.view());
  reference::conv_backward_filter(c.spec, ax.view(), ady.view(), g.mdw.view());
  reference::conv_backward_bias(ady.view(), g.mdb.view());
  HostTensor<double> count(c.x);
  reference::conv_backward_data(c.spec, ones(ys).view(), ones(c.w).view(), count.view());
  g.tdx = max_count(count);
  g.tdw = std::max<std::int64_t>(1, p.N * p.out_spatial());
  return g;
}

// The harness tolerance for `terms` terms, 0 (exact) for integer data.
template <class T>
double tol(const Grad<T>& g, std::int64_t terms) {
  return g.floats ? tolerance<T>(terms) : 0.0;
}

// Runs one backward pass on the device. prior == nullptr: beta 0 over a
// NaN-poisoned output; else beta 1 onto *prior.
template <class T>
HostTensor<T> run_pass(Context& ctx, const Grad<T>& g, Algorithm a, Direction d, const HostTensor<T>* prior) {
  const Shape out_shape = d == Direction::BackwardData ? g.x.shape() : g.w.shape();
  DeviceTensor<T> out = prior ? DeviceTensor<T>::from_host(ctx, *prior) : DeviceTensor<T>(ctx, out_shape);
  if (!prior) poison(ctx, out);
  auto dy = DeviceTensor<T>::from_host(ctx, g.dy);
  const double beta = prior ? 1.0 : 0.0;
  if (d == Direction::BackwardData) {
    auto w = DeviceTensor<T>::from_host(ctx, g.w);
    conv_backward_data(ctx, g.spec, dy.view(), w.view(), out.view(), a, beta);
  } else {
    auto x = DeviceTensor<T>::from_host(ctx, g.x);
    conv_backward_filter(ctx, g.spec, x.view(), dy.view(), out.view(), a, beta);
  }
  return out.to_host();
}

// The reference of a pass with beta 1 onto `prior`, and its magnitudes.
template <class T>
HostTensor<T> reference_accumulated(const Grad<T>& g, Direction d, const HostTensor<T>& prior) {
  HostTensor<T> r = copy_of(prior);
  if (d == Direction::BackwardData)
    reference::conv_backward_data(g.spec, g.dy.view(), g.w.view(), r.view(), 1.0);
  else
    reference::conv_backward_filter(g.spec, g.x.view(), g.dy.view(), r.view(), 1.0);
  return r;
}

// The concrete algorithm a call with `a` runs in direction d.
Algorithm resolved(Context& ctx, const ConvCase& c, DType t, Algorithm a, Direction d) {
  return a == Algorithm::Auto ? choose_algorithm(ctx, c.spec, c.x, c.w, t, false, d).chosen : a;
}

class BackwardGpu : public ::testing::TestWithParam<Algorithm> {};

// Every case, both dtypes, integers and floats, beta 0 and 1, in direction d.
// Returns the number of cases run (the rest supports() refuses).
template <class T>
int check_direction(Algorithm a, Direction d, std::uint64_t seed) {
  Context ctx;
  int ran = 0;
  for (const ConvCase& c : problem_table()) {
    const Support s = supports(c.spec, c.x, c.w, dtype_v<T>, a, d);
    if (!s.ok) continue;  // skipped: not built (yet) for this problem
    ++ran;
    const Algorithm r = resolved(ctx, c, dtype_v<T>, a, d);
    for (bool floats : {false, true}) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype_v<T>) + (floats ? " floats" : " ints") + " variant " + s.variant +
                   " runs " + algorithm_name(r));
      const Grad<T> g = make_grad<T>(c, floats, seed += 10);
      const bool data = d == Direction::BackwardData;
      const HostTensor<T>& want = data ? g.dx : g.dw;
      const HostTensor<double>& mag = data ? g.mdx : g.mdw;
      const std::int64_t terms = data ? g.tdx : g.tdw;

      // beta 0 over NaN: every element written, equal to the reference.
      const HostTensor<T> got = run_pass<T>(ctx, g, a, d, nullptr);
      EXPECT_TRUE(compare(got, want, &mag, tol(g, terms))) << "beta 0";
      if (detail::is_deterministic(r, d)) {
        const HostTensor<T> again = run_pass<T>(ctx, g, a, d, nullptr);
        EXPECT_TRUE(bit_identical(got, again)) << algorithm_name(r) << " is listed deterministic but two runs differ";
      }

      // beta 1 onto random prior values: prior + gradient.
      const HostTensor<T> prior = floats ? random_floats<T>(want.shape(), seed + 5)
                                         : random_ints<T>(want.shape(), seed + 5);
      const HostTensor<T> got1 = run_pass(ctx, g, a, d, &prior);
      const HostTensor<T> want1 = reference_accumulated(g, d, prior);
      HostTensor<double> mag1(mag.shape());
      for (std::int64_t i = 0; i < mag1.numel(); ++i) mag1[i] = mag[i] + std::abs(double(prior[i]));
      EXPECT_TRUE(compare(got1, want1, &mag1, tol(g, terms + 1))) << "beta 1";
    }
  }
  return ran;
}

TEST_P(BackwardGpu, DataMatchesReference) {
  CONVKIT_REQUIRE_GPU();
  const int f = check_direction<float>(GetParam(), Direction::BackwardData, 1000);
  const int d = check_direction<double>(GetParam(), Direction::BackwardData, 2000);
  if (f + d == 0) GTEST_SKIP() << algorithm_name(GetParam()) << " supports no backward-data case";
  std::printf("  %s backward-data: %d f32 and %d f64 cases of %zu\n", algorithm_name(GetParam()), f, d,
              problem_table().size());
}

TEST_P(BackwardGpu, FilterMatchesReference) {
  CONVKIT_REQUIRE_GPU();
  const int f = check_direction<float>(GetParam(), Direction::BackwardFilter, 3000);
  const int d = check_direction<double>(GetParam(), Direction::BackwardFilter, 4000);
  if (f + d == 0) GTEST_SKIP() << algorithm_name(GetParam()) << " supports no backward-filter case";
  std::printf("  %s backward-filter: %d f32 and %d f64 cases of %zu\n", algorithm_name(GetParam()), f, d,
              problem_table().size());
}

// conv_transpose with a bias [C] (y = bias broadcast + Tᵀ·x) over a
// NaN-poisoned y, against the Reference path on host tensors.
template <class T>
int check_transpose(Algorithm a, std::uint64_t seed) {
  Context ctx;
  int ran = 0;
  for (const ConvCase& c : problem_table()) {
    if (!supports(c.spec, c.x, c.w, dtype_v<T>, a, Direction::BackwardData).ok) continue;
    ++ran;
    const ConvSpec spec = ConvSpec(c.spec).bias(true);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    for (bool floats : {false, true}) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype_v<T>) + (floats ? " floats" : " ints"));
      const Grad<T> g = make_grad<T>(c, floats, seed += 10);
      const HostTensor<T> bias = floats ? random_floats<T>(Shape{p.C}, seed + 3) : random_ints<T>(Shape{p.C}, seed + 3);
      HostTensor<T> want(c.x);
      conv_transpose(ctx, spec, g.dy.view(), g.w.view(), bias.view(), want.view(), Algorithm::Reference);
      HostTensor<double> mag(c.x);
      const std::int64_t Q = p.in_spatial();
      for (std::int64_t i = 0; i < mag.numel(); ++i) mag[i] = g.mdx[i] + std::abs(double(bias[(i / Q) % p.C]));

      auto in = DeviceTensor<T>::from_host(ctx, g.dy);
      auto w = DeviceTensor<T>::from_host(ctx, g.w);
      auto b = DeviceTensor<T>::from_host(ctx, bias);
      DeviceTensor<T> y(ctx, c.x);
      poison(ctx, y);
      conv_transpose(ctx, spec, in.view(), w.view(), b.view(), y.view(), a);
      EXPECT_TRUE(compare(y.to_host(), want, &mag, tol(g, g.tdx + 1))) << "with bias";

      // Without a bias it is backward-data with beta 0.
      DeviceTensor<T> y0(ctx, c.x);
      poison(ctx, y0);
      conv_transpose(ctx, ConvSpec(c.spec).bias(false), in.view(), w.view(), TensorArg(), y0.view(), a);
      EXPECT_TRUE(compare(y0.to_host(), g.dx, &g.mdx, tol(g, g.tdx))) << "without bias";
    }
  }
  return ran;
}

TEST_P(BackwardGpu, ConvTransposeWithBiasMatchesReference) {
  CONVKIT_REQUIRE_GPU();
  const int n = check_transpose<float>(GetParam(), 5000) + check_transpose<double>(GetParam(), 6000);
  if (n == 0) GTEST_SKIP() << algorithm_name(GetParam()) << " supports no backward-data case";
}

// ConvPlan's backward passes equal the one-shot calls bit for bit on integer
// data (and the reference), beta 0 and 1; a plan whose algorithm has no such
// pass refuses it with NotSupported before writing.
template <class T>
void check_plan(Algorithm a, std::uint64_t seed, int* ran) {
  Context ctx;
  for (const ConvCase& c : problem_table()) {
    if (!supports(c.spec, c.x, c.w, dtype_v<T>, a, Direction::Forward).ok) continue;
    SCOPED_TRACE(c.name + " " + dtype_name(dtype_v<T>));
    const Grad<T> g = make_grad<T>(c, false, seed += 10);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    ConvPlan plan(ctx, c.spec, c.x, c.w, dtype_v<T>, a);
    const Algorithm pa = plan.algorithm();
    auto w = DeviceTensor<T>::from_host(ctx, g.w);
    auto x = DeviceTensor<T>::from_host(ctx, g.x);
    auto dy = DeviceTensor<T>::from_host(ctx, g.dy);
    const HostTensor<T> bias = random_ints<T>(Shape{p.K}, seed + 7);
    auto b = DeviceTensor<T>::from_host(ctx, bias);
    plan.set_weights(w.view(), c.spec.has_bias() ? TensorArg(b.view()) : TensorArg());
    for (Direction d : kBackward) {
      SCOPED_TRACE(std::string(direction_name(d)) + " with " + algorithm_name(pa));
      const bool data = d == Direction::BackwardData;
      const Shape out_shape = data ? c.x : c.w;
      const HostTensor<T> prior = random_ints<T>(out_shape, seed + 9);
      for (const HostTensor<T>* pr : {static_cast<const HostTensor<T>*>(nullptr), &prior}) {
        DeviceTensor<T> out = pr ? DeviceTensor<T>::from_host(ctx, *pr) : DeviceTensor<T>(ctx, out_shape);
        if (!pr) poison(ctx, out);
        const double beta = pr ? 1.0 : 0.0;
        const auto run = [&] {
          if (data)
            plan.run_backward_data(dy.view(), out.view(), beta);
          else
            plan.run_backward_filter(x.view(), dy.view(), out.view(), beta);
        };
        if (!supports(c.spec, c.x, c.w, dtype_v<T>, pa, d).ok) {
          const HostTensor<T> before = out.to_host();
          try {
            run();
            ADD_FAILURE() << "the plan ran a pass its algorithm does not support";
          } catch (const Error& e) {
            EXPECT_EQ(e.status(), Status::NotSupported) << e.what();
          }
          EXPECT_TRUE(bit_identical(out.to_host(), before)) << "written before NotSupported";
          continue;
        }
        ++*ran;
        run();
        const HostTensor<T> got = out.to_host();
        const HostTensor<T> one_shot = run_pass(ctx, g, pa, d, pr);
        EXPECT_TRUE(bit_identical(got, one_shot)) << "plan and one-shot call differ, beta " << beta;
        const HostTensor<T> want = pr ? reference_accumulated(g, d, *pr) : copy_of(data ? g.dx : g.dw);
        EXPECT_TRUE(compare(got, want, nullptr, 0.0)) << "beta " << beta;
      }
    }
    // run_transpose is run_backward_data with beta 0.
    if (supports(c.spec, c.x, c.w, dtype_v<T>, pa, Direction::BackwardData).ok) {
      DeviceTensor<T> out(ctx, c.x);
      poison(ctx, out);
      plan.run_transpose(dy.view(), out.view());
      EXPECT_TRUE(compare(out.to_host(), g.dx, nullptr, 0.0)) << "run_transpose";
    }
  }
}

TEST_P(BackwardGpu, PlanBackwardEqualsOneShot) {
  CONVKIT_REQUIRE_GPU();
  int ran = 0;
  check_plan<float>(GetParam(), 7000, &ran);
  check_plan<double>(GetParam(), 8000, &ran);
  if (ran == 0) GTEST_SKIP() << "no plan of " << algorithm_name(GetParam()) << " has a backward pass";
}

// N = 0: dx is empty (nothing to do), dw is an empty sum: zeros under beta 0
// (over NaN), untouched under beta 1 -- one-shot and through a plan.
TEST_P(BackwardGpu, EmptyBatch) {
  CONVKIT_REQUIRE_GPU();
  const Algorithm a = GetParam();
  const ConvSpec spec = ConvSpec::conv2d().padding(1).boundary(Boundary::Reflect);
  const Shape xs{0, 3, 8, 8}, ws{4, 3, 3, 3}, ys{0, 4, 8, 8};
  Context ctx;
  int ran = 0;
  auto w = DeviceTensor<float>::from_host(ctx, random_ints<float>(ws, 1));
  DeviceTensor<float> x(ctx, xs), dy(ctx, ys), dx(ctx, xs);
  if (supports(spec, xs, ws, DType::F32, a, Direction::BackwardData).ok) {
    ++ran;
    for (double beta : {0.0, 1.0}) EXPECT_NO_THROW(conv_backward_data(ctx, spec, dy.view(), w.view(), dx.view(), a, beta));
    EXPECT_NO_THROW(conv_transpose(ctx, spec, dy.view(), w.view(), TensorArg(), dx.view(), a));
  }
  if (supports(spec, xs, ws, DType::F32, a, Direction::BackwardFilter).ok) {
    ++ran;
    const HostTensor<float> prior = random_ints<float>(ws, 2);
    const HostTensor<float> zeros(ws);
    DeviceTensor<float> dw(ctx, ws);
    poison(ctx, dw);
    conv_backward_filter(ctx, spec, x.view(), dy.view(), dw.view(), a, 0.0);
    EXPECT_TRUE(compare(dw.to_host(), zeros, nullptr, 0.0)) << "beta 0: zeros";
    auto dw1 = DeviceTensor<float>::from_host(ctx, prior);
    conv_backward_filter(ctx, spec, x.view(), dy.view(), dw1.view(), a, 1.0);
    EXPECT_TRUE(compare(dw1.to_host(), prior, nullptr, 0.0)) << "beta 1: untouched";

    if (a != Algorithm::Auto && supports(spec, xs, ws, DType::F32, a, Direction::Forward).ok) {
      ConvPlan plan(ctx, spec, xs, ws, DType::F32, a);
      DeviceTensor<float> pw(ctx, ws);
      poison(ctx, pw);
      plan.run_backward_filter(x.view(), dy.view(), pw.view(), 0.0);
      EXPECT_TRUE(compare(pw.to_host(), zeros, nullptr, 0.0)) << "plan, beta 0: zeros";
      auto pw1 = DeviceTensor<float>::from_host(ctx, prior);
      plan.run_backward_filter(x.view(), dy.view(), pw1.view(), 1.0);
      EXPECT_TRUE(compare(pw1.to_host(), prior, nullptr, 0.0)) << "plan, beta 1: untouched";
    }
  }
  if (ran == 0) GTEST_SKIP() << algorithm_name(a) << " has no backward pass for this problem";
}

INSTANTIATE_TEST_SUITE_P(Algorithms, BackwardGpu,
                         ::testing::Values(Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz,
                                           Algorithm::Auto),
                         [](const ::testing::TestParamInfo<Algorithm>& i) { return algorithm_name(i.param); });

// DESIGN §1b: every algorithm computes the forward pass and both gradients.
// Direct and Im2colGemm must support both backward directions of every case
// of the problem table, in f32 and f64 (this fails on a GPU machine until
// their backward paths land; without a device it skips like the rest).
TEST(BackwardGpuSupport, DirectAndIm2colSupportEveryCaseInBothDirections) {
  CONVKIT_REQUIRE_GPU();
  for (const ConvCase& c : problem_table())
    for (DType t : {DType::F32, DType::F64})
      for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm})
        for (Direction d : kBackward) {
          const Support s = supports(c.spec, c.x, c.w, t, a, d);
          EXPECT_TRUE(s.ok) << c.name << " " << dtype_name(t) << " " << algorithm_name(a) << " "
                            << direction_name(d) << ": " << s.reason;
        }
}

// ConvPlan's backward passes validate before writing: beta, shapes,
// overlaps, host memory, weights not bound yet, a moved-from plan.
TEST(BackwardGpuPlan, RejectsBadInputBeforeWriting) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const ConvSpec spec = ConvSpec::conv2d().padding(1).stride(2);
  const Shape xs{2, 3, 7, 6}, ws{4, 3, 3, 3}, ys = spec.output_shape(xs, ws);
  auto x = DeviceTensor<float>::from_host(ctx, random_ints<float>(xs, 1));
  auto w = DeviceTensor<float>::from_host(ctx, random_ints<float>(ws, 2));
  auto dy = DeviceTensor<float>::from_host(ctx, random_ints<float>(ys, 3));
  const HostTensor<float> dx_prior = random_ints<float>(xs, 4), dw_prior = random_ints<float>(ws, 5);
  auto dx = DeviceTensor<float>::from_host(ctx, dx_prior);
  auto dw = DeviceTensor<float>::from_host(ctx, dw_prior);
  DeviceTensor<float> big(ctx, Shape{4096});
  const auto expect_invalid = [&](auto&& f, const char* needle) {
    SCOPED_TRACE(needle);
    try {
      f();
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_TRUE(bit_identical(dx.to_host(), dx_prior)) << "dx written";
    EXPECT_TRUE(bit_identical(dw.to_host(), dw_prior)) << "dw written";
  };
  for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
    if (!supports(spec, xs, ws, DType::F32, a, Direction::Forward).ok) continue;
    SCOPED_TRACE(algorithm_name(a));
    ConvPlan plan(ctx, spec, xs, ws, DType::F32, a);
    expect_invalid([&] { plan.run_backward_data(dy.view(), dx.view()); }, "set_weights first");
    plan.set_weights(w.view());
    expect_invalid([&] { plan.run_backward_data(dy.view(), dx.view(), 0.5); }, "beta = 0.5");
    expect_invalid([&] { plan.run_backward_filter(x.view(), dy.view(), dw.view(), 2.0); }, "beta = 2");
    expect_invalid([&] { plan.run_backward_data(dy.view(), TensorView<float>::device(dx.data(), {2, 3, 8, 6})); },
                   "dx shape");
    expect_invalid([&] { plan.run_backward_data(TensorView<const float>::device(dy.data(), {2, 4, 4, 4}), dx.view()); },
                   "dy shape");
    expect_invalid([&] { plan.run_backward_filter(x.view(), dy.view(), TensorView<float>::device(dw.data(), {4, 3, 3, 2})); },
                   "dw shape");
    expect_invalid([&] {
      plan.run_backward_filter(TensorView<const float>::device(big.data(), xs), dy.view(),
                               TensorView<float>::device(big.data() + 200, ws));
    }, "dw overlaps x");
    expect_invalid([&] {
      plan.run_backward_data(TensorView<const float>::device(big.data(), ys),
                             TensorView<float>::device(big.data() + 10, xs));
    }, "dx overlaps dy");
    HostTensor<float> hdx(xs);
    expect_invalid([&] { plan.run_backward_data(dy.view(), hdx.view()); }, "dx is a host view");
    ConvPlan moved = std::move(plan);
    expect_invalid([&] { plan.run_backward_filter(x.view(), dy.view(), dw.view()); }, "used after move");
  }
}

// conv_backward_bias: the deterministic reduction against the reference,
// beta 0 over NaN and beta 1 onto prior values, repeated bit for bit.
template <class T>
void check_bias(std::uint64_t seed) {
  Context ctx;
  for (const ConvCase& c : problem_table()) {
    const ConvProblem p = c.spec.problem(c.x, c.w);
    for (bool floats : {false, true}) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype_v<T>) + (floats ? " floats" : " ints"));
      const Grad<T> g = make_grad<T>(c, floats, seed += 10);
      auto dy = DeviceTensor<T>::from_host(ctx, g.dy);
      DeviceTensor<T> db(ctx, Shape{p.K});
      poison(ctx, db);
      conv_backward_bias(ctx, dy.view(), db.view(), 0.0);
      const HostTensor<T> got = db.to_host();
      EXPECT_TRUE(compare(got, g.db, &g.mdb, tol(g, g.tdw))) << "beta 0";
      poison(ctx, db);
      conv_backward_bias(ctx, dy.view(), db.view(), 0.0);
      EXPECT_TRUE(bit_identical(got, db.to_host())) << "two runs differ";

      const HostTensor<T> prior = floats ? random_floats<T>(Shape{p.K}, seed + 4) : random_ints<T>(Shape{p.K}, seed + 4);
      auto db1 = DeviceTensor<T>::from_host(ctx, prior);
      conv_backward_bias(ctx, dy.view(), db1.view(), 1.0);
      HostTensor<T> want1 = copy_of(prior);
      reference::conv_backward_bias(g.dy.view(), want1.view(), 1.0);
      HostTensor<double> mag1(Shape{p.K});
      for (std::int64_t i = 0; i < p.K; ++i) mag1[i] = g.mdb[i] + std::abs(double(prior[i]));
      EXPECT_TRUE(compare(db1.to_host(), want1, &mag1, tol(g, g.tdw + 1))) << "beta 1";
    }
  }
}

TEST(BackwardGpuBias, MatchesReference) {
  CONVKIT_REQUIRE_GPU();
  // The device reduction is being built alongside the other backward paths.
  try {
    Context ctx;
    DeviceTensor<float> dy(ctx, {1, 1, 1}), db(ctx, {1});
    conv_backward_bias(ctx, dy.view(), db.view());
  } catch (const Error& e) {
    if (e.status() == Status::NotSupported) GTEST_SKIP() << e.what();
    throw;
  }
  check_bias<float>(9000);
  check_bias<double>(9500);
}

}  // namespace
}  // namespace convkit::test
