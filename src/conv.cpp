// The public GPU entry points: validation, algorithm resolution and dispatch
// through the AlgorithmOps tables, and ConvPlan. Dtype never needs a switch
// here: algorithms receive it and dispatch once inside their own file.
#include <convkit/conv.hpp>
#include <convkit/reference.hpp>

#include "algorithms.hpp"
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

namespace detail {

const AlgorithmOps& ops_for(Algorithm a) {
  switch (a) {
    case Algorithm::Direct: return kDirectOps;
    case Algorithm::Im2colGemm: return kIm2colGemmOps;
    case Algorithm::SparseToeplitz: return kSparseToeplitzOps;
    default: break;
  }
  throw Error(Status::NotSupported, msg("Algorithm::", algorithm_name(a), " is not built yet"));
}

std::unique_ptr<PlanImpl> make_plan_impl(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p, DType t,
                                         const AlgorithmOps& ops) {
  return ops.make_plan ? ops.make_plan(ctx, p, t) : std::make_unique<PlanImpl>(ctx, p, t, ops);
}

void PlanImpl::run_transpose(const void*, void*) {
  throw Error(Status::NotSupported, msg("run_transpose: Algorithm::", algorithm_name(ops_.algo),
                                        " does not provide the transposed convolution; use SparseToeplitz"));
}

namespace {

// Auto's choice for a one-shot conv() on a default context (no workspace
// limit, no tuning, no determinism filter): the cost model, which spends no
// device time. supports() and workspace_bytes() answer for Auto with it.
AlgorithmChoice untuned_auto_choice(const ConvProblem& p, DType t) {
  Context defaults;
  return choose(defaults.state(), p, t, /*for_plan=*/false);
}

// Auto's support: the variant of the algorithm it would run (stored in
// *chosen), or every candidate's reason when none can.
Support auto_support(const ConvProblem& p, DType t, Algorithm* chosen) {
  std::string why;
  bool any = false;
  for (Algorithm c : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
    Support s = ops_for(c).supports(p, t);
    any |= s.ok;
    if (!s) why += msg(why.empty() ? "" : "; ", algorithm_name(c), ": ", s.reason);
  }
  if (!any) return unsupported("no algorithm supports this problem (" + why + ")");
  // With no workspace limit and no determinism filter, a supported candidate
  // is a considered one, so the choice below cannot come up empty.
  const AlgorithmChoice c = untuned_auto_choice(p, t);
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
Support supports_problem(const ConvProblem& p, DType t, Algorithm a) {
  switch (a) {
    case Algorithm::Reference: return supported();
    case Algorithm::Fft: return unsupported("Algorithm::Fft is not built yet");
    case Algorithm::Auto: return auto_support(p, t, nullptr);
    default: return ops_for(a).supports(p, t);
  }
}

// The concrete algorithm a call runs: the caller's, or Auto's choice.
Algorithm resolve(const ConvProblem& p, DType t, Algorithm a, const std::shared_ptr<ContextState>& ctx,
                  bool for_plan) {
  return a == Algorithm::Auto ? choose(ctx, p, t, for_plan).chosen : a;
}

const AlgorithmOps& checked_ops(const ConvProblem& p, DType t, Algorithm a, const ContextState& ctx) {
  CONVKIT_EXPECTS(a != Algorithm::Reference, Status::InvalidArgument,
                  "Algorithm::Reference runs on host tensors only: call it with host views");
  const AlgorithmOps& ops = ops_for(a);
  Support s = ops.supports(p, t);
  CONVKIT_EXPECTS(s.ok, Status::NotSupported, "Algorithm::", algorithm_name(a), " cannot run ", p, " (",
                  dtype_name(t), "): ", s.reason);
  ctx.check_workspace(ops.min_workspace(p, t), algorithm_name(a));
  return ops;
}

}  // namespace
}  // namespace detail

Support supports(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype, Algorithm algo) {
  detail::check_enum(algo);
  return detail::supports_problem(detail::validate_problem(spec, x, w, dtype), dtype, algo);
}

std::size_t workspace_bytes(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype, Algorithm algo) {
  detail::check_enum(algo);
  const ConvProblem p = detail::validate_problem(spec, x, w, dtype);
  if (algo == Algorithm::Reference) return 0;
  // Auto: the algorithm its cost model chooses, from the same choice that
  // answered supports().
  Algorithm chosen = algo;
  Support s = algo == Algorithm::Auto ? detail::auto_support(p, dtype, &chosen)
                                      : detail::supports_problem(p, dtype, algo);
  CONVKIT_EXPECTS(s.ok, Status::NotSupported, "Algorithm::", algorithm_name(algo), ": ", s.reason);
  return detail::ops_for(chosen).workspace(p, dtype);
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
  const Algorithm a = detail::resolve(p, x.dtype, algo, ctx.state(), false);
  const detail::AlgorithmOps& ops = detail::checked_ops(p, x.dtype, a, st);
  if (p.N == 0) return;
  st.stream();  // NoDevice here, before any work
  ops.run(st, p, x.dtype, detail::Operands{x.data, w.data, bias.present ? bias.data : nullptr,
                                           const_cast<void*>(y.data)});
}

// ---------------------------------------------------------------- ConvPlan

ConvPlan::ConvPlan(Context& ctx, const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype,
                   Algorithm algo) {
  detail::check_enum(algo);
  const ConvProblem p = detail::validate_problem(spec, x, w, dtype);
  detail::ContextState& st = *ctx.state();
  const Algorithm a = detail::resolve(p, dtype, algo, ctx.state(), true);
  const detail::AlgorithmOps& ops = detail::checked_ops(p, dtype, a, st);
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

void ConvPlan::run_transpose(TensorArg y, TensorArg x) {
  detail::PlanImpl& impl = live(impl_, "run_transpose");
  const ConvProblem& p = impl.problem();
  CONVKIT_EXPECTS(impl.has_weights(), Status::InvalidArgument, "ConvPlan::run_transpose: call set_weights first");
  detail::check_tensor(y, "dy", impl.dtype(), Location::Device, p.y_shape(), false);
  detail::check_tensor(x, "dx", impl.dtype(), Location::Device, p.x_shape(), true);
  detail::check_no_overlap(x, "dx", y, "dy");
  detail::check_no_overlap(x, "dx", impl.bound_w, "the plan's weights");
  impl.run_transpose(y.data, const_cast<void*>(x.data));
}

const ConvProblem& ConvPlan::problem() const { return live(impl_, "problem").problem(); }
Algorithm ConvPlan::algorithm() const { return live(impl_, "algorithm").algorithm(); }
DType ConvPlan::dtype() const { return live(impl_, "dtype").dtype(); }
std::size_t ConvPlan::workspace_bytes() const { return live(impl_, "workspace_bytes").workspace_bytes(); }
std::string ConvPlan::variant() const { return live(impl_, "variant").variant(); }

}  // namespace convkit
