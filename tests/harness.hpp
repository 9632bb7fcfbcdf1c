// Shared test harness: device detection and skipping, seeded random data
// (small integers for exact float sums, or uniform floats), the problem table
// every algorithm is swept over, and comparisons that print the first
// mismatches with their coordinates and the mismatch count.
#pragma once

#include <convkit/convkit.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace convkit::test {

/// Whether a CUDA device is usable here.
bool has_gpu();

/// Skips the current test when no CUDA device is present.
#define CONVKIT_REQUIRE_GPU()                                         \
  do {                                                                \
    if (!::convkit::test::has_gpu()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

/// Integers uniform in [lo, hi] (never all zero for non-empty shapes).
template <class T>
HostTensor<T> random_ints(const Shape& s, std::uint64_t seed, int lo = -4, int hi = 4);
/// Floats uniform in [-1, 1).
template <class T>
HostTensor<T> random_floats(const Shape& s, std::uint64_t seed);
/// Element-wise |t|.
template <class T>
HostTensor<T> abs_of(const HostTensor<T>& t);

/// A tensor of shape `s` with every element `v` (outputs poisoned with NaN).
template <class T>
HostTensor<T> filled(const Shape& s, T v) {
  HostTensor<T> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = v;
  return t;
}

/// conv() with `algo` on the device, into a y first filled with `poison`;
/// returns y (to_host synchronises, so the device copies outlive the call).
template <class T>
HostTensor<T> run_conv_on_device(Context& ctx, const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& w,
                                 const HostTensor<T>* b, Algorithm algo,
                                 T poison = std::numeric_limits<T>::quiet_NaN()) {
  const auto dx = DeviceTensor<T>::from_host(ctx, x);
  const auto dw = DeviceTensor<T>::from_host(ctx, w);
  auto dy = DeviceTensor<T>::from_host(ctx, filled<T>(spec.output_shape(x.shape(), w.shape()), poison));
  if (b) {
    const auto db = DeviceTensor<T>::from_host(ctx, *b);
    conv(ctx, spec, dx.view(), dw.view(), db.view(), dy.view(), algo);
    return dy.to_host();
  }
  conv(ctx, spec, dx.view(), dw.view(), dy.view(), algo);
  return dy.to_host();
}

/// One row of the problem table.
struct ConvCase {
  std::string name;
  ConvSpec spec;
  Shape x, w;
};

/// The problem table every algorithm is checked on: 1-D / 2-D / 3-D, 1x1,
/// N = 1 and N up to 8, odd and prime sizes, kernel equal to the input,
/// stride > kernel, stride > input, dilation (alone and with stride),
/// asymmetric padding, named paddings, groups and depthwise, every boundary
/// mode and both modes, bias, N = 0, inputs of 1 and 2 samples per axis
/// under each boundary that allows their padding, and a 6x5 kernel.
std::vector<ConvCase> problem_table();

/// Reference output of a case, and the per-element magnitude Σ|x·w| of the
/// terms that make it (for tolerances).
template <class T>
struct Expected {
  HostTensor<T> y;
  HostTensor<double> magnitude;
};
template <class T>
Expected<T> expected_output(const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& w,
                            const HostTensor<T>* bias);

/// Per-element tolerance factor: |y - y_ref| <= tol * Σ|x·w| (+ tiny absolute
/// slack for the bias). f32: 1e-6·sqrt(terms)-scale; f64: 1e-14-scale.
template <class T>
double tolerance(std::int64_t terms);

/// Compares `got` with `want` element by element, exactly when tol_factor is
/// 0, else with |got - want| <= tol_factor * magnitude[i]. NaN never passes.
/// Returns a gtest failure listing the first mismatches (with NCHW
/// coordinates) and the number of mismatches.
template <class T>
::testing::AssertionResult compare(const HostTensor<T>& got, const HostTensor<T>& want,
                                   const HostTensor<double>* magnitude, double tol_factor);

}  // namespace convkit::test
