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
// input: std::bad_alloc / std::length_error become Error(OutOfMemory) naming
// the bytes, so no standard exception escapes the library.
#pragma once

#include <convkit/error.hpp>

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <type_traits>

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

/// a*b; Error(InvalidArgument) "<what>: a * b overflows 64 bits" on overflow.
inline std::int64_t mul_checked(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t r;
  CONVKIT_EXPECTS(!__builtin_mul_overflow(a, b, &r), Status::InvalidArgument, what, ": ", a, " * ", b,
                  " overflows 64 bits");
  return r;
}
/// a+b; Error(InvalidArgument) on overflow.
inline std::int64_t add_checked(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t r;
  CONVKIT_EXPECTS(!__builtin_add_overflow(a, b, &r), Status::InvalidArgument, what, ": ", a, " + ", b,
                  " overflows 64 bits");
  return r;
}
inline std::size_t mul_checked(std::size_t a, std::size_t b, const char* what) {
  std::size_t r;
  CONVKIT_EXPECTS(!__builtin_mul_overflow(a, b, &r), Status::InvalidArgument, what, ": ", a, " * ", b,
                  " overflows the address space");
  return r;
}
inline std::size_t add_checked(std::size_t a, std::size_t b, const char* what) {
  std::size_t r;
  CONVKIT_EXPECTS(!__builtin_add_overflow(a, b, &r), Status::InvalidArgument, what, ": ", a, " + ", b,
                  " overflows the address space");
  return r;
}
/// count elements of `elem` bytes; Error(InvalidArgument) when negative or
/// past the address space.
inline std::size_t bytes_checked(std::int64_t count, std::size_t elem, const char* what) {
  CONVKIT_EXPECTS(count >= 0, Status::InvalidArgument, what, ": element count ", count, " is negative");
  return mul_checked(static_cast<std::size_t>(count), elem, what);
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
  const std::size_t bytes = mul_sat(count, sizeof(typename V::value_type));
  try {
    v.resize(count);
  } catch (const std::bad_alloc&) {
    throw Error(Status::OutOfMemory, msg(what, ": cannot allocate ", bytes, " bytes of host memory"));
  } catch (const std::length_error&) {
    throw Error(Status::OutOfMemory, msg(what, ": ", bytes, " bytes of host memory exceed what can be allocated"));
  }
}

}  // namespace convkit::detail
