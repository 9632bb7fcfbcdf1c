// Smoothing a noisy thermometer with a causal exponential-decay kernel.
//
// A reading arrives once a second. The kernel w[a] gives the weight of the
// reading a seconds old: w[a] ∝ exp(-a / tau) for a >= 0 (zero for negative
// ages: the filter never looks into the future), normalised so the weights
// form a probability density over ages. The smoothed value is then
// y[t] = Σ_a w[a] · x[t - a]: a true convolution (Mode::Convolution) with
// padding (k-1, 0) so that output t ends at reading t, and Replicate
// boundary so the first minutes lean on the first reading rather than zeros.
// The price of smoothing is lag: the smoothed curve trails the truth by
// about the kernel's mean age Σ a·w[a].
//
// Runs the CPU reference (no GPU needed); with a GPU the same spec runs on
// any algorithm via convkit::conv.
#include <convkit/convkit.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
  const int seconds = 1800;  // half an hour of readings
  const double tau = 20.0;   // decay time of the kernel, in seconds
  const int taps = 120;      // ages 0..119 s (6 tau; the tail beyond is < 0.3%)
  const double pi = 3.14159265358979323846;

  // Synthesised series: a slow swing around 21 °C plus sensor noise from a
  // fixed-seed generator, so the output is reproducible.
  std::vector<double> truth(seconds), raw(seconds);
  std::uint64_t state = 42;
  auto uniform = [&state] {  // xorshift64*: deterministic, dependency-free
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return double((state * 2685821657736338717ULL) >> 11) / double(1ULL << 53);
  };
  for (int t = 0; t < seconds; ++t) {
    truth[t] = 21.0 + 1.5 * std::sin(2 * pi * t / 900.0);
    const double noise = (uniform() + uniform() + uniform() - 1.5) * 0.8;  // ~N(0, 0.4)
    raw[t] = truth[t] + noise;
  }

  // The kernel: a probability density over ages a = 0..taps-1.
  std::vector<double> w(taps);
  double sum = 0;
  for (int a = 0; a < taps; ++a) sum += (w[a] = std::exp(-a / tau));
  double mean_age = 0, total = 0;
  for (int a = 0; a < taps; ++a) {
    w[a] /= sum;
    mean_age += a * w[a];
    total += w[a];
  }

  auto spec = convkit::ConvSpec::conv1d()
                  .mode(convkit::Mode::Convolution)
                  .padding(convkit::Padding::per_dim({{taps - 1, 0}}))
                  .boundary(convkit::Boundary::Replicate);
  std::vector<double> smooth(seconds);
  convkit::reference::conv(spec, convkit::TensorView<const double>::host(raw.data(), {1, 1, seconds}),
                           convkit::TensorView<const double>::host(w.data(), {1, 1, taps}),
                           convkit::TensorView<double>::host(smooth.data(), {1, 1, seconds}));

  // Measured lag: the shift of the truth that the smoothed series matches best.
  int best_lag = 0;
  double best_rms = 1e300;
  for (int lag = 0; lag <= 60; ++lag) {
    double e = 0;
    int n = 0;
    for (int t = 300; t < seconds; ++t, ++n) e += std::pow(smooth[t] - truth[t - lag], 2);
    const double rms = std::sqrt(e / n);
    if (rms < best_rms) best_rms = rms, best_lag = lag;
  }
  double raw_err = 0, smooth_err = 0;
  for (int t = 300; t < seconds; ++t) {
    raw_err += std::pow(raw[t] - truth[t], 2);
    smooth_err += std::pow(smooth[t] - truth[t - best_lag], 2);
  }
  raw_err = std::sqrt(raw_err / (seconds - 300));
  smooth_err = std::sqrt(smooth_err / (seconds - 300));

  std::printf("convkit %s: smoothing %d one-second readings with a causal exponential kernel\n",
              CONVKIT_VERSION_STRING, seconds);
  std::printf("kernel: tau = %.0f s, %d taps, weights sum to %.6f, zero for negative ages\n\n", tau, taps, total);
  std::printf("%8s %10s %10s %10s\n", "time s", "raw °C", "smooth °C", "truth °C");
  for (int t = 0; t < seconds; t += 120)
    std::printf("%8d %10.3f %10.3f %10.3f\n", t, raw[t], smooth[t], truth[t]);
  std::printf("\nlag introduced: kernel mean age %.1f s; best-matching shift of the truth %d s\n", mean_age,
              best_lag);
  std::printf("noise (rms vs truth, after 300 s): raw %.3f °C, smoothed %.3f °C (vs truth shifted by the lag)\n",
              raw_err, smooth_err);

  // On a GPU: the same smoothing with every algorithm, each checked against
  // the CPU reference.
  if (!convkit::device_available()) {
    std::printf("\nno CUDA device: the GPU algorithms were not run\n");
    return 0;
  }
  int failures = 0;
  convkit::Context ctx;
  auto x = convkit::DeviceTensor<double>::from_host(ctx, raw, {1, 1, seconds});
  auto k = convkit::DeviceTensor<double>::from_host(ctx, w, {1, 1, taps});
  std::printf("\n%-15s %-28s %s\n", "algorithm", "variant", "max |GPU - CPU reference| °C");
  for (auto algo : {convkit::Algorithm::Direct, convkit::Algorithm::Im2colGemm, convkit::Algorithm::SparseToeplitz}) {
    const convkit::Support s = convkit::supports(spec, x.shape(), k.shape(), convkit::DType::F64, algo);
    if (!s) {
      std::printf("%-15s not supported: %s\n", convkit::algorithm_name(algo), s.reason.c_str());
      continue;
    }
    const auto y = convkit::conv(ctx, spec, x, k, algo).to_host();
    double worst = 0;
    for (int t = 0; t < seconds; ++t) worst = std::fmax(worst, std::fabs(y[t] - smooth[t]));
    const bool ok = worst <= 1e-12;
    failures += !ok;
    std::printf("%-15s %-28s %.3g%s\n", convkit::algorithm_name(algo), s.variant.c_str(), worst, ok ? "" : "  MISMATCH");
  }
  return failures ? 1 : 0;
}
