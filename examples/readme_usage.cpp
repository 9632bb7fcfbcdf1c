// The README's usage snippet as a program the build compiles (and the tests
// run), so the README cannot drift from the API. Without a GPU it runs the
// CPU reference part only.
#include <convkit/convkit.hpp>

#include <cstdio>
#include <vector>

int main() {
  const std::int64_t N = 2, C = 3, K = 4, H = 9, W = 11;
  std::vector<float> hx(N * C * H * W), hw(K * C * 3 * 3), hy(N * K * H * W);
  for (std::size_t i = 0; i < hx.size(); ++i) hx[i] = float(int(i % 7) - 3);
  for (std::size_t i = 0; i < hw.size(); ++i) hw[i] = float(int(i % 5) - 2);
  auto hx_view = convkit::TensorView<const float>::host(hx.data(), {N, C, H, W});
  auto hw_view = convkit::TensorView<const float>::host(hw.data(), {K, C, 3, 3});
  auto hy_view = convkit::TensorView<float>::host(hy.data(), {N, K, H, W});

  // --- README snippet begins
  auto spec = convkit::ConvSpec::conv2d().padding(convkit::Padding::same());
  convkit::reference::conv(spec, hx_view, hw_view, hy_view);             // CPU oracle, no GPU
  if (convkit::device_available()) {
    convkit::Context ctx;                                                // or convkit::Context(my_stream)
    auto x = convkit::DeviceTensor<float>::from_host(ctx, hx.data(), {N, C, H, W});
    auto w = convkit::DeviceTensor<float>::from_host(ctx, hw.data(), {K, C, 3, 3});
    auto y = convkit::conv(ctx, spec, x, w, convkit::Algorithm::Direct);  // allocates y
    convkit::conv(ctx, spec, x.view(), w.view(), y.view(), convkit::Algorithm::Im2colGemm);  // into y
    convkit::ConvPlan plan(ctx, spec, x.shape(), w.shape(), convkit::DType::F32, convkit::Algorithm::SparseToeplitz);
    plan.set_weights(w.view());
    plan.run(x.view(), y.view());                                        // reuse for many inputs
    const auto gpu = y.to_host();                                        // waits for the device
    // --- README snippet ends
    for (std::int64_t i = 0; i < gpu.numel(); ++i)
      if (gpu[i] != hy[i]) {
        std::printf("mismatch at %lld\n", static_cast<long long>(i));
        return 1;
      }
    std::printf("GPU results match the CPU reference\n");
  } else {
    std::printf("no CUDA device: ran the CPU reference only\n");
  }
  return 0;
}
