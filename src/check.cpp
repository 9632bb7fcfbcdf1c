// Turns failing CUDA / cuBLAS / cuSPARSE return codes into convkit::Error.
#include "check.hpp"

#include <cublas_v2.h>
#include <cusparse.h>

namespace convkit::detail {

void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  Status s = Status::CudaError;
  if (e == cudaErrorMemoryAllocation) s = Status::OutOfMemory;
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) s = Status::NoDevice;
  cudaGetLastError();  // clear a sticky-free error so later calls are not poisoned
  throw Error(s, msg(call, " failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") at ",
                     file, ":", line));
}

void throw_cublas(int status, const char* call, const char* file, int line) {
  Status s = status == CUBLAS_STATUS_ALLOC_FAILED ? Status::OutOfMemory : Status::CublasError;
  throw Error(s, msg(call, " failed: ", cublasGetStatusName(static_cast<cublasStatus_t>(status)),
                     " at ", file, ":", line));
}

void throw_cusparse(int status, const char* call, const char* file, int line) {
  Status s = status == CUSPARSE_STATUS_ALLOC_FAILED ? Status::OutOfMemory : Status::CusparseError;
  throw Error(s, msg(call, " failed: ", cusparseGetErrorName(static_cast<cusparseStatus_t>(status)),
                     " at ", file, ":", line));
}

}  // namespace convkit::detail
