// The device side of convkit-bench that is not convkit itself: what the GPU
// is and its two roofline ceilings (FMA peak from the SM count and clock,
// copy bandwidth measured here), an L2 flusher, event timing of a callable,
// and gathering sampled output elements back to the host. Plain CUDA runtime
// calls; failures throw std::runtime_error naming the call.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace convkit::bench {

/// Throws std::runtime_error("what: <CUDA error>") unless e is cudaSuccess.
void cuda_check(cudaError_t e, const char* what);

/// The GPU under test and its ceilings.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int major = 0, minor = 0;
  int sms = 0;
  double clock_khz = 0;          ///< cudaDevAttrClockRate: the peak SM clock
  std::size_t l2_bytes = 0;
  std::size_t global_bytes = 0;
  int fp32_lanes = 0, fp64_lanes = 0;
  double fp32_peak = 0;          ///< FLOP/s
  double fp64_peak = 0;          ///< FLOP/s
  double copy_bandwidth = 0;     ///< bytes/s, read + written
  std::size_t copy_bytes = 0;    ///< size of the copy that measured it
  int copy_reps = 0;
};

/// Fills `info` for the current device (everything but the bandwidth).
DeviceInfo query_device();

/// Device-to-device cudaMemcpyAsync of `bytes` on `stream`: bytes read plus
/// bytes written per second, median of `reps` runs after two warm-ups.
double measure_copy_bandwidth(cudaStream_t stream, std::size_t bytes, int reps);

/// Evicts the L2 cache by writing a buffer of at least twice its size, so a
/// timed run reads its inputs from device memory as a cold call would.
class L2Flusher {
 public:
  L2Flusher(cudaStream_t stream, std::size_t l2_bytes);
  ~L2Flusher();
  L2Flusher(const L2Flusher&) = delete;
  L2Flusher& operator=(const L2Flusher&) = delete;
  /// Enqueues the flush on the stream.
  void flush();
  std::size_t bytes() const { return bytes_; }

 private:
  cudaStream_t stream_;
  void* buf_ = nullptr;
  std::size_t bytes_ = 0;
  unsigned counter_ = 0;
};

/// Times `reps` runs of `fn` on `stream` with a pair of events around each;
/// `before` (the L2 flush, may be empty) runs before each start event and is
/// not timed. Returns the times in milliseconds; synchronises the stream.
std::vector<double> time_runs(cudaStream_t stream, int reps, const std::function<void()>& before,
                              const std::function<void()>& fn);

/// Fills `bytes` at `p` with 0xFF -- a NaN in float and double -- so an
/// element a kernel forgot to write fails the check.
void poison(cudaStream_t stream, void* p, std::size_t bytes);

/// The elements dev[idx[j]] as doubles; synchronises the stream.
template <class T>
std::vector<double> gather(cudaStream_t stream, const T* dev, const std::vector<std::int64_t>& idx);

}  // namespace convkit::bench
