// convkit::toeplitz: the convolution's explicit sparse matrix on the host and
// the device. This file holds the host side: the per-axis pattern tables (of
// the border outputs only; interior outputs are computed) and the closed-form
// sizes (Info) they imply, the memory-budget rule, the host
// Matrix (build, products, refill, dense view, Matrix Market I/O) and the
// DeviceMatrix wrapper. The Thrust build itself lives in
// kernels/toeplitz_build.cu and runs the functors of kernels/toeplitz.cuh
// under the host or the device policy.
#include <convkit/toeplitz.hpp>

#include "arith.hpp"
#include "check.hpp"
#include "context_state.hpp"
#include "indexing.cuh"
#include "toeplitz.cuh"
#include "validate.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <istream>
#include <limits>
#include <numeric>
#include <ostream>
#include <sstream>
#include <string_view>
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

constexpr std::int64_t kI32Max = std::numeric_limits<std::int32_t>::max();

// Sizes of absurd problems must still compare as "too big" instead of
// wrapping around: the saturating helpers of arith.hpp.
using ::convkit::detail::add_sat;
using ::convkit::detail::mul_sat;
std::size_t bytes_of(std::int64_t count, std::size_t elem) { return ::convkit::detail::bytes_sat(count, elem); }
std::size_t add_bytes(std::size_t a, std::size_t b) { return ::convkit::detail::add_sat(a, b); }

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
  // The budget admitted these sizes; the host may still be short of memory.
  host_resize(rp, add_sat(info.rows, std::int64_t(1)), "toeplitz::build: row offsets");
  host_resize(cols, info.nnz, "toeplitz::build: column indices");
  host_resize(s->values, info.nnz, "toeplitz::build: values");
  host_resize(taps, info.taps, "toeplitz::build: source-tap map");
  std::vector<I> scratch;
  if (!info.single_tap) {
    host_resize(tp, add_sat(info.nnz, std::int64_t(1)), "toeplitz::build: source-tap offsets");
    host_resize(scratch, add_sat(info.rows, std::int64_t(1)), "toeplitz::build: row scratch");
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
  CONVKIT_EXPECTS(width == IndexWidth::Auto || width == IndexWidth::I32 || width == IndexWidth::I64,
                  Status::InvalidArgument, "index_width = ", static_cast<int>(width),
                  ": must be IndexWidth::Auto (0), I32 (1) or I64 (2)");
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
  const ConvProblem p = detail::validate_problem(spec, x, w, dtype);
  return detail::toeplitz::make_info(p, dtype, width);
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

namespace {

// A moved-from Matrix has no storage; every member but assignment and the
// destructor goes through here so that it throws instead of dereferencing null.
template <class T>
ToeplitzHostStorage<T>& live(const std::unique_ptr<ToeplitzHostStorage<T>>& s, const char* what) {
  CONVKIT_EXPECTS(s != nullptr, Status::InvalidArgument, "Matrix::", what,
                  ": used after move (a moved-from Matrix holds no matrix until one is assigned to it)");
  return *s;
}

// Index check of the accessors: i in [0, end) (or [0, end] when inclusive).
void check_index(const char* what, const char* name, std::int64_t i, std::int64_t end, const char* end_name,
                 bool inclusive = false) {
  const bool ok = i >= 0 && (inclusive ? i <= end : i < end);
  CONVKIT_EXPECTS(ok, Status::InvalidArgument, "Matrix::", what, ": ", name, " = ", i, " is outside ",
                  inclusive ? "[0, " : "[0, ", end_name, inclusive ? "] = [0, " : ") = [0, ", end,
                  inclusive ? "]" : ")");
}

// Calls f(row_ptr, cols, values) with the typed CSR arrays: the library's own
// loops read these directly rather than through the checked accessors.
template <class T, class F>
decltype(auto) with_csr(ToeplitzHostStorage<T>& s, F&& f) {
  return detail::toeplitz::with_index(s.info.index_width, [&](auto tag) -> decltype(auto) {
    using I = decltype(tag);
    const I* rp = s.template row_ptr<I>().data();
    const I* ci = s.template cols<I>().data();
    const T* v = s.values.data();
    return f(rp, ci, v);
  });
}

}  // namespace

template <class T>
const Info& Matrix<T>::info() const { return live(s_, "info").info; }
template <class T>
std::int64_t Matrix<T>::rows() const { return live(s_, "rows").info.rows; }
template <class T>
std::int64_t Matrix<T>::cols() const { return live(s_, "cols").info.cols; }
template <class T>
std::int64_t Matrix<T>::nnz() const { return live(s_, "nnz").info.nnz; }
template <class T>
double Matrix<T>::density() const { return live(s_, "density").info.density(); }
template <class T>
std::size_t Matrix<T>::bytes() const { return live(s_, "bytes").info.matrix_bytes; }
template <class T>
IndexWidth Matrix<T>::index_width() const { return live(s_, "index_width").info.index_width; }
template <class T>
const T* Matrix<T>::values() const { return live(s_, "values").values.data(); }
template <class T>
const std::int32_t* Matrix<T>::row_ptr_i32() const {
  auto& s = live(s_, "row_ptr_i32");
  return s.wide() ? nullptr : s.row_ptr32.data();
}
template <class T>
const std::int32_t* Matrix<T>::col_ind_i32() const {
  auto& s = live(s_, "col_ind_i32");
  return s.wide() ? nullptr : s.cols32.data();
}
template <class T>
const std::int64_t* Matrix<T>::row_ptr_i64() const {
  auto& s = live(s_, "row_ptr_i64");
  return s.wide() ? s.row_ptr64.data() : nullptr;
}
template <class T>
const std::int64_t* Matrix<T>::col_ind_i64() const {
  auto& s = live(s_, "col_ind_i64");
  return s.wide() ? s.cols64.data() : nullptr;
}
template <class T>
std::int64_t Matrix<T>::row_begin(std::int64_t r) const {
  auto& s = live(s_, "row_begin");
  check_index("row_begin", "r", r, s.info.rows, "rows()", true);
  const auto i = static_cast<std::size_t>(r);
  return s.wide() ? s.row_ptr64[i] : s.row_ptr32[i];
}
template <class T>
std::int64_t Matrix<T>::row_end(std::int64_t r) const {
  auto& s = live(s_, "row_end");
  check_index("row_end", "r", r, s.info.rows, "rows()");
  const auto i = static_cast<std::size_t>(r) + 1;
  return s.wide() ? s.row_ptr64[i] : s.row_ptr32[i];
}
template <class T>
std::int64_t Matrix<T>::col(std::int64_t j) const {
  auto& s = live(s_, "col");
  check_index("col", "j", j, s.info.nnz, "nnz()");
  const auto i = static_cast<std::size_t>(j);
  return s.wide() ? s.cols64[i] : s.cols32[i];
}
template <class T>
T Matrix<T>::value(std::int64_t j) const {
  auto& s = live(s_, "value");
  check_index("value", "j", j, s.info.nnz, "nnz()");
  return s.values[static_cast<std::size_t>(j)];
}
template <class T>
bool Matrix<T>::has_source_map() const { return live(s_, "has_source_map").has_map; }

template <class T>
std::vector<std::int64_t> Matrix<T>::source_taps(std::int64_t j) const {
  auto& s = live(s_, "source_taps");
  check_index("source_taps", "j", j, s.info.nnz, "nnz()");
  std::vector<std::int64_t> r;
  if (!s.has_map) return r;
  return detail::toeplitz::with_index(s.info.index_width, [&](auto tag) {
    using I = decltype(tag);
    auto& taps = s.template taps<I>();
    auto& tp = s.template tap_ptr<I>();
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
  auto& s = live(s_, "to_dense");
  const std::int64_t rows = s.info.rows, cols = s.info.cols;
  const std::int64_t elems = detail::mul_sat(rows, cols);
  CONVKIT_EXPECTS(elems <= max_elements, Status::NotSupported, "to_dense: the ", rows, " x ", cols,
                  " matrix has ", static_cast<double>(rows) * static_cast<double>(cols),
                  " elements, over the limit of ", max_elements,
                  "; use the CSR arrays or write_matrix_market for large matrices");
  std::vector<T> d;
  detail::host_resize(d, elems, "to_dense");
  with_csr(s, [&](const auto* rp, const auto* ci, const T* v) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (auto j = rp[r]; j < rp[r + 1]; ++j) d[static_cast<std::size_t>(r * cols + ci[j])] = v[j];
  });
  return d;
}

template <class T>
void Matrix<T>::multiply(const T* x, T* y) const {
  auto& s = live(s_, "multiply");
  const std::int64_t rows = s.info.rows, cols = s.info.cols;
  CONVKIT_EXPECTS((x && y) || (rows == 0 || cols == 0), Status::InvalidArgument, "multiply: null x or y");
  with_csr(s, [&](const auto* rp, const auto* ci, const T* v) {
    for (std::int64_t r = 0; r < rows; ++r) {
      double acc = 0.0;
      for (auto j = rp[r]; j < rp[r + 1]; ++j) acc += static_cast<double>(v[j]) * static_cast<double>(x[ci[j]]);
      y[r] = static_cast<T>(acc);
    }
  });
}

template <class T>
void Matrix<T>::multiply_transpose(const T* y, T* x) const {
  auto& s = live(s_, "multiply_transpose");
  const std::int64_t rows = s.info.rows, cols = s.info.cols;
  CONVKIT_EXPECTS((x && y) || (rows == 0 || cols == 0), Status::InvalidArgument,
                  "multiply_transpose: null x or y");
  std::vector<double> acc;
  detail::host_resize(acc, cols, "multiply_transpose: the double accumulator of Tᵀ·y");
  with_csr(s, [&](const auto* rp, const auto* ci, const T* v) {
    for (std::int64_t r = 0; r < rows; ++r)
      for (auto j = rp[r]; j < rp[r + 1]; ++j)
        acc[static_cast<std::size_t>(ci[j])] += static_cast<double>(v[j]) * static_cast<double>(y[r]);
  });
  for (std::int64_t c = 0; c < cols; ++c) x[c] = static_cast<T>(acc[static_cast<std::size_t>(c)]);
}

template <class T>
void Matrix<T>::refill(TensorView<const T> w) {
  auto& s = live(s_, "refill");
  CONVKIT_EXPECTS(s.has_map, Status::NotSupported,
                  "refill: this matrix has no source-tap map (it was read from a file, not built)");
  detail::toeplitz::check_weights<T>(w, s.info.problem, Location::Host, "refill");
  detail::toeplitz::with_index(s.info.index_width, [&](auto tag) {
    using I = decltype(tag);
    detail::toeplitz::CsrRef<T, I> m;
    m.values = s.values.data();
    m.tap_ptr = s.info.single_tap ? nullptr : s.template tap_ptr<I>().data();
    m.taps = s.template taps<I>().data();
    m.rows = s.info.rows;
    m.nnz = s.info.nnz;
    m.n_taps = s.info.taps;
    detail::toeplitz::refill_host<T, I>(m, w.data);
  });
}

template <class T>
void Matrix<T>::write_matrix_market(std::ostream& os) const {
  auto& s = live(s_, "write_matrix_market");
  os << "%%MatrixMarket matrix coordinate real general\n";
  if (s.info.problem.dims > 0) os << "% convkit Toeplitz matrix of " << s.info.problem << "\n";
  os << s.info.rows << " " << s.info.cols << " " << s.info.nnz << "\n";
  // max_digits10 makes every finite value, denormals and -0 included, read
  // back bit for bit; nan and inf print as "nan", "inf", "-inf", which the
  // reader accepts.
  const auto old = os.precision(std::numeric_limits<T>::max_digits10);
  with_csr(s, [&](const auto* rp, const auto* ci, const T* v) {
    for (std::int64_t r = 0; r < s.info.rows; ++r)
      for (auto j = rp[r]; j < rp[r + 1]; ++j) os << r + 1 << " " << ci[j] + 1 << " " << v[j] << "\n";
  });
  os.precision(old);
  CONVKIT_EXPECTS(os.good(), Status::InvalidArgument, "write_matrix_market: the stream failed while writing");
}

template <class T>
void Matrix<T>::write_matrix_market(const std::string& path) const {
  live(s_, "write_matrix_market");
  std::ofstream f(path);
  CONVKIT_EXPECTS(f.is_open(), Status::InvalidArgument, "write_matrix_market: cannot open '", path, "' for writing");
  write_matrix_market(f);
}

namespace {

// ------------------------------------------------------ Matrix Market reader
//
// The reader trusts nothing in the file: the declared size is budgeted
// before anything is allocated, the entry list grows only as entries are
// actually read, and every token must parse whole.

template <class T>
struct Triplet {
  std::int64_t r, c;
  T v;
};
static_assert(sizeof(Triplet<float>) == 24 && sizeof(Triplet<double>) == 24,
              "read_matrix_market's documented budget counts 24 bytes per declared entry");

// Hands out the lines of the input with their 1-based numbers.
class MmLines {
 public:
  explicit MmLines(std::istream& is) : is_(is) {}
  // The next line, '\r' stripped; false at the end of input.
  bool raw(std::string& line) {
    if (!std::getline(is_, line)) {
      CONVKIT_EXPECTS(!is_.bad(), Status::InvalidArgument, "read_matrix_market: line ", n_ + 1,
                      ": the stream failed while reading");
      return false;
    }
    ++n_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }
  // The next line that is neither blank nor a '%' comment; false at the end.
  bool content(std::string& line) {
    while (raw(line)) {
      const auto first = line.find_first_not_of(" \t");
      if (first != std::string::npos && line[first] != '%') return true;
    }
    return false;
  }
  std::int64_t number() const { return n_; }

 private:
  std::istream& is_;
  std::int64_t n_ = 0;
};

// Splits a line at blanks into at most kMax tokens; returns how many there
// are, kMax meaning "kMax or more".
constexpr int kMaxTokens = 6;
int split(const std::string& line, std::string_view (&tok)[kMaxTokens]) {
  int n = 0;
  std::size_t i = 0;
  while (n < kMaxTokens) {
    i = line.find_first_not_of(" \t", i);
    if (i == std::string::npos) break;
    const std::size_t e = std::min(line.find_first_of(" \t", i), line.size());
    tok[n++] = std::string_view(line).substr(i, e - i);
    i = e;
  }
  return n;
}

[[noreturn]] void fail(std::int64_t line, const std::string& what) {
  throw Error(Status::InvalidArgument, detail::msg("read_matrix_market: line ", line, ": ", what));
}

bool all_digits(std::string_view t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A non-negative decimal integer, the whole token.
std::int64_t parse_count(std::string_view tok, std::int64_t line, const char* name) {
  if (!all_digits(tok)) fail(line, detail::msg(name, " '", tok, "' is not a non-negative decimal integer"));
  std::int64_t v = 0;
  const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (r.ec != std::errc())
    fail(line, detail::msg(name, " '", tok, "' is out of range (at most ", detail::kI64Max, ")"));
  return v;
}

// A 1-based index in [1, n], the whole token; returned 0-based.
std::int64_t parse_index(std::string_view tok, std::int64_t line, const char* name, std::int64_t n,
                         const char* n_name) {
  const std::int64_t v = parse_count(tok, line, name);
  if (v < 1 || v > n)
    fail(line, detail::msg(name, " '", tok, "' is outside [1, ", n, "] (1-based, the ", n_name,
                           " the size line declares)"));
  return v - 1;
}

// A value: for a real field a decimal floating-point number, nan, inf or
// -inf parsed directly as T (no rounding through double for float), for an
// integer field a decimal integer; the whole token either way.
template <class T>
T parse_value(std::string_view tok, std::int64_t line, bool integer_field) {
  const char* b = tok.data();
  const char* e = b + tok.size();
  if (integer_field) {
    const bool neg = !tok.empty() && tok[0] == '-';
    if (!all_digits(tok.substr(neg ? 1 : 0)))
      fail(line, detail::msg("value '", tok, "' is not a decimal integer (the field is integer)"));
    std::int64_t v = 0;
    const auto r = std::from_chars(b, e, v);
    if (r.ec != std::errc())
      fail(line, detail::msg("value '", tok, "' is out of range (a 64-bit integer; the field is integer)"));
    return static_cast<T>(v);
  }
  T v{};
  const auto r = std::from_chars(b, e, v, std::chars_format::general);
  if (r.ec == std::errc::result_out_of_range)
    fail(line, detail::msg("value '", tok, "' is out of range for ", dtype_name(dtype_v<T>)));
  if (r.ec != std::errc() || r.ptr != e)
    fail(line, detail::msg("value '", tok, "' is not a decimal number, nan, inf or -inf"));
  return v;
}

template <class T, class I>
std::unique_ptr<ToeplitzHostStorage<T>> csr_from_triplets(std::int64_t rows, std::vector<Triplet<T>>& e,
                                                          const Info& info) {
  std::sort(e.begin(), e.end(), [](const Triplet<T>& a, const Triplet<T>& b) {
    return a.r != b.r ? a.r < b.r : a.c < b.c;
  });
  std::size_t unique = 0;
  for (std::size_t i = 0; i < e.size(); ++i) unique += i == 0 || e[i].r != e[i - 1].r || e[i].c != e[i - 1].c;
  auto s = std::make_unique<ToeplitzHostStorage<T>>();
  s->info = info;
  auto& rp = s->template row_ptr<I>();
  auto& ci = s->template cols<I>();
  detail::host_resize(rp, detail::add_checked(rows, std::int64_t(1), "read_matrix_market: row offsets"),
                      "read_matrix_market: row offsets");
  detail::host_resize(ci, unique, "read_matrix_market: column indices");
  detail::host_resize(s->values, unique, "read_matrix_market: values");
  std::size_t k = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (i > 0 && e[i].r == e[i - 1].r && e[i].c == e[i - 1].c) {
      s->values[k - 1] += e[i].v;  // Matrix Market allows duplicates: they add up
      continue;
    }
    ci[k] = static_cast<I>(e[i].c);
    s->values[k] = e[i].v;
    ++k;
    ++rp[static_cast<std::size_t>(e[i].r + 1)];
  }
  std::partial_sum(rp.begin(), rp.end(), rp.begin());
  s->info.nnz = static_cast<std::int64_t>(unique);
  return s;
}

std::string lower(std::string_view t) {
  std::string s(t);
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

template <class T>
Matrix<T> read_mm(std::istream& is, std::size_t max_bytes) {
  using detail::add_sat;
  using detail::bytes_sat;
  MmLines lines(is);
  std::string line;
  std::string_view tok[kMaxTokens];
  if (!lines.raw(line)) fail(1, "the input is empty (a Matrix Market file starts with a %%MatrixMarket banner)");
  const int nb = split(line, tok);
  if (nb == 0 || lower(tok[0]) != "%%matrixmarket")
    fail(1, detail::msg("'", line, "' is not a %%MatrixMarket banner"));
  if (nb != 5)
    fail(1, detail::msg("banner '", line, "' must hold %%MatrixMarket, object, format, field and symmetry"));
  if (lower(tok[1]) != "matrix" || lower(tok[2]) != "coordinate")
    fail(1, detail::msg("'", tok[1], " ", tok[2], "' is not supported (matrix coordinate only)"));
  const std::string field = lower(tok[3]);
  if (field != "real" && field != "integer" && field != "double")
    fail(1, detail::msg("field '", tok[3], "' is not supported (real, double or integer)"));
  const bool integer_field = field == "integer";
  if (lower(tok[4]) != "general") fail(1, detail::msg("symmetry '", tok[4], "' is not supported (general only)"));

  if (!lines.content(line)) fail(lines.number(), "the input ends before the size line (rows, cols, entries)");
  const std::int64_t size_line = lines.number();
  const int ns = split(line, tok);
  if (ns > 3) fail(size_line, detail::msg("junk '", tok[3], "' after rows, cols and entries on the size line"));
  if (ns < 3) fail(size_line, detail::msg("size line '", line, "' must hold rows, cols and entries"));
  const std::int64_t rows = parse_count(tok[0], size_line, "rows");
  const std::int64_t cols = parse_count(tok[1], size_line, "cols");
  const std::int64_t entries = parse_count(tok[2], size_line, "entries");

  // Budget the declared size before allocating anything: the CSR arrays
  // (entries bounds the nonzeros; duplicates only shrink them) and the entry
  // list held while reading. Saturating: an absurd size compares as too big.
  const bool wide = add_sat(rows, std::int64_t(1)) > detail::toeplitz::kI32Max || cols > detail::toeplitz::kI32Max ||
                    add_sat(entries, std::int64_t(1)) > detail::toeplitz::kI32Max;
  const std::size_t idx = wide ? 8 : 4;
  const std::size_t csr = add_sat(add_sat(bytes_sat(entries, sizeof(T)), bytes_sat(entries, idx)),
                                  bytes_sat(add_sat(rows, std::int64_t(1)), idx));
  const std::size_t scratch = bytes_sat(entries, sizeof(Triplet<T>));
  const std::size_t need = add_sat(csr, scratch);
  CONVKIT_EXPECTS(need <= max_bytes, Status::NotSupported, "read_matrix_market: line ", size_line, ": the size line '",
                  line, "' declares a ", rows, " x ", cols, " matrix with ", entries, " entries, which needs ", need,
                  " bytes (", csr, " of CSR + ", scratch, " of entries held while reading), over the budget of ",
                  max_bytes, " bytes (max_bytes)");

  std::vector<Triplet<T>> e;
  std::size_t n = 0;
  for (std::int64_t k = 0; k < entries; ++k) {
    if (!lines.content(line))
      fail(lines.number(), detail::msg("the input ends after ", k, " of the ", entries,
                                       " entries the size line (line ", size_line, ") declares"));
    const std::int64_t at = lines.number();
    const int nt = split(line, tok);
    if (nt > 3) fail(at, detail::msg("junk '", tok[3], "' after row, column and value of entry ", k + 1));
    if (nt < 3) fail(at, detail::msg("entry ", k + 1, " '", line, "' must hold row, column and value"));
    Triplet<T> t{parse_index(tok[0], at, "row", rows, "rows"), parse_index(tok[1], at, "column", cols, "cols"),
                 parse_value<T>(tok[2], at, integer_field)};
    // Grow with what is read, never with what is declared: a short file
    // declaring many entries costs only what it holds.
    if (n == e.size())
      detail::host_resize(e, std::min<std::int64_t>(entries, std::max<std::int64_t>(4096, 2 * std::int64_t(n))),
                          "read_matrix_market: entries");
    e[n++] = t;
  }
  if (lines.content(line))
    fail(lines.number(), detail::msg("'", line, "' lies past the ", entries, " entries the size line (line ",
                                     size_line, ") declares"));

  Info in;
  in.dtype = dtype_v<T>;
  in.rows = rows;
  in.cols = cols;
  in.index_width = wide ? IndexWidth::I64 : IndexWidth::I32;
  auto s = wide ? csr_from_triplets<T, std::int64_t>(rows, e, in) : csr_from_triplets<T, std::int32_t>(rows, e, in);
  Info& f = s->info;
  f.taps = 0;
  f.value_bytes = bytes_sat(f.nnz, sizeof(T));
  f.col_bytes = bytes_sat(f.nnz, idx);
  f.row_ptr_bytes = bytes_sat(add_sat(rows, std::int64_t(1)), idx);
  f.matrix_bytes = add_sat(add_sat(f.value_bytes, f.col_bytes), f.row_ptr_bytes);
  f.map_bytes = 0;
  return Matrix<T>(std::move(s));
}

// A caller's stream may have exceptions enabled: the reader runs with them
// off (reaching the end of the input is how it finds there is nothing more,
// and a failure must surface as an Error, not std::ios_base::failure) and
// puts the caller's mask back afterwards.
class ExceptionsOff {
 public:
  explicit ExceptionsOff(std::istream& is) : is_(is), mask_(is.exceptions()) { is_.exceptions(std::ios::goodbit); }
  ~ExceptionsOff() {
    try {
      is_.exceptions(mask_);  // throws when the state has a bit of the mask; the mask is set regardless
    } catch (const std::exception&) {
    }
  }
  ExceptionsOff(const ExceptionsOff&) = delete;
  ExceptionsOff& operator=(const ExceptionsOff&) = delete;

 private:
  std::istream& is_;
  std::ios::iostate mask_;
};

}  // namespace

template <class T>
Matrix<T> Matrix<T>::read_matrix_market(std::istream& is, std::size_t max_bytes) {
  ExceptionsOff guard(is);
  return read_mm<T>(is, max_bytes);
}

template <class T>
Matrix<T> Matrix<T>::read_matrix_market(const std::string& path, std::size_t max_bytes) {
  std::ifstream f(path);
  CONVKIT_EXPECTS(f.is_open(), Status::InvalidArgument, "read_matrix_market: cannot open '", path, "'");
  return read_matrix_market(f, max_bytes);
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
const ToeplitzDeviceStorage<T>& checked(const std::unique_ptr<ToeplitzDeviceStorage<T>>& s, const char* what) {
  CONVKIT_EXPECTS(s != nullptr, Status::InvalidArgument, "DeviceMatrix::", what,
                  ": the matrix is empty (default-constructed, or used after move); assign one from build_device() "
                  "first");
  return *s;
}
}  // namespace

template <class T>
const Info& DeviceMatrix<T>::info() const { return checked(s_, "info").info; }
template <class T>
std::int64_t DeviceMatrix<T>::rows() const { return checked(s_, "rows").info.rows; }
template <class T>
std::int64_t DeviceMatrix<T>::cols() const { return checked(s_, "cols").info.cols; }
template <class T>
std::int64_t DeviceMatrix<T>::nnz() const { return checked(s_, "nnz").info.nnz; }
template <class T>
std::size_t DeviceMatrix<T>::bytes() const { return checked(s_, "bytes").info.matrix_bytes; }
template <class T>
const T* DeviceMatrix<T>::values() const { return checked(s_, "values").values; }
template <class T>
const void* DeviceMatrix<T>::row_ptr() const { return checked(s_, "row_ptr").row_ptr; }
template <class T>
const void* DeviceMatrix<T>::col_ind() const { return checked(s_, "col_ind").cols; }

template <class T>
void DeviceMatrix<T>::refill(TensorView<const T> w) {
  const ToeplitzDeviceStorage<T>& s = checked(s_, "refill");
  detail::toeplitz::check_weights<T>(w, s.info.problem, Location::Device, "DeviceMatrix::refill");
  cudaStream_t stream = s.ctx->stream();
  detail::toeplitz::with_index(s.info.index_width, [&](auto tag) {
    using I = decltype(tag);
    detail::toeplitz::refill_device<T, I>(stream, s.template ref<I>(), w.data);
  });
}

template <class T>
Matrix<T> DeviceMatrix<T>::to_host() const {
  const ToeplitzDeviceStorage<T>& s = checked(s_, "to_host");
  auto h = std::make_unique<ToeplitzHostStorage<T>>();
  h->info = s.info;
  h->has_map = true;
  // The device had room for the matrix; the host may not: OutOfMemory, not bad_alloc.
  detail::host_resize(h->values, s.info.nnz, "DeviceMatrix::to_host: values");
  detail::toeplitz::with_index(s.info.index_width, [&](auto tag) {
    using I = decltype(tag);
    auto& rp = h->template row_ptr<I>();
    auto& ci = h->template cols<I>();
    auto& tp = h->template tap_ptr<I>();
    auto& taps = h->template taps<I>();
    detail::host_resize(rp, detail::add_checked(s.info.rows, std::int64_t(1), "DeviceMatrix::to_host: row offsets"),
                        "DeviceMatrix::to_host: row offsets");
    detail::host_resize(ci, s.info.nnz, "DeviceMatrix::to_host: column indices");
    detail::host_resize(taps, s.info.taps, "DeviceMatrix::to_host: source-tap map");
    if (!s.info.single_tap)
      detail::host_resize(tp, detail::add_checked(s.info.nnz, std::int64_t(1), "DeviceMatrix::to_host: tap offsets"),
                          "DeviceMatrix::to_host: tap offsets");
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
