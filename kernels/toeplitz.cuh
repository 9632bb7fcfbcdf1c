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
// edges, Circular with a kernel wider than the input). The per-axis sets are
// small host-built tables (AxisTables); the functors combine them into CSR
// rows whose column indices come out sorted and unique by construction.
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
#include <vector>

namespace convkit::detail {
struct ContextState;
}

namespace convkit::detail::toeplitz {

/// Read-only view of the per-axis tables (host or device pointers) plus the
/// sizes the functors need. Trivially copyable: functors hold it by value.
/// For axis a and output index o, entries e in [u_ptr[a][o], u_ptr[a][o+1])
/// are the distinct input indices u[a][e] (ascending); entry e sums the kernel
/// taps t[a][t_ptr[a][e] .. t_ptr[a][e+1]) (flip already applied).
struct Pattern {
  const std::int64_t* u_ptr[3];
  const std::int64_t* u[3];
  const std::int64_t* t_ptr[3];
  const std::int64_t* t[3];
  std::int64_t out1, out2, Q;  ///< output sizes of slots 1, 2 and ΠO
  std::int64_t in1, in2, P;    ///< input sizes of slots 1, 2 and ΠD
  std::int64_t ker1, ker2, R;  ///< kernel sizes of slots 1, 2 and Πk
  std::int64_t Cg, Kg;
  bool single;                 ///< every nonzero reads exactly one tap
};

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
  const std::int64_t o[3] = {c.o0, c.o1, c.o2};
  std::int64_t n = p.Cg;
  for (int a = 0; a < 3; ++a) n *= p.u_ptr[a][o[a] + 1] - p.u_ptr[a][o[a]];
  return n;
}

/// Source-tap entries of row r: Cg · Π (taps read on each axis).
CONVKIT_HD std::int64_t row_taps(const Pattern& p, std::int64_t r) {
  const RowCoord c = row_coord(p, r);
  const std::int64_t o[3] = {c.o0, c.o1, c.o2};
  std::int64_t n = p.Cg;
  for (int a = 0; a < 3; ++a) n *= p.t_ptr[a][p.u_ptr[a][o[a] + 1]] - p.t_ptr[a][p.u_ptr[a][o[a]]];
  return n;
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
    const std::int64_t e0b = p.u_ptr[0][rc.o0], e0e = p.u_ptr[0][rc.o0 + 1];
    const std::int64_t e1b = p.u_ptr[1][rc.o1], e1e = p.u_ptr[1][rc.o1 + 1];
    const std::int64_t e2b = p.u_ptr[2][rc.o2], e2e = p.u_ptr[2][rc.o2 + 1];
    for (std::int64_t c = 0; c < p.Cg; ++c) {
      const std::int64_t col_base = (g * p.Cg + c) * p.P;
      const std::int64_t w_base = (rc.k * p.Cg + c) * p.R;
      for (std::int64_t e0 = e0b; e0 < e0e; ++e0)
        for (std::int64_t e1 = e1b; e1 < e1e; ++e1)
          for (std::int64_t e2 = e2b; e2 < e2e; ++e2) {
            cols[j] = static_cast<I>(col_base + (p.u[0][e0] * p.in1 + p.u[1][e1]) * p.in2 + p.u[2][e2]);
            if (p.single) {
              taps[j] = static_cast<I>(w_base + (p.t[0][p.t_ptr[0][e0]] * p.ker1 + p.t[1][p.t_ptr[1][e1]]) * p.ker2 +
                                       p.t[2][p.t_ptr[2][e2]]);
            } else {
              tap_ptr[j] = static_cast<I>(t);
              for (std::int64_t a = p.t_ptr[0][e0]; a < p.t_ptr[0][e0 + 1]; ++a)
                for (std::int64_t b = p.t_ptr[1][e1]; b < p.t_ptr[1][e1 + 1]; ++b)
                  for (std::int64_t d = p.t_ptr[2][e2]; d < p.t_ptr[2][e2 + 1]; ++d)
                    taps[t++] = static_cast<I>(w_base + (p.t[0][a] * p.ker1 + p.t[1][b]) * p.ker2 + p.t[2][d]);
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

  CONVKIT_HD void operator()(I j) const {
    if (!tap_ptr) {
      values[j] = w[taps[j]];
      return;
    }
    T acc = T(0);
    for (I t = tap_ptr[j]; t < tap_ptr[j + 1]; ++t) acc += w[taps[t]];
    values[j] = acc;
  }
};

// ------------------------------------------------------------ host side
// (axis_sums, make_axis_tables and make_pattern are exported so the CPU tests
// can check the tables the functors read.)

/// Distinct-index and tap totals of one axis: S = Σ_o |Ua(o)|, T = Σ_o taps(o).
/// Saturates at INT64_MAX instead of overflowing.
struct AxisSums {
  std::int64_t entries = 0;
  std::int64_t taps = 0;
};

/// Closed-form sums for axis `slot` (0..2) of p without building any table:
/// interior outputs (all taps inside the input) contribute k each; only the
/// border outputs are enumerated. Cost O(border outputs · k log k).
CONVKIT_EXPORT AxisSums axis_sums(const ConvProblem& p, int slot);

/// The per-axis tables of p, all three axes packed into one int64 array
/// (`blob`) so a single copy moves them to the device.
struct AxisTables {
  std::vector<std::int64_t> blob;
  std::int64_t off_u_ptr[3] = {0, 0, 0}, off_u[3] = {0, 0, 0}, off_t_ptr[3] = {0, 0, 0}, off_t[3] = {0, 0, 0};
  bool single = true;
};

/// Builds the tables (host memory, O(Σ_a O_a·k_a)).
CONVKIT_EXPORT AxisTables make_axis_tables(const ConvProblem& p);

/// The functors' view of p over tables whose blob lives at `base` (the host
/// blob's data() or a device copy of it).
CONVKIT_EXPORT Pattern make_pattern(const ConvProblem& p, const AxisTables& t, const std::int64_t* base);

/// Info of p's matrix (closed form, src/toeplitz.cpp). Throws NotSupported
/// when `width` is I32 and the matrix does not fit 32-bit indices.
::convkit::toeplitz::Info make_info(const ConvProblem& p, DType t, ::convkit::toeplitz::IndexWidth width);

/// The budget rule: throws NotSupported, naming the bytes the matrix (and
/// `scratch` bytes of build scratch) would need and the budget, when they
/// exceed `budget`. `budget_what` says where the budget comes from.
void check_budget(const ::convkit::toeplitz::Info& info, std::size_t scratch, std::size_t budget,
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
/// y[n, k, q] = b[k] for the N·K·Q outputs (b non-null), asynchronous on `stream`.
template <class T>
void broadcast_bias_device(cudaStream_t stream, T* y, const T* b, std::int64_t N, std::int64_t K, std::int64_t Q);

}  // namespace convkit::detail::toeplitz
