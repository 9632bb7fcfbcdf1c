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
//                  loaded (and boundary-folded) once, in 4-element chunks
//                  (16-byte vector loads, several in flight per thread; no
//                  folding at all for tiles inside the signal); the flipped
//                  taps in shared memory, shifted by up to 3 zero taps so that
//                  tiles start on aligned columns, and zero-padded to a whole
//                  number of steps; and register blocking: each thread
//                  computes kRx consecutive outputs, a step loading a window
//                  of kRx + kWindowTaps samples and kWindowTaps taps as 16-byte
//                  shared vectors for kRx · kWindowTaps FMAs on registers
//                  (row_taps_window). Outputs are staged in shared memory and
//                  written as vectors.
//   plane2d        2-D, C/G == 1 (grey images, per-channel filtering,
//                  depthwise with large planes), stride 1, dilation 1, k <= 31.
//                  The long1d scheme per kernel row on a 2-D tile; rows of 32
//                  or more (padded) taps use sliding-window register reuse
//                  instead (row_taps): kRx + kTapChunk samples stay in a
//                  register ring, so a step of kTapChunk taps loads one vector
//                  of new samples and one of taps.
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

// Outputs per thread along the fastest dimension in long1d / plane2d: a
// multiple of the 16-byte vector (4 f32, 2 f64) whose stride between threads
// is an odd number of vectors, so that the 8 threads of each quarter-warp
// phase of a 16-byte shared access touch 8 distinct 16-byte bank groups.
CONVKIT_HD constexpr int rx_for(std::size_t elem) { return elem == 4 ? 20 : 18; }
template <class T>
inline constexpr int kRx = rx_for(sizeof(T));
// Taps per step of the ring row_taps: one 16-byte vector of new samples and
// one of taps (4 f32, 2 f64).
CONVKIT_HD constexpr int tap_chunk_for(std::size_t elem) { return elem == 4 ? 4 : 2; }
template <class T>
inline constexpr int kTapChunk = tap_chunk_for(sizeof(T));
// Taps per step of row_taps_window; the padded tap count of long1d / plane2d
// is a multiple (so also of kTapChunk).
constexpr int kWindowTaps = 8;
// long1d / plane2d tiles move global memory in chunks of this many elements
// (16-byte vectors where aligned), start their output columns on multiples
// of it, and keep shared rows at multiples of it.
constexpr int kTileAlign = 4;
constexpr int kGenericThreads = 256;
constexpr int kLong1dThreads = 128;
// plane2d: 8 x 16 threads; each row of 8 threads is one quarter-warp phase.
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

/// Whether window_span(outs, stride, ker, dil) <= limit, computed without
/// overflow for any positive sizes (a stride or dilation near 2^63 is a valid
/// spec). A factor that multiplies nothing (one output, one tap) is ignored.
CONVKIT_HD bool window_within(i64 outs, i64 stride, i64 ker, i64 dil, i64 limit) {
  if (outs > limit || ker > limit) return false;
  if (outs > 1 && stride > limit) return false;
  if (ker > 1 && dil > limit) return false;
  return window_span(outs, outs > 1 ? stride : 1, ker, ker > 1 ? dil : 1) <= limit;
}

/// fold_index for tile loads: a tile can reach past the extended input (its
/// last outputs may lie beyond O), where a single fold step is no longer
/// valid. Such positions feed no written output; they read zero (-1).
CONVKIT_HD i64 fold_clamped(i64 pos, i64 D, i64 pad_lo, i64 pad_hi, Boundary b) {
  if (pos < -pad_lo || pos > D - 1 + pad_hi) return -1;
  return fold_index(pos, D, b);
}

/// long1d / plane2d: zero taps put in front of each (flipped) filter row so
/// that the first input column a tile reads, ox0 - pad_lo - shift, is a
/// multiple of kTileAlign (ox0 always is): tile rows then load and store as
/// aligned 16-byte vectors.
CONVKIT_HD i64 tap_shift(i64 pad_lo) { return (kTileAlign - pad_lo % kTileAlign) % kTileAlign; }

/// depthwise2d / smallchannel2d: tile width (outputs) shaped to the plane, so
/// small planes waste fewer threads; the height is kTileThreads / width.
CONVKIT_HD i64 shaped_tile_w(const ConvProblem& p) { return pow2_between(p.out[2], 4, 32); }

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
  int rx = 1;                     ///< long1d / plane2d: outputs per thread (kRx)
  i64 shift = 0;                  ///< long1d / plane2d: tap_shift(pad_lo)
  i64 taps = 0;                   ///< long1d / plane2d: shift + k rounded up to kWindowTaps
  bool ring = false;              ///< plane2d: row_taps with the register ring (else windowed)
  i64 w_off = 0, x_off = 0, y_off = 0;  ///< shared regions (elements; multiples of 4)
  i64 smem_elems = 0;
};

/// Geometry of `v` for `p` with elements of `elem` bytes. Pure; meaningful
/// for problems direct_applies() accepts.
inline DirectGeom direct_geometry(DirectVariant v, const ConvProblem& p, std::size_t elem) {
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
      g.rx = rx_for(elem);
      g.shift = tap_shift(p.pad_lo[2]);
      g.taps = round_up(g.shift + p.ker[2], kWindowTaps);
      g.tile_w = i64(kLong1dThreads) * g.rx;
      g.tiles_x = ceil_div(p.out[2], g.tile_w);
      g.in_w = g.tile_w + round_up(g.taps, kTileAlign);  // the last window ends by here
      g.pitch = round_up(g.in_w, kTileAlign);
      g.w_off = 0;
      g.x_off = round_up(g.taps, kTileAlign);
      g.y_off = g.x_off + g.pitch;
      g.smem_elems = g.y_off + g.tile_w;
      g.tasks = p.N * p.K * g.tiles_x;
      break;
    }
    case DirectVariant::Plane2d: {
      g.threads = kPlaneBx * kPlaneBy;
      g.rx = rx_for(elem);
      g.shift = tap_shift(p.pad_lo[2]);
      g.taps = round_up(g.shift + p.ker[2], kWindowTaps);
      g.tile_w = i64(kPlaneBx) * g.rx;
      g.tile_h = kPlaneBy;
      g.tiles_x = ceil_div(p.out[2], g.tile_w);
      g.tiles_y = ceil_div(p.out[1], g.tile_h);
      g.in_w = g.tile_w + round_up(g.taps, kTileAlign);
      g.in_h = g.tile_h + p.ker[1] - 1;
      g.pitch = round_up(g.in_w, kTileAlign);
      g.w_pitch = round_up(g.taps, kTileAlign);
      // Measured (H100, 4K image): the ring wins once rows have 32 taps or
      // more (k = 31: 60% vs 52% of FMA peak); shorter rows run better on
      // the windowed steps' higher occupancy (k = 15: 42% vs 40%).
      g.ring = g.taps >= 32;
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
      g.tile_w = shaped_tile_w(p);
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
  // The strided tiles (depthwise2d, smallchannel2d) read a window that grows
  // with stride and dilation: bound it by what shared memory holds before the
  // geometry multiplies it out (a stride of 2^58 would overflow there).
  auto windows_fit = [&] {
    if (v != DirectVariant::Depthwise2d && v != DirectVariant::SmallChannel2d) return true;
    const i64 limit = static_cast<i64>(kSmemLimit / elem);
    const i64 tile_w = shaped_tile_w(p), tile_h = kTileThreads / tile_w;
    return window_within(tile_w, p.stride[2], p.ker[2], p.dilation[2], limit) &&
           window_within(tile_h, p.stride[1], p.ker[1], p.dilation[1], limit);
  };
  auto fits = [&] { return windows_fit() && direct_smem_bytes(direct_geometry(v, p, elem), elem) <= kSmemLimit; };
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
  // A long1d tile is 2560 (f32) outputs; shorter signals run as well on generic.
  if (p.out[2] >= 256 && direct_applies(DirectVariant::Long1d, p, elem)) return DirectVariant::Long1d;
  // plane2d tiles are 160 x 16 (f32) outputs: worth it when the plane fills a good part of one.
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
/// 16-byte aligned: geometry keeps shared regions, rows and windows at
/// multiples of 4 elements and chunks at multiples of kTapChunk).
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

/// p[0..U) = v[0..U); the store twin of load_chunk (same alignment rule).
template <class T, int U>
CONVKIT_HD void store_chunk(T* p, const T (&v)[U]) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float> && U % 4 == 0) {
    CONVKIT_UNROLL
    for (int i = 0; i < U; i += 4) *reinterpret_cast<float4*>(p + i) = make_float4(v[i], v[i + 1], v[i + 2], v[i + 3]);
  } else if constexpr (std::is_same_v<T, double> && U % 2 == 0) {
    CONVKIT_UNROLL
    for (int i = 0; i < U; i += 2) *reinterpret_cast<double2*>(p + i) = make_double2(v[i], v[i + 1]);
  } else {
    for (int i = 0; i < U; ++i) p[i] = v[i];
  }
#else
  for (int i = 0; i < U; ++i) p[i] = v[i];
#endif
}

/// Whether p is 16-byte aligned (vector global accesses allowed).
template <class T>
CONVKIT_HD bool aligned16(const T* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

/// Whether rows of `row_len` elements laid end to end from `base` may be
/// moved as kTileAlign-element chunks with 16-byte vector accesses: `base` is
/// 16-byte aligned and every row starts a whole number of chunks after it.
/// Validation only guarantees element alignment (a view may start 1..3
/// elements into an aligned allocation), so this is decided at run time from
/// the pointer; when it fails the tile moves element by element instead.
template <class T>
CONVKIT_HD bool vector_rows(const T* base, i64 row_len) {
  return row_len % kTileAlign == 0 && aligned16(base);
}

/// The real taps [lo, hi) of a zero-padded kernel row (long1d / plane2d pad
/// each row with `shift` leading and some trailing zero taps for alignment).
/// The padding taps must not be multiplied at all: they face real samples
/// that other outputs read, and 0 · Inf or 0 · NaN would put a NaN into an
/// output that never reads that sample. A chunk of taps wholly inside
/// [lo, hi) runs unguarded; only the first and last chunks test each tap.
struct RealTaps {
  int lo = 0, hi = 0;
  /// Whether chunk [t0, t0 + n) holds a padding tap.
  CONVKIT_HD bool edge(int t0, int n) const { return t0 < lo || t0 + n > hi; }
  CONVKIT_HD bool real(int t) const { return t >= lo && t < hi; }
};

/// One step of row_taps: chunk c (c % (ring length / U) == Ph) of U taps.
/// On entry ring slot (c·U + i) % (R + U) holds s[c·U + i] for i < R; the
/// step loads s[c·U + R .. + U) into the free slots and the U taps, then
/// does R·U FMAs. Ph is a compile-time phase, so every ring index is a
/// constant and the ring stays in registers.
template <class T, int R, int U, int Ph>
CONVKIT_HD void ring_step(const T* s, const T* w, int c, RealTaps rt, T (&ring)[R + U], T (&acc)[R]) {
  constexpr int B = R + U;
  T nv[U];
  load_chunk<T, U>(s + c * U + R, nv);
  CONVKIT_UNROLL
  for (int i = 0; i < U; ++i) ring[(Ph * U + R + i) % B] = nv[i];
  T wv[U];
  load_chunk<T, U>(w + c * U, wv);
  const bool edge = rt.edge(c * U, U);
  CONVKIT_UNROLL
  for (int u = 0; u < U; ++u) {
    if (edge && !rt.real(c * U + u)) continue;
    CONVKIT_UNROLL
    for (int r = 0; r < R; ++r) acc[r] += wv[u] * ring[(Ph * U + r + u) % B];
  }
}

/// Steps Ph .. (R+U)/U - 1 of one ring cycle starting at chunk c; with
/// Guarded, only those below nch (the tail after the last full cycle).
template <class T, int R, int U, int Ph, bool Guarded>
CONVKIT_HD void ring_steps(const T* s, const T* w, int c, int nch, RealTaps rt, T (&ring)[R + U], T (&acc)[R]) {
  if constexpr (Ph < (R + U) / U) {
    if (Guarded && c >= nch) return;
    ring_step<T, R, U, Ph>(s, w, c, rt, ring, acc);
    ring_steps<T, R, U, Ph + 1, Guarded>(s, w, c + 1, nch, rt, ring, acc);
  }
}

/// acc[r] += Σ_{i in rt} w[i] · s[r + i] for r < R: one zero-padded kernel
/// row applied to R consecutive outputs. taps is a multiple of U =
/// kTapChunk; s and w are 16-byte aligned; R and R + U are multiples of U.
/// Reads s[0 .. R + taps) and w[0 .. taps) only. Sliding-window register
/// reuse: the R + U samples live in a register ring, so each step loads just
/// U new samples and U taps (one 16-byte vector each) for R·U FMAs.
template <class T, int R>
CONVKIT_HD void row_taps(const T* s, const T* w, int taps, RealTaps rt, T (&acc)[R]) {
  constexpr int U = kTapChunk<T>, B = R + U;
  static_assert(R % U == 0 && B % U == 0, "ring groups must be whole vectors");
  T ring[B];
  CONVKIT_UNROLL
  for (int i = 0; i < R; i += U) {
    T v[U];
    load_chunk<T, U>(s + i, v);
    CONVKIT_UNROLL
    for (int e = 0; e < U; ++e) ring[i + e] = v[e];
  }
  const int nch = taps / U;
  int c = 0;
  for (; c + B / U <= nch; c += B / U) ring_steps<T, R, U, 0, false>(s, w, c, nch, rt, ring, acc);
  ring_steps<T, R, U, 0, true>(s, w, c, nch, rt, ring, acc);
}

/// Windowed variant of row_taps (no ring): each step loads a whole window
/// of R + kWindowTaps samples and kWindowTaps taps, then R·kWindowTaps FMAs.
/// Fewer live registers than the ring (higher occupancy).
template <class T, int R>
CONVKIT_HD void row_taps_window(const T* s, const T* w, int taps, RealTaps rt, T (&acc)[R]) {
  constexpr int U = kWindowTaps;
  for (int kb = 0; kb < taps; kb += U) {
    T v[R + U];
    load_chunk<T, R + U>(s + kb, v);
    T wv[U];
    load_chunk<T, U>(w + kb, wv);
    const bool edge = rt.edge(kb, U);
    CONVKIT_UNROLL
    for (int u = 0; u < U; ++u) {
      if (edge && !rt.real(kb + u)) continue;
      CONVKIT_UNROLL
      for (int r = 0; r < R; ++r) acc[r] += wv[u] * v[r + u];
    }
  }
}

template <bool Ring, class T, int R>
CONVKIT_HD void row_taps_any(const T* s, const T* w, int taps, RealTaps rt, T (&acc)[R]) {
  if constexpr (Ring)
    row_taps<T, R>(s, w, taps, rt, acc);
  else
    row_taps_window<T, R>(s, w, taps, rt, acc);
}

/// long1d / plane2d tile load: rows [by, by + g.in_h) and columns
/// [bx, bx + g.in_w) of the boundary-extended plane xp (p.in[1] rows of
/// p.in[2]; 1-D: one row) into sx with row pitch g.pitch; bx and g.in_w are
/// multiples of kTileAlign. Each thread moves kTileAlign-element chunks, a
/// batch of kLoadBatch read before any is written (bytes in flight). A tile
/// wholly inside the plane, with rows that are 16-byte aligned, takes the
/// fast path: plain vector loads, no folding. Otherwise a chunk inside its
/// row is still one vector when alignment allows, else it is read element by
/// element through fold_clamped.
constexpr int kLoadBatch = 4;

template <class T>
CONVKIT_HD void load_tile_chunks(const DirectGeom& g, const ConvProblem& p, const T* xp, i64 by, i64 bx, int tid,
                                 T* sx) {
  constexpr int V = kTileAlign;
  const i64 W = p.in[2];
  const bool vec = vector_rows(xp, W);
  const int cw = static_cast<int>(g.in_w / V), total = static_cast<int>(g.in_h) * cw;
  const int pitch = static_cast<int>(g.pitch);
  if (vec && by >= 0 && by + g.in_h <= p.in[1] && bx >= 0 && bx + g.in_w <= W) {
    const T* src = xp + by * W + bx;
    for (int base = 0; base < total; base += kLoadBatch * g.threads) {
      T v[kLoadBatch][V];
      CONVKIT_UNROLL
      for (int b = 0; b < kLoadBatch; ++b) {
        const int j = base + b * g.threads + tid;
        if (j < total) load_chunk<T, V>(src + (j / cw) * W + (j % cw) * V, v[b]);
      }
      CONVKIT_UNROLL
      for (int b = 0; b < kLoadBatch; ++b) {
        const int j = base + b * g.threads + tid;
        if (j < total) store_chunk<T, V>(sx + (j / cw) * pitch + (j % cw) * V, v[b]);
      }
    }
    return;
  }
  for (int base = 0; base < total; base += kLoadBatch * g.threads) {
    T v[kLoadBatch][V];
    CONVKIT_UNROLL
    for (int b = 0; b < kLoadBatch; ++b) {
      const int j = base + b * g.threads + tid;
      if (j >= total) break;
      const int r = j / cw, c = (j % cw) * V;
      const i64 qy = fold_clamped(by + r, p.in[1], p.pad_lo[1], p.pad_hi[1], p.boundary);
      const i64 qx = bx + c;
      if (vec && qy >= 0 && qx >= 0 && qx + V <= W) {
        load_chunk<T, V>(xp + qy * W + qx, v[b]);
      } else {
        CONVKIT_UNROLL
        for (int e = 0; e < V; ++e) {
          const i64 q = fold_clamped(qx + e, W, p.pad_lo[2], p.pad_hi[2], p.boundary);
          v[b][e] = (qy < 0 || q < 0) ? T(0) : xp[qy * W + q];
        }
      }
    }
    CONVKIT_UNROLL
    for (int b = 0; b < kLoadBatch; ++b) {
      const int j = base + b * g.threads + tid;
      if (j >= total) break;
      store_chunk<T, V>(sx + (j / cw) * pitch + (j % cw) * V, v[b]);
    }
  }
}

/// long1d / plane2d output store: the staged tile_h x tile_w outputs (rows
/// g.tile_w apart in shared memory) to rows of length O of yp starting at
/// (oy0, ox0), in 4-element chunks: vectors where the chunk is whole and
/// `vec` holds, else the elements inside the output.
template <class T>
CONVKIT_HD void store_tile_chunks(const DirectGeom& g, i64 O1, i64 O, T* yp, i64 oy0, i64 ox0, int tid,
                                  const T* sy) {
  constexpr int V = kTileAlign;
  const bool vec = vector_rows(yp, O);
  const int cw = static_cast<int>(g.tile_w / V), total = static_cast<int>(g.tile_h) * cw;
  if (vec && oy0 + g.tile_h <= O1 && ox0 + g.tile_w <= O) {  // whole tile inside: plain vectors
    T* dst = yp + oy0 * O + ox0;
    for (int j = tid; j < total; j += g.threads) {
      T v[V];
      load_chunk<T, V>(sy + j * V, v);  // staging rows are g.tile_w = cw·V apart
      store_chunk<T, V>(dst + (j / cw) * O + (j % cw) * V, v);
    }
    return;
  }
  for (int j = tid; j < total; j += g.threads) {
    const int r = j / cw, c = (j % cw) * V;
    const i64 oy = oy0 + r, ox = ox0 + c;
    if (oy >= O1 || ox >= O) continue;
    T v[V];
    load_chunk<T, V>(sy + r * g.tile_w + c, v);
    if (vec && ox + V <= O) {
      store_chunk<T, V>(yp + oy * O + ox, v);
    } else {
      for (int e = 0; e < V && ox + e < O; ++e) yp[oy * O + ox + e] = v[e];
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
  for (i64 j = tid; j < g.taps; j += g.threads) {
    const i64 i = j - g.shift;
    sw[j] = (i >= 0 && i < k) ? wr[tap_index(i, k, p.mode)] : T(0);
  }
  load_tile_chunks(g, p, xr, 0, tile * g.tile_w - p.pad_lo[2] - g.shift, tid, sm + g.x_off);
}

template <class T, bool Ring = false>
CONVKIT_HD void long1d_compute(const DirectGeom& g, const ConvProblem& p, const T* b, i64 task, int tid, T* sm) {
  constexpr int R = kRx<T>;
  const i64 kc = (task / g.tiles_x) % p.K;
  const int j0 = tid * R;
  T acc[R];
  CONVKIT_UNROLL
  for (int r = 0; r < R; ++r) acc[r] = T(0);
  const RealTaps rt{static_cast<int>(g.shift), static_cast<int>(g.shift + p.ker[2])};
  row_taps_any<Ring, T, R>(sm + g.x_off + j0, sm + g.w_off, static_cast<int>(g.taps), rt, acc);
  const T bias = b ? b[kc] : T(0);
  CONVKIT_UNROLL
  for (int r = 0; r < R; ++r) acc[r] += bias;
  store_chunk<T, R>(sm + g.y_off + j0, acc);
}

template <class T>
CONVKIT_HD void long1d_store(const DirectGeom& g, const ConvProblem& p, T* y, i64 task, int tid, const T* sm) {
  const i64 tile = task % g.tiles_x, row = task / g.tiles_x, O = p.out[2];
  store_tile_chunks(g, 1, O, y + row * O, 0, tile * g.tile_w, tid, sm + g.y_off);
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
  // The flipped filter, each row shifted right by g.shift and zero-padded to g.w_pitch.
  const T* wk = w + t.k * p.ker[1] * p.ker[2];
  const int kw = static_cast<int>(p.ker[2]), wp = static_cast<int>(g.w_pitch);
  const int total = static_cast<int>(p.ker[1]) * wp;
  for (int j = tid; j < total; j += g.threads) {
    const int ki = j / wp, kj = j % wp - static_cast<int>(g.shift);
    sm[g.w_off + j] = (kj >= 0 && kj < kw) ? wk[weight_offset(p, 0, ki, kj)] : T(0);
  }
  load_tile_chunks(g, p, x + (t.n * p.C + t.k / p.Kg()) * p.in_spatial(), t.oy0 - p.pad_lo[1],
                   t.ox0 - p.pad_lo[2] - g.shift, tid, sm + g.x_off);
}

template <class T, bool Ring>
CONVKIT_HD void plane2d_compute(const DirectGeom& g, const ConvProblem& p, const T* b, i64 task, int tid, T* sm) {
  constexpr int R = kRx<T>;
  const PlaneTask t = plane_task(g, p, task);
  const int tx = tid % kPlaneBx, ty = tid / kPlaneBx;
  T acc[R];
  CONVKIT_UNROLL
  for (int r = 0; r < R; ++r) acc[r] = T(0);
  const T* sx = sm + g.x_off + ty * g.pitch + tx * R;
  const int taps = static_cast<int>(g.taps), pitch = static_cast<int>(g.pitch), wp = static_cast<int>(g.w_pitch);
  const RealTaps rt{static_cast<int>(g.shift), static_cast<int>(g.shift + p.ker[2])};
  for (int ki = 0; ki < static_cast<int>(p.ker[1]); ++ki)
    row_taps_any<Ring, T, R>(sx + ki * pitch, sm + g.w_off + ki * wp, taps, rt, acc);
  const T bias = b ? b[t.k] : T(0);
  CONVKIT_UNROLL
  for (int r = 0; r < R; ++r) acc[r] += bias;
  store_chunk<T, R>(sm + g.y_off + ty * g.tile_w + tx * R, acc);
}

template <class T>
CONVKIT_HD void plane2d_store(const DirectGeom& g, const ConvProblem& p, T* y, i64 task, int tid, const T* sm) {
  const PlaneTask t = plane_task(g, p, task);
  store_tile_chunks(g, p.out[1], p.out[2], y + t.plane * p.out[1] * p.out[2], t.oy0, t.ox0, tid, sm + g.y_off);
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
