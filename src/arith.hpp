// Size arithmetic and host allocation: the one place where sizes computed
// from user input are multiplied, added and allocated.
//
// Two flavours, used on purpose:
//  * saturating (`*_sat`): for sizes that are only compared against a limit
//    (a budget, int32 range); an absurd problem saturates to the maximum and
//    so compares as "too big" instead of wrapping to something small;
//  * checked (`*_checked`): for sizes that are then used (an allocation, a
//    loop bound, a byte end); overflow is Error(InvalidArgument) naming what
//    was being computed and the operands.
// host_resize() is the one allocation path for host buffers sized from user
// input: a buffer larger than physical memory is refused up front, and
// std::bad_alloc / std::length_error become Error(OutOfMemory) naming the
// bytes, so no standard exception escapes the library.
#pragma once

#include <convkit/error.hpp>

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <stdexcept>
#include <type_traits>

#include <unistd.h>

namespace convkit::detail {

inline constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
inline constexpr std::size_t kSizeMax = std::numeric_limits<std::size_t>::max();

/// a*b for non-negative a, b, saturating at INT64_MAX.
inline std::int64_t mul_sat(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? kI64Max : r;
}
/// a+b for non-negative a, b, saturating at INT64_MAX.
inline std::int64_t add_sat(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  return __builtin_add_overflow(a, b, &r) ? kI64Max : r;
}
inline std::size_t mul_sat(std::size_t a, std::size_t b) {
  std::size_t r;
  return __builtin_mul_overflow(a, b, &r) ? kSizeMax : r;
}
inline std::size_t add_sat(std::size_t a, std::size_t b) {
  std::size_t r;
  return __builtin_add_overflow(a, b, &r) ? kSizeMax : r;
}
/// count elements of `elem` bytes, saturating at SIZE_MAX (count >= 0).
inline std::size_t bytes_sat(std::int64_t count, std::size_t elem) {
  return mul_sat(static_cast<std::size_t>(count < 0 ? 0 : count), elem);
}

// The checked operations name what was being computed: `what` is a string, or
// a callable returning one, built only when the check fails (problem() runs on
// every call, so its messages must cost nothing on success).
inline std::string what_text(const char* what) { return what; }
inline std::string what_text(const std::string& what) { return what; }
template <class F, class = std::enable_if_t<std::is_invocable_v<F&>>>
std::string what_text(F& what) {
  return what();
}

/// a*b; Error(InvalidArgument) "<what>: a * b overflows 64 bits" on overflow.
template <class W>
std::int64_t mul_checked(std::int64_t a, std::int64_t b, W&& what) {
  std::int64_t r;
  CONVKIT_EXPECTS(!__builtin_mul_overflow(a, b, &r), Status::InvalidArgument, what_text(what), ": ", a, " * ", b,
                  " overflows 64 bits");
  return r;
}
/// a+b; Error(InvalidArgument) on overflow.
template <class W>
std::int64_t add_checked(std::int64_t a, std::int64_t b, W&& what) {
  std::int64_t r;
  CONVKIT_EXPECTS(!__builtin_add_overflow(a, b, &r), Status::InvalidArgument, what_text(what), ": ", a, " + ", b,
                  " overflows 64 bits");
  return r;
}
template <class W>
std::size_t mul_checked(std::size_t a, std::size_t b, W&& what) {
  std::size_t r;
  CONVKIT_EXPECTS(!__builtin_mul_overflow(a, b, &r), Status::InvalidArgument, what_text(what), ": ", a, " * ", b,
                  " overflows the address space");
  return r;
}
template <class W>
std::size_t add_checked(std::size_t a, std::size_t b, W&& what) {
  std::size_t r;
  CONVKIT_EXPECTS(!__builtin_add_overflow(a, b, &r), Status::InvalidArgument, what_text(what), ": ", a, " + ", b,
                  " overflows the address space");
  return r;
}
/// count elements of `elem` bytes; Error(InvalidArgument) when negative or
/// past the address space.
template <class W>
std::size_t bytes_checked(std::int64_t count, std::size_t elem, W&& what) {
  CONVKIT_EXPECTS(count >= 0, Status::InvalidArgument, what_text(what), ": element count ", count, " is negative");
  return mul_checked(static_cast<std::size_t>(count), elem, what);
}

/// One past the last byte of `count` elements of `elem` bytes at `p`,
/// saturating at SIZE_MAX: for comparing byte ranges (overlap), where a range
/// that runs off the address space must compare as reaching its end rather
/// than wrap to a small address.
inline std::uintptr_t byte_end_sat(const void* p, std::int64_t count, std::size_t elem) {
  return add_sat(static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(p)), bytes_sat(count, elem));
}

/// Bytes of physical memory on this machine (0 when unknown). A host buffer
/// larger than this is refused before it is allocated: with overcommit an
/// allocation that large can "succeed" and the process is killed when it is
/// touched, and sanitizer allocators abort on it instead of throwing.
inline std::size_t host_physical_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  static const std::size_t bytes = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? mul_sat(static_cast<std::size_t>(pages), static_cast<std::size_t>(page))
                                 : std::size_t(0);
  }();
  return bytes;
#else
  return 0;
#endif
}

/// Error(OutOfMemory) unless `bytes` of host memory may be asked for: at most
/// the machine's physical memory.
template <class W>
void check_host_bytes(std::size_t bytes, W&& what) {
  const std::size_t phys = host_physical_bytes();
  CONVKIT_EXPECTS(phys == 0 || bytes <= phys, Status::OutOfMemory, what_text(what), ": cannot allocate ", bytes,
                  " bytes of host memory: more than the machine's ", phys, " bytes of physical memory");
}

/// v.resize(n) for a std::vector-like v and an integer count n; a negative
/// count is Error(InvalidArgument), running out of host memory (or a size
/// past max_size()) Error(OutOfMemory) naming `what` and the bytes.
template <class V, class N>
void host_resize(V& v, N n, const char* what) {
  static_assert(std::is_integral_v<N>, "host_resize takes an integer count");
  if constexpr (std::is_signed_v<N>)
    CONVKIT_EXPECTS(n >= 0, Status::InvalidArgument, what, ": element count ", n, " is negative");
  const auto count = static_cast<std::size_t>(n);
  const std::size_t elem = sizeof(typename V::value_type);
  std::size_t bytes;
  if (__builtin_mul_overflow(count, elem, &bytes))
    throw Error(Status::OutOfMemory, msg(what, ": ", count, " elements of ", elem,
                                         " bytes exceed the address space of host memory"));
  check_host_bytes(bytes, what);
  try {
    v.resize(count);
  } catch (const std::bad_alloc&) {
    throw Error(Status::OutOfMemory, msg(what, ": cannot allocate ", bytes, " bytes of host memory"));
  } catch (const std::length_error&) {
    throw Error(Status::OutOfMemory, msg(what, ": ", bytes, " bytes of host memory exceed what can be allocated"));
  }
}

}  // namespace convkit::detail
