// Shared by the fuzz targets: what counts as a finding. A convkit::Error is
// the library rejecting bad input, which is its contract -- except
// InternalError, which the library raises only on a broken invariant of its
// own. Anything else escaping (std::bad_alloc, std::length_error, ...) is a
// finding too: libFuzzer reports an uncaught exception as a crash.
#pragma once

#include <convkit/error.hpp>

#include <cstdio>
#include <cstdlib>

namespace convkit_fuzz {

inline void expected(const convkit::Error& e) {
  if (e.status() == convkit::Status::InternalError) {
    std::fprintf(stderr, "convkit InternalError: %s\n", e.what());
    std::abort();
  }
}

// Aborts with a message: a property the library promises does not hold.
[[noreturn]] inline void broken(const char* what) {
  std::fprintf(stderr, "fuzz property broken: %s\n", what);
  std::abort();
}

}  // namespace convkit_fuzz
