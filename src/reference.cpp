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
  const bool accumulate = detail::accumulate_from_beta(beta, fn);
  const ConvProblem p = detail::validate_backward_data(spec, dy, w, dx, Location::Host, fn);
  if (dy.dtype == DType::F32)
    backward_data(p, static_cast<const float*>(dy.data), static_cast<const float*>(w.data),
                  static_cast<float*>(const_cast<void*>(dx.data)), accumulate);
  else
    backward_data(p, static_cast<const double*>(dy.data), static_cast<const double*>(w.data),
                  static_cast<double*>(const_cast<void*>(dx.data)), accumulate);
}

void conv_backward_filter(const ConvSpec& spec, TensorArg x, TensorArg dy, TensorArg dw, double beta) {
  const char* fn = "conv_backward_filter";
  const bool accumulate = detail::accumulate_from_beta(beta, fn);
  const ConvProblem p = detail::validate_backward_filter(spec, x, dy, dw, Location::Host, fn);
  if (x.dtype == DType::F32)
    backward_filter(p, static_cast<const float*>(x.data), static_cast<const float*>(dy.data),
                    static_cast<float*>(const_cast<void*>(dw.data)), accumulate);
  else
    backward_filter(p, static_cast<const double*>(x.data), static_cast<const double*>(dy.data),
                    static_cast<double*>(const_cast<void*>(dw.data)), accumulate);
}

void conv_backward_bias(TensorArg dy, TensorArg db, double beta) {
  const char* fn = "conv_backward_bias";
  const bool accumulate = detail::accumulate_from_beta(beta, fn);
  const detail::BiasGradShape s = detail::validate_backward_bias(dy, db, Location::Host, fn);
  if (dy.dtype == DType::F32)
    backward_bias(static_cast<const float*>(dy.data), s.N, s.K, s.Q, static_cast<float*>(const_cast<void*>(db.data)),
                  accumulate);
  else
    backward_bias(static_cast<const double*>(dy.data), s.N, s.K, s.Q,
                  static_cast<double*>(const_cast<void*>(db.data)), accumulate);
}

}  // namespace convkit::reference
