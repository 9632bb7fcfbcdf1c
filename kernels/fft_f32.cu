// Algorithm::Fft kernels for float: the explicit instantiations of kernels/fft.cuh's
// launchers (one translation unit per dtype).
#include "fft.cuh"

CONVKIT_INSTANTIATE_FFT(float)
