// CPU tests of Algorithm::Direct's host-side logic (kernels/direct.cuh):
// boundary folding for tile loads, tile geometry and shared-memory layout,
// bank-conflict freedom of the register-blocked layouts, variant selection as
// reported by supports(), and -- the main check -- every kernel variant's
// block program run on the CPU thread by thread, phase by phase (as the GPU
// runs it between barriers), compared with the reference over the problem
// table, the regression file's runnable shapes and shapes that route to each
// fast variant.
#include "direct.hpp"
#include "harness.hpp"
#include "regressions.hpp"

#include <cmath>
#include <limits>
#include <set>
#include <vector>

namespace convkit::test {
namespace {

using detail::DirectVariant;
using detail::kDirectVariants;
using namespace detail::direct;
using detail::pow2_between;

// Runs variant v's block programs on the CPU. Shared memory is poisoned with
// NaN before every task (a read of anything not loaded shows up in the
// result) and framed by NaN guards that must stay untouched.
template <class T>
HostTensor<T> emulate(DirectVariant v, const ConvProblem& p, const HostTensor<T>& x, const HostTensor<T>& w,
                      const HostTensor<T>* b) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const DirectGeom g = detail::direct::direct_geometry(v, p, sizeof(T));
  HostTensor<T> y(p.y_shape());
  std::fill(y.vector().begin(), y.vector().end(), nan);
  const T* bp = b ? b->data() : nullptr;
  if (v == DirectVariant::Generic) {
    for (i64 i = 0; i < g.tasks; ++i) y[i] = generic_output(p, x.data(), w.data(), bp, i);
    return y;
  }
  constexpr i64 kGuard = 64;
  std::vector<T> buf(static_cast<std::size_t>(g.smem_elems + 2 * kGuard), nan);
  T* sm = buf.data() + kGuard;
  struct Acc {
    T v[kChannelBlock];
  };
  std::vector<Acc> acc(static_cast<std::size_t>(g.threads));
  auto each = [&](auto&& f) {
    for (int tid = 0; tid < g.threads; ++tid) f(tid);
  };
  for (i64 task = 0; task < g.tasks; ++task) {
    std::fill(sm, sm + g.smem_elems, nan);
    switch (v) {
      case DirectVariant::Long1d:
        each([&](int t) { long1d_load(g, p, x.data(), w.data(), task, t, sm); });
        each([&](int t) { long1d_compute<T, false>(g, p, bp, task, t, sm); });
        each([&](int t) { long1d_store(g, p, y.data(), task, t, sm); });
        break;
      case DirectVariant::Plane2d:
        each([&](int t) { plane2d_load(g, p, x.data(), w.data(), task, t, sm); });
        each([&](int t) {
          if (g.ring)
            plane2d_compute<T, true>(g, p, bp, task, t, sm);
          else
            plane2d_compute<T, false>(g, p, bp, task, t, sm);
        });
        each([&](int t) { plane2d_store(g, p, y.data(), task, t, sm); });
        break;
      case DirectVariant::Depthwise2d:
        each([&](int t) { depthwise2d_load(g, p, x.data(), w.data(), task, t, sm); });
        each([&](int t) { depthwise2d_compute_store(g, p, bp, y.data(), task, t, sm); });
        break;
      case DirectVariant::SmallChannel2d:
        each([&](int t) {
          for (T& a : acc[t].v) a = T(0);
          small_load_weights(g, p, w.data(), task, t, sm);
        });
        for (i64 c = 0; c < p.Cg(); ++c) {
          each([&](int t) { small_load_tile(g, p, x.data(), task, c, t, sm); });
          each([&](int t) { small_compute(g, p, c, t, sm, acc[t].v); });
        }
        each([&](int t) { small_store(g, p, bp, y.data(), task, t, acc[t].v); });
        break;
      case DirectVariant::Generic: break;
    }
  }
  for (i64 i = 0; i < kGuard; ++i) {
    EXPECT_TRUE(std::isnan(buf[i])) << "shared memory written before its start";
    EXPECT_TRUE(std::isnan(buf[buf.size() - 1 - i])) << "shared memory written past its end";
  }
  return y;
}

struct Extra {
  std::string name;
  ConvSpec spec;
  Shape x, w;
};

// Shapes that route to each fast variant (and its edges: several tiles, odd
// and prime sizes, tails of the tap loop, every boundary and mode, bias).
std::vector<Extra> extra_shapes() {
  using B = Boundary;
  using M = Mode;
  std::vector<Extra> t;
  auto add = [&](std::string n, ConvSpec s, Shape x, Shape w) { t.push_back({std::move(n), std::move(s), x, w}); };
  add("1d_long_k1024_same", ConvSpec::conv1d().padding(Padding::same()), {1, 1, 4099}, {1, 1, 1024});
  add("1d_rows_reflect_conv",
      ConvSpec::conv1d().groups(3).padding(Padding::same()).boundary(B::Reflect).mode(M::Convolution).bias(true),
      {2, 3, 2111}, {3, 1, 17});
  add("1d_circular_k9", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Circular).groups(2), {1, 2, 3851}, {4, 1, 9});
  add("1d_replicate_full_k8", ConvSpec::conv1d().padding(Padding::full()).boundary(B::Replicate), {1, 1, 1931}, {1, 1, 8});
  add("1d_valid_k_eq_L", ConvSpec::conv1d(), {1, 1, 257}, {1, 1, 257});
  add("2d_image_k31_tiles", ConvSpec::conv2d().padding(Padding::same()), {1, 1, 37, 251}, {1, 1, 31, 31});
  add("2d_image_k16x9_conv_reflect", ConvSpec::conv2d().padding(Padding::same()).mode(M::Convolution).boundary(B::Reflect),
      {1, 1, 41, 127}, {1, 1, 16, 9});
  add("2d_image_circular_bias", ConvSpec::conv2d().padding(Padding::same()).boundary(B::Circular).bias(true),
      {2, 1, 19, 131}, {1, 1, 5, 7});
  add("2d_image_valid_replicate", ConvSpec::conv2d().padding(Padding::per_dim({{3, 0}, {0, 5}})).boundary(B::Replicate),
      {1, 1, 33, 64}, {1, 1, 3, 11});
  add("2d_depthwise_s2", ConvSpec::conv2d().groups(6).stride(2).padding(1).bias(true), {3, 6, 23, 29}, {6, 1, 3, 3});
  add("2d_depthwise_dil2_mult2_circular", ConvSpec::conv2d().groups(4).dilation(2).padding(Padding::same()).boundary(B::Circular),
      {2, 4, 13, 11}, {8, 1, 3, 5});
  add("2d_depthwise_s3_conv_reflect", ConvSpec::conv2d().groups(2).stride({3, 2}).padding(2).boundary(B::Reflect).mode(M::Convolution),
      {1, 2, 17, 40}, {2, 1, 5, 4});
  add("2d_depthwise_small_planes", ConvSpec::conv2d().groups(16).padding(1), {4, 16, 7, 7}, {16, 1, 3, 3});
  add("2d_smallc_rgb_7x7_s2", ConvSpec::conv2d().stride(2).padding(3).bias(true), {2, 3, 37, 41}, {9, 3, 7, 7});
  add("2d_smallc_groups_reflect", ConvSpec::conv2d().groups(2).padding(1).boundary(B::Reflect), {2, 6, 19, 17}, {18, 3, 3, 3});
  add("2d_smallc_dil2_conv_replicate", ConvSpec::conv2d().dilation(2).padding(Padding::same()).mode(M::Convolution).boundary(B::Replicate),
      {1, 5, 21, 35}, {4, 5, 3, 2});
  add("2d_smallc_circular_s2_even", ConvSpec::conv2d().stride(2).padding(Padding::per_dim({{1, 2}, {2, 1}})).boundary(B::Circular),
      {8, 2, 12, 15}, {3, 2, 4, 4});
  return t;
}

template <class T>
void check_variants_on(const std::string& name, const ConvSpec& spec, const Shape& xs, const Shape& ws, bool floats,
                       std::set<DirectVariant>* covered) {
  const ConvProblem p = spec.problem(xs, ws);
  HostTensor<T> x = floats ? random_floats<T>(xs, 11) : random_ints<T>(xs, 11);
  HostTensor<T> w = floats ? random_floats<T>(ws, 12) : random_ints<T>(ws, 12);
  HostTensor<T> b = floats ? random_floats<T>(Shape{p.K}, 13) : random_ints<T>(Shape{p.K}, 13);
  const HostTensor<T>* bp = spec.has_bias() ? &b : nullptr;
  const Expected<T> e = expected_output(spec, x, w, bp);
  const double tol = floats ? tolerance<T>(p.Cg() * p.ker_spatial()) : 0.0;
  for (DirectVariant v : kDirectVariants) {
    if (!detail::direct::direct_applies(v, p, sizeof(T))) continue;
    if (covered) covered->insert(v);
    SCOPED_TRACE(name + " variant " + detail::direct_variant_name(v));
    EXPECT_TRUE(compare(emulate(v, p, x, w, bp), e.y, &e.magnitude, tol));
  }
}

template <class T>
void check_all(bool floats) {
  std::set<DirectVariant> covered;
  for (const ConvCase& c : problem_table()) check_variants_on<T>(c.name, c.spec, c.x, c.w, floats, &covered);
  for (const Extra& c : extra_shapes()) check_variants_on<T>(c.name, c.spec, c.x, c.w, floats, &covered);
  EXPECT_EQ(covered.size(), std::size(kDirectVariants)) << "some variant was never exercised";
}

TEST(DirectBlockPrograms, ExactWithSmallIntegersF32) { check_all<float>(false); }
TEST(DirectBlockPrograms, ExactWithSmallIntegersF64) { check_all<double>(false); }
TEST(DirectBlockPrograms, RandomFloatsWithinToleranceF32) { check_all<float>(true); }
TEST(DirectBlockPrograms, RandomFloatsWithinToleranceF64) { check_all<double>(true); }

// Non-finite inputs: a NaN, a +Inf and a -Inf in x must reach exactly the
// outputs that read them, as in the reference. The fast variants pad kernel
// rows with zero taps for alignment; those face real samples, and 0 · Inf
// would leak a NaN into outputs that never read the sample. Weights are
// positive integers (so no output mixes +Inf and -Inf by accident of sign:
// where one does, the reference's NaN is expected too); finite outputs must
// match exactly.
template <class T>
::testing::AssertionResult same_specials(const HostTensor<T>& got, const HostTensor<T>& want) {
  std::int64_t bad = 0, first = -1;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    const bool ok = std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i];
    if (!ok && bad++ == 0) first = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " outputs differ; first at " << first << ": got " << got[first]
                                       << ", want " << want[first];
}

template <class T>
void check_non_finite(const std::string& name, const ConvSpec& spec, const Shape& xs, const Shape& ws) {
  const ConvProblem p = spec.problem(xs, ws);
  HostTensor<T> x = random_ints<T>(xs, 21), w = random_ints<T>(ws, 22, 1, 3);
  HostTensor<T> b = random_ints<T>(Shape{p.K}, 23);
  const std::int64_t n = x.numel();
  x[n / 7] = std::numeric_limits<T>::quiet_NaN();
  x[n / 2] = std::numeric_limits<T>::infinity();
  x[n - 1 - n / 5] = -std::numeric_limits<T>::infinity();
  const HostTensor<T>* bp = spec.has_bias() ? &b : nullptr;
  HostTensor<T> want(p.y_shape());
  reference::conv(spec, x.view(), w.view(), bp ? TensorArg(bp->view()) : TensorArg(), want.view());
  std::int64_t specials = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) specials += !std::isfinite(want[i]);
  ASSERT_GT(specials, 0) << name << ": no output reads a non-finite sample";
  for (DirectVariant v : kDirectVariants) {
    if (!detail::direct::direct_applies(v, p, sizeof(T))) continue;
    SCOPED_TRACE(name + " variant " + detail::direct_variant_name(v));
    EXPECT_TRUE(same_specials(emulate(v, p, x, w, bp), want));
  }
}

template <class T>
void check_non_finite_all() {
  for (const Extra& c : extra_shapes()) check_non_finite<T>(c.name, c.spec, c.x, c.w);
  // A long 1-D signal and an image whose padding taps cross a special.
  check_non_finite<T>("1d_same_k7", ConvSpec::conv1d().padding(Padding::same()), {2, 1, 97}, {1, 1, 7});
  check_non_finite<T>("2d_circular_k5", ConvSpec::conv2d().padding(Padding::same()).boundary(Boundary::Circular),
                      {1, 1, 37, 41}, {1, 1, 5, 5});
}

TEST(DirectBlockPrograms, NonFiniteInputsReachOnlyTheOutputsThatReadThemF32) { check_non_finite_all<float>(); }
TEST(DirectBlockPrograms, NonFiniteInputsReachOnlyTheOutputsThatReadThemF64) { check_non_finite_all<double>(); }

// Every "run" entry of the regression file, on every variant that serves it.
template <class T>
void check_regressions(bool floats) {
  for (const ConvCase& c : regression_cases(RegressionUse::Run))
    check_variants_on<T>("regression " + c.name, c.spec, c.x, c.w, floats, nullptr);
}

TEST(DirectBlockPrograms, RegressionShapesExactF32) { check_regressions<float>(false); }
TEST(DirectBlockPrograms, RegressionShapesExactF64) { check_regressions<double>(false); }
TEST(DirectBlockPrograms, RegressionShapesRandomFloatsF32) { check_regressions<float>(true); }

TEST(DirectIndexing, FoldClampedMatchesFoldInsideAndZeroOutside) {
  const std::int64_t D = 5, lo = 2, hi = 3;
  for (Boundary b : {Boundary::Zeros, Boundary::Circular, Boundary::Reflect, Boundary::Replicate, Boundary::Symmetric}) {
    EXPECT_EQ(fold_clamped(-3, D, lo, hi, b), -1);
    EXPECT_EQ(fold_clamped(D + hi, D, lo, hi, b), -1);
    EXPECT_EQ(fold_clamped(100, D, lo, hi, b), -1);
    for (std::int64_t pos = -lo; pos <= D - 1 + hi; ++pos)
      EXPECT_EQ(fold_clamped(pos, D, lo, hi, b), detail::fold_index(pos, D, b)) << boundary_name(b) << " " << pos;
  }
  EXPECT_EQ(fold_clamped(-2, D, lo, hi, Boundary::Reflect), 2);
  EXPECT_EQ(fold_clamped(-1, D, lo, hi, Boundary::Circular), 4);
  EXPECT_EQ(fold_clamped(7, D, lo, hi, Boundary::Replicate), 4);
  EXPECT_EQ(fold_clamped(6, D, lo, hi, Boundary::Reflect), 2);
}

TEST(DirectIndexing, SmallHelpers) {
  EXPECT_EQ(window_span(1, 3, 1, 1), 1);
  EXPECT_EQ(window_span(4, 2, 3, 2), 3 * 2 + 2 * 2 + 1);
  EXPECT_EQ(pow2_between(1, 4, 32), 4);
  EXPECT_EQ(pow2_between(5, 4, 32), 8);
  EXPECT_EQ(pow2_between(1000, 4, 32), 32);
  for (std::int64_t pad = 0; pad < 40; ++pad) {
    const std::int64_t s = tap_shift(pad);
    EXPECT_GE(s, 0);
    EXPECT_LT(s, kTileAlign);
    EXPECT_EQ((pad + s) % kTileAlign, 0);
  }
}

// The register-blocked layouts read and write shared memory with 16-byte
// vectors, which the hardware serves a quarter-warp (8 lanes) at a time: the
// 8 lanes of each phase must touch 8 distinct 16-byte bank groups for one
// wavefront per phase. Checked for the compute windows (long1d: consecutive
// threads; plane2d: a tile row of kPlaneBx threads, any pitch) and the
// output staging, for both element sizes.
TEST(DirectIndexing, RegisterBlockedVectorAccessesAreBankConflictFree) {
  auto distinct = [](const std::vector<std::int64_t>& addr, int elem) {
    for (std::size_t base = 0; base < addr.size(); base += 8) {
      std::set<std::int64_t> groups;
      for (int l = 0; l < 8; ++l) groups.insert(addr[base + l] * elem / 16 % 8);
      if (groups.size() != 8) return false;
    }
    return true;
  };
  for (int elem : {4, 8}) {
    const int rx = rx_for(elem);
    EXPECT_EQ(rx * elem % 16, 0);
    EXPECT_EQ(tap_chunk_for(elem) * elem, 16);
    EXPECT_EQ(rx % tap_chunk_for(elem), 0);
    std::vector<std::int64_t> a1;
    for (int tid = 0; tid < kLong1dThreads; ++tid) a1.push_back(tid * rx + 8);
    EXPECT_TRUE(distinct(a1, elem)) << "long1d, elem " << elem;
    for (std::int64_t pitch : {160 + 8, 160 + 32, 144 + 16, 144 + 40}) {
      for (int ki : {0, 1, 5}) {
        std::vector<std::int64_t> a2, st;
        for (int tid = 0; tid < kPlaneBx * kPlaneBy; ++tid) {
          const int tx = tid % kPlaneBx, ty = tid / kPlaneBx;
          a2.push_back((ty + ki) * pitch + tx * rx + 16);
          st.push_back(ty * kPlaneBx * rx + tx * rx);
        }
        EXPECT_TRUE(distinct(a2, elem)) << "plane2d loads, elem " << elem << " pitch " << pitch;
        EXPECT_TRUE(distinct(st, elem)) << "plane2d staging, elem " << elem;
      }
    }
  }
}

// Geometry invariants over a sweep of problems: tiles cover the output, the
// input tile covers every tap of every tile output, shared regions keep the
// 16-byte alignment the vector loads need, and a selected variant fits.
TEST(DirectGeometry, TilesCoverOutputsAndRegionsAreAligned) {
  int checked = 0;
  for (int dims : {1, 2}) {
    for (std::int64_t D : {1, 7, 64, 131, 1000}) {
      for (std::int64_t k : {1, 2, 3, 8, 17, 31}) {
        if (k > D) continue;
        for (std::int64_t s : {1, 2, 3}) {
          for (std::int64_t dil : {1, 2}) {
            if (dil * (k - 1) + 1 > D) continue;
            for (std::int64_t cg : {1, 3}) {
              ConvSpec spec(dims);
              spec.stride(s).dilation(dil);
              if (dims == 1)
                spec.padding(Padding::per_dim({{1, 0}}));
              else
                spec.padding(Padding::per_dim({{1, 0}, {0, 1}}));
              const Shape xs = dims == 1 ? Shape{2, cg, D} : Shape{2, cg, D, D + 2};
              const Shape ws = dims == 1 ? Shape{5, cg, k} : Shape{5, cg, k, k};
              const ConvProblem p = spec.problem(xs, ws);
              for (std::size_t elem : {std::size_t(4), std::size_t(8)}) {
                for (DirectVariant v : kDirectVariants) {
                  if (!detail::direct::direct_applies(v, p, elem)) continue;
                  ++checked;
                  const DirectGeom g = detail::direct::direct_geometry(v, p, elem);
                  SCOPED_TRACE(p.str() + " " + detail::direct_variant_name(v));
                  EXPECT_LE(detail::direct::direct_smem_bytes(g, elem), kSmemLimit);
                  EXPECT_GE(g.grid, 1);
                  EXPECT_LE(g.grid, kMaxGrid);
                  if (v == DirectVariant::Generic) {
                    EXPECT_EQ(g.tasks, p.N * p.K * p.out_spatial());
                    continue;
                  }
                  EXPECT_GE(g.tiles_x * g.tile_w, p.out[2]);
                  EXPECT_GE(g.tiles_y * g.tile_h, p.out[1]);
                  EXPECT_GE(g.in_w, window_span(g.tile_w, p.stride[2], p.ker[2], p.dilation[2]));
                  EXPECT_GE(g.in_h, window_span(g.tile_h, p.stride[1], p.ker[1], p.dilation[1]));
                  EXPECT_GE(g.pitch, g.in_w);
                  EXPECT_EQ(g.w_off % 4, 0);
                  EXPECT_EQ(g.x_off % 4, 0);
                  EXPECT_EQ(g.y_off % 4, 0);
                  if (v == DirectVariant::Plane2d) EXPECT_EQ(g.w_pitch % 4, 0);
                  if (v == DirectVariant::Long1d || v == DirectVariant::Plane2d) {
                    // Vector windows: tile origin, widths and taps keep 4-element alignment.
                    EXPECT_EQ(g.taps % detail::direct::tap_chunk_for(elem), 0);
                    EXPECT_GE(g.taps, g.shift + p.ker[2]);
                    EXPECT_EQ(g.tile_w % kTileAlign, 0);
                    EXPECT_EQ(g.pitch % kTileAlign, 0);
                    EXPECT_EQ((p.pad_lo[2] + g.shift) % kTileAlign, 0);
                    EXPECT_GE(g.in_w, static_cast<std::int64_t>(g.tile_w) + g.taps);
                  }
                  EXPECT_LE(g.threads, 1024);
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 100);
}

std::string variant_of(const ConvSpec& spec, const Shape& x, const Shape& w, DType t = DType::F32) {
  return supports(spec, x, w, t, Algorithm::Direct).variant;
}

TEST(DirectSelection, SupportNamesTheKernelThatServesASpec) {
  const auto same = Padding::same();
  EXPECT_EQ(variant_of(ConvSpec::conv1d().padding(same), {1, 1, 1 << 20}, {1, 1, 1024}), "direct/long1d");
  EXPECT_EQ(variant_of(ConvSpec::conv1d().padding(same), {1, 1, 1 << 20}, {1, 1, 1024}, DType::F64), "direct/long1d");
  EXPECT_EQ(variant_of(ConvSpec::conv1d().groups(4).boundary(Boundary::Reflect).padding(same), {8, 4, 5000}, {4, 1, 9}),
            "direct/long1d");
  EXPECT_EQ(variant_of(ConvSpec::conv1d(), {1, 1, 97}, {1, 1, 7}), "direct/generic");  // too short for a tile
  EXPECT_EQ(variant_of(ConvSpec::conv1d().stride(2), {1, 1, 5000}, {1, 1, 7}), "direct/generic");
  EXPECT_EQ(variant_of(ConvSpec::conv1d(), {1, 3, 5000}, {5, 3, 7}), "direct/generic");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().padding(same), {1, 1, 512, 512}, {1, 1, 31, 31}), "direct/plane2d");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().padding(same), {1, 1, 512, 512}, {1, 1, 31, 31}, DType::F64), "direct/plane2d");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().groups(32).padding(1), {8, 32, 56, 56}, {32, 1, 3, 3}), "direct/plane2d");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().groups(32).padding(1).stride(2), {8, 32, 56, 56}, {32, 1, 3, 3}),
            "direct/depthwise2d");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().groups(256).padding(1), {8, 256, 7, 7}, {256, 1, 3, 3}), "direct/depthwise2d");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().padding(3).stride(2), {8, 3, 224, 224}, {64, 3, 7, 7}), "direct/smallchannel2d");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().padding(1), {1, 16, 56, 56}, {32, 16, 3, 3}), "direct/smallchannel2d");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().padding(1), {1, 256, 14, 14}, {256, 256, 3, 3}), "direct/generic");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().dilation(3).padding(3), {1, 3, 30, 30}, {8, 3, 3, 3}), "direct/generic");
  EXPECT_EQ(variant_of(ConvSpec::conv2d(), {1, 1, 100, 100}, {1, 1, 33, 33}), "direct/generic");  // k > 31
  EXPECT_EQ(variant_of(ConvSpec::conv3d().padding(1), {1, 1, 16, 16, 16}, {1, 1, 3, 3, 3}), "direct/generic");
  EXPECT_EQ(workspace_bytes(ConvSpec::conv2d(), {1, 1, 64, 64}, {1, 1, 3, 3}, DType::F32, Algorithm::Direct), 0u);
}

TEST(DirectSelection, EveryTableCaseIsSupportedAndSelectedVariantApplies) {
  for (const ConvCase& c : problem_table()) {
    for (DType t : {DType::F32, DType::F64}) {
      const Support s = supports(c.spec, c.x, c.w, t, Algorithm::Direct);
      EXPECT_TRUE(s.ok) << c.name << ": " << s.reason;
      const ConvProblem p = c.spec.problem(c.x, c.w);
      EXPECT_TRUE(detail::direct::direct_applies(detail::direct::select_direct_variant(p, dtype_size(t)), p, dtype_size(t)))
          << c.name;
      EXPECT_EQ(s.variant.rfind("direct/", 0), 0u) << c.name;
    }
  }
}

// Strides and dilations far past any tile are valid specs; the strided tile
// variants must see that their window cannot fit without multiplying it out
// (found by the spec fuzzer: a stride of 2.9e17 overflowed the geometry).
TEST(DirectSelection, HugeStridesAndDilationsFallBackToGenericWithoutOverflow) {
  const std::int64_t huge = std::int64_t(1) << 58;
  EXPECT_EQ(variant_of(ConvSpec::conv2d().groups(32).stride({289404809224923138, 2}), {2, 32, 17, 13}, {32, 1, 3, 3}),
            "direct/generic");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().groups(4).stride({2, huge}), {1, 4, 64, 64}, {4, 1, 3, 3}), "direct/generic");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().groups(4).dilation({1, huge}), {1, 4, 64, 64}, {4, 1, 1, 1}),
            "direct/depthwise2d");  // one tap: the dilation multiplies nothing
  EXPECT_EQ(variant_of(ConvSpec::conv2d().stride(huge), {1, 3, 64, 64}, {8, 3, 3, 3}), "direct/generic");
  EXPECT_EQ(variant_of(ConvSpec::conv2d().stride({1, huge}), {1, 3, 64, 64}, {8, 3, 3, 3}), "direct/generic");
  // window_within agrees with window_span wherever the latter does not overflow.
  for (std::int64_t outs : {1, 2, 5, 32})
    for (std::int64_t s : {1, 2, 7, 1000})
      for (std::int64_t k : {1, 3, 31})
        for (std::int64_t d : {1, 3, 5000})
          for (std::int64_t limit : {1, 64, 24576})
            EXPECT_EQ(window_within(outs, s, k, d, limit), window_span(outs, s, k, d) <= limit)
                << outs << " " << s << " " << k << " " << d << " " << limit;
  EXPECT_FALSE(window_within(32, huge, 3, 1, 24576));
  EXPECT_FALSE(window_within(2, 1, 3, huge, 24576));
  EXPECT_TRUE(window_within(1, huge, 1, huge, 1));
}

// The forced-variant hook refuses a variant that does not serve the problem
// before touching the device (so this runs without one).
TEST(DirectSelection, ForcedVariantThatDoesNotApplyIsNotSupported) {
  Context ctx;
  alignas(16) static float fake[3][64];  // never dereferenced: validation fails first
  auto x = TensorView<const float>::device(fake[0], {1, 3, 4, 4});
  auto w = TensorView<const float>::device(fake[1], {2, 3, 3, 3});
  auto y = TensorView<float>::device(fake[2], {1, 2, 2, 2});
  for (DirectVariant v : {DirectVariant::Long1d, DirectVariant::Plane2d, DirectVariant::Depthwise2d}) {
    try {
      detail::run_direct_variant(ctx, ConvSpec::conv2d(), x, w, TensorArg(), y, v);
      ADD_FAILURE() << detail::direct_variant_name(v) << " accepted a 3-channel layer";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::NotSupported) << e.what();
    }
  }
}

}  // namespace
}  // namespace convkit::test
