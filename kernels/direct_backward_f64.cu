// Algorithm::Direct's backward kernels for double: the one place the launch
// functions of direct_backward.cuh are instantiated for double.
#include "direct_backward_impl.cuh"

namespace convkit::detail {

template void direct_backward_data_launch<double>(const ConvProblem&, const double*, const double*, double*, bool, cudaStream_t);
template void direct_backward_filter_launch<double>(const ConvProblem&, const double*, const double*, double*, double*, bool,
                                                 cudaStream_t);
template void direct_backward_bias_launch<double>(std::int64_t, std::int64_t, std::int64_t, const double*, double*, bool,
                                               double*, cudaStream_t);

}  // namespace convkit::detail
