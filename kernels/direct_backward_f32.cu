// Algorithm::Direct's backward kernels for float: the one place the launch
// functions of direct_backward.cuh are instantiated for float.
#include "direct_backward_impl.cuh"

namespace convkit::detail {

template void direct_backward_data_launch<float>(const ConvProblem&, const float*, const float*, float*, bool, cudaStream_t);
template void direct_backward_filter_launch<float>(const ConvProblem&, const float*, const float*, float*, float*, bool,
                                                 cudaStream_t);
template void direct_backward_bias_launch<float>(std::int64_t, std::int64_t, std::int64_t, const float*, float*, bool,
                                               float*, cudaStream_t);

}  // namespace convkit::detail
