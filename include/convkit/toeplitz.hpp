// The convolution as an explicit sparse matrix. For one image, conv() computes
// y = T·x with T of size (K·ΠO) × (C·ΠD) (x, y flattened per image, NCHW):
// Toeplitz in 1-D, doubly block Toeplitz in 2-D (doubly block circulant under
// Boundary::Circular), the 3-D analogue, block-structured over channels and
// groups. Reflect / Replicate fold the border taps onto the mirrored / edge
// columns and sum the duplicates, so every row's column indices are sorted and
// unique. Bias is not part of T.
//
// toeplitz::info() sizes T from the shapes alone (closed form, nothing
// built); build() makes it in CSR on the host for inspection, build_device()
// on the GPU. Algorithm::SparseToeplitz multiplies with the same matrix.
#pragma once

#include <convkit/context.hpp>
#include <convkit/export.hpp>
#include <convkit/spec.hpp>
#include <convkit/tensor.hpp>
#include <convkit/types.hpp>

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace convkit {
namespace detail {
template <class T>
struct ToeplitzHostStorage;
template <class T>
struct ToeplitzDeviceStorage;
}  // namespace detail

namespace toeplitz {

/// Width of the CSR index arrays (row offsets, column indices, source-tap map).
enum class IndexWidth {
  Auto,  ///< 32-bit while nnz, rows, cols and the map fit in int32, else 64-bit
  I32,
  I64,
};
/// "auto", "int32" or "int64".
CONVKIT_EXPORT const char* index_width_name(IndexWidth w) noexcept;

/// Size of T and its storage, from shapes and spec alone (closed form: a row's
/// count is Cg · Π over axes of the distinct input indices its output reads).
struct Info {
  ConvProblem problem;
  DType dtype = DType::F32;
  std::int64_t rows = 0;    ///< K·ΠO
  std::int64_t cols = 0;    ///< C·ΠD
  std::int64_t nnz = 0;     ///< stored nonzeros (structural: a zero weight still stores an entry)
  std::int64_t taps = 0;    ///< source-tap map entries: weight reads summed into the nonzeros (>= nnz)
  bool single_tap = true;   ///< every nonzero reads exactly one weight (no folded duplicates)
  IndexWidth index_width = IndexWidth::I32;  ///< I32 or I64 (never Auto)
  std::size_t value_bytes = 0;    ///< nnz · sizeof(dtype)
  std::size_t col_bytes = 0;      ///< nnz · index size
  std::size_t row_ptr_bytes = 0;  ///< (rows + 1) · index size
  /// values + column indices + row offsets: the bytes one product T·x reads
  /// for the matrix (what a bandwidth figure should be computed on).
  std::size_t matrix_bytes = 0;
  /// The source-tap map that set_weights refills through: taps · index size,
  /// plus (nnz + 1) · index size of offsets when !single_tap.
  std::size_t map_bytes = 0;

  /// Everything a built matrix occupies: matrix_bytes + map_bytes.
  std::size_t total_bytes() const { return matrix_bytes + map_bytes; }
  /// nnz / (rows · cols), 0 for an empty matrix.
  CONVKIT_EXPORT double density() const;
  /// One line: "T: 3 x 5, nnz 9, density 0.6, int32 indices, 76 bytes (...)".
  CONVKIT_EXPORT std::string str() const;
};

/// Sizes T for `spec` on input shape `x` and weight shape `w` without building
/// it. `width` forces the index width (Auto picks the narrowest that fits).
/// Throws InvalidArgument for an invalid problem, NotSupported when I32 is
/// forced and does not fit. Host only; never touches the device.
CONVKIT_EXPORT Info info(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype,
                         IndexWidth width = IndexWidth::Auto);

/// Options of build() / build_device().
struct BuildOptions {
  IndexWidth index_width = IndexWidth::Auto;
  /// Memory budget for the built matrix (Info::total_bytes()). build()
  /// defaults to 8 GiB of host memory; build_device() also caps it at the
  /// context's workspace limit and the device's free memory.
  std::size_t max_bytes = std::size_t(8) << 30;
};

/// Largest matrix to_dense() converts by default (elements).
inline constexpr std::int64_t kDenseLimit = std::int64_t(1) << 24;

/// T in CSR on the host (0-based, rows sorted, column indices ascending and
/// unique per row), with its source-tap map when built from a convolution.
/// Move-only. T: float or double.
///
/// Checking: every accessor that takes an index (row_begin, row_end, col,
/// value, source_taps) checks it and throws InvalidArgument naming the
/// accessor, the index and the valid range; on the host the check costs a
/// compare next to the call, and an unchecked read past the arrays would
/// return garbage silently. Loops that need raw speed use the CSR arrays
/// (values(), row_ptr_i32() ...), as the library's own products do.
/// A moved-from Matrix holds nothing: every member except assignment and
/// the destructor throws InvalidArgument ("used after move"); assigning a
/// matrix to it makes it usable again.
template <class T>
class CONVKIT_EXPORT Matrix {
 public:
  /// An empty 0 x 0 matrix.
  Matrix();
  ~Matrix();
  /// Move-only (the arrays can be large).
  Matrix(Matrix&&) noexcept;
  Matrix& operator=(Matrix&&) noexcept;
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;

  /// Sizes and bytes (problem is default-constructed for a matrix read from a file).
  const Info& info() const;
  /// K·ΠO (one row per output element of one image).
  std::int64_t rows() const;
  /// C·ΠD (one column per input element of one image).
  std::int64_t cols() const;
  /// Stored nonzeros.
  std::int64_t nnz() const;
  /// nnz / (rows · cols).
  double density() const;
  /// Bytes of values + column indices + row offsets (Info::matrix_bytes).
  std::size_t bytes() const;
  /// I32 or I64: the width of the index arrays.
  IndexWidth index_width() const;

  /// The CSR arrays. Exactly one of the *_i32 / *_i64 pairs is non-null,
  /// as index_width() says.
  const T* values() const;
  const std::int32_t* row_ptr_i32() const;
  const std::int32_t* col_ind_i32() const;
  const std::int64_t* row_ptr_i64() const;
  const std::int64_t* col_ind_i64() const;
  /// Width-independent access: row r holds entries [row_begin(r), row_end(r)).
  /// r in [0, rows()] (row_begin(rows()) == nnz()); else InvalidArgument.
  std::int64_t row_begin(std::int64_t r) const;
  /// End of row r's entries (row_begin(r + 1)); r in [0, rows()), else InvalidArgument.
  std::int64_t row_end(std::int64_t r) const;
  /// Column of entry j (0-based); j in [0, nnz()), else InvalidArgument.
  std::int64_t col(std::int64_t j) const;
  /// Value of entry j; j in [0, nnz()), else InvalidArgument.
  T value(std::int64_t j) const;

  /// Whether the matrix carries its source-tap map (built, not read from a file).
  bool has_source_map() const;
  /// Flat weight indices summed into nonzero j (empty without a map); j in
  /// [0, nnz()), else InvalidArgument (with or without a map).
  std::vector<std::int64_t> source_taps(std::int64_t j) const;

  /// Row-major dense copy, rows × cols. Throws NotSupported when rows·cols
  /// exceeds `max_elements` (use the CSR arrays or write_matrix_market then).
  std::vector<T> to_dense(std::int64_t max_elements = kDenseLimit) const;
  /// y = T·x for one image: x has cols() elements, y rows(); accumulates in double.
  void multiply(const T* x, T* y) const;
  /// x = Tᵀ·y for one image (the transposed convolution); accumulates in double.
  void multiply_transpose(const T* y, T* x) const;
  /// Refills the values from new weights of the same shape (host view)
  /// through the source-tap map; the pattern is untouched. Throws
  /// InvalidArgument on a wrong shape / location, NotSupported without a map.
  void refill(TensorView<const T> w);

  /// Writes Matrix Market "coordinate real general", 1-based, values with
  /// round-trip precision; readable by SciPy (scipy.io.mmread), MATLAB, Julia.
  void write_matrix_market(std::ostream& os) const;
  /// As above into a file; throws InvalidArgument when it cannot be written.
  void write_matrix_market(const std::string& path) const;
  /// Reads a Matrix Market coordinate real / integer general matrix (entries in
  /// any order; duplicates are summed). Reads back everything
  /// write_matrix_market writes: finite values, -0, denormals and ±inf bit
  /// for bit, NaN as the quiet NaN of its sign (text carries no payload).
  /// Every token is parsed whole: indices are 1-based decimal integers,
  /// values decimal numbers, `nan`, `inf` or `-inf` (hex and trailing junk
  /// are refused), and there must be exactly as many entries as the size
  /// line declares. The declared size is checked against `max_bytes` before
  /// anything is allocated: the CSR arrays plus the entry list held while
  /// reading (24 bytes per declared entry). The default is build()'s
  /// (BuildOptions::max_bytes), so a file cannot make the reader take more
  /// memory than a build would. Throws InvalidArgument on a malformed or
  /// unsupported file (naming the line, the token and the rule),
  /// NotSupported when the declared size is over `max_bytes` (naming the
  /// bytes and the budget), OutOfMemory when host memory runs out. The
  /// result has no source-tap map.
  static Matrix read_matrix_market(std::istream& is, std::size_t max_bytes = BuildOptions{}.max_bytes);
  /// As above from a file; throws InvalidArgument when it cannot be opened.
  static Matrix read_matrix_market(const std::string& path, std::size_t max_bytes = BuildOptions{}.max_bytes);

  /// Internal: wraps storage made by the library (users get matrices from
  /// build(), DeviceMatrix::to_host() or read_matrix_market()).
  explicit Matrix(std::unique_ptr<detail::ToeplitzHostStorage<T>> s);

 private:
  std::unique_ptr<detail::ToeplitzHostStorage<T>> s_;
};

/// T on the device (CSR, 0-based, sorted unique columns per row), built on a
/// context's stream. Move-only; keeps the context's state alive; frees its
/// memory stream-ordered. A default-constructed or moved-from DeviceMatrix
/// holds nothing: every member except assignment and the destructor throws
/// InvalidArgument ("used after move") until a matrix is assigned to it.
/// No accessor takes an element index (the arrays live on the device; read
/// them through to_host()).
template <class T>
class CONVKIT_EXPORT DeviceMatrix {
 public:
  /// An empty handle (every accessor throws InvalidArgument until assigned).
  DeviceMatrix();
  /// Frees the device arrays stream-ordered on the context's stream (no sync).
  ~DeviceMatrix();
  /// Move-only.
  DeviceMatrix(DeviceMatrix&&) noexcept;
  DeviceMatrix& operator=(DeviceMatrix&&) noexcept;
  DeviceMatrix(const DeviceMatrix&) = delete;
  DeviceMatrix& operator=(const DeviceMatrix&) = delete;

  /// Sizes and bytes, as toeplitz::info() computes them.
  const Info& info() const;
  /// K·ΠO.
  std::int64_t rows() const;
  /// C·ΠD.
  std::int64_t cols() const;
  /// Stored nonzeros.
  std::int64_t nnz() const;
  /// Bytes of values + column indices + row offsets (Info::matrix_bytes).
  std::size_t bytes() const;

  /// Device pointers to the CSR arrays; the index arrays hold int32 or int64
  /// as info().index_width says.
  const T* values() const;
  const void* row_ptr() const;
  const void* col_ind() const;

  /// Refills the values from new device weights (same shape) through the
  /// source-tap map, without rebuilding the pattern. Asynchronous on the
  /// context's stream. Throws InvalidArgument on a wrong view.
  void refill(TensorView<const T> w);
  /// Copies to a host Matrix (with its map); synchronises the context's stream.
  Matrix<T> to_host() const;

  /// Internal: wraps storage made by the library (users call build_device()).
  explicit DeviceMatrix(std::unique_ptr<detail::ToeplitzDeviceStorage<T>> s);

 private:
  std::unique_ptr<detail::ToeplitzDeviceStorage<T>> s_;
};

/// Builds T for `spec`, input shape `x` and host weights `w` on the host
/// (Thrust, host policy). Throws InvalidArgument (invalid problem or view),
/// NotSupported when Info::total_bytes() exceeds opts.max_bytes (naming the
/// bytes needed, before allocating). Needs no GPU.
CONVKIT_EXPORT Matrix<float> build(const ConvSpec& spec, const Shape& x, TensorView<const float> w,
                                   const BuildOptions& opts = {});
CONVKIT_EXPORT Matrix<double> build(const ConvSpec& spec, const Shape& x, TensorView<const double> w,
                                    const BuildOptions& opts = {});

/// build() for a view of mutable weights (picks the matching dtype overload).
template <class T>
std::enable_if_t<!std::is_const_v<T>, Matrix<T>> build(const ConvSpec& spec, const Shape& x, TensorView<T> w,
                                                        const BuildOptions& opts = {}) {
  return build(spec, x, TensorView<const T>(w), opts);
}

/// Builds T on the device from device weights `w`, on ctx's stream, with the
/// same Thrust code as build(). Asynchronous (returns once enqueued). Throws
/// InvalidArgument, NotSupported when the matrix (plus build scratch) exceeds
/// the budget min(opts.max_bytes, ctx's workspace limit, the device's free
/// memory) -- before allocating, naming the bytes -- NoDevice, CudaError.
CONVKIT_EXPORT DeviceMatrix<float> build_device(Context& ctx, const ConvSpec& spec, const Shape& x,
                                                TensorView<const float> w, const BuildOptions& opts = {});
CONVKIT_EXPORT DeviceMatrix<double> build_device(Context& ctx, const ConvSpec& spec, const Shape& x,
                                                 TensorView<const double> w, const BuildOptions& opts = {});

/// build_device() for a view of mutable weights (picks the matching dtype overload).
template <class T>
std::enable_if_t<!std::is_const_v<T>, DeviceMatrix<T>> build_device(Context& ctx, const ConvSpec& spec,
                                                                    const Shape& x, TensorView<T> w,
                                                                    const BuildOptions& opts = {}) {
  return build_device(ctx, spec, x, TensorView<const T>(w), opts);
}

}  // namespace toeplitz
}  // namespace convkit
