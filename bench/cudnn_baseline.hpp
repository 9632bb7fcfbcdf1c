// The cuDNN baseline of convkit-bench. Built from cudnn_baseline.cpp when
// CMake finds cuDNN, else from cudnn_stub.cpp, which reports it unavailable;
// the rest of the bench is the same either way. cuDNN is linked into the
// bench only, never into libconvkit.
#pragma once

#include "bench_math.hpp"

#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace convkit::bench {

/// A problem cuDNN cannot run, or a cuDNN call that failed; the row becomes
/// "skipped (reason)" or "error (reason)".
struct CudnnUnsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Whether cuDNN was built in and its handle could be created; when not,
/// `why` says so ("not found at configure time", "cudnnCreate: ...").
bool cudnn_available(std::string* why);
/// "9.1.0", from the loaded library.
std::string cudnn_version();

/// Which cuDNN forward algorithm a CudnnConv runs: the fastest that Find
/// measures, or one forced (CUDNN_CONVOLUTION_FWD_ALGO_FFT / _FFT_TILING, the
/// baselines of convkit's Fft path) wherever cuDNN's workspace query accepts
/// the problem.
enum class CudnnForward { Best, Fft, FftTiling };

/// One cuDNN forward convolution prepared for fixed shapes: NCHW (NCDHW)
/// tensors, cross-correlation or convolution mode, FMA math only (no TF32
/// tensor cores for float, like convkit's default), the fastest algorithm
/// that cudnnFindConvolutionForwardAlgorithmEx measures (or the forced one),
/// its workspace allocated. Padding is symmetric in cuDNN; see SymmetricView.
class CudnnConv {
 public:
  /// x and w are device tensors of `p`'s shapes; the output is allocated
  /// here. Throws CudnnUnsupported, also when a forced algorithm's workspace
  /// query fails or its workspace exceeds `workspace_cap`, which bounds the
  /// workspace.
  CudnnConv(cudaStream_t stream, const ConvProblem& p, DType t, const void* x, const void* w,
            std::size_t workspace_cap, CudnnForward which = CudnnForward::Best);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  /// Enqueues y = conv(x, w) on the stream.
  void run();
  /// cuDNN's output (shape [N, K, view().out...]) and its size in bytes.
  void* y() const;
  std::size_t y_bytes() const;
  /// Where convkit's output elements sit in y().
  const SymmetricView& view() const;
  /// The algorithm Find chose (or the forced one), e.g. "IMPLICIT_PRECOMP_GEMM",
  /// and its workspace.
  std::string algorithm() const;
  std::size_t workspace_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// One cuDNN backward pass prepared for fixed shapes, as CudnnConv: the
/// fastest FMA-math algorithm cudnnFindConvolutionBackwardDataAlgorithmEx
/// (data) or ...BackwardFilterAlgorithmEx (filter) measures. `data`: dx =
/// Tᵀ·dy from w and dy; else dw from x and dy. Only where cuDNN's output has
/// convkit's shape (symmetric padding), so dy fits it as it is. The gradient
/// (dx [N, C, D...] or dw [K, C/G, k...]) is allocated here.
class CudnnConvBackward {
 public:
  CudnnConvBackward(cudaStream_t stream, const ConvProblem& p, DType t, bool data, const void* x, const void* w,
                    const void* dy, std::size_t workspace_cap);
  ~CudnnConvBackward();
  CudnnConvBackward(const CudnnConvBackward&) = delete;
  CudnnConvBackward& operator=(const CudnnConvBackward&) = delete;

  /// Enqueues the gradient (overwriting out()) on the stream.
  void run();
  void* out() const;
  std::size_t out_bytes() const;
  std::string algorithm() const;
  std::size_t workspace_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convkit::bench
