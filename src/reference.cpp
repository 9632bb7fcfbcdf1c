// The CPU reference: DESIGN §1 and its gradients (§1b) as straight loops,
// accumulating in double. It shares boundary folding and the kernel flip with
// the GPU kernels (kernels/indexing.cuh); the forward is checked
// independently against SciPy golden data (tests/data), the gradients against
// finite differences of the forward. Slow on purpose; never the thing to
// optimise.
#include <convkit/reference.hpp>

#include "arith.hpp"
#include "check.hpp"
#include "indexing.cuh"
#include "validate.hpp"

#include <string>
#include <vector>

namespace convkit::reference {
namespace {

using detail::source_offset;
using detail::weight_offset;

// Visits every (output element, input element, weight element) triple of the
// convolution, calling f(y_index, x_index, w_index). Forward and transposed
// convolution are both this loop; they differ only in which way the product
// flows.
template <class F>
void for_each_term(const ConvProblem& p, F&& f) {
  const std::int64_t Cg = p.Cg(), Kg = p.Kg(), P = p.in_spatial(), Q = p.out_spatial(), R = p.ker_spatial();
  for (std::int64_t n = 0; n < p.N; ++n)
    for (std::int64_t k = 0; k < p.K; ++k) {
      const std::int64_t g = k / Kg;
      for (std::int64_t o0 = 0; o0 < p.out[0]; ++o0)
        for (std::int64_t o1 = 0; o1 < p.out[1]; ++o1)
          for (std::int64_t o2 = 0; o2 < p.out[2]; ++o2) {
            const std::int64_t yi = (n * p.K + k) * Q + (o0 * p.out[1] + o1) * p.out[2] + o2;
            for (std::int64_t c = 0; c < Cg; ++c) {
              const std::int64_t xbase = (n * p.C + g * Cg + c) * P;
              const std::int64_t wbase = (k * Cg + c) * R;
              for (std::int64_t i0 = 0; i0 < p.ker[0]; ++i0)
                for (std::int64_t i1 = 0; i1 < p.ker[1]; ++i1)
                  for (std::int64_t i2 = 0; i2 < p.ker[2]; ++i2) {
                    const std::int64_t s = source_offset(p, o0, o1, o2, i0, i1, i2);
                    if (s >= 0) f(yi, xbase + s, wbase + weight_offset(p, i0, i1, i2));
                  }
            }
          }
    }
}

// One output element y[n, k, o0, o1, o2] without bias, in double.
template <class T>
double output_element(const ConvProblem& p, const T* x, const T* w, std::int64_t n, std::int64_t k,
                      std::int64_t o0, std::int64_t o1, std::int64_t o2) {
  const std::int64_t Cg = p.Cg(), g = k / p.Kg(), P = p.in_spatial(), R = p.ker_spatial();
  double acc = 0.0;
  for (std::int64_t c = 0; c < Cg; ++c) {
    const T* xc = x + (n * p.C + g * Cg + c) * P;
    const T* wc = w + (k * Cg + c) * R;
    for (std::int64_t i0 = 0; i0 < p.ker[0]; ++i0)
      for (std::int64_t i1 = 0; i1 < p.ker[1]; ++i1)
        for (std::int64_t i2 = 0; i2 < p.ker[2]; ++i2) {
          const std::int64_t s = source_offset(p, o0, o1, o2, i0, i1, i2);
          if (s >= 0) acc += static_cast<double>(xc[s]) * static_cast<double>(wc[weight_offset(p, i0, i1, i2)]);
        }
  }
  return acc;
}

template <class T>
void sampled(const ConvProblem& p, const T* x, const T* w, const T* b, const std::int64_t* idx,
             std::int64_t count, double* out) {
  for (std::int64_t j = 0; j < count; ++j) {
    std::int64_t i = idx[j];
    const std::int64_t o2 = i % p.out[2];
    i /= p.out[2];
    const std::int64_t o1 = i % p.out[1];
    i /= p.out[1];
    const std::int64_t o0 = i % p.out[0];
    i /= p.out[0];
    const std::int64_t k = i % p.K, n = i / p.K;
    out[j] = output_element(p, x, w, n, k, o0, o1, o2) + (b ? static_cast<double>(b[k]) : 0.0);
  }
}

template <class T>
void forward(const ConvProblem& p, const T* x, const T* w, const T* b, T* y) {
  const std::int64_t Q = p.out_spatial();
  // Accumulated whole before y is written, so a failed allocation leaves y as it was.
  std::vector<double> acc;
  const char* what = "reference::conv: double accumulator for y";
  detail::host_resize(acc, detail::mul_checked(detail::mul_checked(p.N, p.K, what), Q, what), what);
  for_each_term(p, [&](std::int64_t yi, std::int64_t xi, std::int64_t wi) {
    acc[yi] += static_cast<double>(x[xi]) * static_cast<double>(w[wi]);
  });
  for (std::int64_t n = 0; n < p.N; ++n)
    for (std::int64_t k = 0; k < p.K; ++k)
      for (std::int64_t q = 0; q < Q; ++q) {
        const std::int64_t i = (n * p.K + k) * Q + q;
        y[i] = static_cast<T>(acc[i] + (b ? static_cast<double>(b[k]) : 0.0));
      }
}

template <class T>
void transpose(const ConvProblem& p, const T* dy, const T* w, T* dx) {
  std::vector<double> acc;
  const char* what = "reference::conv_transpose: double accumulator for dx";
  detail::host_resize(acc, detail::mul_checked(detail::mul_checked(p.N, p.C, what), p.in_spatial(), what), what);
  for_each_term(p, [&](std::int64_t yi, std::int64_t xi, std::int64_t wi) {
    acc[xi] += static_cast<double>(dy[yi]) * static_cast<double>(w[wi]);
  });
  for (std::size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<T>(acc[i]);
}

// Writes the double accumulator into a gradient output: beta 0 overwrites
// without reading (so whatever was there, NaN included, cannot leak), beta 1
// adds the old value in double and rounds once.
template <class T>
void store(const std::vector<double>& acc, T* out, bool accumulate) {
  if (accumulate)
    for (std::size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<T>(acc[i] + static_cast<double>(out[i]));
  else
    for (std::size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<T>(acc[i]);
}

template <class T>
void backward_data(const ConvProblem& p, const T* dy, const T* w, T* dx, bool accumulate) {
  std::vector<double> acc;
  const char* what = "reference::conv_backward_data: double accumulator for dx";
  detail::host_resize(acc, detail::mul_checked(detail::mul_checked(p.N, p.C, what), p.in_spatial(), what), what);
  for_each_term(p, [&](std::int64_t yi, std::int64_t xi, std::int64_t wi) {
    acc[xi] += static_cast<double>(dy[yi]) * static_cast<double>(w[wi]);
  });
  store(acc, dx, accumulate);
}

// dw is the adjoint of conv() in its other operand: the same triples, with
// the product of dy and the (boundary-extended, flipped-tap) input flowing
// into the weight element each term used.
template <class T>
void backward_filter(const ConvProblem& p, const T* x, const T* dy, T* dw, bool accumulate) {
  std::vector<double> acc;
  const char* what = "reference::conv_backward_filter: double accumulator for dw";
  detail::host_resize(acc, detail::mul_checked(detail::mul_checked(p.K, p.Cg(), what), p.ker_spatial(), what), what);
  for_each_term(p, [&](std::int64_t yi, std::int64_t xi, std::int64_t wi) {
    acc[wi] += static_cast<double>(dy[yi]) * static_cast<double>(x[xi]);
  });
  store(acc, dw, accumulate);
}

template <class T>
void backward_bias(const T* dy, std::int64_t N, std::int64_t K, std::int64_t Q, T* db, bool accumulate) {
  std::vector<double> acc;
  detail::host_resize(acc, K, "reference::conv_backward_bias: double accumulator for db");
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t q = 0; q < Q; ++q) acc[k] += static_cast<double>(dy[(n * K + k) * Q + q]);
  store(acc, db, accumulate);
}

// beta as cuDNN uses it for gradients: 0 overwrites, 1 accumulates. Other
// scalings are left out until a caller needs them: every GPU path would have
// to carry them too.
bool accumulate_from_beta(double beta, const char* fn) {
  CONVKIT_EXPECTS(beta == 0.0 || beta == 1.0, Status::InvalidArgument, fn, ": beta = ", beta,
                  ": must be 0 (overwrite the output) or 1 (accumulate into it)");
  return beta == 1.0;
}

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
    throw Error(e.status(), detail::msg(fn, ": ", x_name, " shape ", x, " with ", w_name, " shape ", w,
                                        " is not a valid forward problem for the spec: ", why));
  }
}

// The gradient dy must have exactly the forward output shape; for
// backward-data this is what resolves the stride ambiguity.
void check_dy_shape(const TensorArg& dy, const ConvProblem& p, const char* fn, const char* x_name,
                    const char* w_name) {
  const Shape want = p.y_shape();
  CONVKIT_EXPECTS(dy.shape == want, Status::InvalidArgument, fn, ": dy shape = ", dy.shape,
                  ": must be the forward output shape ", want, " that the spec gives for ", x_name, " shape ",
                  p.x_shape(), " and ", w_name, " shape ", p.w_shape());
}

void check_same_dtype(const TensorArg& t, const char* name, DType want, const char* ref_name, const char* fn) {
  detail::check_enum(t.dtype, detail::msg(name, " dtype").c_str());
  CONVKIT_EXPECTS(t.dtype == want, Status::InvalidArgument, fn, ": ", name, " dtype = ", dtype_name(t.dtype),
                  ": must match ", ref_name, " dtype ", dtype_name(want));
}

}  // namespace

void conv(const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg y) { conv(spec, x, w, TensorArg(), y); }

void conv(const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg bias, TensorArg y) {
  const ConvProblem p = detail::validate_conv(spec, x, w, bias, y, Location::Host);
  if (x.dtype == DType::F32)
    forward(p, static_cast<const float*>(x.data), static_cast<const float*>(w.data),
            static_cast<const float*>(bias.data), static_cast<float*>(const_cast<void*>(y.data)));
  else
    forward(p, static_cast<const double*>(x.data), static_cast<const double*>(w.data),
            static_cast<const double*>(bias.data), static_cast<double*>(const_cast<void*>(y.data)));
}

void conv_sampled(const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg bias,
                  const std::int64_t* flat_indices, std::int64_t count, double* out) {
  const Status bad = Status::InvalidArgument;
  const ConvProblem p = spec.problem(x.shape, w.shape);
  detail::check_tensor(x, "x", x.dtype, Location::Host, x.shape, false);
  detail::check_tensor(w, "w", x.dtype, Location::Host, w.shape, false);
  if (spec.has_bias()) detail::check_tensor(bias, "bias", x.dtype, Location::Host, Shape{p.K}, false);
  CONVKIT_EXPECTS(!(!spec.has_bias() && bias.present), bad, "bias given but the spec has bias(false)");
  CONVKIT_EXPECTS(count >= 0, bad, "conv_sampled: count = ", count, ": must be >= 0");
  CONVKIT_EXPECTS(count == 0 || (flat_indices && out), bad, "conv_sampled: null index or output array");
  const std::int64_t ny = p.y_shape().numel("y");
  for (std::int64_t j = 0; j < count; ++j)
    CONVKIT_EXPECTS(flat_indices[j] >= 0 && flat_indices[j] < ny, bad, "conv_sampled: flat_indices[", j,
                    "] = ", flat_indices[j], ": must lie in [0, ", ny, ")");
  if (x.dtype == DType::F32)
    sampled(p, static_cast<const float*>(x.data), static_cast<const float*>(w.data),
            static_cast<const float*>(bias.present ? bias.data : nullptr), flat_indices, count, out);
  else
    sampled(p, static_cast<const double*>(x.data), static_cast<const double*>(w.data),
            static_cast<const double*>(bias.present ? bias.data : nullptr), flat_indices, count, out);
}

void conv_transpose(const ConvSpec& spec, TensorArg dy, TensorArg w, TensorArg dx) {
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(dx.present && dy.present && w.present, bad, "conv_transpose needs dy, w and dx");
  CONVKIT_EXPECTS(!spec.has_bias(), bad, "conv_transpose: the spec has bias(true); the adjoint takes no bias");
  detail::check_enum(dx.dtype, "dx dtype");
  const ConvProblem p = spec.problem(dx.shape, w.shape);
  detail::check_tensor(dy, "dy", dx.dtype, Location::Host, p.y_shape(), false);
  detail::check_tensor(w, "w", dx.dtype, Location::Host, w.shape, false);
  detail::check_tensor(dx, "dx", dx.dtype, Location::Host, dx.shape, true);
  detail::check_no_overlap(dx, "dx", dy, "dy");
  detail::check_no_overlap(dx, "dx", w, "w");
  if (dx.dtype == DType::F32)
    transpose(p, static_cast<const float*>(dy.data), static_cast<const float*>(w.data),
              static_cast<float*>(const_cast<void*>(dx.data)));
  else
    transpose(p, static_cast<const double*>(dy.data), static_cast<const double*>(w.data),
              static_cast<double*>(const_cast<void*>(dx.data)));
}

void conv_backward_data(const ConvSpec& spec, TensorArg dy, TensorArg w, TensorArg dx, double beta) {
  const char* fn = "conv_backward_data";
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(dy.present, bad, fn, ": dy is missing");
  CONVKIT_EXPECTS(w.present, bad, fn, ": w is missing");
  CONVKIT_EXPECTS(dx.present, bad, fn, ": dx is missing");
  detail::check_enum(dy.dtype, "dy dtype");
  check_same_dtype(w, "w", dy.dtype, "dy", fn);
  check_same_dtype(dx, "dx", dy.dtype, "dy", fn);
  const bool accumulate = accumulate_from_beta(beta, fn);
  const ConvProblem p = gradient_problem(spec, dx.shape, "dx", w.shape, "w", fn);
  check_dy_shape(dy, p, fn, "dx", "w");
  detail::check_tensor(dy, "dy", dy.dtype, Location::Host, dy.shape, false);
  detail::check_tensor(w, "w", dy.dtype, Location::Host, w.shape, false);
  detail::check_tensor(dx, "dx", dy.dtype, Location::Host, dx.shape, true);
  detail::check_no_overlap(dx, "dx", dy, "dy");
  detail::check_no_overlap(dx, "dx", w, "w");
  if (dy.dtype == DType::F32)
    backward_data(p, static_cast<const float*>(dy.data), static_cast<const float*>(w.data),
                  static_cast<float*>(const_cast<void*>(dx.data)), accumulate);
  else
    backward_data(p, static_cast<const double*>(dy.data), static_cast<const double*>(w.data),
                  static_cast<double*>(const_cast<void*>(dx.data)), accumulate);
}

void conv_backward_filter(const ConvSpec& spec, TensorArg x, TensorArg dy, TensorArg dw, double beta) {
  const char* fn = "conv_backward_filter";
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(x.present, bad, fn, ": x is missing");
  CONVKIT_EXPECTS(dy.present, bad, fn, ": dy is missing");
  CONVKIT_EXPECTS(dw.present, bad, fn, ": dw is missing");
  detail::check_enum(x.dtype, "x dtype");
  check_same_dtype(dy, "dy", x.dtype, "x", fn);
  check_same_dtype(dw, "dw", x.dtype, "x", fn);
  const bool accumulate = accumulate_from_beta(beta, fn);
  const ConvProblem p = gradient_problem(spec, x.shape, "x", dw.shape, "dw", fn);
  check_dy_shape(dy, p, fn, "x", "dw");
  detail::check_tensor(x, "x", x.dtype, Location::Host, x.shape, false);
  detail::check_tensor(dy, "dy", x.dtype, Location::Host, dy.shape, false);
  detail::check_tensor(dw, "dw", x.dtype, Location::Host, dw.shape, true);
  detail::check_no_overlap(dw, "dw", x, "x");
  detail::check_no_overlap(dw, "dw", dy, "dy");
  if (x.dtype == DType::F32)
    backward_filter(p, static_cast<const float*>(x.data), static_cast<const float*>(dy.data),
                    static_cast<float*>(const_cast<void*>(dw.data)), accumulate);
  else
    backward_filter(p, static_cast<const double*>(x.data), static_cast<const double*>(dy.data),
                    static_cast<double*>(const_cast<void*>(dw.data)), accumulate);
}

void conv_backward_bias(TensorArg dy, TensorArg db, double beta) {
  const char* fn = "conv_backward_bias";
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(dy.present, bad, fn, ": dy is missing");
  CONVKIT_EXPECTS(db.present, bad, fn, ": db is missing");
  detail::check_enum(dy.dtype, "dy dtype");
  check_same_dtype(db, "db", dy.dtype, "dy", fn);
  const bool accumulate = accumulate_from_beta(beta, fn);
  // dy is a forward output [N, K, O1..Od] with d = 1, 2 or 3.
  CONVKIT_EXPECTS(dy.shape.rank() >= 3 && dy.shape.rank() <= 5, bad, fn, ": dy shape = ", dy.shape,
                  ": must be a convolution output [N, K, O1..Od] of rank 3 to 5");
  for (int i = 0; i < dy.shape.rank(); ++i)
    CONVKIT_EXPECTS(dy.shape[i] >= 0, bad, fn, ": dy shape = ", dy.shape, ": sizes must be >= 0");
  const std::int64_t N = dy.shape[0], K = dy.shape[1];
  detail::check_tensor(dy, "dy", dy.dtype, Location::Host, dy.shape, false);
  CONVKIT_EXPECTS(db.shape == Shape{K}, bad, fn, ": db shape = ", db.shape, ": must be [K] = [", K,
                  "], K being dy's channel count (dy shape ", dy.shape, ")");
  detail::check_tensor(db, "db", dy.dtype, Location::Host, db.shape, true);
  detail::check_no_overlap(db, "db", dy, "dy");
  std::int64_t Q = 1;
  for (int i = 2; i < dy.shape.rank(); ++i) Q = detail::mul_checked(Q, dy.shape[i], "conv_backward_bias: dy spatial size");
  if (dy.dtype == DType::F32)
    backward_bias(static_cast<const float*>(dy.data), N, K, Q, static_cast<float*>(const_cast<void*>(db.data)),
                  accumulate);
  else
    backward_bias(static_cast<const double*>(dy.data), N, K, Q, static_cast<double*>(const_cast<void*>(db.data)),
                  accumulate);
}

}  // namespace convkit::reference
