// Algorithm::Fft kernels for double: the explicit instantiations of kernels/fft.cuh's
// launchers (one translation unit per dtype).
#include "fft.cuh"

CONVKIT_INSTANTIATE_FFT(double)
