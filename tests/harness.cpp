// Implementation of the shared test harness (harness.hpp).
#include "harness.hpp"

#include "bench_math.hpp"

#include <cmath>
#include <random>
#include <sstream>

namespace convkit::test {

bool has_gpu() { return device_available(); }

template <class T>
HostTensor<T> random_ints(const Shape& s, std::uint64_t seed, int lo, int hi) {
  HostTensor<T> t(s);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  bool nonzero = false;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t[i] = static_cast<T>(d(rng));
    nonzero |= t[i] != T(0);
  }
  if (!nonzero && t.numel() > 0) t[0] = T(hi != 0 ? hi : lo);
  return t;
}

template <class T>
HostTensor<T> random_floats(const Shape& s, std::uint64_t seed) {
  HostTensor<T> t(s);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(d(rng));
  return t;
}

template <class T>
HostTensor<T> abs_of(const HostTensor<T>& t) {
  HostTensor<T> r(t.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) r[i] = std::abs(t[i]);
  return r;
}

std::vector<ConvCase> problem_table() {
  using B = Boundary;
  using M = Mode;
  std::vector<ConvCase> t;
  auto add = [&](std::string name, ConvSpec spec, Shape x, Shape w) {
    t.push_back({std::move(name), std::move(spec), x, w});
  };
  // 1-D
  add("1d_signal_k7_same", ConvSpec::conv1d().padding(Padding::same()), {1, 1, 97}, {1, 1, 7});
  add("1d_conv_even_k_same", ConvSpec::conv1d().padding(Padding::same()).mode(M::Convolution), {2, 1, 31}, {1, 1, 4});
  add("1d_full_conv", ConvSpec::conv1d().padding(Padding::full()).mode(M::Convolution), {1, 1, 13}, {1, 1, 5});
  add("1d_kernel_eq_input", ConvSpec::conv1d(), {3, 2, 11}, {4, 2, 11});
  add("1d_stride_gt_kernel", ConvSpec::conv1d().stride(5).padding(Padding::per_dim({{2, 1}})), {2, 3, 29}, {2, 3, 3});
  add("1d_dilation_circular", ConvSpec::conv1d().dilation(3).padding(6).boundary(B::Circular), {1, 2, 17}, {3, 2, 5});
  add("1d_reflect_asym", ConvSpec::conv1d().padding(Padding::per_dim({{4, 1}})).boundary(B::Reflect), {2, 1, 7}, {1, 1, 6});
  add("1d_replicate_bias", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Replicate).bias(true), {1, 3, 23}, {5, 3, 3});
  add("1d_long_k127", ConvSpec::conv1d().padding(Padding::same()), {1, 1, 2053}, {1, 1, 127});
  // 2-D
  add("2d_1x1", ConvSpec::conv2d(), {2, 5, 7, 3}, {6, 5, 1, 1});
  add("2d_3x3_same", ConvSpec::conv2d().padding(Padding::same()), {1, 3, 13, 17}, {4, 3, 3, 3});
  add("2d_image_k5_conv_same", ConvSpec::conv2d().padding(Padding::same()).mode(M::Convolution), {1, 1, 37, 41}, {1, 1, 5, 5});
  add("2d_even_kernel_same_conv", ConvSpec::conv2d().padding(Padding::same()).mode(M::Convolution), {1, 1, 9, 10}, {1, 1, 4, 2});
  add("2d_stride2_pad", ConvSpec::conv2d().stride(2).padding(1).bias(true), {4, 3, 15, 16}, {8, 3, 3, 3});
  add("2d_stride_per_dim", ConvSpec::conv2d().stride({3, 1}).padding(Padding::per_dim({{0, 2}, {1, 0}})), {1, 2, 11, 7}, {3, 2, 2, 3});
  add("2d_dilation2", ConvSpec::conv2d().dilation({2, 3}).padding(Padding::same()), {2, 2, 19, 23}, {2, 2, 3, 3});
  add("2d_groups2", ConvSpec::conv2d().groups(2).padding(1), {2, 4, 9, 9}, {6, 2, 3, 3});
  add("2d_depthwise_bias", ConvSpec::conv2d().groups(5).padding(Padding::same()).bias(true), {3, 5, 12, 11}, {5, 1, 3, 3});
  add("2d_depthwise_mult2", ConvSpec::conv2d().groups(3).padding(2).dilation(2), {1, 3, 10, 10}, {6, 1, 3, 3});
  add("2d_circular_same", ConvSpec::conv2d().padding(Padding::same()).boundary(B::Circular), {1, 2, 8, 9}, {3, 2, 5, 4});
  add("2d_circular_pad_eq_D", ConvSpec::conv2d().padding(5).boundary(B::Circular), {1, 1, 5, 5}, {1, 1, 3, 3});
  add("2d_reflect_conv", ConvSpec::conv2d().padding(2).boundary(B::Reflect).mode(M::Convolution), {2, 2, 7, 6}, {2, 2, 5, 3});
  add("2d_replicate_stride", ConvSpec::conv2d().padding(3).stride(2).boundary(B::Replicate), {1, 3, 14, 9}, {2, 3, 4, 4});
  add("2d_kernel_eq_input", ConvSpec::conv2d(), {2, 3, 7, 5}, {2, 3, 7, 5});
  add("2d_prime_sizes_N8", ConvSpec::conv2d().padding(1), {8, 3, 13, 11}, {7, 3, 3, 3});
  add("2d_k31_image", ConvSpec::conv2d().padding(Padding::same()), {1, 1, 40, 47}, {1, 1, 31, 31});
  add("2d_channels_not_tile", ConvSpec::conv2d().padding(1), {2, 7, 10, 9}, {9, 7, 3, 3});
  add("2d_N0", ConvSpec::conv2d().padding(1), {0, 3, 8, 8}, {4, 3, 3, 3});
  // 3-D
  add("3d_small", ConvSpec::conv3d().padding(1), {2, 2, 5, 6, 7}, {3, 2, 3, 3, 3});
  add("3d_stride_dil_groups", ConvSpec::conv3d().stride({2, 1, 2}).dilation({1, 2, 1}).groups(2).padding(1), {1, 4, 7, 8, 9}, {4, 2, 3, 2, 3});
  add("3d_circular_conv_bias", ConvSpec::conv3d().padding(Padding::same()).boundary(B::Circular).mode(M::Convolution).bias(true), {1, 1, 6, 5, 4}, {2, 1, 3, 2, 3});
  add("3d_reflect", ConvSpec::conv3d().padding(1).boundary(B::Reflect), {1, 2, 4, 5, 3}, {1, 2, 2, 3, 3});
  // Inputs of 1 and 2 samples per axis under each boundary that allows their
  // padding (Circular: pad <= D, Reflect: pad < D, so Reflect on D = 1 takes
  // none): the tiles, tables and folds degenerate to a single element here.
  add("1d_D1_k1", ConvSpec::conv1d(), {1, 1, 1}, {1, 1, 1});
  add("1d_D1_full_conv_k3", ConvSpec::conv1d().padding(Padding::full()).mode(M::Convolution), {2, 1, 1}, {1, 1, 3});
  add("1d_D1_circular_pad1", ConvSpec::conv1d().padding(1).boundary(B::Circular), {1, 2, 1}, {2, 2, 3});
  add("1d_D1_reflect_pad0", ConvSpec::conv1d().boundary(B::Reflect).bias(true), {1, 1, 1}, {3, 1, 1});
  add("1d_D1_replicate_asym", ConvSpec::conv1d().padding(Padding::per_dim({{3, 2}})).boundary(B::Replicate), {1, 1, 1}, {1, 1, 4});
  add("1d_D2_zeros_same_k4", ConvSpec::conv1d().padding(Padding::same()), {3, 1, 2}, {2, 1, 4});
  add("1d_D2_circular_pad2_k5", ConvSpec::conv1d().padding(2).boundary(B::Circular), {1, 1, 2}, {1, 1, 5});
  add("1d_D2_reflect_pad1_conv", ConvSpec::conv1d().padding(1).boundary(B::Reflect).mode(M::Convolution), {1, 2, 2}, {1, 2, 3});
  add("1d_D2_replicate_full", ConvSpec::conv1d().padding(Padding::full()).boundary(B::Replicate), {1, 1, 2}, {2, 1, 3});
  add("2d_D1x1_same_3x3", ConvSpec::conv2d().padding(Padding::same()), {1, 2, 1, 1}, {3, 2, 3, 3});
  add("2d_D1x2_circular", ConvSpec::conv2d().padding(Padding::per_dim({{1, 0}, {1, 1}})).boundary(B::Circular), {1, 1, 1, 2}, {1, 1, 2, 3});
  add("2d_D2x1_reflect", ConvSpec::conv2d().padding(Padding::per_dim({{1, 1}, {0, 0}})).boundary(B::Reflect).mode(M::Convolution), {2, 1, 2, 1}, {2, 1, 3, 1});
  add("2d_D2x2_replicate_full", ConvSpec::conv2d().padding(Padding::full()).boundary(B::Replicate).bias(true), {1, 1, 2, 2}, {2, 1, 2, 3});
  add("2d_D2x2_zeros_groups", ConvSpec::conv2d().padding(1).groups(2), {2, 2, 2, 2}, {4, 1, 3, 3});
  add("3d_D1_zeros_asym", ConvSpec::conv3d().padding(Padding::per_dim({{0, 0}, {1, 0}, {1, 1}})), {1, 1, 1, 2, 1}, {2, 1, 1, 2, 3});
  add("3d_D2_circular_pad2", ConvSpec::conv3d().padding(2).boundary(B::Circular), {1, 1, 2, 2, 2}, {1, 1, 3, 3, 3});
  add("3d_D2x1x2_reflect", ConvSpec::conv3d().padding(Padding::per_dim({{1, 1}, {0, 0}, {1, 0}})).boundary(B::Reflect), {1, 1, 2, 1, 2}, {1, 1, 3, 1, 2});
  add("3d_D1x2x2_replicate", ConvSpec::conv3d().padding(2).boundary(B::Replicate).mode(M::Convolution), {1, 2, 1, 2, 2}, {1, 2, 2, 3, 2});
  // A 6x5 kernel: even along one axis, odd along the other (same padding
  // splits them differently), and under a stride with wrap-around.
  add("2d_k6x5_same_conv", ConvSpec::conv2d().padding(Padding::same()).mode(M::Convolution), {1, 2, 13, 11}, {3, 2, 6, 5});
  add("2d_k6x5_same_xcorr_reflect", ConvSpec::conv2d().padding(Padding::same()).boundary(B::Reflect), {1, 1, 9, 8}, {1, 1, 6, 5});
  add("2d_k6x5_stride2_circular", ConvSpec::conv2d().stride(2).padding(Padding::per_dim({{3, 2}, {2, 2}})).boundary(B::Circular), {2, 1, 9, 8}, {2, 1, 6, 5});
  // Stride larger than the input: one or a few outputs, some of them reading
  // padding only.
  add("1d_stride_gt_input_replicate", ConvSpec::conv1d().stride(5).padding(Padding::per_dim({{2, 8}})).boundary(B::Replicate), {1, 1, 4}, {1, 1, 3});
  add("1d_stride_gt_input_zeros", ConvSpec::conv1d().stride(5).padding(Padding::per_dim({{2, 8}})), {2, 1, 4}, {1, 1, 3});
  add("2d_stride_gt_input", ConvSpec::conv2d().stride({5, 4}).padding(1).bias(true), {1, 2, 3, 2}, {2, 2, 2, 2});
  add("3d_stride_gt_input_circular", ConvSpec::conv3d().stride({3, 4, 9}).padding(1).boundary(B::Circular), {1, 1, 2, 3, 4}, {1, 1, 2, 2, 2});
  // Dilation together with stride, per dimension count and boundary.
  add("1d_dil2_stride3_reflect", ConvSpec::conv1d().stride(3).dilation(2).padding(Padding::per_dim({{3, 1}})).boundary(B::Reflect), {2, 2, 29}, {3, 2, 4});
  add("2d_dil_stride_bias", ConvSpec::conv2d().stride(2).dilation({2, 3}).padding(2).bias(true), {1, 3, 17, 15}, {2, 3, 3, 3});
  add("2d_dil_stride_depthwise_replicate", ConvSpec::conv2d().groups(4).stride({3, 2}).dilation({2, 2}).padding(Padding::per_dim({{0, 3}, {2, 1}})).boundary(B::Replicate), {2, 4, 13, 12}, {4, 1, 3, 2});
  add("3d_dil_stride_circular_asym", ConvSpec::conv3d().stride({2, 3, 1}).dilation({2, 1, 2}).padding(Padding::per_dim({{1, 2}, {0, 1}, {2, 0}})).boundary(B::Circular), {1, 2, 6, 7, 5}, {2, 2, 2, 3, 2});
  add("3d_asym_pad_replicate_conv", ConvSpec::conv3d().padding(Padding::per_dim({{0, 2}, {3, 0}, {1, 2}})).boundary(B::Replicate).mode(M::Convolution), {1, 1, 4, 5, 3}, {1, 1, 2, 3, 2});
  // Symmetric (edge repeated; pad <= D): pads up to D, D = 1 and 2, stride
  // with dilation, groups, both modes, bias, 1-D to 3-D.
  add("1d_symmetric_same", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Symmetric), {2, 1, 11}, {1, 1, 4});
  add("1d_symmetric_pad_eq_D_conv_bias", ConvSpec::conv1d().padding(Padding::per_dim({{5, 3}})).boundary(B::Symmetric).mode(M::Convolution).bias(true), {1, 2, 5}, {3, 2, 6});
  add("1d_D1_symmetric", ConvSpec::conv1d().padding(1).boundary(B::Symmetric), {1, 1, 1}, {2, 1, 3});
  add("1d_D2_symmetric_full", ConvSpec::conv1d().padding(Padding::per_dim({{2, 2}})).boundary(B::Symmetric), {1, 1, 2}, {1, 1, 3});
  add("1d_symmetric_dil2_stride3", ConvSpec::conv1d().stride(3).dilation(2).padding(Padding::per_dim({{7, 4}})).boundary(B::Symmetric), {2, 2, 23}, {2, 2, 5});
  add("2d_symmetric_groups_conv", ConvSpec::conv2d().groups(2).padding(Padding::same()).boundary(B::Symmetric).mode(M::Convolution), {1, 4, 9, 7}, {4, 2, 4, 3});
  add("2d_k6x5_symmetric_stride2", ConvSpec::conv2d().stride(2).padding(Padding::per_dim({{6, 2}, {5, 5}})).boundary(B::Symmetric).bias(true), {1, 1, 6, 5}, {2, 1, 6, 5});
  add("2d_depthwise_symmetric_dil", ConvSpec::conv2d().groups(3).dilation({2, 1}).padding(2).boundary(B::Symmetric), {2, 3, 8, 10}, {3, 1, 3, 3});
  add("3d_symmetric_asym", ConvSpec::conv3d().padding(Padding::per_dim({{2, 0}, {1, 3}, {2, 2}})).stride({1, 2, 1}).boundary(B::Symmetric), {1, 2, 3, 4, 2}, {2, 2, 2, 3, 3});
  return t;
}

template <class T>
Expected<T> expected_output(const ConvSpec& spec, const HostTensor<T>& x, const HostTensor<T>& w,
                            const HostTensor<T>* bias) {
  const Shape ys = spec.output_shape(x.shape(), w.shape());
  Expected<T> e{HostTensor<T>(ys), HostTensor<double>(ys)};
  if (bias)
    reference::conv(spec, x.view(), w.view(), bias->view(), e.y.view());
  else
    reference::conv(spec, x.view(), w.view(), e.y.view());
  // Σ|x·w| per output: the same convolution on |x| and |w|, without bias, in double.
  HostTensor<double> ax(x.shape()), aw(w.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) ax[i] = std::abs(double(x[i]));
  for (std::int64_t i = 0; i < w.numel(); ++i) aw[i] = std::abs(double(w[i]));
  ConvSpec nobias = spec;
  nobias.bias(false);
  reference::conv(nobias, ax.view(), aw.view(), e.magnitude.view());
  if (bias) {
    const std::int64_t K = ys[1], Q = ys.numel() / std::max<std::int64_t>(1, ys[0] * K);
    for (std::int64_t i = 0; i < e.magnitude.numel(); ++i)
      e.magnitude[i] += std::abs(double((*bias)[(i / Q) % K]));
  }
  return e;
}

template <class T>
double tolerance(std::int64_t terms) {
  return bench::tolerance_factor(dtype_v<T>, terms);  // one definition for the tests and the benchmark
}

namespace {
std::string coords(const Shape& s, std::int64_t i) {
  std::vector<std::int64_t> c(s.rank());
  for (int a = s.rank() - 1; a >= 0; --a) {
    c[a] = s[a] ? i % s[a] : 0;
    i = s[a] ? i / s[a] : 0;
  }
  std::string r = "(";
  for (int a = 0; a < s.rank(); ++a) r += (a ? "," : "") + std::to_string(c[a]);
  return r + ")";
}
}  // namespace

template <class T>
::testing::AssertionResult compare(const HostTensor<T>& got, const HostTensor<T>& want,
                                   const HostTensor<double>* magnitude, double tol_factor) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape() << " != expected " << want.shape();
  std::int64_t bad = 0;
  std::ostringstream first;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    const double lim = tol_factor == 0 ? 0.0 : tol_factor * (*magnitude)[i];
    const bool ok = !std::isnan(g) && (tol_factor == 0 ? g == w : std::abs(g - w) <= lim);
    if (!ok) {
      if (bad < 8)
        first << "\n  at " << coords(got.shape(), i) << ": got " << g << ", expected " << w
              << (tol_factor == 0 ? "" : ", allowed error " + std::to_string(lim));
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.numel() << " elements differ:" << first.str();
}

#define CONVKIT_TEST_INSTANTIATE(T)                                                                        \
  template HostTensor<T> random_ints<T>(const Shape&, std::uint64_t, int, int);                            \
  template HostTensor<T> random_floats<T>(const Shape&, std::uint64_t);                                    \
  template HostTensor<T> abs_of<T>(const HostTensor<T>&);                                                  \
  template Expected<T> expected_output<T>(const ConvSpec&, const HostTensor<T>&, const HostTensor<T>&,     \
                                          const HostTensor<T>*);                                           \
  template double tolerance<T>(std::int64_t);                                                              \
  template ::testing::AssertionResult compare<T>(const HostTensor<T>&, const HostTensor<T>&,               \
                                                 const HostTensor<double>*, double);
CONVKIT_TEST_INSTANTIATE(float)
CONVKIT_TEST_INSTANTIATE(double)

}  // namespace convkit::test
