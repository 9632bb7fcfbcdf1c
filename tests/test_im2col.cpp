// CPU tests of Algorithm::Im2colGemm's host-checkable logic: the im2col index
// mapping the kernel runs (host im2col over the same __host__ __device__
// functions) followed by a naive column-major GEMM that executes exactly the
// strided-batched calls run() issues, compared with the reference over the
// whole problem table; the workspace formulas and chunking rule; variant
// selection; and the argument checks that fire before any device work.
#include "harness.hpp"
#include "regressions.hpp"

#include "im2col.cuh"
#include "im2col_gemm.hpp"

#include <cstdint>
#include <cstring>
#include <limits>

namespace convkit::test {
namespace {

using detail::Im2colGemmPlan;
using detail::Im2colLayout;
using detail::Im2colWorkspace;

// C = alpha·A·B + beta·C, column-major, for every call of the plan: what the
// cuBLAS strided-batched calls compute.
template <class T>
void naive_gemm(const Im2colGemmPlan& g, const T* A, const T* B, T* C, T beta) {
  for (const auto& c : g.calls)
    for (std::int64_t e = 0; e < c.batch; ++e) {
      const T* a = A + c.a_offset + e * c.stride_a;
      const T* b = B + c.b_offset + e * c.stride_b;
      T* out = C + c.c_offset + e * c.stride_c;
      for (std::int64_t j = 0; j < g.n; ++j)
        for (std::int64_t i = 0; i < g.m; ++i) {
          T acc = 0;
          for (std::int64_t l = 0; l < g.k; ++l) acc += a[i + l * g.lda] * b[l + j * g.ldb];
          out[i + j * g.ldc] = acc + beta * out[i + j * g.ldc];
        }
    }
}

// What run() does, on the host: the plain GEMM, or pack + lowering + GEMM in
// chunks of `chunk` images through a columns buffer exactly as large as the
// workspace formula allows.
template <class T>
HostTensor<T> host_im2col_gemm(const ConvProblem& p, const HostTensor<T>& x, const HostTensor<T>& w,
                               const HostTensor<T>* bias, std::int64_t chunk) {
  HostTensor<T> y(p.y_shape());
  const Im2colWorkspace ws = detail::im2col_workspace(p, dtype_v<T>);
  const Im2colLayout& L = ws.layout;
  if (p.N == 0) return y;
  if (ws.plain_gemm) {
    if (bias)
      for (std::int64_t i = 0; i < y.numel(); ++i) y[i] = (*bias)[(i / L.cols) % p.K];
    naive_gemm(detail::im2col_gemm_plan(p, L.data_rows, p.N), x.data(), w.data(), y.data(), bias ? T(1) : T(0));
    return y;
  }
  std::vector<T> packed;
  const T* B = w.data();
  if (bias) {
    packed.resize(static_cast<std::size_t>(p.K * L.rows));
    EXPECT_LE(packed.size() * sizeof(T), ws.packed);
    EXPECT_GT(packed.size() * sizeof(T) + detail::kIm2colAlign, ws.packed);
    for (std::int64_t k = 0; k < p.K; ++k)
      for (std::int64_t r = 0; r < L.rows; ++r)
        packed[k * L.rows + r] = detail::packed_weight(L, w.data(), bias->data(), k, r);
    B = packed.data();
  }
  std::vector<T> cols(static_cast<std::size_t>(chunk) * ws.per_image / sizeof(T));
  EXPECT_EQ(cols.size(), static_cast<std::size_t>(chunk * p.G * L.rows * L.cols));
  for (std::int64_t first = 0; first < p.N; first += chunk) {
    const std::int64_t count = std::min(chunk, p.N - first);
    std::fill(cols.begin(), cols.end(), std::numeric_limits<T>::quiet_NaN());
    detail::im2col_host(p, L, x.data(), cols.data(), first, count);
    naive_gemm(detail::im2col_gemm_plan(p, L.rows, count), cols.data(), B, y.data() + first * p.K * L.cols, T(0));
  }
  return y;
}

// One case, small integers, exact, in chunks of one image, three, and all;
// seeds seed + 1 .. seed + 3.
template <class T>
void check_case_exact(const ConvCase& c, std::uint64_t seed) {
  SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
  const ConvProblem p = c.spec.problem(c.x, c.w);
  const HostTensor<T> x = random_ints<T>(c.x, seed + 1), w = random_ints<T>(c.w, seed + 2);
  HostTensor<T> b = random_ints<T>(Shape{p.K}, seed + 3);
  const HostTensor<T>* bias = p.has_bias ? &b : nullptr;
  const Expected<T> e = expected_output<T>(c.spec, x, w, bias);
  for (std::int64_t chunk : {std::int64_t(1), std::int64_t(3), std::max<std::int64_t>(p.N, 1)}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    EXPECT_TRUE(compare(host_im2col_gemm(p, x, w, bias, chunk), e.y, nullptr, 0.0));
  }
}

template <class T>
void check_table_exact() {
  std::uint64_t seed = 1000;
  for (const ConvCase& c : problem_table()) check_case_exact<T>(c, seed += 3);
}

TEST(Im2colHost, ExactOverProblemTableF32) { check_table_exact<float>(); }
TEST(Im2colHost, ExactOverProblemTableF64) { check_table_exact<double>(); }

TEST(Im2colHost, ExactOnRegressionShapes) {
  std::uint64_t seed = 3000;
  for (const ConvCase& c : regression_cases(RegressionUse::Run)) {
    check_case_exact<float>(c, seed += 3);
    check_case_exact<double>(c, seed += 3);
  }
}

TEST(Im2colHost, RandomFloatsWithinToleranceF64) {
  std::uint64_t seed = 2000;
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const HostTensor<double> x = random_floats<double>(c.x, ++seed), w = random_floats<double>(c.w, ++seed);
    HostTensor<double> b = random_floats<double>(Shape{p.K}, ++seed);
    const HostTensor<double>* bias = p.has_bias ? &b : nullptr;
    const Expected<double> e = expected_output<double>(c.spec, x, w, bias);
    const double tol = tolerance<double>(p.Cg() * p.ker_spatial() + 1);
    EXPECT_TRUE(compare(host_im2col_gemm(p, x, w, bias, 2), e.y, &e.magnitude, tol));
  }
}

// Every row pairs with the stored weight tap it is multiplied by: the flip
// lives in the column order, and weight_offset (the reference's view of the
// flip) maps the row's spatial tap back to the row's tap.
TEST(Im2colHost, RowsPairWithStoredWeightTaps) {
  for (const ConvCase& c : problem_table()) {
    SCOPED_TRACE(c.name);
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const Im2colLayout L = detail::im2col_layout(p, true);
    EXPECT_EQ(L.rows, L.data_rows + 1);
    for (std::int64_t r = 0; r < L.data_rows; ++r) {
      const detail::Im2colRow row = detail::im2col_row(p, L, 0, p.G - 1, r);
      EXPECT_EQ(detail::weight_offset(p, row.i0, row.i1, row.i2), r % L.taps);
      EXPECT_EQ(row.channel_base, ((p.G - 1) * p.Cg() + r / L.taps) * p.in_spatial());
    }
    EXPECT_LT(detail::im2col_row(p, L, 0, 0, L.data_rows).channel_base, 0);  // the ones row
  }
}

TEST(Im2colHost, SplitOutputAgreesIn32And64Bits) {
  const ConvProblem p = ConvSpec::conv3d().problem({1, 1, 5, 7, 11}, {1, 1, 1, 1, 1});
  for (std::int64_t q = 0; q < p.out_spatial(); ++q) {
    std::int64_t a0, a1, a2;
    std::int32_t b0, b1, b2;
    detail::split_output<std::int64_t>(p, q, a0, a1, a2);
    detail::split_output<std::int32_t>(p, static_cast<std::int32_t>(q), b0, b1, b2);
    EXPECT_EQ((a0 * 7 + a1) * 11 + a2, q);
    EXPECT_EQ(a0, b0);
    EXPECT_EQ(a1, b1);
    EXPECT_EQ(a2, b2);
  }
}

// For a plain 1x1 problem the lowering reproduces x: the benchmark hooks rely
// on that to time the plain GEMM with gemm_only on x.
TEST(Im2colHost, PlainGemmColumnsAreX) {
  const ConvProblem p = ConvSpec::conv2d().groups(2).problem({3, 4, 5, 7}, {6, 2, 1, 1});
  ASSERT_TRUE(detail::im2col_is_plain_gemm(p));
  const HostTensor<float> x = random_ints<float>(p.x_shape(), 7);
  const Im2colLayout L = detail::im2col_layout(p, false);
  std::vector<float> cols(static_cast<std::size_t>(p.N * p.G * L.rows * L.cols));
  detail::im2col_host(p, L, x.data(), cols.data(), 0, p.N);
  EXPECT_EQ(std::memcmp(cols.data(), x.data(), cols.size() * sizeof(float)), 0);
}

// ---------------------------------------------------------------- workspace

std::size_t ws_bytes(const ConvSpec& s, const Shape& x, const Shape& w, DType t) {
  return workspace_bytes(s, x, w, t, Algorithm::Im2colGemm);
}

TEST(Im2colWorkspace, Formulas) {
  // rows = C/G·Πk (+1 with bias), per_image = G·rows·ΠO·sizeof(T),
  // packed = bias ? round_up(K·rows·sizeof(T), 256) : 0,
  // min = packed + per_image, full = packed + N·per_image.
  const auto s3 = ConvSpec::conv2d().padding(Padding::same());
  EXPECT_EQ(ws_bytes(s3, {1, 3, 13, 17}, {4, 3, 3, 3}, DType::F32), 27u * 221u * 4u);
  EXPECT_EQ(ws_bytes(s3, {1, 3, 13, 17}, {4, 3, 3, 3}, DType::F64), 27u * 221u * 8u);
  EXPECT_EQ(ws_bytes(s3, {5, 3, 13, 17}, {4, 3, 3, 3}, DType::F32), 5u * 27u * 221u * 4u);

  // With bias: rows 28, ΠO 8·8, packed 8·28·4 = 896 -> 1024.
  const auto sb = ConvSpec::conv2d().stride(2).padding(1).bias(true);
  const ConvProblem pb = sb.problem({4, 3, 15, 16}, {8, 3, 3, 3});
  const Im2colWorkspace wb = detail::im2col_workspace(pb, DType::F32);
  EXPECT_EQ(wb.per_image, 28u * 64u * 4u);
  EXPECT_EQ(wb.packed, 1024u);
  EXPECT_EQ(wb.min, 1024u + 7168u);
  EXPECT_EQ(wb.full, 1024u + 4u * 7168u);
  EXPECT_EQ(ws_bytes(sb, {4, 3, 15, 16}, {8, 3, 3, 3}, DType::F32), wb.full);

  // Groups: G·(C/G·Πk)·ΠO = 2·18·81 per image.
  EXPECT_EQ(ws_bytes(ConvSpec::conv2d().groups(2).padding(1), {2, 4, 9, 9}, {6, 2, 3, 3}, DType::F32),
                     2u * 2u * 18u * 81u * 4u);
  // 3-D, stride and dilation: ΠO = 4·8·5, rows = 2·(3·2·3).
  EXPECT_EQ(ws_bytes(ConvSpec::conv3d().stride({2, 1, 2}).dilation({1, 2, 1}).groups(2).padding(1),
                     {1, 4, 7, 8, 9}, {4, 2, 3, 2, 3}, DType::F64),
            2u * 36u * (4u * 8u * 5u) * 8u);

  // Plain 1x1 GEMM: no workspace, with or without bias; N = 0: none either.
  EXPECT_EQ(ws_bytes(ConvSpec::conv2d(), {2, 5, 7, 3}, {6, 5, 1, 1}, DType::F32), 0u);
  EXPECT_EQ(ws_bytes(ConvSpec::conv2d().bias(true), {2, 5, 7, 3}, {6, 5, 1, 1}, DType::F64), 0u);
  const ConvProblem p0 = ConvSpec::conv2d().padding(1).problem({0, 3, 8, 8}, {4, 3, 3, 3});
  EXPECT_EQ(detail::im2col_workspace(p0, DType::F32).min, 0u);
  EXPECT_EQ(detail::im2col_workspace(p0, DType::F32).full, 0u);
}

TEST(Im2colWorkspace, ChunkingStaysWithinTheBudget) {
  const ConvProblem p = ConvSpec::conv2d().padding(1).bias(true).problem({8, 3, 13, 11}, {7, 3, 3, 3});
  const Im2colWorkspace ws = detail::im2col_workspace(p, DType::F32);
  auto chunk = [&](std::size_t limit) { return detail::im2col_chunk_images(p, ws, limit); };
  EXPECT_EQ(chunk(0), 1);  // below min: conv() refuses first; the rule still says one image
  EXPECT_EQ(chunk(ws.min), 1);
  EXPECT_EQ(chunk(ws.min + ws.per_image - 1), 1);
  EXPECT_EQ(chunk(ws.packed + 3 * ws.per_image), 3);
  EXPECT_EQ(chunk(ws.full - 1), 7);
  EXPECT_EQ(chunk(ws.full), 8);
  EXPECT_EQ(chunk(std::numeric_limits<std::size_t>::max()), 8);
  for (std::size_t limit : {ws.min, ws.min + 5, ws.packed + 5 * ws.per_image + 17, ws.full})
    EXPECT_LE(ws.packed + std::size_t(chunk(limit)) * ws.per_image, std::max(ws.min, std::min(ws.full, limit)));
}

TEST(Im2colWorkspace, GemmPlanBatchesGroupsOrImages) {
  const ConvProblem p1 = ConvSpec::conv2d().padding(1).problem({8, 3, 13, 11}, {7, 3, 3, 3});
  EXPECT_EQ(detail::im2col_gemm_plan(p1, 27, 5).calls.size(), 1u);
  EXPECT_EQ(detail::im2col_gemm_plan(p1, 27, 5).calls[0].batch, 5);
  const ConvProblem pg = ConvSpec::conv2d().groups(4).padding(1).problem({8, 8, 6, 6}, {8, 2, 3, 3});
  const Im2colGemmPlan per_image = detail::im2col_gemm_plan(pg, 18, 2);
  ASSERT_EQ(per_image.calls.size(), 2u);
  EXPECT_EQ(per_image.calls[1].batch, 4);
  EXPECT_EQ(per_image.calls[1].c_offset, 1 * 8 * 36);
  const Im2colGemmPlan per_group = detail::im2col_gemm_plan(pg, 18, 8);
  ASSERT_EQ(per_group.calls.size(), 4u);
  EXPECT_EQ(per_group.calls[3].batch, 8);
  EXPECT_EQ(per_group.calls[3].stride_b, 0);
  EXPECT_EQ(per_group.calls[3].b_offset, 3 * 2 * 18);
}

// ---------------------------------------------------------------- variants and checks

TEST(Im2colSupport, VariantSelection) {
  auto variant = [](const ConvSpec& s, Shape x, Shape w) {
    return supports(s, x, w, DType::F32, Algorithm::Im2colGemm).variant;
  };
  EXPECT_EQ(variant(ConvSpec::conv2d(), {2, 5, 7, 3}, {6, 5, 1, 1}), "im2col/gemm-1x1");
  EXPECT_EQ(variant(ConvSpec::conv2d().bias(true).groups(5), {2, 5, 7, 3}, {5, 1, 1, 1}), "im2col/gemm-1x1");
  EXPECT_EQ(variant(ConvSpec::conv1d(), {2, 5, 7}, {6, 5, 1}), "im2col/gemm-1x1");
  EXPECT_EQ(variant(ConvSpec::conv2d().stride(2), {2, 5, 7, 3}, {6, 5, 1, 1}), "im2col/im2col+gemm");
  EXPECT_EQ(variant(ConvSpec::conv2d().padding(1), {2, 5, 7, 3}, {6, 5, 1, 1}), "im2col/im2col+gemm");
  EXPECT_EQ(variant(ConvSpec::conv2d().dilation(2), {2, 5, 7, 3}, {6, 5, 1, 1}), "im2col/im2col+gemm");
  EXPECT_EQ(variant(ConvSpec::conv2d(), {2, 5, 7, 3}, {6, 5, 3, 1}), "im2col/im2col+gemm");
  for (const ConvCase& c : problem_table())
    for (DType t : {DType::F32, DType::F64}) {
      const Support s = supports(c.spec, c.x, c.w, t, Algorithm::Im2colGemm);
      EXPECT_TRUE(s.ok) << c.name << ": " << s.reason;
    }
}

// A limit below one image's columns is refused before any device work, with
// the bytes needed in the message; this needs no GPU since nothing is touched.
TEST(Im2colSupport, WorkspaceTooSmallNamesTheBytes) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape xs{2, 3, 8, 8}, ws{4, 3, 3, 3};
  const ConvProblem p = spec.problem(xs, ws);
  const std::size_t need = detail::im2col_workspace(p, DType::F32).min;
  Context ctx;
  ctx.set_workspace_limit(need - 1);
  // Distinct, non-overlapping device addresses that are never dereferenced.
  auto fake = [](std::uintptr_t a) { return reinterpret_cast<float*>(a); };
  auto x = TensorView<const float>::device(fake(0x10000000), xs);
  auto w = TensorView<const float>::device(fake(0x20000000), ws);
  auto y = TensorView<float>::device(fake(0x30000000), p.y_shape());
  try {
    conv(ctx, spec, x, w, y, Algorithm::Im2colGemm);
    FAIL() << "expected WorkspaceTooSmall";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::WorkspaceTooSmall);
    EXPECT_NE(std::string(e.what()).find(std::to_string(need)), std::string::npos) << e.what();
  }
}

TEST(Im2colHooks, ArgumentChecksAndColumnBytes) {
  const ConvProblem p = ConvSpec::conv2d().groups(2).padding(1).problem({3, 4, 9, 9}, {6, 2, 3, 3});
  EXPECT_EQ(detail::im2col_column_bytes_per_image(p, DType::F32), 2u * 18u * 81u * 4u);
  EXPECT_EQ(detail::im2col_column_bytes_per_image(p, DType::F64), 2u * 18u * 81u * 8u);
  Context ctx;
  EXPECT_NO_THROW(detail::im2col_only(ctx, p, DType::F32, nullptr, nullptr, 3, 0));
  auto status_of = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.status();
    }
    return Status::Success;
  };
  EXPECT_EQ(status_of([&] { detail::im2col_only(ctx, p, DType::F32, nullptr, nullptr, 2, 2); }),
            Status::InvalidArgument);
  EXPECT_EQ(status_of([&] { detail::gemm_only(ctx, p, DType::F32, nullptr, nullptr, nullptr, -1, 1); }),
            Status::InvalidArgument);
  const ConvProblem pb = ConvSpec::conv2d().bias(true).problem({1, 1, 4, 4}, {1, 1, 3, 3});
  EXPECT_EQ(status_of([&] { detail::im2col_only(ctx, pb, DType::F32, nullptr, nullptr, 0, 1); }),
            Status::InvalidArgument);
}

}  // namespace
}  // namespace convkit::test
