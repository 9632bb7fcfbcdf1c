// The public GPU entry points: validation, algorithm resolution and dispatch
// through the AlgorithmOps tables, and ConvPlan. Dtype never needs a switch
// here: algorithms receive it and dispatch once inside their own file.
#include <convkit/conv.hpp>
#include <convkit/reference.hpp>

#include "algorithms.hpp"
#include "arith.hpp"
#include "check.hpp"
#include "validate.hpp"

namespace convkit {

const char* algorithm_name(Algorithm a) noexcept {
  switch (a) {
    case Algorithm::Auto: return "Auto";
    case Algorithm::Direct: return "Direct";
    case Algorithm::Im2colGemm: return "Im2colGemm";
    case Algorithm::SparseToeplitz: return "SparseToeplitz";
    case Algorithm::Fft: return "Fft";
    case Algorithm::Reference: return "Reference";
  }
  return "Unknown";
}

const char* direction_name(Direction d) noexcept {
  switch (d) {
    case Direction::Forward: return "forward";
    case Direction::BackwardData: return "backward-data";
    case Direction::BackwardFilter: return "backward-filter";
  }
  return "unknown";
}

namespace detail {

const AlgorithmOps& ops_for(Algorithm a) {
  switch (a) {
    case Algorithm::Direct: return kDirectOps;
    case Algorithm::Im2colGemm: return kIm2colGemmOps;
    case Algorithm::SparseToeplitz: return kSparseToeplitzOps;
    case Algorithm::Fft: return kFftOps;
    default: break;
  }
  throw Error(Status::NotSupported, msg("Algorithm::", algorithm_name(a), " is not built yet"));
}

std::unique_ptr<PlanImpl> make_plan_impl(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p, DType t,
                                         const AlgorithmOps& ops) {
  return ops.make_plan ? ops.make_plan(ctx, p, t) : std::make_unique<PlanImpl>(ctx, p, t, ops);
}

Support supports_direction(const AlgorithmOps& ops, const ConvProblem& p, DType t, Direction d) {
  if (d == Direction::Forward) return ops.supports(p, t);
  if (!ops.supports_backward)
    return unsupported(msg("Algorithm::", algorithm_name(ops.algo), " has no ", direction_name(d), " path yet"));
  return ops.supports_backward(p, t, d);
}

std::size_t workspace_direction(const AlgorithmOps& ops, const ConvProblem& p, DType t, Direction d) {
  if (d == Direction::Forward) return ops.workspace(p, t);
  return ops.workspace_backward ? ops.workspace_backward(p, t, d) : 0;
}

std::size_t min_workspace_direction(const AlgorithmOps& ops, const ConvProblem& p, DType t, Direction d) {
  if (d == Direction::Forward) return ops.min_workspace(p, t);
  return ops.min_workspace_backward ? ops.min_workspace_backward(p, t, d) : 0;
}

void run_direction(const AlgorithmOps& ops, ContextState& ctx, const ConvProblem& p, DType t, Direction d,
                   const Operands& fwd, const GradOperands& g) {
  if (d == Direction::Forward) {
    ops.run(ctx, p, t, fwd);
    return;
  }
  CONVKIT_EXPECTS(ops.run_backward != nullptr, Status::InternalError, "Algorithm::", algorithm_name(ops.algo),
                  " supports ", direction_name(d), " but cannot run it");
  ops.run_backward(ctx, p, t, d, g);
}

void PlanImpl::run_backward_data(const void* dy, void* dx, bool accumulate) {
  if (problem_.N == 0) return;
  run_direction(ops_, *ctx_, problem_, dtype_, Direction::BackwardData, {}, GradOperands{nullptr, w_, dy, dx, accumulate});
}

void PlanImpl::run_backward_filter(const void* x, const void* dy, void* dw, bool accumulate) {
  // N >= 1 here: ConvPlan::run_backward_filter answers an empty batch itself.
  run_direction(ops_, *ctx_, problem_, dtype_, Direction::BackwardFilter, {},
                GradOperands{x, nullptr, dy, dw, accumulate});
}

namespace {

// Auto's choice for a one-shot call on a default context (no workspace
// limit, no tuning, no determinism filter): the cost model, which spends no
// device time. supports() and workspace_bytes() answer for Auto with it.
AlgorithmChoice untuned_auto_choice(const ConvProblem& p, DType t, Direction d) {
  Context defaults;
  return choose(defaults.state(), p, t, /*for_plan=*/false, d);
}

// Auto's support: the variant of the algorithm it would run (stored in
// *chosen), or every candidate's reason when none can.
Support auto_support(const ConvProblem& p, DType t, Algorithm* chosen, Direction d) {
  std::string why;
  bool any = false;
  for (Algorithm c : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz, Algorithm::Fft}) {
    Support s = supports_direction(ops_for(c), p, t, d);
    any |= s.ok;
    if (!s) why += msg(why.empty() ? "" : "; ", algorithm_name(c), ": ", s.reason);
  }
  if (!any) return unsupported(msg("no algorithm supports the ", direction_name(d), " pass of this problem (", why, ")"));
  // With no workspace limit and no determinism filter, a supported candidate
  // is a considered one, so the choice below cannot come up empty.
  const AlgorithmChoice c = untuned_auto_choice(p, t, d);
  for (const CandidateReport& r : c.candidates)
    if (r.algorithm == c.chosen) {
      if (chosen) *chosen = c.chosen;
      return supported(r.variant);
    }
  throw Error(Status::InternalError, msg("Algorithm::Auto chose ", algorithm_name(c.chosen),
                                         ", which is not among its candidates"));
}

// Support of one algorithm for an already validated problem (Auto: see
// auto_support).
Support supports_problem(const ConvProblem& p, DType t, Algorithm a, Direction d) {
  switch (a) {
    case Algorithm::Reference: return supported();
    case Algorithm::Auto: return auto_support(p, t, nullptr, d);
    default: return supports_direction(ops_for(a), p, t, d);
  }
}

// The concrete algorithm a call runs: the caller's, or Auto's choice.
Algorithm resolve(const ConvProblem& p, DType t, Algorithm a, const std::shared_ptr<ContextState>& ctx,
                  bool for_plan, Direction d) {
  return a == Algorithm::Auto ? choose(ctx, p, t, for_plan, d).chosen : a;
}

const AlgorithmOps& checked_ops(const ConvProblem& p, DType t, Algorithm a, const ContextState& ctx, Direction d) {
  CONVKIT_EXPECTS(a != Algorithm::Reference, Status::InvalidArgument,
                  "Algorithm::Reference runs on host tensors only: call it with host views");
  const AlgorithmOps& ops = ops_for(a);
  Support s = supports_direction(ops, p, t, d);
  CONVKIT_EXPECTS(s.ok, Status::NotSupported, "Algorithm::", algorithm_name(a), " cannot run the ",
                  direction_name(d), " pass of ", p, " (", dtype_name(t), "): ", s.reason);
  ctx.check_workspace(min_workspace_direction(ops, p, t, d), algorithm_name(a));
  return ops;
}

}  // namespace
}  // namespace detail

Support supports(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype, Algorithm algo, Direction dir) {
  detail::check_enum(algo);
  detail::check_enum(dir);
  ConvProblem p = detail::validate_problem(spec, x, w, dtype);
  if (dir != Direction::Forward) p.has_bias = false;  // the backward passes do not involve the bias
  return detail::supports_problem(p, dtype, algo, dir);
}

std::size_t workspace_bytes(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype, Algorithm algo,
                            Direction dir) {
  detail::check_enum(algo);
  detail::check_enum(dir);
  ConvProblem p = detail::validate_problem(spec, x, w, dtype);
  if (dir != Direction::Forward) p.has_bias = false;
  if (algo == Algorithm::Reference) return 0;
  // Auto: the algorithm its cost model chooses, from the same choice that
  // answered supports().
  Algorithm chosen = algo;
  Support s = algo == Algorithm::Auto ? detail::auto_support(p, dtype, &chosen, dir)
                                      : detail::supports_problem(p, dtype, algo, dir);
  CONVKIT_EXPECTS(s.ok, Status::NotSupported, "Algorithm::", algorithm_name(algo), " (", direction_name(dir),
                  "): ", s.reason);
  return detail::workspace_direction(detail::ops_for(chosen), p, dtype, dir);
}

void conv(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg y, Algorithm algo) {
  conv(ctx, spec, x, w, TensorArg(), y, algo);
}

void conv(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg bias, TensorArg y,
          Algorithm algo) {
  detail::check_enum(algo);
  if (algo == Algorithm::Reference) {
    reference::conv(spec, x, w, bias, y);
    return;
  }
  const ConvProblem p = detail::validate_conv(spec, x, w, bias, y, Location::Device);
  detail::ContextState& st = *ctx.state();
  const Algorithm a = detail::resolve(p, x.dtype, algo, ctx.state(), false, Direction::Forward);
  const detail::AlgorithmOps& ops = detail::checked_ops(p, x.dtype, a, st, Direction::Forward);
  if (p.N == 0) return;
  st.stream();  // NoDevice here, before any work
  ops.run(st, p, x.dtype, detail::Operands{x.data, w.data, bias.present ? bias.data : nullptr,
                                           const_cast<void*>(y.data)});
}

// ---------------------------------------------------------------- gradients

namespace detail {
namespace {

template <class T>
void add_channel_bias_host(std::int64_t N, std::int64_t C, std::int64_t Q, const T* b, T* y) {
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t q = 0; q < Q; ++q) y[(n * C + c) * Q + q] += b[c];
}

// y[n,c,q] += bias[c] on host memory (conv_transpose with Algorithm::Reference).
void add_channel_bias_host(DType t, std::int64_t N, std::int64_t C, std::int64_t Q, const void* b, void* y) {
  if (t == DType::F32)
    add_channel_bias_host(N, C, Q, static_cast<const float*>(b), static_cast<float*>(y));
  else
    add_channel_bias_host(N, C, Q, static_cast<const double*>(b), static_cast<double*>(y));
}

// dw = beta·dw for an empty batch: zeros under beta 0, untouched under beta 1.
void empty_batch_filter_gradient(ContextState& st, const TensorArg& dw, bool accumulate) {
  const std::int64_t n = dw.shape.numel("dw");
  if (accumulate || n == 0) return;
  CONVKIT_CUDA_TRY(cudaMemsetAsync(const_cast<void*>(dw.data), 0, static_cast<std::size_t>(n) * dtype_size(dw.dtype),
                                   st.stream()));
}

}  // namespace
}  // namespace detail

void conv_backward_data(Context& ctx, const ConvSpec& spec, TensorArg dy, TensorArg w, TensorArg dx, Algorithm algo,
                        double beta) {
  const char* fn = "conv_backward_data";
  detail::check_enum(algo);
  if (algo == Algorithm::Reference) {
    reference::conv_backward_data(spec, dy, w, dx, beta);
    return;
  }
  const bool accumulate = detail::accumulate_from_beta(beta, fn);
  const ConvProblem p = detail::validate_backward_data(spec, dy, w, dx, Location::Device, fn);
  detail::ContextState& st = *ctx.state();
  const Algorithm a = detail::resolve(p, dy.dtype, algo, ctx.state(), false, Direction::BackwardData);
  const detail::AlgorithmOps& ops = detail::checked_ops(p, dy.dtype, a, st, Direction::BackwardData);
  if (p.N == 0) return;  // dx is empty
  st.stream();
  detail::run_direction(ops, st, p, dy.dtype, Direction::BackwardData, {},
                        detail::GradOperands{nullptr, w.data, dy.data, const_cast<void*>(dx.data), accumulate});
}

void conv_backward_filter(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg dy, TensorArg dw, Algorithm algo,
                          double beta) {
  const char* fn = "conv_backward_filter";
  detail::check_enum(algo);
  if (algo == Algorithm::Reference) {
    reference::conv_backward_filter(spec, x, dy, dw, beta);
    return;
  }
  const bool accumulate = detail::accumulate_from_beta(beta, fn);
  const ConvProblem p = detail::validate_backward_filter(spec, x, dy, dw, Location::Device, fn);
  detail::ContextState& st = *ctx.state();
  const Algorithm a = detail::resolve(p, x.dtype, algo, ctx.state(), false, Direction::BackwardFilter);
  const detail::AlgorithmOps& ops = detail::checked_ops(p, x.dtype, a, st, Direction::BackwardFilter);
  if (p.N == 0) {
    detail::empty_batch_filter_gradient(st, dw, accumulate);
    return;
  }
  st.stream();
  detail::run_direction(ops, st, p, x.dtype, Direction::BackwardFilter, {},
                        detail::GradOperands{x.data, nullptr, dy.data, const_cast<void*>(dw.data), accumulate});
}

void conv_backward_bias(Context& ctx, TensorArg dy, TensorArg db, double beta) {
  const char* fn = "conv_backward_bias";
  // Host views: the reference's reduction in double (there is no algorithm
  // to choose, so the operands' location decides, as for NumPy arrays).
  if (dy.present && dy.location == Location::Host) {
    reference::conv_backward_bias(dy, db, beta);
    return;
  }
  const bool accumulate = detail::accumulate_from_beta(beta, fn);
  const detail::BiasGradShape s = detail::validate_backward_bias(dy, db, Location::Device, fn);
  if (s.K == 0) return;
  detail::ContextState& st = *ctx.state();
  st.stream();
  detail::run_backward_bias(st, dy.dtype, s.N, s.K, s.Q, dy.data, const_cast<void*>(db.data), accumulate);
}

// ------------------------------------------------- transposed convolution

Shape conv_transpose_output_shape(const ConvSpec& spec, const Shape& x, const Shape& w,
                                  const std::vector<std::int64_t>& output_padding) {
  const char* fn = "conv_transpose_output_shape";
  const Status bad = Status::InvalidArgument;
  const int d = spec.dims();
  CONVKIT_EXPECTS(d >= 1 && d <= 3, bad, fn, ": spec dims = ", d, ": must be 1, 2 or 3");
  CONVKIT_EXPECTS(x.rank() == d + 2, bad, fn, ": x shape = ", x, ": must be [N, K, O1..O", d, "] (rank ", d + 2, ")");
  CONVKIT_EXPECTS(w.rank() == d + 2, bad, fn, ": w shape = ", w, ": must be [K, C/G, k1..k", d, "] (rank ", d + 2,
                  ")");
  CONVKIT_EXPECTS(output_padding.empty() || static_cast<int>(output_padding.size()) == d, bad, fn,
                  ": output_padding has ", output_padding.size(), " entries: must have ", d,
                  " (one per spatial dimension) or none");
  CONVKIT_EXPECTS(x[1] == w[0], bad, fn, ": x has ", x[1], " channels but w has ", w[0],
                  " filters: x's channels are the forward output channels K = w.shape[0]");
  CONVKIT_EXPECTS(spec.groups() >= 1, bad, fn, ": groups = ", spec.groups(), ": must be >= 1");
  Shape y;
  y.push_back(x[0]);
  y.push_back(detail::mul_checked(w[1], spec.groups(), "conv_transpose_output_shape: C = C/G · groups"));
  for (int i = 0; i < d; ++i) {
    const std::int64_t o = x[2 + i], k = w[2 + i];
    CONVKIT_EXPECTS(o >= 1 && k >= 1, bad, fn, ": spatial dimension ", i, ": input size ", o, " and kernel size ",
                    k, " must be >= 1");
    const std::int64_t s = spec.stride_at(i), dil = spec.dilation_at(i);
    CONVKIT_EXPECTS(s >= 1 && dil >= 1, bad, fn, ": spatial dimension ", i, ": stride ", s, " and dilation ", dil,
                    " must be >= 1");
    const auto [lo, hi] = spec.resolved_padding(i, k);
    CONVKIT_EXPECTS(lo >= 0 && hi >= 0, bad, fn, ": spatial dimension ", i, ": padding (", lo, ", ", hi,
                    ") must be >= 0");
    const std::int64_t op = output_padding.empty() ? 0 : output_padding[i];
    CONVKIT_EXPECTS(op >= 0 && (op < s || op < dil), bad, fn, ": output_padding[", i, "] = ", op,
                    ": must be >= 0 and smaller than the stride (", s, ") or the dilation (", dil, ")");
    const char* what = "conv_transpose_output_shape: output size";
    // (o − 1)·s − lo − hi + dil·(k − 1) + 1 + op, each step checked.
    std::int64_t size = detail::mul_checked(o - 1, s, what);
    size = detail::add_checked(size, detail::mul_checked(dil, k - 1, what), what);
    size = detail::add_checked(size, 1 + op, what);
    size = detail::add_checked(size, -detail::add_checked(lo, hi, what), what);
    CONVKIT_EXPECTS(size >= 1, bad, fn, ": spatial dimension ", i, ": the output size (", o, " − 1)·", s, " − ", lo,
                    " − ", hi, " + ", dil, "·(", k, " − 1) + 1 + ", op, " = ", size, " is not positive");
    y.push_back(size);
  }
  // The forward map of y's shape must give x's back (named paddings resolve
  // against y, e.g. `same` needs stride 1).
  const Shape back = spec.output_shape(y, w);
  CONVKIT_EXPECTS(back == x, bad, fn, ": the output shape ", y, " gives ", back, " under the forward spec, not x's ",
                  x);
  return y;
}

void conv_transpose(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg bias, TensorArg y,
                    Algorithm algo) {
  const char* fn = "conv_transpose";
  const Status bad = Status::InvalidArgument;
  detail::check_enum(algo);
  const Location where = algo == Algorithm::Reference ? Location::Host : Location::Device;
  // The adjoint of spec's forward map from y's shape: x plays dy, y plays dx.
  const ConvProblem p = detail::validate_backward_data(spec, x, w, y, where, fn, "x", "y");
  if (spec.has_bias()) {
    CONVKIT_EXPECTS(bias.present, bad, fn, ": bias is missing: the spec has bias(true), so pass a bias [C] = [", p.C,
                    "] (one per output channel of the transposed convolution)");
    detail::check_tensor(bias, "bias", x.dtype, where, Shape{p.C}, false);
    detail::check_no_overlap(y, "y", bias, "bias");
  } else {
    CONVKIT_EXPECTS(!bias.present, bad, fn, ": bias given with shape ", bias.shape,
                    " but the spec has bias(false): set spec.bias(true) to add it");
  }
  if (algo == Algorithm::Reference) {
    reference::conv_backward_data(spec, x, w, y, 0.0);
    if (spec.has_bias()) detail::add_channel_bias_host(x.dtype, p.N, p.C, p.in_spatial(), bias.data,
                                                       const_cast<void*>(y.data));
    return;
  }
  detail::ContextState& st = *ctx.state();
  const Algorithm a = detail::resolve(p, x.dtype, algo, ctx.state(), false, Direction::BackwardData);
  const detail::AlgorithmOps& ops = detail::checked_ops(p, x.dtype, a, st, Direction::BackwardData);
  if (p.N == 0) return;
  st.stream();
  // The adjoint overwrites y (so an algorithm that refuses late, such as a
  // Toeplitz matrix over the free memory, leaves y as it was, and Direct may
  // run a forward kernel); the bias is added once it has.
  detail::run_direction(ops, st, p, x.dtype, Direction::BackwardData, {},
                        detail::GradOperands{nullptr, w.data, x.data, const_cast<void*>(y.data), false});
  if (spec.has_bias())
    detail::add_channel_bias(st, x.dtype, p.N, p.C, p.in_spatial(), bias.data, const_cast<void*>(y.data));
}

// ---------------------------------------------------------------- ConvPlan

ConvPlan::ConvPlan(Context& ctx, const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype,
                   Algorithm algo) {
  detail::check_enum(algo);
  const ConvProblem p = detail::validate_problem(spec, x, w, dtype);
  detail::ContextState& st = *ctx.state();
  const Algorithm a = detail::resolve(p, dtype, algo, ctx.state(), true, Direction::Forward);
  const detail::AlgorithmOps& ops = detail::checked_ops(p, dtype, a, st, Direction::Forward);
  st.stream();
  impl_ = detail::make_plan_impl(ctx.state(), p, dtype, ops);
}

ConvPlan::~ConvPlan() = default;
ConvPlan::ConvPlan(ConvPlan&&) noexcept = default;
ConvPlan& ConvPlan::operator=(ConvPlan&&) noexcept = default;

namespace {
// A moved-from plan has no implementation; every member call goes through
// here so that it throws instead of dereferencing null.
detail::PlanImpl& live(const std::unique_ptr<detail::PlanImpl>& impl, const char* what) {
  CONVKIT_EXPECTS(impl != nullptr, Status::InvalidArgument, "ConvPlan::", what,
                  ": used after move (a moved-from plan holds nothing until a plan is assigned to it)");
  return *impl;
}
}  // namespace

void ConvPlan::set_weights(TensorArg w, TensorArg bias) {
  detail::PlanImpl& impl = live(impl_, "set_weights");
  const ConvProblem& p = impl.problem();
  detail::check_tensor(w, "w", impl.dtype(), Location::Device, p.w_shape(), false);
  detail::check_bias(bias, p.has_bias, impl.dtype(), Location::Device, p.K);
  impl.set_weights(w.data, bias.present ? bias.data : nullptr);
  impl.bound_w = w;
  impl.bound_b = bias;
}

void ConvPlan::run(TensorArg x, TensorArg y) {
  detail::PlanImpl& impl = live(impl_, "run");
  const ConvProblem& p = impl.problem();
  CONVKIT_EXPECTS(impl.has_weights(), Status::InvalidArgument, "ConvPlan::run: call set_weights first");
  detail::check_tensor(x, "x", impl.dtype(), Location::Device, p.x_shape(), false);
  detail::check_tensor(y, "y", impl.dtype(), Location::Device, p.y_shape(), true);
  detail::check_no_overlap(y, "y", x, "x");
  detail::check_no_overlap(y, "y", impl.bound_w, "the plan's weights");
  detail::check_no_overlap(y, "y", impl.bound_b, "the plan's bias");
  impl.run(x.data, const_cast<void*>(y.data));
}

namespace {
// The plan's algorithm must have the backward pass asked for before anything
// runs (the workspace is checked where it is taken, before any write).
void check_plan_direction(const detail::PlanImpl& impl, Direction d, const char* fn) {
  const detail::AlgorithmOps& ops = detail::ops_for(impl.algorithm());
  const Support s = detail::supports_direction(ops, impl.problem(), impl.dtype(), d);
  CONVKIT_EXPECTS(s.ok, Status::NotSupported, "ConvPlan::", fn, ": Algorithm::", algorithm_name(impl.algorithm()),
                  " cannot run the ", direction_name(d), " pass of ", impl.problem(), ": ", s.reason);
}
}  // namespace

void ConvPlan::run_backward_data(TensorArg dy, TensorArg dx, double beta) {
  const char* fn = "run_backward_data";
  detail::PlanImpl& impl = live(impl_, fn);
  const ConvProblem& p = impl.problem();
  const bool accumulate = detail::accumulate_from_beta(beta, "ConvPlan::run_backward_data");
  CONVKIT_EXPECTS(impl.has_weights(), Status::InvalidArgument, "ConvPlan::", fn, ": call set_weights first");
  detail::check_tensor(dy, "dy", impl.dtype(), Location::Device, p.y_shape(), false);
  detail::check_tensor(dx, "dx", impl.dtype(), Location::Device, p.x_shape(), true);
  detail::check_no_overlap(dx, "dx", dy, "dy");
  detail::check_no_overlap(dx, "dx", impl.bound_w, "the plan's weights");
  check_plan_direction(impl, Direction::BackwardData, fn);
  impl.run_backward_data(dy.data, const_cast<void*>(dx.data), accumulate);
}

void ConvPlan::run_backward_filter(TensorArg x, TensorArg dy, TensorArg dw, double beta) {
  const char* fn = "run_backward_filter";
  detail::PlanImpl& impl = live(impl_, fn);
  const ConvProblem& p = impl.problem();
  const bool accumulate = detail::accumulate_from_beta(beta, "ConvPlan::run_backward_filter");
  detail::check_tensor(x, "x", impl.dtype(), Location::Device, p.x_shape(), false);
  detail::check_tensor(dy, "dy", impl.dtype(), Location::Device, p.y_shape(), false);
  detail::check_tensor(dw, "dw", impl.dtype(), Location::Device, p.w_shape(), true);
  detail::check_no_overlap(dw, "dw", x, "x");
  detail::check_no_overlap(dw, "dw", dy, "dy");
  check_plan_direction(impl, Direction::BackwardFilter, fn);
  if (p.N == 0) {
    detail::empty_batch_filter_gradient(*impl.context(), dw, accumulate);
    return;
  }
  impl.run_backward_filter(x.data, dy.data, const_cast<void*>(dw.data), accumulate);
}

void ConvPlan::run_transpose(TensorArg y, TensorArg x) {
  live(impl_, "run_transpose");
  run_backward_data(y, x, 0.0);
}

const ConvProblem& ConvPlan::problem() const { return live(impl_, "problem").problem(); }
Algorithm ConvPlan::algorithm() const { return live(impl_, "algorithm").algorithm(); }
DType ConvPlan::dtype() const { return live(impl_, "dtype").dtype(); }
std::size_t ConvPlan::workspace_bytes() const { return live(impl_, "workspace_bytes").workspace_bytes(); }
std::string ConvPlan::variant() const { return live(impl_, "variant").variant(); }

}  // namespace convkit
