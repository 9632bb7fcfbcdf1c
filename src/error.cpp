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
    case Status::InternalError: return "InternalError";
  }
  return "Unknown";
}

Error::Error(Status status, const std::string& message)
    : std::runtime_error(std::string("convkit ") + status_name(status) + ": " + message),
      status_(status) {}

Error::~Error() = default;

const char* dtype_name(DType t) noexcept { return t == DType::F32 ? "f32" : "f64"; }

const char* location_name(Location l) noexcept { return l == Location::Host ? "host" : "device"; }

}  // namespace convkit
