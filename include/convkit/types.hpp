// Basic vocabulary: element types, memory locations and tensor shapes.
// Shape is a small fixed-capacity array so that views stay trivially copyable.
#pragma once

#include <convkit/export.hpp>

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>

namespace convkit {

/// Runtime element type of a tensor.
enum class DType { F32, F64 };

/// Size of one element of `t` in bytes.
constexpr std::size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 8; }
/// "f32" or "f64".
CONVKIT_EXPORT const char* dtype_name(DType t) noexcept;

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <class T> struct dtype_of<const T> : dtype_of<T> {};
/// The DType of a C++ element type (float or double).
template <class T> inline constexpr DType dtype_v = dtype_of<T>::value;

/// Where a view's memory lives.
enum class Location { Host, Device };
/// "host" or "device".
CONVKIT_EXPORT const char* location_name(Location l) noexcept;

/// Dense row-major shape of rank 0..kMaxRank.
class CONVKIT_EXPORT Shape {
 public:
  static constexpr int kMaxRank = 5;

  Shape() = default;
  /// Throws Error(InvalidArgument) when more than kMaxRank sizes are given.
  Shape(std::initializer_list<std::int64_t> dims);

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[i]; }
  std::int64_t& operator[](int i) { return dims_[i]; }
  const std::int64_t* begin() const { return dims_; }
  const std::int64_t* end() const { return dims_ + rank_; }
  /// Appends one size; throws InvalidArgument past kMaxRank.
  void push_back(std::int64_t d);

  /// Product of the sizes (1 for rank 0). Throws InvalidArgument on a negative
  /// size or when the product overflows 64 bits; `what` names the tensor.
  std::int64_t numel(const char* what = "tensor") const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  /// "[2, 3, 5]".
  std::string str() const;

 private:
  int rank_ = 0;
  std::int64_t dims_[kMaxRank] = {0, 0, 0, 0, 0};
};

CONVKIT_EXPORT std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace convkit
