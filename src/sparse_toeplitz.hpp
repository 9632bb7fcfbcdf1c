// Decisions of the sparse Toeplitz plan (sparse_toeplitz.cpp) on its failure
// paths, as small pure functions so the CPU tests can check them: the
// cuSPARSE calls around them run only on a GPU.
#pragma once

#include <cusparse.h>

#include <cstddef>

namespace convkit::detail::toeplitz_plan {

/// Whether cuSPARSE's answer to the row-major SpMM buffer-size query means
/// "use column-major instead". Any failure does, not only NOT_SUPPORTED:
/// cuSPARSE has answered INVALID_VALUE for a dense layout it does not take
/// (NVIDIA/CUDALibrarySamples#97), and the transposed product on row-major
/// operands with ALG_DEFAULT is the least exercised combination. The plan loses
/// nothing by this: the column-major query that follows is checked strictly,
/// so a real error (a bad handle, a broken matrix) is still reported there.
inline bool row_major_refused(cusparseStatus_t st) { return st != CUSPARSE_STATUS_SUCCESS; }

/// Whether a persistent plan preprocesses an operation before its product.
/// Not when cuSPARSE asked for a zero-byte buffer: preprocessing keeps what it
/// prepares in that buffer, so there is nothing to keep, and the buffer
/// pointer is then null, which cuSPARSE may refuse in preprocess (a failure
/// there would be an error, for a speed-up that cannot exist). The product
/// itself is still called with the null, zero-byte buffer, as cuSPARSE's own
/// samples do (cudaMalloc of zero bytes gives null). A dummy allocation was the
/// alternative; it would cost an allocation, count against the workspace limit
/// and still prepare nothing.
inline bool preprocess_wanted(bool persistent, bool prepared, std::size_t buffer_bytes) {
  return persistent && !prepared && buffer_bytes > 0;
}

/// Whether the matrix build's budget refusal (NotSupported) came from the
/// device's free memory alone: the matrix and its build scratch (`need`
/// bytes) fit the context's workspace limit but not the memory free now.
/// That refusal depends on the moment (what else holds device memory), so the
/// plan reports it as OutOfMemory, like a failed allocation; a matrix over the
/// workspace limit stays NotSupported (the limit is the caller's setting).
inline bool over_free_memory_only(std::size_t need, std::size_t workspace_limit, std::size_t free_bytes) {
  return need <= workspace_limit && need > free_bytes;
}

}  // namespace convkit::detail::toeplitz_plan
