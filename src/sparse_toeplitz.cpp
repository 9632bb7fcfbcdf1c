// Algorithm::SparseToeplitz: host side. Not built yet: supports() says so and run()
// raises NotSupported -- never a silent fallback to another path.
#include "algorithms.hpp"
#include "check.hpp"

namespace convkit::detail {
namespace {

Support supports_sparse_toeplitz(const ConvProblem&, DType) {
  return unsupported("Algorithm::SparseToeplitz is not built yet");
}
std::size_t workspace_sparse_toeplitz(const ConvProblem&, DType) { return 0; }
void run_sparse_toeplitz(ContextState&, const ConvProblem&, DType, const Operands&) {
  throw Error(Status::NotSupported, "Algorithm::SparseToeplitz is not built yet");
}

}  // namespace

const AlgorithmOps kSparseToeplitzOps{Algorithm::SparseToeplitz, supports_sparse_toeplitz, workspace_sparse_toeplitz, workspace_sparse_toeplitz, run_sparse_toeplitz, nullptr};

}  // namespace convkit::detail
