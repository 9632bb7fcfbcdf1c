// Algorithm::Direct: host side. Not built yet: supports() says so and run()
// raises NotSupported -- never a silent fallback to another path.
#include "algorithms.hpp"
#include "check.hpp"

namespace convkit::detail {
namespace {

Support supports_direct(const ConvProblem&, DType) {
  return unsupported("Algorithm::Direct is not built yet");
}
std::size_t workspace_direct(const ConvProblem&, DType) { return 0; }
void run_direct(ContextState&, const ConvProblem&, DType, const Operands&) {
  throw Error(Status::NotSupported, "Algorithm::Direct is not built yet");
}

}  // namespace

const AlgorithmOps kDirectOps{Algorithm::Direct, supports_direct, workspace_direct, workspace_direct, run_direct, nullptr};

}  // namespace convkit::detail
