// Algorithm::Direct's backward members of kDirectOps (direct_backward.cpp):
// direct/gather for backward-data, direct/reduce (two-pass, workspace) for
// backward-filter. Same contracts as AlgorithmOps's backward members.
#pragma once

#include <convkit/conv.hpp>
#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include "algorithms.hpp"

#include <cstddef>

namespace convkit::detail {

Support supports_direct_backward(const ConvProblem& p, DType t, Direction d);
/// Exact bytes: 0 for backward-data; the partials of direct/reduce for
/// backward-filter (it cannot be chunked, so the minimum is the same).
std::size_t workspace_direct_backward(const ConvProblem& p, DType t, Direction d);
void run_direct_backward(ContextState& ctx, const ConvProblem& p, DType t, Direction d, const GradOperands& ops);

}  // namespace convkit::detail
