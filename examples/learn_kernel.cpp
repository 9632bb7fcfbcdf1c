// Learning the thermometer's smoothing kernel back from its readings.
//
// smooth_temperature.cpp smooths noisy one-second readings with a causal
// exponential kernel w[a] ∝ exp(-a / tau) over ages a (Mode::Convolution,
// padding (k-1, 0), Replicate boundary). Here the kernel is unknown: given
// pairs (noisy readings x, smoothed series y) we fit it by gradient descent
// on L = 1/(2M) Σ (conv(x, v) - y)², whose gradient is
// ∂L/∂v = conv_backward_filter(x, dy) with dy = (conv(x, v) - y) / M.
//
// The fit runs twice: once with Mode::Convolution, which learns the kernel
// as written (index = age), and once with Mode::CrossCorrelation on the same
// padding, which learns it flipped (index = taps-1-age), since
// cross-correlation with a flipped kernel is the same map. Both are compared
// with the true kernel; the program exits non-zero when either misses it by
// more than the tolerance below.
//
// With a CUDA device the convolutions and their gradients run on the GPU
// (Algorithm::Auto, forward and backward-filter chosen per direction);
// without one on the CPU reference. The descent's arithmetic is the same.
#include <convkit/convkit.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

using convkit::TensorView;

struct Data {
  int series, seconds, taps;
  std::vector<double> x, y;  // [series, 1, seconds], mean removed
};

// Where the convolutions run: a context and x on the device when there is
// one, else nothing (the CPU reference).
struct Engine {
  bool gpu = convkit::device_available();
  convkit::Context ctx;
  convkit::DeviceTensor<double> x;
};

// Made in main() (so it is gone before the CUDA runtime shuts down).
Engine* g_engine = nullptr;
Engine& engine() { return *g_engine; }

std::vector<double> run_conv(const convkit::ConvSpec& spec, const Data& d, const std::vector<double>& v) {
  std::vector<double> out(d.x.size());
  const convkit::Shape xs{d.series, 1, d.seconds}, ws{1, 1, d.taps};
  Engine& e = engine();
  if (e.gpu) {
    auto dv = convkit::DeviceTensor<double>::from_host(e.ctx, v, ws);
    convkit::DeviceTensor<double> y(e.ctx, xs);
    convkit::conv(e.ctx, spec, e.x.view(), dv.view(), y.view(), convkit::Algorithm::Auto);
    y.copy_to_host(out.data());
    return out;
  }
  convkit::reference::conv(spec, TensorView<const double>::host(d.x.data(), xs),
                           TensorView<const double>::host(v.data(), ws), TensorView<double>::host(out.data(), xs));
  return out;
}

// ∂L/∂v for L = 1/(2M) Σ r², r = conv(x, v) - target.
std::vector<double> gradient(const convkit::ConvSpec& spec, const Data& d, const std::vector<double>& v,
                             const std::vector<double>& target) {
  std::vector<double> dy = run_conv(spec, d, v);
  const double M = static_cast<double>(dy.size());
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = (dy[i] - target[i]) / M;
  std::vector<double> dv(static_cast<std::size_t>(d.taps));
  const convkit::Shape xs{d.series, 1, d.seconds}, ws{1, 1, d.taps};
  Engine& e = engine();
  if (e.gpu) {
    auto ddy = convkit::DeviceTensor<double>::from_host(e.ctx, dy, xs);
    convkit::DeviceTensor<double> ddv(e.ctx, ws);
    convkit::conv_backward_filter(e.ctx, spec, e.x.view(), ddy.view(), ddv.view(), convkit::Algorithm::Auto, 0.0);
    ddv.copy_to_host(dv.data());
    return dv;
  }
  convkit::reference::conv_backward_filter(spec, TensorView<const double>::host(d.x.data(), xs),
                                           TensorView<const double>::host(dy.data(), xs),
                                           TensorView<double>::host(dv.data(), ws), 0.0);
  return dv;
}

// Gradient descent from zero. The loss is quadratic with Hessian
// H v = ∂L/∂v at target 0, so a power iteration gives its largest eigenvalue
// and the step 1/λ_max, the largest that never overshoots.
std::vector<double> fit(const convkit::ConvSpec& spec, const Data& d, int steps) {
  const std::vector<double> zero_target(d.y.size(), 0.0);
  std::vector<double> u(static_cast<std::size_t>(d.taps), 1.0);
  double lambda = 0;
  for (int it = 0; it < 50; ++it) {
    std::vector<double> hu = gradient(spec, d, u, zero_target);
    double norm = 0;
    for (double e : hu) norm += e * e;
    norm = std::sqrt(norm);
    double unorm = 0;
    for (double e : u) unorm += e * e;
    lambda = norm / std::sqrt(unorm);
    for (std::size_t i = 0; i < u.size(); ++i) u[i] = hu[i] / norm;
  }
  const double step = 1.0 / lambda;
  std::vector<double> v(static_cast<std::size_t>(d.taps), 0.0);
  for (int it = 0; it < steps; ++it) {
    const std::vector<double> g = gradient(spec, d, v, d.y);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] -= step * g[i];
  }
  return v;
}

}  // namespace

int main() {
  Engine eng;
  g_engine = &eng;
  const int series = 4, seconds = 600, taps = 16, steps = 3000;
  const double tau = 4.0;     // decay time of the true kernel, in seconds
  const double tol = 1e-4;    // largest allowed |learned - true| weight
  const double pi = 3.14159265358979323846;

  // The true kernel: a probability density over ages 0..taps-1.
  std::vector<double> w(taps);
  double sum = 0;
  for (int a = 0; a < taps; ++a) sum += (w[a] = std::exp(-a / tau));
  for (double& e : w) e /= sum;

  // Readings: slow swings around 21 °C with different phases plus sensor
  // noise from a fixed-seed generator, as in smooth_temperature.cpp.
  Data d{series, seconds, taps, std::vector<double>(series * seconds), {}};
  std::uint64_t state = 7;
  auto uniform = [&state] {  // xorshift64*: deterministic, dependency-free
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return double((state * 2685821657736338717ULL) >> 11) / double(1ULL << 53);
  };
  for (int s = 0; s < series; ++s)
    for (int t = 0; t < seconds; ++t)
      d.x[s * seconds + t] = 21.0 + 1.5 * std::sin(2 * pi * (t + 200.0 * s) / 900.0) +
                             (uniform() + uniform() + uniform() - 1.5) * 0.8;
  // Deviations from the mean: the 21 °C offset would otherwise dominate the
  // loss's curvature and slow the descent a hundredfold. Since the kernel
  // sums to 1 (and Replicate extends a constant by itself), the smoothed
  // deviations are exactly the smoothing of the deviations.
  double mean = 0;
  for (double e : d.x) mean += e;
  mean /= static_cast<double>(d.x.size());
  for (double& e : d.x) e -= mean;
  if (engine().gpu) engine().x = convkit::DeviceTensor<double>::from_host(engine().ctx, d.x, {series, 1, seconds});

  const auto causal = convkit::Padding::per_dim({{taps - 1, 0}});
  const auto conv_spec = convkit::ConvSpec::conv1d()
                             .mode(convkit::Mode::Convolution)
                             .padding(causal)
                             .boundary(convkit::Boundary::Replicate);
  const auto xcorr_spec = convkit::ConvSpec(conv_spec).mode(convkit::Mode::CrossCorrelation);
  d.y = run_conv(conv_spec, d, w);  // the smoothed series: the training targets

  const std::vector<double> learned_conv = fit(conv_spec, d, steps);
  const std::vector<double> learned_xcorr = fit(xcorr_spec, d, steps);

  std::printf("convkit %s: learning a %d-tap smoothing kernel (tau = %.0f s) from %d series of %d s\n",
              CONVKIT_VERSION_STRING, taps, tau, series, seconds);
  std::printf("gradient descent, %d steps each, gradients from %s\n\n", steps,
              engine().gpu ? "conv_backward_filter on the GPU (Algorithm::Auto)" : "reference::conv_backward_filter");
  std::printf("%6s %10s %18s %22s\n", "index", "true w", "learned (conv)", "learned (xcorr)");
  // Written so that a NaN (a diverged descent) propagates and fails the check.
  auto worse = [](double& worst, double e) {
    if (!(e <= worst)) worst = e;
  };
  double err_conv = 0, err_xcorr = 0;
  for (int i = 0; i < taps; ++i) {
    std::printf("%6d %10.6f %18.6f %22.6f\n", i, w[i], learned_conv[i], learned_xcorr[i]);
    worse(err_conv, std::fabs(learned_conv[i] - w[i]));
    worse(err_xcorr, std::fabs(learned_xcorr[taps - 1 - i] - w[i]));
  }
  std::printf("\nconvolution learns w itself (index = age): max |learned - true| = %.2e\n", err_conv);
  std::printf("cross-correlation learns w flipped (index = taps-1-age): max |flip(learned) - true| = %.2e\n",
              err_xcorr);
  const bool ok = err_conv <= tol && err_xcorr <= tol;
  std::printf("%s (tolerance %.0e)\n", ok ? "both match the true kernel" : "MISMATCH", tol);
  return ok ? 0 : 1;
}
