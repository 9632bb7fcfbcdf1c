// Algorithm::Direct kernels for double: the one place direct_launch<double> (and
// with it every direct kernel variant listed in direct.cuh) is instantiated.
#include "direct_impl.cuh"

namespace convkit::detail {

template void direct_launch<double>(DirectVariant, const ConvProblem&, const double*, const double*, const double*, double*,
                                 cudaStream_t);

}  // namespace convkit::detail
