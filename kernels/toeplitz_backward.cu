// SparseToeplitz's backward-filter kernels: thin grid-stride loops over the
// per-thread functions of toeplitz_backward.cuh.
#include "check.hpp"
#include "toeplitz_backward.cuh"

namespace convkit::detail::toeplitz {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::int64_t work) {
  const std::int64_t blocks = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < (std::int64_t(1) << 20) ? blocks : (std::int64_t(1) << 20));
}

template <class T, class I>
__global__ void sampled_kernel(const I* __restrict__ row_ptr, const I* __restrict__ col_ind, std::int64_t rows,
                               std::int64_t cols, std::int64_t N, const T* __restrict__ dy, const T* __restrict__ x,
                               T* __restrict__ s) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += step)
    sampled_row(row_ptr, col_ind, rows, cols, N, dy, x, s, r);
}

template <class T, class I>
__global__ void gather_kernel(ConvProblem p, const I* __restrict__ row_ptr, const I* __restrict__ col_ind,
                              const T* __restrict__ s, T* __restrict__ dw, std::int64_t count, bool accumulate) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t wi = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; wi < count; wi += step) {
    const T g = filter_gradient_element(p, row_ptr, col_ind, s, wi);
    dw[wi] = accumulate ? dw[wi] + g : g;
  }
}

template <class T, class I>
__global__ void partial_kernel(ConvProblem p, const I* __restrict__ row_ptr, const I* __restrict__ col_ind,
                               const T* __restrict__ s, std::int64_t seg_len, std::int64_t total,
                               T* __restrict__ partials) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += step)
    filter_gradient_partial(p, row_ptr, col_ind, s, seg_len, t, partials);
}

template <class T>
__global__ void finish_kernel(std::int64_t weights, std::int64_t segments, const T* __restrict__ partials,
                              T* __restrict__ dw, bool accumulate) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t wi = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; wi < weights; wi += step)
    filter_gradient_finish(weights, segments, partials, dw, accumulate, wi);
}

}  // namespace

template <class T, class I>
void filter_gradient_device(cudaStream_t stream, const ConvProblem& p, const I* row_ptr, const I* col_ind,
                            std::int64_t rows, std::int64_t cols, std::int64_t nnz, const T* dy, const T* x, T* work,
                            T* dw, bool accumulate) {
  T* s = work;
  if (rows > 0) {
    sampled_kernel<T, I><<<grid_for(rows), kThreads, 0, stream>>>(row_ptr, col_ind, rows, cols, p.N, dy, x, s);
    CONVKIT_CHECK_LAUNCH();
  }
  const std::int64_t weights = p.K * p.Cg() * p.ker_spatial();
  if (weights == 0) return;
  const std::int64_t segments = sampled_dw_segments(p);
  if (segments == 1) {
    gather_kernel<T, I><<<grid_for(weights), kThreads, 0, stream>>>(p, row_ptr, col_ind, s, dw, weights, accumulate);
    CONVKIT_CHECK_LAUNCH();
    return;
  }
  T* partials = work + nnz;
  const std::int64_t total = segments * weights;
  partial_kernel<T, I><<<grid_for(total), kThreads, 0, stream>>>(p, row_ptr, col_ind, s,
                                                                 sampled_dw_segment_length(p), total, partials);
  CONVKIT_CHECK_LAUNCH();
  finish_kernel<T><<<grid_for(weights), kThreads, 0, stream>>>(weights, segments, partials, dw, accumulate);
  CONVKIT_CHECK_LAUNCH();
}

#define CONVKIT_TOEPLITZ_BACKWARD(T, I)                                                                         \
  template void filter_gradient_device<T, I>(cudaStream_t, const ConvProblem&, const I*, const I*, std::int64_t, \
                                             std::int64_t, std::int64_t, const T*, const T*, T*, T*, bool);
CONVKIT_TOEPLITZ_BACKWARD(float, std::int32_t)
CONVKIT_TOEPLITZ_BACKWARD(float, std::int64_t)
CONVKIT_TOEPLITZ_BACKWARD(double, std::int32_t)
CONVKIT_TOEPLITZ_BACKWARD(double, std::int64_t)

}  // namespace convkit::detail::toeplitz
