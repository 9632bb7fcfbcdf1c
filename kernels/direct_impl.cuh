// Algorithm::Direct, device side: one __global__ kernel per variant (see
// direct.cuh for the list and what each adds) and direct_launch(), which
// sizes the grid, opts into more than 48 KB of shared memory when a variant
// needs it, and checks the launch. Each kernel is a grid-stride loop over its
// tasks calling the block-program phases of direct.cuh with barriers between
// them. Included once per dtype by direct_f32.cu / direct_f64.cu, which
// instantiate direct_launch explicitly.
#pragma once

#include "check.hpp"
#include "direct.cuh"

namespace convkit::detail {
namespace direct {

template <class T>
__device__ __forceinline__ T* dynamic_smem() {
  extern __shared__ __align__(16) unsigned char convkit_direct_smem[];
  return reinterpret_cast<T*>(convkit_direct_smem);
}

// Three blocks per SM: 85 registers keep f64's 64-bit index math from spilling.
template <class T>
__global__ void __launch_bounds__(kGenericThreads, 3)
    generic_kernel(ConvProblem p, const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                   T* __restrict__ y, i64 total) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step)
    y[i] = generic_output(p, x, w, b, i);
}

// Seven blocks per SM (72 registers): the windowed row_taps fits without
// spilling its inner loop, and the memory-bound shapes need the occupancy.
template <class T>
__global__ void __launch_bounds__(kLong1dThreads, 7)
    long1d_kernel(DirectGeom g, ConvProblem p, const T* __restrict__ x, const T* __restrict__ w,
                  const T* __restrict__ b, T* __restrict__ y) {
  T* sm = dynamic_smem<T>();
  for (i64 task = blockIdx.x; task < g.tasks; task += gridDim.x) {
    long1d_load(g, p, x, w, task, threadIdx.x, sm);
    __syncthreads();
    long1d_compute<T, false>(g, p, b, task, threadIdx.x, sm);
    __syncthreads();
    long1d_store(g, p, y, task, threadIdx.x, sm);
    __syncthreads();
  }
}

// Ring: the register ring (about 128 registers) for long kernel rows
// (g.ring); otherwise the windowed steps at seven blocks per SM.
template <class T, bool Ring>
__global__ void __launch_bounds__(kPlaneBx * kPlaneBy, Ring ? 1 : 7)
    plane2d_kernel(DirectGeom g, ConvProblem p, const T* __restrict__ x, const T* __restrict__ w,
                   const T* __restrict__ b, T* __restrict__ y) {
  T* sm = dynamic_smem<T>();
  for (i64 task = blockIdx.x; task < g.tasks; task += gridDim.x) {
    plane2d_load(g, p, x, w, task, threadIdx.x, sm);
    __syncthreads();
    plane2d_compute<T, Ring>(g, p, b, task, threadIdx.x, sm);
    __syncthreads();
    plane2d_store(g, p, y, task, threadIdx.x, sm);
    __syncthreads();
  }
}

template <class T>
__global__ void __launch_bounds__(kTileThreads)
    depthwise2d_kernel(DirectGeom g, ConvProblem p, const T* __restrict__ x, const T* __restrict__ w,
                       const T* __restrict__ b, T* __restrict__ y) {
  T* sm = dynamic_smem<T>();
  for (i64 task = blockIdx.x; task < g.tasks; task += gridDim.x) {
    depthwise2d_load(g, p, x, w, task, threadIdx.x, sm);
    __syncthreads();
    depthwise2d_compute_store(g, p, b, y, task, threadIdx.x, sm);
    __syncthreads();
  }
}

// Three blocks per SM caps registers at 85: enough for f64's 8 accumulators
// and 8 weights without spilling (ptxas would otherwise stop at 64).
template <class T>
__global__ void __launch_bounds__(kTileThreads, 3)
    smallchannel2d_kernel(DirectGeom g, ConvProblem p, const T* __restrict__ x, const T* __restrict__ w,
                          const T* __restrict__ b, T* __restrict__ y) {
  T* sm = dynamic_smem<T>();
  for (i64 task = blockIdx.x; task < g.tasks; task += gridDim.x) {
    T acc[kChannelBlock];
    CONVKIT_UNROLL
    for (int kb = 0; kb < kChannelBlock; ++kb) acc[kb] = T(0);
    small_load_weights(g, p, w, task, threadIdx.x, sm);
    for (i64 c = 0; c < p.Cg(); ++c) {
      if (c > 0) __syncthreads();  // everyone is done with channel c-1's tile
      small_load_tile(g, p, x, task, c, threadIdx.x, sm);
      __syncthreads();
      small_compute(g, p, c, threadIdx.x, sm, acc);
    }
    small_store(g, p, b, y, task, threadIdx.x, acc);
    __syncthreads();  // the next task's loads overwrite the weights and the tile
  }
}

// Launches a shared-memory kernel with `smem` bytes, opting in above 48 KB
// (the attribute is per device, so it is set on every such launch).
template <class Kernel, class... Args>
void launch_tiled(Kernel kernel, const DirectGeom& g, std::size_t smem, cudaStream_t stream, Args... args) {
  if (smem > kSmemDefault)
    CONVKIT_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  kernel<<<static_cast<unsigned>(g.grid), g.threads, smem, stream>>>(g, args...);
  CONVKIT_CHECK_LAUNCH();
}

}  // namespace direct

template <class T>
void direct_launch(DirectVariant v, const ConvProblem& p, const T* x, const T* w, const T* b, T* y,
                   cudaStream_t stream) {
  using namespace direct;
  const DirectGeom g = direct_geometry(v, p, sizeof(T));
  if (g.tasks == 0) return;
  const std::size_t smem = direct_smem_bytes(g, sizeof(T));
  switch (v) {
    case DirectVariant::Generic:
      generic_kernel<T><<<static_cast<unsigned>(g.grid), g.threads, 0, stream>>>(p, x, w, b, y, g.tasks);
      CONVKIT_CHECK_LAUNCH();
      return;
    case DirectVariant::Long1d: launch_tiled(long1d_kernel<T>, g, smem, stream, p, x, w, b, y); return;
    case DirectVariant::Plane2d:
      if (g.ring)
        launch_tiled(plane2d_kernel<T, true>, g, smem, stream, p, x, w, b, y);
      else
        launch_tiled(plane2d_kernel<T, false>, g, smem, stream, p, x, w, b, y);
      return;
    case DirectVariant::Depthwise2d: launch_tiled(depthwise2d_kernel<T>, g, smem, stream, p, x, w, b, y); return;
    case DirectVariant::SmallChannel2d:
      launch_tiled(smallchannel2d_kernel<T>, g, smem, stream, p, x, w, b, y);
      return;
  }
}

}  // namespace convkit::detail
