// Algorithm::Direct's backward passes and the bias gradient, device side: the
// kernels (grid-stride loops over the block programs of direct_backward.cuh,
// with __syncthreads() between phases) and the launch functions, which size
// the grids and check every launch. Included once per dtype by
// direct_backward_f32.cu / direct_backward_f64.cu, which instantiate the
// launch functions explicitly.
#pragma once

#include "check.hpp"
#include "direct_backward.cuh"

namespace convkit::detail {
namespace direct_bwd {

template <class T>
__global__ void __launch_bounds__(kGatherThreads)
    gather_kernel(ConvProblem p, const T* __restrict__ dy, const T* __restrict__ w, T* __restrict__ dx,
                  bool accumulate, i64 total) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step)
    gather_dx(p, dy, w, dx, accumulate, i);
}

// The tree after phase 1: log2(kReduceThreads) steps with a barrier after each.
template <class T>
__device__ __forceinline__ void block_tree(T* sm) {
  for (int h = kReduceThreads / 2; h > 0; h /= 2) {
    tree_step(h, static_cast<int>(threadIdx.x), sm);
    __syncthreads();
  }
}

template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    reduce_partials_kernel(ReduceGeom g, ConvProblem p, const T* __restrict__ x, const T* __restrict__ dy,
                           T* __restrict__ workspace) {
  __shared__ T sm[kReduceThreads];
  const int tid = static_cast<int>(threadIdx.x);
  for (i64 task = blockIdx.x; task < g.tasks; task += gridDim.x) {
    reduce_partial(g, p, x, dy, task, tid, sm);
    __syncthreads();
    block_tree(sm);
    reduce_write_partial(task, tid, sm, workspace);
    __syncthreads();  // the next task overwrites sm
  }
}

template <class T>
__global__ void __launch_bounds__(kGatherThreads)
    reduce_finish_kernel(ReduceGeom g, const T* __restrict__ workspace, T* __restrict__ dw, bool accumulate) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < g.weights; i += step)
    reduce_finish(g, workspace, dw, accumulate, i);
}

template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    bias_kernel(i64 N, i64 K, i64 Q, const T* __restrict__ dy, T* __restrict__ db, bool accumulate) {
  __shared__ T sm[kReduceThreads];
  const int tid = static_cast<int>(threadIdx.x);
  for (i64 k = blockIdx.x; k < K; k += gridDim.x) {
    bias_partial(N, K, Q, dy, k, tid, kReduceThreads, sm);
    __syncthreads();
    block_tree(sm);
    bias_write(k, tid, sm, db, accumulate);
    __syncthreads();
  }
}

template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    bias_segments_kernel(i64 N, i64 K, i64 Q, i64 segments, i64 seg_len, const T* __restrict__ dy,
                         T* __restrict__ partials) {
  __shared__ T sm[kReduceThreads];
  const int tid = static_cast<int>(threadIdx.x);
  const i64 L = N * Q, tasks = segments * K;
  for (i64 t = blockIdx.x; t < tasks; t += gridDim.x) {
    const i64 seg = t / K, k = t % K;
    const i64 b = seg * seg_len, e = min64(b + seg_len, L);
    bias_partial_range(K, Q, dy, k, b, e, tid, kReduceThreads, sm);
    __syncthreads();
    block_tree(sm);
    if (tid == 0) partials[t] = sm[0];
    __syncthreads();
  }
}

template <class T>
__global__ void __launch_bounds__(kGatherThreads)
    bias_finish_kernel(i64 K, i64 segments, const T* __restrict__ partials, T* __restrict__ db, bool accumulate) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 k = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; k < K; k += step)
    bias_finish(K, segments, partials, db, accumulate, k);
}

}  // namespace direct_bwd

template <class T>
void direct_backward_data_launch(const ConvProblem& p, const T* dy, const T* w, T* dx, bool accumulate,
                                 cudaStream_t stream) {
  using namespace direct_bwd;
  const i64 total = p.N * p.C * p.in_spatial();
  if (total == 0) return;
  gather_kernel<T><<<static_cast<unsigned>(gather_grid(p)), kGatherThreads, 0, stream>>>(p, dy, w, dx, accumulate,
                                                                                          total);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void direct_backward_filter_launch(const ConvProblem& p, const T* x, const T* dy, T* dw, T* workspace,
                                   bool accumulate, cudaStream_t stream) {
  using namespace direct_bwd;
  const ReduceGeom g = reduce_geometry(p);
  if (g.weights == 0) return;
  reduce_partials_kernel<T><<<static_cast<unsigned>(g.grid), kReduceThreads, 0, stream>>>(g, p, x, dy, workspace);
  CONVKIT_CHECK_LAUNCH();
  reduce_finish_kernel<T><<<static_cast<unsigned>(g.grid2), kGatherThreads, 0, stream>>>(g, workspace, dw,
                                                                                          accumulate);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void direct_backward_bias_launch(std::int64_t N, std::int64_t K, std::int64_t Q, const T* dy, T* db, bool accumulate,
                                 T* partials, cudaStream_t stream) {
  using namespace direct_bwd;
  if (K == 0) return;
  if (N * Q == 0 && accumulate) return;  // db += 0: leave it exactly as it is
  const i64 segments = bias_segments(N, K, Q);
  if (partials && segments > 1) {
    const i64 seg_len = ceil_div(N * Q, segments);
    bias_segments_kernel<T><<<static_cast<unsigned>(min64(segments * K, kMaxGrid)), kReduceThreads, 0, stream>>>(
        N, K, Q, segments, seg_len, dy, partials);
    CONVKIT_CHECK_LAUNCH();
    bias_finish_kernel<T><<<static_cast<unsigned>(min64(ceil_div(K, kGatherThreads), kMaxGrid)), kGatherThreads, 0,
                            stream>>>(K, segments, partials, db, accumulate);
    CONVKIT_CHECK_LAUNCH();
    return;
  }
  bias_kernel<T><<<static_cast<unsigned>(bias_grid(K)), kReduceThreads, 0, stream>>>(N, K, Q, dy, db, accumulate);
  CONVKIT_CHECK_LAUNCH();
}

}  // namespace convkit::detail
