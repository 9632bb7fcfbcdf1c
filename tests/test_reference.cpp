// Properties of the CPU reference that hold whatever its implementation:
// commutativity, linearity, groups as separate convolutions, convolution as
// correlation with the flipped kernel, 1x1 kernels as matrix products, shift
// equivariance under circular boundaries, bias, dtype agreement, the empty
// batch, boundary modes as explicit padding, the adjoint identity with
// conv_transpose, and conv_sampled. Small-integer data keeps every sum exact,
// so most checks are bit-for-bit; seeds are fixed.
#include "harness.hpp"

#include <cmath>
#include <limits>

namespace convkit::test {
namespace {

// Reference output, with y poisoned (NaN) first so an element never written
// shows up as a mismatch.
template <class T>
HostTensor<T> ref(const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& w,
                  const HostTensor<T>* b = nullptr) {
  HostTensor<T> y(spec.output_shape(x.shape(), w.shape()));
  for (std::int64_t i = 0; i < y.numel(); ++i) y[i] = std::numeric_limits<T>::quiet_NaN();
  if (b)
    reference::conv(spec, x.view(), w.view(), b->view(), y.view());
  else
    reference::conv(spec, x.view(), w.view(), y.view());
  return y;
}

template <class T>
::testing::AssertionResult exact(const HostTensor<T>& got, const HostTensor<T>& want) {
  return compare(got, want, nullptr, 0.0);
}

// Flat offset of [a0, a1, s0, s1, s2] with the spatial dims right-aligned in 3 slots.
struct Dims5 {
  std::int64_t n[5] = {1, 1, 1, 1, 1};
  explicit Dims5(const Shape& s) {
    n[0] = s[0];
    n[1] = s[1];
    for (int i = 2; i < s.rank(); ++i) n[5 - s.rank() + i] = s[i];
  }
  std::int64_t at(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d, std::int64_t e) const {
    return (((a * n[1] + b) * n[2] + c) * n[3] + d) * n[4] + e;
  }
};

TEST(ReferenceProperties, ConvolutionCommutes) {
  const ConvSpec s1 = ConvSpec::conv1d().mode(Mode::Convolution).padding(Padding::full());
  for (std::int64_t lx : {1, 4, 7})
    for (std::int64_t lw : {1, 3, 4, 9}) {
      const auto a = random_ints<double>({1, 1, lx}, 100 + lx * 10 + lw);
      const auto b = random_ints<double>({1, 1, lw}, 200 + lx * 10 + lw);
      EXPECT_TRUE(exact(ref(s1, a, b), ref(s1, b, a))) << "lx=" << lx << " lw=" << lw;
    }
  const ConvSpec s2 = ConvSpec::conv2d().mode(Mode::Convolution).padding(Padding::full());
  const auto a = random_ints<float>({1, 1, 5, 6}, 1);
  const auto b = random_ints<float>({1, 1, 3, 4}, 2);
  EXPECT_TRUE(exact(ref(s2, a, b), ref(s2, b, a)));
  const auto c = random_ints<float>({1, 1, 2, 7}, 3);
  const auto d = random_ints<float>({1, 1, 4, 3}, 4);
  EXPECT_TRUE(exact(ref(s2, c, d), ref(s2, d, c)));
}

TEST(ReferenceProperties, LinearInTheInputAndTheWeights) {
  for (Boundary bd : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate, Boundary::Symmetric}) {
    const ConvSpec spec = ConvSpec::conv2d().padding(2).stride({1, 2}).groups(2).boundary(bd);
    const Shape xs{2, 4, 7, 6}, ws{6, 2, 3, 4};
    const auto x1 = random_ints<double>(xs, 11), x2 = random_ints<double>(xs, 12);
    const auto w1 = random_ints<double>(ws, 13), w2 = random_ints<double>(ws, 14);
    const double a = 3, b = -2;
    HostTensor<double> xc(xs), wc(ws);
    for (std::int64_t i = 0; i < xc.numel(); ++i) xc[i] = a * x1[i] + b * x2[i];
    for (std::int64_t i = 0; i < wc.numel(); ++i) wc[i] = a * w1[i] + b * w2[i];
    const auto y1 = ref(spec, x1, w1), y2 = ref(spec, x2, w1), yc = ref(spec, xc, w1);
    HostTensor<double> want(y1.shape());
    for (std::int64_t i = 0; i < want.numel(); ++i) want[i] = a * y1[i] + b * y2[i];
    EXPECT_TRUE(exact(yc, want)) << "in x, " << boundary_name(bd);
    const auto z1 = ref(spec, x1, w1), z2 = ref(spec, x1, w2), zc = ref(spec, x1, wc);
    for (std::int64_t i = 0; i < want.numel(); ++i) want[i] = a * z1[i] + b * z2[i];
    EXPECT_TRUE(exact(zc, want)) << "in w, " << boundary_name(bd);
  }
}

TEST(ReferenceProperties, GroupsAreSeparateConvolutions) {
  const std::int64_t N = 2, G = 3, Cg = 2, Kg = 3;
  for (Mode m : {Mode::CrossCorrelation, Mode::Convolution}) {
    const ConvSpec grouped = ConvSpec::conv2d().groups(G).padding(1).stride(2).mode(m).boundary(Boundary::Reflect);
    const auto x = random_ints<float>({N, G * Cg, 5, 7}, 21);
    const auto w = random_ints<float>({G * Kg, Cg, 3, 3}, 22);
    const auto y = ref(grouped, x, w);
    const ConvSpec single = ConvSpec(grouped).groups(1);
    const std::int64_t P = 5 * 7, R = 9, Q = y.shape()[2] * y.shape()[3];
    for (std::int64_t g = 0; g < G; ++g) {
      HostTensor<float> xg({N, Cg, 5, 7}), wg({Kg, Cg, 3, 3});
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t c = 0; c < Cg; ++c)
          for (std::int64_t p = 0; p < P; ++p) xg[(n * Cg + c) * P + p] = x[(n * G * Cg + g * Cg + c) * P + p];
      for (std::int64_t i = 0; i < Kg * Cg * R; ++i) wg[i] = w[g * Kg * Cg * R + i];
      const auto yg = ref(single, xg, wg);
      HostTensor<float> slice(yg.shape());
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t k = 0; k < Kg; ++k)
          for (std::int64_t q = 0; q < Q; ++q) slice[(n * Kg + k) * Q + q] = y[(n * G * Kg + g * Kg + k) * Q + q];
      EXPECT_TRUE(exact(slice, yg)) << "group " << g << ", " << mode_name(m);
    }
  }
}

// w with every spatial dimension reversed.
template <class T>
HostTensor<T> flipped(const HostTensor<T>& w) {
  const Dims5 d(w.shape());
  HostTensor<T> f(w.shape());
  for (std::int64_t a = 0; a < d.n[0]; ++a)
    for (std::int64_t b = 0; b < d.n[1]; ++b)
      for (std::int64_t i = 0; i < d.n[2]; ++i)
        for (std::int64_t j = 0; j < d.n[3]; ++j)
          for (std::int64_t k = 0; k < d.n[4]; ++k)
            f[d.at(a, b, i, j, k)] = w[d.at(a, b, d.n[2] - 1 - i, d.n[3] - 1 - j, d.n[4] - 1 - k)];
  return f;
}

TEST(ReferenceProperties, ConvolutionIsCorrelationWithFlippedKernel) {
  struct Case {
    ConvSpec spec;
    Shape x, w;
  };
  // Explicit padding: the named 'same' differs between the modes on purpose.
  const Case cases[] = {
      {ConvSpec::conv1d().padding(Padding::per_dim({{3, 1}})), {2, 2, 9}, {3, 2, 4}},
      {ConvSpec::conv1d().padding(2).stride(2).dilation(2), {1, 1, 11}, {2, 1, 3}},
      {ConvSpec::conv2d().padding(Padding::per_dim({{2, 1}, {0, 3}})).groups(2), {2, 4, 6, 7}, {4, 2, 3, 4}},
      {ConvSpec::conv2d().padding(1).stride({2, 1}), {1, 3, 5, 5}, {2, 3, 2, 3}},
      {ConvSpec::conv3d().padding(1), {1, 2, 4, 5, 3}, {2, 2, 3, 2, 3}},
      {ConvSpec::conv3d().padding(Padding::per_dim({{0, 2}, {1, 1}, {2, 0}})).dilation({1, 2, 1}), {2, 1, 4, 4, 5},
       {1, 1, 2, 2, 3}},
  };
  for (Boundary bd : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate, Boundary::Symmetric})
    for (const Case& c : cases) {
      const ConvSpec cc = ConvSpec(c.spec).boundary(bd).mode(Mode::CrossCorrelation);
      const ConvSpec cv = ConvSpec(c.spec).boundary(bd).mode(Mode::Convolution);
      const auto x = random_ints<double>(c.x, 31), w = random_ints<double>(c.w, 32);
      EXPECT_TRUE(exact(ref(cv, x, w), ref(cc, x, flipped(w)))) << cv;
    }
}

TEST(ReferenceProperties, OneByOneKernelIsAMatrixProduct) {
  const std::int64_t N = 3, C = 5, K = 4, H = 6, W = 7;
  const auto x = random_ints<double>({N, C, H, W}, 41);
  const auto w = random_ints<double>({K, C, 1, 1}, 42);
  const auto y = ref(ConvSpec::conv2d(), x, w);
  HostTensor<double> want({N, K, H, W});
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t p = 0; p < H * W; ++p) {
        double s = 0;
        for (std::int64_t c = 0; c < C; ++c) s += w[k * C + c] * x[(n * C + c) * H * W + p];
        want[(n * K + k) * H * W + p] = s;
      }
  EXPECT_TRUE(exact(y, want));
}

TEST(ReferenceProperties, CircularSameIsShiftEquivariant) {
  const std::int64_t C = 2, K = 3, H = 6, W = 7;
  for (Mode m : {Mode::CrossCorrelation, Mode::Convolution})
    for (Shape ws : {Shape{K, C, 3, 3}, Shape{K, C, 4, 2}, Shape{K, C, 5, 4}}) {
      const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).boundary(Boundary::Circular).mode(m);
      const auto x = random_ints<float>({1, C, H, W}, 51);
      const auto w = random_ints<float>(ws, 52);
      const auto y = ref(spec, x, w);
      for (std::int64_t a : {1, 4})
        for (std::int64_t b : {0, 3, 6}) {
          // xs[h, v] = x[h - a, v - b] (mod H, W): the output shifts the same way.
          HostTensor<float> xs(x.shape()), want(y.shape());
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t h = 0; h < H; ++h)
              for (std::int64_t v = 0; v < W; ++v)
                xs[(c * H + h) * W + v] = x[(c * H + (h - a + H) % H) * W + (v - b + W) % W];
          for (std::int64_t k = 0; k < K; ++k)
            for (std::int64_t h = 0; h < H; ++h)
              for (std::int64_t v = 0; v < W; ++v)
                want[(k * H + h) * W + v] = y[(k * H + (h - a + H) % H) * W + (v - b + W) % W];
          EXPECT_TRUE(exact(ref(spec, xs, w), want)) << mode_name(m) << " k=" << ws << " shift " << a << "," << b;
        }
    }
  // 1-D
  const ConvSpec s1 = ConvSpec::conv1d().padding(Padding::same()).boundary(Boundary::Circular).mode(Mode::Convolution);
  const std::int64_t L = 11;
  const auto x = random_ints<double>({1, 1, L}, 53), w = random_ints<double>({1, 1, 6}, 54);
  const auto y = ref(s1, x, w);
  HostTensor<double> xs(x.shape()), want(y.shape());
  for (std::int64_t i = 0; i < L; ++i) {
    xs[i] = x[(i - 4 + L) % L];
    want[i] = y[(i - 4 + L) % L];
  }
  EXPECT_TRUE(exact(ref(s1, xs, w), want));
}

TEST(ReferenceProperties, BiasAddsPerOutputChannel) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1).groups(2).boundary(Boundary::Replicate);
  const auto x = random_ints<float>({2, 4, 5, 5}, 61), w = random_ints<float>({6, 2, 3, 3}, 62);
  const auto b = random_ints<float>({6}, 63);
  const auto y = ref(spec, x, w);
  const auto yb = ref(ConvSpec(spec).bias(true), x, w, &b);
  HostTensor<float> want(y.shape());
  const std::int64_t Q = 25;
  for (std::int64_t i = 0; i < y.numel(); ++i) want[i] = y[i] + b[(i / Q) % 6];
  EXPECT_TRUE(exact(yb, want));
}

TEST(ReferenceProperties, FloatAndDoubleAgree) {
  for (const ConvCase& c : problem_table()) {
    if (c.x.numel() * c.w.numel() > 2'000'000) continue;  // keep the sweep quick
    const Shape bs{c.w[0]};
    // Integers: both dtypes are exact, so the results are equal.
    const auto xi = random_ints<double>(c.x, 71), wi = random_ints<double>(c.w, 72), bi = random_ints<double>(bs, 73);
    HostTensor<float> xf(c.x), wf(c.w), bf(bs);
    for (std::int64_t i = 0; i < xf.numel(); ++i) xf[i] = float(xi[i]);
    for (std::int64_t i = 0; i < wf.numel(); ++i) wf[i] = float(wi[i]);
    for (std::int64_t i = 0; i < bf.numel(); ++i) bf[i] = float(bi[i]);
    const bool bias = c.spec.has_bias();
    const auto yd = ref(c.spec, xi, wi, bias ? &bi : nullptr);
    const auto yf = ref(c.spec, xf, wf, bias ? &bf : nullptr);
    HostTensor<float> ydf(yd.shape());
    for (std::int64_t i = 0; i < yd.numel(); ++i) ydf[i] = float(yd[i]);
    EXPECT_TRUE(exact(yf, ydf)) << c.name << " (integers)";
    // Random floats: float inputs widen exactly to double and the reference
    // accumulates in double either way, so the float result is the double
    // result rounded once.
    const auto rf = random_floats<float>(c.x, 74), rw = random_floats<float>(c.w, 75);
    HostTensor<double> rfd(c.x), rwd(c.w);
    for (std::int64_t i = 0; i < rf.numel(); ++i) rfd[i] = rf[i];
    for (std::int64_t i = 0; i < rw.numel(); ++i) rwd[i] = rw[i];
    const auto y2 = ref(c.spec, rfd, rwd, bias ? &bi : nullptr);
    const auto y1 = ref(c.spec, rf, rw, bias ? &bf : nullptr);
    for (std::int64_t i = 0; i < y2.numel(); ++i) ydf[i] = float(y2[i]);
    EXPECT_TRUE(exact(y1, ydf)) << c.name << " (floats)";
  }
}

TEST(ReferenceProperties, EmptyBatchWritesNothing) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1).bias(true);
  const auto w = random_ints<float>({4, 3, 3, 3}, 81);
  const auto b = random_ints<float>({4}, 82);
  std::vector<float> xbuf(8, 1.f), ybuf(16, -7.f);
  reference::conv(spec, TensorView<const float>::host(xbuf.data(), {0, 3, 5, 5}), w.view(), b.view(),
                  TensorView<float>::host(ybuf.data(), {0, 4, 5, 5}));
  for (float v : ybuf) EXPECT_EQ(v, -7.f);
  // Null pointers are fine for empty tensors.
  reference::conv(spec, TensorView<const float>::host(nullptr, {0, 3, 5, 5}), w.view(), b.view(),
                  TensorView<float>::host(nullptr, {0, 4, 5, 5}));
  std::vector<double> dbuf(16, -7.0);
  reference::conv_transpose(ConvSpec::conv2d().padding(1), TensorView<const double>::host(nullptr, {0, 4, 5, 5}),
                            random_ints<double>({4, 3, 3, 3}, 83).view(),
                            TensorView<double>::host(dbuf.data(), {0, 3, 5, 5}));
  for (double v : dbuf) EXPECT_EQ(v, -7.0);
}

// x extended by (lo, hi) per spatial dimension the way `b` extends it,
// computed with closed forms independent of the library's fold_index.
template <class T>
HostTensor<T> extend(const HostTensor<T>& x, const ConvProblem& p, Boundary b) {
  auto src = [b](std::int64_t q, std::int64_t D) -> std::int64_t {
    if (b == Boundary::Circular) return ((q % D) + D) % D;
    if (b == Boundary::Replicate) return std::min(std::max<std::int64_t>(q, 0), D - 1);
    if (b == Boundary::Symmetric) {  // period 2D, each edge sample repeated
      const std::int64_t r = ((q % (2 * D)) + 2 * D) % (2 * D);
      return r < D ? r : 2 * D - 1 - r;
    }
    if (D == 1) return 0;
    const std::int64_t period = 2 * (D - 1);
    const std::int64_t r = ((q % period) + period) % period;
    return r < D ? r : period - r;
  };
  Shape es{x.shape()[0], x.shape()[1]};
  for (int s = 3 - p.dims; s < 3; ++s) es.push_back(p.in[s] + p.pad_lo[s] + p.pad_hi[s]);
  HostTensor<T> e(es);
  const Dims5 dx(x.shape()), de(es);
  for (std::int64_t n = 0; n < de.n[0]; ++n)
    for (std::int64_t c = 0; c < de.n[1]; ++c)
      for (std::int64_t i = 0; i < de.n[2]; ++i)
        for (std::int64_t j = 0; j < de.n[3]; ++j)
          for (std::int64_t k = 0; k < de.n[4]; ++k)
            e[de.at(n, c, i, j, k)] = x[dx.at(n, c, src(i - p.pad_lo[0], p.in[0]), src(j - p.pad_lo[1], p.in[1]),
                                             src(k - p.pad_lo[2], p.in[2]))];
  return e;
}

TEST(ReferenceProperties, BoundaryModesEqualExplicitlyExtendedInput) {
  struct Case {
    ConvSpec spec;
    Shape x, w;
  };
  const Case cases[] = {
      {ConvSpec::conv1d().padding(Padding::per_dim({{3, 1}})), {2, 1, 5}, {2, 1, 4}},
      {ConvSpec::conv1d().padding(Padding::same()).mode(Mode::Convolution), {1, 2, 8}, {1, 2, 6}},
      {ConvSpec::conv2d().padding(2), {1, 2, 5, 4}, {3, 2, 3, 3}},
      {ConvSpec::conv2d().padding(Padding::per_dim({{3, 0}, {1, 2}})).stride({2, 1}).dilation({1, 2}),
       {2, 2, 4, 6}, {2, 2, 2, 3}},
      {ConvSpec::conv2d().padding(Padding::same()).groups(2), {1, 4, 5, 6}, {2, 2, 4, 3}},
      {ConvSpec::conv3d().padding(1), {1, 1, 3, 4, 5}, {2, 1, 2, 3, 3}},
  };
  for (Boundary bd : {Boundary::Reflect, Boundary::Replicate, Boundary::Circular, Boundary::Symmetric})
    for (const Case& c : cases) {
      const ConvSpec spec = ConvSpec(c.spec).boundary(bd);
      const ConvProblem p = spec.problem(c.x, c.w);
      const auto x = random_ints<float>(c.x, 91), w = random_ints<float>(c.w, 92);
      const auto ext = extend(x, p, bd);
      const ConvSpec plain = ConvSpec(spec).boundary(Boundary::Zeros).padding(Padding::valid());
      EXPECT_TRUE(exact(ref(spec, x, w), ref(plain, ext, w))) << spec;
    }
}

template <class T>
double dot(const HostTensor<T>& a, const HostTensor<T>& b) {
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

TEST(ReferenceProperties, TransposeIsTheAdjoint) {
  // <conv(x), dy> == <x, conv_transpose(dy)>; integer data keeps both exact.
  std::vector<ConvCase> table = problem_table();
  table.push_back({"1d_reflect_stride_dil", ConvSpec::conv1d().padding(3).stride(2).dilation(2).boundary(Boundary::Reflect),
                   {2, 2, 9}, {3, 2, 3}});
  table.push_back({"2d_circular_stride3_conv",
                   ConvSpec::conv2d().padding(Padding::per_dim({{4, 2}, {1, 3}})).stride(3).boundary(Boundary::Circular).mode(Mode::Convolution),
                   {1, 2, 5, 6}, {2, 2, 3, 4}});
  table.push_back({"2d_replicate_groups", ConvSpec::conv2d().padding(2).groups(2).dilation({2, 1}).boundary(Boundary::Replicate),
                   {2, 4, 6, 5}, {4, 2, 3, 3}});
  table.push_back({"3d_replicate_stride", ConvSpec::conv3d().padding(2).stride({1, 2, 3}).boundary(Boundary::Replicate),
                   {1, 1, 4, 5, 6}, {2, 1, 3, 2, 2}});
  int checked = 0;
  for (const ConvCase& c : table) {
    const ConvSpec spec = ConvSpec(c.spec).bias(false);
    const auto x = random_ints<double>(c.x, 101), w = random_ints<double>(c.w, 102);
    const auto y = ref(spec, x, w);
    const auto dy = random_ints<double>(y.shape(), 103);
    HostTensor<double> dx(c.x);
    for (std::int64_t i = 0; i < dx.numel(); ++i) dx[i] = std::numeric_limits<double>::quiet_NaN();
    reference::conv_transpose(spec, dy.view(), w.view(), dx.view());
    EXPECT_EQ(dot(y, dy), dot(x, dx)) << c.name << ": " << spec;
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(ReferenceProperties, TransposeMatchesExplicitMatrix) {
  // Column j of T is conv(e_j); row i of Tᵀ·dy must equal <column i, dy>.
  // A small 1-D reflect case makes the folding of several taps onto one
  // input element visible.
  const ConvSpec spec = ConvSpec::conv1d().padding(Padding::per_dim({{2, 3}})).boundary(Boundary::Reflect);
  const Shape xs{1, 1, 4}, ws{1, 1, 3};
  const auto w = random_ints<double>(ws, 111);
  const auto dy = random_ints<double>(spec.output_shape(xs, ws), 112);
  HostTensor<double> dx(xs);
  reference::conv_transpose(spec, dy.view(), w.view(), dx.view());
  for (std::int64_t j = 0; j < 4; ++j) {
    HostTensor<double> e(xs);
    e[j] = 1;
    EXPECT_EQ(dx[j], dot(ref(spec, e, w), dy)) << "input element " << j;
  }
}

TEST(ReferenceProperties, SampledMatchesFullOutput) {
  for (const ConvCase& c : problem_table()) {
    if (c.x.numel() * c.w.numel() > 2'000'000) continue;
    const auto x = random_ints<double>(c.x, 121), w = random_ints<double>(c.w, 122);
    const auto b = random_ints<double>({c.w[0]}, 123);
    const bool bias = c.spec.has_bias();
    const auto y = ref(c.spec, x, w, bias ? &b : nullptr);
    std::vector<std::int64_t> idx;
    for (std::int64_t i = 0; i < y.numel(); i += 7) idx.push_back(i);
    if (y.numel() > 0) idx.push_back(y.numel() - 1);
    std::vector<double> out(idx.size(), std::numeric_limits<double>::quiet_NaN());
    reference::conv_sampled(c.spec, x.view(), w.view(), bias ? TensorArg(b.view()) : TensorArg(), idx.data(),
                            static_cast<std::int64_t>(idx.size()), out.data());
    for (std::size_t j = 0; j < idx.size(); ++j) EXPECT_EQ(out[j], y[idx[j]]) << c.name << " index " << idx[j];
  }
  // Float tensors, random values: conv() rounds the double sum to float once,
  // so it lies within one float ulp of the sampled double value.
  const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).boundary(Boundary::Reflect).bias(true);
  const auto x = random_floats<float>({2, 3, 9, 8}, 124), w = random_floats<float>({4, 3, 3, 5}, 125);
  const auto b = random_floats<float>({4}, 126);
  const auto y = ref(spec, x, w, &b);
  std::vector<std::int64_t> idx{0, 5, 77, 300, y.numel() - 1};
  std::vector<double> out(idx.size());
  reference::conv_sampled(spec, x.view(), w.view(), b.view(), idx.data(), 5, out.data());
  for (std::size_t j = 0; j < idx.size(); ++j)
    EXPECT_LE(std::abs(out[j] - double(y[idx[j]])), std::ldexp(std::abs(out[j]), -23)) << "index " << idx[j];
}

}  // namespace
}  // namespace convkit::test
