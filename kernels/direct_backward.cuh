// Algorithm::Direct's backward passes and the bias gradient, the part host and
// device share: launch geometry (pure functions) and the block programs -- the
// per-thread work between two barriers -- as __host__ __device__ functions.
// The kernels in direct_backward_impl.cuh are thin grid-stride loops calling
// these phases with __syncthreads() between them; the CPU tests
// (tests/test_direct_backward.cpp) run the very same phases for every thread
// of every block in turn. Every result is summed in a fixed order with no
// atomics, so runs are bit-identical.
//
// Variants (Support::variant):
//   direct/gather  backward-data, any spec (DESIGN §1). One thread per dx
//                  element (grid-stride): dx[n,c,q] = Σ over the (output,
//                  tap) pairs that read q after boundary folding
//                  (kernels/adjoint.cuh, axis 0 outermost, then axis 1, then
//                  axis 2, each in for_each_reader's order) and, innermost,
//                  over the output channels k of c's group of
//                  dy[n,k,o] · w[k, c mod C/G, tap]. No shared memory.
//   direct/reduce  backward-filter, any spec. Two passes: pass 1 runs one
//                  block per (weight element, segment of the N·ΠO reduction):
//                  each thread sums the segment's elements tid, tid + threads,
//                  ... of dy[n,k,o] · x̃[n, g·C/G + c, o·s + i·dil − lo], then
//                  a fixed shared-memory tree (halving strides, a barrier
//                  between steps) leaves the block's sum in sm[0], written to
//                  the workspace [segments, K·C/G·Πk]; pass 2 (one thread per
//                  weight element) adds its segments' partials in segment
//                  order and applies beta. The segment count is a pure
//                  function of the problem (reduce_segments), and so is the
//                  workspace (reduce_workspace_bytes): the reduction cannot
//                  be chunked, so its minimum is the whole.
//   bias           conv_backward_bias: one pass, one block per output channel
//                  (grid-stride), the same strided per-thread sums over N·Q
//                  and the same tree, thread 0 writing db[k] with beta. No
//                  workspace (run_backward_bias has no workspace argument).
#pragma once

#include <convkit/spec.hpp>

#include "adjoint.cuh"
#include "indexing.cuh"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace convkit::detail::direct_bwd {

using i64 = std::int64_t;

constexpr int kGatherThreads = 256;
/// Threads of a reduction block (a power of two: the tree halves it).
constexpr int kReduceThreads = 256;
constexpr i64 kMaxGrid = i64(1) << 20;
/// Blocks pass 1 aims for: 4 waves of 8 blocks on each of 132 SMs (H100).
constexpr i64 kTargetBlocks = 4 * 132 * 8;
constexpr i64 kMaxSegments = 1024;

/// ceil(a / b) for b > 0, without the overflow of a + b − 1 near INT64_MAX
/// (the queries size absurd problems too).
CONVKIT_HD i64 ceil_div(i64 a, i64 b) { return a >= 0 ? a / b + (a % b != 0 ? 1 : 0) : (a + b - 1) / b; }
CONVKIT_HD i64 min64(i64 a, i64 b) { return a < b ? a : b; }
CONVKIT_HD i64 max64(i64 a, i64 b) { return a > b ? a : b; }

// ------------------------------------------------------------- geometry

/// Weight elements K · C/G · Πk (the number of dw outputs).
inline i64 weight_elems(const ConvProblem& p) { return p.K * p.Cg() * p.ker_spatial(); }

/// Length of each weight element's reduction: N · ΠO.
inline i64 reduce_length(const ConvProblem& p) { return p.N * p.out_spatial(); }

/// Elements of the N·ΠO reduction each pass-1 segment covers. The target
/// segment count gives enough blocks (weight elements × segments) to fill a
/// GPU (about kTargetBlocks), no segment shorter than one element per thread,
/// at most kMaxSegments, at least 1; the length is the reduction split that
/// many ways, rounded up. Pure.
inline i64 reduce_segment_length(const ConvProblem& p) {
  const i64 we = max64(weight_elems(p), 1);
  const i64 want = ceil_div(kTargetBlocks, we);
  const i64 by_length = max64(ceil_div(reduce_length(p), kReduceThreads), 1);
  const i64 target = max64(min64(min64(want, by_length), kMaxSegments), 1);
  return max64(ceil_div(reduce_length(p), target), 1);
}

/// Segments pass 1 cuts each weight element's reduction into: as many as
/// reduce_segment_length() needs to cover it, so none is empty (the last may
/// be shorter); between half the target and the target. Pure.
inline i64 reduce_segments(const ConvProblem& p) {
  return max64(ceil_div(reduce_length(p), reduce_segment_length(p)), 1);
}

/// Exact workspace of direct/reduce: the partials [segments, K·C/G·Πk].
/// Saturates at SIZE_MAX (more than any limit) rather than wrap.
inline std::size_t reduce_workspace_bytes(const ConvProblem& p, std::size_t elem) {
  const auto s = static_cast<std::size_t>(reduce_segments(p)), w = static_cast<std::size_t>(weight_elems(p));
  const std::size_t max = static_cast<std::size_t>(-1);
  if (w != 0 && s > max / w) return max;
  const std::size_t n = s * w;
  return elem != 0 && n > max / elem ? max : n * elem;
}

/// Launch geometry of direct/reduce, computed on the host and passed by value.
struct ReduceGeom {
  int threads = kReduceThreads;
  i64 weights = 0;      ///< K · C/G · Πk
  i64 length = 0;       ///< N · ΠO
  i64 segments = 1;     ///< reduce_segments
  i64 seg_len = 1;      ///< reduce_segment_length
  i64 tasks = 0;        ///< pass-1 blocks' work items: segments · weights (= workspace index)
  i64 grid = 0;         ///< pass-1 blocks launched
  i64 grid2 = 0;        ///< pass-2 blocks of kGatherThreads threads
};

inline ReduceGeom reduce_geometry(const ConvProblem& p) {
  ReduceGeom g;
  g.weights = weight_elems(p);
  g.length = reduce_length(p);
  g.segments = reduce_segments(p);
  g.seg_len = reduce_segment_length(p);
  g.tasks = g.segments * g.weights;
  g.grid = min64(g.tasks, kMaxGrid);
  g.grid2 = min64(ceil_div(g.weights, kGatherThreads), kMaxGrid);
  return g;
}

/// Blocks of the gather (one thread per dx element).
inline i64 gather_grid(const ConvProblem& p) {
  return min64(ceil_div(p.N * p.C * p.in_spatial(), kGatherThreads), kMaxGrid);
}

/// Blocks of the bias reduction (one per output channel).
inline i64 bias_grid(i64 K) { return min64(K, kMaxGrid); }

// ------------------------------------------------------ backward-data gather

/// dx element `idx` (flat over [N, C, D0, D1, D2]): (accumulate ? dx[idx] : 0)
/// + Σ over its readers (o, i) and the output channels k of its group of
/// dy[n,k,o] · w[k, c mod C/G, weight_offset(i)], summed in T in a fixed
/// order. Writes dx[idx]; reads it only under accumulate.
template <class T>
CONVKIT_HD void gather_dx(const ConvProblem& p, const T* dy, const T* w, T* dx, bool accumulate, i64 idx) {
  i64 r = idx;
  const i64 q2 = r % p.in[2];
  r /= p.in[2];
  const i64 q1 = r % p.in[1];
  r /= p.in[1];
  const i64 q0 = r % p.in[0];
  r /= p.in[0];
  const i64 c = r % p.C, n = r / p.C;
  const i64 Cg = p.Cg(), Kg = p.Kg(), R = p.ker_spatial(), Q = p.out_spatial();
  const i64 k0 = (c / Cg) * Kg;
  const T* dyg = dy + (n * p.K + k0) * Q;          // dy[n, k0, :]
  const T* wg = w + (k0 * Cg + c % Cg) * R;        // w[k0, c mod C/G, :]
  const i64 O1 = p.out[1], O2 = p.out[2];
  T acc = T(0);
  for_each_reader_of(p, 0, q0, [&](i64 o0, i64 i0) {
    for_each_reader_of(p, 1, q1, [&](i64 o1, i64 i1) {
      for_each_reader_of(p, 2, q2, [&](i64 o2, i64 i2) {
        const i64 yo = (o0 * O1 + o1) * O2 + o2;
        const i64 wo = weight_offset(p, i0, i1, i2);
        for (i64 kl = 0; kl < Kg; ++kl) acc += dyg[kl * Q + yo] * wg[kl * Cg * R + wo];
      });
    });
  });
  dx[idx] = accumulate ? dx[idx] + acc : acc;
}

// ------------------------------------------------ the fixed-order tree

/// One step of the shared-memory tree over `threads` (a power of two)
/// values: for h = threads/2, threads/4, ..., 1 in turn, with a barrier
/// after each step, thread tid < h does sm[tid] += sm[tid + h]. sm[0] then
/// holds the block's sum, always added in the same order.
template <class T>
CONVKIT_HD void tree_step(int h, int tid, T* sm) {
  if (tid < h) sm[tid] += sm[tid + h];
}

// ---------------------------------------------- backward-filter (reduce)

/// The weight element and segment of pass-1 task `task` (= its workspace
/// index: task = segment · weights + weight element).
struct ReduceTask {
  i64 we, seg, k, c, j0, j1, j2;  ///< j: stored tap indices of dw[k, c, j0, j1, j2]
};

CONVKIT_HD ReduceTask reduce_task(const ReduceGeom& g, const ConvProblem& p, i64 task) {
  ReduceTask t;
  t.we = task % g.weights;
  t.seg = task / g.weights;
  i64 r = t.we;
  t.j2 = r % p.ker[2];
  r /= p.ker[2];
  t.j1 = r % p.ker[1];
  r /= p.ker[1];
  t.j0 = r % p.ker[0];
  r /= p.ker[0];
  t.c = r % p.Cg();
  t.k = r / p.Cg();
  return t;
}

/// Pass 1, phase 1: thread tid's strided share of task's segment,
/// Σ dy[n,k,o] · x̃[n, g·C/G + c, o·s + i·dil − lo] over the segment's
/// elements e = (n, o) with e ≡ begin + tid (mod threads), stored in sm[tid].
/// The tap i is the forward tap the stored index j stands for (the flip
/// under Mode::Convolution is its own inverse).
template <class T>
CONVKIT_HD void reduce_partial(const ReduceGeom& g, const ConvProblem& p, const T* x, const T* dy, i64 task, int tid,
                               T* sm) {
  const ReduceTask t = reduce_task(g, p, task);
  const i64 i0 = tap_index(t.j0, p.ker[0], p.mode), i1 = tap_index(t.j1, p.ker[1], p.mode),
            i2 = tap_index(t.j2, p.ker[2], p.mode);
  const i64 Q = p.out_spatial(), P = p.in_spatial();
  const i64 begin = t.seg * g.seg_len;
  const i64 end = min64(begin + g.seg_len, g.length);
  const i64 cin = (t.k / p.Kg()) * p.Cg() + t.c;
  T acc = T(0);
  for (i64 e = begin + tid; e < end; e += g.threads) {
    const i64 n = e / Q, q = e % Q;
    const i64 o2 = q % p.out[2], o1 = (q / p.out[2]) % p.out[1], o0 = q / (p.out[2] * p.out[1]);
    const i64 s = source_offset(p, o0, o1, o2, i0, i1, i2);
    if (s < 0) continue;
    acc += dy[(n * p.K + t.k) * Q + q] * x[(n * p.C + cin) * P + s];
  }
  sm[tid] = acc;
}

/// Pass 1, last phase: thread 0 writes the block's sum to workspace[task].
template <class T>
CONVKIT_HD void reduce_write_partial(i64 task, int tid, const T* sm, T* workspace) {
  if (tid == 0) workspace[task] = sm[0];
}

/// Pass 2: dw[we] = (accumulate ? dw[we] : 0) + Σ_{seg in order} workspace[seg·weights + we].
template <class T>
CONVKIT_HD void reduce_finish(const ReduceGeom& g, const T* workspace, T* dw, bool accumulate, i64 we) {
  T acc = workspace[we];
  for (i64 s = 1; s < g.segments; ++s) acc += workspace[s * g.weights + we];
  dw[we] = accumulate ? dw[we] + acc : acc;
}

// ------------------------------------------------------------ bias

/// Phase 1: thread tid's strided share of Σ_n Σ_q dy[n,k,q] for channel k
/// of dy [N, K, Q], stored in sm[tid].
template <class T>
CONVKIT_HD void bias_partial(i64 N, i64 K, i64 Q, const T* dy, i64 k, int tid, int threads, T* sm) {
  T acc = T(0);
  const i64 L = N * Q;
  for (i64 e = tid; e < L; e += threads) {
    const i64 n = e / Q, q = e % Q;
    acc += dy[(n * K + k) * Q + q];
  }
  sm[tid] = acc;
}

/// Segments each channel's N·Q reduction is split into, so that a few
/// channels over a long dy still fill the GPU (about kTargetBlocks blocks,
/// at most 1024 segments, none shorter than one element per thread, none
/// empty). 1 for N·Q == 0. Pure.
inline i64 bias_segments(i64 N, i64 K, i64 Q) {
  const i64 L = N * Q;
  if (L <= 0 || K <= 0) return 1;
  const i64 want = min64(min64(max64(ceil_div(kTargetBlocks, K), 1), 1024), max64(ceil_div(L, kReduceThreads), 1));
  const i64 len = ceil_div(L, want);
  return ceil_div(L, len);
}

/// Phase 1 of a segmented bias task: thread tid's strided share of channel
/// k's elements e in [b, e_end) of the flat N·Q reduction, stored in sm[tid].
template <class T>
CONVKIT_HD void bias_partial_range(i64 K, i64 Q, const T* dy, i64 k, i64 b, i64 e_end, int tid, int threads,
                                   T* sm) {
  T acc = T(0);
  for (i64 e = b + tid; e < e_end; e += threads) {
    const i64 n = e / Q, q = e % Q;
    acc += dy[(n * K + k) * Q + q];
  }
  sm[tid] = acc;
}

/// Segmented bias, last pass: db[k] = (accumulate ? db[k] : 0) + Σ_seg
/// partials[seg·K + k], segments in order.
template <class T>
CONVKIT_HD void bias_finish(i64 K, i64 segments, const T* partials, T* db, bool accumulate, i64 k) {
  T acc = T(0);
  for (i64 seg = 0; seg < segments; ++seg) acc += partials[seg * K + k];
  db[k] = accumulate ? db[k] + acc : acc;
}

/// Last phase: thread 0 writes db[k] = (accumulate ? db[k] : 0) + sm[0].
template <class T>
CONVKIT_HD void bias_write(i64 k, int tid, const T* sm, T* db, bool accumulate) {
  if (tid == 0) db[k] = accumulate ? db[k] + sm[0] : sm[0];
}

}  // namespace convkit::detail::direct_bwd

namespace convkit::detail {

/// Enqueues the direct/gather backward-data for `p` on `stream` (device
/// pointers; N >= 1): dx = (accumulate ? dx : 0) + Tᵀ·dy. Checks the launch.
template <class T>
void direct_backward_data_launch(const ConvProblem& p, const T* dy, const T* w, T* dx, bool accumulate,
                                 cudaStream_t stream);

/// Enqueues direct/reduce backward-filter's two passes: `workspace` holds
/// direct_bwd::reduce_workspace_bytes(p, sizeof(T)) bytes (16-byte aligned).
template <class T>
void direct_backward_filter_launch(const ConvProblem& p, const T* x, const T* dy, T* dw, T* workspace,
                                   bool accumulate, cudaStream_t stream);

/// Enqueues db[k] = (accumulate ? db[k] : 0) + Σ_n Σ_q dy[n,k,q] for dy
/// [N, K, Q] (K >= 1). With N·Q == 0 it writes zeros, or nothing under
/// accumulate. `partials` (bias_segments(N, K, Q)·K elements, or null) lets
/// each channel's sum be split into segments over the GPU; null runs one
/// block per channel.
template <class T>
void direct_backward_bias_launch(std::int64_t N, std::int64_t K, std::int64_t Q, const T* dy, T* db, bool accumulate,
                                 T* partials, cudaStream_t stream);

}  // namespace convkit::detail
