// Algorithm::Fft on the CPU: the index maps of kernels/fft.cuh, the block
// choice and workspace of src/fft.hpp, and the whole forward pipeline
// (fft_forward) run with host stand-ins for the kernels, for cuFFT (a small
// DFT written here, in double) and for cuBLAS (a replay of each strided-
// batched GEMM's descriptor with its operands' bounds checked), against the
// reference over the problem table.
#include "fft.hpp"
#include "harness.hpp"

#include <convkit/convkit.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <vector>

namespace convkit {
namespace {

using detail::FftChoice;
using detail::FftComplex;
using detail::FftGemm;
using detail::FftGeometry;
using detail::FftTransform;
using test::ConvCase;
using test::problem_table;
using test::random_floats;
using test::random_ints;

// ---------------------------------------------------------------- host stand-ins

// The DFT of one transform, in double, as cuFFT defines it: forward
// X[f] = Σ_j x[j]·e^{-2πi Σ_a j_a·f_a/n_a} over the half spectrum (last axis
// f < n/2 + 1); inverse unnormalised over the whole spectrum rebuilt by
// Hermitian symmetry, real part.
struct HostDft {
  // e^{-2πi·r/n}, r reduced mod n.
  static std::complex<double> twiddle(std::int64_t r, std::int64_t n) {
    const double pi = 3.14159265358979323846;
    const double a = -2.0 * pi * double(r % n) / double(n);
    return {std::cos(a), std::sin(a)};
  }

  template <class T>
  static void run(const FftTransform& t, T* real, FftComplex<T>* spec, std::int64_t spec_elems,
                  std::int64_t real_elems) {
    const std::int64_t n0 = t.rank == 3 ? t.n[0] : 1;
    const std::int64_t n1 = t.rank >= 2 ? t.n[t.rank - 2] : 1;
    const std::int64_t n2 = t.n[t.rank - 1];
    const std::int64_t h2 = n2 / 2 + 1;
    ASSERT_EQ(n0 * n1 * n2, t.points);
    ASSERT_EQ(n0 * n1 * h2, t.freqs);
    ASSERT_LE(t.batch * t.points, real_elems) << "real operand out of bounds";
    ASSERT_LE(t.batch * t.freqs, spec_elems) << "spectrum operand out of bounds";
    const auto sidx = [&](std::int64_t b, std::int64_t f) {
      return detail::fft_spectrum_index(t.freq_major, t.batch, t.freqs, b, f);
    };
    // Row-column: a naive 1-D DFT along each axis of the full complex grid.
    const std::int64_t n[3] = {n0, n1, n2};
    const auto dft_axes = [&](std::vector<std::complex<double>>& a, bool inverse) {
      std::vector<std::complex<double>> line;
      for (int ax = 0; ax < 3; ++ax) {
        const std::int64_t len = n[ax];
        if (len == 1) continue;
        const std::int64_t stride = ax == 0 ? n1 * n2 : ax == 1 ? n2 : 1;
        line.assign(std::size_t(len), 0);
        for (std::int64_t base = 0; base < n0 * n1 * n2; ++base) {
          // base must be the first element of a line along ax
          if ((base / stride) % len != 0) continue;
          for (std::int64_t f = 0; f < len; ++f) {
            std::complex<double> s = 0;
            for (std::int64_t j = 0; j < len; ++j) {
              const std::complex<double> w = twiddle(j * f, len);
              s += a[std::size_t(base + j * stride)] * (inverse ? std::conj(w) : w);
            }
            line[std::size_t(f)] = s;
          }
          for (std::int64_t f = 0; f < len; ++f) a[std::size_t(base + f * stride)] = line[std::size_t(f)];
        }
      }
    };
    std::vector<std::complex<double>> a(std::size_t(n0 * n1 * n2));
    for (std::int64_t b = 0; b < t.batch; ++b) {
      if (!t.inverse) {
        for (std::int64_t j = 0; j < t.points; ++j) a[std::size_t(j)] = double(real[b * t.points + j]);
        dft_axes(a, false);
        for (std::int64_t f0 = 0; f0 < n0; ++f0)
          for (std::int64_t f1 = 0; f1 < n1; ++f1)
            for (std::int64_t f2 = 0; f2 < h2; ++f2) {
              const std::complex<double> v = a[std::size_t((f0 * n1 + f1) * n2 + f2)];
              spec[sidx(b, (f0 * n1 + f1) * h2 + f2)] = FftComplex<T>{T(v.real()), T(v.imag())};
            }
      } else {
        for (std::int64_t f0 = 0; f0 < n0; ++f0)
          for (std::int64_t f1 = 0; f1 < n1; ++f1)
            for (std::int64_t f2 = 0; f2 < n2; ++f2) {
              std::complex<double> X;
              if (f2 < h2) {
                const FftComplex<T> c = spec[sidx(b, (f0 * n1 + f1) * h2 + f2)];
                X = {double(c.re), double(c.im)};
              } else {  // Hermitian symmetry of a real signal's spectrum
                const std::int64_t g0 = (n0 - f0) % n0, g1 = (n1 - f1) % n1, g2 = n2 - f2;
                const FftComplex<T> c = spec[sidx(b, (g0 * n1 + g1) * h2 + g2)];
                X = {double(c.re), -double(c.im)};
              }
              a[std::size_t((f0 * n1 + f1) * n2 + f2)] = X;
            }
        dft_axes(a, true);
        for (std::int64_t j = 0; j < t.points; ++j) real[b * t.points + j] = T(a[std::size_t(j)].real());
      }
    }
  }
};

// The executor of fft_forward on the host. Buffers' sizes (elements) are
// given so every operand access is bounds-checked.
template <class T>
struct HostExec {
  std::int64_t real_elems = 0, xspec_elems = 0, yspec_elems = 0, wspec_elems = 0;
  std::int64_t x_elems = 0, y_elems = 0;
  int transforms = 0, gemms = 0;

  void kernels(const FftGeometry& g, const T* w, T* real) {
    const std::int64_t total = g.K * g.Cg * g.points;
    ASSERT_LE(total, real_elems);
    for (std::int64_t e = 0; e < total; ++e) real[e] = detail::fft_kernel_value(g, w, e);
  }
  void gather(const FftGeometry& g, const T* x, std::int64_t first, std::int64_t count, T* real) {
    const std::int64_t total = count * g.blocks * g.C * g.points;
    ASSERT_LE(total, real_elems);
    const std::int64_t plane = g.ax[0].D * g.ax[1].D * g.ax[2].D;
    ASSERT_LE((first + count) * g.C * plane, x_elems);
    for (std::int64_t e = 0; e < total; ++e) real[e] = detail::fft_gather_value(g, x, first, e);
  }
  void transform(const FftTransform& t, T* real, FftComplex<T>* spec) {
    ++transforms;
    const std::int64_t spec_elems = spec_cap(spec);
    HostDft::run(t, real, spec, spec_elems, real_elems);
  }
  void pointwise(const FftGeometry& g, std::int64_t batch, FftComplex<T>* xy, const FftComplex<T>* w) {
    ASSERT_LE(batch * g.freqs, xspec_elems);
    ASSERT_LE(g.K * g.freqs, wspec_elems);
    for (std::int64_t e = 0; e < batch * g.freqs; ++e) detail::fft_pointwise_element(g, xy, w, e);
  }
  // cuBLAS semantics, column-major: C[r + j·ldc] = Σ_l op(A)(r, l)·B[l + j·ldb],
  // op(A)(r, l) = A[l + r·lda] (transpose), conjugated when conj_a.
  void gemm(const FftGemm& q, const FftComplex<T>* A, const FftComplex<T>* B, FftComplex<T>* C) {
    ++gemms;
    for (std::int64_t i = 0; i < q.batch; ++i)
      for (std::int64_t j = 0; j < q.n; ++j)
        for (std::int64_t r = 0; r < q.m; ++r) {
          std::complex<double> s = 0;
          for (std::int64_t l = 0; l < q.k; ++l) {
            const std::int64_t ai = q.a_offset + i * q.stride_a + l + r * q.lda;
            const std::int64_t bi = q.b_offset + i * q.stride_b + l + j * q.ldb;
            ASSERT_LT(ai, wspec_elems);
            ASSERT_LT(bi, xspec_elems);
            std::complex<double> a{double(A[ai].re), double(A[ai].im)};
            if (q.conj_a) a = std::conj(a);
            s += a * std::complex<double>{double(B[bi].re), double(B[bi].im)};
          }
          const std::int64_t ci = q.c_offset + i * q.stride_c + r + j * q.ldc;
          ASSERT_LT(ci, yspec_elems);
          C[ci] = FftComplex<T>{T(s.real()), T(s.imag())};
        }
  }
  void extract(const FftGeometry& g, const T* real, const T* bias, T scale, std::int64_t count, T* y) {
    const std::int64_t total = count * g.K * g.out_spatial;
    for (std::int64_t e = 0; e < total; ++e) {
      ASSERT_LT(detail::fft_result_index(g, e, nullptr), real_elems);
      y[e] = detail::fft_extract_value(g, real, bias, scale, e);
    }
  }

  // Which spectrum buffer a pointer is (the transform's bounds check).
  const FftComplex<T>* xspec_ptr = nullptr;
  const FftComplex<T>* yspec_ptr = nullptr;
  const FftComplex<T>* wspec_ptr = nullptr;
  std::int64_t spec_cap(const FftComplex<T>* p) const {
    if (p == xspec_ptr) return xspec_elems;
    if (p == yspec_ptr) return yspec_elems;
    if (p == wspec_ptr) return wspec_elems;
    return 0;
  }
};

// Runs the whole Fft pipeline of problem p (configuration ch) on the host:
// the buffers are sized by the closed-form workspace, then y is written.
template <class T>
HostTensor<T> run_host_fft(const ConvProblem& p, const FftChoice& ch, const HostTensor<T>& x, const HostTensor<T>& w,
                           const HostTensor<T>* bias, int* gemms = nullptr) {
  const FftGeometry& g = ch.geo;
  const detail::FftWorkspace ws = ch.ws;
  const std::size_t e = sizeof(T), c = 2 * sizeof(T);
  std::vector<T> real(ws.real / e + 1);
  std::vector<FftComplex<T>> xspec(ws.xspec / c + 1), yspec(ws.yspec / c + 1), wspec(ws.wspec / c + 1);
  HostExec<T> ex;
  ex.real_elems = std::int64_t(ws.real / e);
  ex.xspec_elems = std::int64_t(ws.xspec / c);
  ex.yspec_elems = std::int64_t(ws.yspec / c);
  ex.wspec_elems = std::int64_t(ws.wspec / c);
  ex.xspec_ptr = xspec.data();
  ex.yspec_ptr = yspec.data();
  ex.wspec_ptr = wspec.data();
  ex.x_elems = x.numel();
  HostTensor<T> y(p.y_shape());
  for (std::int64_t i = 0; i < y.numel(); ++i) y.data()[i] = std::numeric_limits<T>::quiet_NaN();
  detail::fft_weight_spectra(ex, g, w.data(), real.data(), wspec.data());
  detail::FftBuffers<T> buf{real.data(), xspec.data(), g.pointwise ? nullptr : yspec.data()};
  detail::fft_forward(ex, ch, p.N, x.data(), wspec.data(), bias ? bias->data() : nullptr, y.data(), buf);
  if (gemms) *gemms = ex.gemms;
  return y;
}

// The configuration with transform lengths n (bypassing the block choice).
FftChoice forced(const ConvProblem& p, std::int64_t n0, std::int64_t n1, std::int64_t n2, std::int64_t chunk,
                 DType t, const bool* native = nullptr) {
  FftChoice ch;
  const std::int64_t n[3] = {n0, n1, n2};
  ch.geo = detail::fft_geometry(p, n, native);
  ch.chunk = chunk;
  ch.ws = detail::fft_workspace(ch.geo, chunk, true, t);
  ch.ok = true;
  return ch;
}

// Small-integer data: the DFT in double and the rounding of T leave the
// result within far less than 0.5 of the exact integer answer, so rounding
// recovers it (the "must round to the exact answer").
template <class T>
::testing::AssertionResult rounds_to_exact(const HostTensor<T>& got, const HostTensor<T>& want) {
  std::int64_t bad = 0, first = -1;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double g = double(got.data()[i]);
    if (!std::isfinite(g) || std::nearbyint(g) != double(want.data()[i])) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.numel() << " outputs do not round to the reference; first at "
                                       << first << ": got " << double(got.data()[first]) << ", want "
                                       << double(want.data()[first]);
}

// Whether a case is small enough for the O(P·F) host DFT.
bool small_enough(const FftChoice& ch, const ConvProblem& p) {
  const double lines = double(ch.geo.ax[0].n + ch.geo.ax[1].n + ch.geo.ax[2].n);
  const double work = double(ch.geo.points) * lines *
                      (double(std::max<std::int64_t>(p.N, 1)) * ch.geo.blocks * (p.C + p.K) + p.K * p.Cg());
  return work < 2e8;
}

// ---------------------------------------------------------------- the tests

TEST(FftLengths, NextFastLenIsTheSmallest7SmoothNumberAtLeastN) {
  for (std::int64_t n = 1; n <= 5000; ++n) {
    std::int64_t want = n;
    while (!detail::fft_is_fast_len(want)) ++want;
    ASSERT_EQ(detail::fft_next_fast_len(n), want) << n;
  }
  EXPECT_TRUE(detail::fft_is_fast_len(detail::fft_next_fast_len((std::int64_t(1) << 24) + 4095)));
  EXPECT_EQ(detail::fft_next_fast_len(detail::kFftMaxLength + 1), -1);
}

TEST(FftIndexMaps, BlockSourceIsTheFoldedPaddedCopy) {
  // Every point of every block reads the padded copy's element at its
  // position, folded by the boundary like every other path, and zero past it.
  for (Boundary b : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Symmetric,
                     Boundary::Replicate}) {
    const ConvProblem p = ConvSpec::conv1d().boundary(b).padding(Padding::per_dim({{4, 3}})).problem({1, 1, 7}, {1, 1, 4});
    for (std::int64_t n : {4, 5, 8, 16}) {
      const std::int64_t nn[3] = {1, 1, n};
      const FftGeometry g = detail::fft_geometry(p, nn);
      ASSERT_GE(g.ax[2].bz, 1);
      for (std::int64_t blk = 0; blk < g.blocks; ++blk)
        for (std::int64_t j = 0; j < n; ++j) {
          const std::int64_t pos = blk * g.ax[2].bz + j;
          const std::int64_t want = pos >= g.ax[2].E ? -1 : detail::fold_index(pos - 4, 7, b);
          ASSERT_EQ(detail::fft_block_source(g, blk, j), want) << boundary_name(b) << " n " << n << " blk " << blk;
        }
      // The blocks cover every full-resolution output once.
      EXPECT_GE(g.blocks * g.ax[2].bz, g.ax[2].Z);
      EXPECT_LT((g.blocks - 1) * g.ax[2].bz, g.ax[2].Z);
    }
  }
}

TEST(FftIndexMaps, KernelIsUpsampledByTheDilationNeverFlipped) {
  const ConvProblem p = ConvSpec::conv2d().dilation({2, 3}).mode(Mode::Convolution).problem({1, 2, 20, 20}, {3, 2, 3, 2});
  const std::int64_t nn[3] = {1, 8, 8};
  const FftGeometry g = detail::fft_geometry(p, nn);
  const HostTensor<double> w = random_ints<double>(p.w_shape(), 3);
  std::int64_t nonzero = 0;
  for (std::int64_t e = 0; e < g.K * g.Cg * g.points; ++e) {
    const double v = detail::fft_kernel_value(g, w.data(), e);
    const std::int64_t b = e / g.points, j = e % g.points, j1 = j / 8, j2 = j % 8;
    if (j1 % 2 == 0 && j1 / 2 < 3 && j2 % 3 == 0 && j2 / 3 < 2) {
      ++nonzero;
      EXPECT_EQ(v, w.data()[b * 6 + (j1 / 2) * 2 + j2 / 3]);
    } else {
      EXPECT_EQ(v, 0.0);
    }
  }
  EXPECT_EQ(nonzero, g.K * g.Cg * 6);
}

TEST(FftIndexMaps, ExtractionReadsEachOutputsBlockAndStridedPosition) {
  const ConvProblem p = ConvSpec::conv1d().stride(3).padding(2).problem({2, 1, 40}, {2, 1, 5});
  const std::int64_t nn[3] = {1, 1, 8};  // bz = 4: many blocks
  const FftGeometry g = detail::fft_geometry(p, nn);
  for (std::int64_t e = 0; e < p.N * p.K * p.out[2]; ++e) {
    const std::int64_t o = e % p.out[2], k = (e / p.out[2]) % p.K, img = e / (p.out[2] * p.K);
    std::int64_t kk = -1;
    const std::int64_t idx = detail::fft_result_index(g, e, &kk);
    const std::int64_t t = o * 3;
    EXPECT_EQ(kk, k);
    EXPECT_EQ(idx, ((img * g.blocks + t / 4) * p.K + k) * 8 + t % 4);
  }
}

TEST(FftChoice, RespectsTheLimitAndTheChunkFits) {
  const ConvProblem p = ConvSpec::conv1d().padding(Padding::same()).problem({4, 2, 5000}, {3, 2, 301});
  const FftChoice free = detail::fft_choose(p, DType::F32, std::numeric_limits<std::size_t>::max(), true);
  ASSERT_TRUE(free.ok) << free.reason;
  EXPECT_EQ(free.chunk, 4);
  EXPECT_EQ(free.ws.total, free.full_bytes);
  EXPECT_LE(free.min_bytes, free.ws.total);
  // A limit the unlimited choice fits changes nothing (run() stays within
  // workspace_bytes()).
  const FftChoice roomy = detail::fft_choose(p, DType::F32, free.full_bytes, true);
  EXPECT_EQ(roomy.geo.points, free.geo.points);
  EXPECT_EQ(roomy.ws.total, free.ws.total);
  // At the least workspace the path runs one image per pass.
  const FftChoice tight = detail::fft_choose(p, DType::F32, free.min_bytes, true);
  ASSERT_TRUE(tight.ok) << tight.reason;
  EXPECT_LE(tight.ws.total, free.min_bytes);
  EXPECT_EQ(tight.chunk, 1);
  // Below it: refused, saying how much it needs.
  const FftChoice none = detail::fft_choose(p, DType::F32, free.min_bytes - 1, true);
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.min_bytes, free.min_bytes);
  // Every transform length is fast and covers the kernel span.
  for (const FftChoice* c : {&free, &tight}) {
    EXPECT_TRUE(detail::fft_is_fast_len(c->geo.ax[2].n));
    EXPECT_GE(c->geo.ax[2].n, c->geo.ax[2].L);
  }
}

TEST(FftChoice, LongSignalsUseOverlapSaveAndShortOnesTheWholeSignal) {
  // 2^24 samples, 4096 taps: blocks far smaller than the signal.
  const ConvProblem big = ConvSpec::conv1d().problem({1, 1, std::int64_t(1) << 24}, {1, 1, 4096});
  const FftChoice b = detail::fft_choose(big, DType::F32, std::numeric_limits<std::size_t>::max(), true);
  ASSERT_TRUE(b.ok) << b.reason;
  EXPECT_TRUE(b.overlap_save()) << b.geo.ax[2].n;
  EXPECT_GT(b.geo.ax[2].n, 2 * 4096);
  EXPECT_EQ(b.variant(), "fft/overlap-save+pointwise");
  // A short signal with a kernel of comparable length: one block.
  const ConvProblem small = ConvSpec::conv1d().problem({1, 1, 1000}, {1, 1, 700});
  const FftChoice s = detail::fft_choose(small, DType::F32, std::numeric_limits<std::size_t>::max(), true);
  ASSERT_TRUE(s.ok);
  EXPECT_FALSE(s.overlap_save());
  EXPECT_EQ(s.geo.blocks, 1);
  // Channels: the GEMM path.
  const ConvProblem cnn = ConvSpec::conv2d().padding(3).problem({8, 16, 56, 56}, {32, 16, 7, 7});
  const FftChoice c = detail::fft_choose(cnn, DType::F32, std::numeric_limits<std::size_t>::max(), true);
  ASSERT_TRUE(c.ok);
  EXPECT_FALSE(c.geo.pointwise);
  EXPECT_NE(c.variant().find("+gemm"), std::string::npos);
}

TEST(FftChoice, WorkspaceIsTheClosedFormOfTheBuffers) {
  const ConvProblem p = ConvSpec::conv2d().groups(2).padding(1).problem({3, 4, 9, 10}, {6, 2, 3, 3});
  const FftChoice ch = forced(p, 1, 16, 12, 2, DType::F64);
  const FftGeometry& g = ch.geo;
  EXPECT_EQ(g.points, 16 * 12);
  EXPECT_EQ(g.freqs, 16 * 7);
  const std::int64_t M = 2 * g.blocks;
  const auto round = [](std::size_t b) { return (b + 255) / 256 * 256; };
  EXPECT_EQ(ch.ws.real, round(std::size_t(g.points) * std::max<std::int64_t>(M * 6, 6 * 2) * 8));
  EXPECT_EQ(ch.ws.xspec, round(std::size_t(g.freqs) * M * 4 * 16));
  EXPECT_EQ(ch.ws.yspec, round(std::size_t(g.freqs) * M * 6 * 16));
  EXPECT_EQ(ch.ws.wspec, round(std::size_t(g.freqs) * 6 * 2 * 16));
  EXPECT_EQ(ch.ws.work, round(std::size_t(g.freqs) * M * 6 * 16));  // the complex side of the largest batch
  EXPECT_EQ(ch.ws.total, ch.ws.real + ch.ws.xspec + ch.ws.yspec + ch.ws.wspec + ch.ws.work);
}

TEST(FftChoice, AbsurdSizesAreRefusedWithoutOverflow) {
  const ConvProblem p = ConvSpec::conv1d().problem({1, 1, std::int64_t(1) << 40}, {1, 1, (std::int64_t(1) << 31)});
  const FftChoice ch = detail::fft_choose(p, DType::F32, std::numeric_limits<std::size_t>::max(), true);
  EXPECT_FALSE(ch.ok);
  EXPECT_NE(ch.reason.find("exceed"), std::string::npos) << ch.reason;
}

template <class T>
void check_table_rounds_to_exact(bool tight) {
  std::uint64_t seed = tight ? 9100 : 9000;
  int checked = 0;
  for (const ConvCase& c : problem_table()) {
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const std::size_t limit = std::numeric_limits<std::size_t>::max();
    FftChoice ch = detail::fft_choose(p, dtype_v<T>, limit, true);
    ASSERT_TRUE(ch.ok) << c.name << ": " << ch.reason;
    if (tight) {  // the least workspace: overlap-save where it saves memory, few images per pass
      ch = detail::fft_choose(p, dtype_v<T>, ch.min_bytes, true);
      ASSERT_TRUE(ch.ok) << c.name;
      if (p.N > 0) EXPECT_LE(ch.ws.total, ch.min_bytes) << c.name;
    }
    if (!small_enough(ch, p)) continue;
    const HostTensor<T> x = random_ints<T>(c.x, seed += 3), w = random_ints<T>(c.w, seed + 1);
    const HostTensor<T> b = random_ints<T>(Shape{p.K}, seed + 2);
    const HostTensor<T>* bias = p.has_bias ? &b : nullptr;
    const test::Expected<T> e = test::expected_output<T>(c.spec, x, w, bias);
    const HostTensor<T> y = run_host_fft<T>(p, ch, x, w, bias);
    EXPECT_TRUE(rounds_to_exact(y, e.y)) << c.name << " (" << ch.variant() << ", n = " << ch.geo.ax[0].n << "x"
                                         << ch.geo.ax[1].n << "x" << ch.geo.ax[2].n << ")";
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

TEST(FftPipeline, ProblemTableRoundsToTheExactAnswerF32) { check_table_rounds_to_exact<float>(false); }
TEST(FftPipeline, ProblemTableRoundsToTheExactAnswerF64) { check_table_rounds_to_exact<double>(false); }
TEST(FftPipeline, ProblemTableAtTheLeastWorkspaceF32) { check_table_rounds_to_exact<float>(true); }

// Forced block sizes, down to one output per block (n = L), each boundary,
// both modes, stride and dilation, groups: the overlap-save tiling and the
// extraction offsets in every corner.
TEST(FftPipeline, ForcedBlockSizesRoundToTheExactAnswer) {
  std::uint64_t seed = 77;
  for (Boundary bd : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Symmetric,
                      Boundary::Replicate})
    for (Mode m : {Mode::CrossCorrelation, Mode::Convolution})
      for (std::int64_t s : {1, 2}) {
        const ConvSpec spec = ConvSpec::conv2d().boundary(bd).mode(m).stride(s).dilation({1, 2}).padding(
            Padding::per_dim({{2, 1}, {3, 2}}));
        const ConvProblem p = spec.problem({2, 2, 9, 11}, {2, 2, 3, 3});
        const std::int64_t L1 = 3, L2 = 5;
        for (std::int64_t n1 : {L1, L1 + 1, std::int64_t(8)})
          for (std::int64_t n2 : {L2, std::int64_t(7), std::int64_t(16)}) {
            const FftChoice ch = forced(p, 1, n1, n2, 1, DType::F64);
            const HostTensor<double> x = random_ints<double>(p.x_shape(), seed += 2), w = random_ints<double>(p.w_shape(), seed + 1);
            const test::Expected<double> e = test::expected_output<double>(spec, x, w, nullptr);
            EXPECT_TRUE(rounds_to_exact(run_host_fft<double>(p, ch, x, w, nullptr), e.y))
                << boundary_name(bd) << " " << mode_name(m) << " s " << s << " n " << n1 << "x" << n2;
          }
      }
}

// Circular natively: one transform of x itself per axis (n = D), the
// transform's wrap-around being the boundary; pads up to D, both modes,
// stride, dilation, and an axis mixing native and padded handling.
TEST(FftPipeline, NativeCircularRoundsToTheExactAnswer) {
  std::uint64_t seed = 300;
  for (Mode m : {Mode::CrossCorrelation, Mode::Convolution})
    for (std::int64_t s : {1, 3})
      for (const auto& pad : {std::pair<std::int64_t, std::int64_t>{2, 2}, {0, 3}, {12, 12}, {5, 0}}) {
        const ConvSpec spec = ConvSpec::conv2d().boundary(Boundary::Circular).mode(m).stride(s).dilation({1, 2}).padding(
            Padding::per_dim({{1, 1}, pad}));
        const ConvProblem p = spec.problem({2, 3, 9, 12}, {2, 3, 3, 4});
        const HostTensor<double> x = random_ints<double>(p.x_shape(), seed += 2), w = random_ints<double>(p.w_shape(), seed + 1);
        const test::Expected<double> e = test::expected_output<double>(spec, x, w, nullptr);
        const bool native[3] = {false, false, true};  // rows padded, columns native
        const FftChoice ch = forced(p, 1, 16, 12, 2, DType::F64, native);
        ASSERT_TRUE(ch.geo.ax[2].native);
        EXPECT_EQ(ch.geo.ax[2].nb, 1);
        EXPECT_TRUE(rounds_to_exact(run_host_fft<double>(p, ch, x, w, nullptr), e.y))
            << mode_name(m) << " s " << s << " pad " << pad.first << "," << pad.second;
        const bool both[3] = {false, true, true};
        EXPECT_TRUE(rounds_to_exact(run_host_fft<double>(p, forced(p, 1, 9, 12, 1, DType::F64, both), x, w, nullptr), e.y))
            << "both axes native, " << mode_name(m) << " s " << s;
      }
}

TEST(FftChoice, CircularIsNativeWhereThePeriodIsAFastLength) {
  const ConvSpec spec = ConvSpec::conv2d().boundary(Boundary::Circular).padding(Padding::same());
  const FftChoice fast = detail::fft_choose(spec.problem({1, 1, 64, 60}, {1, 1, 9, 9}), DType::F32,
                                            std::numeric_limits<std::size_t>::max(), true);
  ASSERT_TRUE(fast.ok);
  EXPECT_TRUE(fast.geo.ax[1].native && fast.geo.ax[2].native);
  EXPECT_EQ(fast.geo.points, 64 * 60);
  EXPECT_EQ(fast.variant(), "fft/whole-circular+pointwise");
  // 61 is prime: the period is not a fast length, so the folded padded copy.
  const FftChoice prime = detail::fft_choose(spec.problem({1, 1, 64, 61}, {1, 1, 9, 9}), DType::F32,
                                             std::numeric_limits<std::size_t>::max(), true);
  ASSERT_TRUE(prime.ok);
  EXPECT_FALSE(prime.geo.ax[2].native);
  EXPECT_TRUE(detail::fft_is_fast_len(prime.geo.ax[2].n));
  // A kernel longer than the period cannot be native.
  const ConvProblem wide = ConvSpec::conv1d().boundary(Boundary::Circular).padding(Padding::per_dim({{8, 8}})).problem(
      {1, 1, 8}, {1, 1, 9});
  for (const auto& c : detail::fft_choice::candidates(wide, 2, true)) EXPECT_FALSE(c.native);
}

TEST(FftPipeline, GroupsRunOneGemmPerGroupAndDepthwiseNone) {
  const ConvProblem pg = ConvSpec::conv1d().groups(2).padding(2).problem({2, 4, 30}, {6, 2, 5});
  const HostTensor<float> x = random_ints<float>(pg.x_shape(), 5), w = random_ints<float>(pg.w_shape(), 6);
  int gemms = 0;
  const FftChoice ch = forced(pg, 1, 1, 16, 2, DType::F32);
  const HostTensor<float> y = run_host_fft<float>(pg, ch, x, w, nullptr, &gemms);
  EXPECT_EQ(gemms, 2);
  EXPECT_TRUE(rounds_to_exact(y, test::expected_output<float>(ConvSpec::conv1d().groups(2).padding(2), x, w, nullptr).y));
  const ConvSpec dw = ConvSpec::conv1d().groups(4).padding(2);
  const ConvProblem pd = dw.problem({2, 4, 30}, {4, 1, 5});
  const HostTensor<float> wd = random_ints<float>(pd.w_shape(), 7);
  const FftChoice cd = forced(pd, 1, 1, 16, 2, DType::F32);
  ASSERT_TRUE(cd.geo.pointwise);
  const HostTensor<float> yd = run_host_fft<float>(pd, cd, x, wd, nullptr, &gemms);
  EXPECT_EQ(gemms, 0);
  EXPECT_TRUE(rounds_to_exact(yd, test::expected_output<float>(dw, x, wd, nullptr).y));
}

TEST(FftPipeline, RandomRealDataIsWithinFloatRounding) {
  // Uniform reals in double: the host pipeline (a double DFT) agrees with the
  // reference to ~1e-12 of the terms' size; f32 to ~1e-5.
  const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).bias(true).boundary(Boundary::Reflect);
  const ConvProblem p = spec.problem({2, 3, 12, 13}, {4, 3, 5, 4});
  const HostTensor<double> x = random_floats<double>(p.x_shape(), 1), w = random_floats<double>(p.w_shape(), 2),
                           b = random_floats<double>(Shape{4}, 3);
  const FftChoice ch = detail::fft_choose(p, DType::F64, std::numeric_limits<std::size_t>::max(), true);
  const HostTensor<double> y = run_host_fft<double>(p, ch, x, w, &b);
  const test::Expected<double> e = test::expected_output<double>(spec, x, w, &b);
  double worst = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i)
    worst = std::max(worst, std::abs(y.data()[i] - e.y.data()[i]) / (e.magnitude.data()[i] + 1e-300));
  EXPECT_LT(worst, 1e-12);
}

}  // namespace
}  // namespace convkit
