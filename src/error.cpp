// convkit::Error and the names of statuses, dtypes and locations.
#include <convkit/error.hpp>
#include <convkit/types.hpp>

namespace convkit {

const char* status_name(Status s) noexcept {
  switch (s) {
    case Status::Success: return "Success";
    case Status::InvalidArgument: return "InvalidArgument";
    case Status::NotSupported: return "NotSupported";
    case Status::OutOfMemory: return "OutOfMemory";
    case Status::WorkspaceTooSmall: return "WorkspaceTooSmall";
    case Status::NoDevice: return "NoDevice";
    case Status::CudaError: return "CudaError";
    case Status::CublasError: return "CublasError";
    case Status::CusparseError: return "CusparseError";
    case Status::CufftError: return "CufftError";
    case Status::InternalError: return "InternalError";
  }
  return "Unknown";
}

Error::Error(Status status, const std::string& message)
    : std::runtime_error(std::string("convkit ") + status_name(status) + ": " + message),
      status_(status) {}

Error::~Error() = default;

// Out-of-range values (a cast integer) get a name of their own rather than
// passing for a valid one in messages.
const char* dtype_name(DType t) noexcept {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
  }
  return "invalid dtype";
}

const char* location_name(Location l) noexcept {
  switch (l) {
    case Location::Host: return "host";
    case Location::Device: return "device";
  }
  return "invalid location";
}

}  // namespace convkit
