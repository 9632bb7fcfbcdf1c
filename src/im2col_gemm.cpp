// Algorithm::Im2colGemm: host side. Not built yet: supports() says so and run()
// raises NotSupported -- never a silent fallback to another path.
#include "algorithms.hpp"
#include "check.hpp"

namespace convkit::detail {
namespace {

Support supports_im2col_gemm(const ConvProblem&, DType) {
  return unsupported("Algorithm::Im2colGemm is not built yet");
}
std::size_t workspace_im2col_gemm(const ConvProblem&, DType) { return 0; }
void run_im2col_gemm(ContextState&, const ConvProblem&, DType, const Operands&) {
  throw Error(Status::NotSupported, "Algorithm::Im2colGemm is not built yet");
}

}  // namespace

const AlgorithmOps kIm2colGemmOps{Algorithm::Im2colGemm, supports_im2col_gemm, workspace_im2col_gemm, workspace_im2col_gemm, run_im2col_gemm, nullptr};

}  // namespace convkit::detail
