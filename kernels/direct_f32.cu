// Algorithm::Direct kernels for float: the one place direct_launch<float> (and
// with it every direct kernel variant listed in direct.cuh) is instantiated.
#include "direct_impl.cuh"

namespace convkit::detail {

template void direct_launch<float>(DirectVariant, const ConvProblem&, const float*, const float*, const float*, float*,
                                 cudaStream_t);

}  // namespace convkit::detail
