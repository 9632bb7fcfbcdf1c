// The GPU entry points: conv() (one call), ConvPlan (set up once, run many
// times), and the queries supports() / workspace_bytes() that answer before
// anything runs. Every entry point validates its arguments completely before
// any device work and writes nothing the caller owns when it throws.
#pragma once

#include <convkit/context.hpp>
#include <convkit/export.hpp>
#include <convkit/spec.hpp>
#include <convkit/tensor.hpp>
#include <convkit/types.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace convkit {

/// The ways convkit can compute a convolution.
enum class Algorithm {
  Auto,            ///< let convkit choose among those that support the problem
  Direct,          ///< sliding-window CUDA kernels
  Im2colGemm,      ///< lower to a column matrix, multiply with cuBLAS
  SparseToeplitz,  ///< explicit (doubly block) Toeplitz matrix in CSR, cuSPARSE
  Fft,             ///< convolution theorem with cuFFT (not built yet)
  Reference,       ///< the CPU oracle, double accumulation; host tensors only
};

/// Name of an algorithm, e.g. "Im2colGemm".
CONVKIT_EXPORT const char* algorithm_name(Algorithm a) noexcept;

/// Answer of supports(): whether an algorithm handles a problem, and why not.
struct Support {
  bool ok = false;
  std::string reason;   ///< why not; empty when ok
  std::string variant;  ///< when ok: which kernel / code path would serve the problem
  explicit operator bool() const { return ok; }
};

/// Whether `algo` can run `spec` on these shapes and dtype. Throws
/// Error(InvalidArgument) if the problem itself is invalid.
/// For Algorithm::Auto: the variant of the algorithm Auto's cost model would
/// run for a one-shot conv() on a default context (workspace_bytes() answers
/// for that algorithm too); choose_algorithm() answers for a given context.
CONVKIT_EXPORT Support supports(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype,
                                Algorithm algo);

/// Exact workspace bytes `algo` uses for this problem when the whole batch
/// fits the context's workspace limit (0 when none). Algorithms that chunk the
/// batch (Im2colGemm) run with less, down to their minimum for one image.
/// SparseToeplitz: its matrix, source-tap map and build scratch (a limit this
/// large never refuses the matrix); cuSPARSE's buffer (sized by cuSPARSE once
/// the matrix exists) and, for N > 1, row-major copies of x and y (taken only
/// when they fit the limit) come on top. Throws
/// InvalidArgument for an invalid problem and NotSupported when `algo` does
/// not support it.
CONVKIT_EXPORT std::size_t workspace_bytes(const ConvSpec& spec, const Shape& x, const Shape& w,
                                           DType dtype, Algorithm algo);

/// y = conv(x, w) (+ bias when spec.has_bias()) on ctx's stream, into the
/// caller's y. Asynchronous: returns once the work is enqueued. x, w, y (and
/// bias) must share one dtype and live on the device (on the host for
/// Algorithm::Reference). Throws InvalidArgument / NotSupported /
/// WorkspaceTooSmall before any device work (SparseToeplitz: a cuSPARSE
/// buffer over the limit, or an algorithm cuSPARSE declines, is found only
/// after its matrix is built, and is refused before y is touched); CudaError
/// etc. from the device.
CONVKIT_EXPORT void conv(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg y,
                         Algorithm algo = Algorithm::Auto);
/// As above, with a bias [K] (spec.has_bias() must be true).
CONVKIT_EXPORT void conv(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg w,
                         TensorArg bias, TensorArg y, Algorithm algo);

/// Allocates y on ctx's stream and computes it; see the overload above.
template <class T>
DeviceTensor<T> conv(Context& ctx, const ConvSpec& spec, const DeviceTensor<T>& x,
                     const DeviceTensor<T>& w, Algorithm algo = Algorithm::Auto) {
  DeviceTensor<T> y(ctx, spec.output_shape(x.shape(), w.shape()));
  conv(ctx, spec, x.view(), w.view(), y.view(), algo);
  return y;
}

namespace detail {
class PlanImpl;
}

/// A convolution set up once for fixed shapes, dtype and algorithm, then run
/// for many inputs. Weights are bound with set_weights() (an algorithm with a
/// prepared form, such as the Toeplitz matrix, refreshes it there without
/// rebuilding its structure). The plan keeps the views it is given: the
/// caller keeps the weight memory alive while the plan uses it.
/// Move-only. A moved-from plan holds nothing: every member call except
/// assignment and the destructor throws InvalidArgument ("used after move")
/// until a plan is assigned to it.
class CONVKIT_EXPORT ConvPlan {
 public:
  /// Validates and prepares. May allocate and build on the device (the
  /// Toeplitz matrix) and, with Algorithm::Auto on a tuning context,
  /// synchronise the stream once to time the candidates. Throws
  /// InvalidArgument, NotSupported, WorkspaceTooSmall, NoDevice.
  ConvPlan(Context& ctx, const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype,
           Algorithm algo);
  ~ConvPlan();
  ConvPlan(ConvPlan&&) noexcept;
  ConvPlan& operator=(ConvPlan&&) noexcept;

  /// Binds new weights (and bias when the spec has one). Asynchronous.
  void set_weights(TensorArg w, TensorArg bias = TensorArg());
  /// y = conv(x, w) on the context's stream. Asynchronous.
  void run(TensorArg x, TensorArg y);
  /// The transposed convolution (gradient with respect to the input):
  /// x = Tᵀ·y. NotSupported for algorithms that do not provide it.
  void run_transpose(TensorArg y, TensorArg x);

  /// The resolved problem the plan runs.
  const ConvProblem& problem() const;
  /// The algorithm it runs (Auto's choice when Auto was asked for).
  Algorithm algorithm() const;
  /// Its element type.
  DType dtype() const;
  /// Workspace bytes the plan uses while running.
  std::size_t workspace_bytes() const;
  /// The kernel or library path it runs, as Support::variant names it (e.g.
  /// "direct/plane2d"). SparseToeplitz with N > 1 adds the dense layout of
  /// the forward SpMM's latest run: "toeplitz/spmm-rows" (row-major copies in
  /// the workspace) or "toeplitz/spmm-columns" (NCHW in place).
  std::string variant() const;

 private:
  std::unique_ptr<detail::PlanImpl> impl_;
};

}  // namespace convkit
