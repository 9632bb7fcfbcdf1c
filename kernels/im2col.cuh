// im2col: lowering a convolution to matrix products. For image n and group g
// the column matrix is row-major [rows, Q] with Q = ΠO and rows = C/G·Πk
// (plus one row of ones when the bias rides along in the GEMM), so that
// y[n, group g] (row-major [K/G, Q]) = W_g (row-major [K/G, rows]) · columns.
// Row r = c·Πk + t belongs to channel c of the group and to weight tap t *as
// stored*; under Mode::Convolution that stored tap multiplies the mirrored
// spatial position, so the flip lives in the column order and the weights are
// used exactly as the caller gave them. Boundary modes are folded into the
// gather by kernels/indexing.cuh, so padding never materialises.
//
// The index mapping (im2col_layout, im2col_row, split_output, im2col_value,
// packed_weight) is __host__ __device__: the CPU tests run im2col_host(),
// which is those same functions in a loop. The kernels (CUDA only):
//   * im2col_kernel  -- one thread per (row, output position); a row's channel
//                       and taps are computed once per row, the output
//                       position is split with 32-bit arithmetic when ΠO fits;
//   * pack_weights_kernel -- [K, C/G·Πk] weights plus bias as an extra column
//                       ([K, rows]), the GEMM operand that pairs with the ones row;
//   * fill_bias_kernel -- y[n, k, :] = b[k], used only by the plain-GEMM (1x1)
//                       path, whose A operand is x itself and cannot carry a ones row;
//   * col2im_kernel  -- backward-data's gather: one thread per dx element sums
//                       the column entries of the (output, tap) pairs that read
//                       it (kernels/adjoint.cuh), in a fixed order, no atomics.
// Explicit instantiations live in im2col_f32.cu and im2col_f64.cu.
#pragma once

#include "adjoint.cuh"
#include "indexing.cuh"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace convkit::detail {

/// Sizes of one (image, group) column matrix.
struct Im2colLayout {
  std::int64_t taps = 1;       ///< Πk
  std::int64_t data_rows = 1;  ///< C/G·Πk: rows gathered from x
  std::int64_t rows = 1;       ///< data_rows, + 1 when a ones row carries the bias
  std::int64_t cols = 1;       ///< Q = ΠO
};

CONVKIT_HD Im2colLayout im2col_layout(const ConvProblem& p, bool ones_row) {
  Im2colLayout L;
  L.taps = p.ker[0] * p.ker[1] * p.ker[2];
  L.data_rows = (p.C / p.G) * L.taps;
  L.rows = L.data_rows + (ones_row ? 1 : 0);
  L.cols = p.out[0] * p.out[1] * p.out[2];
  return L;
}

/// What one row of the column matrix reads: the channel plane of x and the
/// spatial tap position (flip already applied). channel_base < 0 marks the
/// ones row.
struct Im2colRow {
  std::int64_t channel_base = -1;
  std::int64_t i0 = 0, i1 = 0, i2 = 0;
};

/// Row r of the column matrix of image n, group g.
CONVKIT_HD Im2colRow im2col_row(const ConvProblem& p, const Im2colLayout& L, std::int64_t n, std::int64_t g,
                                std::int64_t r) {
  Im2colRow row;
  if (r >= L.data_rows) return row;  // the ones row
  const std::int64_t c = r / L.taps, t = r % L.taps;
  const std::int64_t t2 = t % p.ker[2], t1 = (t / p.ker[2]) % p.ker[1], t0 = t / (p.ker[2] * p.ker[1]);
  // Row t is multiplied by stored weight tap t; tap_index is its own inverse,
  // so the spatial position that stored tap pairs with is tap_index(t).
  row.i0 = tap_index(t0, p.ker[0], p.mode);
  row.i1 = tap_index(t1, p.ker[1], p.mode);
  row.i2 = tap_index(t2, p.ker[2], p.mode);
  row.channel_base = (n * p.C + g * (p.C / p.G) + c) * (p.in[0] * p.in[1] * p.in[2]);
  return row;
}

/// Splits a flat output position q into (o0, o1, o2). Templated on the index
/// type so kernels can use 32-bit division when ΠO fits.
template <class I>
CONVKIT_HD void split_output(const ConvProblem& p, I q, I& o0, I& o1, I& o2) {
  const I O1 = static_cast<I>(p.out[1]), O2 = static_cast<I>(p.out[2]);
  o2 = q % O2;
  q /= O2;
  o1 = q % O1;
  o0 = q / O1;
}

/// Offset into x of column element (row, output (o0,o1,o2)), or -1 when it
/// reads an implicit zero of the boundary. Not for the ones row.
CONVKIT_HD std::int64_t im2col_source(const ConvProblem& p, const Im2colRow& row, std::int64_t o0,
                                      std::int64_t o1, std::int64_t o2) {
  const std::int64_t s = source_offset(p, o0, o1, o2, row.i0, row.i1, row.i2);
  return s < 0 ? -1 : row.channel_base + s;
}

/// The value of column element (row, output (o0,o1,o2)).
template <class T>
CONVKIT_HD T im2col_value(const ConvProblem& p, const Im2colRow& row, const T* x, std::int64_t o0,
                          std::int64_t o1, std::int64_t o2) {
  if (row.channel_base < 0) return T(1);
  const std::int64_t s = im2col_source(p, row, o0, o1, o2);
  return s < 0 ? T(0) : x[s];
}

/// Element (k, r) of the weights packed with the bias as column data_rows:
/// the B operand that pairs with a ones row.
template <class T>
CONVKIT_HD T packed_weight(const Im2colLayout& L, const T* w, const T* b, std::int64_t k, std::int64_t r) {
  return r < L.data_rows ? w[k * L.data_rows + r] : b[k];
}

/// Host im2col: the columns of images [first, first + count), all groups, in
/// the layout the kernel writes ((image - first)·G + g major, then row, then
/// q). The CPU tests' oracle for the lowering.
template <class T>
void im2col_host(const ConvProblem& p, const Im2colLayout& L, const T* x, T* cols, std::int64_t first,
                 std::int64_t count) {
  for (std::int64_t b = 0; b < count * p.G; ++b)
    for (std::int64_t r = 0; r < L.rows; ++r) {
      const Im2colRow row = im2col_row(p, L, first + b / p.G, b % p.G, r);
      T* out = cols + (b * L.rows + r) * L.cols;
      for (std::int64_t q = 0; q < L.cols; ++q) {
        std::int64_t o0, o1, o2;
        split_output(p, q, o0, o1, o2);
        out[q] = im2col_value(p, row, x, o0, o1, o2);
      }
    }
}

/// col2im, one element: element e (flat over [count, C, D0, D1, D2]) of the
/// chunk's dx, given the chunk's columns (bias-free layout, (image - first)·G
/// + g major, as im2col writes them) holding W_gᵀ·dY_g. Sums the column
/// entries (row of channel and stored tap, output position) of every pair
/// that reads the element under the boundary mode -- the adjoint of the
/// gather im2col_value does -- axis 0's readers outermost, each axis in
/// for_each_reader's fixed order. dx = sum, or dx + sum under accumulate
/// (dx is not read otherwise).
template <class T>
CONVKIT_HD void col2im_element(const ConvProblem& p, const Im2colLayout& L, const T* cols, T* dx, std::int64_t e,
                               bool accumulate) {
  const std::int64_t D1 = p.in[1], D2 = p.in[2], S = p.in[0] * D1 * D2;
  const std::int64_t s = e % S, nc = e / S;
  const std::int64_t c = nc % p.C, i = nc / p.C;  // channel, image within the chunk
  const std::int64_t Cg = p.C / p.G, g = c / Cg, cl = c % Cg;
  const std::int64_t q2 = s % D2, q1 = (s / D2) % D1, q0 = s / (D2 * D1);
  const T* base = cols + ((i * p.G + g) * L.rows + cl * L.taps) * L.cols;
  const Preimages pre0 = axis_preimages(q0, p.in[0], p.pad_lo[0], p.pad_hi[0], p.boundary);
  const Preimages pre1 = axis_preimages(q1, p.in[1], p.pad_lo[1], p.pad_hi[1], p.boundary);
  const Preimages pre2 = axis_preimages(q2, p.in[2], p.pad_lo[2], p.pad_hi[2], p.boundary);
  const std::int64_t O1 = p.out[1], O2 = p.out[2];
  T sum = T(0);
  for_each_reader(pre0, p.out[0], p.ker[0], p.stride[0], p.dilation[0], p.pad_lo[0],
                  [&](std::int64_t o0, std::int64_t i0) {
    for_each_reader(pre1, p.out[1], p.ker[1], p.stride[1], p.dilation[1], p.pad_lo[1],
                    [&](std::int64_t o1, std::int64_t i1) {
      for_each_reader(pre2, p.out[2], p.ker[2], p.stride[2], p.dilation[2], p.pad_lo[2],
                      [&](std::int64_t o2, std::int64_t i2) {
        // Row cl·Πk + t reads spatial tap tap_index(t) (im2col_row); tap_index
        // is its own inverse, so spatial tap (i0, i1, i2) is row tap weight_offset.
        sum += base[weight_offset(p, i0, i1, i2) * L.cols + (o0 * O1 + o1) * O2 + o2];
      });
    });
  });
  dx[e] = accumulate ? dx[e] + sum : sum;
}

/// Host col2im over a chunk of `count` images: dx is the chunk's first
/// element. The CPU tests' stand-in for launch_col2im.
template <class T>
void col2im_host(const ConvProblem& p, const Im2colLayout& L, const T* cols, T* dx, std::int64_t count,
                 bool accumulate) {
  const std::int64_t total = count * p.C * p.in[0] * p.in[1] * p.in[2];
  for (std::int64_t e = 0; e < total; ++e) col2im_element(p, L, cols, dx, e, accumulate);
}

/// Enqueues the columns of images [first, first + count) into `cols` on
/// `stream`. Checks the launch.
template <class T>
void launch_im2col(cudaStream_t stream, const ConvProblem& p, const Im2colLayout& L, const T* x, T* cols,
                   std::int64_t first, std::int64_t count);
/// packed[k, r] = packed_weight(L, w, b, k, r) for all K rows.
template <class T>
void launch_pack_weights(cudaStream_t stream, const ConvProblem& p, const Im2colLayout& L, const T* w,
                         const T* b, T* packed);
/// y[n, k, q] = b[k] over the whole output.
template <class T>
void launch_fill_bias(cudaStream_t stream, const ConvProblem& p, const T* b, T* y);
/// col2im_element for every element of a chunk of `count` images (dx is the
/// chunk's first element).
template <class T>
void launch_col2im(cudaStream_t stream, const ConvProblem& p, const Im2colLayout& L, const T* cols, T* dx,
                   std::int64_t count, bool accumulate);

}  // namespace convkit::detail

#if defined(__CUDACC__)

#include "check.hpp"

#include <algorithm>
#include <limits>

namespace convkit::detail {

namespace im2col_impl {

constexpr int kThreads = 256;

// Grid-stride over (row, q): threadIdx.y / blockIdx.y pick rows, threadIdx.x
// / blockIdx.x output positions, so consecutive threads write consecutive
// column elements and (for stride 1) read consecutive input elements.
template <class T, class I>
__global__ void im2col_kernel(ConvProblem p, Im2colLayout L, const T* __restrict__ x, T* __restrict__ cols,
                              std::int64_t first, std::int64_t total_rows) {
  const I Q = static_cast<I>(L.cols);
  const I qstep = static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
  for (std::int64_t row = std::int64_t(blockIdx.y) * blockDim.y + threadIdx.y; row < total_rows;
       row += std::int64_t(gridDim.y) * blockDim.y) {
    const std::int64_t b = row / L.rows, r = row % L.rows;  // b = (image - first)·G + g
    const Im2colRow src = im2col_row(p, L, first + b / p.G, b % p.G, r);
    T* out = cols + row * L.cols;
    for (I q = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x); q < Q;
         q += qstep) {
      I o0, o1, o2;
      split_output<I>(p, q, o0, o1, o2);
      out[q] = im2col_value(p, src, x, o0, o1, o2);
    }
  }
}

template <class T>
__global__ void pack_weights_kernel(Im2colLayout L, std::int64_t K, const T* __restrict__ w,
                                    const T* __restrict__ b, T* __restrict__ packed) {
  const std::int64_t total = K * L.rows;
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += std::int64_t(gridDim.x) * blockDim.x)
    packed[e] = packed_weight(L, w, b, e / L.rows, e % L.rows);
}

template <class T>
__global__ void fill_bias_kernel(std::int64_t total, std::int64_t K, std::int64_t Q, const T* __restrict__ b,
                                 T* __restrict__ y) {
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += std::int64_t(gridDim.x) * blockDim.x)
    y[e] = b[(e / Q) % K];
}

template <class T>
__global__ void col2im_kernel(ConvProblem p, Im2colLayout L, const T* __restrict__ cols, T* __restrict__ dx,
                              std::int64_t total, bool accumulate) {
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += std::int64_t(gridDim.x) * blockDim.x)
    col2im_element(p, L, cols, dx, e, accumulate);
}

// Blocks for a 1-D grid-stride loop over `total` elements; capped because the
// loop covers the rest.
inline unsigned blocks_for(std::int64_t total) {
  return static_cast<unsigned>(std::min<std::int64_t>((total + kThreads - 1) / kThreads, 1 << 16));
}

}  // namespace im2col_impl

template <class T>
void launch_im2col(cudaStream_t stream, const ConvProblem& p, const Im2colLayout& L, const T* x, T* cols,
                   std::int64_t first, std::int64_t count) {
  using namespace im2col_impl;
  const std::int64_t total_rows = count * p.G * L.rows;
  if (total_rows == 0 || L.cols == 0) return;
  // Narrow rows (small ΠO) share a block so short rows do not idle threads.
  int bx = 32;
  while (bx < kThreads && bx < L.cols) bx *= 2;
  const int by = kThreads / bx;
  const dim3 block(bx, by);
  const std::int64_t gx = std::min<std::int64_t>((L.cols + bx - 1) / bx, 4096);
  const std::int64_t gy = std::min<std::int64_t>((total_rows + by - 1) / by, 65535);
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  // 32-bit output indices while q + the grid's stride cannot overflow them.
  if (L.cols <= (std::int64_t(1) << 30))
    im2col_kernel<T, std::int32_t><<<grid, block, 0, stream>>>(p, L, x, cols, first, total_rows);
  else
    im2col_kernel<T, std::int64_t><<<grid, block, 0, stream>>>(p, L, x, cols, first, total_rows);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void launch_pack_weights(cudaStream_t stream, const ConvProblem& p, const Im2colLayout& L, const T* w,
                         const T* b, T* packed) {
  using namespace im2col_impl;
  const std::int64_t total = p.K * L.rows;
  if (total == 0) return;
  pack_weights_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(L, p.K, w, b, packed);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void launch_fill_bias(cudaStream_t stream, const ConvProblem& p, const T* b, T* y) {
  using namespace im2col_impl;
  const std::int64_t Q = p.out[0] * p.out[1] * p.out[2];
  const std::int64_t total = p.N * p.K * Q;
  if (total == 0) return;
  fill_bias_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(total, p.K, Q, b, y);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void launch_col2im(cudaStream_t stream, const ConvProblem& p, const Im2colLayout& L, const T* cols, T* dx,
                   std::int64_t count, bool accumulate) {
  using namespace im2col_impl;
  const std::int64_t total = count * p.C * p.in[0] * p.in[1] * p.in[2];
  if (total == 0) return;
  col2im_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(p, L, cols, dx, total, accumulate);
  CONVKIT_CHECK_LAUNCH();
}

}  // namespace convkit::detail

/// Explicit instantiation of the launchers for one dtype (im2col_<dtype>.cu).
#define CONVKIT_INSTANTIATE_IM2COL(T)                                                                      \
  template void convkit::detail::launch_im2col<T>(cudaStream_t, const convkit::ConvProblem&,               \
                                                  const convkit::detail::Im2colLayout&, const T*, T*,      \
                                                  std::int64_t, std::int64_t);                             \
  template void convkit::detail::launch_pack_weights<T>(cudaStream_t, const convkit::ConvProblem&,         \
                                                        const convkit::detail::Im2colLayout&, const T*,    \
                                                        const T*, T*);                                     \
  template void convkit::detail::launch_fill_bias<T>(cudaStream_t, const convkit::ConvProblem&, const T*, T*); \
  template void convkit::detail::launch_col2im<T>(cudaStream_t, const convkit::ConvProblem&,               \
                                                  const convkit::detail::Im2colLayout&, const T*, T*,      \
                                                  std::int64_t, bool);

#endif  // __CUDACC__
