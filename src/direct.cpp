// Algorithm::Direct, host side: support and variant selection (a pure function
// in kernels/direct.cuh, so Support::variant names the kernel that would run),
// the one dtype switch, and the forced-variant hook tests use. Every spec
// DESIGN §1 allows is supported (the generic kernel covers what the fast
// variants do not); the forward pass takes no workspace; launches go on the
// context's stream and never synchronise. The backward members live in
// direct_backward.cpp.
#include "direct.hpp"

#include "direct_backward.hpp"

#include "algorithms.hpp"
#include "check.hpp"
#include "validate.hpp"

#include <string>

namespace convkit::detail {
namespace {

void launch(cudaStream_t s, const ConvProblem& p, DType t, const Operands& o, DirectVariant v) {
  if (t == DType::F32)
    direct_launch<float>(v, p, static_cast<const float*>(o.x), static_cast<const float*>(o.w),
                         static_cast<const float*>(o.b), static_cast<float*>(o.y), s);
  else
    direct_launch<double>(v, p, static_cast<const double*>(o.x), static_cast<const double*>(o.w),
                          static_cast<const double*>(o.b), static_cast<double*>(o.y), s);
}

Support supports_direct(const ConvProblem& p, DType t) {
  return supported(std::string("direct/") + direct_variant_name(direct::select_direct_variant(p, dtype_size(t))));
}

std::size_t workspace_direct(const ConvProblem&, DType) { return 0; }

void run_direct(ContextState& ctx, const ConvProblem& p, DType t, const Operands& ops) {
  launch(ctx.stream(), p, t, ops, direct::select_direct_variant(p, dtype_size(t)));
}

}  // namespace

void run_direct_variant(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg w, TensorArg bias,
                        TensorArg y, DirectVariant v) {
  const ConvProblem p = validate_conv(spec, x, w, bias, y, Location::Device);
  CONVKIT_EXPECTS(direct::direct_applies(v, p, dtype_size(x.dtype)), Status::NotSupported, "direct/",
                  direct_variant_name(v), " does not serve ", p, " (", dtype_name(x.dtype), ")");
  if (p.N == 0) return;
  launch(ctx.state()->stream(), p, x.dtype,
         Operands{x.data, w.data, bias.present ? bias.data : nullptr, const_cast<void*>(y.data)}, v);
}

// Backward: direct/gather and direct/reduce (direct_backward.cpp); the
// reduction's workspace cannot be chunked, so its minimum is the whole.
const AlgorithmOps kDirectOps{Algorithm::Direct,         supports_direct,           workspace_direct,
                              workspace_direct,          run_direct,                nullptr,
                              supports_direct_backward,  workspace_direct_backward, workspace_direct_backward,
                              run_direct_backward};

}  // namespace convkit::detail
