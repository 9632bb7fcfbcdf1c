// The Toeplitz build and refill drivers: one Thrust sequence over the
// functors of toeplitz.cuh, instantiated for the thrust::host policy (the
// host build that the CPU tests and toeplitz::build use) and for
// thrust::cuda::par_nosync on the context's stream (the device build). The
// values (build and set_weights) come from refill_tile, run per thread by a
// kernel on the device and for every thread in turn on the host. Also the
// bias broadcast the sparse path starts each product from, and the tiled
// transpose of its row-major SpMM formulation.
// Instantiations: {float, double} × {int32, int64} per entry point.
//
// The device policy is par_nosync with a stream-ordered allocator, so no step
// synchronises the stream or the device (plain thrust::cuda::par would
// synchronise after each algorithm and cudaMalloc its temporaries).
#include "toeplitz.cuh"

#include "check.hpp"

#include <thrust/execution_policy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/scan.h>
#include <thrust/system_error.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/transform.h>

#include <cstdint>
#include <new>

namespace convkit::detail::toeplitz {
namespace {

// Thrust reports device failures as exceptions of its own; callers of convkit
// catch convkit::Error only.
template <class F>
void translating_thrust_errors(const char* what, F&& f) {
  try {
    f();
  } catch (const thrust::system_error& e) {
    throw Error(Status::CudaError, msg(what, ": ", e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(Status::OutOfMemory, msg(what, ": out of memory for temporary storage"));
  }
}

// Thrust temporary storage (the scans' scratch) from the stream-ordered pool.
struct StreamAllocator {
  using value_type = char;
  cudaStream_t stream;

  char* allocate(std::ptrdiff_t bytes) {
    void* p = nullptr;
    CONVKIT_CUDA_TRY(cudaMallocAsync(&p, static_cast<std::size_t>(bytes), stream));
    return static_cast<char*>(p);
  }
  void deallocate(char* p, std::size_t) noexcept { cudaFreeAsync(p, stream); }
};

// The one build sequence, for any policy:
//   row_ptr = [0, inclusive_scan(row nnz)]; (multi-tap only) row_tap_ptr
//   likewise and tap_ptr[nnz] = total taps; RowFill per row. The values
//   (when weights are given) come after it, from refill_host / refill_device.
template <class Policy, class T, class I>
void build_with(Policy&& pol, const Pattern& pat, const CsrRef<T, I>& m, I* row_tap_scratch) {
  const I rows = static_cast<I>(m.rows);
  thrust::counting_iterator<I> first(0), last(rows);
  thrust::fill(pol, m.row_ptr, m.row_ptr + 1, I(0));
  thrust::transform(pol, first, last, m.row_ptr + 1, RowNnz<I>{pat});
  thrust::inclusive_scan(pol, m.row_ptr + 1, m.row_ptr + m.rows + 1, m.row_ptr + 1);
  if (!pat.single) {
    thrust::fill(pol, row_tap_scratch, row_tap_scratch + 1, I(0));
    thrust::transform(pol, first, last, row_tap_scratch + 1, RowTaps<I>{pat});
    thrust::inclusive_scan(pol, row_tap_scratch + 1, row_tap_scratch + m.rows + 1, row_tap_scratch + 1);
    thrust::fill(pol, m.tap_ptr + m.nnz, m.tap_ptr + m.nnz + 1, static_cast<I>(m.n_taps));
  }
  thrust::for_each(pol, first, last,
                   RowFill<I>{pat, m.row_ptr, pat.single ? nullptr : row_tap_scratch, m.cols,
                              pat.single ? nullptr : m.tap_ptr, m.taps});
}

template <class T, class I>
__global__ void __launch_bounds__(RefillSplit::kThreads) refill_kernel(Refill<T, I> f, std::int64_t nnz) {
  const std::int64_t tiles = RefillSplit::tiles(nnz);
  for (std::int64_t t = blockIdx.x; t < tiles; t += gridDim.x) refill_tile(f, nnz, t, static_cast<int>(threadIdx.x));
}

template <class T>
__global__ void broadcast_bias_kernel(T* y, const T* b, std::int64_t total, std::int64_t K, std::int64_t Q,
                                      bool add) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step)
    y[i] = add ? y[i] + b[(i / Q) % K] : b[(i / Q) % K];
}

template <class T>
__global__ void __launch_bounds__(TransposeGeom::kThreads)
    transpose_kernel(TransposeGeom g, const T* __restrict__ in, const T* __restrict__ b, T* __restrict__ out) {
  __shared__ T tile[TransposeGeom::kShared];
  const int thread = static_cast<int>(threadIdx.x);
  for (std::int64_t t = blockIdx.x; t < g.tiles; t += gridDim.x) {
    transpose_load(g, in, b, t, thread, tile);
    __syncthreads();
    transpose_store(g, out, t, thread, tile);
    __syncthreads();
  }
}

}  // namespace

template <class T, class I>
void build_host(const Pattern& pat, const CsrRef<T, I>& m, const T* w, I* row_tap_scratch) {
  build_with(thrust::host, pat, m, row_tap_scratch);
  if (w) refill_host(m, w);  // m.tap_ptr is null when pat.single (CsrRef)
}

template <class T, class I>
void build_device(cudaStream_t stream, const Pattern& pat, const CsrRef<T, I>& m, const T* w, I* row_tap_scratch) {
  StreamAllocator alloc{stream};
  translating_thrust_errors("toeplitz device build", [&] {
    build_with(thrust::cuda::par_nosync(alloc).on(stream), pat, m, row_tap_scratch);
  });
  CONVKIT_CHECK_LAUNCH();
  if (w) refill_device(stream, m, w);
}

template <class T, class I>
void refill_host(const CsrRef<T, I>& m, const T* w) {
  const Refill<T, I> f{m.tap_ptr, m.taps, w, m.values};
  const std::int64_t tiles = RefillSplit::tiles(m.nnz);
  for (std::int64_t t = 0; t < tiles; ++t)
    for (int thread = 0; thread < RefillSplit::kThreads; ++thread) refill_tile(f, m.nnz, t, thread);
}

template <class T, class I>
void refill_device(cudaStream_t stream, const CsrRef<T, I>& m, const T* w) {
  const std::int64_t tiles = RefillSplit::tiles(m.nnz);
  if (tiles == 0) return;
  // Grid-stride over tiles: cap the grid, the loop covers the rest.
  const unsigned grid = static_cast<unsigned>(tiles < 65535 * 8 ? tiles : 65535 * 8);
  refill_kernel<T, I><<<grid, RefillSplit::kThreads, 0, stream>>>(Refill<T, I>{m.tap_ptr, m.taps, w, m.values}, m.nnz);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void broadcast_bias_device(cudaStream_t stream, T* y, const T* b, std::int64_t N, std::int64_t K, std::int64_t Q,
                           bool add) {
  const std::int64_t total = N * K * Q;
  if (total == 0) return;
  constexpr int kThreads = 256;
  // Grid-stride: cap the grid, the loop covers the rest.
  const std::int64_t blocks = (total + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65535 * 4 ? blocks : 65535 * 4);
  broadcast_bias_kernel<T><<<grid, kThreads, 0, stream>>>(y, b, total, K, Q, add);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void transpose_device(cudaStream_t stream, const T* in, T* out, std::int64_t rows, std::int64_t cols, const T* b,
                      std::int64_t Q) {
  const TransposeGeom g = TransposeGeom::make(rows, cols, Q);
  if (g.tiles == 0) return;
  // Grid-stride over tiles: cap the grid, the loop covers the rest.
  const unsigned grid = static_cast<unsigned>(g.tiles < 65535 * 8 ? g.tiles : 65535 * 8);
  transpose_kernel<T><<<grid, TransposeGeom::kThreads, 0, stream>>>(g, in, b, out);
  CONVKIT_CHECK_LAUNCH();
}

#define CONVKIT_TOEPLITZ_INSTANTIATE(T, I)                                                                  \
  template void build_host<T, I>(const Pattern&, const CsrRef<T, I>&, const T*, I*);                       \
  template void build_device<T, I>(cudaStream_t, const Pattern&, const CsrRef<T, I>&, const T*, I*);       \
  template void refill_host<T, I>(const CsrRef<T, I>&, const T*);                                          \
  template void refill_device<T, I>(cudaStream_t, const CsrRef<T, I>&, const T*);
CONVKIT_TOEPLITZ_INSTANTIATE(float, std::int32_t)
CONVKIT_TOEPLITZ_INSTANTIATE(float, std::int64_t)
CONVKIT_TOEPLITZ_INSTANTIATE(double, std::int32_t)
CONVKIT_TOEPLITZ_INSTANTIATE(double, std::int64_t)
#undef CONVKIT_TOEPLITZ_INSTANTIATE

template void transpose_device<float>(cudaStream_t, const float*, float*, std::int64_t, std::int64_t, const float*,
                                      std::int64_t);
template void transpose_device<double>(cudaStream_t, const double*, double*, std::int64_t, std::int64_t,
                                       const double*, std::int64_t);
template void broadcast_bias_device<float>(cudaStream_t, float*, const float*, std::int64_t, std::int64_t,
                                           std::int64_t, bool);
template void broadcast_bias_device<double>(cudaStream_t, double*, const double*, std::int64_t, std::int64_t,
                                            std::int64_t, bool);

}  // namespace convkit::detail::toeplitz
