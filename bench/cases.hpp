// The benchmark's problem table: four suites (long 1-D signals with the
// Toeplitz SpMV / SpMM shapes, a 4K single-channel image, ResNet-50 / VGG-16
// layers, and large kernels for the Fft path), each in a full and a --quick
// size, and which cases carry the direct and Fft paths' performance targets. Header-only and CUDA-free so the CPU
// tests can check that every case is a valid problem.
#pragma once

#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace convkit::bench {

/// Which performance target of the direct path a case carries (docs/PERF.md):
/// memory-bound cases against the copy bandwidth, compute-bound ones against
/// the FMA peak; both also against cuDNN.
enum class DirectTarget { None, MemoryBound, ComputeBound };

/// One benchmark problem.
struct Case {
  std::string suite;
  std::string name;
  ConvSpec spec;
  Shape x, w;
  DirectTarget direct_target = DirectTarget::None;
  /// Fft targets (docs/PERF.md): a large-kernel case, where Fft must beat
  /// cuDNN's best by kFftSpeedupOverCudnn; and the 4096-tap case, where it
  /// must also beat Direct by kFftSpeedupOverDirect.
  bool fft_large_kernel = false;
  bool fft_over_direct = false;
};

/// The suites convkit-bench knows, in the order they run.
inline const std::vector<std::string>& suite_names() {
  static const std::vector<std::string> names{"signal1d", "image2d", "cnn", "large-kernel"};
  return names;
}

namespace detail_cases {

inline std::string pow2(int e) { return "2^" + std::to_string(e); }

// A single-channel 1-D signal batch with a 'same'-padded kernel of k taps.
inline Case signal(const std::string& label, int log2_len, std::int64_t k, std::int64_t batch = 1) {
  std::string name = label + "L=" + pow2(log2_len) + " k=" + std::to_string(k);
  if (batch > 1) name += " N=" + std::to_string(batch);
  return Case{"signal1d", name, ConvSpec::conv1d().padding(Padding::same()),
              Shape{batch, 1, std::int64_t(1) << log2_len}, Shape{1, 1, k}};
}

// A grey W x H image with a 'same'-padded k x k filter.
inline Case image(std::int64_t width, std::int64_t height, std::int64_t k) {
  return Case{"image2d",
              std::to_string(width) + "x" + std::to_string(height) + " k=" + std::to_string(k),
              ConvSpec::conv2d().padding(Padding::same()), Shape{1, 1, height, width}, Shape{1, 1, k, k}};
}

// A square CNN layer: N images of C x S x S, K filters of k x k.
inline Case layer(const std::string& label, std::int64_t n, std::int64_t c, std::int64_t k_out, std::int64_t size,
                  std::int64_t k, std::int64_t stride, std::int64_t pad) {
  return Case{"cnn", label + " N=" + std::to_string(n),
              ConvSpec::conv2d().stride(stride).padding(Padding::uniform(pad)), Shape{n, c, size, size},
              Shape{k_out, c, k, k}};
}

// A single-channel D^3 volume with a 'same'-padded k^3 filter.
inline Case volume(std::int64_t size, std::int64_t k) {
  return Case{"", std::to_string(size) + "^3 k=" + std::to_string(k) + "^3",
              ConvSpec::conv3d().padding(Padding::same()), Shape{1, 1, size, size, size}, Shape{1, 1, k, k, k}};
}

}  // namespace detail_cases

/// The cases of one suite ("signal1d", "image2d", "cnn" or "large-kernel");
/// empty for an unknown name. `quick` shrinks sizes and batches so that every suite with
/// every algorithm runs in seconds; the shapes' character (kernel sizes,
/// channels, strides) stays the same.
inline std::vector<Case> suite_cases(const std::string& suite, bool quick) {
  using namespace detail_cases;
  std::vector<Case> v;
  if (suite == "signal1d") {
    const int big = quick ? 22 : 26, mid = quick ? 20 : 24, small = quick ? 16 : 20;
    v.push_back(signal("", big, 7));
    v.back().direct_target = DirectTarget::MemoryBound;
    v.push_back(signal("", big, 127));
    v.back().direct_target = DirectTarget::ComputeBound;
    v.push_back(signal("", mid, 4096));
    // The shapes the sparse Toeplitz path is built for: one long signal is a
    // sparse matrix times one vector (SpMV), a batch of signals a sparse
    // matrix times a dense matrix (SpMM).
    v.push_back(signal("spmv ", mid, 31));
    v.push_back(signal("spmm ", small, 31, 64));
  } else if (suite == "image2d") {
    const std::int64_t w = quick ? 1920 : 3840, h = quick ? 1080 : 2160;
    for (std::int64_t k : {3, 7, 15, 31})
      if (!quick || k != 7) {
        v.push_back(image(w, h, k));
        // Small kernels move more bytes than they compute; from k = 15 on the
        // arithmetic dominates.
        v.back().direct_target = k <= 7 ? DirectTarget::MemoryBound : DirectTarget::ComputeBound;
      }
  } else if (suite == "cnn") {
    const std::int64_t n = quick ? 8 : 64;
    v.push_back(layer("resnet50 3x3 56^2 64->64", n, 64, 64, 56, 3, 1, 1));
    v.push_back(layer("resnet50 3x3 7^2 512->512", n, 512, 512, 7, 3, 1, 1));
    v.push_back(layer("resnet50 1x1 56^2 64->256", n, 64, 256, 56, 1, 1, 0));
    v.push_back(layer("resnet50 stem 7x7/2 224^2 3->64", n, 3, 64, 224, 7, 2, 3));
    v.push_back(layer("vgg16 conv1_2 3x3 224^2 64->64", quick ? 2 : 32, 64, 64, 224, 3, 1, 1));
    v.push_back(layer("3x3 14^2 256->256", 1, 256, 256, 14, 3, 1, 1));
  } else if (suite == "large-kernel") {
    // Where the Fft path should win: long kernels over long signals, large 2-D
    // and 3-D filters, all 'same'-padded; and one CNN layer with 7 x 7
    // filters where it competes with the GEMM-based paths (Auto's choice).
    // The 2^24 k=4096 signal repeats signal1d's so that this suite alone
    // holds every Fft target case.
    const int len = quick ? 20 : 24;
    v.push_back(signal("", len, 4096));
    v.back().fft_over_direct = true;
    v.push_back(signal("", len, 65536));
    const std::int64_t w = quick ? 1920 : 3840, h = quick ? 1080 : 2160;
    for (std::int64_t k : {63, 127}) v.push_back(image(w, h, k));
    v.push_back(volume(quick ? 128 : 256, 15));
    for (Case& c : v) c.fft_large_kernel = true;
    v.push_back(layer("7x7 56^2 64->64", quick ? 4 : 32, 64, 64, 56, 7, 1, 3));
    for (Case& c : v) c.suite = suite;
  }
  return v;
}

}  // namespace convkit::bench
