// The state behind a Context: stream, device, lazily created library handles
// and the workspace. Shared (shared_ptr) by the Context, its DeviceTensors and
// its plans, so the stream outlives every stream-ordered free.
#pragma once

#include <convkit/context.hpp>

#include <cublas_v2.h>
#include <cusparse.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <string>

namespace convkit::detail {

struct FftPlanCache;  // src/fft.cpp: the context's cuFFT plans

struct ContextState {
  ContextState() = default;
  explicit ContextState(cudaStream_t s) : stream_(s), owns_stream_(false), stream_ready_(true) {}
  ~ContextState();
  ContextState(const ContextState&) = delete;
  ContextState& operator=(const ContextState&) = delete;

  /// The stream; creates the context's own stream on first use. Throws NoDevice.
  cudaStream_t stream();
  /// cuBLAS / cuSPARSE handles bound to the stream, created on first use.
  cublasHandle_t cublas();
  cusparseHandle_t cusparse();
  /// A device buffer of at least `bytes`, stream-ordered on stream(). Throws
  /// WorkspaceTooSmall (naming `bytes` and `who`) when over the limit.
  void* workspace(std::size_t bytes, const char* who);
  /// Throws WorkspaceTooSmall if `bytes` exceeds the limit (no allocation).
  void check_workspace(std::size_t bytes, const char* who) const;
  /// Frees the workspace (stream-ordered); the next workspace() call
  /// allocates again. The tuner uses it so that one candidate's workspace is
  /// not held while the next is timed.
  void release_workspace();

  std::size_t workspace_limit = std::numeric_limits<std::size_t>::max();
  std::size_t workspace_size = 0;
  bool allow_tf32 = false;
  bool tuning = false;
  bool deterministic = false;
  bool exact = false;
  std::string tuning_file;
  /// cuFFT plans of Algorithm::Fft, made on first use (bounded, least
  /// recently used evicted); destroyed with the context.
  std::shared_ptr<FftPlanCache> fft_plans;

 private:
  cudaStream_t stream_ = nullptr;
  bool owns_stream_ = true;
  bool stream_ready_ = false;
  bool device_checked_ = false;
  cublasHandle_t cublas_ = nullptr;
  cusparseHandle_t cusparse_ = nullptr;
  void* workspace_ = nullptr;
};

/// Loads a tuning file into the process-wide tuning cache (tuning.cpp).
void load_tuning_file(const std::string& path);

/// Throws Error(NoDevice) with a clear message when no CUDA device is usable.
void require_device(const char* what);

}  // namespace convkit::detail
