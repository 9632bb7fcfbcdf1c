// Device queries, the copy-bandwidth measurement, the L2 flusher, event
// timing and sample gathering for convkit-bench (see device.hpp).
#include "device.hpp"

#include "bench_math.hpp"

#include <algorithm>
#include <stdexcept>

namespace convkit::bench {

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so the next row can run
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

namespace {
int attribute(cudaDeviceAttr a, int dev) {
  int v = 0;
  cuda_check(cudaDeviceGetAttribute(&v, a, dev), "cudaDeviceGetAttribute");
  return v;
}

// Frees with cudaFree on scope exit, so a failing measurement leaks nothing.
struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(std::size_t bytes) { cuda_check(cudaMalloc(&p, bytes), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};
}  // namespace

DeviceInfo query_device() {
  DeviceInfo d;
  cuda_check(cudaGetDevice(&d.ordinal), "cudaGetDevice");
  cudaDeviceProp prop{};
  cuda_check(cudaGetDeviceProperties(&prop, d.ordinal), "cudaGetDeviceProperties");
  d.name = prop.name;
  d.global_bytes = prop.totalGlobalMem;
  d.major = attribute(cudaDevAttrComputeCapabilityMajor, d.ordinal);
  d.minor = attribute(cudaDevAttrComputeCapabilityMinor, d.ordinal);
  d.sms = attribute(cudaDevAttrMultiProcessorCount, d.ordinal);
  // cudaDeviceProp::clockRate is gone in CUDA 13; the attribute remains (kHz).
  d.clock_khz = attribute(cudaDevAttrClockRate, d.ordinal);
  d.l2_bytes = static_cast<std::size_t>(attribute(cudaDevAttrL2CacheSize, d.ordinal));
  d.fp32_lanes = fp32_lanes_per_sm(d.major, d.minor);
  d.fp64_lanes = fp64_lanes_per_sm(d.major, d.minor);
  d.fp32_peak = fma_peak_flops(d.sms, d.fp32_lanes, d.clock_khz);
  d.fp64_peak = fma_peak_flops(d.sms, d.fp64_lanes, d.clock_khz);
  return d;
}

double measure_copy_bandwidth(cudaStream_t stream, std::size_t bytes, int reps) {
  DeviceBuffer src(bytes), dst(bytes);
  cuda_check(cudaMemsetAsync(src.p, 1, bytes, stream), "cudaMemsetAsync");
  const auto copy = [&] {
    cuda_check(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
  };
  copy();
  copy();
  const double ms = median(time_runs(stream, reps, {}, copy));
  return 2.0 * double(bytes) / (ms * 1e-3);
}

L2Flusher::L2Flusher(cudaStream_t stream, std::size_t l2_bytes) : stream_(stream) {
  // Twice the L2 (at least 8 MiB when the size is not reported) so no line
  // of the previous run's data survives the LRU-ish replacement.
  bytes_ = std::max<std::size_t>(2 * l2_bytes, std::size_t(8) << 20);
  cuda_check(cudaMalloc(&buf_, bytes_), "cudaMalloc (L2 flush buffer)");
}

L2Flusher::~L2Flusher() { cudaFree(buf_); }

void L2Flusher::flush() {
  // A different byte each time so no layer can skip an unchanged write.
  cuda_check(cudaMemsetAsync(buf_, static_cast<int>(++counter_ & 0xFF), bytes_, stream_), "cudaMemsetAsync (L2 flush)");
}

std::vector<double> time_runs(cudaStream_t stream, int reps, const std::function<void()>& before,
                              const std::function<void()>& fn) {
  std::vector<cudaEvent_t> ev(2 * static_cast<std::size_t>(reps), nullptr);
  std::vector<double> ms;
  try {
    for (auto& e : ev) cuda_check(cudaEventCreate(&e), "cudaEventCreate");
    for (int r = 0; r < reps; ++r) {
      if (before) before();
      cuda_check(cudaEventRecord(ev[2 * r], stream), "cudaEventRecord");
      fn();
      cuda_check(cudaEventRecord(ev[2 * r + 1], stream), "cudaEventRecord");
    }
    cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    for (int r = 0; r < reps; ++r) {
      float t = 0;
      cuda_check(cudaEventElapsedTime(&t, ev[2 * r], ev[2 * r + 1]), "cudaEventElapsedTime");
      ms.push_back(t);
    }
  } catch (...) {
    for (auto e : ev)
      if (e) cudaEventDestroy(e);
    throw;
  }
  for (auto e : ev) cudaEventDestroy(e);
  return ms;
}

void poison(cudaStream_t stream, void* p, std::size_t bytes) {
  cuda_check(cudaMemsetAsync(p, 0xFF, bytes, stream), "cudaMemsetAsync (poison)");
}

template <class T>
std::vector<double> gather(cudaStream_t stream, const T* dev, const std::vector<std::int64_t>& idx) {
  std::vector<T> host(idx.size());
  // One small copy per sample: a few hundred copies cost about a millisecond
  // and need no kernel in the bench.
  for (std::size_t j = 0; j < idx.size(); ++j)
    cuda_check(cudaMemcpyAsync(&host[j], dev + idx[j], sizeof(T), cudaMemcpyDeviceToHost, stream),
               "cudaMemcpyAsync (gather)");
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  return std::vector<double>(host.begin(), host.end());
}

template std::vector<double> gather<float>(cudaStream_t, const float*, const std::vector<std::int64_t>&);
template std::vector<double> gather<double>(cudaStream_t, const double*, const std::vector<std::int64_t>&);

}  // namespace convkit::bench
