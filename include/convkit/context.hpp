// Context: the stream every convkit call runs on (its own or the caller's),
// lazily created cuBLAS / cuSPARSE handles bound to it, and a workspace with a
// caller-settable byte limit. Constructing a Context touches no device, so it
// is safe on machines without a GPU; the first call that needs the device
// throws Error(NoDevice) there. One context per thread at a time.
#pragma once

#include <convkit/export.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <string>

namespace convkit {

namespace detail {
struct ContextState;
}

class CONVKIT_EXPORT Context {
 public:
  /// A context with its own non-blocking stream on the current device,
  /// created at first use (never the legacy default stream).
  Context();
  /// A context that runs on the caller's stream (which may be the legacy
  /// default stream 0 if the caller hands it in). The stream is not destroyed;
  /// it must outlive the context and every tensor or plan made with it (they
  /// free their memory on it). A context belongs to the device that is
  /// current when it is first used; make its calls with that device current.
  explicit Context(cudaStream_t stream);
  /// The context's state lives until its last tensor or plan is gone; then it
  /// frees everything, waiting for work where it must: a stream it created is
  /// synchronised before it is destroyed, and destroying its cuBLAS handle (if
  /// it made one) synchronises the device.
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  /// The stream convkit enqueues work on. Throws Error(NoDevice) when no CUDA
  /// device is usable.
  cudaStream_t stream() const;
  /// Blocks until all work enqueued on the stream has finished.
  void synchronize() const;

  /// Upper bound on the workspace any call may use (default: unlimited).
  void set_workspace_limit(std::size_t bytes);
  std::size_t workspace_limit() const;
  /// Bytes of workspace currently allocated.
  std::size_t workspace_allocated() const;

  /// Let GEMM-based paths use TF32 tensor cores for float (default off:
  /// results then are exact FP32 arithmetic).
  void set_allow_tf32(bool on);
  bool allow_tf32() const;

  /// Algorithm::Auto: when on, time each candidate once per (device, library
  /// version, problem, dtype, flags) and remember the fastest; when off
  /// (default), choose by the cost model alone, spending no device time.
  /// Tuning a new key synchronises the context's stream once.
  void set_tuning(bool on);
  bool tuning() const;
  /// A file that keeps tuning results across runs: read when set (a missing
  /// file is fine), appended to whenever a new key is tuned. Empty: memory only.
  /// A malformed line (not exactly what convkit writes) is skipped with a
  /// warning naming the file, the line and what is wrong (stderr, or the
  /// handler of set_warning_handler, convkit/warning.hpp); its key is then
  /// timed again. Failures that may pass (out of memory, workspace) are
  /// not written, so a later process times those candidates again.
  void set_tuning_file(const std::string& path);
  const std::string& tuning_file() const;
  /// When on, Algorithm::Auto chooses only algorithms whose results are
  /// bit-identical run to run (all of today's algorithms are).
  void set_deterministic(bool on);
  bool deterministic() const;
  /// When on, Algorithm::Auto chooses only algorithms whose results are exact
  /// up to the per-element rounding of DESIGN §5 (every algorithm but Fft,
  /// whose error is normwise: spread over each block by the transforms, so a
  /// small output near large ones carries their rounding). Off by default.
  /// Asking for Algorithm::Fft by name still runs it.
  void set_exact(bool on);
  bool exact() const;

  /// Shared internal state (used by tensors and plans to keep the stream and
  /// handles alive).
  const std::shared_ptr<detail::ContextState>& state() const { return state_; }

 private:
  std::shared_ptr<detail::ContextState> state_;
};

/// Whether a usable CUDA device is present (never throws).
CONVKIT_EXPORT bool device_available() noexcept;

}  // namespace convkit
