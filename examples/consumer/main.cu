// A CUDA application consuming the installed convkit package: it owns its
// stream and device memory, wraps them in convkit views, runs a 3x3 'same'
// convolution on its own stream and checks it against the CPU reference.
// Without a GPU it runs the reference alone and says so.
#include <convkit/convkit.hpp>

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

int main() {
  const convkit::Shape xs{1, 1, 6, 8}, ws{1, 1, 3, 3};
  auto spec = convkit::ConvSpec::conv2d().padding(convkit::Padding::same());
  const convkit::Shape ys = spec.output_shape(xs, ws);
  std::vector<float> x(xs.numel()), w(ws.numel()), y_ref(ys.numel()), y(ys.numel());
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 7 % 9) - 4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 3) - 1);
  convkit::reference::conv(spec, convkit::TensorView<const float>::host(x.data(), xs),
                           convkit::TensorView<const float>::host(w.data(), ws),
                           convkit::TensorView<float>::host(y_ref.data(), ys));
  std::printf("convkit %s found; reference y[0,0,2,:4] = %g %g %g %g\n", CONVKIT_VERSION_STRING,
              y_ref[16], y_ref[17], y_ref[18], y_ref[19]);
  if (!convkit::device_available()) {
    std::printf("no CUDA device: ran the CPU reference only\n");
    return 0;
  }
  // Every CUDA call of the application is checked too.
  auto check = [](cudaError_t e, const char* what) {
    if (e != cudaSuccess) {
      std::fprintf(stderr, "%s failed: %s\n", what, cudaGetErrorString(e));
      std::exit(1);
    }
  };
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  float *dx, *dw, *dy;
  check(cudaMalloc(&dx, x.size() * sizeof(float)), "cudaMalloc x");
  check(cudaMalloc(&dw, w.size() * sizeof(float)), "cudaMalloc w");
  check(cudaMalloc(&dy, y.size() * sizeof(float)), "cudaMalloc y");
  check(cudaMemcpyAsync(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice, stream), "copy x");
  check(cudaMemcpyAsync(dw, w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice, stream), "copy w");
  int failures = 0;
  {
    // The context runs on the application's stream; it must be gone before
    // the stream is destroyed (it frees its workspace on that stream).
    convkit::Context ctx(stream);
    for (auto algo : {convkit::Algorithm::Direct, convkit::Algorithm::Im2colGemm,
                      convkit::Algorithm::SparseToeplitz}) {
      try {
        convkit::conv(ctx, spec, convkit::TensorView<const float>::device(dx, xs),
                      convkit::TensorView<const float>::device(dw, ws),
                      convkit::TensorView<float>::device(dy, ys), algo);
        check(cudaMemcpyAsync(y.data(), dy, y.size() * sizeof(float), cudaMemcpyDeviceToHost, stream), "copy y");
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        const bool ok = y == y_ref;
        failures += !ok;
        std::printf("%-15s on the application's stream: %s\n", convkit::algorithm_name(algo),
                    ok ? "matches the reference" : "MISMATCH");
      } catch (const convkit::Error& e) {
        std::printf("%-15s %s\n", convkit::algorithm_name(algo), e.what());
        if (e.status() != convkit::Status::NotSupported) ++failures;
      }
    }
  }
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  cudaFree(dx);
  cudaFree(dw);
  cudaFree(dy);
  cudaStreamDestroy(stream);
  return failures ? 1 : 0;
}
