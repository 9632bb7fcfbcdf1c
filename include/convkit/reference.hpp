// The CPU reference: straight loops in double precision over DESIGN §1's
// definition and its three gradients (§1b). Slow on purpose, the oracle every
// other path is checked against. Needs no GPU; takes host views only.
#pragma once

#include <convkit/export.hpp>
#include <convkit/spec.hpp>
#include <convkit/tensor.hpp>

#include <cstdint>

namespace convkit {
namespace reference {

/// y = conv(x, w) (+ bias) on the host, accumulating in double. x, w, y (and
/// bias) are host views of one dtype (float or double). Validates like
/// convkit::conv and throws Error(InvalidArgument) before writing y.
CONVKIT_EXPORT void conv(const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg y);
CONVKIT_EXPORT void conv(const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg bias, TensorArg y);

/// Reference values of selected output elements only (for checking outputs
/// too large to compute whole): out[j] = y[flat_indices[j]], where y is the
/// output conv() would produce, accumulated in double. Host views; x, w
/// (bias) as for conv(); each index must lie in [0, numel(y)).
CONVKIT_EXPORT void conv_sampled(const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg bias,
                                 const std::int64_t* flat_indices, std::int64_t count, double* out);

/// The transposed convolution, the adjoint of conv() without bias: for the
/// linear map y = T·x that conv() computes for fixed w, dx = Tᵀ·dy -- the
/// gradient with respect to the input. Boundary modes fold the adjoint back
/// onto the input elements they read. dy has conv's output shape, dx the
/// input shape. conv_backward_data() with beta 0 computes the same; this one
/// also rejects a spec with bias(true).
CONVKIT_EXPORT void conv_transpose(const ConvSpec& spec, TensorArg dy, TensorArg w, TensorArg dx);

// The three gradients of conv() (DESIGN §1b) for a loss L with dy = ∂L/∂y.
// Each accumulates in double and writes its output once at the end. `beta`
// follows cuDNN: 0 overwrites the output without reading it (so garbage or
// NaN already there cannot leak), 1 adds the gradient to what is there (for
// a weight shared by several layers); any other value is rejected. Every
// argument is checked before anything is written: on an Error the output is
// left untouched. The spec's bias flag is ignored (the bias does not change
// these gradients; see conv_backward_bias). Host views only; these run on
// the calling thread and never touch a device, so there is nothing to
// synchronise.

/// Gradient with respect to the input: dx = beta·dx + Tᵀ·dy, T the linear map
/// conv() computes for fixed w; boundary modes fold the adjoint back onto the
/// input elements they read. This is also the transposed convolution.
/// \param spec  the forward spec.
/// \param dy    ∂L/∂y, of the forward output shape spec gives for dx and w.
/// \param w     the forward weights [K, C/G, k1..kd].
/// \param dx    output, [N, C, D1..Dd]: its shape is the forward input's, and
///              so resolves which input size a strided forward came from
///              (PyTorch's output_padding).
/// \param beta  0 (overwrite) or 1 (accumulate).
/// \throws Error(InvalidArgument) for a missing, non-host, misaligned or
///         read-only tensor, mismatched dtypes (dy's dtype is the reference),
///         a (dx, w) pair the spec rejects, dy not of the forward output
///         shape, dx overlapping dy or w, or beta other than 0 or 1;
///         Error(OutOfMemory) when the double accumulator cannot be allocated.
CONVKIT_EXPORT void conv_backward_data(const ConvSpec& spec, TensorArg dy, TensorArg w, TensorArg dx,
                                       double beta = 0.0);

/// Gradient with respect to the weights:
/// dw[k,c,i] = beta·dw[k,c,i] + Σ_n Σ_o dy[n,k,o] · x̃[n, g·C/G + c, o·s + i·dil − lo],
/// x̃ the boundary-extended input, and tap k_size−1−i in place of i under
/// Mode::Convolution.
/// \param spec  the forward spec.
/// \param x     the forward input [N, C, D1..Dd]; its dtype is the reference.
/// \param dy    ∂L/∂y, of the forward output shape spec gives for x and dw.
/// \param dw    output, the forward weights' shape [K, C/G, k1..kd]: a shape
///              the spec accepts with x. With N = 0 the gradient is 0.
/// \param beta  0 (overwrite) or 1 (accumulate).
/// \throws Error(InvalidArgument) for a missing, non-host, misaligned or
///         read-only tensor, mismatched dtypes, an (x, dw) pair the spec
///         rejects, dy not of the forward output shape, dw overlapping x or
///         dy, or beta other than 0 or 1; Error(OutOfMemory) when the double
///         accumulator cannot be allocated.
CONVKIT_EXPORT void conv_backward_filter(const ConvSpec& spec, TensorArg x, TensorArg dy, TensorArg dw,
                                         double beta = 0.0);

/// Gradient with respect to the bias: db[k] = beta·db[k] + Σ_n Σ_o dy[n,k,o].
/// \param dy    ∂L/∂y, a forward output [N, K, O1..Od] (rank 3 to 5); its
///              dtype is the reference.
/// \param db    output, [K].
/// \param beta  0 (overwrite) or 1 (accumulate).
/// \throws Error(InvalidArgument) for a missing, non-host, misaligned or
///         read-only tensor, mismatched dtypes, dy of rank other than 3 to 5,
///         db not of shape [K], db overlapping dy, or beta other than 0 or 1.
CONVKIT_EXPORT void conv_backward_bias(TensorArg dy, TensorArg db, double beta = 0.0);

}  // namespace reference
}  // namespace convkit
