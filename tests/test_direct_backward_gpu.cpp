// GPU tests of Algorithm::Direct's backward passes (direct/gather,
// direct/reduce) and conv_backward_bias against the CPU reference over the
// problem table, f32 and f64: exact with small integers, within the harness
// tolerance with random floats; outputs NaN-poisoned before beta-0 runs (an
// unwritten element, or a NaN leaking from the old output, fails); beta 1
// onto prior values; two runs bit-identical. Direct-specific and short; the
// cross-algorithm gradient sweep is tests/test_backward_gpu.cpp.
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <cstring>
#include <tuple>

namespace convkit::test {
namespace {

template <class T>
bool bit_identical(const HostTensor<T>& a, const HostTensor<T>& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(T)) == 0;
}

template <class T>
HostTensor<double> magnitude_of(const HostTensor<T>& m) {
  HostTensor<double> d(m.shape());
  for (std::int64_t i = 0; i < m.numel(); ++i) d[i] = static_cast<double>(m[i]);
  return d;
}

enum class Pass { Data, Filter, Bias };

// Runs one pass on the device with beta 0 over a NaN-poisoned output twice
// (bit-identity), then with beta 1 onto `prior`; compares with the reference.
template <class T>
void check_pass(Context& ctx, Pass pass, const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& w,
                const HostTensor<T>& dy, bool floats, std::int64_t terms) {
  const ConvProblem p = spec.problem(x.shape(), w.shape());
  const Shape out_shape = pass == Pass::Data ? p.x_shape() : pass == Pass::Filter ? p.w_shape() : Shape{p.K};
  HostTensor<T> want(out_shape), mag(out_shape);
  const HostTensor<T> ax = abs_of(x), aw = abs_of(w), ady = abs_of(dy);
  auto reference_into = [&](const HostTensor<T>& xx, const HostTensor<T>& ww, const HostTensor<T>& dd,
                            HostTensor<T>& out, double beta) {
    if (pass == Pass::Data) reference::conv_backward_data(spec, dd.view(), ww.view(), out.view(), beta);
    if (pass == Pass::Filter) reference::conv_backward_filter(spec, xx.view(), dd.view(), out.view(), beta);
    if (pass == Pass::Bias) reference::conv_backward_bias(dd.view(), out.view(), beta);
  };
  reference_into(x, w, dy, want, 0.0);
  reference_into(ax, aw, ady, mag, 0.0);
  const HostTensor<double> magd = magnitude_of(mag);

  auto dx_d = DeviceTensor<T>::from_host(ctx, x);
  auto dw_d = DeviceTensor<T>::from_host(ctx, w);
  auto ddy = DeviceTensor<T>::from_host(ctx, dy);
  DeviceTensor<T> out(ctx, out_shape);
  auto run = [&](double beta) {
    if (pass == Pass::Data) conv_backward_data(ctx, spec, ddy.view(), dw_d.view(), out.view(), Algorithm::Direct, beta);
    if (pass == Pass::Filter)
      conv_backward_filter(ctx, spec, dx_d.view(), ddy.view(), out.view(), Algorithm::Direct, beta);
    if (pass == Pass::Bias) conv_backward_bias(ctx, ddy.view(), out.view(), beta);
    return out.to_host();
  };
  auto poison = [&] {
    if (out.bytes() > 0) ASSERT_EQ(cudaMemsetAsync(out.data(), 0xFF, out.bytes(), ctx.stream()), cudaSuccess);
  };
  const double tol = floats ? tolerance<T>(terms) : 0.0;
  poison();
  const HostTensor<T> first = run(0.0);
  EXPECT_TRUE(compare(first, want, &magd, tol)) << "beta 0";
  poison();
  const HostTensor<T> second = run(0.0);
  EXPECT_TRUE(bit_identical(first, second)) << "repeated runs differ";
  if (!floats) {
    const HostTensor<T> prior = random_ints<T>(out_shape, 77);
    HostTensor<T> want1(out_shape);
    std::memcpy(want1.data(), prior.data(), prior.numel() * sizeof(T));
    reference_into(x, w, dy, want1, 1.0);
    out = DeviceTensor<T>::from_host(ctx, prior);
    EXPECT_TRUE(compare(run(1.0), want1, nullptr, 0.0)) << "beta 1";
  }
}

template <class T>
void table() {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  for (const ConvCase& c : problem_table()) {
    const ConvSpec spec = ConvSpec(c.spec).bias(false);
    const ConvProblem p = spec.problem(c.x, c.w);
    for (bool floats : {false, true}) {
      SCOPED_TRACE(c.name + (floats ? " floats " : " ints ") + dtype_name(dtype_v<T>));
      const HostTensor<T> x = floats ? random_floats<T>(c.x, 61) : random_ints<T>(c.x, 61);
      const HostTensor<T> w = floats ? random_floats<T>(c.w, 62) : random_ints<T>(c.w, 62);
      const HostTensor<T> dy = floats ? random_floats<T>(p.y_shape(), 63) : random_ints<T>(p.y_shape(), 63);
      const std::int64_t red = p.N * p.out_spatial();
      std::int64_t data_terms = p.Kg();
      for (int a = 0; a < 3; ++a) data_terms *= p.ker[a] + p.pad_lo[a] + p.pad_hi[a];
      { SCOPED_TRACE("bias"); check_pass<T>(ctx, Pass::Bias, spec, x, w, dy, floats, red); }
      if (p.N == 0) continue;
      { SCOPED_TRACE("backward-data"); check_pass<T>(ctx, Pass::Data, spec, x, w, dy, floats, data_terms); }
      { SCOPED_TRACE("backward-filter"); check_pass<T>(ctx, Pass::Filter, spec, x, w, dy, floats, red); }
    }
  }
}

TEST(DirectBackwardGpu, TableF32) { table<float>(); }
TEST(DirectBackwardGpu, TableF64) { table<double>(); }

// A long reduction (segments at the cap) and many segments per weight.
TEST(DirectBackwardGpu, LongReductionsF32) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  for (const auto& [spec, xs, ws] : {std::tuple{ConvSpec::conv1d().padding(1), Shape{1, 1, 300001}, Shape{1, 1, 3}},
                                     std::tuple{ConvSpec::conv2d().padding(1).boundary(Boundary::Symmetric),
                                                Shape{3, 2, 67, 45}, Shape{2, 2, 3, 3}}}) {
    const ConvProblem p = spec.problem(xs, ws);
    const HostTensor<float> x = random_ints<float>(xs, 71), w = random_ints<float>(ws, 72),
                            dy = random_ints<float>(p.y_shape(), 73);
    SCOPED_TRACE(p.str());
    check_pass<float>(ctx, Pass::Filter, spec, x, w, dy, false, 0);
    check_pass<float>(ctx, Pass::Bias, spec, x, w, dy, false, 0);
    check_pass<float>(ctx, Pass::Data, spec, x, w, dy, false, 0);
  }
}

}  // namespace
}  // namespace convkit::test
