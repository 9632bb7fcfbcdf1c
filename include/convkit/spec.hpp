// The problem description: ConvSpec (what the caller asks for) and ConvProblem
// (the spec resolved against concrete shapes). All shape math -- output size,
// named paddings, validation, FLOP and byte counts -- lives here and in
// src/spec.cpp; every algorithm asks ConvProblem rather than recomputing it.
#pragma once

#include <convkit/export.hpp>
#include <convkit/types.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace convkit {

/// Cross-correlation (no kernel flip; what ML libraries call convolution) or
/// true convolution (kernel flipped along every spatial dimension).
enum class Mode { CrossCorrelation, Convolution };

/// How the input is extended past its edges (DESIGN §1).
enum class Boundary {
  Zeros,      ///< zero padding (default)
  Circular,   ///< wrap around; needs every pad <= D
  Reflect,    ///< ... c b | a b c d | c b ...; needs every pad < D
  Replicate,  ///< ... a a | a b c d | d d ...
  Symmetric,  ///< ... b a | a b c d | d c ... (edge repeated); needs every pad <= D
};

/// "cross-correlation" or "convolution".
CONVKIT_EXPORT const char* mode_name(Mode m) noexcept;
/// "zeros", "circular", "reflect", "replicate" or "symmetric".
CONVKIT_EXPORT const char* boundary_name(Boundary b) noexcept;

/// Spatial padding: explicit (lo, hi) per dimension, or a named rule resolved
/// against the kernel size and dilation (valid, same, full).
class CONVKIT_EXPORT Padding {
 public:
  enum class Kind { Explicit, Valid, Same, Full };

  /// No padding.
  static Padding valid();
  /// Output size equals input size (stride 1 only). total = dil*(k-1);
  /// cross-correlation: lo = total/2 (rounded down); convolution: lo = total -
  /// total/2 (rounded up); hi = total - lo. Matches PyTorch padding='same' and
  /// SciPy convolve(mode='same').
  static Padding same();
  /// lo = hi = dil*(k-1): every partial overlap.
  static Padding full();
  /// lo = hi = p in every spatial dimension.
  static Padding uniform(std::int64_t p);
  /// (lo, hi) per spatial dimension; the count must match the spec's dims.
  static Padding per_dim(std::initializer_list<std::pair<std::int64_t, std::int64_t>> lohi);
  /// per_dim() from runtime values (bindings, parsed configurations): the
  /// same rules, 1 to 3 pairs, else Error(InvalidArgument) naming the count.
  static Padding per_dim(const std::vector<std::pair<std::int64_t, std::int64_t>>& lohi);
  /// per_dim() from `count` pairs at `lohi` (a span); lohi may be null only when count is 0
  /// (which is then the InvalidArgument error of a wrong count).
  static Padding per_dim(const std::pair<std::int64_t, std::int64_t>* lohi, std::size_t count);

  Padding() = default;  ///< same as valid()
  Kind kind() const { return kind_; }
  /// Number of explicit (lo, hi) pairs given, or -1 for uniform / named paddings.
  int count() const { return count_; }
  /// (lo, hi) of spatial dimension `dim`: in [0, count()) for explicit
  /// per-dimension paddings, [0, 3) otherwise; throws Error(InvalidArgument)
  /// naming the index and the range when out of it.
  std::int64_t lo(int dim) const;
  std::int64_t hi(int dim) const;
  bool operator==(const Padding& o) const;
  bool operator!=(const Padding& o) const { return !(*this == o); }
  std::string str() const;

 private:
  Kind kind_ = Kind::Valid;
  int count_ = -1;
  std::array<std::int64_t, 3> lo_{0, 0, 0};
  std::array<std::int64_t, 3> hi_{0, 0, 0};
};

/// A convolution resolved against concrete shapes: every size the algorithms
/// need, with the spatial dimensions right-aligned into 3 slots (a 2-D problem
/// has in = {1, H, W}, a 1-D one in = {1, 1, L}; unused slots have size 1,
/// stride 1, dilation 1 and no padding). A plain struct, usable in kernels.
struct ConvProblem {
  int dims = 0;                         ///< d: 1, 2 or 3 spatial dimensions
  std::int64_t N = 0, C = 0, K = 0, G = 1;
  std::int64_t in[3] = {1, 1, 1};       ///< D: input spatial sizes
  std::int64_t ker[3] = {1, 1, 1};      ///< k: kernel spatial sizes
  std::int64_t out[3] = {1, 1, 1};      ///< O: output spatial sizes
  std::int64_t stride[3] = {1, 1, 1};
  std::int64_t dilation[3] = {1, 1, 1};
  std::int64_t pad_lo[3] = {0, 0, 0};
  std::int64_t pad_hi[3] = {0, 0, 0};
  Mode mode = Mode::CrossCorrelation;
  Boundary boundary = Boundary::Zeros;
  bool has_bias = false;

  constexpr std::int64_t Cg() const { return C / G; }  ///< input channels per group
  constexpr std::int64_t Kg() const { return K / G; }  ///< output channels per group
  constexpr std::int64_t in_spatial() const { return in[0] * in[1] * in[2]; }
  constexpr std::int64_t ker_spatial() const { return ker[0] * ker[1] * ker[2]; }
  constexpr std::int64_t out_spatial() const { return out[0] * out[1] * out[2]; }
  /// Shapes in the caller's rank (d + 2).
  CONVKIT_EXPORT Shape x_shape() const;
  CONVKIT_EXPORT Shape w_shape() const;
  CONVKIT_EXPORT Shape y_shape() const;
  /// Multiply-adds counted as 2 FLOPs: 2·N·K·ΠO·(C/G)·Πk.
  CONVKIT_EXPORT double flops() const;
  /// Fewest bytes any algorithm must move: x, w, (b) read once, y written once.
  CONVKIT_EXPORT double min_bytes(DType t) const;
  CONVKIT_EXPORT bool operator==(const ConvProblem& o) const;
  bool operator!=(const ConvProblem& o) const { return !(*this == o); }
  CONVKIT_EXPORT std::size_t hash() const;
  CONVKIT_EXPORT std::string str() const;
};

CONVKIT_EXPORT std::ostream& operator<<(std::ostream& os, const ConvProblem& p);

/// What to compute, independent of the tensors' sizes. Built fluently:
///
///     auto spec = convkit::ConvSpec::conv2d().padding(convkit::Padding::same()).stride(1);
///
/// Setters do not validate; output_shape() / problem() validate everything.
class CONVKIT_EXPORT ConvSpec {
 public:
  /// A spec with `dims` spatial dimensions (1, 2 or 3; checked by problem()).
  explicit ConvSpec(int dims = 2);
  static ConvSpec conv1d() { return ConvSpec(1); }
  static ConvSpec conv2d() { return ConvSpec(2); }
  static ConvSpec conv3d() { return ConvSpec(3); }

  /// The same stride in every spatial dimension.
  ConvSpec& stride(std::int64_t s);
  /// One stride per spatial dimension.
  ConvSpec& stride(std::initializer_list<std::int64_t> s);
  /// One stride per spatial dimension from runtime values (1 to 3 of them,
  /// else Error(InvalidArgument) naming the count).
  ConvSpec& stride(const std::vector<std::int64_t>& s);
  /// As above from `count` values at `s` (a span; null only with count 0).
  ConvSpec& stride(const std::int64_t* s, std::size_t count);
  ConvSpec& dilation(std::int64_t d);
  ConvSpec& dilation(std::initializer_list<std::int64_t> d);
  /// Per-dimension dilations from runtime values; rules as for stride(vector).
  ConvSpec& dilation(const std::vector<std::int64_t>& d);
  ConvSpec& dilation(const std::int64_t* d, std::size_t count);
  ConvSpec& padding(const Padding& p);
  /// Shorthand for padding(Padding::uniform(p)).
  ConvSpec& padding(std::int64_t p) { return padding(Padding::uniform(p)); }
  ConvSpec& groups(std::int64_t g);
  ConvSpec& mode(Mode m);
  ConvSpec& boundary(Boundary b);
  /// Whether a bias [K] is added (the call then takes a bias tensor).
  ConvSpec& bias(bool on);

  int dims() const { return dims_; }
  /// Stride / dilation of spatial dimension i; throws Error(InvalidArgument)
  /// naming i and the range unless 0 <= i < dims() (and i < 3).
  std::int64_t stride_at(int i) const;
  std::int64_t dilation_at(int i) const;
  /// Number of per-dimension strides / dilations given (-1: one for all).
  int stride_count() const { return stride_count_; }
  int dilation_count() const { return dilation_count_; }
  const Padding& padding() const { return padding_; }
  std::int64_t groups() const { return groups_; }
  Mode mode() const { return mode_; }
  Boundary boundary() const { return boundary_; }
  bool has_bias() const { return bias_; }

  /// Validates the spec against input [N, C, D1..Dd] and weights
  /// [K, C/G, k1..kd] and resolves it. Throws Error(InvalidArgument) naming
  /// the parameter, its value and the rule when anything is wrong.
  ConvProblem problem(const Shape& x, const Shape& w) const;
  /// The output shape [N, K, O1..Od]; validates like problem().
  Shape output_shape(const Shape& x, const Shape& w) const;
  /// (lo, hi) padding of spatial dimension i for kernel size k, after
  /// resolving named paddings. Throws Error(InvalidArgument) naming i and the
  /// range unless 0 <= i < dims() (and i < 3).
  std::pair<std::int64_t, std::int64_t> resolved_padding(int i, std::int64_t k) const;

  bool operator==(const ConvSpec& o) const;
  bool operator!=(const ConvSpec& o) const { return !(*this == o); }
  std::size_t hash() const;
  std::string str() const;

 private:
  int dims_;
  int stride_count_ = -1;
  int dilation_count_ = -1;
  std::array<std::int64_t, 3> stride_{1, 1, 1};
  std::array<std::int64_t, 3> dilation_{1, 1, 1};
  Padding padding_;
  std::int64_t groups_ = 1;
  Mode mode_ = Mode::CrossCorrelation;
  Boundary boundary_ = Boundary::Zeros;
  bool bias_ = false;
};

CONVKIT_EXPORT std::ostream& operator<<(std::ostream& os, const ConvSpec& s);

}  // namespace convkit

template <> struct std::hash<convkit::ConvSpec> {
  std::size_t operator()(const convkit::ConvSpec& s) const { return s.hash(); }
};
template <> struct std::hash<convkit::ConvProblem> {
  std::size_t operator()(const convkit::ConvProblem& p) const { return p.hash(); }
};
