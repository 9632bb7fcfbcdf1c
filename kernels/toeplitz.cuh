// The sparse Toeplitz matrix's structure as __host__ __device__ functors, shared
// by the host build (thrust::host, run by the CPU tests) and the device build
// (thrust::cuda on the context's stream), so both run exactly the same code.
//
// For one image, y = T·x with T of size (K·ΠO) × (C·ΠD): row r = k·ΠO + q,
// column c = cin·ΠD + s. Boundary folding is separable per spatial axis, so a
// row's distinct columns are the product (input channel of k's group) ×
// U0(o0) × U1(o1) × U2(o2), where Ua(o) is the sorted set of distinct input
// indices output o reads on axis a after folding, and each of those nonzeros
// sums the weight taps whose folded indices coincide (Reflect / Replicate
// edges, Circular with a kernel wider than the input). The functors combine
// the per-axis sets into CSR rows whose column indices come out sorted and
// unique by construction.
//
// Along each axis only the border outputs (some tap outside [0, D)) need
// tables: an interior output o reads the k distinct inputs o·s - pad_lo + i·dil
// in ascending order, input i through tap i (flipped for convolution), which
// axis_row() computes. The tables (AxisTables, built on the host) therefore
// hold O(border outputs · k) entries per axis, not O(O·k): a 'same'-padded
// 1-D signal needs at most about 3·k² entries whatever its length.
//
// Values are never computed from the pattern directly: the build writes a
// per-nonzero source-tap map (flat weight indices; a segmented list when some
// nonzero sums several taps), and Refill gathers (and sums) the weights through
// it. The build and set_weights both fill values with Refill, so a refill from
// new weights is bit-identical to a fresh build.
#pragma once

#include <convkit/spec.hpp>
#include <convkit/toeplitz.hpp>

#include "indexing.cuh"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace convkit::detail {
struct ContextState;
}

namespace convkit::detail::toeplitz {

/// Read-only view of the per-axis structure (tables in host or device memory)
/// plus the sizes the functors need. Trivially copyable: functors hold it by
/// value.
///
/// Axis a's outputs split into a low border [0, ilo[a]), an interior
/// [ilo[a], ihi[a]) and a high border [ihi[a], out[a]); an empty interior has
/// ilo[a] == ihi[a] == out[a] (every output is then in the low border). Border
/// outputs are numbered b = 0, 1, ... in output order, skipping the interior;
/// border output b's entries e in [u_ptr[a][b], u_ptr[a][b+1]) are its
/// distinct input indices u[a][e] (ascending), entry e summing the kernel taps
/// t[a][t_ptr[a][e] .. t_ptr[a][e+1]) (flip already applied). Read them
/// through axis_row(), which also covers the interior.
struct Pattern {
  const std::int64_t* u_ptr[3];
  const std::int64_t* u[3];
  const std::int64_t* t_ptr[3];
  const std::int64_t* t[3];
  std::int64_t ilo[3], ihi[3];  ///< interior output range per axis
  std::int64_t stride[3], dil[3], pad_lo[3], ker[3];
  Mode mode;
  std::int64_t out1, out2, Q;  ///< output sizes of slots 1, 2 and ΠO
  std::int64_t in1, in2, P;    ///< input sizes of slots 1, 2 and ΠD
  std::int64_t R;              ///< Πk
  std::int64_t Cg, Kg;
  bool single;                 ///< every nonzero reads exactly one tap
};

/// The reads of one output along one axis: n entries m = 0..n-1, entry m the
/// distinct input index input(m) (ascending in m), summing the taps
/// tap(j) for j in [tap_begin(m), tap_end(m)). For an interior output these
/// are computed; for a border output they come from the tables.
struct AxisRow {
  bool interior;
  std::int64_t n;
  // Interior: entry m reads input first + m·dil through tap m of k (mode
  // applies the flip).
  std::int64_t first, dil, k;
  Mode mode;
  // Border: this output's slice of the axis's tables.
  const std::int64_t* u;      ///< [n] input indices
  const std::int64_t* t_ptr;  ///< [n + 1] offsets into t
  const std::int64_t* t;      ///< the axis's whole tap table

  CONVKIT_HD std::int64_t input(std::int64_t m) const { return interior ? first + m * dil : u[m]; }
  CONVKIT_HD std::int64_t tap_begin(std::int64_t m) const { return interior ? m : t_ptr[m]; }
  CONVKIT_HD std::int64_t tap_end(std::int64_t m) const { return interior ? m + 1 : t_ptr[m + 1]; }
  CONVKIT_HD std::int64_t tap(std::int64_t j) const { return interior ? tap_index(j, k, mode) : t[j]; }
  /// Taps read over all entries.
  CONVKIT_HD std::int64_t taps() const { return interior ? n : t_ptr[n] - t_ptr[0]; }
};

/// Output o's reads along axis a.
CONVKIT_HD AxisRow axis_row(const Pattern& p, int a, std::int64_t o) {
  AxisRow r{};
  r.k = p.ker[a];
  r.mode = p.mode;
  if (o >= p.ilo[a] && o < p.ihi[a]) {
    r.interior = true;
    r.n = p.ker[a];
    r.first = o * p.stride[a] - p.pad_lo[a];
    r.dil = p.dil[a];
    return r;
  }
  // Border number: the high border continues after the low one.
  const std::int64_t b = o < p.ilo[a] ? o : o - (p.ihi[a] - p.ilo[a]);
  const std::int64_t e = p.u_ptr[a][b];
  r.interior = false;
  r.n = p.u_ptr[a][b + 1] - e;
  r.u = p.u[a] + e;
  r.t_ptr = p.t_ptr[a] + e;
  r.t = p.t[a];
  return r;
}

/// Output coordinates (k, o0, o1, o2) of row r.
struct RowCoord {
  std::int64_t k, o0, o1, o2;
};
CONVKIT_HD RowCoord row_coord(const Pattern& p, std::int64_t r) {
  const std::int64_t q = r % p.Q;
  return RowCoord{r / p.Q, q / (p.out1 * p.out2), (q / p.out2) % p.out1, q % p.out2};
}

/// Nonzeros of row r: Cg · |U0(o0)| · |U1(o1)| · |U2(o2)|.
CONVKIT_HD std::int64_t row_nnz(const Pattern& p, std::int64_t r) {
  const RowCoord c = row_coord(p, r);
  return p.Cg * axis_row(p, 0, c.o0).n * axis_row(p, 1, c.o1).n * axis_row(p, 2, c.o2).n;
}

/// Source-tap entries of row r: Cg · Π (taps read on each axis).
CONVKIT_HD std::int64_t row_taps(const Pattern& p, std::int64_t r) {
  const RowCoord c = row_coord(p, r);
  return p.Cg * axis_row(p, 0, c.o0).taps() * axis_row(p, 1, c.o1).taps() * axis_row(p, 2, c.o2).taps();
}

/// Row length, as the CSR index type (thrust::transform writes it before the scan).
template <class I>
struct RowNnz {
  Pattern p;
  CONVKIT_HD I operator()(I r) const { return static_cast<I>(row_nnz(p, static_cast<std::int64_t>(r))); }
};

/// Row's source-tap count (only needed when some nonzero sums several taps).
template <class I>
struct RowTaps {
  Pattern p;
  CONVKIT_HD I operator()(I r) const { return static_cast<I>(row_taps(p, static_cast<std::int64_t>(r))); }
};

/// Writes row r's column indices (ascending, unique) and its nonzeros'
/// source taps. row_ptr is final; row_tap_ptr (exclusive offsets of each row's
/// taps) and tap_ptr are used only when !p.single (then tap_ptr[j] is the first
/// tap of nonzero j; otherwise taps[j] is nonzero j's one tap).
template <class I>
struct RowFill {
  Pattern p;
  const I* row_ptr;
  const I* row_tap_ptr;
  I* cols;
  I* tap_ptr;
  I* taps;

  CONVKIT_HD void operator()(I row) const {
    const std::int64_t r = static_cast<std::int64_t>(row);
    const RowCoord rc = row_coord(p, r);
    const std::int64_t g = rc.k / p.Kg;
    std::int64_t j = static_cast<std::int64_t>(row_ptr[r]);
    std::int64_t t = p.single ? 0 : static_cast<std::int64_t>(row_tap_ptr[r]);
    const AxisRow a0 = axis_row(p, 0, rc.o0), a1 = axis_row(p, 1, rc.o1), a2 = axis_row(p, 2, rc.o2);
    const std::int64_t ker1 = p.ker[1], ker2 = p.ker[2];
    for (std::int64_t c = 0; c < p.Cg; ++c) {
      const std::int64_t col_base = (g * p.Cg + c) * p.P;
      const std::int64_t w_base = (rc.k * p.Cg + c) * p.R;
      for (std::int64_t e0 = 0; e0 < a0.n; ++e0)
        for (std::int64_t e1 = 0; e1 < a1.n; ++e1)
          for (std::int64_t e2 = 0; e2 < a2.n; ++e2) {
            cols[j] = static_cast<I>(col_base + (a0.input(e0) * p.in1 + a1.input(e1)) * p.in2 + a2.input(e2));
            if (p.single) {
              taps[j] = static_cast<I>(w_base + (a0.tap(a0.tap_begin(e0)) * ker1 + a1.tap(a1.tap_begin(e1))) * ker2 +
                                       a2.tap(a2.tap_begin(e2)));
            } else {
              tap_ptr[j] = static_cast<I>(t);
              for (std::int64_t x = a0.tap_begin(e0); x < a0.tap_end(e0); ++x)
                for (std::int64_t y = a1.tap_begin(e1); y < a1.tap_end(e1); ++y)
                  for (std::int64_t z = a2.tap_begin(e2); z < a2.tap_end(e2); ++z)
                    taps[t++] = static_cast<I>(w_base + (a0.tap(x) * ker1 + a1.tap(y)) * ker2 + a2.tap(z));
            }
            ++j;
          }
    }
  }
};

/// values[j] = Σ w[taps[...]] over nonzero j's source taps, summed in T in a
/// fixed order (so the host and device builds and every refill agree bit for
/// bit). tap_ptr is null when every nonzero has exactly one tap.
template <class T, class I>
struct Refill {
  const I* tap_ptr;
  const I* taps;
  const T* w;
  T* values;

  /// Nonzero j's value.
  CONVKIT_HD T value(I j) const {
    if (!tap_ptr) return w[taps[j]];
    T acc = T(0);
    for (I t = tap_ptr[j]; t < tap_ptr[j + 1]; ++t) acc += w[taps[t]];
    return acc;
  }
};

/// How a refill splits the nonzeros: tiles of kThreads · kPer; thread t of a
/// tile fills nonzeros t, t + kThreads, ... (coalesced across the block), and
/// loads all kPer values before storing any, so each thread keeps kPer
/// independent gathers in flight. The device kernel runs refill_tile per
/// thread; the host runs the same steps for every thread of every tile.
struct RefillSplit {
  static constexpr int kThreads = 256;
  static constexpr int kPer = 4;
  static constexpr std::int64_t kTile = std::int64_t(kThreads) * kPer;
  CONVKIT_HD static std::int64_t tiles(std::int64_t nnz) { return (nnz + kTile - 1) / kTile; }
  CONVKIT_HD static std::int64_t index(std::int64_t tile, int u, int thread) {
    return tile * kTile + std::int64_t(u) * kThreads + thread;
  }
};

/// Thread `thread`'s share of tile `tile` of the nnz nonzeros.
template <class T, class I>
CONVKIT_HD void refill_tile(const Refill<T, I>& f, std::int64_t nnz, std::int64_t tile, int thread) {
  T v[RefillSplit::kPer];
  for (int u = 0; u < RefillSplit::kPer; ++u) {
    const std::int64_t j = RefillSplit::index(tile, u, thread);
    if (j < nnz) v[u] = f.value(static_cast<I>(j));
  }
  for (int u = 0; u < RefillSplit::kPer; ++u) {
    const std::int64_t j = RefillSplit::index(tile, u, thread);
    if (j < nnz) f.values[j] = v[u];
  }
}

/// The tiled transpose of the row-major SpMM formulation (N > 1): cuSPARSE
/// multiplies fastest with row-major dense operands (each nonzero then reads
/// one contiguous row of N values), while NCHW is the column-major [C·ΠD, N].
/// out[c, r] = in[r, c] (+ b[r / Q] when b is non-null), in row-major
/// [rows, cols], out row-major [cols, rows].
///
/// One of the two sides is N, often far below 32, so the tile adapts to the
/// shape: th × tw elements of `in` (both powers of two, th·tw = kElems),
/// 32 × 32 when both sides are at least 32, else the narrower side rounded up
/// to a power of two and the other side as long as kElems allows. kThreads
/// threads load the tile with consecutive threads on consecutive columns of
/// `in` (element e: row e / tw, column e % tw) and store it with consecutive
/// threads on consecutive columns of `out` (row e % th, column e / th), so
/// both sides are coalesced whatever the shape, and no thread idles except on
/// the matrix's edges and the rounding of the narrow side. The shared-memory
/// pitch (tw + 1, or tw + 32 / th when th < 32) keeps a warp's 32 accesses on
/// distinct banks on the side where consecutive threads walk down the tile's
/// columns. The per-thread steps are __host__ __device__ so the CPU tests
/// run them for every thread of every tile and check these access patterns.
struct TransposeGeom {
  static constexpr int kThreads = 256;
  static constexpr int kElems = 1024;  ///< elements per tile
  static constexpr int kPer = kElems / kThreads;
  static constexpr int kShared = 2 * kElems;  ///< bound on th · pitch (tw = 1: th = kElems, pitch 2)
  std::int64_t rows = 0, cols = 0, tiles_c = 0, tiles = 0;
  std::int64_t Q = 1;  ///< bias index = input row / Q
  int th = 32, tw = 32;  ///< tile rows and columns (of `in`)
  int th_log = 5, tw_log = 5;
  int pitch = 33;  ///< shared-memory row pitch, in elements

  static TransposeGeom make(std::int64_t rows, std::int64_t cols, std::int64_t Q) {
    TransposeGeom g;
    g.rows = rows;
    g.cols = cols;
    g.Q = Q > 0 ? Q : 1;
    if (cols < 32 && cols <= rows) {
      g.tw = static_cast<int>(pow2_between(cols, 1, 32));
      g.th = kElems / g.tw;
    } else if (rows < 32) {
      g.th = static_cast<int>(pow2_between(rows, 1, 32));
      g.tw = kElems / g.th;
    }
    const auto log2 = [](int v) {
      int l = 0;
      while ((1 << l) < v) ++l;
      return l;
    };
    g.th_log = log2(g.th);
    g.tw_log = log2(g.tw);
    g.pitch = g.tw + (g.th < 32 ? 32 / g.th : 1);
    g.tiles_c = (cols + g.tw - 1) / g.tw;
    g.tiles = ((rows + g.th - 1) / g.th) * g.tiles_c;
    return g;
  }
  /// Tile element e's (row, column) in the tile when loaded and when stored.
  CONVKIT_HD int load_row(int e) const { return e >> tw_log; }
  CONVKIT_HD int load_col(int e) const { return e & (tw - 1); }
  CONVKIT_HD int store_row(int e) const { return e & (th - 1); }
  CONVKIT_HD int store_col(int e) const { return e >> th_log; }
  /// First row and column of `in` in tile t.
  CONVKIT_HD std::int64_t row0(std::int64_t t) const { return (t / tiles_c) * th; }
  CONVKIT_HD std::int64_t col0(std::int64_t t) const { return (t % tiles_c) * tw; }
};

/// Thread `thread`'s loads of tile t into `tile` ([th][pitch]).
template <class T>
CONVKIT_HD void transpose_load(const TransposeGeom& g, const T* in, const T* b, std::int64_t t, int thread, T* tile) {
  const std::int64_t r0 = g.row0(t), c0 = g.col0(t);
  for (int u = 0; u < TransposeGeom::kPer; ++u) {
    const int e = u * TransposeGeom::kThreads + thread, i = g.load_row(e), j = g.load_col(e);
    const std::int64_t r = r0 + i, c = c0 + j;
    if (r < g.rows && c < g.cols) tile[i * g.pitch + j] = in[r * g.cols + c] + (b ? b[r / g.Q] : T(0));
  }
}

/// Thread `thread`'s stores of tile t, transposed, from `tile`.
template <class T>
CONVKIT_HD void transpose_store(const TransposeGeom& g, T* out, std::int64_t t, int thread, const T* tile) {
  const std::int64_t r0 = g.row0(t), c0 = g.col0(t);
  for (int u = 0; u < TransposeGeom::kPer; ++u) {
    const int e = u * TransposeGeom::kThreads + thread, i = g.store_row(e), j = g.store_col(e);
    const std::int64_t r = r0 + i, c = c0 + j;  // out[c, r]
    if (r < g.rows && c < g.cols) out[c * g.rows + r] = tile[i * g.pitch + j];
  }
}

/// How SpMM (N > 1) lays out the dense operands. Rows: x and the product go
/// through row-major copies [·, N] in the workspace (two transposes, the
/// second adding the bias); Columns: cuSPARSE reads x and writes y in place
/// as column-major matrices (no extra memory, much slower). Rows whenever
/// its copies (plus what is already held) fit the workspace limit.
enum class SpmmLayout { Columns, Rows };

inline SpmmLayout spmm_layout(std::int64_t N, std::size_t held, std::size_t copies, std::size_t limit) {
  if (N <= 1) return SpmmLayout::Columns;
  return held <= limit && copies <= limit - held ? SpmmLayout::Rows : SpmmLayout::Columns;
}

// ------------------------------------------------------------ host side
// (axis_sums, make_axis_tables and make_pattern are exported so the CPU tests
// can check the tables the functors read.)

/// Distinct-index and tap totals of one axis: S = Σ_o |Ua(o)|, T = Σ_o taps(o),
/// and the same over its border outputs only (what the tables hold).
/// Saturates at INT64_MAX instead of overflowing.
struct AxisSums {
  std::int64_t entries = 0;
  std::int64_t taps = 0;
  std::int64_t borders = 0;         ///< outputs outside the interior range
  std::int64_t border_entries = 0;  ///< entries of the border outputs
  std::int64_t border_taps = 0;     ///< taps of the border outputs
};

/// Interior outputs [lo, hi) of axis `slot`: every tap inside the input. An
/// empty range is [O, O), so every output is then a (low) border output.
CONVKIT_EXPORT std::pair<std::int64_t, std::int64_t> interior(const ConvProblem& p, int slot);

/// Closed-form sums for axis `slot` (0..2) of p without building any table
/// (src/toeplitz_count.cpp): interior outputs contribute k each, the border
/// outputs are summed arithmetically per boundary mode. The time does not
/// depend on the signal length, the kernel length or the padding.
CONVKIT_EXPORT AxisSums axis_sums(const ConvProblem& p, int slot);

/// int64 entries of make_axis_tables(p).blob, from axis_sums alone.
CONVKIT_EXPORT std::int64_t table_entries(const ConvProblem& p);

/// The per-axis tables of p's border outputs (see Pattern), all three axes
/// packed into one int64 array (`blob`) so a single copy moves them to the
/// device. Per axis: u_ptr [borders + 1], u [entries], t_ptr [entries + 1],
/// t [taps], counted over the border outputs only.
struct AxisTables {
  std::vector<std::int64_t> blob;
  std::int64_t off_u_ptr[3] = {0, 0, 0}, off_u[3] = {0, 0, 0}, off_t_ptr[3] = {0, 0, 0}, off_t[3] = {0, 0, 0};
  std::int64_t ilo[3] = {0, 0, 0}, ihi[3] = {0, 0, 0};  ///< interior output range per axis
  bool single = true;
  /// Border outputs of axis a: out[a] - (ihi[a] - ilo[a]).
  std::int64_t borders(const ConvProblem& p, int a) const { return p.out[a] - (ihi[a] - ilo[a]); }
};

/// Builds the tables (host memory, O(Σ_a border outputs · k_a)).
CONVKIT_EXPORT AxisTables make_axis_tables(const ConvProblem& p);

/// The functors' view of p over tables whose blob lives at `base` (the host
/// blob's data() or a device copy of it).
CONVKIT_EXPORT Pattern make_pattern(const ConvProblem& p, const AxisTables& t, const std::int64_t* base);

/// Info of p's matrix (closed form, src/toeplitz.cpp). Throws NotSupported
/// when `width` is I32 and the matrix does not fit 32-bit indices.
::convkit::toeplitz::Info make_info(const ConvProblem& p, DType t, ::convkit::toeplitz::IndexWidth width);

/// Device scratch the build of `info` keeps live besides the matrix: the
/// tables and, for multi-tap matrices, the per-row tap offsets. Closed form
/// (table_entries), so the budget is checked before any table is built.
CONVKIT_EXPORT std::size_t build_scratch_bytes(const ::convkit::toeplitz::Info& info);

/// The budget rule: throws NotSupported, naming the bytes the matrix (and
/// `scratch` bytes of build scratch) would need and the budget, when they
/// exceed `budget`. `budget_what` says where the budget comes from.
CONVKIT_EXPORT void check_budget(const ::convkit::toeplitz::Info& info, std::size_t scratch, std::size_t budget,
                  const std::string& budget_what);

/// Device build for a validated problem (values from device weights w, or
/// left unset when w is null -- the plan fills them in set_weights). Budget:
/// min(max_bytes, ctx's workspace limit, the device's free memory).
/// Asynchronous on ctx's stream.
template <class T>
::convkit::toeplitz::DeviceMatrix<T> build_on_device(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p,
                                                     const T* w, ::convkit::toeplitz::IndexWidth width,
                                                     std::size_t max_bytes);

/// CSR arrays of index type I and value type T, as raw pointers (all host or
/// all device). tap_ptr is null when every nonzero reads one tap.
template <class T, class I>
struct CsrRef {
  I* row_ptr = nullptr;   ///< [rows + 1]
  I* cols = nullptr;      ///< [nnz]
  T* values = nullptr;    ///< [nnz]
  I* tap_ptr = nullptr;   ///< [nnz + 1] or null
  I* taps = nullptr;      ///< [taps]
  std::int64_t rows = 0, nnz = 0, n_taps = 0;
};

/// Builds pattern, source-tap map and values (from w, when w is non-null)
/// with the thrust::host policy. row_tap_scratch: [rows + 1], only when
/// !pat.single. Defined in toeplitz_build.cu.
template <class T, class I>
void build_host(const Pattern& pat, const CsrRef<T, I>& m, const T* w, I* row_tap_scratch);
/// The same code under thrust::cuda::par_nosync on `stream`, with temporary
/// storage stream-ordered on it. Asynchronous; all pointers device pointers.
template <class T, class I>
void build_device(cudaStream_t stream, const Pattern& pat, const CsrRef<T, I>& m, const T* w, I* row_tap_scratch);
/// values from new weights through the source-tap map (host policy).
template <class T, class I>
void refill_host(const CsrRef<T, I>& m, const T* w);
/// The same on the device, asynchronous on `stream`.
template <class T, class I>
void refill_device(cudaStream_t stream, const CsrRef<T, I>& m, const T* w);
/// out = in transposed (+ bias by input row / Q), per TransposeGeom, on `stream`.
/// Exported for convkit-spmm-probe, which times the library's own transposes.
template <class T>
CONVKIT_EXPORT void transpose_device(cudaStream_t stream, const T* in, T* out, std::int64_t rows,
                                     std::int64_t cols, const T* b, std::int64_t Q);
/// y[n, k, q] = b[k] (add: y[n, k, q] += b[k]) for the N·K·Q outputs (b
/// non-null), asynchronous on `stream`.
template <class T>
void broadcast_bias_device(cudaStream_t stream, T* y, const T* b, std::int64_t N, std::int64_t K, std::int64_t Q,
                           bool add = false);

}  // namespace convkit::detail::toeplitz
