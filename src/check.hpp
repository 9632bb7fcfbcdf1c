// Internal error-checking macros. Every CUDA, cuBLAS and cuSPARSE return code
// and every kernel launch goes through one of these and becomes a typed
// convkit::Error carrying the code, the call text and file:line.
#pragma once

#include <convkit/error.hpp>

#include <cuda_runtime_api.h>

#include <sstream>
#include <string>

namespace convkit::detail {

[[noreturn]] void throw_cuda(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas(int status, const char* call, const char* file, int line);
[[noreturn]] void throw_cusparse(int status, const char* call, const char* file, int line);
[[noreturn]] void throw_cufft(int status, const char* call, const char* file, int line);

/// Builds a message from stream-able pieces: msg("stride[", i, "] = ", s).
template <class... A>
std::string msg(const A&... a) {
  std::ostringstream os;
  (os << ... << a);
  return os.str();
}

}  // namespace convkit::detail

/// Throws Error(CudaError) (or OutOfMemory / NoDevice) when a CUDA runtime
/// call fails.
#define CONVKIT_CUDA_TRY(call)                                                   \
  do {                                                                           \
    cudaError_t convkit_e_ = (call);                                             \
    if (convkit_e_ != cudaSuccess)                                               \
      ::convkit::detail::throw_cuda(convkit_e_, #call, __FILE__, __LINE__);      \
  } while (0)

/// Checks the last kernel launch (configuration errors surface here).
#define CONVKIT_CHECK_LAUNCH() CONVKIT_CUDA_TRY(cudaGetLastError())

#define CONVKIT_CUBLAS_TRY(call)                                                 \
  do {                                                                           \
    int convkit_s_ = static_cast<int>(call);                                     \
    if (convkit_s_ != 0)                                                         \
      ::convkit::detail::throw_cublas(convkit_s_, #call, __FILE__, __LINE__);    \
  } while (0)

#define CONVKIT_CUSPARSE_TRY(call)                                               \
  do {                                                                           \
    int convkit_s_ = static_cast<int>(call);                                     \
    if (convkit_s_ != 0)                                                         \
      ::convkit::detail::throw_cusparse(convkit_s_, #call, __FILE__, __LINE__);  \
  } while (0)

#define CONVKIT_CUFFT_TRY(call)                                                  \
  do {                                                                           \
    int convkit_s_ = static_cast<int>(call);                                     \
    if (convkit_s_ != 0)                                                         \
      ::convkit::detail::throw_cufft(convkit_s_, #call, __FILE__, __LINE__);     \
  } while (0)

/// Argument check: throws Error(status, message) when cond is false.
#define CONVKIT_EXPECTS(cond, status, ...)                                       \
  do {                                                                           \
    if (!(cond)) throw ::convkit::Error((status), ::convkit::detail::msg(__VA_ARGS__)); \
  } while (0)
