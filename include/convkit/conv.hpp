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
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace convkit {

/// The ways convkit can compute a convolution.
enum class Algorithm {
  Auto,            ///< let convkit choose among those that support the problem
  Direct,          ///< sliding-window CUDA kernels
  Im2colGemm,      ///< lower to a column matrix, multiply with cuBLAS
  SparseToeplitz,  ///< explicit (doubly block) Toeplitz matrix in CSR, cuSPARSE
  Fft,             ///< convolution theorem with cuFFT (forward; normwise error, see README)
  Reference,       ///< the CPU oracle, double accumulation; host tensors only
};

/// Name of an algorithm, e.g. "Im2colGemm".
CONVKIT_EXPORT const char* algorithm_name(Algorithm a) noexcept;

/// Which pass of a convolution a query, a choice or a call is about
/// (DESIGN §1b). For fixed w the forward map is y = T·x per image:
///  - Forward:        y  = T·x (+ bias);
///  - BackwardData:   dx = Tᵀ·dy, the adjoint, also the transposed convolution;
///  - BackwardFilter: dw[k,c,i] = Σ_n Σ_o dy[n,k,o] · x̃[n, g·C/G + c, o·s + i·dil − lo].
/// Queries take the forward problem's shapes (x, w) in every direction.
enum class Direction { Forward, BackwardData, BackwardFilter };

/// "forward", "backward-data" or "backward-filter".
CONVKIT_EXPORT const char* direction_name(Direction d) noexcept;

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
/// `dir` asks about a backward pass of the same forward problem (x and w are
/// still the forward shapes).
CONVKIT_EXPORT Support supports(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype,
                                Algorithm algo, Direction dir = Direction::Forward);

/// Exact workspace bytes `algo` uses for this problem when the whole batch
/// fits the context's workspace limit (0 when none). Algorithms that chunk the
/// batch (Im2colGemm) run with less, down to their minimum for one image.
/// SparseToeplitz: its matrix, source-tap map and build scratch (a limit this
/// large never refuses the matrix); cuSPARSE's buffer (sized by cuSPARSE once
/// the matrix exists) and, for N > 1, row-major copies of x and y (taken only
/// when they fit the limit) come on top. Throws
/// InvalidArgument for an invalid problem and NotSupported when `algo` does
/// not support it.
/// `dir` as for supports().
CONVKIT_EXPORT std::size_t workspace_bytes(const ConvSpec& spec, const Shape& x, const Shape& w,
                                           DType dtype, Algorithm algo, Direction dir = Direction::Forward);

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

// ------------------------------------------------------------ gradients
//
// The three gradients of conv() for a loss L with dy = ∂L/∂y (DESIGN §1b),
// on ctx's stream, asynchronous, validated completely before any device work
// (a failed call writes nothing). Every operand lives on the device (on the
// host for Algorithm::Reference, which forwards to convkit::reference).
// `beta`, as cuDNN's: 0 overwrites the output and never reads it (a NaN
// already there does not leak through), 1 accumulates into it (frameworks
// sum gradients over uses of a tensor); other values are InvalidArgument.
// The spec's bias flag is ignored by backward-data and backward-filter.

/// dx = beta·dx + Tᵀ·dy: every boundary mode folds the adjoint back onto the
/// input elements it read. dx's shape is the caller's, which resolves the
/// stride ambiguity (several input sizes give one output size); it must give
/// dy's shape under `spec` with w.
CONVKIT_EXPORT void conv_backward_data(Context& ctx, const ConvSpec& spec, TensorArg dy, TensorArg w, TensorArg dx,
                                       Algorithm algo = Algorithm::Auto, double beta = 0.0);

/// dw[k,c,i] = beta·dw[k,c,i] + Σ_n Σ_o dy[n,k,o] · x̃[n, g·C/G + c, o·s + i·dil − lo]
/// (tap k_size − 1 − i under Mode::Convolution). dy must have the forward
/// output shape of x and dw.
CONVKIT_EXPORT void conv_backward_filter(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg dy, TensorArg dw,
                                         Algorithm algo = Algorithm::Auto, double beta = 0.0);

/// db[k] = beta·db[k] + Σ_n Σ_o dy[n,k,o]. dy is [N, K, O1..Od] (d = 1..3),
/// db is [K]. One deterministic reduction (no algorithm to choose); host
/// views (both) run reference::conv_backward_bias.
CONVKIT_EXPORT void conv_backward_bias(Context& ctx, TensorArg dy, TensorArg db, double beta = 0.0);

// ------------------------------------------------ transposed convolution
//
// The transposed convolution as an operation of its own (decoders,
// upsampling): y = Tᵀ·x (+ bias), T being the forward map of `spec` from
// y's shape to x's. In PyTorch's terms, conv_transpose2d(input, weight, bias,
// stride, padding, output_padding, groups, dilation) is
//   conv_transpose(ctx, ConvSpec::conv2d().stride(stride).padding(padding)
//                       .dilation(dilation).groups(groups).bias(bias given),
//                  input, weight, bias, output, algo)
// with output of conv_transpose_output_shape(spec, input, weight,
// output_padding): PyTorch's weight layout [C_in, C_out/groups, k...] is
// convkit's forward w [K, C/G, k...] with K = C_in, C = C_out, and
// output_padding picks which of the input sizes that give input's size is
// meant. Boundary modes other than Zeros and Mode::Convolution are
// convkit's extensions (the adjoint of that forward map).

/// The output shape of conv_transpose: each spatial size is
/// (O − 1)·stride − lo − hi + dil·(k − 1) + 1 + output_padding[i], as
/// PyTorch computes it. output_padding has one entry per spatial dimension
/// (empty: all 0), each in [0, max(stride, dilation)) as PyTorch requires,
/// and the result must give x's size back under `spec` (else
/// InvalidArgument naming the dimension). Named paddings (valid, same, full)
/// resolve as in the forward spec.
CONVKIT_EXPORT Shape conv_transpose_output_shape(const ConvSpec& spec, const Shape& x, const Shape& w,
                                                 const std::vector<std::int64_t>& output_padding = {});

/// y = Tᵀ·x (+ bias[c] on every output of channel c when spec.has_bias();
/// bias is then [C], C = y's channel count). x is [N, K, O...], w the
/// forward weights [K, C/G, k...], y [N, C, D...] any shape whose forward
/// output under `spec` is x's (conv_transpose_output_shape gives PyTorch's).
/// Runs the backward-data path of `algo` (Auto: its backward-data choice).
CONVKIT_EXPORT void conv_transpose(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg bias,
                                   TensorArg y, Algorithm algo = Algorithm::Auto);

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
  /// The plan's backward-data: dx = beta·dx + Tᵀ·dy with the bound weights
  /// (the transposed convolution), dy of the plan's output shape, dx of its
  /// input shape. Runs the plan's algorithm; NotSupported where that
  /// algorithm has no backward-data path (supports(..., BackwardData)).
  void run_backward_data(TensorArg dy, TensorArg dx, double beta = 0.0);
  /// The plan's backward-filter: dw = beta·dw + ∂L/∂w for input x and output
  /// gradient dy (the bound weights are not read). dw is [K, C/G, k...].
  void run_backward_filter(TensorArg x, TensorArg dy, TensorArg dw, double beta = 0.0);
  /// run_backward_data(y, x) (the name from before the gradients existed).
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
