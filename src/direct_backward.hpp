// Algorithm::Direct's backward members of kDirectOps (direct_backward.cpp):
// direct/gather for backward-data, direct/reduce (two-pass, workspace) for
// backward-filter. Same contracts as AlgorithmOps's backward members.
#pragma once

#include <convkit/conv.hpp>
#include <convkit/export.hpp>
#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include "algorithms.hpp"
#include "direct.cuh"

#include <cstddef>

namespace convkit::detail {

Support supports_direct_backward(const ConvProblem& p, DType t, Direction d);
/// Exact bytes: 0 for backward-data; the partials of direct/reduce for
/// backward-filter (it cannot be chunked, so the minimum is the same).
std::size_t workspace_direct_backward(const ConvProblem& p, DType t, Direction d);
void run_direct_backward(ContextState& ctx, const ConvProblem& p, DType t, Direction d, const GradOperands& ops);

/// Backward-data of `p` as a forward convolution, where that is exact with
/// the weights as they are: zero boundary, stride 1, one input and one output
/// channel per group (single signals, per-channel filtering, depthwise), and
/// padding at most dil·(k−1) on each side. Then
///   dx[q] = Σ_i dy[q − i·dil + lo] · w[t(i)] = Σ_i' dy[q + i'·dil − lo'] · w[t'(i')]
/// with i' = k−1−i, lo' = dil·(k−1) − lo (hi' likewise) and t' the other
/// mode's tap order: the forward problem of input dy [N, K, O...], the same
/// weights, output dx [N, C, D...], mode toggled. Returns false (and leaves
/// *q alone) otherwise. Pure; built through ConvSpec::problem, so q is a
/// validated problem.
CONVKIT_EXPORT bool adjoint_as_forward(const ConvProblem& p, ConvProblem* q);

/// The forward Direct variant that runs p's backward-data with beta 0 when
/// adjoint_as_forward applies and selects a fast variant (else Generic:
/// backward-data then runs direct/gather, as it always does with beta 1).
CONVKIT_EXPORT DirectVariant adjoint_forward_variant(const ConvProblem& p, std::size_t elem, ConvProblem* q);

}  // namespace convkit::detail
