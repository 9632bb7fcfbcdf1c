// Algorithm::Direct's backward passes, host side, and the reductions every
// path shares: the bias gradient and the bias broadcast of conv_transpose.
#include "algorithms.hpp"
#include "check.hpp"

#include "toeplitz.cuh"

namespace convkit::detail {

void run_backward_bias(ContextState&, DType, std::int64_t, std::int64_t, std::int64_t, const void*, void*, bool) {
  throw Error(Status::NotSupported, "conv_backward_bias: the device reduction is not built yet");
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
