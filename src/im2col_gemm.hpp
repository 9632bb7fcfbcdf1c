// Algorithm::Im2colGemm, the pieces shared by its host code, its tests and the
// benchmark: the workspace formulas, the chunking rule, the plan of cuBLAS
// strided-batched calls that write y in place, and two exported hooks that
// time the lowering and the GEMM separately. All inline helpers are pure
// host arithmetic so the CPU tests check exactly what run() uses.
//
// The GEMM, per image n and group g, in cuBLAS's column-major terms:
//   y[n, g] as column-major [Q, K/G] (ldc Q)  =  A [Q, kdim] (lda Q) · B [kdim, K/G] (ldb kdim)
// where A is the column matrix (row-major [kdim, Q]) or, for the plain 1x1
// GEMM, x's channels of the group, and B is the weights of the group
// (row-major [K/G, kdim]), read in place, or packed with the bias. No
// transpose pass anywhere.
//
// The backward passes (below the forward's plan) reuse the same column
// layout and workspace formulas, bias-free. Their GEMMs are described as
// data (Im2colGradGemm) and the whole pipeline -- chunking, lowering, GEMM
// calls, col2im -- is one template over an executor, so the CPU tests run it
// with host stand-ins for the kernels and for cuBLAS (DESIGN §6) and
// run_backward runs it with the launches and cuBLAS calls.
#pragma once

#include <convkit/context.hpp>
#include <convkit/conv.hpp>
#include <convkit/export.hpp>
#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include "arith.hpp"
#include "im2col.cuh"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace convkit::detail {

/// A 1x1, stride-1, dilation-1, unpadded convolution is already a matrix
/// product of x: no lowering, no column matrix.
inline bool im2col_is_plain_gemm(const ConvProblem& p) {
  for (int s = 0; s < 3; ++s)
    if (p.ker[s] != 1 || p.stride[s] != 1 || p.dilation[s] != 1 || p.pad_lo[s] != 0 || p.pad_hi[s] != 0)
      return false;
  return true;
}

/// The Support::variant names.
inline const char* im2col_variant(const ConvProblem& p) {
  return im2col_is_plain_gemm(p) ? "im2col/gemm-1x1" : "im2col/im2col+gemm";
}

/// Columns start this many bytes into the workspace at most aligned: the
/// packed weights' size is rounded up to it.
constexpr std::size_t kIm2colAlign = 256;

/// Workspace of one problem. With the lowering (not plain GEMM):
///   rows      = C/G·Πk + (bias ? 1 : 0)              (the ones row carries the bias)
///   per_image = G · rows · ΠO · sizeof(T)             (one image's columns, all groups)
///   packed    = bias ? round_up(K · rows · sizeof(T), 256) : 0   (weights + bias column)
///   min       = packed + per_image                    (one image at a time)
///   full      = packed + N · per_image                (the whole batch at once)
/// The plain 1x1 GEMM reads x and w in place and adds the bias by filling y
/// first: min = full = 0. With N == 0 nothing runs: min = full = 0.
struct Im2colWorkspace {
  bool plain_gemm = false;
  Im2colLayout layout;
  std::size_t packed = 0;
  std::size_t per_image = 0;
  std::size_t min = 0;
  std::size_t full = 0;
};

inline Im2colWorkspace im2col_workspace(const ConvProblem& p, DType t) {
  Im2colWorkspace ws;
  ws.plain_gemm = im2col_is_plain_gemm(p);
  ws.layout = im2col_layout(p, p.has_bias && !ws.plain_gemm);
  if (ws.plain_gemm || p.N == 0) return ws;
  const std::size_t e = dtype_size(t);
  const Im2colLayout& L = ws.layout;
  // Saturating: these are compared with the workspace limit, and a problem
  // too big for 64-bit byte counts saturates to SIZE_MAX (unsupported) rather
  // than wrapping to a small size that would fit.
  ws.per_image = mul_sat(mul_sat(mul_sat(std::size_t(p.G), std::size_t(L.rows)), std::size_t(L.cols)), e);
  if (p.has_bias) {
    const std::size_t w = mul_sat(mul_sat(std::size_t(p.K), std::size_t(L.rows)), e);
    ws.packed = add_sat(w, kIm2colAlign - 1) / kIm2colAlign * kIm2colAlign;
  }
  ws.min = add_sat(ws.packed, ws.per_image);
  ws.full = add_sat(ws.packed, mul_sat(std::size_t(p.N), ws.per_image));
  return ws;
}

/// Images per chunk under a workspace limit: run() uses
/// budget = max(min, min(full, limit)) bytes, the packed weights once and as
/// many whole images' columns as fit in the rest (at least 1, at most N).
inline std::int64_t im2col_chunk_images(const ConvProblem& p, const Im2colWorkspace& ws, std::size_t limit) {
  if (ws.plain_gemm || ws.per_image == 0) return p.N;
  const std::size_t budget = std::max(ws.min, std::min(ws.full, limit));
  const std::size_t fit = (budget - ws.packed) / ws.per_image;
  return std::max<std::int64_t>(1, std::min<std::int64_t>(p.N, static_cast<std::int64_t>(
                                                                   std::min<std::size_t>(fit, std::size_t(p.N)))));
}

/// One cuBLAS strided-batched call: operand offsets (elements, from the
/// chunk's A, B and C bases), strides between batch entries, batch count.
struct Im2colGemmBatch {
  std::int64_t a_offset = 0, b_offset = 0, c_offset = 0;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  std::int64_t batch = 0;
};

/// Where entry (image i, group g) of a batched GEMM finds one operand:
/// i·image + g·group elements from that operand's base.
struct Im2colOperandStep {
  std::int64_t image = 0, group = 0;
};

/// The strided-batched calls covering `count` images × G groups, operands
/// stepping as `a`, `b`, `c`. When the images may share a call, whichever
/// needs fewer calls: the groups of each image (count < G: count calls) or
/// the images of each group (G calls). When they may not (they accumulate
/// into the same C), the groups of each image, call i for image i. None
/// when count <= 0.
inline std::vector<Im2colGemmBatch> im2col_gemm_batches(std::int64_t count, std::int64_t G, Im2colOperandStep a,
                                                        Im2colOperandStep b, Im2colOperandStep c,
                                                        bool images_may_share_a_call) {
  std::vector<Im2colGemmBatch> calls;
  if (count <= 0) return calls;
  if (count < G || !images_may_share_a_call) {
    for (std::int64_t i = 0; i < count; ++i)
      calls.push_back({i * a.image, i * b.image, i * c.image, a.group, b.group, c.group, G});
  } else {
    for (std::int64_t j = 0; j < G; ++j)
      calls.push_back({j * a.group, j * b.group, j * c.group, a.image, b.image, c.image, count});
  }
  return calls;
}

/// The GEMMs of `count` images, all groups. Shared sizes m = Q, n = K/G,
/// k = kdim, lda = ldc = Q, ldb = kdim. Entry (image i, group g) has
///   A at (i·G + g)·kdim·Q,  B at g·(K/G)·kdim,  C at (i·G + g)·(K/G)·Q,
/// so A and C are uniform in i·G + g but B repeats per image: batch the
/// groups of each image (count < G calls) or the images of each group (G
/// calls), whichever needs fewer calls (im2col_gemm_batches). G == 1 is
/// always one call.
struct Im2colGemmPlan {
  std::int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  std::vector<Im2colGemmBatch> calls;
};

inline Im2colGemmPlan im2col_gemm_plan(const ConvProblem& p, std::int64_t kdim, std::int64_t count) {
  Im2colGemmPlan g;
  const std::int64_t Q = p.out[0] * p.out[1] * p.out[2], Kg = p.K / p.G, G = p.G;
  g.m = Q;
  g.n = Kg;
  g.k = kdim;
  g.lda = Q;
  g.ldb = kdim;
  g.ldc = Q;
  g.calls = im2col_gemm_batches(count, G, {G * kdim * Q, kdim * Q}, {0, Kg * kdim}, {p.K * Q, Kg * Q}, true);
  return g;
}

// ---------------------------------------------------------------- backward passes
//
// Both gradients use the forward's bias-free column layout: per image and
// group the column matrix col_g is row-major [kdim, Q] (kdim = C/G·Πk, row
// c·Πk + t pairing with *stored* weight tap t, the flip living in the row
// order), i.e. column-major [Q, kdim] with ld Q. dy[n, group g] is row-major
// [K/G, Q] = column-major [Q, K/G] (ld Q); W_g (and dW_g) row-major
// [K/G, kdim] = column-major [kdim, K/G] (ld kdim). So, in cuBLAS's terms:
//
//   backward-filter  dW_g [kdim, K/G] (ldc kdim) (+)= col_gᵀ · dY_g :
//                    op(A) = Aᵀ, A = columns [Q, kdim] (lda Q); B = dy [Q, K/G] (ldb Q);
//                    m = kdim, n = K/G, k = Q. Summed over images: the first
//                    GEMM of the pass has beta = accumulate, every later one 1.
//   backward-data    col_g [Q, kdim] (ldc Q) = dY_g · W_gᵀ :
//                    A = dy [Q, K/G] (lda Q); op(B) = Bᵀ, B = w [kdim, K/G] (ldb kdim);
//                    m = Q, n = kdim, k = K/G; beta 0 into the column buffer,
//                    then col2im gathers the columns onto dx.
//
// dW lands in w's layout [K, C/G, k...] because the rows are ordered by
// stored tap. For the plain 1x1 GEMM (im2col_is_plain_gemm) x is its own
// column matrix (image stride C·Q = G·kdim·Q, as the lowering's), so
// backward-filter multiplies x directly and backward-data writes
// dx = dY·Wᵀ straight into dx with beta = accumulate: no workspace.

/// One strided-batched call of a backward GEMM: where its operands start,
/// and whether it accumulates into C (beta 1) or overwrites it without
/// reading it (beta 0).
struct Im2colGradCall {
  Im2colGemmBatch at;
  bool accumulate = false;
};

/// C = op(A)·op(B) (+ C) per call, column-major, shared sizes.
struct Im2colGradGemm {
  bool trans_a = false, trans_b = false;
  std::int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  std::vector<Im2colGradCall> calls;
};

/// Backward-filter GEMMs of `count` images whose columns (or, plain, x)
/// start at the A base, dy at the B base (the chunk's first image), dW at C.
/// One call per image, batched over groups: entry (image i, group g) has
///   A at (i·G + g)·kdim·Q,  B at (i·G + g)·(K/G)·Q,  C at g·(K/G)·kdim.
/// Images cannot be batched: they all accumulate into the same dW_g
/// (im2col_gemm_batches with images_may_share_a_call false). Call i
/// accumulates when i > 0, call 0 when `accumulate_first`.
inline Im2colGradGemm im2col_dw_gemm(const ConvProblem& p, std::int64_t kdim, std::int64_t count,
                                     bool accumulate_first) {
  Im2colGradGemm g;
  const std::int64_t Q = p.out[0] * p.out[1] * p.out[2], Kg = p.K / p.G, G = p.G;
  g.trans_a = true;
  g.trans_b = false;
  g.m = kdim;
  g.n = Kg;
  g.k = Q;
  g.lda = Q;
  g.ldb = Q;
  g.ldc = kdim;
  const std::vector<Im2colGemmBatch> calls =
      im2col_gemm_batches(count, G, {G * kdim * Q, kdim * Q}, {p.K * Q, Kg * Q}, {0, Kg * kdim}, false);
  for (std::size_t i = 0; i < calls.size(); ++i) g.calls.push_back({calls[i], i > 0 || accumulate_first});
  return g;
}

/// Backward-data GEMMs of `count` images: dy at the A base (the chunk's
/// first image), w at B, the columns (or, plain, dx) at C. Entry (image i,
/// group g) has
///   A at (i·G + g)·(K/G)·Q,  B at g·(K/G)·kdim,  C at (i·G + g)·kdim·Q,
/// uniform in i·G + g except B, which repeats per image: batched like the
/// forward (im2col_gemm_batches: groups of each image when count < G, else
/// images of each group).
/// Every call accumulates iff `accumulate`.
inline Im2colGradGemm im2col_dx_gemm(const ConvProblem& p, std::int64_t kdim, std::int64_t count, bool accumulate) {
  Im2colGradGemm g;
  const std::int64_t Q = p.out[0] * p.out[1] * p.out[2], Kg = p.K / p.G, G = p.G;
  g.trans_a = false;
  g.trans_b = true;
  g.m = Q;
  g.n = kdim;
  g.k = Kg;
  g.lda = Q;
  g.ldb = kdim;
  g.ldc = Q;
  for (const Im2colGemmBatch& at :
       im2col_gemm_batches(count, G, {p.K * Q, Kg * Q}, {0, Kg * kdim}, {G * kdim * Q, kdim * Q}, true))
    g.calls.push_back({at, accumulate});
  return g;
}

/// The backward passes' problem: the bias plays no part.
inline ConvProblem im2col_backward_problem(ConvProblem p) {
  p.has_bias = false;
  return p;
}

/// Workspace of either backward pass: the forward's formulas without bias,
///   per_image = G·(C/G·Πk)·ΠO·sizeof(T), min = per_image, full = N·per_image,
/// and 0 for the plain 1x1 GEMM (and N = 0). Chunked by im2col_chunk_images.
inline Im2colWorkspace im2col_backward_workspace(const ConvProblem& p, DType t) {
  return im2col_workspace(im2col_backward_problem(p), t);
}

/// The backward variant names (Support::variant).
inline const char* im2col_backward_variant(const ConvProblem& p, Direction d) {
  const bool plain = im2col_is_plain_gemm(p);
  if (d == Direction::BackwardData) return plain ? "im2col/gemm-1x1-dx" : "im2col/gemm+col2im-dx";
  return plain ? "im2col/gemm-1x1-dw" : "im2col/im2col+gemm-dw";
}

// The backward pipelines, over an executor `ex` with
//   void* workspace(std::size_t bytes);                // at most once per pass
//   void im2col(const ConvProblem&, const Im2colLayout&, const T* x, T* cols, std::int64_t first, std::int64_t count);
//   void col2im(const ConvProblem&, const Im2colLayout&, const T* cols, T* dx, std::int64_t count, bool accumulate);
//   void gemm(const Im2colGradGemm&, const Im2colGradCall&, const T* A, const T* B, T* C);
// (the device one in im2col_gemm.cpp: kernel launches and cuBLAS; the CPU
// tests': im2col_host, col2im_host and a column-major GEMM replay). `limit`
// is the context's workspace limit; the pass asks for at most
// max(min, min(full, limit)) bytes. N >= 1 (the caller handles N = 0).

/// dx (+)= the backward-data gradient of dy [N, K, O...] with weights w.
template <class T, class Exec>
void im2col_backward_data_pipeline(Exec& ex, const ConvProblem& problem, std::size_t limit, const T* dy, const T* w,
                                   T* dx, bool accumulate) {
  const ConvProblem p = im2col_backward_problem(problem);
  const Im2colWorkspace ws = im2col_workspace(p, dtype_v<T>);
  const Im2colLayout& L = ws.layout;
  if (p.N <= 0) return;
  if (ws.plain_gemm) {
    const Im2colGradGemm g = im2col_dx_gemm(p, L.data_rows, p.N, accumulate);
    for (const Im2colGradCall& c : g.calls) ex.gemm(g, c, dy, w, dx);
    return;
  }
  const char* who = "Algorithm::Im2colGemm backward-data";
  const std::int64_t chunk = im2col_chunk_images(p, ws, limit);
  T* cols = static_cast<T*>(ex.workspace(mul_checked(static_cast<std::size_t>(chunk), ws.per_image, who)));
  const std::int64_t Q = L.cols, S = p.in[0] * p.in[1] * p.in[2];
  // The column buffer is reused chunk after chunk; on the device stream
  // order keeps the next GEMM behind the previous col2im.
  for (std::int64_t first = 0; first < p.N; first += chunk) {
    const std::int64_t count = std::min(chunk, p.N - first);
    const Im2colGradGemm g = im2col_dx_gemm(p, L.rows, count, false);
    for (const Im2colGradCall& c : g.calls) ex.gemm(g, c, dy + first * p.K * Q, w, cols);
    ex.col2im(p, L, cols, dx + first * p.C * S, count, accumulate);
  }
}

/// dw (+)= the backward-filter gradient of x [N, C, D...] and dy [N, K, O...].
template <class T, class Exec>
void im2col_backward_filter_pipeline(Exec& ex, const ConvProblem& problem, std::size_t limit, const T* x,
                                     const T* dy, T* dw, bool accumulate) {
  const ConvProblem p = im2col_backward_problem(problem);
  const Im2colWorkspace ws = im2col_workspace(p, dtype_v<T>);
  const Im2colLayout& L = ws.layout;
  if (p.N <= 0) return;
  if (ws.plain_gemm) {
    const Im2colGradGemm g = im2col_dw_gemm(p, L.data_rows, p.N, accumulate);
    for (const Im2colGradCall& c : g.calls) ex.gemm(g, c, x, dy, dw);
    return;
  }
  const char* who = "Algorithm::Im2colGemm backward-filter";
  const std::int64_t chunk = im2col_chunk_images(p, ws, limit);
  T* cols = static_cast<T*>(ex.workspace(mul_checked(static_cast<std::size_t>(chunk), ws.per_image, who)));
  const std::int64_t Q = L.cols;
  for (std::int64_t first = 0; first < p.N; first += chunk) {
    const std::int64_t count = std::min(chunk, p.N - first);
    ex.im2col(p, L, x, cols, first, count);
    const Im2colGradGemm g = im2col_dw_gemm(p, L.rows, count, first > 0 || accumulate);
    for (const Im2colGradCall& c : g.calls) ex.gemm(g, c, cols, dy + first * p.K * Q, dw);
  }
}

// ---------------------------------------------------------------- benchmark hooks
//
// For timing the two halves of the algorithm apart. Both take a validated,
// bias-free problem (InvalidArgument otherwise), device pointers, and images
// [first_image, first_image + count) of the batch; they enqueue on ctx's
// stream and never synchronise. They always take the lowering route, also for
// problems run() serves as a plain 1x1 GEMM -- whose column matrix is then
// exactly x, so gemm_only on x times that plain GEMM.

/// Bytes of one image's column matrix (all groups): G·(C/G)·Πk·ΠO·sizeof(T).
CONVKIT_EXPORT std::size_t im2col_column_bytes_per_image(const ConvProblem& p, DType t);

/// Writes the columns of images [first_image, first_image + count) to
/// `columns` (count · im2col_column_bytes_per_image bytes).
CONVKIT_EXPORT void im2col_only(Context& ctx, const ConvProblem& p, DType t, const void* x, void* columns,
                                std::int64_t first_image, std::int64_t count);

/// y[first_image .. first_image + count) = the GEMMs of those images'
/// columns (as im2col_only wrote them) with weights w [K, C/G, k...]. `y`
/// is the whole output [N, K, O...].
CONVKIT_EXPORT void gemm_only(Context& ctx, const ConvProblem& p, DType t, const void* columns, const void* w,
                              void* y, std::int64_t first_image, std::int64_t count);

}  // namespace convkit::detail
