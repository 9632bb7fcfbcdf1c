// convkit::toeplitz: the convolution's explicit sparse matrix on the host and
// the device. This file holds the host side: the per-axis pattern tables (of
// the border outputs only; interior outputs are computed) and the closed-form
// sizes (Info) they imply, the memory-budget rule, the host
// Matrix (build, products, refill, dense view, Matrix Market I/O) and the
// DeviceMatrix wrapper. The Thrust build itself lives in
// kernels/toeplitz_build.cu and runs the functors of kernels/toeplitz.cuh
// under the host or the device policy.
#include <convkit/toeplitz.hpp>

#include "check.hpp"
#include "context_state.hpp"
#include "indexing.cuh"
#include "toeplitz.cuh"
#include "validate.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <istream>
#include <limits>
#include <numeric>
#include <ostream>
#include <sstream>
#include <tuple>
#include <utility>

namespace convkit {
namespace detail {

/// Host CSR: exactly one of the int32 / int64 index sets is filled.
template <class T>
struct ToeplitzHostStorage {
  ::convkit::toeplitz::Info info;
  bool has_map = false;
  std::vector<T> values;
  std::vector<std::int32_t> row_ptr32, cols32, tap_ptr32, taps32;
  std::vector<std::int64_t> row_ptr64, cols64, tap_ptr64, taps64;

  template <class I>
  std::vector<I>& row_ptr() {
    if constexpr (sizeof(I) == 4) return row_ptr32; else return row_ptr64;
  }
  template <class I>
  std::vector<I>& cols() {
    if constexpr (sizeof(I) == 4) return cols32; else return cols64;
  }
  template <class I>
  std::vector<I>& tap_ptr() {
    if constexpr (sizeof(I) == 4) return tap_ptr32; else return tap_ptr64;
  }
  template <class I>
  std::vector<I>& taps() {
    if constexpr (sizeof(I) == 4) return taps32; else return taps64;
  }
  bool wide() const { return info.index_width == ::convkit::toeplitz::IndexWidth::I64; }
};

/// Device CSR in one stream-ordered allocation (values, row offsets, column
/// indices, source-tap map), freed on the context's stream.
template <class T>
struct ToeplitzDeviceStorage {
  std::shared_ptr<ContextState> ctx;
  ::convkit::toeplitz::Info info;
  void* block = nullptr;
  T* values = nullptr;
  void* row_ptr = nullptr;
  void* cols = nullptr;
  void* tap_ptr = nullptr;  // null when every nonzero reads one tap
  void* taps = nullptr;

  ToeplitzDeviceStorage() = default;
  ToeplitzDeviceStorage(const ToeplitzDeviceStorage&) = delete;
  ToeplitzDeviceStorage& operator=(const ToeplitzDeviceStorage&) = delete;
  ~ToeplitzDeviceStorage() {
    if (block) device_free(ctx, block);
  }
  template <class I>
  toeplitz::CsrRef<T, I> ref() const {
    toeplitz::CsrRef<T, I> m;
    m.row_ptr = static_cast<I*>(row_ptr);
    m.cols = static_cast<I*>(cols);
    m.values = values;
    m.tap_ptr = static_cast<I*>(tap_ptr);
    m.taps = static_cast<I*>(taps);
    m.rows = info.rows;
    m.nnz = info.nnz;
    m.n_taps = info.taps;
    return m;
  }
};

namespace toeplitz {
namespace {

using ::convkit::toeplitz::IndexWidth;
using ::convkit::toeplitz::Info;

constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kI32Max = std::numeric_limits<std::int32_t>::max();
constexpr std::size_t kSizeMax = std::numeric_limits<std::size_t>::max();

// Saturating arithmetic: sizes of absurd problems must still compare as "too
// big" instead of wrapping around.
std::int64_t mul_sat(std::int64_t a, std::int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kI64Max / b ? kI64Max : a * b;
}
std::int64_t add_sat(std::int64_t a, std::int64_t b) { return a > kI64Max - b ? kI64Max : a + b; }
std::size_t bytes_of(std::int64_t count, std::size_t elem) {
  const auto c = static_cast<std::size_t>(count);
  return c > kSizeMax / elem ? kSizeMax : c * elem;
}
std::size_t add_bytes(std::size_t a, std::size_t b) { return a > kSizeMax - b ? kSizeMax : a + b; }

// (folded input index, flipped tap) of every tap of output o on axis `slot`
// that reads an input element, sorted by index (taps in kernel order within).
void axis_reads(const ConvProblem& p, int slot, std::int64_t o, std::vector<std::pair<std::int64_t, std::int64_t>>& r) {
  r.clear();
  for (std::int64_t i = 0; i < p.ker[slot]; ++i) {
    const std::int64_t q = fold_index(input_position(p, slot, o, i), p.in[slot], p.boundary);
    if (q >= 0) r.emplace_back(q, tap_index(i, p.ker[slot], p.mode));
  }
  std::stable_sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

std::int64_t distinct(const std::vector<std::pair<std::int64_t, std::int64_t>>& r) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < r.size(); ++i)
    if (i == 0 || r[i].first != r[i - 1].first) ++n;
  return n;
}

// Calls f(o) for axis `slot`'s border outputs, in ascending order.
template <class F>
void for_each_border(const ConvProblem& p, int slot, std::int64_t ilo, std::int64_t ihi, F&& f) {
  for (std::int64_t o = 0; o < ilo; ++o) f(o);
  for (std::int64_t o = ihi; o < p.out[slot]; ++o) f(o);
}

template <class T>
DType dtype_for() {
  return dtype_v<T>;
}

// Calls f(int32_t{}) or f(int64_t{}) for the index width of `info`.
template <class F>
decltype(auto) with_index(IndexWidth w, F&& f) {
  if (w == IndexWidth::I64) return f(std::int64_t{});
  return f(std::int32_t{});
}

template <class T>
void check_weights(const TensorArg& w, const ConvProblem& p, Location where, const char* who) {
  CONVKIT_EXPECTS(w.present, Status::InvalidArgument, who, ": w is missing");
  check_tensor(w, "w", dtype_v<T>, where, p.w_shape(), false);
}

// Host build for index type I.
template <class T, class I>
std::unique_ptr<ToeplitzHostStorage<T>> build_host_typed(const ConvProblem& p, const Info& info, const T* w) {
  auto s = std::make_unique<ToeplitzHostStorage<T>>();
  s->info = info;
  s->has_map = true;
  const AxisTables tables = make_axis_tables(p);
  const Pattern pat = make_pattern(p, tables, tables.blob.data());
  auto& rp = s->template row_ptr<I>();
  auto& cols = s->template cols<I>();
  auto& tp = s->template tap_ptr<I>();
  auto& taps = s->template taps<I>();
  rp.resize(static_cast<std::size_t>(info.rows + 1));
  cols.resize(static_cast<std::size_t>(info.nnz));
  s->values.resize(static_cast<std::size_t>(info.nnz));
  taps.resize(static_cast<std::size_t>(info.taps));
  std::vector<I> scratch;
  if (!info.single_tap) {
    tp.resize(static_cast<std::size_t>(info.nnz + 1));
    scratch.resize(static_cast<std::size_t>(info.rows + 1));
  }
  CsrRef<T, I> m;
  m.row_ptr = rp.data();
  m.cols = cols.data();
  m.values = s->values.data();
  m.tap_ptr = info.single_tap ? nullptr : tp.data();
  m.taps = taps.data();
  m.rows = info.rows;
  m.nnz = info.nnz;
  m.n_taps = info.taps;
  build_host<T, I>(pat, m, w, scratch.empty() ? nullptr : scratch.data());
  // The scanned row lengths must land on the closed form; anything else is a bug.
  CONVKIT_EXPECTS(static_cast<std::int64_t>(rp.back()) == info.nnz, Status::InternalError,
                  "toeplitz build: row offsets end at ", static_cast<std::int64_t>(rp.back()),
                  " but the closed-form nnz is ", info.nnz);
  return s;
}

}  // namespace

// Outputs [ilo, ihi) whose taps all lie inside the input: they read k distinct
// elements, one tap each, whatever the boundary mode. An empty range is
// returned as [O, O), so every output counts as a (low) border output; the
// tables, axis_sums and the functors' axis_row all rely on that convention.
// pad_lo >= 0 (validated), so the divisions below round as intended.
std::pair<std::int64_t, std::int64_t> interior(const ConvProblem& p, int slot) {
  const std::int64_t s = p.stride[slot], pad = p.pad_lo[slot], O = p.out[slot];
  // First output with o·s - pad >= 0; last with o·s - pad + (k-1)·dil <= D - 1.
  const std::int64_t lo = pad / s + (pad % s != 0);
  const std::int64_t num = p.in[slot] - 1 - (p.ker[slot] - 1) * p.dilation[slot] + pad;
  const std::int64_t hi = num < 0 ? -1 : std::min(num / s, O - 1);
  if (lo > hi) return {O, O};
  return {lo, hi + 1};
}

std::int64_t table_entries(const ConvProblem& p) {
  // Per axis: u_ptr [borders + 1], u [border entries], t_ptr [border entries + 1], t [border taps].
  std::int64_t n = 0;
  for (int a = 0; a < 3; ++a) {
    const AxisSums s = axis_sums(p, a);
    n = add_sat(n, add_sat(add_sat(s.borders, 2), add_sat(mul_sat(s.border_entries, 2), s.border_taps)));
  }
  return n;
}

// The same border outputs and the same axis_reads as axis_sums, so the tables
// and the closed form cannot disagree; interior outputs get no entries here
// (axis_row computes them).
AxisTables make_axis_tables(const ConvProblem& p) {
  AxisTables t;
  std::vector<std::pair<std::int64_t, std::int64_t>> r;
  for (int a = 0; a < 3; ++a) {
    std::tie(t.ilo[a], t.ihi[a]) = interior(p, a);
    std::vector<std::int64_t> u_ptr{0}, u, t_ptr{0}, taps;
    for_each_border(p, a, t.ilo[a], t.ihi[a], [&](std::int64_t o) {
      axis_reads(p, a, o, r);
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (i == 0 || r[i].first != r[i - 1].first) {
          if (i > 0) t_ptr.push_back(static_cast<std::int64_t>(taps.size()));
          u.push_back(r[i].first);
        } else {
          t.single = false;
        }
        taps.push_back(r[i].second);
      }
      if (!r.empty()) t_ptr.push_back(static_cast<std::int64_t>(taps.size()));
      u_ptr.push_back(static_cast<std::int64_t>(u.size()));
    });
    auto append = [&](const std::vector<std::int64_t>& v) {
      const auto off = static_cast<std::int64_t>(t.blob.size());
      t.blob.insert(t.blob.end(), v.begin(), v.end());
      return off;
    };
    t.off_u_ptr[a] = append(u_ptr);
    t.off_u[a] = append(u);
    t.off_t_ptr[a] = append(t_ptr);
    t.off_t[a] = append(taps);
  }
  return t;
}

Pattern make_pattern(const ConvProblem& p, const AxisTables& t, const std::int64_t* base) {
  Pattern pat{};
  for (int a = 0; a < 3; ++a) {
    pat.u_ptr[a] = base + t.off_u_ptr[a];
    pat.u[a] = base + t.off_u[a];
    pat.t_ptr[a] = base + t.off_t_ptr[a];
    pat.t[a] = base + t.off_t[a];
    pat.ilo[a] = t.ilo[a];
    pat.ihi[a] = t.ihi[a];
    pat.stride[a] = p.stride[a];
    pat.dil[a] = p.dilation[a];
    pat.pad_lo[a] = p.pad_lo[a];
    pat.ker[a] = p.ker[a];
  }
  pat.mode = p.mode;
  pat.out1 = p.out[1];
  pat.out2 = p.out[2];
  pat.Q = p.out_spatial();
  pat.in1 = p.in[1];
  pat.in2 = p.in[2];
  pat.P = p.in_spatial();
  pat.R = p.ker_spatial();
  pat.Cg = p.Cg();
  pat.Kg = p.Kg();
  pat.single = t.single;
  return pat;
}

Info make_info(const ConvProblem& p, DType t, IndexWidth width) {
  Info in;
  in.problem = p;
  in.dtype = t;
  in.rows = mul_sat(p.K, p.out_spatial());
  in.cols = mul_sat(p.C, p.in_spatial());
  std::int64_t nnz = mul_sat(p.K, p.Cg()), taps = nnz;
  in.single_tap = true;
  for (int a = 0; a < 3; ++a) {
    const AxisSums s = axis_sums(p, a);
    nnz = mul_sat(nnz, s.entries);
    taps = mul_sat(taps, s.taps);
    in.single_tap = in.single_tap && s.entries == s.taps;
  }
  in.nnz = nnz;
  in.taps = taps;
  // 64-bit indices once any stored index or offset could pass int32.
  const std::int64_t w_numel = mul_sat(mul_sat(p.K, p.Cg()), p.ker_spatial());
  const bool fits32 = add_sat(in.rows, 1) <= kI32Max && in.cols <= kI32Max && add_sat(in.nnz, 1) <= kI32Max &&
                      add_sat(in.taps, 1) <= kI32Max && w_numel <= kI32Max;
  if (width == IndexWidth::I32)
    CONVKIT_EXPECTS(fits32, Status::NotSupported, "toeplitz: int32 indices were asked for, but the ", in.rows, " x ",
                    in.cols, " matrix with ", in.nnz, " nonzeros and ", in.taps,
                    " source taps needs 64-bit indices");
  in.index_width = (width == IndexWidth::I64 || !fits32) ? IndexWidth::I64 : IndexWidth::I32;
  const std::size_t idx = in.index_width == IndexWidth::I64 ? 8 : 4;
  in.value_bytes = bytes_of(in.nnz, dtype_size(t));
  in.col_bytes = bytes_of(in.nnz, idx);
  in.row_ptr_bytes = bytes_of(add_sat(in.rows, 1), idx);
  in.matrix_bytes = add_bytes(add_bytes(in.value_bytes, in.col_bytes), in.row_ptr_bytes);
  in.map_bytes = bytes_of(in.taps, idx);
  if (!in.single_tap) in.map_bytes = add_bytes(in.map_bytes, bytes_of(add_sat(in.nnz, 1), idx));
  return in;
}

std::size_t build_scratch_bytes(const Info& info) {
  const std::size_t idx = info.index_width == IndexWidth::I64 ? 8 : 4;
  const std::size_t table_bytes = bytes_of(table_entries(info.problem), 8);
  return add_bytes(table_bytes, info.single_tap ? 0 : bytes_of(add_sat(info.rows, 1), idx));
}

void check_budget(const Info& info, std::size_t scratch, std::size_t budget, const std::string& budget_what) {
  const std::size_t need = add_bytes(info.total_bytes(), scratch);
  CONVKIT_EXPECTS(need <= budget, Status::NotSupported, "toeplitz: the ", info.rows, " x ", info.cols,
                  " matrix of ", info.problem, " has ", info.nnz, " nonzeros and needs ", info.total_bytes(),
                  " bytes (", info.matrix_bytes, " CSR + ", info.map_bytes, " source-tap map)",
                  scratch ? msg(" plus ", scratch, " bytes of build scratch") : std::string(), ", over the budget of ",
                  budget, " bytes (", budget_what, ")");
}

template <class T>
::convkit::toeplitz::DeviceMatrix<T> build_on_device(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p,
                                                     const T* w, IndexWidth width, std::size_t max_bytes) {
  const Info info = make_info(p, dtype_v<T>, width);
  cudaStream_t stream = ctx->stream();
  const std::size_t idx = info.index_width == IndexWidth::I64 ? 8 : 4;
  // Budget first, from the closed form: nothing is allocated on the device
  // for a matrix that cannot fit. The scratch (the border-output tables,
  // O(border outputs · k) entries per axis, and the per-row tap offsets) is
  // counted too: it is live while the matrix is built.
  const std::size_t scratch = build_scratch_bytes(info);
  std::size_t free_bytes = 0, total_bytes = 0;
  CONVKIT_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  std::size_t budget = std::min(max_bytes, ctx->workspace_limit);
  std::string what = msg("min of the build limit ", max_bytes, ", the context's workspace limit ",
                         ctx->workspace_limit, " and the device's free memory ", free_bytes);
  budget = std::min(budget, free_bytes);
  check_budget(info, scratch, budget, what);
  // Only now the walk over the border outputs: the tables are no larger
  // than the closed form just admitted.
  AxisTables tables = make_axis_tables(p);
  const std::size_t table_bytes = bytes_of(static_cast<std::int64_t>(tables.blob.size()), 8);

  // One block for the matrix, each array 256-byte aligned.
  auto align = [](std::size_t b) { return (b + 255) / 256 * 256; };
  const std::size_t tap_ptr_bytes = info.single_tap ? 0 : bytes_of(info.nnz + 1, idx);
  const std::size_t taps_bytes = bytes_of(info.taps, idx);
  const std::size_t sizes[5] = {align(info.value_bytes), align(info.row_ptr_bytes), align(info.col_bytes),
                                align(tap_ptr_bytes), align(taps_bytes)};
  auto s = std::make_unique<ToeplitzDeviceStorage<T>>();
  s->ctx = ctx;
  s->info = info;
  s->block = device_alloc(ctx, sizes[0] + sizes[1] + sizes[2] + sizes[3] + sizes[4] + 256);
  auto* base = static_cast<char*>(s->block);
  s->values = reinterpret_cast<T*>(base);
  s->row_ptr = base + sizes[0];
  s->cols = base + sizes[0] + sizes[1];
  s->tap_ptr = info.single_tap ? nullptr : base + sizes[0] + sizes[1] + sizes[2];
  s->taps = base + sizes[0] + sizes[1] + sizes[2] + sizes[3];

  // Scratch: the tables (copied from pageable host memory: the copy has
  // consumed the host buffer when cudaMemcpyAsync returns) and, for
  // multi-tap matrices, the per-row tap offsets. Freed stream-ordered.
  void* scratch_block = device_alloc(ctx, align(table_bytes) + (scratch - table_bytes) + 256);
  struct ScratchGuard {
    const std::shared_ptr<ContextState>& ctx;
    void* p;
    ~ScratchGuard() { device_free(ctx, p); }
  } guard{ctx, scratch_block};
  auto* dev_tables = static_cast<std::int64_t*>(scratch_block);
  if (table_bytes)
    CONVKIT_CUDA_TRY(cudaMemcpyAsync(dev_tables, tables.blob.data(), table_bytes, cudaMemcpyHostToDevice, stream));
  void* row_tap = static_cast<char*>(scratch_block) + align(table_bytes);
  const Pattern pat = make_pattern(p, tables, dev_tables);
  with_index(info.index_width, [&](auto tag) {
    using I = decltype(tag);
    build_device<T, I>(stream, pat, s->template ref<I>(), w, info.single_tap ? nullptr : static_cast<I*>(row_tap));
  });
  return ::convkit::toeplitz::DeviceMatrix<T>(std::move(s));
}

template ::convkit::toeplitz::DeviceMatrix<float> build_on_device<float>(const std::shared_ptr<ContextState>&,
                                                                        const ConvProblem&, const float*,
                                                                        IndexWidth, std::size_t);
template ::convkit::toeplitz::DeviceMatrix<double> build_on_device<double>(const std::shared_ptr<ContextState>&,
                                                                          const ConvProblem&, const double*,
                                                                          IndexWidth, std::size_t);

}  // namespace toeplitz
}  // namespace detail

// ===================================================================== public

namespace toeplitz {

using detail::ToeplitzDeviceStorage;
using detail::ToeplitzHostStorage;

const char* index_width_name(IndexWidth w) noexcept {
  switch (w) {
    case IndexWidth::Auto: return "auto";
    case IndexWidth::I32: return "int32";
    case IndexWidth::I64: return "int64";
  }
  return "unknown";
}

double Info::density() const {
  if (rows == 0 || cols == 0) return 0.0;
  return static_cast<double>(nnz) / (static_cast<double>(rows) * static_cast<double>(cols));
}

std::string Info::str() const {
  std::ostringstream os;
  os << "T: " << rows << " x " << cols << ", nnz " << nnz << ", density " << density() << ", "
     << index_width_name(index_width) << " indices, " << matrix_bytes << " bytes (values " << value_bytes
     << " + col indices " << col_bytes << " + row offsets " << row_ptr_bytes << ")";
  if (map_bytes) os << " + " << map_bytes << " bytes of source-tap map";
  return os.str();
}

Info info(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype, IndexWidth width) {
  return detail::toeplitz::make_info(spec.problem(x, w), dtype, width);
}

// ------------------------------------------------------------------ Matrix

template <class T>
Matrix<T>::Matrix() : s_(std::make_unique<ToeplitzHostStorage<T>>()) {
  s_->row_ptr32.assign(1, 0);
  s_->info.dtype = dtype_v<T>;
  s_->info.row_ptr_bytes = s_->info.matrix_bytes = 4;
}
template <class T>
Matrix<T>::Matrix(std::unique_ptr<ToeplitzHostStorage<T>> s) : s_(std::move(s)) {}
template <class T>
Matrix<T>::~Matrix() = default;
template <class T>
Matrix<T>::Matrix(Matrix&&) noexcept = default;
template <class T>
Matrix<T>& Matrix<T>::operator=(Matrix&&) noexcept = default;

template <class T>
const Info& Matrix<T>::info() const { return s_->info; }
template <class T>
std::int64_t Matrix<T>::rows() const { return s_->info.rows; }
template <class T>
std::int64_t Matrix<T>::cols() const { return s_->info.cols; }
template <class T>
std::int64_t Matrix<T>::nnz() const { return s_->info.nnz; }
template <class T>
double Matrix<T>::density() const { return s_->info.density(); }
template <class T>
std::size_t Matrix<T>::bytes() const { return s_->info.matrix_bytes; }
template <class T>
IndexWidth Matrix<T>::index_width() const { return s_->info.index_width; }
template <class T>
const T* Matrix<T>::values() const { return s_->values.data(); }
template <class T>
const std::int32_t* Matrix<T>::row_ptr_i32() const { return s_->wide() ? nullptr : s_->row_ptr32.data(); }
template <class T>
const std::int32_t* Matrix<T>::col_ind_i32() const { return s_->wide() ? nullptr : s_->cols32.data(); }
template <class T>
const std::int64_t* Matrix<T>::row_ptr_i64() const { return s_->wide() ? s_->row_ptr64.data() : nullptr; }
template <class T>
const std::int64_t* Matrix<T>::col_ind_i64() const { return s_->wide() ? s_->cols64.data() : nullptr; }
template <class T>
std::int64_t Matrix<T>::row_begin(std::int64_t r) const {
  return s_->wide() ? s_->row_ptr64[static_cast<std::size_t>(r)] : s_->row_ptr32[static_cast<std::size_t>(r)];
}
template <class T>
std::int64_t Matrix<T>::row_end(std::int64_t r) const { return row_begin(r + 1); }
template <class T>
std::int64_t Matrix<T>::col(std::int64_t j) const {
  return s_->wide() ? s_->cols64[static_cast<std::size_t>(j)] : s_->cols32[static_cast<std::size_t>(j)];
}
template <class T>
T Matrix<T>::value(std::int64_t j) const { return s_->values[static_cast<std::size_t>(j)]; }
template <class T>
bool Matrix<T>::has_source_map() const { return s_->has_map; }

template <class T>
std::vector<std::int64_t> Matrix<T>::source_taps(std::int64_t j) const {
  std::vector<std::int64_t> r;
  if (!s_->has_map) return r;
  return detail::toeplitz::with_index(s_->info.index_width, [&](auto tag) {
    using I = decltype(tag);
    auto& taps = s_->template taps<I>();
    auto& tp = s_->template tap_ptr<I>();
    const auto jj = static_cast<std::size_t>(j);
    if (tp.empty()) {
      r.push_back(taps[jj]);
    } else {
      for (auto t = static_cast<std::size_t>(tp[jj]); t < static_cast<std::size_t>(tp[jj + 1]); ++t)
        r.push_back(taps[t]);
    }
    return r;
  });
}

template <class T>
std::vector<T> Matrix<T>::to_dense(std::int64_t max_elements) const {
  const double elems = static_cast<double>(rows()) * static_cast<double>(cols());
  CONVKIT_EXPECTS(elems <= static_cast<double>(max_elements), Status::NotSupported, "to_dense: the ", rows(), " x ",
                  cols(), " matrix has ", elems, " elements, over the limit of ", max_elements,
                  "; use the CSR arrays or write_matrix_market for large matrices");
  std::vector<T> d(static_cast<std::size_t>(rows() * cols()), T(0));
  for (std::int64_t r = 0; r < rows(); ++r)
    for (std::int64_t j = row_begin(r); j < row_end(r); ++j)
      d[static_cast<std::size_t>(r * cols() + col(j))] = value(j);
  return d;
}

template <class T>
void Matrix<T>::multiply(const T* x, T* y) const {
  CONVKIT_EXPECTS((x && y) || (rows() == 0 || cols() == 0), Status::InvalidArgument, "multiply: null x or y");
  for (std::int64_t r = 0; r < rows(); ++r) {
    double acc = 0.0;
    for (std::int64_t j = row_begin(r); j < row_end(r); ++j)
      acc += static_cast<double>(value(j)) * static_cast<double>(x[col(j)]);
    y[r] = static_cast<T>(acc);
  }
}

template <class T>
void Matrix<T>::multiply_transpose(const T* y, T* x) const {
  CONVKIT_EXPECTS((x && y) || (rows() == 0 || cols() == 0), Status::InvalidArgument,
                  "multiply_transpose: null x or y");
  std::vector<double> acc(static_cast<std::size_t>(cols()), 0.0);
  for (std::int64_t r = 0; r < rows(); ++r)
    for (std::int64_t j = row_begin(r); j < row_end(r); ++j)
      acc[static_cast<std::size_t>(col(j))] += static_cast<double>(value(j)) * static_cast<double>(y[r]);
  for (std::int64_t c = 0; c < cols(); ++c) x[c] = static_cast<T>(acc[static_cast<std::size_t>(c)]);
}

template <class T>
void Matrix<T>::refill(TensorView<const T> w) {
  CONVKIT_EXPECTS(s_->has_map, Status::NotSupported,
                  "refill: this matrix has no source-tap map (it was read from a file, not built)");
  detail::toeplitz::check_weights<T>(w, s_->info.problem, Location::Host, "refill");
  detail::toeplitz::with_index(s_->info.index_width, [&](auto tag) {
    using I = decltype(tag);
    detail::toeplitz::CsrRef<T, I> m;
    m.values = s_->values.data();
    m.tap_ptr = s_->info.single_tap ? nullptr : s_->template tap_ptr<I>().data();
    m.taps = s_->template taps<I>().data();
    m.rows = s_->info.rows;
    m.nnz = s_->info.nnz;
    m.n_taps = s_->info.taps;
    detail::toeplitz::refill_host<T, I>(m, w.data);
  });
}

template <class T>
void Matrix<T>::write_matrix_market(std::ostream& os) const {
  os << "%%MatrixMarket matrix coordinate real general\n";
  if (s_->info.problem.dims > 0) os << "% convkit Toeplitz matrix of " << s_->info.problem << "\n";
  os << rows() << " " << cols() << " " << nnz() << "\n";
  const auto old = os.precision(std::numeric_limits<T>::max_digits10);
  for (std::int64_t r = 0; r < rows(); ++r)
    for (std::int64_t j = row_begin(r); j < row_end(r); ++j) os << r + 1 << " " << col(j) + 1 << " " << value(j) << "\n";
  os.precision(old);
  CONVKIT_EXPECTS(os.good(), Status::InvalidArgument, "write_matrix_market: the stream failed while writing");
}

template <class T>
void Matrix<T>::write_matrix_market(const std::string& path) const {
  std::ofstream f(path);
  CONVKIT_EXPECTS(f.is_open(), Status::InvalidArgument, "write_matrix_market: cannot open '", path, "' for writing");
  write_matrix_market(f);
}

namespace {

template <class T, class I>
std::unique_ptr<ToeplitzHostStorage<T>> csr_from_triplets(std::int64_t rows, std::int64_t cols,
                                                          std::vector<std::tuple<std::int64_t, std::int64_t, T>>& e,
                                                          const Info& info) {
  std::sort(e.begin(), e.end(), [](const auto& a, const auto& b) {
    return std::get<0>(a) != std::get<0>(b) ? std::get<0>(a) < std::get<0>(b) : std::get<1>(a) < std::get<1>(b);
  });
  auto s = std::make_unique<ToeplitzHostStorage<T>>();
  s->info = info;
  auto& rp = s->template row_ptr<I>();
  auto& ci = s->template cols<I>();
  rp.assign(static_cast<std::size_t>(rows + 1), 0);
  for (std::size_t i = 0; i < e.size(); ++i) {
    const auto [r, c, v] = e[i];
    if (i > 0 && std::get<0>(e[i - 1]) == r && std::get<1>(e[i - 1]) == c) {
      s->values.back() += v;  // Matrix Market allows duplicates: they add up
      continue;
    }
    ci.push_back(static_cast<I>(c));
    s->values.push_back(v);
    ++rp[static_cast<std::size_t>(r + 1)];
  }
  std::partial_sum(rp.begin(), rp.end(), rp.begin());
  s->info.nnz = static_cast<std::int64_t>(ci.size());
  (void)cols;
  return s;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

template <class T>
Matrix<T> Matrix<T>::read_matrix_market(std::istream& is) {
  const Status bad = Status::InvalidArgument;
  std::string line;
  CONVKIT_EXPECTS(static_cast<bool>(std::getline(is, line)), bad, "read_matrix_market: empty input");
  std::istringstream hs(line);
  std::string banner, object, format, field, symmetry;
  hs >> banner >> object >> format >> field >> symmetry;
  CONVKIT_EXPECTS(lower(banner) == "%%matrixmarket", bad, "read_matrix_market: first line '", line,
                  "' is not a %%MatrixMarket banner");
  CONVKIT_EXPECTS(lower(object) == "matrix" && lower(format) == "coordinate", bad,
                  "read_matrix_market: only 'matrix coordinate' is supported, got '", object, " ", format, "'");
  CONVKIT_EXPECTS(lower(field) == "real" || lower(field) == "integer" || lower(field) == "double", bad,
                  "read_matrix_market: field '", field, "' is not supported (real or integer)");
  CONVKIT_EXPECTS(lower(symmetry) == "general", bad, "read_matrix_market: symmetry '", symmetry,
                  "' is not supported (general only)");
  while (std::getline(is, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '%') continue;
    break;
  }
  std::int64_t rows = -1, cols = -1, entries = -1;
  std::istringstream ss(line);
  ss >> rows >> cols >> entries;
  CONVKIT_EXPECTS(!ss.fail() && rows >= 0 && cols >= 0 && entries >= 0, bad, "read_matrix_market: size line '", line,
                  "' must hold rows, cols and entries >= 0");
  std::vector<std::tuple<std::int64_t, std::int64_t, T>> e;
  e.reserve(static_cast<std::size_t>(std::min<std::int64_t>(entries, std::int64_t(1) << 26)));
  for (std::int64_t k = 0; k < entries; ++k) {
    std::int64_t i = 0, j = 0;
    double v = 0;
    CONVKIT_EXPECTS(static_cast<bool>(is >> i >> j >> v), bad, "read_matrix_market: entry ", k + 1, " of ", entries,
                    " is missing or malformed");
    CONVKIT_EXPECTS(i >= 1 && i <= rows && j >= 1 && j <= cols, bad, "read_matrix_market: entry ", k + 1, " at (", i,
                    ", ", j, ") lies outside the ", rows, " x ", cols, " matrix (indices are 1-based)");
    e.emplace_back(i - 1, j - 1, static_cast<T>(v));
  }
  Info in;
  in.dtype = dtype_v<T>;
  in.rows = rows;
  in.cols = cols;
  const bool wide = rows + 1 > detail::toeplitz::kI32Max || cols > detail::toeplitz::kI32Max ||
                    entries + 1 > detail::toeplitz::kI32Max;
  in.index_width = wide ? IndexWidth::I64 : IndexWidth::I32;
  auto s = wide ? csr_from_triplets<T, std::int64_t>(rows, cols, e, in)
                : csr_from_triplets<T, std::int32_t>(rows, cols, e, in);
  const std::size_t idx = wide ? 8 : 4;
  Info& f = s->info;
  f.taps = 0;
  f.value_bytes = static_cast<std::size_t>(f.nnz) * sizeof(T);
  f.col_bytes = static_cast<std::size_t>(f.nnz) * idx;
  f.row_ptr_bytes = static_cast<std::size_t>(rows + 1) * idx;
  f.matrix_bytes = f.value_bytes + f.col_bytes + f.row_ptr_bytes;
  f.map_bytes = 0;
  return Matrix<T>(std::move(s));
}

template <class T>
Matrix<T> Matrix<T>::read_matrix_market(const std::string& path) {
  std::ifstream f(path);
  CONVKIT_EXPECTS(f.is_open(), Status::InvalidArgument, "read_matrix_market: cannot open '", path, "'");
  return read_matrix_market(f);
}

template class Matrix<float>;
template class Matrix<double>;

// ------------------------------------------------------------ DeviceMatrix

template <class T>
DeviceMatrix<T>::DeviceMatrix() = default;
template <class T>
DeviceMatrix<T>::DeviceMatrix(std::unique_ptr<ToeplitzDeviceStorage<T>> s) : s_(std::move(s)) {}
template <class T>
DeviceMatrix<T>::~DeviceMatrix() = default;
template <class T>
DeviceMatrix<T>::DeviceMatrix(DeviceMatrix&&) noexcept = default;
template <class T>
DeviceMatrix<T>& DeviceMatrix<T>::operator=(DeviceMatrix&&) noexcept = default;

namespace {
template <class T>
const ToeplitzDeviceStorage<T>& checked(const std::unique_ptr<ToeplitzDeviceStorage<T>>& s) {
  CONVKIT_EXPECTS(s != nullptr, Status::InvalidArgument, "DeviceMatrix: empty (default-constructed or moved-from)");
  return *s;
}
}  // namespace

template <class T>
const Info& DeviceMatrix<T>::info() const { return checked(s_).info; }
template <class T>
const T* DeviceMatrix<T>::values() const { return checked(s_).values; }
template <class T>
const void* DeviceMatrix<T>::row_ptr() const { return checked(s_).row_ptr; }
template <class T>
const void* DeviceMatrix<T>::col_ind() const { return checked(s_).cols; }

template <class T>
void DeviceMatrix<T>::refill(TensorView<const T> w) {
  const ToeplitzDeviceStorage<T>& s = checked(s_);
  detail::toeplitz::check_weights<T>(w, s.info.problem, Location::Device, "DeviceMatrix::refill");
  cudaStream_t stream = s.ctx->stream();
  detail::toeplitz::with_index(s.info.index_width, [&](auto tag) {
    using I = decltype(tag);
    detail::toeplitz::refill_device<T, I>(stream, s.template ref<I>(), w.data);
  });
}

template <class T>
Matrix<T> DeviceMatrix<T>::to_host() const {
  const ToeplitzDeviceStorage<T>& s = checked(s_);
  auto h = std::make_unique<ToeplitzHostStorage<T>>();
  h->info = s.info;
  h->has_map = true;
  h->values.resize(static_cast<std::size_t>(s.info.nnz));
  detail::toeplitz::with_index(s.info.index_width, [&](auto tag) {
    using I = decltype(tag);
    auto& rp = h->template row_ptr<I>();
    auto& ci = h->template cols<I>();
    auto& tp = h->template tap_ptr<I>();
    auto& taps = h->template taps<I>();
    rp.resize(static_cast<std::size_t>(s.info.rows + 1));
    ci.resize(static_cast<std::size_t>(s.info.nnz));
    taps.resize(static_cast<std::size_t>(s.info.taps));
    if (!s.info.single_tap) tp.resize(static_cast<std::size_t>(s.info.nnz + 1));
    cudaStream_t stream = s.ctx->stream();
    auto get = [&](void* dst, const void* src, std::size_t bytes) {
      if (bytes) CONVKIT_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
    };
    get(h->values.data(), s.values, h->values.size() * sizeof(T));
    get(rp.data(), s.row_ptr, rp.size() * sizeof(I));
    get(ci.data(), s.cols, ci.size() * sizeof(I));
    get(taps.data(), s.taps, taps.size() * sizeof(I));
    if (!tp.empty()) get(tp.data(), s.tap_ptr, tp.size() * sizeof(I));
    CONVKIT_CUDA_TRY(cudaStreamSynchronize(stream));
  });
  return Matrix<T>(std::move(h));
}

template class DeviceMatrix<float>;
template class DeviceMatrix<double>;

// ------------------------------------------------------------------- build

namespace {

template <class T>
Matrix<T> build_impl(const ConvSpec& spec, const Shape& x, TensorView<const T> w, const BuildOptions& opts) {
  const ConvProblem p = spec.problem(x, w.shape);
  detail::toeplitz::check_weights<T>(w, p, Location::Host, "toeplitz::build");
  const Info in = detail::toeplitz::make_info(p, dtype_v<T>, opts.index_width);
  detail::toeplitz::check_budget(in, 0, opts.max_bytes, "BuildOptions::max_bytes for a host build");
  auto s = detail::toeplitz::with_index(in.index_width, [&](auto tag) {
    using I = decltype(tag);
    return detail::toeplitz::build_host_typed<T, I>(p, in, w.data);
  });
  return Matrix<T>(std::move(s));
}

template <class T>
DeviceMatrix<T> build_device_impl(Context& ctx, const ConvSpec& spec, const Shape& x, TensorView<const T> w,
                                  const BuildOptions& opts) {
  const ConvProblem p = spec.problem(x, w.shape);
  detail::toeplitz::check_weights<T>(w, p, Location::Device, "toeplitz::build_device");
  return detail::toeplitz::build_on_device<T>(ctx.state(), p, w.data, opts.index_width, opts.max_bytes);
}

}  // namespace

Matrix<float> build(const ConvSpec& spec, const Shape& x, TensorView<const float> w, const BuildOptions& opts) {
  return build_impl<float>(spec, x, w, opts);
}
Matrix<double> build(const ConvSpec& spec, const Shape& x, TensorView<const double> w, const BuildOptions& opts) {
  return build_impl<double>(spec, x, w, opts);
}
DeviceMatrix<float> build_device(Context& ctx, const ConvSpec& spec, const Shape& x, TensorView<const float> w,
                                 const BuildOptions& opts) {
  return build_device_impl<float>(ctx, spec, x, w, opts);
}
DeviceMatrix<double> build_device(Context& ctx, const ConvSpec& spec, const Shape& x, TensorView<const double> w,
                                  const BuildOptions& opts) {
  return build_device_impl<double>(ctx, spec, x, w, opts);
}

}  // namespace toeplitz
}  // namespace convkit
