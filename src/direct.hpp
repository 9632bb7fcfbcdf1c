// Internal hook into Algorithm::Direct for tests and benchmarks: run one named
// kernel variant rather than the one select_direct_variant() picks, so every
// variant can be checked against the reference on the shapes it serves.
#pragma once

#include <convkit/context.hpp>
#include <convkit/export.hpp>
#include <convkit/spec.hpp>
#include <convkit/tensor.hpp>

#include "direct.cuh"

namespace convkit::detail {

/// conv(ctx, spec, x, w, bias, y, Algorithm::Direct) with variant `v` forced.
/// Validates like conv(); throws NotSupported when `v` does not serve the
/// problem. Asynchronous, on ctx's stream. Pass TensorArg() as bias without one.
CONVKIT_EXPORT void run_direct_variant(Context& ctx, const ConvSpec& spec, TensorArg x, TensorArg w,
                                       TensorArg bias, TensorArg y, DirectVariant v);

}  // namespace convkit::detail
