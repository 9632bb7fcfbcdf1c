// The decisions Algorithm::Auto's tuning and the sparse Toeplitz plan make on
// their failure paths, checked on the CPU (the cuSPARSE calls and the timing
// around them need a GPU; test_choice_gpu.cpp and test_toeplitz_gpu.cpp run
// them there): which tuning failures outlive the process, when a Toeplitz
// budget refusal is the device's free memory (OutOfMemory) rather than the
// caller's limit (NotSupported), that any failure of cuSPARSE's row-major
// query sends SpMM to column-major, and that a zero-byte cuSPARSE buffer is
// never preprocessed.
#include "harness.hpp"
#include "sparse_toeplitz.hpp"
#include "tuning.hpp"

#include <cstddef>
#include <limits>

namespace convkit::test {
namespace {

namespace tp = detail::toeplitz_plan;

TEST(ChoiceFailurePaths, OnlyAFailureThatIsAPropertyOfTheKeyIsWrittenToTheTuningFile) {
  // NotSupported: the algorithm (or cuSPARSE) declines this problem, which the
  // key fixes; it will decline it next time too.
  EXPECT_TRUE(detail::tuning_failure_persists(Status::NotSupported));
  // The rest depend on the moment -- memory others hold, buffer sizes of a
  // library version the key does not name, the device's state -- or are bugs.
  for (Status s : {Status::OutOfMemory, Status::WorkspaceTooSmall, Status::CudaError, Status::CublasError,
                   Status::CusparseError, Status::NoDevice, Status::InvalidArgument, Status::InternalError})
    EXPECT_FALSE(detail::tuning_failure_persists(s)) << status_name(s);
}

TEST(ChoiceFailurePaths, ToeplitzRefusalForFreeMemoryIsOutOfMemoryNotNotSupported) {
  const std::size_t unlimited = std::numeric_limits<std::size_t>::max();
  // Within the limit, over what is free now: may pass later.
  EXPECT_TRUE(tp::over_free_memory_only(1000, unlimited, 999));
  EXPECT_TRUE(tp::over_free_memory_only(1000, 1000, 0));
  // Fits what is free: the refusal was not about memory.
  EXPECT_FALSE(tp::over_free_memory_only(1000, unlimited, 1000));
  // Over the caller's workspace limit (part of the tuning key): NotSupported
  // stays, whether or not memory is short as well.
  EXPECT_FALSE(tp::over_free_memory_only(1000, 999, 1 << 20));
  EXPECT_FALSE(tp::over_free_memory_only(1000, 999, 10));
}

TEST(ChoiceFailurePaths, AnyFailureOfTheRowMajorQueryMeansColumnMajor) {
  EXPECT_FALSE(tp::row_major_refused(CUSPARSE_STATUS_SUCCESS));
  for (cusparseStatus_t st : {CUSPARSE_STATUS_NOT_SUPPORTED, CUSPARSE_STATUS_INVALID_VALUE,
                              CUSPARSE_STATUS_INTERNAL_ERROR, CUSPARSE_STATUS_ARCH_MISMATCH,
                              CUSPARSE_STATUS_EXECUTION_FAILED, CUSPARSE_STATUS_INSUFFICIENT_RESOURCES})
    EXPECT_TRUE(tp::row_major_refused(st)) << static_cast<int>(st);
}

TEST(ChoiceFailurePaths, ZeroByteBufferIsNeverPreprocessed) {
  EXPECT_FALSE(tp::preprocess_wanted(true, false, 0));
  EXPECT_TRUE(tp::preprocess_wanted(true, false, 1));
  EXPECT_TRUE(tp::preprocess_wanted(true, false, std::size_t(1) << 30));
  EXPECT_FALSE(tp::preprocess_wanted(true, true, 256)) << "already preprocessed";
  EXPECT_FALSE(tp::preprocess_wanted(false, false, 256)) << "one-shot plans never preprocess";
}

}  // namespace
}  // namespace convkit::test
