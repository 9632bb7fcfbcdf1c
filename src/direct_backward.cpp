// Algorithm::Direct's backward passes, host side, and the reductions every
// path shares: the bias gradient and the bias broadcast of conv_transpose.
// Backward-data is direct/gather (one thread per dx element, no workspace),
// or with beta 0, where it is exactly a forward convolution of dy that a fast
// forward variant serves (adjoint_as_forward), that forward kernel;
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

#include <string>
#include <utility>
#include <vector>

namespace convkit::detail {

bool adjoint_as_forward(const ConvProblem& p, ConvProblem* q) {
  if (p.boundary != Boundary::Zeros || p.Cg() != 1 || p.Kg() != 1 || p.N == 0) return false;
  std::vector<std::int64_t> dil;
  std::vector<std::pair<std::int64_t, std::int64_t>> pad;
  Shape dy{p.N, p.K}, w{p.K, 1};
  for (int a = 3 - p.dims; a < 3; ++a) {
    if (p.stride[a] != 1) return false;
    const std::int64_t span = p.dilation[a] * (p.ker[a] - 1);  // fits: the problem validated it
    if (p.pad_lo[a] > span || p.pad_hi[a] > span) return false;
    dil.push_back(p.dilation[a]);
    pad.emplace_back(span - p.pad_lo[a], span - p.pad_hi[a]);
    dy.push_back(p.out[a]);
    w.push_back(p.ker[a]);
  }
  ConvSpec spec(p.dims);
  spec.dilation(dil).padding(Padding::per_dim(pad)).groups(p.G).boundary(Boundary::Zeros)
      .mode(p.mode == Mode::Convolution ? Mode::CrossCorrelation : Mode::Convolution);
  const ConvProblem f = spec.problem(dy, w);
  if (f.C != p.K || f.K != p.C) return false;
  for (int a = 0; a < 3; ++a)
    if (f.out[a] != p.in[a]) return false;  // cannot differ with stride 1; kept as a guard
  *q = f;
  return true;
}

DirectVariant adjoint_forward_variant(const ConvProblem& p, std::size_t elem, ConvProblem* q) {
  ConvProblem f;
  if (!adjoint_as_forward(p, &f)) return DirectVariant::Generic;
  const DirectVariant v = direct::select_direct_variant(f, elem);
  if (v != DirectVariant::Generic && q) *q = f;
  return v;
}

Support supports_direct_backward(const ConvProblem& p, DType t, Direction d) {
  switch (d) {
    case Direction::BackwardData: {
      // With beta 0 a fast forward kernel may run the adjoint; beta 1 (and
      // every other problem) runs the gather.
      const DirectVariant v = adjoint_forward_variant(p, dtype_size(t), nullptr);
      if (v != DirectVariant::Generic)
        return supported(std::string("direct/") + direct_variant_name(v) + "-adjoint (beta 0; gather for beta 1)");
      return supported("direct/gather");
    }
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
    ConvProblem f;
    if (!ops.accumulate) {
      const DirectVariant v = adjoint_forward_variant(p, dtype_size(t), &f);
      if (v != DirectVariant::Generic) {
        if (t == DType::F32)
          direct_launch<float>(v, f, static_cast<const float*>(ops.dy), static_cast<const float*>(ops.w), nullptr,
                               static_cast<float*>(ops.out), ctx.stream());
        else
          direct_launch<double>(v, f, static_cast<const double*>(ops.dy), static_cast<const double*>(ops.w), nullptr,
                                static_cast<double*>(ops.out), ctx.stream());
        return;
      }
    }
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

// Each channel's sum split into direct_bwd::bias_segments segments (two
// fixed-order passes through a few KB of the context's workspace), so a few
// channels over a long dy still fill the GPU; a context whose workspace
// limit is below those bytes runs one block per channel instead (also fixed
// order). Deterministic either way for a given problem and limit.
void run_backward_bias(ContextState& ctx, DType t, std::int64_t N, std::int64_t K, std::int64_t Q, const void* dy,
                       void* db, bool accumulate) {
  if (K == 0) return;
  const std::int64_t segments = direct_bwd::bias_segments(N, K, Q);
  const std::size_t bytes = segments > 1 ? static_cast<std::size_t>(segments * K) * dtype_size(t) : 0;
  void* partials = bytes && bytes <= ctx.workspace_limit ? ctx.workspace(bytes, "conv_backward_bias") : nullptr;
  if (t == DType::F32)
    direct_backward_bias_launch<float>(N, K, Q, static_cast<const float*>(dy), static_cast<float*>(db), accumulate,
                                       static_cast<float*>(partials), ctx.stream());
  else
    direct_backward_bias_launch<double>(N, K, Q, static_cast<const double*>(dy), static_cast<double*>(db), accumulate,
                                        static_cast<double*>(partials), ctx.stream());
}

void add_channel_bias(ContextState& ctx, DType t, std::int64_t N, std::int64_t C, std::int64_t Q, const void* bias,
                      void* y) {
  if (t == DType::F32)
    toeplitz::broadcast_bias_device<float>(ctx.stream(), static_cast<float*>(y), static_cast<const float*>(bias), N, C,
                                           Q, true);
  else
    toeplitz::broadcast_bias_device<double>(ctx.stream(), static_cast<double*>(y), static_cast<const double*>(bias), N,
                                            C, Q, true);
}

}  // namespace convkit::detail
