// Validation of a call's tensors against its spec, shared by every entry point
// (conv, ConvPlan, the reference), so each checks the same rules the same way.
#pragma once

#include <convkit/spec.hpp>
#include <convkit/tensor.hpp>

namespace convkit::detail {

/// Raw operand pointers handed to an algorithm after validation.
struct Operands {
  const void* x = nullptr;
  const void* w = nullptr;
  const void* b = nullptr;  ///< null when the spec has no bias
  void* y = nullptr;
};

/// Checks that `t` is present, of dtype `dtype`, at `where`, of shape `shape`,
/// non-null when non-empty, and writable when `writable`. `name` names the
/// tensor in messages ("x", "w", "bias", "y").
void check_tensor(const TensorArg& t, const char* name, DType dtype, Location where, const Shape& shape,
                  bool writable);

/// Checks the bias argument against the spec: present with shape [K] when
/// has_bias, absent otherwise.
void check_bias(const TensorArg& bias, bool has_bias, DType dtype, Location where, std::int64_t K);

/// Validates a convolution call completely and returns the resolved problem.
/// `bias` may be absent (present == false) exactly when !spec.has_bias().
/// Also rejects y overlapping x, w or bias.
ConvProblem validate_conv(const ConvSpec& spec, const TensorArg& x, const TensorArg& w,
                          const TensorArg& bias, const TensorArg& y, Location where);

/// Throws InvalidArgument when the byte ranges of `out` and `in` overlap.
void check_no_overlap(const TensorArg& out, const char* out_name, const TensorArg& in, const char* in_name);

}  // namespace convkit::detail
