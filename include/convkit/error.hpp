// convkit's error type. Every failure the library reports is a convkit::Error
// carrying a Status and a message that names the parameter, its value and the
// rule it broke. The class is exported from the shared library so callers can
// catch it by type across the library boundary.
#pragma once

#include <convkit/export.hpp>

#include <stdexcept>
#include <string>

namespace convkit {

/// What kind of failure an Error reports.
enum class Status {
  Success = 0,
  InvalidArgument,    ///< the caller broke a rule of the API (a bad shape, stride, pointer...)
  NotSupported,       ///< valid input that this algorithm or build does not handle
  OutOfMemory,        ///< a device or host allocation failed
  WorkspaceTooSmall,  ///< the context's workspace limit is below what the algorithm needs
  NoDevice,           ///< a GPU path was asked for and no CUDA device is usable
  CudaError,          ///< a CUDA runtime call or kernel launch failed
  CublasError,        ///< a cuBLAS call failed
  CusparseError,      ///< a cuSPARSE call failed
  InternalError,      ///< a broken invariant inside convkit (a bug: please report it)
  CufftError,         ///< a cuFFT call failed
};

/// Name of a Status, e.g. "InvalidArgument".
CONVKIT_EXPORT const char* status_name(Status s) noexcept;

/// The exception every convkit function throws.
class CONVKIT_EXPORT Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& message);
  ~Error() override;
  Error(const Error&) = default;
  Error& operator=(const Error&) = default;

  /// The kind of failure.
  Status status() const noexcept { return status_; }

 private:
  Status status_;
};

}  // namespace convkit
