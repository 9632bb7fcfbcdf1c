// im2col kernels for double: the explicit instantiations of kernels/im2col.cuh's
// launchers (one translation unit per dtype so builds parallelise and nothing
// is instantiated twice).
#include "im2col.cuh"

CONVKIT_INSTANTIATE_IM2COL(double)
