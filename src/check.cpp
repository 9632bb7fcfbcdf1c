// Turns failing CUDA / cuBLAS / cuSPARSE return codes into convkit::Error.
#include "check.hpp"

#include <cublas_v2.h>
#include <cufft.h>
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

namespace {
const char* cufft_result_name(int r) {
  switch (r) {
    case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
    case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
    case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
    case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
    case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
    default: return "an unknown cufftResult";
  }
}
}  // namespace

void throw_cufft(int status, const char* call, const char* file, int line) {
  Status s = status == CUFFT_ALLOC_FAILED ? Status::OutOfMemory : Status::CufftError;
  throw Error(s, msg(call, " failed: ", cufft_result_name(status), " (", status, ") at ", file, ":", line));
}

}  // namespace convkit::detail
