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
#pragma once

#include <convkit/context.hpp>
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

/// The GEMMs of `count` images, all groups. Shared sizes m = Q, n = K/G,
/// k = kdim, lda = ldc = Q, ldb = kdim. Entry (image i, group g) has
///   A at (i·G + g)·kdim·Q,  B at g·(K/G)·kdim,  C at (i·G + g)·(K/G)·Q,
/// so A and C are uniform in i·G + g but B repeats per image: batch the
/// groups of each image (count < G calls) or the images of each group (G
/// calls), whichever needs fewer calls. G == 1 is always one call.
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
  if (count <= 0) return g;
  if (count < G) {
    for (std::int64_t i = 0; i < count; ++i)
      g.calls.push_back({i * G * kdim * Q, 0, i * p.K * Q, kdim * Q, Kg * kdim, Kg * Q, G});
  } else {
    for (std::int64_t j = 0; j < G; ++j)
      g.calls.push_back({j * kdim * Q, j * Kg * kdim, j * Kg * Q, G * kdim * Q, 0, p.K * Q, count});
  }
  return g;
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
