// Validation of a call's tensors against its spec, shared by every entry point
// (conv, ConvPlan, the reference), so each checks the same rules the same way.
#pragma once

#include <convkit/conv.hpp>
#include <convkit/export.hpp>
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

/// Enum arguments: Error(InvalidArgument) naming the parameter, the value and
/// the valid values when `v` is none of the enumerators (a cast integer).
/// Every entry point checks its enums here before doing anything else.
void check_enum(Mode v, const char* param = "mode");
void check_enum(Boundary v, const char* param = "boundary");
void check_enum(DType v, const char* param = "dtype");
void check_enum(Location v, const char* param = "location");
void check_enum(Algorithm v, const char* param = "algorithm");
void check_enum(Direction v, const char* param = "direction");

/// spec.problem(x, w) for a call that also names a dtype (the queries and
/// ConvPlan): the dtype is checked first.
ConvProblem validate_problem(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype);

/// Checks that `t` is present, of a valid dtype equal to `dtype`, at `where`,
/// of shape `shape`, non-null when non-empty, aligned to its element size,
/// with a byte range inside the address space, and writable when `writable`.
/// `name` names the tensor in messages ("x", "w", "bias", "y").
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

/// Throws InvalidArgument when the byte ranges of `out` and `in` overlap. The
/// ranges' ends saturate, so a range running off the address space still
/// overlaps whatever lies above its start.
CONVKIT_EXPORT void check_no_overlap(const TensorArg& out, const char* out_name, const TensorArg& in, const char* in_name);

// ------------------------------------------------------------ gradients
// Shared by convkit::conv_backward_* and reference::conv_backward_*; `fn`
// names the call in messages. The problems returned have has_bias = false
// (the gradients of x and w do not involve the bias).

/// beta 0 -> false (overwrite), 1 -> true (accumulate); anything else is
/// InvalidArgument naming `fn`.
bool accumulate_from_beta(double beta, const char* fn);

/// dy [forward output of (dx, w)], w, dx: present, one dtype, at `where`, dx
/// writable and overlapping neither input. dx's shape gives the problem.
/// dy_name / dx_name name them in messages (conv_transpose: "x" / "y").
ConvProblem validate_backward_data(const ConvSpec& spec, const TensorArg& dy, const TensorArg& w, const TensorArg& dx,
                                   Location where, const char* fn, const char* dy_name = "dy",
                                   const char* dx_name = "dx");

/// x, dy [forward output of (x, dw)], dw: as above; dw's shape is w's.
ConvProblem validate_backward_filter(const ConvSpec& spec, const TensorArg& x, const TensorArg& dy,
                                     const TensorArg& dw, Location where, const char* fn);

/// dy [N, K, O1..Od] and db [K]; Q = ΠO.
struct BiasGradShape {
  std::int64_t N = 0, K = 0, Q = 1;
};
BiasGradShape validate_backward_bias(const TensorArg& dy, const TensorArg& db, Location where, const char* fn);

}  // namespace convkit::detail
