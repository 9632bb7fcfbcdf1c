// The cuDNN baseline when cuDNN was not found at configure time: it reports
// itself unavailable and the bench's cuDNN column reads "n/a".
#include "cudnn_baseline.hpp"

namespace convkit::bench {

bool cudnn_available(std::string* why) {
  if (why) *why = "cuDNN not found at configure time (set CUDNN_ROOT)";
  return false;
}

std::string cudnn_version() { return {}; }

struct CudnnConv::Impl {};

CudnnConv::CudnnConv(cudaStream_t, const ConvProblem&, DType, const void*, const void*, std::size_t, CudnnForward) {
  throw CudnnUnsupported("cuDNN not built in");
}
CudnnConv::~CudnnConv() = default;
void CudnnConv::run() {}
void* CudnnConv::y() const { return nullptr; }
std::size_t CudnnConv::y_bytes() const { return 0; }
const SymmetricView& CudnnConv::view() const {
  static const SymmetricView none;
  return none;
}
std::string CudnnConv::algorithm() const { return {}; }
std::size_t CudnnConv::workspace_bytes() const { return 0; }

struct CudnnConvBackward::Impl {};

CudnnConvBackward::CudnnConvBackward(cudaStream_t, const ConvProblem&, DType, bool, const void*, const void*,
                                     const void*, std::size_t) {
  throw CudnnUnsupported("cuDNN not built in");
}
CudnnConvBackward::~CudnnConvBackward() = default;
void CudnnConvBackward::run() {}
void* CudnnConvBackward::out() const { return nullptr; }
std::size_t CudnnConvBackward::out_bytes() const { return 0; }
std::string CudnnConvBackward::algorithm() const { return {}; }
std::size_t CudnnConvBackward::workspace_bytes() const { return 0; }

}  // namespace convkit::bench
