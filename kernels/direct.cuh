// Algorithm::Direct, the part host and device share: the kernel variants, the
// pure function that picks one for a problem, each variant's launch geometry
// (tile sizes, shared-memory layout), and each variant's "block program" --
// the per-thread work between two barriers -- as __host__ __device__
// templates. The kernels in direct_impl.cuh are thin loops that call these
// phases with __syncthreads() between them; the CPU tests call the very same
// phases for every thread of a block in turn, so the index arithmetic the GPU
// runs is checked on machines without one.
//
// Variants (DirectVariant), each serving the specs listed, everything else
// goes to Generic:
//   generic        any spec (DESIGN §1). One thread per output element in a
//                  grid-stride loop, boundary folded per tap, no shared
//                  memory. The device-side reference; kept forever.
//   long1d         1-D, one input channel per group (C/G == 1: single signals,
//                  N·C rows, depthwise 1-D), stride 1, dilation 1, up to 4096
//                  taps. Adds a shared-memory tile of the signal with its halo
//                  loaded (and boundary-folded) once, the flipped taps in
//                  shared memory, and register blocking: each thread computes
//                  kRx consecutive outputs, so a loaded sample feeds kRx FMAs.
//   plane2d        2-D, C/G == 1 (grey images, per-channel filtering,
//                  depthwise with large planes), stride 1, dilation 1, k <= 31.
//                  The long1d scheme per kernel row on a 2-D tile, with a
//                  tile pitch chosen so that a warp's loads hit 32 distinct
//                  banks.
//   depthwise2d    2-D, C/G == 1, any stride and dilation whose tile fits
//                  shared memory, k <= 31 (strided depthwise layers, planes
//                  too small for a plane2d tile). A shared tile with halo,
//                  shaped to the plane, one output per thread, no register
//                  blocking (these shapes are memory bound).
//   smallchannel2d 2-D, 1 < C/G <= 64, k <= 7, stride and dilation <= 2
//                  (first CNN layers, narrow layers). A block computes a tile
//                  of pixels for kChannelBlock output channels: all C/G·k·k
//                  weights of that channel block sit in shared memory, input
//                  channels stream through one shared tile, and each loaded
//                  input value feeds kChannelBlock FMAs.
#pragma once

#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include "indexing.cuh"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

// Unrolling matters only in device code; host compilers would warn about it.
#if defined(__CUDA_ARCH__)
#define CONVKIT_UNROLL _Pragma("unroll")
#else
#define CONVKIT_UNROLL
#endif

namespace convkit::detail {

enum class DirectVariant { Generic, Long1d, Plane2d, Depthwise2d, SmallChannel2d };

inline constexpr DirectVariant kDirectVariants[] = {DirectVariant::Generic, DirectVariant::Long1d,
                                                    DirectVariant::Plane2d, DirectVariant::Depthwise2d,
                                                    DirectVariant::SmallChannel2d};

/// "generic", "long1d", ...: Support::variant reports "direct/<name>".
inline const char* direct_variant_name(DirectVariant v) {
  switch (v) {
    case DirectVariant::Generic: return "generic";
    case DirectVariant::Long1d: return "long1d";
    case DirectVariant::Plane2d: return "plane2d";
    case DirectVariant::Depthwise2d: return "depthwise2d";
    case DirectVariant::SmallChannel2d: return "smallchannel2d";
  }
  return "unknown";
}

namespace direct {

using i64 = std::int64_t;

// Outputs per thread along the fastest dimension in long1d / plane2d. Odd, so
// that threads kRx elements apart touch distinct banks (for 4- and 8-byte
// elements) and a warp's shared loads need one wavefront.
constexpr int kRx = 15;
// Taps per unrolled step of row_taps: kRx·kTapChunk FMAs per kRx+kTapChunk-1
// sample loads and kTapChunk/4 (f32) vector weight loads.
constexpr int kTapChunk = 8;
constexpr int kGenericThreads = 256;
constexpr int kLong1dThreads = 128;
// plane2d: 8 x 16 threads. With 8 threads across, a warp spans 4 tile rows;
// a row pitch of 8 mod 32 elements then spreads its 32 loads over all banks.
constexpr int kPlaneBx = 8;
constexpr int kPlaneBy = 16;
constexpr int kTileThreads = 256;  // depthwise2d, smallchannel2d: one output pixel per thread
constexpr int kChannelBlock = 8;   // smallchannel2d output channels per block
constexpr i64 kLong1dMaxTaps = 4096;
constexpr i64 kPlaneMaxTaps = 31;
constexpr i64 kSmallMaxTaps = 7;
constexpr i64 kSmallMaxStride = 2;
constexpr i64 kSmallMaxCg = 64;
// Grid cap: kernels loop over their work (64-bit), so any size runs.
constexpr i64 kMaxGrid = i64(1) << 20;
// Dynamic shared memory a variant may use: above 48 KB the launch opts in,
// and 96 KB is available on every architecture since Volta.
constexpr std::size_t kSmemDefault = 48 * 1024;
constexpr std::size_t kSmemLimit = 96 * 1024;

CONVKIT_HD i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }
CONVKIT_HD i64 round_up(i64 a, i64 m) { return ceil_div(a, m) * m; }
CONVKIT_HD i64 min64(i64 a, i64 b) { return a < b ? a : b; }

/// Input extent a run of `outs` consecutive outputs reads along one dimension.
CONVKIT_HD i64 window_span(i64 outs, i64 stride, i64 ker, i64 dil) {
  return (outs - 1) * stride + (ker - 1) * dil + 1;
}

/// fold_index for tile loads: a tile can reach past the extended input (its
/// last outputs may lie beyond O), where a single fold step is no longer
/// valid. Such positions feed no written output; they read zero (-1).
CONVKIT_HD i64 fold_clamped(i64 pos, i64 D, i64 pad_lo, i64 pad_hi, Boundary b) {
  if (pos < -pad_lo || pos > D - 1 + pad_hi) return -1;
  return fold_index(pos, D, b);
}

/// Smallest row pitch >= width with pitch % 32 == 8 (see kPlaneBx).
CONVKIT_HD i64 conflict_free_pitch(i64 width) { return 8 + round_up(width > 8 ? width - 8 : 0, 32); }

/// Smallest power of two >= v, at least lo and at most hi.
CONVKIT_HD i64 pow2_between(i64 v, i64 lo, i64 hi) {
  i64 p = lo;
  while (p < v && p < hi) p *= 2;
  return p;
}

/// Launch geometry of one variant for one problem, computed on the host and
/// passed to the kernel by value. A "task" is the work of one block between
/// loads of its shared tile; the grid loops over tasks.
struct DirectGeom {
  DirectVariant variant = DirectVariant::Generic;
  int threads = kGenericThreads;
  i64 tasks = 0;                  ///< blocks' work items (generic: output elements)
  i64 grid = 0;                   ///< blocks launched
  i64 tiles_x = 1, tiles_y = 1;   ///< tiles along the last / second-to-last output dim
  i64 kblocks = 1;                ///< smallchannel2d: output-channel blocks per group
  i64 tile_w = 1, tile_h = 1;     ///< outputs per tile
  i64 in_w = 1, in_h = 1;         ///< input tile extent with halo
  i64 pitch = 1;                  ///< shared row pitch of the input tile (elements)
  i64 w_pitch = 1;                ///< plane2d: shared row pitch of the weights
  i64 w_off = 0, x_off = 0, y_off = 0;  ///< shared regions (elements; multiples of 4)
  i64 smem_elems = 0;
};

/// Geometry of `v` for `p` with elements of `elem` bytes. Pure; meaningful
/// for problems direct_applies() accepts.
inline DirectGeom direct_geometry(DirectVariant v, const ConvProblem& p, std::size_t) {
  DirectGeom g;
  g.variant = v;
  switch (v) {
    case DirectVariant::Generic: {
      g.threads = kGenericThreads;
      g.tasks = p.N * p.K * p.out_spatial();
      g.grid = min64(ceil_div(g.tasks, g.threads), kMaxGrid);
      return g;
    }
    case DirectVariant::Long1d: {
      g.threads = kLong1dThreads;
      g.tile_w = i64(kLong1dThreads) * kRx;
      g.tiles_x = ceil_div(p.out[2], g.tile_w);
      g.in_w = g.tile_w + p.ker[2] - 1;
      g.pitch = g.in_w;
      g.w_off = 0;
      g.x_off = round_up(p.ker[2], 8);
      g.y_off = g.x_off + round_up(g.in_w, 4);
      g.smem_elems = g.y_off + g.tile_w;
      g.tasks = p.N * p.K * g.tiles_x;
      break;
    }
    case DirectVariant::Plane2d: {
      g.threads = kPlaneBx * kPlaneBy;
      g.tile_w = i64(kPlaneBx) * kRx;
      g.tile_h = kPlaneBy;
      g.tiles_x = ceil_div(p.out[2], g.tile_w);
      g.tiles_y = ceil_div(p.out[1], g.tile_h);
      g.in_w = g.tile_w + p.ker[2] - 1;
      g.in_h = g.tile_h + p.ker[1] - 1;
      g.pitch = conflict_free_pitch(g.in_w);
      g.w_pitch = round_up(p.ker[2], 4);
      g.w_off = 0;
      g.x_off = p.ker[1] * g.w_pitch;
      g.y_off = g.x_off + g.in_h * g.pitch;
      g.smem_elems = g.y_off + g.tile_w * g.tile_h;
      g.tasks = p.N * p.K * g.tiles_y * g.tiles_x;
      break;
    }
    case DirectVariant::Depthwise2d:
    case DirectVariant::SmallChannel2d: {
      // Tile shaped to the output plane so small planes waste fewer threads.
      g.threads = kTileThreads;
      g.tile_w = pow2_between(p.out[2], 4, 32);
      g.tile_h = kTileThreads / g.tile_w;
      g.tiles_x = ceil_div(p.out[2], g.tile_w);
      g.tiles_y = ceil_div(p.out[1], g.tile_h);
      g.in_w = window_span(g.tile_w, p.stride[2], p.ker[2], p.dilation[2]);
      g.in_h = window_span(g.tile_h, p.stride[1], p.ker[1], p.dilation[1]);
      g.pitch = g.in_w;
      g.w_off = 0;
      if (v == DirectVariant::Depthwise2d) {
        g.x_off = round_up(p.ker[1] * p.ker[2], 4);
        g.tasks = p.N * p.K * g.tiles_y * g.tiles_x;
      } else {
        g.kblocks = ceil_div(p.Kg(), kChannelBlock);
        g.x_off = p.Cg() * p.ker[1] * p.ker[2] * kChannelBlock;
        g.tasks = p.N * p.G * g.kblocks * g.tiles_y * g.tiles_x;
      }
      g.y_off = g.x_off + round_up(g.in_h * g.pitch, 4);  // no staging: the end of the tile
      g.smem_elems = g.y_off;
      break;
    }
  }
  g.grid = min64(g.tasks, kMaxGrid);
  return g;
}

/// Bytes of dynamic shared memory `g` needs.
inline std::size_t direct_smem_bytes(const DirectGeom& g, std::size_t elem) {
  return static_cast<std::size_t>(g.smem_elems) * elem;
}

/// Whether variant `v` computes `p` (elements of `elem` bytes). Pure.
inline bool direct_applies(DirectVariant v, const ConvProblem& p, std::size_t elem) {
  auto fits = [&] { return direct_smem_bytes(direct_geometry(v, p, elem), elem) <= kSmemLimit; };
  const bool unit = p.stride[0] == 1 && p.stride[1] == 1 && p.stride[2] == 1 && p.dilation[0] == 1 &&
                    p.dilation[1] == 1 && p.dilation[2] == 1;
  switch (v) {
    case DirectVariant::Generic: return true;
    case DirectVariant::Long1d: return p.dims == 1 && p.Cg() == 1 && unit && p.ker[2] <= kLong1dMaxTaps && fits();
    case DirectVariant::Plane2d:
      return p.dims == 2 && p.Cg() == 1 && unit && p.ker[1] <= kPlaneMaxTaps && p.ker[2] <= kPlaneMaxTaps && fits();
    case DirectVariant::Depthwise2d:
      return p.dims == 2 && p.Cg() == 1 && p.ker[1] <= kPlaneMaxTaps && p.ker[2] <= kPlaneMaxTaps && fits();
    case DirectVariant::SmallChannel2d:
      return p.dims == 2 && p.Cg() > 1 && p.Cg() <= kSmallMaxCg && p.ker[1] <= kSmallMaxTaps &&
             p.ker[2] <= kSmallMaxTaps && p.stride[1] <= kSmallMaxStride && p.stride[2] <= kSmallMaxStride &&
             p.dilation[1] <= kSmallMaxStride && p.dilation[2] <= kSmallMaxStride && fits();
  }
  return false;
}

/// The variant Algorithm::Direct runs for `p`: the first fast kernel that
/// serves it and has enough work for its tile, else generic. Pure.
inline DirectVariant select_direct_variant(const ConvProblem& p, std::size_t elem) {
  // A long1d tile is 1920 outputs; shorter signals run as well on generic.
  if (p.out[2] >= 256 && direct_applies(DirectVariant::Long1d, p, elem)) return DirectVariant::Long1d;
  // plane2d tiles are 120 x 16 outputs: worth it when the plane fills most of one.
  if (p.out[2] >= 32 && p.out[1] * p.out[2] >= 1024 && direct_applies(DirectVariant::Plane2d, p, elem))
    return DirectVariant::Plane2d;
  if (direct_applies(DirectVariant::Depthwise2d, p, elem)) return DirectVariant::Depthwise2d;
  if (direct_applies(DirectVariant::SmallChannel2d, p, elem)) return DirectVariant::SmallChannel2d;
  return DirectVariant::Generic;
}

// ------------------------------------------------------------------ generic

/// Output element `idx` (flat over [N, K, O0, O1, O2]) including bias.
/// Taps outermost, so each tap's folded source offset serves all C/G channels.
template <class T>
CONVKIT_HD T generic_output(const ConvProblem& p, const T* x, const T* w, const T* b, i64 idx) {
  const i64 o2 = idx % p.out[2];
  idx /= p.out[2];
  const i64 o1 = idx % p.out[1];
  idx /= p.out[1];
  const i64 o0 = idx % p.out[0];
  idx /= p.out[0];
  const i64 k = idx % p.K, n = idx / p.K;
  const i64 Cg = p.Cg(), P = p.in_spatial(), R = p.ker_spatial();
  const T* xg = x + (n * p.C + (k / p.Kg()) * Cg) * P;
  const T* wk = w + k * Cg * R;
  T acc = T(0);
  for (i64 i0 = 0; i0 < p.ker[0]; ++i0) {
    const i64 q0 = fold_index(input_position(p, 0, o0, i0), p.in[0], p.boundary);
    if (q0 < 0) continue;
    for (i64 i1 = 0; i1 < p.ker[1]; ++i1) {
      const i64 q1 = fold_index(input_position(p, 1, o1, i1), p.in[1], p.boundary);
      if (q1 < 0) continue;
      for (i64 i2 = 0; i2 < p.ker[2]; ++i2) {
        const i64 q2 = fold_index(input_position(p, 2, o2, i2), p.in[2], p.boundary);
        if (q2 < 0) continue;
        const i64 s = (q0 * p.in[1] + q1) * p.in[2] + q2;
        const i64 wo = weight_offset(p, i0, i1, i2);
        for (i64 c = 0; c < Cg; ++c) acc += xg[c * P + s] * wk[c * R + wo];
      }
    }
  }
  return b ? acc + b[k] : acc;
}

// ------------------------------------------------ register-blocked row taps

/// v[0..U) = p[0..U); on the device as 16-byte vector loads (p must then be
/// 16-byte aligned: geometry keeps weight rows at multiples of 4 elements and
/// chunks start at multiples of kTapChunk).
template <class T, int U>
CONVKIT_HD void load_chunk(const T* p, T (&v)[U]) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float> && U % 4 == 0) {
    CONVKIT_UNROLL
    for (int i = 0; i < U; i += 4) {
      const float4 t = *reinterpret_cast<const float4*>(p + i);
      v[i] = t.x;
      v[i + 1] = t.y;
      v[i + 2] = t.z;
      v[i + 3] = t.w;
    }
  } else if constexpr (std::is_same_v<T, double> && U % 2 == 0) {
    CONVKIT_UNROLL
    for (int i = 0; i < U; i += 2) {
      const double2 t = *reinterpret_cast<const double2*>(p + i);
      v[i] = t.x;
      v[i + 1] = t.y;
    }
  } else {
    for (int i = 0; i < U; ++i) v[i] = p[i];
  }
#else
  for (int i = 0; i < U; ++i) v[i] = p[i];
#endif
}

/// acc[r] += Σ_{i<k} w[i] · s[r + i] for r < kRx: one kernel row applied to
/// kRx consecutive outputs (cross-correlation; taps already flipped for
/// convolution). Reads s[0 .. kRx + k - 2] and w[0 .. k - 1] only.
template <class T>
CONVKIT_HD void row_taps(const T* s, const T* w, int k, T (&acc)[kRx]) {
  constexpr int R = kRx, U = kTapChunk;
  int kb = 0;
  for (; kb + U <= k; kb += U) {
    T v[R + U - 1];
    CONVKIT_UNROLL
    for (int q = 0; q < R + U - 1; ++q) v[q] = s[kb + q];
    T wv[U];
    load_chunk<T, U>(w + kb, wv);
    CONVKIT_UNROLL
    for (int u = 0; u < U; ++u) {
      CONVKIT_UNROLL
      for (int r = 0; r < R; ++r) acc[r] += wv[u] * v[r + u];
    }
  }
  const int rem = k - kb;
  if (rem > 0) {  // the last k % U taps, guarded so nothing past the window is read
    T v[R + U - 1];
    CONVKIT_UNROLL
    for (int q = 0; q < R + U - 1; ++q) v[q] = q < R + rem - 1 ? s[kb + q] : T(0);
    CONVKIT_UNROLL
    for (int u = 0; u < U; ++u) {
      if (u < rem) {
        const T wu = w[kb + u];
        CONVKIT_UNROLL
        for (int r = 0; r < R; ++r) acc[r] += wu * v[r + u];
      }
    }
  }
}

// ------------------------------------------------------------------ long1d
// Task = (row n·K + k, tile). Phases: load | compute (stages outputs) | store.

template <class T>
CONVKIT_HD void long1d_load(const DirectGeom& g, const ConvProblem& p, const T* x, const T* w, i64 task,
                            int tid, T* sm) {
  const i64 tile = task % g.tiles_x, row = task / g.tiles_x;
  const i64 n = row / p.K, kc = row % p.K, L = p.in[2], k = p.ker[2];
  const T* xr = x + (n * p.C + kc / p.Kg()) * L;  // C/G == 1: group g reads channel g
  const T* wr = w + kc * k;
  T* sw = sm + g.w_off;
  T* sx = sm + g.x_off;
  for (i64 j = tid; j < k; j += g.threads) sw[j] = wr[tap_index(j, k, p.mode)];
  const i64 base = tile * g.tile_w - p.pad_lo[2];
  for (i64 j = tid; j < g.in_w; j += g.threads) {
    const i64 q = fold_clamped(base + j, L, p.pad_lo[2], p.pad_hi[2], p.boundary);
    sx[j] = q < 0 ? T(0) : xr[q];
  }
}

template <class T>
CONVKIT_HD void long1d_compute(const DirectGeom& g, const ConvProblem& p, const T* b, i64 task, int tid, T* sm) {
  const i64 kc = (task / g.tiles_x) % p.K;
  const int j0 = tid * kRx;
  T acc[kRx];
  for (int r = 0; r < kRx; ++r) acc[r] = T(0);
  row_taps<T>(sm + g.x_off + j0, sm + g.w_off, static_cast<int>(p.ker[2]), acc);
  const T bias = b ? b[kc] : T(0);
  CONVKIT_UNROLL
  for (int r = 0; r < kRx; ++r) sm[g.y_off + j0 + r] = acc[r] + bias;
}

template <class T>
CONVKIT_HD void long1d_store(const DirectGeom& g, const ConvProblem& p, T* y, i64 task, int tid, const T* sm) {
  const i64 tile = task % g.tiles_x, row = task / g.tiles_x, O = p.out[2];
  for (i64 j = tid; j < g.tile_w; j += g.threads) {
    const i64 o = tile * g.tile_w + j;
    if (o < O) y[row * O + o] = sm[g.y_off + j];
  }
}

// ------------------------------------------------------------------ 2-D tiles
// Task = (plane n·K + k, tile row, tile column) for plane2d and depthwise2d.

struct PlaneTask {
  i64 plane, n, k, oy0, ox0;
};

CONVKIT_HD PlaneTask plane_task(const DirectGeom& g, const ConvProblem& p, i64 task) {
  PlaneTask t;
  const i64 tx = task % g.tiles_x;
  task /= g.tiles_x;
  const i64 ty = task % g.tiles_y;
  t.plane = task / g.tiles_y;
  t.n = t.plane / p.K;
  t.k = t.plane % p.K;
  t.oy0 = ty * g.tile_h;
  t.ox0 = tx * g.tile_w;
  return t;
}

/// Loads the boundary-folded input tile of channel plane `xp` whose outputs
/// start at (oy0, ox0) into sx (row pitch g.pitch).
template <class T>
CONVKIT_HD void load_input_tile(const DirectGeom& g, const ConvProblem& p, const T* xp, i64 oy0, i64 ox0,
                                int tid, T* sx) {
  const i64 by = oy0 * p.stride[1] - p.pad_lo[1], bx = ox0 * p.stride[2] - p.pad_lo[2];
  const int W = static_cast<int>(g.in_w), total = static_cast<int>(g.in_w * g.in_h);
  for (int j = tid; j < total; j += g.threads) {
    const int r = j / W, c = j % W;
    const i64 qy = fold_clamped(by + r, p.in[1], p.pad_lo[1], p.pad_hi[1], p.boundary);
    const i64 qx = fold_clamped(bx + c, p.in[2], p.pad_lo[2], p.pad_hi[2], p.boundary);
    sx[r * g.pitch + c] = (qy < 0 || qx < 0) ? T(0) : xp[qy * p.in[2] + qx];
  }
}

/// Loads the flipped kh x kw filter `wk` into sw with row pitch `pitch`.
template <class T>
CONVKIT_HD void load_filter2d(const ConvProblem& p, const T* wk, i64 pitch, int tid, int threads, T* sw) {
  const int kw = static_cast<int>(p.ker[2]), taps = static_cast<int>(p.ker[1] * p.ker[2]);
  for (int j = tid; j < taps; j += threads) {
    const int ki = j / kw, kj = j % kw;
    sw[ki * pitch + kj] = wk[weight_offset(p, 0, ki, kj)];
  }
}

template <class T>
CONVKIT_HD void plane2d_load(const DirectGeom& g, const ConvProblem& p, const T* x, const T* w, i64 task,
                             int tid, T* sm) {
  const PlaneTask t = plane_task(g, p, task);
  load_filter2d(p, w + t.k * p.ker[1] * p.ker[2], g.w_pitch, tid, g.threads, sm + g.w_off);
  load_input_tile(g, p, x + (t.n * p.C + t.k / p.Kg()) * p.in_spatial(), t.oy0, t.ox0, tid, sm + g.x_off);
}

template <class T>
CONVKIT_HD void plane2d_compute(const DirectGeom& g, const ConvProblem& p, const T* b, i64 task, int tid, T* sm) {
  const PlaneTask t = plane_task(g, p, task);
  const int tx = tid % kPlaneBx, ty = tid / kPlaneBx;
  T acc[kRx];
  for (int r = 0; r < kRx; ++r) acc[r] = T(0);
  const T* sx = sm + g.x_off + ty * g.pitch + tx * kRx;
  for (int ki = 0; ki < static_cast<int>(p.ker[1]); ++ki)
    row_taps<T>(sx + ki * g.pitch, sm + g.w_off + ki * g.w_pitch, static_cast<int>(p.ker[2]), acc);
  const T bias = b ? b[t.k] : T(0);
  T* sy = sm + g.y_off + ty * g.tile_w + tx * kRx;
  CONVKIT_UNROLL
  for (int r = 0; r < kRx; ++r) sy[r] = acc[r] + bias;
}

template <class T>
CONVKIT_HD void plane2d_store(const DirectGeom& g, const ConvProblem& p, T* y, i64 task, int tid, const T* sm) {
  const PlaneTask t = plane_task(g, p, task);
  const int W = static_cast<int>(g.tile_w), total = static_cast<int>(g.tile_w * g.tile_h);
  T* yp = y + t.plane * p.out[1] * p.out[2];
  for (int j = tid; j < total; j += g.threads) {
    const i64 oy = t.oy0 + j / W, ox = t.ox0 + j % W;
    if (oy < p.out[1] && ox < p.out[2]) yp[oy * p.out[2] + ox] = sm[g.y_off + j];
  }
}

template <class T>
CONVKIT_HD void depthwise2d_load(const DirectGeom& g, const ConvProblem& p, const T* x, const T* w, i64 task,
                                 int tid, T* sm) {
  const PlaneTask t = plane_task(g, p, task);
  load_filter2d(p, w + t.k * p.ker[1] * p.ker[2], p.ker[2], tid, g.threads, sm + g.w_off);
  load_input_tile(g, p, x + (t.n * p.C + t.k / p.Kg()) * p.in_spatial(), t.oy0, t.ox0, tid, sm + g.x_off);
}

/// Computes and stores this thread's output (no staging: a warp's stores are
/// consecutive along a tile row).
template <class T>
CONVKIT_HD void depthwise2d_compute_store(const DirectGeom& g, const ConvProblem& p, const T* b, T* y, i64 task,
                                          int tid, const T* sm) {
  const PlaneTask t = plane_task(g, p, task);
  const int tx = tid % static_cast<int>(g.tile_w), ty = tid / static_cast<int>(g.tile_w);
  const i64 oy = t.oy0 + ty, ox = t.ox0 + tx;
  if (oy >= p.out[1] || ox >= p.out[2]) return;
  const int kh = static_cast<int>(p.ker[1]), kw = static_cast<int>(p.ker[2]);
  const i64 dy = p.dilation[1], dx = p.dilation[2];
  const T* sx = sm + g.x_off + ty * p.stride[1] * g.pitch + tx * p.stride[2];
  const T* sw = sm + g.w_off;
  T acc = T(0);
  for (int ki = 0; ki < kh; ++ki)
    for (int kj = 0; kj < kw; ++kj) acc += sw[ki * kw + kj] * sx[ki * dy * g.pitch + kj * dx];
  y[t.plane * p.out[1] * p.out[2] + oy * p.out[2] + ox] = b ? acc + b[t.k] : acc;
}

// ---------------------------------------------------------- smallchannel2d
// Task = (n, group, output-channel block, tile row, tile column). Phases:
// load_weights, then per input channel c: load_tile(c) | compute(c); store.

struct SmallTask {
  i64 n, grp, k0, oy0, ox0;  ///< k0: first output channel of the block within the group
};

CONVKIT_HD SmallTask small_task(const DirectGeom& g, const ConvProblem& p, i64 task) {
  SmallTask t;
  const i64 tx = task % g.tiles_x;
  task /= g.tiles_x;
  const i64 ty = task % g.tiles_y;
  task /= g.tiles_y;
  t.k0 = (task % g.kblocks) * kChannelBlock;
  task /= g.kblocks;
  t.grp = task % p.G;
  t.n = task / p.G;
  t.oy0 = ty * g.tile_h;
  t.ox0 = tx * g.tile_w;
  return t;
}

/// Weights of the block as [c][tap][kChannelBlock] (taps flipped; channels
/// past K/G zero), so one tap's kChannelBlock weights are two vector loads.
template <class T>
CONVKIT_HD void small_load_weights(const DirectGeom& g, const ConvProblem& p, const T* w, i64 task, int tid,
                                   T* sm) {
  const SmallTask t = small_task(g, p, task);
  const int kw = static_cast<int>(p.ker[2]), taps = static_cast<int>(p.ker[1] * p.ker[2]);
  const int total = static_cast<int>(p.Cg()) * taps * kChannelBlock;
  for (int j = tid; j < total; j += g.threads) {
    const int kb = j % kChannelBlock, tap = (j / kChannelBlock) % taps, c = j / (kChannelBlock * taps);
    const i64 kl = t.k0 + kb;
    sm[g.w_off + j] = kl < p.Kg() ? w[((t.grp * p.Kg() + kl) * p.Cg() + c) * taps + weight_offset(p, 0, tap / kw, tap % kw)]
                                  : T(0);
  }
}

template <class T>
CONVKIT_HD void small_load_tile(const DirectGeom& g, const ConvProblem& p, const T* x, i64 task, i64 c, int tid,
                                T* sm) {
  const SmallTask t = small_task(g, p, task);
  load_input_tile(g, p, x + (t.n * p.C + t.grp * p.Cg() + c) * p.in_spatial(), t.oy0, t.ox0, tid, sm + g.x_off);
}

template <class T>
CONVKIT_HD void small_compute(const DirectGeom& g, const ConvProblem& p, i64 c, int tid, const T* sm,
                              T (&acc)[kChannelBlock]) {
  const int tx = tid % static_cast<int>(g.tile_w), ty = tid / static_cast<int>(g.tile_w);
  const int kh = static_cast<int>(p.ker[1]), kw = static_cast<int>(p.ker[2]);
  const T* sx = sm + g.x_off + ty * p.stride[1] * g.pitch + tx * p.stride[2];
  const T* sw = sm + g.w_off + c * kh * kw * kChannelBlock;
  for (int ki = 0; ki < kh; ++ki)
    for (int kj = 0; kj < kw; ++kj) {
      const T xv = sx[ki * p.dilation[1] * g.pitch + kj * p.dilation[2]];
      T wv[kChannelBlock];
      load_chunk<T, kChannelBlock>(sw + (ki * kw + kj) * kChannelBlock, wv);
      CONVKIT_UNROLL
      for (int kb = 0; kb < kChannelBlock; ++kb) acc[kb] += wv[kb] * xv;
    }
}

template <class T>
CONVKIT_HD void small_store(const DirectGeom& g, const ConvProblem& p, const T* b, T* y, i64 task, int tid,
                            const T (&acc)[kChannelBlock]) {
  const SmallTask t = small_task(g, p, task);
  const int tx = tid % static_cast<int>(g.tile_w), ty = tid / static_cast<int>(g.tile_w);
  const i64 oy = t.oy0 + ty, ox = t.ox0 + tx;
  if (oy >= p.out[1] || ox >= p.out[2]) return;
  for (int kb = 0; kb < kChannelBlock; ++kb) {
    if (t.k0 + kb >= p.Kg()) break;
    const i64 k = t.grp * p.Kg() + t.k0 + kb;
    y[((t.n * p.K + k) * p.out[1] + oy) * p.out[2] + ox] = b ? acc[kb] + b[k] : acc[kb];
  }
}

}  // namespace direct

/// Enqueues variant `v` for `p` on `stream` (device pointers; b null without
/// bias; N >= 1; direct_applies(v, p) holds). Checks the launch; never
/// synchronises. Instantiated for float and double in direct_f32.cu /
/// direct_f64.cu.
template <class T>
void direct_launch(DirectVariant v, const ConvProblem& p, const T* x, const T* w, const T* b, T* y,
                   cudaStream_t stream);

}  // namespace convkit::detail
