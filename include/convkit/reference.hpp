// The CPU reference: straight loops in double precision over DESIGN §1's
// definition. Slow on purpose, the oracle every other path is checked
// against. Needs no GPU; takes host views only.
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
/// input shape.
CONVKIT_EXPORT void conv_transpose(const ConvSpec& spec, TensorArg dy, TensorArg w, TensorArg dx);

}  // namespace reference
}  // namespace convkit
