// Operand validation shared by every entry point (see validate.hpp).
#include "validate.hpp"

#include <convkit/error.hpp>

#include "check.hpp"

#include <cstdint>

namespace convkit::detail {

void check_tensor(const TensorArg& t, const char* name, DType dtype, Location where, const Shape& shape,
                  bool writable) {
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(t.present, bad, name, " is missing");
  CONVKIT_EXPECTS(t.dtype == dtype, bad, name, " dtype = ", dtype_name(t.dtype), ": must match x dtype ",
                  dtype_name(dtype));
  CONVKIT_EXPECTS(t.location == where, bad, name, " is a ", location_name(t.location),
                  " view: this entry point needs ", location_name(where), " memory");
  CONVKIT_EXPECTS(t.shape == shape, bad, name, " shape = ", t.shape, ": must be ", shape);
  const std::int64_t n = t.shape.numel(name);
  CONVKIT_EXPECTS(t.data != nullptr || n == 0, bad, name, " is a null pointer for a non-empty tensor of shape ",
                  t.shape);
  CONVKIT_EXPECTS(!writable || t.writable, bad, name, " is a view of const data: the output must be writable");
}

void check_no_overlap(const TensorArg& out, const char* out_name, const TensorArg& in, const char* in_name) {
  if (!out.present || !in.present || !out.data || !in.data) return;
  const auto o0 = reinterpret_cast<std::uintptr_t>(out.data);
  const auto i0 = reinterpret_cast<std::uintptr_t>(in.data);
  const auto o1 = o0 + static_cast<std::uintptr_t>(out.shape.numel()) * dtype_size(out.dtype);
  const auto i1 = i0 + static_cast<std::uintptr_t>(in.shape.numel()) * dtype_size(in.dtype);
  CONVKIT_EXPECTS(o1 <= i0 || i1 <= o0 || o0 == o1 || i0 == i1, Status::InvalidArgument, out_name,
                  " overlaps ", in_name, " in memory: the output must not alias an input");
}

void check_bias(const TensorArg& bias, bool has_bias, DType dtype, Location where, std::int64_t K) {
  if (has_bias) {
    CONVKIT_EXPECTS(bias.present, Status::InvalidArgument,
                    "bias is missing: the spec has bias(true), so pass a bias tensor [K]");
    check_tensor(bias, "bias", dtype, where, Shape{K}, false);
  } else {
    CONVKIT_EXPECTS(!bias.present, Status::InvalidArgument, "bias given with shape ", bias.shape,
                    " but the spec has bias(false): set spec.bias(true) to add it");
  }
}

ConvProblem validate_conv(const ConvSpec& spec, const TensorArg& x, const TensorArg& w, const TensorArg& bias,
                          const TensorArg& y, Location where) {
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(x.present, bad, "x is missing");
  CONVKIT_EXPECTS(w.present, bad, "w is missing");
  CONVKIT_EXPECTS(y.present, bad, "y is missing");
  CONVKIT_EXPECTS(w.dtype == x.dtype, bad, "w dtype = ", dtype_name(w.dtype), ": must match x dtype ",
                  dtype_name(x.dtype));
  CONVKIT_EXPECTS(y.dtype == x.dtype, bad, "y dtype = ", dtype_name(y.dtype), ": must match x dtype ",
                  dtype_name(x.dtype));
  const ConvProblem p = spec.problem(x.shape, w.shape);
  check_tensor(x, "x", x.dtype, where, x.shape, false);
  check_tensor(w, "w", x.dtype, where, w.shape, false);
  check_tensor(y, "y", x.dtype, where, p.y_shape(), true);
  check_bias(bias, spec.has_bias(), x.dtype, where, p.K);
  check_no_overlap(y, "y", x, "x");
  check_no_overlap(y, "y", w, "w");
  check_no_overlap(y, "y", bias, "bias");
  return p;
}

}  // namespace convkit::detail
