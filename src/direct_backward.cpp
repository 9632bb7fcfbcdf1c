// Algorithm::Direct's backward passes, host side, and the reductions every
// path shares: the bias gradient and the bias broadcast of conv_transpose.
// Backward-data is direct/gather (one thread per dx element, no workspace);
// backward-filter is direct/reduce (two passes through a workspace of
// partials whose size is a pure function of the problem); the bias gradient
// is one pass, one block per channel, with no workspace. All three sum in a
// fixed order without atomics (kernels/direct_backward.cuh), so runs are
// bit-identical. Launches go on the context's stream and never synchronise.
#include "direct_backward.hpp"

#include "algorithms.hpp"
#include "check.hpp"
#include "validate.hpp"

#include "direct_backward.cuh"
#include "toeplitz.cuh"

namespace convkit::detail {

Support supports_direct_backward(const ConvProblem&, DType, Direction d) {
  switch (d) {
    case Direction::BackwardData: return supported("direct/gather");
    case Direction::BackwardFilter: return supported("direct/reduce");
    case Direction::Forward: break;
  }
  return unsupported("not a backward direction");
}

std::size_t workspace_direct_backward(const ConvProblem& p, DType t, Direction d) {
  return d == Direction::BackwardFilter ? direct_bwd::reduce_workspace_bytes(p, dtype_size(t)) : 0;
}

void run_direct_backward(ContextState& ctx, const ConvProblem& p, DType t, Direction d, const GradOperands& ops) {
  if (d == Direction::BackwardData) {
    if (t == DType::F32)
      direct_backward_data_launch<float>(p, static_cast<const float*>(ops.dy), static_cast<const float*>(ops.w),
                                         static_cast<float*>(ops.out), ops.accumulate, ctx.stream());
    else
      direct_backward_data_launch<double>(p, static_cast<const double*>(ops.dy), static_cast<const double*>(ops.w),
                                          static_cast<double*>(ops.out), ops.accumulate, ctx.stream());
    return;
  }
  CONVKIT_EXPECTS(d == Direction::BackwardFilter, Status::InternalError, "Algorithm::Direct run_backward: ",
                  direction_name(d), " is not a backward direction");
  // The caller checked the limit against the minimum, which is the whole.
  void* ws = ctx.workspace(workspace_direct_backward(p, t, d), "Algorithm::Direct backward-filter (direct/reduce)");
  if (t == DType::F32)
    direct_backward_filter_launch<float>(p, static_cast<const float*>(ops.x), static_cast<const float*>(ops.dy),
                                         static_cast<float*>(ops.out), static_cast<float*>(ws), ops.accumulate,
                                         ctx.stream());
  else
    direct_backward_filter_launch<double>(p, static_cast<const double*>(ops.x), static_cast<const double*>(ops.dy),
                                          static_cast<double*>(ops.out), static_cast<double*>(ws), ops.accumulate,
                                          ctx.stream());
}

// One pass, one block per channel (no workspace argument here, and none
// taken): deterministic, see direct_bwd::bias_partial.
void run_backward_bias(ContextState& ctx, DType t, std::int64_t N, std::int64_t K, std::int64_t Q, const void* dy,
                       void* db, bool accumulate) {
  if (K == 0) return;
  if (t == DType::F32)
    direct_backward_bias_launch<float>(N, K, Q, static_cast<const float*>(dy), static_cast<float*>(db), accumulate,
                                       ctx.stream());
  else
    direct_backward_bias_launch<double>(N, K, Q, static_cast<const double*>(dy), static_cast<double*>(db), accumulate,
                                        ctx.stream());
}

void fill_channel_bias(ContextState& ctx, DType t, std::int64_t N, std::int64_t C, std::int64_t Q, const void* bias,
                       void* y) {
  if (t == DType::F32)
    toeplitz::broadcast_bias_device<float>(ctx.stream(), static_cast<float*>(y), static_cast<const float*>(bias), N, C,
                                           Q);
  else
    toeplitz::broadcast_bias_device<double>(ctx.stream(), static_cast<double*>(y), static_cast<const double*>(bias), N,
                                            C, Q);
}

}  // namespace convkit::detail
