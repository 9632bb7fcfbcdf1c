// Algorithm::Im2colGemm, host side: lowers a chunk of images to column
// matrices in the context's workspace (kernels/im2col.cuh) and multiplies
// them with the weights by cuBLAS strided-batched GEMMs that write y in NCHW
// directly; a 1x1 stride-1 unpadded convolution skips the lowering and is a
// plain GEMM on x. Formulas for workspace, chunking and the GEMM batches live
// in im2col_gemm.hpp, where the CPU tests check them.
//
// Bias. With the lowering, the column matrix gets one extra row of ones and
// the weights are packed once per call with the bias as an extra column
// ([K, C/G·Πk + 1] in the workspace), so the GEMM itself adds the bias: no
// pass over y beyond the GEMM's own write. That costs one copy of the weights
// (K·(C/G·Πk + 1) elements) and ΠO ones per image and group, both small next
// to y and the columns in the layers this path serves; the alternative,
// beta = 1 onto a bias-filled y, would read and write all of y once more.
// The plain 1x1 GEMM's A operand is x itself, which cannot carry a ones row
// without a copy of x, so there y is filled with the bias first and the GEMM
// accumulates onto it with beta = 1.
//
// Precision: the handle from ContextState::cublas() runs PEDANTIC math (exact
// FP32) unless the context allows TF32. cuBLAS's 64-bit API (_64) takes all
// sizes and batch counts, so no dimension is narrowed to int.
//
// Gradients. Backward-filter lowers x chunk by chunk (as the forward) and
// accumulates dW_g += dY_g · col_gᵀ over the images; backward-data computes
// col_g = W_gᵀ · dY_g into the column buffer and gathers it onto dx with
// col2im (one thread per dx element, no atomics). The pipelines and their
// GEMM descriptors live in im2col_gemm.hpp (run here by DeviceExec, on the
// CPU by the tests); beta 0 is only ever used where cuBLAS writes C without
// reading it. Both are deterministic: cuBLAS without atomics mode, col2im a
// fixed-order gather.
#include "im2col_gemm.hpp"

#include "algorithms.hpp"
#include "check.hpp"

#include <cublas_v2.h>

namespace convkit::detail {
namespace {

constexpr const char* kWho = "Algorithm::Im2colGemm";

cublasStatus_t gemm_call(cublasHandle_t h, const Im2colGemmPlan& g, const Im2colGemmBatch& c, const float* alpha,
                         const float* A, const float* B, const float* beta, float* C) {
  return cublasSgemmStridedBatched_64(h, CUBLAS_OP_N, CUBLAS_OP_N, g.m, g.n, g.k, alpha, A + c.a_offset, g.lda,
                                      c.stride_a, B + c.b_offset, g.ldb, c.stride_b, beta, C + c.c_offset, g.ldc,
                                      c.stride_c, c.batch);
}
cublasStatus_t gemm_call(cublasHandle_t h, const Im2colGemmPlan& g, const Im2colGemmBatch& c, const double* alpha,
                         const double* A, const double* B, const double* beta, double* C) {
  return cublasDgemmStridedBatched_64(h, CUBLAS_OP_N, CUBLAS_OP_N, g.m, g.n, g.k, alpha, A + c.a_offset, g.lda,
                                      c.stride_a, B + c.b_offset, g.ldb, c.stride_b, beta, C + c.c_offset, g.ldc,
                                      c.stride_c, c.batch);
}

// y_chunk = A_chunk · B (+ beta·y_chunk) for `count` images, all groups.
template <class T>
void gemm(ContextState& ctx, const ConvProblem& p, std::int64_t kdim, const T* A, const T* B, T* C,
          std::int64_t count, T beta) {
  cublasHandle_t h = ctx.cublas();
  // Host scalars; set explicitly because the handle is shared with other paths.
  CONVKIT_CUBLAS_TRY(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
  const T alpha = T(1);
  const Im2colGemmPlan plan = im2col_gemm_plan(p, kdim, count);
  for (const Im2colGemmBatch& c : plan.calls) CONVKIT_CUBLAS_TRY(gemm_call(h, plan, c, &alpha, A, B, &beta, C));
}

template <class T>
void run_typed(ContextState& ctx, const ConvProblem& p, const Operands& ops) {
  const T* x = static_cast<const T*>(ops.x);
  const T* w = static_cast<const T*>(ops.w);
  const T* b = static_cast<const T*>(ops.b);
  T* y = static_cast<T*>(ops.y);
  const Im2colWorkspace ws = im2col_workspace(p, dtype_v<T>);
  const Im2colLayout& L = ws.layout;
  cudaStream_t stream = ctx.stream();

  if (ws.plain_gemm) {
    // x's channels of image n, group g are already the column-major [Q, C/G] A operand.
    if (b) launch_fill_bias<T>(stream, p, b, y);
    gemm<T>(ctx, p, L.data_rows, x, w, y, p.N, b ? T(1) : T(0));
    return;
  }

  const std::int64_t chunk = im2col_chunk_images(p, ws, ctx.workspace_limit);
  const std::size_t bytes =
      add_checked(ws.packed, mul_checked(static_cast<std::size_t>(chunk), ws.per_image, kWho), kWho);
  char* base = static_cast<char*>(ctx.workspace(bytes, kWho));
  T* columns = reinterpret_cast<T*>(base + ws.packed);
  const T* B = w;
  if (b) {
    T* packed = reinterpret_cast<T*>(base);
    launch_pack_weights<T>(stream, p, L, w, b, packed);
    B = packed;
  }
  const std::int64_t Q = L.cols;
  // The columns buffer is reused chunk after chunk; stream order keeps the
  // next lowering behind the previous GEMM.
  for (std::int64_t first = 0; first < p.N; first += chunk) {
    const std::int64_t count = std::min(chunk, p.N - first);
    launch_im2col<T>(stream, p, L, x, columns, first, count);
    gemm<T>(ctx, p, L.rows, columns, B, y + first * p.K * Q, count, T(0));
  }
}

// ---------------------------------------------------------------- backward

cublasOperation_t op_of(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

cublasStatus_t grad_gemm_call(cublasHandle_t h, const Im2colGradGemm& g, const Im2colGradCall& c, const float* A,
                              const float* B, float* C) {
  const float alpha = 1.f, beta = c.accumulate ? 1.f : 0.f;
  const Im2colGemmBatch& a = c.at;
  return cublasSgemmStridedBatched_64(h, op_of(g.trans_a), op_of(g.trans_b), g.m, g.n, g.k, &alpha, A + a.a_offset,
                                      g.lda, a.stride_a, B + a.b_offset, g.ldb, a.stride_b, &beta, C + a.c_offset,
                                      g.ldc, a.stride_c, a.batch);
}
cublasStatus_t grad_gemm_call(cublasHandle_t h, const Im2colGradGemm& g, const Im2colGradCall& c, const double* A,
                              const double* B, double* C) {
  const double alpha = 1.0, beta = c.accumulate ? 1.0 : 0.0;
  const Im2colGemmBatch& a = c.at;
  return cublasDgemmStridedBatched_64(h, op_of(g.trans_a), op_of(g.trans_b), g.m, g.n, g.k, &alpha, A + a.a_offset,
                                      g.lda, a.stride_a, B + a.b_offset, g.ldb, a.stride_b, &beta, C + a.c_offset,
                                      g.ldc, a.stride_c, a.batch);
}

// The backward pipelines' executor on the device: kernel launches and cuBLAS
// calls on the context's stream, the column buffer in its workspace.
template <class T>
class DeviceExec {
 public:
  explicit DeviceExec(ContextState& ctx) : ctx_(ctx), stream_(ctx.stream()), h_(ctx.cublas()) {
    // Host scalars; set explicitly because the handle is shared with other paths.
    CONVKIT_CUBLAS_TRY(cublasSetPointerMode(h_, CUBLAS_POINTER_MODE_HOST));
  }
  void* workspace(std::size_t bytes) { return ctx_.workspace(bytes, kWho); }
  void im2col(const ConvProblem& p, const Im2colLayout& L, const T* x, T* cols, std::int64_t first,
              std::int64_t count) {
    launch_im2col<T>(stream_, p, L, x, cols, first, count);
  }
  void col2im(const ConvProblem& p, const Im2colLayout& L, const T* cols, T* dx, std::int64_t count,
              bool accumulate) {
    launch_col2im<T>(stream_, p, L, cols, dx, count, accumulate);
  }
  void gemm(const Im2colGradGemm& g, const Im2colGradCall& c, const T* A, const T* B, T* C) {
    CONVKIT_CUBLAS_TRY(grad_gemm_call(h_, g, c, A, B, C));
  }

 private:
  ContextState& ctx_;
  cudaStream_t stream_;
  cublasHandle_t h_;
};

template <class T>
void run_backward_typed(ContextState& ctx, const ConvProblem& p, Direction d, const GradOperands& g) {
  DeviceExec<T> ex(ctx);
  if (d == Direction::BackwardData)
    im2col_backward_data_pipeline<T>(ex, p, ctx.workspace_limit, static_cast<const T*>(g.dy),
                                     static_cast<const T*>(g.w), static_cast<T*>(g.out), g.accumulate);
  else
    im2col_backward_filter_pipeline<T>(ex, p, ctx.workspace_limit, static_cast<const T*>(g.x),
                                       static_cast<const T*>(g.dy), static_cast<T*>(g.out), g.accumulate);
}

Support supports_im2col_gemm_backward(const ConvProblem& p, DType t, Direction d) {
  const Im2colWorkspace ws = im2col_backward_workspace(p, t);
  if (ws.min == std::numeric_limits<std::size_t>::max())
    return unsupported(msg("one image's column matrix (", p.G, " x ", ws.layout.rows, " x ", ws.layout.cols,
                           " elements) does not fit in 64-bit byte counts"));
  return supported(im2col_backward_variant(p, d));
}

std::size_t workspace_im2col_gemm_backward(const ConvProblem& p, DType t, Direction) {
  return im2col_backward_workspace(p, t).full;
}
std::size_t min_workspace_im2col_gemm_backward(const ConvProblem& p, DType t, Direction) {
  return im2col_backward_workspace(p, t).min;
}

void run_im2col_gemm_backward(ContextState& ctx, const ConvProblem& p, DType t, Direction d,
                              const GradOperands& g) {
  CONVKIT_EXPECTS(d == Direction::BackwardData || d == Direction::BackwardFilter, Status::InternalError,
                  kWho, ": run_backward called for the ", direction_name(d), " pass");
  if (t == DType::F32)
    run_backward_typed<float>(ctx, p, d, g);
  else
    run_backward_typed<double>(ctx, p, d, g);
}

Support supports_im2col_gemm(const ConvProblem& p, DType t) {
  const Im2colWorkspace ws = im2col_workspace(p, t);
  if (ws.min == std::numeric_limits<std::size_t>::max())
    return unsupported(msg("one image's column matrix (", p.G, " x ", ws.layout.rows, " x ", ws.layout.cols,
                           " elements) does not fit in 64-bit byte counts"));
  return supported(im2col_variant(p));
}

std::size_t workspace_im2col_gemm(const ConvProblem& p, DType t) { return im2col_workspace(p, t).full; }
std::size_t min_workspace_im2col_gemm(const ConvProblem& p, DType t) { return im2col_workspace(p, t).min; }

void run_im2col_gemm(ContextState& ctx, const ConvProblem& p, DType t, const Operands& ops) {
  if (t == DType::F32)
    run_typed<float>(ctx, p, ops);
  else
    run_typed<double>(ctx, p, ops);
}

// Shared argument checks of the benchmark hooks.
void check_hook(const ConvProblem& p, std::int64_t first, std::int64_t count, const char* who) {
  CONVKIT_EXPECTS(!p.has_bias, Status::InvalidArgument, who, ": takes bias-free problems; got ", p);
  CONVKIT_EXPECTS(first >= 0 && count >= 0 && first <= p.N - count, Status::InvalidArgument, who,
                  ": images [", first, ", ", first, " + ", count, ") are not within the batch of N = ", p.N);
}

}  // namespace

const AlgorithmOps kIm2colGemmOps{Algorithm::Im2colGemm,
                                  supports_im2col_gemm,
                                  workspace_im2col_gemm,
                                  min_workspace_im2col_gemm,
                                  run_im2col_gemm,
                                  nullptr,
                                  supports_im2col_gemm_backward,
                                  workspace_im2col_gemm_backward,
                                  min_workspace_im2col_gemm_backward,
                                  run_im2col_gemm_backward};

// ---------------------------------------------------------------- benchmark hooks

std::size_t im2col_column_bytes_per_image(const ConvProblem& p, DType t) {
  const Im2colLayout L = im2col_layout(p, false);
  return mul_sat(mul_sat(mul_sat(std::size_t(p.G), std::size_t(L.rows)), std::size_t(L.cols)), dtype_size(t));
}

void im2col_only(Context& ctx, const ConvProblem& p, DType t, const void* x, void* columns, std::int64_t first_image,
                 std::int64_t count) {
  check_hook(p, first_image, count, "im2col_only");
  if (count == 0) return;
  CONVKIT_EXPECTS(x && columns, Status::InvalidArgument, "im2col_only: x and columns must be device pointers");
  cudaStream_t s = ctx.state()->stream();
  const Im2colLayout L = im2col_layout(p, false);
  if (t == DType::F32)
    launch_im2col<float>(s, p, L, static_cast<const float*>(x), static_cast<float*>(columns), first_image, count);
  else
    launch_im2col<double>(s, p, L, static_cast<const double*>(x), static_cast<double*>(columns), first_image,
                          count);
}

void gemm_only(Context& ctx, const ConvProblem& p, DType t, const void* columns, const void* w, void* y,
               std::int64_t first_image, std::int64_t count) {
  check_hook(p, first_image, count, "gemm_only");
  if (count == 0) return;
  CONVKIT_EXPECTS(columns && w && y, Status::InvalidArgument,
                  "gemm_only: columns, w and y must be device pointers");
  ContextState& st = *ctx.state();
  const Im2colLayout L = im2col_layout(p, false);
  const std::int64_t off = first_image * p.K * L.cols;
  if (t == DType::F32)
    gemm<float>(st, p, L.rows, static_cast<const float*>(columns), static_cast<const float*>(w),
                static_cast<float*>(y) + off, count, 0.f);
  else
    gemm<double>(st, p, L.rows, static_cast<const double*>(columns), static_cast<const double*>(w),
                 static_cast<double*>(y) + off, count, 0.0);
}

}  // namespace convkit::detail
