// CPU tests of convkit-bench's pure helpers (bench/bench_math.hpp), its
// target summary (bench/targets.hpp) and its problem table (bench/cases.hpp):
// statistics, roofline ceilings, sampled index choice, tolerances, cuDNN's
// symmetric-padding view, the FFT path's normwise tolerance (its magnitudes
// against a brute-force count, its growth, that it fails an off-by-one and
// passes a simulated FFT), the target bound formulas and verdicts (the Fft
// targets and Auto's choice of Fft too), the transforms the Fft floor row
// times, and that every benchmark case is a valid problem with the right
// direct and Fft targets.
#include "bench_math.hpp"
#include "cases.hpp"
#include "fft_floor.hpp"
#include "targets.hpp"

#include <convkit/convkit.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <set>

namespace convkit::bench {
namespace {

TEST(BenchMath, MedianOddEvenEmpty) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median({7}), 7);
  EXPECT_TRUE(std::isnan(median({})));
  EXPECT_DOUBLE_EQ(minimum({3, 0.5, 2}), 0.5);
  EXPECT_TRUE(std::isnan(minimum({})));
}

TEST(BenchMath, RepsWithinBudget) {
  EXPECT_EQ(reps_within_budget(50, 0.001, 5, 10), 50);   // 50 ms in all: fits
  EXPECT_EQ(reps_within_budget(50, 0.25, 5, 10), 20);    // 20 runs fit in 5 s
  EXPECT_EQ(reps_within_budget(50, 2.0, 5, 10), 10);     // never below the floor
  EXPECT_EQ(reps_within_budget(5, 2.0, 5, 10), 5);       // nor above the request
  EXPECT_EQ(reps_within_budget(50, 0.0, 5, 10), 50);
}

TEST(BenchMath, FmaPeakOfKnownParts) {
  EXPECT_EQ(fp32_lanes_per_sm(9, 0), 128);  // H100
  EXPECT_EQ(fp32_lanes_per_sm(8, 0), 64);   // A100
  EXPECT_EQ(fp32_lanes_per_sm(8, 6), 128);  // GA10x
  EXPECT_EQ(fp32_lanes_per_sm(7, 0), 64);   // V100
  EXPECT_EQ(fp64_lanes_per_sm(9, 0), 64);
  EXPECT_EQ(fp64_lanes_per_sm(8, 0), 32);
  // H100 SXM: 132 SMs at 1980 MHz -> 66.9 TFLOP/s FP32, 33.5 FP64.
  EXPECT_NEAR(fma_peak_flops(132, 128, 1980000) / 1e12, 66.9, 0.05);
  EXPECT_NEAR(fma_peak_flops(132, 64, 1980000) / 1e12, 33.45, 0.05);
  // A100 SXM: 108 SMs at 1410 MHz -> 19.5 TFLOP/s FP32.
  EXPECT_NEAR(fma_peak_flops(108, 64, 1410000) / 1e12, 19.49, 0.05);
}

TEST(BenchMath, RooflineTakesTheSlowerCeiling) {
  // 1 TFLOP at 10 TFLOP/s = 0.1 s beats 1 GB at 1 TB/s = 1 ms: compute-bound.
  EXPECT_DOUBLE_EQ(roofline_seconds(1e12, 1e9, 1e13, 1e12), 0.1);
  // 1 GFLOP and 10 GB: memory-bound, 10 ms.
  EXPECT_DOUBLE_EQ(roofline_seconds(1e9, 1e10, 1e13, 1e12), 0.01);
  EXPECT_DOUBLE_EQ(roofline_fraction(0.02, 1e9, 1e10, 1e13, 1e12), 0.5);
  EXPECT_TRUE(std::isnan(roofline_fraction(0, 1, 1, 1, 1)));
}

TEST(BenchMath, SampledIndicesSmallOutputTakesAll) {
  const auto idx = sample_output_indices(Shape{1, 2, 3, 4}, 300, 1);
  ASSERT_EQ(idx.size(), 24u);
  for (std::int64_t i = 0; i < 24; ++i) EXPECT_EQ(idx[i], i);
}

TEST(BenchMath, SampledIndicesIncludeCornersAndAreDistinctSortedInRange) {
  const Shape y{4, 3, 10, 20};
  const auto idx = sample_output_indices(y, 100, 7);
  ASSERT_EQ(idx.size(), 100u);
  const std::set<std::int64_t> s(idx.begin(), idx.end());
  EXPECT_EQ(s.size(), idx.size());
  EXPECT_TRUE(std::is_sorted(idx.begin(), idx.end()));
  EXPECT_GE(idx.front(), 0);
  EXPECT_LT(idx.back(), y.numel());
  const std::int64_t last_plane = (4 * 3 - 1) * 200;
  for (std::int64_t corner : {std::int64_t(0), std::int64_t(19), std::int64_t(180), std::int64_t(199)}) {
    EXPECT_TRUE(s.count(corner)) << corner;
    EXPECT_TRUE(s.count(last_plane + corner)) << corner;
  }
  EXPECT_EQ(idx, sample_output_indices(y, 100, 7));  // deterministic
  EXPECT_NE(idx, sample_output_indices(y, 100, 8));
}

TEST(BenchMath, SampledIndices1dCorners) {
  const auto idx = sample_output_indices(Shape{1, 1, 1000}, 10, 3);
  ASSERT_EQ(idx.size(), 10u);
  EXPECT_EQ(idx.front(), 0);
  EXPECT_EQ(idx.back(), 999);
}

TEST(BenchMath, ToleranceAndCheck) {
  EXPECT_NEAR(tolerance_factor(DType::F32, 100), 1.01e-5, 1e-12);
  EXPECT_LT(tolerance_factor(DType::F64, 100), 1e-12);
  EXPECT_TRUE(within_tolerance(1.0, 1.0, 0.0, 1e-6));
  EXPECT_FALSE(within_tolerance(NAN, 1.0, 1e9, 1e-6));
  EXPECT_FALSE(within_tolerance(INFINITY, 1.0, 1e9, 1e-6));

  const auto ok = check_samples({1, 2, 3}, {1, 2, 3}, {5, 5, 5}, 1e-6);
  EXPECT_EQ(ok.mismatches, 0);
  EXPECT_TRUE(ok.exact);
  const auto close = check_samples({1, 2.000001, 3}, {1, 2, 3}, {5, 5, 5}, 1e-6);
  EXPECT_EQ(close.mismatches, 0);
  EXPECT_FALSE(close.exact);
  const auto bad = check_samples({1, 2, NAN, 7}, {1, 2, 3, 4}, {5, 5, 5, 5}, 1e-6);
  EXPECT_EQ(bad.mismatches, 2);
  EXPECT_EQ(bad.first_bad, 2);
  EXPECT_DOUBLE_EQ(bad.max_abs_err, 3);
  EXPECT_EQ(check_samples({1}, {1, 2}, {1, 1}, 1).mismatches, 1);
}

// ------------------------------------------------------------ FFT tolerance

// The extended input's element at position p of one axis, written
// independently of fold_index (periodic and mirrored index arithmetic rather
// than single folds), or -1 for an implicit zero.
std::int64_t extended_source(std::int64_t p, std::int64_t D, Boundary b) {
  const auto mod = [](std::int64_t a, std::int64_t m) { return ((a % m) + m) % m; };
  switch (b) {
    case Boundary::Zeros: return p >= 0 && p < D ? p : -1;
    case Boundary::Circular: return mod(p, D);
    case Boundary::Reflect: {
      if (D == 1) return 0;
      const std::int64_t m = mod(p, 2 * (D - 1));
      return m < D ? m : 2 * (D - 1) - m;
    }
    case Boundary::Symmetric: {
      const std::int64_t m = mod(p, 2 * D);
      return m < D ? m : 2 * D - 1 - m;
    }
    case Boundary::Replicate: return std::min(std::max(p, std::int64_t(0)), D - 1);
  }
  return -1;
}

// One channel plane of x extended over the whole padded extent, [E0, E1, E2].
std::vector<double> extended_plane(const ConvProblem& p, const double* xc) {
  std::vector<double> e;
  for (std::int64_t a = -p.pad_lo[0]; a < p.in[0] + p.pad_hi[0]; ++a)
    for (std::int64_t b = -p.pad_lo[1]; b < p.in[1] + p.pad_hi[1]; ++b)
      for (std::int64_t c = -p.pad_lo[2]; c < p.in[2] + p.pad_hi[2]; ++c) {
        const std::int64_t q0 = extended_source(a, p.in[0], p.boundary);
        const std::int64_t q1 = extended_source(b, p.in[1], p.boundary);
        const std::int64_t q2 = extended_source(c, p.in[2], p.boundary);
        e.push_back(q0 < 0 || q1 < 0 || q2 < 0 ? 0.0 : xc[(q0 * p.in[1] + q1) * p.in[2] + q2]);
      }
  return e;
}

std::vector<double> uniform(std::size_t n, std::uint64_t seed, double lo, double hi) {
  SplitMix64 rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = lo + (hi - lo) * double(rng.next() >> 11) * 0x1.0p-53;
  return v;
}

// Small integers in [-r, r], never all zero.
std::vector<double> small_integers(std::size_t n, std::uint64_t seed, int r) {
  SplitMix64 rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = double(rng.below(2 * r + 1) - r);
  v[0] = r;
  return v;
}

const Boundary kAllBoundaries[] = {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Symmetric,
                                   Boundary::Replicate};

TEST(BenchMath, FftMagnitudeHandCases) {
  // x = [1, 2, 4], pad (2, 1): the extended signals written out.
  const ConvSpec base = ConvSpec::conv1d().padding(Padding::per_dim({{2, 1}})).bias(true);
  const std::vector<double> x{1, 2, 4}, w{1, -2}, b{-0.5};
  const struct {
    Boundary boundary;
    std::vector<double> extended;
  } cases[] = {
      {Boundary::Zeros, {0, 0, 1, 2, 4, 0}},     {Boundary::Circular, {2, 4, 1, 2, 4, 1}},
      {Boundary::Reflect, {4, 2, 1, 2, 4, 2}},   {Boundary::Symmetric, {2, 1, 1, 2, 4, 4}},
      {Boundary::Replicate, {1, 1, 1, 2, 4, 4}},
  };
  for (const auto& c : cases) {
    const ConvProblem p = ConvSpec(base).boundary(c.boundary).problem(Shape{1, 1, 3}, Shape{1, 1, 2});
    double sq = 0;
    for (double v : c.extended) sq += v * v;
    const auto m = fft_magnitudes(p, x.data(), w.data(), b.data());
    ASSERT_EQ(m.size(), 1u);
    EXPECT_DOUBLE_EQ(m[0], std::sqrt(sq) * 3 + 0.5) << int(c.boundary);
    EXPECT_DOUBLE_EQ(fft_magnitudes(p, x.data(), w.data(), nullptr)[0], std::sqrt(sq) * 3) << int(c.boundary);
  }
}

TEST(BenchMath, FftMagnitudeMatchesBruteForceEveryBoundaryAndGroups) {
  struct Setup {
    ConvSpec spec;
    Shape x, w;
  };
  const Setup setups[] = {
      // 2-D, 2 images, 6 channels in 3 groups, 6 filters, uneven padding.
      {ConvSpec::conv2d().groups(3).padding(Padding::per_dim({{2, 3}, {4, 1}})), Shape{2, 6, 5, 7}, Shape{6, 2, 3, 4}},
      // Depthwise 1-D with the largest pads Reflect allows, stride and dilation.
      {ConvSpec::conv1d().groups(4).stride(2).dilation(3).padding(Padding::per_dim({{8, 8}})), Shape{3, 4, 9},
       Shape{4, 1, 3}},
      // 3-D, bias, grouped.
      {ConvSpec::conv3d().groups(2).bias(true).padding(Padding::per_dim({{1, 2}, {0, 1}, {3, 3}})),
       Shape{1, 4, 3, 4, 5}, Shape{4, 2, 2, 2, 3}},
  };
  std::uint64_t seed = 11;
  for (const Setup& s : setups) {
    for (Boundary bd : kAllBoundaries) {
      const ConvProblem p = ConvSpec(s.spec).boundary(bd).problem(s.x, s.w);
      const auto x = uniform(std::size_t(s.x.numel()), ++seed, -2, 2);
      const auto w = uniform(std::size_t(s.w.numel()), ++seed, -1, 1);
      const auto b = uniform(std::size_t(p.K), ++seed, -3, 3);
      const double* bias = p.has_bias ? b.data() : nullptr;
      const auto m = fft_magnitudes(p, x.data(), w.data(), bias);
      ASSERT_EQ(m.size(), std::size_t(p.N * p.K));
      const std::int64_t plane = p.in_spatial(), taps = p.ker_spatial();
      for (std::int64_t n = 0; n < p.N; ++n)
        for (std::int64_t k = 0; k < p.K; ++k) {
          double want = bias ? std::abs(b[std::size_t(k)]) : 0.0;
          const std::int64_t g = k / (p.K / p.G);
          for (std::int64_t c = 0; c < p.C / p.G; ++c) {
            const auto e = extended_plane(p, x.data() + (n * p.C + g * (p.C / p.G) + c) * plane);
            double sq = 0, w1 = 0;
            for (double v : e) sq += v * v;
            for (std::int64_t i = 0; i < taps; ++i) w1 += std::abs(w[std::size_t((k * (p.C / p.G) + c) * taps + i)]);
            want += std::sqrt(sq) * w1;
          }
          EXPECT_NEAR(m[std::size_t(n * p.K + k)], want, 1e-12 * want) << p << " n=" << n << " k=" << k;
        }
    }
  }
}

TEST(BenchMath, FftLog2PointsBound) {
  // 1-D 'same', 1000 samples, 3 taps: E = 1002 -> 2048.
  EXPECT_DOUBLE_EQ(fft_log2_points_bound(ConvSpec::conv1d().padding(Padding::same())
                                             .problem(Shape{1, 1, 1000}, Shape{1, 1, 3})), 11);
  // 4K image, 127 x 127 'same': E = 3966 x 2286 -> 8192 x 8192.
  EXPECT_DOUBLE_EQ(fft_log2_points_bound(ConvSpec::conv2d().padding(Padding::same())
                                             .problem(Shape{1, 1, 2160, 3840}, Shape{1, 1, 127, 127})), 26);
  // The dilated span can exceed the extent: 'full' with k = 5, dil = 30:
  // L = 121, E = 100 + 240 = 340 -> 1024.
  EXPECT_DOUBLE_EQ(fft_log2_points_bound(ConvSpec::conv1d().dilation(30).padding(Padding::full())
                                             .problem(Shape{1, 1, 100}, Shape{1, 1, 5})), 10);
  // A single point still gets one bit; unused slots add nothing.
  EXPECT_DOUBLE_EQ(fft_log2_points_bound(ConvSpec::conv1d().problem(Shape{1, 1, 1}, Shape{1, 1, 1})), 1);
  EXPECT_DOUBLE_EQ(fft_log2_points_bound(ConvSpec::conv3d().problem(Shape{1, 1, 4, 4, 4}, Shape{1, 1, 1, 1, 1})), 9);
}

TEST(BenchMath, FftToleranceGrowsWithLogNAndF64IsTighter) {
  const auto problem = [](std::int64_t length, std::int64_t channels) {
    return ConvSpec::conv1d().padding(Padding::same()).problem(Shape{1, channels, length}, Shape{1, channels, 9});
  };
  // L = 11 (1000 + 8 -> 2048), C/G = 1: ε·(3·16·12 + 2 + 5).
  EXPECT_DOUBLE_EQ(fft_tolerance_factor(DType::F32, problem(1000, 1)), 583 * std::ldexp(1.0, -24));
  EXPECT_DOUBLE_EQ(fft_tolerance_factor(DType::F64, problem(1000, 1)), 583 * std::ldexp(1.0, -53));
  double last = 0;
  for (std::int64_t length : {16, 256, 4096, 65536, 1 << 20}) {
    const ConvProblem p = problem(length, 1);
    const double f32 = fft_tolerance_factor(DType::F32, p), f64 = fft_tolerance_factor(DType::F64, p);
    EXPECT_GT(f32, last) << length;
    EXPECT_LT(f64, f32 * 1e-8) << length;
    // Logarithmic, not linear: 16x the points adds 4 bits, 192·ε.
    if (last > 0) {
      EXPECT_DOUBLE_EQ(f32 - last, 3 * kFftStageConstant * 4 * std::ldexp(1.0, -24)) << length;
    }
    last = f32;
  }
  // The GEMM's channel sum counts too.
  EXPECT_GT(fft_tolerance_factor(DType::F32, problem(1000, 64)), fft_tolerance_factor(DType::F32, problem(1000, 1)));
}

// y = conv(x, w) (+ b) by the reference, in double.
std::vector<double> reference_output(const ConvSpec& spec, const Shape& xs, const Shape& ws,
                                     const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>* b) {
  const Shape ys = spec.output_shape(xs, ws);
  std::vector<double> y(std::size_t(ys.numel()));
  const auto xv = TensorView<const double>::host(x.data(), xs);
  const auto wv = TensorView<const double>::host(w.data(), ws);
  const auto yv = TensorView<double>::host(y.data(), ys);
  if (b)
    reference::conv(spec, xv, wv, TensorView<const double>::host(b->data(), Shape{ws[0]}), yv);
  else
    reference::conv(spec, xv, wv, yv);
  return y;
}

// Each output's magnitude, from the per (n, k) ones.
std::vector<double> per_output(const ConvProblem& p, const std::vector<double>& nk) {
  std::vector<double> m(std::size_t(p.N * p.K * p.out_spatial()));
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = nk[i / std::size_t(p.out_spatial())];
  return m;
}

TEST(BenchMath, FftToleranceCatchesAnOffByOne) {
  // Small integers, moderate size: a 32 x 32 image, 4 channels, 2 filters of
  // 5 x 5, values in [-3, 3], integer bias. The reference is exact here, and
  // an output one unit off must fail in f32 (and so in f64).
  for (Boundary bd : {Boundary::Zeros, Boundary::Reflect}) {
    const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).bias(true).boundary(bd);
    const Shape xs{1, 4, 32, 32}, ws{2, 4, 5, 5};
    const ConvProblem p = spec.problem(xs, ws);
    const auto x = small_integers(std::size_t(xs.numel()), 5, 3);
    const auto w = small_integers(std::size_t(ws.numel()), 6, 3);
    const std::vector<double> b{2, -1};
    const auto want = reference_output(spec, xs, ws, x, w, &b);
    const auto m = per_output(p, fft_magnitudes(p, x.data(), w.data(), b.data()));
    for (DType t : {DType::F32, DType::F64}) {
      const double factor = fft_tolerance_factor(t, p);
      EXPECT_LT(factor * m[0], 1.0) << int(bd);
      EXPECT_EQ(check_samples(want, want, m, factor).mismatches, 0);
      for (std::size_t at : {std::size_t(0), std::size_t(517), want.size() - 1}) {
        for (double delta : {1.0, -1.0}) {
          std::vector<double> got = want;
          got[at] += delta;
          const SampleCheck c = check_samples(got, want, m, factor);
          EXPECT_EQ(c.mismatches, 1) << int(bd) << " at " << at;
          EXPECT_EQ(c.first_bad, std::int64_t(at));
        }
      }
    }
  }
}

// ---- a simulated FFT path: the DFT of the padded copy, rounded to float
// where the device would hold float data (spectra, products, output).

using cd = std::complex<double>;

// In-place unnormalised DFT of every line of a [n0, n1, n2] array along each
// axis in turn; sign -1 forward, +1 inverse. Naive O(n²) per line.
void dft3(std::vector<cd>& a, const std::int64_t n[3], int sign) {
  const double pi = std::acos(-1.0);
  for (int axis = 0; axis < 3; ++axis) {
    const std::int64_t len = n[axis];
    if (len == 1) continue;
    const std::int64_t stride = axis == 0 ? n[1] * n[2] : axis == 1 ? n[2] : 1;
    std::vector<cd> line(static_cast<std::size_t>(len)), out(static_cast<std::size_t>(len));
    for (std::int64_t base = 0; base < n[0] * n[1] * n[2]; ++base) {
      if ((base / stride) % len != 0) continue;  // the first element of each line
      for (std::int64_t j = 0; j < len; ++j) line[std::size_t(j)] = a[std::size_t(base + j * stride)];
      for (std::int64_t f = 0; f < len; ++f) {
        cd s = 0;
        for (std::int64_t j = 0; j < len; ++j)
          s += line[std::size_t(j)] * std::polar(1.0, sign * 2 * pi * double((f * j) % len) / double(len));
        out[std::size_t(f)] = s;
      }
      for (std::int64_t f = 0; f < len; ++f) a[std::size_t(base + f * stride)] = out[std::size_t(f)];
    }
  }
}

std::vector<std::complex<float>> to_float(const std::vector<cd>& v) {
  std::vector<std::complex<float>> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = std::complex<float>(float(v[i].real()), float(v[i].imag()));
  return r;
}

// Smallest 2^a·3^b·5^c·7^d >= v.
std::int64_t seven_smooth_at_least(std::int64_t v) {
  for (std::int64_t n = std::max<std::int64_t>(v, 1);; ++n) {
    std::int64_t r = n;
    for (std::int64_t f : {2, 3, 5, 7})
      while (r % f == 0) r /= f;
    if (r == 1) return n;
  }
}

// y as an f32 FFT path would produce it (whole-signal transforms).
std::vector<double> simulated_fft(const ConvProblem& p, const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>* b) {
  std::int64_t E[3], n[3];
  for (int a = 0; a < 3; ++a) {
    E[a] = p.in[a] + p.pad_lo[a] + p.pad_hi[a];
    n[a] = seven_smooth_at_least(E[a]);
  }
  const std::int64_t points = n[0] * n[1] * n[2], Cg = p.Cg(), Kg = p.Kg();
  const auto at = [&](std::int64_t i0, std::int64_t i1, std::int64_t i2) { return std::size_t((i0 * n[1] + i1) * n[2] + i2); };
  // Spectra of the extended inputs, [N, C][points], held in float.
  std::vector<std::vector<std::complex<float>>> X;
  for (std::int64_t nc = 0; nc < p.N * p.C; ++nc) {
    const auto e = extended_plane(p, x.data() + nc * p.in_spatial());
    std::vector<cd> a(std::size_t(points), 0.0);
    for (std::int64_t i0 = 0; i0 < E[0]; ++i0)
      for (std::int64_t i1 = 0; i1 < E[1]; ++i1)
        for (std::int64_t i2 = 0; i2 < E[2]; ++i2) a[at(i0, i1, i2)] = e[std::size_t((i0 * E[1] + i1) * E[2] + i2)];
    dft3(a, n, -1);
    X.push_back(to_float(a));
  }
  // Spectra of the dilated (and, under Convolution, flipped) filters, [K, C/G].
  std::vector<std::vector<std::complex<float>>> W;
  for (std::int64_t kc = 0; kc < p.K * Cg; ++kc) {
    std::vector<cd> a(std::size_t(points), 0.0);
    for (std::int64_t i0 = 0; i0 < p.ker[0]; ++i0)
      for (std::int64_t i1 = 0; i1 < p.ker[1]; ++i1)
        for (std::int64_t i2 = 0; i2 < p.ker[2]; ++i2)
          a[at(i0 * p.dilation[0], i1 * p.dilation[1], i2 * p.dilation[2])] =
              w[std::size_t(kc * p.ker_spatial() + detail::weight_offset(p, i0, i1, i2))];
    dft3(a, n, -1);
    W.push_back(to_float(a));
  }
  std::vector<double> y(std::size_t(p.N * p.K * p.out_spatial()));
  for (std::int64_t nn = 0; nn < p.N; ++nn)
    for (std::int64_t k = 0; k < p.K; ++k) {
      const std::int64_t g = k / Kg;
      std::vector<std::complex<float>> P(std::size_t(points), 0.0f);  // the GEMM, in float
      for (std::int64_t c = 0; c < Cg; ++c) {
        const auto& xs = X[std::size_t(nn * p.C + g * Cg + c)];
        const auto& ws = W[std::size_t(k * Cg + c)];
        for (std::size_t f = 0; f < P.size(); ++f) P[f] += xs[f] * std::conj(ws[f]);
      }
      std::vector<cd> z(P.begin(), P.end());
      dft3(z, n, +1);
      for (std::int64_t o0 = 0; o0 < p.out[0]; ++o0)
        for (std::int64_t o1 = 0; o1 < p.out[1]; ++o1)
          for (std::int64_t o2 = 0; o2 < p.out[2]; ++o2) {
            float v = float(z[at(o0 * p.stride[0], o1 * p.stride[1], o2 * p.stride[2])].real() / double(points));
            if (b) v += float((*b)[std::size_t(k)]);
            y[std::size_t(((nn * p.K + k) * p.out[0] + o0) * p.out[1] * p.out[2] + o1 * p.out[2] + o2)] = v;
          }
    }
  return y;
}

TEST(BenchMath, FftToleranceAcceptsASimulatedFft) {
  struct Setup {
    ConvSpec spec;
    Shape x, w;
  };
  const Setup setups[] = {
      {ConvSpec::conv1d().padding(Padding::same()).boundary(Boundary::Circular).bias(true), Shape{2, 3, 50},
       Shape{2, 3, 7}},
      {ConvSpec::conv2d().stride(2).dilation({2, 1}).groups(2).padding(Padding::per_dim({{3, 2}, {1, 4}}))
           .boundary(Boundary::Reflect).mode(Mode::Convolution).bias(true),
       Shape{1, 4, 13, 11}, Shape{4, 2, 3, 4}},
      {ConvSpec::conv3d().padding(Padding::same()).boundary(Boundary::Symmetric), Shape{1, 2, 6, 5, 7},
       Shape{3, 2, 3, 2, 3}},
      {ConvSpec::conv2d().padding(Padding::full()).boundary(Boundary::Replicate).groups(3), Shape{2, 3, 9, 8},
       Shape{3, 1, 4, 5}},
  };
  std::uint64_t seed = 100;
  for (const Setup& s : setups) {
    const ConvProblem p = s.spec.problem(s.x, s.w);
    // f32 data (the values an f32 run holds), checked in double.
    auto x = uniform(std::size_t(s.x.numel()), ++seed, -1, 1);
    auto w = uniform(std::size_t(s.w.numel()), ++seed, -1, 1);
    auto b = uniform(std::size_t(p.K), ++seed, -1, 1);
    for (auto* v : {&x, &w, &b})
      for (double& e : *v) e = double(float(e));
    const std::vector<double>* bias = p.has_bias ? &b : nullptr;
    const auto want = reference_output(s.spec, s.x, s.w, x, w, bias);
    const auto got = simulated_fft(p, x, w, bias);
    const auto m = per_output(p, fft_magnitudes(p, x.data(), w.data(), bias ? b.data() : nullptr));
    const SampleCheck c = check_samples(got, want, m, fft_tolerance_factor(DType::F32, p));
    EXPECT_EQ(c.checked, std::int64_t(want.size())) << p;
    EXPECT_EQ(c.mismatches, 0) << p << " first bad " << c.first_bad << " max err " << c.max_abs_err;
    EXPECT_GT(c.max_abs_err, 0) << p;  // not exact: the tolerance is what lets it pass
    // A wrong result on the same data does not pass: the filter shifted by
    // one tap (the output read one position off).
    std::vector<double> shifted = got;
    const std::int64_t last = p.out[2];
    for (std::size_t i = 0; i + 1 < shifted.size(); ++i)
      if ((std::int64_t(i) + 1) % last != 0) shifted[i] = got[i + 1];
    EXPECT_GT(check_samples(shifted, want, m, fft_tolerance_factor(DType::F32, p)).mismatches, 0) << p;
  }
}

TEST(BenchMath, SymmetricViewOfSymmetricPaddingIsIdentity) {
  const ConvProblem p = ConvSpec::conv2d().stride(2).padding(3).problem(Shape{2, 3, 224, 224}, Shape{4, 3, 7, 7});
  const SymmetricView v = symmetric_view(p);
  ASSERT_TRUE(v.ok);
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(v.out[a], p.out[a]);
    EXPECT_EQ(v.offset[a], 0);
  }
  for (std::int64_t i : {std::int64_t(0), std::int64_t(12345), p.y_shape().numel() - 1})
    EXPECT_EQ(symmetric_index(p, v, i), i);
}

TEST(BenchMath, SymmetricViewShiftsEvenSameKernel) {
  // 'same' with k = 4: lo = 1, hi = 2 -> cuDNN pads 2 and 2, one more output,
  // and convkit's y[o] is cuDNN's y'[o + 1].
  const ConvProblem p = ConvSpec::conv1d().padding(Padding::same()).problem(Shape{2, 1, 10}, Shape{3, 1, 4});
  const SymmetricView v = symmetric_view(p);
  ASSERT_TRUE(v.ok);
  EXPECT_EQ(v.pad[2], 2);
  EXPECT_EQ(v.out[2], 11);
  EXPECT_EQ(v.offset[2], 1);
  // Element (n=1, k=2, o=4): flat (1*3 + 2)*10 + 4 = 54 -> (1*3 + 2)*11 + 5 = 60.
  EXPECT_EQ(symmetric_index(p, v, 54), 60);

  // Convolution mode rounds lo up: lo = 2, hi = 1 -> offset 0.
  const ConvProblem q =
      ConvSpec::conv1d().padding(Padding::same()).mode(Mode::Convolution).problem(Shape{1, 1, 10}, Shape{1, 1, 4});
  const SymmetricView w = symmetric_view(q);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.offset[2], 0);
  EXPECT_EQ(w.out[2], 11);
}

TEST(BenchMath, SymmetricViewRejectsShiftOffTheStride) {
  const ConvProblem p = ConvSpec::conv1d().stride(2).padding(Padding::per_dim({{0, 1}}))
                            .problem(Shape{1, 1, 10}, Shape{1, 1, 3});
  EXPECT_FALSE(symmetric_view(p).ok);
}

TEST(BenchMath, RatioKeepsMissingValuesMissing) {
  EXPECT_DOUBLE_EQ(ratio(3, 2), 1.5);
  EXPECT_TRUE(std::isnan(ratio(1, 0)));
  EXPECT_TRUE(std::isnan(ratio(NAN, 2)));
  EXPECT_TRUE(std::isnan(ratio(1, NAN)));
}

TEST(BenchMath, Im2colBound) {
  // GEMM 1 ms; columns 1.5 GB + x 0.1 GB at 80% of 2 TB/s = 1 ms; 1.2 x 2 ms.
  EXPECT_NEAR(im2col_bound_seconds(1e-3, 1.5e9, 0.1e9, 2e12), 2.4e-3, 1e-15);
  EXPECT_DOUBLE_EQ(im2col_bound_seconds(1e-3, 0, 0, 2e12), 1.2e-3);
  EXPECT_TRUE(std::isnan(im2col_bound_seconds(1e-3, 1, 1, 0)));
  EXPECT_TRUE(std::isnan(im2col_bound_seconds(NAN, 1, 1, 1e12)));
}

TEST(BenchMath, ToeplitzBytePenaltyUsesTheRealMatrix) {
  // 1-D, 2^10 samples, k = 7, 'same': the matrix from toeplitz::info, x and
  // y read / written once, against x + w + y.
  const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same());
  const Shape x{1, 1, 1024}, w{1, 1, 7};
  const toeplitz::Info in = toeplitz::info(spec, x, w, DType::F32);
  const ConvProblem p = spec.problem(x, w);
  EXPECT_EQ(in.nnz, 7 * 1024 - 2 * (1 + 2 + 3));  // three taps fall off each end
  EXPECT_EQ(in.matrix_bytes, in.value_bytes + in.col_bytes + in.row_ptr_bytes);
  const double xb = 1024 * 4, yb = 1024 * 4;
  EXPECT_DOUBLE_EQ(p.min_bytes(DType::F32), xb + yb + 7 * 4);
  const double penalty = toeplitz_byte_penalty(double(in.matrix_bytes), xb, yb, p.min_bytes(DType::F32));
  EXPECT_DOUBLE_EQ(penalty, (double(in.matrix_bytes) + xb + yb) / (xb + yb + 28));
  EXPECT_GT(penalty, 4);  // 8 bytes per stored tap vs 8 bytes per output: about 1 + 7/2
  EXPECT_TRUE(std::isnan(toeplitz_byte_penalty(1, 1, 1, 0)));
}

// The SpMM case: 2^20 samples, k = 31, 64 signals. Its matrix is
// smaller than x and y together, so 75% of the copy bandwidth on the matrix
// bytes alone is out of reach (the ceiling is about a third).
TEST(BenchMath, ToeplitzMatrixCeilingCountsTheDenseOperands) {
  EXPECT_DOUBLE_EQ(toeplitz_matrix_copy_ceiling_pct(2, 1, 1), 50.0);
  EXPECT_TRUE(std::isnan(toeplitz_matrix_copy_ceiling_pct(0, 0, 0)));
  const ConvSpec spec = ConvSpec::conv1d().padding(Padding::same());
  const Shape x{64, 1, std::int64_t(1) << 20}, w{1, 1, 31};
  const toeplitz::Info in = toeplitz::info(spec, x, w, DType::F32);
  const double xb = 64.0 * (1 << 20) * 4, yb = xb;
  const double ceiling = toeplitz_matrix_copy_ceiling_pct(double(in.matrix_bytes), xb, yb);
  EXPECT_GT(ceiling, 30.0);
  EXPECT_LT(ceiling, 100.0 * target::kToeplitzCopyFraction);
}

// A row as run_case leaves it, for the summary tests.
Row row(const std::string& algorithm, const std::string& name, double ms) {
  Row r;
  r.suite = "s";
  r.case_name = name;
  r.algorithm = algorithm;
  r.chosen = algorithm;
  r.status = "ok";
  r.ms_median = ms;
  return r;
}

const TargetResult* find_target(const std::vector<TargetResult>& ts, const std::string& target,
                                const std::string& scope) {
  for (const TargetResult& t : ts)
    if (t.target.find(target) == 0 && t.scope == scope) return &t;
  return nullptr;
}

TEST(BenchTargets, DirectCasesAgainstCeilingsAndCudnn) {
  std::vector<Row> rows;
  Row mem = row("direct", "mem", 1);
  mem.direct_target = "memory";
  mem.gbs = 1700;         // of 2000 GB/s copy: 85%
  mem.cudnn_ratio = 0.4;  // 2.5x faster
  Row comp = row("direct", "comp", 1);
  comp.direct_target = "compute";
  comp.gflops = 30000;    // of 60000: 50%
  Row gone = row("direct", "gone", NAN);
  gone.direct_target = "memory";
  gone.status = "skipped";
  Row plain = row("direct", "plain", 1);  // no target: not listed
  rows = {mem, comp, gone, plain};
  const auto ts = evaluate_targets(rows, 2000, 60000);
  ASSERT_EQ(ts.size(), 6u);
  const TargetResult* t = find_target(ts, "direct, memory-bound", "s mem");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->measured, "85.0%");
  EXPECT_EQ(t->goal, ">= 80%");
  EXPECT_EQ(t->status, "met");
  EXPECT_EQ(find_target(ts, "direct: speed-up", "s mem")->status, "met");
  EXPECT_EQ(find_target(ts, "direct, compute-bound", "s comp")->status, "not met");
  // No cuDNN time: not measured, never "met".
  EXPECT_EQ(find_target(ts, "direct: speed-up", "s comp")->status, "not measured");
  EXPECT_EQ(find_target(ts, "direct, memory-bound", "s gone")->status, "not measured");
  EXPECT_EQ(find_target(ts, "direct, memory-bound", "s gone")->measured, "- (skipped)");
}

TEST(BenchTargets, Im2colToeplitzAndAuto) {
  Row lowered = row("im2col", "lowered", 2.0);
  lowered.split_timed = true;
  lowered.bound_ms = 2.5;
  Row over = row("im2col", "over", 3.0);
  over.split_timed = true;
  over.bound_ms = 2.5;
  Row chunked = row("im2col", "chunked", 3.0);
  chunked.split_note = "the column matrix exceeds the workspace";
  Row one = row("im2col", "1x1", 1.04);
  one.plain_gemm = true;
  one.split_timed = true;
  one.gemm_ratio = 1.04;
  Row tz = row("toeplitz", "tz", 1.0);
  tz.matrix_copy_pct = 80;
  tz.set_weights_ratio = 1.5;
  Row tz_skipped = row("toeplitz", "big", NAN);
  tz_skipped.status = "skipped";
  Row tuned = row("auto-tuned", "tz", 1.0);
  tuned.chosen = "direct";
  tuned.best_algorithm = "direct";
  tuned.best_ratio = 1.06;
  Row model = row("auto", "tz", 1.0);
  model.chosen = "im2col";
  model.best_algorithm = "direct";
  model.best_ratio = 1.2;
  const auto ts = evaluate_targets({lowered, over, chunked, one, tz, tz_skipped, tuned, model}, 2000, 60000);
  ASSERT_EQ(ts.size(), 8u);  // the skipped Toeplitz row carries no target
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s lowered")->status, "met");
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s lowered")->measured, "0.80x (2 ms / 2.5 ms)");
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s over")->status, "not met");
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s chunked")->status, "not measured");
  EXPECT_EQ(find_target(ts, "im2col: total / bound", "s chunked")->measured, "- (split not timed)");
  EXPECT_EQ(find_target(ts, "im2col 1x1", "s 1x1")->status, "met");
  EXPECT_EQ(find_target(ts, "toeplitz: % of copy", "s tz")->status, "met");
  EXPECT_EQ(find_target(ts, "toeplitz: set_weights", "s tz")->status, "not met");
  EXPECT_EQ(find_target(ts, "auto-tuned", "s tz")->status, "not met");  // 1.06 > 1.05
  EXPECT_EQ(find_target(ts, "auto (cost model)", "s tz")->status, "met");  // 1.2 <= 1.3
  EXPECT_EQ(find_target(ts, "auto (cost model)", "s tz")->measured, "1.20x (im2col; best direct)");

  const std::string md = targets_markdown(ts);
  EXPECT_EQ(md.rfind("| Target | Case | Measured | Goal | Status |\n|---|---|---|---|---|\n", 0), 0u);
  EXPECT_NE(md.find("| im2col 1x1: total / GEMM alone | s 1x1 | 1.040x | <= 1.05x | met |\n"), std::string::npos);
  EXPECT_NE(md.find("4 of 7 measured targets met, 1 not measured.\n"), std::string::npos);
}

TEST(BenchMath, AutoFftChoice) {
  EXPECT_TRUE(auto_fft_choice_right(true, 1.0, 2.0));    // fft faster, chosen
  EXPECT_FALSE(auto_fft_choice_right(false, 1.0, 2.0));  // fft faster, not chosen
  EXPECT_TRUE(auto_fft_choice_right(false, 2.0, 1.0));
  EXPECT_FALSE(auto_fft_choice_right(true, 2.0, 1.0));
  EXPECT_TRUE(auto_fft_choice_right(true, 1.04, 1.0));   // within the tie band: either is right
  EXPECT_TRUE(auto_fft_choice_right(false, 1.0, 1.04));
  EXPECT_FALSE(auto_fft_choice_right(true, 1.06, 1.0));
  EXPECT_FALSE(auto_fft_choice_right(true, NAN, 1.0));   // missing: never right
  EXPECT_FALSE(auto_fft_choice_right(false, 1.0, NAN));
}

TEST(BenchTargets, FftAgainstFloorDirectCudnnAndAutosChoice) {
  Row fast = row("fft", "4096 taps", 1.0);
  fast.fft_over_direct = fast.fft_large_kernel = true;
  fast.floor_ms = 0.6;
  fast.floor_ratio = 1.0 / 0.6;
  fast.direct_ms = 6;
  fast.direct_speedup = 6;
  fast.cudnn_best_algorithm = "cudnn-fft FFT";
  fast.cudnn_best_ms = 2.5;
  fast.cudnn_best_speedup = 2.5;
  Row slow = row("fft", "7x7", 4.0);  // no target case: only its floor
  slow.floor_ms = 1.0;
  slow.floor_ratio = 4.0;
  Row gone = row("fft", "127", NAN);  // a target case whose row did not run
  gone.status = "skipped";
  gone.fft_large_kernel = true;
  Row right = row("auto", "4096 taps", 1.0);
  right.chosen = "fft";
  right.fft_ms = 1.0;
  right.other_best_algorithm = "direct";
  right.other_best_ms = 6;
  Row wrong = row("auto", "7x7", 1.0);
  wrong.chosen = "fft";
  wrong.fft_ms = 4.0;
  wrong.other_best_algorithm = "im2col";
  wrong.other_best_ms = 1.0;
  Row no_fft = row("auto-tuned", "127", 1.0);  // fft did not run: no choice to judge
  no_fft.chosen = "direct";
  no_fft.other_best_ms = 1.0;
  const auto ts = evaluate_targets({fast, slow, gone, right, wrong, no_fft}, 2000, 60000);

  const TargetResult* t = find_target(ts, "fft: time / transforms-only floor", "s 4096 taps");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, "met");
  EXPECT_EQ(t->goal, "<= 2x");
  EXPECT_EQ(find_target(ts, "fft: time / transforms-only floor", "s 7x7")->status, "not met");
  EXPECT_EQ(find_target(ts, "fft: speed-up over direct", "s 4096 taps")->status, "met");
  EXPECT_EQ(find_target(ts, "fft: speed-up over direct", "s 4096 taps")->goal, ">= 5x");
  t = find_target(ts, "fft: speed-up over cuDNN's best", "s 4096 taps");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, "not met");  // 2.5x < 3x
  EXPECT_EQ(t->measured, "2.50x (cudnn-fft FFT)");
  // Only target cases carry the speed-ups; a skipped target case is listed, not measured.
  EXPECT_FALSE(find_target(ts, "fft: speed-up over direct", "s 7x7"));
  EXPECT_FALSE(find_target(ts, "fft: speed-up over cuDNN's best", "s 7x7"));
  EXPECT_FALSE(find_target(ts, "fft: time / transforms-only floor", "s 127"));
  EXPECT_EQ(find_target(ts, "fft: speed-up over cuDNN's best", "s 127")->status, "not measured");

  EXPECT_EQ(find_target(ts, "auto: picks fft exactly where faster", "s 4096 taps")->status, "met");
  t = find_target(ts, "auto: picks fft exactly where faster", "s 7x7");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, "not met");
  EXPECT_EQ(t->measured, "chose fft; fft 4 ms vs im2col 1 ms");
  EXPECT_FALSE(find_target(ts, "auto-tuned: picks fft", "s 127"));
  // The Auto rows' other targets are unchanged.
  EXPECT_TRUE(find_target(ts, "auto (cost model)", "s 4096 taps"));
  EXPECT_TRUE(find_target(ts, "auto-tuned: time / best", "s 127"));
  // fft: 3 + 1 + 1 (the skipped case's cuDNN speed-up); auto: 3 time / best + 2 choices.
  EXPECT_EQ(ts.size(), 10u);
}

TEST(BenchTargets, MarkdownEscapesPipes) {
  TargetResult t{"a|b", "c", "d", "e", "met"};
  EXPECT_NE(targets_markdown({t}).find("| a\\|b | c |"), std::string::npos);
}

TEST(BenchMath, TextHelpers) {
  EXPECT_EQ(split_list("a,b,,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_list("").empty());
  EXPECT_EQ(json_string("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(json_number(NAN), "null");
  EXPECT_EQ(json_number(1.5), "1.5");
  EXPECT_EQ(clip("abcdef", 4), "abc~");
  EXPECT_EQ(clip("abc", 4), "abc");
}

TEST(BenchCases, EveryCaseIsAValidProblem) {
  for (bool quick : {false, true}) {
    std::size_t total = 0;
    for (const std::string& suite : suite_names()) {
      const auto cases = suite_cases(suite, quick);
      EXPECT_FALSE(cases.empty()) << suite;
      for (const Case& c : cases) {
        EXPECT_EQ(c.suite, suite);
        EXPECT_NO_THROW(c.spec.problem(c.x, c.w)) << c.name;
        ++total;
      }
    }
    EXPECT_EQ(total, quick ? 20u : 21u);
  }
  EXPECT_TRUE(suite_cases("nope", false).empty());
}

TEST(BenchCases, DirectTargetCases) {
  // Memory-bound: 1-D 2^26 k=7, 4K k=3 and k=7; compute-bound: 1-D 2^26
  // k=127, 4K k=15 and k=31.
  std::set<std::string> memory, compute;
  for (const std::string& suite : suite_names())
    for (const Case& c : suite_cases(suite, false)) {
      if (c.direct_target == DirectTarget::MemoryBound) memory.insert(c.name);
      if (c.direct_target == DirectTarget::ComputeBound) compute.insert(c.name);
    }
  EXPECT_EQ(memory, (std::set<std::string>{"L=2^26 k=7", "3840x2160 k=3", "3840x2160 k=7"}));
  EXPECT_EQ(compute, (std::set<std::string>{"L=2^26 k=127", "3840x2160 k=15", "3840x2160 k=31"}));
}

TEST(BenchCases, LargeKernelSuiteAndFftTargets) {
  const auto cases = suite_cases("large-kernel", false);
  std::vector<std::string> names;
  std::set<std::string> large, over_direct;
  for (const Case& c : cases) {
    names.push_back(c.name);
    if (c.fft_large_kernel) large.insert(c.name);
    if (c.fft_over_direct) over_direct.insert(c.name);
    EXPECT_EQ(c.direct_target, DirectTarget::None) << c.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"L=2^24 k=4096", "L=2^24 k=65536", "3840x2160 k=63", "3840x2160 k=127",
                                             "256^3 k=15^3", "7x7 56^2 64->64 N=32"}));
  EXPECT_EQ(large, (std::set<std::string>{"L=2^24 k=4096", "L=2^24 k=65536", "3840x2160 k=63", "3840x2160 k=127",
                                          "256^3 k=15^3"}));
  EXPECT_EQ(over_direct, (std::set<std::string>{"L=2^24 k=4096"}));
  // No other suite carries Fft targets (signal1d's 2^24 k=4096 runs Fft rows
  // but its targets are this suite's copy's).
  for (const char* suite : {"signal1d", "image2d", "cnn"})
    for (const Case& c : suite_cases(suite, false)) EXPECT_FALSE(c.fft_large_kernel || c.fft_over_direct) << c.name;
  // 'same' keeps the sizes; the 7x7 layer is stride 1.
  const ConvProblem vol = cases[4].spec.problem(cases[4].x, cases[4].w);
  EXPECT_EQ(vol.dims, 3);
  EXPECT_EQ(vol.out[0] * vol.out[1] * vol.out[2], std::int64_t(1) << 24);
  const ConvProblem layer = cases[5].spec.problem(cases[5].x, cases[5].w);
  EXPECT_EQ(layer.out[2], 56);
  EXPECT_EQ(layer.ker[2], 7);
  // Every case (full and quick) can be planned by the Fft path under the
  // bench's default 4 GB workspace, so a GPU run times them all.
  for (bool quick : {false, true})
    for (const Case& c : suite_cases("large-kernel", quick)) {
      const ConvProblem p = c.spec.problem(c.x, c.w);
      const detail::FftChoice ch = detail::fft_plan_choice(p, DType::F32, std::size_t(4e9));
      EXPECT_TRUE(ch.ok) << c.name << ": " << ch.reason;
    }
}

TEST(BenchFft, FloorTransformsFollowTheLibrarysChoice) {
  // A batch of 2-D images with channels (the GEMM path, frequency-major
  // spectra), under a limit that forces several passes with a short tail.
  const ConvProblem p = ConvSpec::conv2d().padding(Padding::same()).problem(Shape{7, 3, 40, 50}, Shape{4, 3, 9, 9});
  const detail::FftChoice all = detail::fft_plan_choice(p, DType::F32, std::size_t(1) << 40);
  ASSERT_TRUE(all.ok);
  for (std::size_t limit : {std::size_t(1) << 40, all.ws.total / 3}) {
    const detail::FftChoice ch = detail::fft_plan_choice(p, DType::F32, limit);
    ASSERT_TRUE(ch.ok) << ch.reason;
    const auto v = fft_floor_transforms(ch, p.N);
    const std::int64_t passes = (p.N + ch.chunk - 1) / ch.chunk;
    ASSERT_EQ(v.size(), std::size_t(2 * passes));
    std::int64_t forward = 0, inverse = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      EXPECT_EQ(v[i].inverse, i % 2 == 1);  // R2C then C2R, pass by pass
      EXPECT_EQ(v[i].rank, 2);
      EXPECT_TRUE(v[i].freq_major);
      EXPECT_EQ(v[i].points, ch.geo.points);
      EXPECT_EQ(v[i].n[0] * v[i].n[1], ch.geo.points);
      for (int a = 0; a < 2; ++a) {
        EXPECT_TRUE(detail::fft_is_fast_len(v[i].n[a]));
        EXPECT_GE(v[i].n[a], 9);  // >= the kernel span
      }
      (v[i].inverse ? inverse : forward) += v[i].batch;
    }
    // Every image's blocks: C channels forward, K inverse.
    EXPECT_EQ(forward, p.N * ch.geo.blocks * p.C);
    EXPECT_EQ(inverse, p.N * ch.geo.blocks * p.K);
    if (limit < all.ws.total) {
      EXPECT_GT(passes, 1);
    }
    EXPECT_EQ(fft_floor_lengths(ch), std::to_string(ch.geo.ax[1].n) + "x" + std::to_string(ch.geo.ax[2].n));
  }
  // A single channel: the pointwise path, batch-major spectra; 1-D lengths.
  const ConvProblem q = ConvSpec::conv1d().padding(Padding::same()).problem(Shape{2, 1, 1000}, Shape{1, 1, 31});
  const detail::FftChoice one = detail::fft_plan_choice(q, DType::F64, std::size_t(1) << 40);
  ASSERT_TRUE(one.ok);
  const auto v = fft_floor_transforms(one, q.N);
  ASSERT_FALSE(v.empty());
  EXPECT_FALSE(v[0].freq_major);
  EXPECT_EQ(v[0].rank, 1);
  EXPECT_EQ(fft_floor_lengths(one), std::to_string(one.geo.ax[2].n));
  // Nothing to time when the path cannot plan.
  EXPECT_TRUE(fft_floor_transforms(detail::FftChoice{}, 3).empty());
}

TEST(BenchCases, SameCasesKeepTheirOutputSizeAndQuickIsSmaller) {
  for (const std::string& suite : suite_names()) {
    double full = 0, quick = 0;
    for (const Case& c : suite_cases(suite, false)) full += c.spec.problem(c.x, c.w).flops();
    for (const Case& c : suite_cases(suite, true)) quick += c.spec.problem(c.x, c.w).flops();
    EXPECT_LT(quick, full / 4) << suite;
  }
  for (const Case& c : suite_cases("image2d", false)) {
    const ConvProblem p = c.spec.problem(c.x, c.w);
    EXPECT_EQ(p.out[1], 2160);
    EXPECT_EQ(p.out[2], 3840);
  }
  // The stem: 224 -> 112 with stride 2, pad 3.
  const auto cnn = suite_cases("cnn", false);
  const auto stem = std::find_if(cnn.begin(), cnn.end(), [](const Case& c) { return c.name.find("stem") != std::string::npos; });
  ASSERT_NE(stem, cnn.end());
  EXPECT_EQ(stem->spec.problem(stem->x, stem->w).out[2], 112);
}

}  // namespace
}  // namespace convkit::bench
