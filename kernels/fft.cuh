// Algorithm::Fft's index maps and elementwise kernels. The FFT path computes,
// per spatial axis, the full-resolution valid correlation of the
// boundary-extended input with the dilated kernel, by the convolution theorem
// on blocks (overlap-save; one block is the whole-signal FFT):
//
//   padded copy  P[j] = x̃[j - lo],  j in [0, E),  E = D + lo + hi
//                (x̃: x extended by the boundary mode through fold_index, the
//                function every path folds with; P[j] = 0 for j >= E)
//   kernel span  L = dil·(k-1) + 1
//   full-res z   z[t] = Σ_i P[t + i·dil] · w'[i]  (w' = w, or w flipped under
//                Mode::Convolution), t in [0, Z), Z = (O-1)·s + 1
//   output       y[o] = b + z[o·s]                (stride: subsampled extraction)
//
// Block β of an axis covers z[β·bz .. β·bz + bz), bz = n - L + 1, and reads
// P[β·bz .. β·bz + n): a transform of n points. With the kernel placed at
// u[i·dil] = w[i] (zeros elsewhere: the dilation is an upsampled kernel):
//   cross-correlation: z[β·bz + τ] = IDFT(DFT(block) · conj(DFT(u)))[τ]
//   convolution:       z[β·bz + τ] = IDFT(DFT(block) · DFT(u))[τ + L - 1]
// (neither wraps: τ + L - 1 <= n - 1). The d-dimensional case is the product
// of the axes. The inverse is unnormalised: the extraction scales by 1/Πn and
// adds the bias.
//
// Layouts (b = batch entry, P = Πn real points, F = n0·n1·(n2/2+1) complex
// points of one transform):
//   real blocks      [b][P], b = (m·C + c) for x (m = image·NB + block),
//                    (k·Cg + c) for w, (m·K + k) for y
//   spectra          batch-major (b·F + f) for the pointwise product, or
//                    frequency-major (f·B + b, B the batch count) for the
//                    per-frequency GEMM over channels (cuFFT's strided
//                    layout writes it directly: no transpose pass)
//
// Every map is a __host__ __device__ function the CPU tests run
// (tests/test_fft.cpp); the kernels below are grid-stride loops over them.
#pragma once

#include "indexing.cuh"

#include <convkit/spec.hpp>

#include <cstdint>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#else
#include <cuda_runtime_api.h>
#endif

namespace convkit::detail {

/// A complex number laid out as cuFFT's cufftComplex / cufftDoubleComplex.
template <class T>
struct alignas(2 * sizeof(T)) FftComplex {
  T re, im;
};

/// One spatial axis of the FFT geometry. Unused axes are all ones (D = E =
/// n = bz = nb = 1, L = 1).
struct FftAxis {
  std::int64_t D = 1;    ///< input size
  std::int64_t lo = 0;   ///< padding before (the padded copy starts at x̃[-lo])
  std::int64_t E = 1;    ///< padded extent D + lo + hi
  std::int64_t k = 1;    ///< kernel taps
  std::int64_t dil = 1;  ///< dilation
  std::int64_t L = 1;    ///< dilated kernel span dil·(k-1) + 1
  std::int64_t s = 1;    ///< stride
  std::int64_t O = 1;    ///< output size
  std::int64_t Z = 1;    ///< full-resolution outputs needed: (O-1)·s + 1
  std::int64_t n = 1;    ///< transform length
  std::int64_t bz = 1;   ///< full-resolution outputs per block: n - L + 1
  std::int64_t nb = 1;   ///< blocks: ceil(Z / bz)
  std::int64_t off = 0;  ///< extraction offset in a block's result: 0, or L-1 under Mode::Convolution
  /// Circular boundary computed natively: one transform of n = D points of x
  /// itself (no padded copy); the transform's wrap-around is the boundary,
  /// and output t reads the result at (t - lo + off) mod D.
  bool native = false;
};

/// The whole geometry of one Fft problem at chosen transform sizes.
struct FftGeometry {
  FftAxis ax[3];
  int dims = 1;  ///< spatial dimensions (slots 3-dims..2 are used)
  std::int64_t C = 1, K = 1, G = 1, Cg = 1, Kg = 1;
  std::int64_t taps = 1;   ///< Πk
  std::int64_t blocks = 1; ///< NB = Π nb: blocks per image
  std::int64_t points = 1; ///< P = Π n: real points of one transform
  std::int64_t freqs = 1;  ///< F = n0·n1·(n2/2+1): complex points of one transform
  std::int64_t out_spatial = 1;
  Boundary boundary = Boundary::Zeros;
  bool conj = true;        ///< cross-correlation multiplies by the conjugate spectrum
  bool pointwise = false;  ///< Cg == Kg == 1: an elementwise product, no GEMM
};

/// Whether slot `a` can take the circular boundary natively: Circular, and
/// the dilated kernel fits one period (L <= D).
inline bool fft_native_circular_allowed(const ConvProblem& p, int a) {
  return p.boundary == Boundary::Circular && p.dilation[a] * (p.ker[a] - 1) + 1 <= p.in[a];
}

/// The axis of slot `a` of a validated problem at transform length n (>= L;
/// n = D when native).
inline FftAxis fft_axis(const ConvProblem& p, int a, std::int64_t n, bool native = false) {
  FftAxis x;
  x.D = p.in[a];
  x.lo = p.pad_lo[a];
  x.E = p.in[a] + p.pad_lo[a] + p.pad_hi[a];
  x.k = p.ker[a];
  x.dil = p.dilation[a];
  x.L = p.dilation[a] * (p.ker[a] - 1) + 1;
  x.s = p.stride[a];
  x.O = p.out[a];
  x.Z = (p.out[a] - 1) * p.stride[a] + 1;
  x.n = n;
  x.bz = n - x.L + 1;
  x.nb = (x.Z + x.bz - 1) / x.bz;
  x.off = p.mode == Mode::Convolution ? x.L - 1 : 0;
  if (native) {
    x.native = true;
    x.bz = n;
    x.nb = 1;
  }
  return x;
}

/// The geometry of a validated problem with transform lengths n[3] (n[a] = 1
/// on unused slots, n[a] >= L on used ones; native[a]: the circular boundary
/// natively on that axis, with n[a] = D).
inline FftGeometry fft_geometry(const ConvProblem& p, const std::int64_t n[3], const bool* native = nullptr) {
  FftGeometry g;
  g.dims = p.dims;
  g.C = p.C;
  g.K = p.K;
  g.G = p.G;
  g.Cg = p.Cg();
  g.Kg = p.Kg();
  g.taps = p.ker_spatial();
  g.out_spatial = p.out_spatial();
  g.boundary = p.boundary;
  g.conj = p.mode == Mode::CrossCorrelation;
  g.pointwise = g.Cg == 1 && g.Kg == 1;
  g.blocks = 1;
  g.points = 1;
  for (int a = 0; a < 3; ++a) {
    g.ax[a] = fft_axis(p, a, n[a], native && native[a]);
    g.blocks *= g.ax[a].nb;
    g.points *= g.ax[a].n;
  }
  g.freqs = g.ax[0].n * g.ax[1].n * (g.ax[2].n / 2 + 1);
  return g;
}

/// Splits a flat index over sizes (s0, s1, s2) (row-major) into three.
CONVKIT_HD void fft_split3(std::int64_t flat, std::int64_t s1, std::int64_t s2, std::int64_t& i0,
                           std::int64_t& i1, std::int64_t& i2) {
  i2 = flat % s2;
  flat /= s2;
  i1 = flat % s1;
  i0 = flat / s1;
}

/// The element of one input channel plane (spatial offset) that point j of
/// block `blk` (both flat) reads, or -1 for a zero: beyond the padded extent,
/// or an implicit zero of the boundary.
CONVKIT_HD std::int64_t fft_block_source(const FftGeometry& g, std::int64_t blk, std::int64_t j) {
  std::int64_t b[3], q[3], src[3];
  fft_split3(blk, g.ax[1].nb, g.ax[2].nb, b[0], b[1], b[2]);
  fft_split3(j, g.ax[1].n, g.ax[2].n, q[0], q[1], q[2]);
  for (int a = 0; a < 3; ++a) {
    if (g.ax[a].native) {  // x itself, one period
      src[a] = q[a];
      continue;
    }
    const std::int64_t pos = b[a] * g.ax[a].bz + q[a];  // position in the padded copy
    if (pos >= g.ax[a].E) return -1;
    src[a] = fold_index(pos - g.ax[a].lo, g.ax[a].D, g.boundary);
    if (src[a] < 0) return -1;
  }
  return (src[0] * g.ax[1].D + src[1]) * g.ax[2].D + src[2];
}

/// Element e of the real x blocks of images [first, first + count): batch
/// entry (m·C + c) with m = (image - first)·NB + block, point j.
template <class T>
CONVKIT_HD T fft_gather_value(const FftGeometry& g, const T* x, std::int64_t first, std::int64_t e) {
  const std::int64_t b = e / g.points, j = e % g.points;
  const std::int64_t c = b % g.C, m = b / g.C;
  const std::int64_t image = first + m / g.blocks, blk = m % g.blocks;
  const std::int64_t src = fft_block_source(g, blk, j);
  if (src < 0) return T(0);
  const std::int64_t plane = g.ax[0].D * g.ax[1].D * g.ax[2].D;
  return x[(image * g.C + c) * plane + src];
}

/// Element e of the upsampled kernels: batch entry (k·Cg + c), point j holds
/// w[k, c, i] where j = i·dil on every axis, zero elsewhere. Never flipped:
/// the mode is handled by the spectrum (conj) and the extraction offset.
template <class T>
CONVKIT_HD T fft_kernel_value(const FftGeometry& g, const T* w, std::int64_t e) {
  const std::int64_t b = e / g.points, j = e % g.points;
  std::int64_t q[3];
  fft_split3(j, g.ax[1].n, g.ax[2].n, q[0], q[1], q[2]);
  std::int64_t tap = 0;
  for (int a = 0; a < 3; ++a) {
    if (q[a] % g.ax[a].dil != 0) return T(0);
    const std::int64_t i = q[a] / g.ax[a].dil;
    if (i >= g.ax[a].k) return T(0);
    tap = tap * g.ax[a].k + i;
  }
  return w[b * g.taps + tap];
}

/// Spectrum element (batch b, frequency f) of a batch of `B` transforms.
CONVKIT_HD std::int64_t fft_spectrum_index(bool freq_major, std::int64_t B, std::int64_t F, std::int64_t b,
                                           std::int64_t f) {
  return freq_major ? f * B + b : b * F + f;
}

/// The pointwise product (Cg == Kg == 1, so C == K == G) of element e of
/// M·K·F, in place on the batch-major x spectra: X[(m·K + k), f] *=
/// W[k, f] (conjugated for cross-correlation).
template <class T>
CONVKIT_HD void fft_pointwise_element(const FftGeometry& g, FftComplex<T>* xy, const FftComplex<T>* w,
                                      std::int64_t e) {
  const std::int64_t f = e % g.freqs, k = (e / g.freqs) % g.K;
  const FftComplex<T> a = xy[e];
  const FftComplex<T> b = w[k * g.freqs + f];
  const T bi = g.conj ? -b.im : b.im;
  xy[e] = FftComplex<T>{a.re * b.re - a.im * bi, a.re * bi + a.im * b.re};
}

/// Where output element e of a chunk's y (row-major [count, K, ΠO]) reads the
/// real result: the batch entry ((image·NB + block)·K + k) and point.
CONVKIT_HD std::int64_t fft_result_index(const FftGeometry& g, std::int64_t e, std::int64_t* k_out) {
  const std::int64_t q = e % g.out_spatial, r = e / g.out_spatial;
  const std::int64_t k = r % g.K, image = r / g.K;
  std::int64_t o[3];
  fft_split3(q, g.ax[1].O, g.ax[2].O, o[0], o[1], o[2]);
  std::int64_t blk = 0, j = 0;
  for (int a = 0; a < 3; ++a) {
    const std::int64_t t = o[a] * g.ax[a].s;  // full-resolution position
    if (g.ax[a].native) {  // one block; the period wraps (t - lo >= -D: pads <= D)
      j = j * g.ax[a].n + (t - g.ax[a].lo + g.ax[a].off + g.ax[a].n) % g.ax[a].n;
      continue;
    }
    blk = blk * g.ax[a].nb + t / g.ax[a].bz;
    j = j * g.ax[a].n + t % g.ax[a].bz + g.ax[a].off;
  }
  if (k_out) *k_out = k;
  return ((image * g.blocks + blk) * g.K + k) * g.points + j;
}

/// Output element e of a chunk: scale · result + bias[k] (bias may be null).
template <class T>
CONVKIT_HD T fft_extract_value(const FftGeometry& g, const T* result, const T* bias, T scale, std::int64_t e) {
  std::int64_t k = 0;
  const T v = result[fft_result_index(g, e, &k)] * scale;
  return bias ? v + bias[k] : v;
}

/// Enqueue on `stream` (each checks its launch):
/// real[e] = fft_gather_value for the x blocks of images [first, first + count).
template <class T>
void launch_fft_gather(cudaStream_t stream, const FftGeometry& g, const T* x, std::int64_t first,
                       std::int64_t count, T* real);
/// real[e] = fft_kernel_value for all K·Cg kernels.
template <class T>
void launch_fft_kernels(cudaStream_t stream, const FftGeometry& g, const T* w, T* real);
/// fft_pointwise_element over `batch`·F elements.
template <class T>
void launch_fft_pointwise(cudaStream_t stream, const FftGeometry& g, std::int64_t batch, FftComplex<T>* xy,
                          const FftComplex<T>* w);
/// y[e] = fft_extract_value for the `count` images of a chunk (y = the chunk's first output).
template <class T>
void launch_fft_extract(cudaStream_t stream, const FftGeometry& g, const T* result, const T* bias, T scale,
                        std::int64_t count, T* y);

}  // namespace convkit::detail

#if defined(__CUDACC__)

#include "check.hpp"

#include <algorithm>

namespace convkit::detail {
namespace fft_impl {

constexpr int kThreads = 256;

inline unsigned blocks_for(std::int64_t total) {
  return static_cast<unsigned>(std::min<std::int64_t>((total + kThreads - 1) / kThreads, 1 << 16));
}

#define CONVKIT_FFT_GRID_STRIDE(e, total) \
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < (total); \
       e += std::int64_t(gridDim.x) * blockDim.x)

template <class T>
__global__ void gather_kernel(FftGeometry g, const T* __restrict__ x, std::int64_t first, std::int64_t total,
                              T* __restrict__ real) {
  CONVKIT_FFT_GRID_STRIDE(e, total) real[e] = fft_gather_value(g, x, first, e);
}

template <class T>
__global__ void kernels_kernel(FftGeometry g, const T* __restrict__ w, std::int64_t total, T* __restrict__ real) {
  CONVKIT_FFT_GRID_STRIDE(e, total) real[e] = fft_kernel_value(g, w, e);
}

template <class T>
__global__ void pointwise_kernel(FftGeometry g, std::int64_t total, FftComplex<T>* __restrict__ xy,
                                 const FftComplex<T>* __restrict__ w) {
  CONVKIT_FFT_GRID_STRIDE(e, total) fft_pointwise_element(g, xy, w, e);
}

template <class T>
__global__ void extract_kernel(FftGeometry g, const T* __restrict__ result, const T* __restrict__ bias, T scale,
                               std::int64_t total, T* __restrict__ y) {
  CONVKIT_FFT_GRID_STRIDE(e, total) y[e] = fft_extract_value(g, result, bias, scale, e);
}

#undef CONVKIT_FFT_GRID_STRIDE

}  // namespace fft_impl

template <class T>
void launch_fft_gather(cudaStream_t stream, const FftGeometry& g, const T* x, std::int64_t first,
                       std::int64_t count, T* real) {
  const std::int64_t total = count * g.blocks * g.C * g.points;
  if (total == 0) return;
  fft_impl::gather_kernel<T><<<fft_impl::blocks_for(total), fft_impl::kThreads, 0, stream>>>(g, x, first, total,
                                                                                             real);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void launch_fft_kernels(cudaStream_t stream, const FftGeometry& g, const T* w, T* real) {
  const std::int64_t total = g.K * g.Cg * g.points;
  if (total == 0) return;
  fft_impl::kernels_kernel<T><<<fft_impl::blocks_for(total), fft_impl::kThreads, 0, stream>>>(g, w, total, real);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void launch_fft_pointwise(cudaStream_t stream, const FftGeometry& g, std::int64_t batch, FftComplex<T>* xy,
                          const FftComplex<T>* w) {
  const std::int64_t total = batch * g.freqs;
  if (total == 0) return;
  fft_impl::pointwise_kernel<T><<<fft_impl::blocks_for(total), fft_impl::kThreads, 0, stream>>>(g, total, xy, w);
  CONVKIT_CHECK_LAUNCH();
}

template <class T>
void launch_fft_extract(cudaStream_t stream, const FftGeometry& g, const T* result, const T* bias, T scale,
                        std::int64_t count, T* y) {
  const std::int64_t total = count * g.K * g.out_spatial;
  if (total == 0) return;
  fft_impl::extract_kernel<T><<<fft_impl::blocks_for(total), fft_impl::kThreads, 0, stream>>>(g, result, bias,
                                                                                              scale, total, y);
  CONVKIT_CHECK_LAUNCH();
}

}  // namespace convkit::detail

/// Explicit instantiation of the launchers for one dtype (fft_<dtype>.cu).
#define CONVKIT_INSTANTIATE_FFT(T)                                                                              \
  template void convkit::detail::launch_fft_gather<T>(cudaStream_t, const convkit::detail::FftGeometry&,        \
                                                      const T*, std::int64_t, std::int64_t, T*);                \
  template void convkit::detail::launch_fft_kernels<T>(cudaStream_t, const convkit::detail::FftGeometry&,       \
                                                       const T*, T*);                                          \
  template void convkit::detail::launch_fft_pointwise<T>(cudaStream_t, const convkit::detail::FftGeometry&,     \
                                                         std::int64_t, convkit::detail::FftComplex<T>*,         \
                                                         const convkit::detail::FftComplex<T>*);                \
  template void convkit::detail::launch_fft_extract<T>(cudaStream_t, const convkit::detail::FftGeometry&,       \
                                                       const T*, const T*, T, std::int64_t, T*);

#endif  // __CUDACC__
