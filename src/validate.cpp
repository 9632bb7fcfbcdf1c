// Operand validation shared by every entry point (see validate.hpp).
#include "validate.hpp"

#include <convkit/error.hpp>

#include "arith.hpp"
#include "check.hpp"

#include <cstdint>
#include <string>

namespace convkit::detail {

namespace {

[[noreturn]] void bad_enum(const char* param, const char* type, int value, const char* valid) {
  throw Error(Status::InvalidArgument, msg(param, " = ", type, "(", value, "): not a valid ", type,
                                           "; must be one of ", valid));
}

}  // namespace

// No default labels: adding an enumerator makes the compiler point here.
void check_enum(Mode v, const char* param) {
  switch (v) {
    case Mode::CrossCorrelation:
    case Mode::Convolution: return;
  }
  bad_enum(param, "Mode", static_cast<int>(v), "CrossCorrelation (0), Convolution (1)");
}

void check_enum(Boundary v, const char* param) {
  switch (v) {
    case Boundary::Zeros:
    case Boundary::Circular:
    case Boundary::Reflect:
    case Boundary::Replicate:
    case Boundary::Symmetric: return;
  }
  bad_enum(param, "Boundary", static_cast<int>(v),
           "Zeros (0), Circular (1), Reflect (2), Replicate (3), Symmetric (4)");
}

void check_enum(DType v, const char* param) {
  switch (v) {
    case DType::F32:
    case DType::F64: return;
  }
  bad_enum(param, "DType", static_cast<int>(v), "F32 (0), F64 (1)");
}

void check_enum(Location v, const char* param) {
  switch (v) {
    case Location::Host:
    case Location::Device: return;
  }
  bad_enum(param, "Location", static_cast<int>(v), "Host (0), Device (1)");
}

void check_enum(Algorithm v, const char* param) {
  switch (v) {
    case Algorithm::Auto:
    case Algorithm::Direct:
    case Algorithm::Im2colGemm:
    case Algorithm::SparseToeplitz:
    case Algorithm::Fft:
    case Algorithm::Reference: return;
  }
  bad_enum(param, "Algorithm", static_cast<int>(v),
           "Auto (0), Direct (1), Im2colGemm (2), SparseToeplitz (3), Fft (4), Reference (5)");
}

void check_enum(Direction v, const char* param) {
  switch (v) {
    case Direction::Forward:
    case Direction::BackwardData:
    case Direction::BackwardFilter: return;
  }
  bad_enum(param, "Direction", static_cast<int>(v), "Forward (0), BackwardData (1), BackwardFilter (2)");
}

ConvProblem validate_problem(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype) {
  check_enum(dtype);
  return spec.problem(x, w);
}

void check_tensor(const TensorArg& t, const char* name, DType dtype, Location where, const Shape& shape,
                  bool writable) {
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(t.present, bad, name, " is missing");
  check_enum(t.dtype, msg(name, " dtype").c_str());
  check_enum(t.location, msg(name, " location").c_str());
  CONVKIT_EXPECTS(t.dtype == dtype, bad, name, " dtype = ", dtype_name(t.dtype), ": must match x dtype ",
                  dtype_name(dtype));
  CONVKIT_EXPECTS(t.location == where, bad, name, " is a ", location_name(t.location),
                  " view: this entry point needs ", location_name(where), " memory");
  CONVKIT_EXPECTS(t.shape == shape, bad, name, " shape = ", t.shape, ": must be ", shape);
  const std::int64_t n = t.shape.numel(name);
  CONVKIT_EXPECTS(t.data != nullptr || n == 0, bad, name, " is a null pointer for a non-empty tensor of shape ",
                  t.shape);
  // Kernels, cuBLAS and cuSPARSE (and the reference's loads) assume each
  // element is naturally aligned; only wider vector accesses are optional.
  const std::size_t elem = dtype_size(t.dtype);
  const auto addr = static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(t.data));
  CONVKIT_EXPECTS(addr % elem == 0, bad, name, " data = ", t.data, " is not aligned to its element size: a ",
                  dtype_name(t.dtype), " tensor must start at a multiple of ", elem, " bytes");
  const std::size_t bytes = bytes_checked(n, elem, [&] { return msg(name, " shape ", t.shape, ": bytes"); });
  add_checked(addr, bytes, [&] { return msg(name, " data = ", t.data, ": the end of its ", bytes, " bytes"); });
  CONVKIT_EXPECTS(!writable || t.writable, bad, name, " is a view of const data: the output must be writable");
}

void check_no_overlap(const TensorArg& out, const char* out_name, const TensorArg& in, const char* in_name) {
  if (!out.present || !in.present || !out.data || !in.data) return;
  const auto o0 = reinterpret_cast<std::uintptr_t>(out.data);
  const auto i0 = reinterpret_cast<std::uintptr_t>(in.data);
  const std::uintptr_t o1 = byte_end_sat(out.data, out.shape.numel(out_name), dtype_size(out.dtype));
  const std::uintptr_t i1 = byte_end_sat(in.data, in.shape.numel(in_name), dtype_size(in.dtype));
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
  check_enum(x.dtype, "x dtype");
  check_enum(w.dtype, "w dtype");
  check_enum(y.dtype, "y dtype");
  if (bias.present) check_enum(bias.dtype, "bias dtype");
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

// ------------------------------------------------------------ gradients

namespace {

// spec.problem() for a gradient call, its message prefixed with the call and
// the caller's names for the shapes (its own say x and w).
ConvProblem gradient_problem(const ConvSpec& spec, const Shape& x, const char* x_name, const Shape& w,
                             const char* w_name, const char* fn) {
  try {
    return spec.problem(x, w);
  } catch (const Error& e) {
    // Re-wrapped, so drop the "convkit <Status>: " that the new Error adds again.
    std::string why = e.what();
    const std::string prefix = std::string("convkit ") + status_name(e.status()) + ": ";
    if (why.compare(0, prefix.size(), prefix) == 0) why.erase(0, prefix.size());
    throw Error(e.status(), msg(fn, ": ", x_name, " shape ", x, " with ", w_name, " shape ", w,
                                " is not a valid forward problem for the spec: ", why));
  }
}

// The gradient dy must have exactly the forward output shape; for
// backward-data this is what resolves the stride ambiguity.
void check_dy_shape(const TensorArg& dy, const ConvProblem& p, const char* fn, const char* dy_name,
                    const char* x_name, const char* w_name) {
  const Shape want = p.y_shape();
  CONVKIT_EXPECTS(dy.shape == want, Status::InvalidArgument, fn, ": ", dy_name, " shape = ", dy.shape,
                  ": must be the forward output shape ", want, " that the spec gives for ", x_name, " shape ",
                  p.x_shape(), " and ", w_name, " shape ", p.w_shape());
}

void check_same_dtype(const TensorArg& t, const char* name, DType want, const char* ref_name, const char* fn) {
  check_enum(t.dtype, msg(name, " dtype").c_str());
  CONVKIT_EXPECTS(t.dtype == want, Status::InvalidArgument, fn, ": ", name, " dtype = ", dtype_name(t.dtype),
                  ": must match ", ref_name, " dtype ", dtype_name(want));
}

void check_present(const TensorArg& t, const char* name, const char* fn) {
  CONVKIT_EXPECTS(t.present, Status::InvalidArgument, fn, ": ", name, " is missing");
}

}  // namespace

bool accumulate_from_beta(double beta, const char* fn) {
  CONVKIT_EXPECTS(beta == 0.0 || beta == 1.0, Status::InvalidArgument, fn, ": beta = ", beta,
                  ": must be 0 (overwrite the output) or 1 (accumulate into it)");
  return beta == 1.0;
}

ConvProblem validate_backward_data(const ConvSpec& spec, const TensorArg& dy, const TensorArg& w, const TensorArg& dx,
                                   Location where, const char* fn, const char* dy_name, const char* dx_name) {
  check_present(dy, dy_name, fn);
  check_present(w, "w", fn);
  check_present(dx, dx_name, fn);
  check_enum(dy.dtype, msg(dy_name, " dtype").c_str());
  check_same_dtype(w, "w", dy.dtype, dy_name, fn);
  check_same_dtype(dx, dx_name, dy.dtype, dy_name, fn);
  ConvProblem p = gradient_problem(spec, dx.shape, dx_name, w.shape, "w", fn);
  check_dy_shape(dy, p, fn, dy_name, dx_name, "w");
  check_tensor(dy, dy_name, dy.dtype, where, dy.shape, false);
  check_tensor(w, "w", dy.dtype, where, w.shape, false);
  check_tensor(dx, dx_name, dy.dtype, where, dx.shape, true);
  check_no_overlap(dx, dx_name, dy, dy_name);
  check_no_overlap(dx, dx_name, w, "w");
  p.has_bias = false;
  return p;
}

ConvProblem validate_backward_filter(const ConvSpec& spec, const TensorArg& x, const TensorArg& dy,
                                     const TensorArg& dw, Location where, const char* fn) {
  check_present(x, "x", fn);
  check_present(dy, "dy", fn);
  check_present(dw, "dw", fn);
  check_enum(x.dtype, "x dtype");
  check_same_dtype(dy, "dy", x.dtype, "x", fn);
  check_same_dtype(dw, "dw", x.dtype, "x", fn);
  ConvProblem p = gradient_problem(spec, x.shape, "x", dw.shape, "dw", fn);
  check_dy_shape(dy, p, fn, "dy", "x", "dw");
  check_tensor(x, "x", x.dtype, where, x.shape, false);
  check_tensor(dy, "dy", x.dtype, where, dy.shape, false);
  check_tensor(dw, "dw", x.dtype, where, dw.shape, true);
  check_no_overlap(dw, "dw", x, "x");
  check_no_overlap(dw, "dw", dy, "dy");
  p.has_bias = false;
  return p;
}

BiasGradShape validate_backward_bias(const TensorArg& dy, const TensorArg& db, Location where, const char* fn) {
  const Status bad = Status::InvalidArgument;
  check_present(dy, "dy", fn);
  check_present(db, "db", fn);
  check_enum(dy.dtype, "dy dtype");
  check_same_dtype(db, "db", dy.dtype, "dy", fn);
  // dy is a forward output [N, K, O1..Od] with d = 1, 2 or 3.
  CONVKIT_EXPECTS(dy.shape.rank() >= 3 && dy.shape.rank() <= 5, bad, fn, ": dy shape = ", dy.shape,
                  ": must be a convolution output [N, K, O1..Od] of rank 3 to 5");
  for (int i = 0; i < dy.shape.rank(); ++i)
    CONVKIT_EXPECTS(dy.shape[i] >= 0, bad, fn, ": dy shape = ", dy.shape, ": sizes must be >= 0");
  BiasGradShape s;
  s.N = dy.shape[0];
  s.K = dy.shape[1];
  check_tensor(dy, "dy", dy.dtype, where, dy.shape, false);
  CONVKIT_EXPECTS(db.shape == Shape{s.K}, bad, fn, ": db shape = ", db.shape, ": must be [K] = [", s.K,
                  "], K being dy's channel count (dy shape ", dy.shape, ")");
  check_tensor(db, "db", dy.dtype, where, db.shape, true);
  check_no_overlap(db, "db", dy, "dy");
  for (int i = 2; i < dy.shape.rank(); ++i) s.Q = mul_checked(s.Q, dy.shape[i], "conv_backward_bias: dy spatial size");
  return s;
}

}  // namespace convkit::detail
