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
//
// With --live the readings arrive as they would from the sensor: a
// convkit::StreamingConv is fed them one at a time, then in 60-second
// chunks, and each run's outputs are compared bit for bit with the batch
// result (exit status 1 if they differ). The stream starts from the first
// reading repeated, which is what Boundary::Replicate does in the batch.
#include <convkit/convkit.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

// Feeds n readings at x to the stream in chunks of `chunk`, the outputs going
// to y, after starting it from `first` (the first reading repeated).
void feed(convkit::StreamingConv& s, const double* first, const double* x, double* y, int n, int chunk,
          convkit::Location where) {
  const std::int64_t h = s.history_length();
  s.set_history(convkit::TensorView<const double>(first, {1, 1, h}, where));
  for (int t = 0; t < n; t += chunk) {
    const int len = std::min(chunk, n - t);
    s.push(convkit::TensorView<const double>(x + t, {1, 1, len}, where),
           convkit::TensorView<double>(y + t, {1, 1, len}, where));
  }
}

// Counts the samples whose bits differ from the batch result's.
int differing(const std::vector<double>& got, const std::vector<double>& batch) {
  int n = 0;
  for (std::size_t t = 0; t < got.size(); ++t) n += std::memcmp(&got[t], &batch[t], sizeof(double)) != 0;
  return n;
}

// The --live demonstration: streaming equals batch, bit for bit.
int live(const std::vector<double>& raw, const std::vector<double>& w) {
  const int seconds = static_cast<int>(raw.size()), taps = static_cast<int>(w.size());
  // A digital thermometer reports in steps of 1/16 °C, and the kernel's
  // weights are rounded to steps of 2^-24: every product and every partial sum
  // is then exact in double, so the result does not depend on the order of
  // summation (one-shot or chunked, CPU or GPU).
  std::vector<double> reading(seconds), weight(taps);
  for (int t = 0; t < seconds; ++t) reading[t] = std::nearbyint(raw[t] * 16) / 16;
  for (int a = 0; a < taps; ++a) weight[a] = std::ldexp(std::nearbyint(std::ldexp(w[a], 24)), -24);
  const std::vector<double> first(taps - 1, reading[0]);

  // The batch: the whole half hour at once, as in the default run. The stream:
  // the same causal padding, with the history taking the place of the
  // replicated left edge.
  const auto causal = convkit::ConvSpec::conv1d()
                          .mode(convkit::Mode::Convolution)
                          .padding(convkit::Padding::per_dim({{taps - 1, 0}}));
  const auto batch_spec = convkit::ConvSpec(causal).boundary(convkit::Boundary::Replicate);
  std::vector<double> batch(seconds), one(seconds), sixty(seconds);
  convkit::Context ctx;
  const bool gpu = convkit::device_available();
  int pushes_one = 0, pushes_sixty = 0;
  if (!gpu) {
    using CV = convkit::TensorView<const double>;
    convkit::reference::conv(batch_spec, CV::host(reading.data(), {1, 1, seconds}), CV::host(weight.data(), {1, 1, taps}),
                             convkit::TensorView<double>::host(batch.data(), {1, 1, seconds}));
    // Host weights: a host stream, each push runs the CPU reference.
    convkit::StreamingConv s(ctx, causal, CV::host(weight.data(), {1, 1, taps}));
    feed(s, first.data(), reading.data(), one.data(), seconds, 1, convkit::Location::Host);
    pushes_one = seconds;
    feed(s, first.data(), reading.data(), sixty.data(), seconds, 60, convkit::Location::Host);
    pushes_sixty = (seconds + 59) / 60;
  } else {
    // Device weights: a device stream. Algorithm::Direct, because the FFT's
    // rounding would make the comparison approximate; with exact sums every
    // other algorithm would give the same bits too.
    const auto x = convkit::DeviceTensor<double>::from_host(ctx, reading, {1, 1, seconds});
    const auto k = convkit::DeviceTensor<double>::from_host(ctx, weight, {1, 1, taps});
    const auto h = convkit::DeviceTensor<double>::from_host(ctx, first, {1, 1, taps - 1});
    convkit::DeviceTensor<double> yb(ctx, {1, 1, seconds}), y1(ctx, {1, 1, seconds}), y60(ctx, {1, 1, seconds});
    convkit::conv(ctx, batch_spec, x.view(), k.view(), yb.view(), convkit::Algorithm::Direct);
    convkit::StreamingConv s(ctx, causal, k.view(), convkit::Algorithm::Direct);
    feed(s, h.data(), x.data(), y1.data(), seconds, 1, convkit::Location::Device);
    pushes_one = seconds;
    feed(s, h.data(), x.data(), y60.data(), seconds, 60, convkit::Location::Device);
    pushes_sixty = (seconds + 59) / 60;
    yb.copy_to_host(batch.data());  // the only waits: the results come back
    y1.copy_to_host(one.data());
    y60.copy_to_host(sixty.data());
  }

  std::printf("convkit %s: live smoothing, %d readings of a 1/16 °C thermometer, %d-tap causal kernel\n",
              CONVKIT_VERSION_STRING, seconds, taps);
  std::printf("running on: %s\n", gpu ? "the GPU (StreamingConv with Algorithm::Direct)"
                                      : "the CPU reference (no CUDA device; a host StreamingConv)");
  std::printf("the stream starts from the first reading repeated (Boundary::Replicate in the batch)\n\n");
  std::printf("%8s %10s %12s\n", "time s", "reading °C", "smoothed °C");
  for (int t = 0; t < seconds; t += 300) std::printf("%8d %10.4f %12.6f\n", t, reading[t], one[t]);
  const int bad_one = differing(one, batch), bad_sixty = differing(sixty, batch);
  std::printf("\none reading at a time (%d pushes): %s\n", pushes_one,
              bad_one ? "DIFFERS from the batch result" : "identical to the batch result, bit for bit");
  std::printf("60-second chunks     (%d pushes): %s\n", pushes_sixty,
              bad_sixty ? "DIFFERS from the batch result" : "identical to the batch result, bit for bit");
  if (bad_one || bad_sixty) {
    std::printf("%d and %d of %d samples differ\n", bad_one, bad_sixty, seconds);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool live_mode = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--live") == 0) {
      live_mode = true;
    } else {
      std::fprintf(stderr, "usage: %s [--live]\n", argv[0]);
      return 2;
    }
  }
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
  if (live_mode) return live(raw, w);

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
