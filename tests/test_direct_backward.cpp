// CPU tests of Algorithm::Direct's backward passes and the bias gradient
// (kernels/direct_backward.cuh): the block programs of direct/gather
// (backward-data), direct/reduce (backward-filter, both passes with the
// shared-memory tree) and the bias reduction, run on the CPU for every thread
// of every block in turn (barriers become the ends of phase loops), compared
// with reference::conv_backward_data / _filter / _bias over every row of the
// problem table and extra shapes (3-D, stride > kernel, replicate with big
// padding, symmetric, groups with K/G > 1, several segments, the segment
// cap) and the regression file's runnable shapes. f32 and f64; exact with
// small integers, within the harness tolerance with random floats; beta 1 onto prior values, beta 0 over NaN-poisoned
// outputs (every element written, nothing written outside, shared memory and
// workspace framed by NaN guards); the pure geometry functions; supports()
// and workspace_bytes() as the library reports them.
#include "direct_backward.cuh"
#include "direct_backward.hpp"
#include "harness.hpp"
#include "regressions.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace convkit::test {
namespace {

using namespace detail::direct_bwd;

constexpr i64 kGuard = 64;

template <class T>
T nan_v() {
  return std::numeric_limits<T>::quiet_NaN();
}

// A buffer of n elements framed by NaN guards, poisoned with NaN or holding
// `prior`'s values.
template <class T>
struct Guarded {
  std::vector<T> buf;
  explicit Guarded(i64 n) : buf(static_cast<std::size_t>(n + 2 * kGuard), nan_v<T>()) {}
  T* data() { return buf.data() + kGuard; }
  void check_guards(const std::string& what) const {
    for (i64 i = 0; i < kGuard; ++i) {
      EXPECT_TRUE(std::isnan(buf[i])) << what << " written before its start";
      EXPECT_TRUE(std::isnan(buf[buf.size() - 1 - i])) << what << " written past its end";
    }
  }
  HostTensor<T> tensor(const Shape& s) const {
    HostTensor<T> t(s);
    for (i64 i = 0; i < t.numel(); ++i) t[i] = buf[static_cast<std::size_t>(kGuard + i)];
    return t;
  }
};

template <class T>
Guarded<T> output_buffer(const Shape& s, const HostTensor<T>* prior) {
  Guarded<T> g(s.numel());
  if (prior)
    for (i64 i = 0; i < prior->numel(); ++i) g.data()[i] = (*prior)[i];
  return g;
}

// direct/gather: every thread of every block of the grid-stride loop.
template <class T>
HostTensor<T> emulate_data(const ConvProblem& p, const HostTensor<T>& dy, const HostTensor<T>& w,
                           const HostTensor<T>* prior) {
  Guarded<T> out = output_buffer<T>(p.x_shape(), prior);
  const i64 total = p.N * p.C * p.in_spatial(), grid = gather_grid(p);
  EXPECT_GE(grid, 1);
  EXPECT_LE(grid, kMaxGrid);
  for (i64 b = 0; b < grid; ++b)
    for (int tid = 0; tid < kGatherThreads; ++tid)
      for (i64 i = b * kGatherThreads + tid; i < total; i += grid * kGatherThreads)
        gather_dx(p, dy.data(), w.data(), out.data(), prior != nullptr, i);
  out.check_guards("dx");
  return out.tensor(p.x_shape());
}

// The shared-memory tree of a block over `threads` values in sm.
template <class T>
void emulate_tree(int threads, T* sm) {
  for (int h = threads / 2; h > 0; h /= 2)
    for (int tid = 0; tid < threads; ++tid) tree_step(h, tid, sm);
}

// direct/reduce: pass 1 for every block (grid-stride over tasks) and thread,
// phase by phase, shared memory poisoned before each task; then pass 2.
template <class T>
HostTensor<T> emulate_filter(const ConvProblem& p, const HostTensor<T>& x, const HostTensor<T>& dy,
                             const HostTensor<T>* prior, bool finite_inputs = true) {
  const ReduceGeom g = reduce_geometry(p);
  EXPECT_EQ(static_cast<std::size_t>(g.tasks) * sizeof(T), reduce_workspace_bytes(p, sizeof(T)));
  Guarded<T> ws(g.tasks), sm_buf(g.threads);
  T* sm = sm_buf.data();
  for (i64 b = 0; b < g.grid; ++b)
    for (i64 task = b; task < g.tasks; task += g.grid) {
      std::fill(sm, sm + g.threads, nan_v<T>());
      for (int tid = 0; tid < g.threads; ++tid) reduce_partial(g, p, x.data(), dy.data(), task, tid, sm);
      emulate_tree(g.threads, sm);
      for (int tid = 0; tid < g.threads; ++tid) reduce_write_partial(task, tid, sm, ws.data());
    }
  sm_buf.check_guards("shared memory");
  ws.check_guards("workspace");
  if (finite_inputs) {
    i64 unwritten = 0;
    for (i64 i = 0; i < g.tasks; ++i) unwritten += std::isnan(ws.data()[i]);
    EXPECT_EQ(unwritten, 0) << "workspace partials not written";
  }
  Guarded<T> out = output_buffer<T>(p.w_shape(), prior);
  for (i64 b = 0; b < g.grid2; ++b)
    for (int tid = 0; tid < kGatherThreads; ++tid)
      for (i64 i = b * kGatherThreads + tid; i < g.weights; i += g.grid2 * kGatherThreads)
        reduce_finish(g, ws.data(), out.data(), prior != nullptr, i);
  out.check_guards("dw");
  return out.tensor(p.w_shape());
}

// The bias reduction for dy [N, K, Q], as the launch function runs it.
template <class T>
HostTensor<T> emulate_bias(i64 N, i64 K, i64 Q, const HostTensor<T>& dy, const HostTensor<T>* prior) {
  Guarded<T> out = output_buffer<T>(Shape{K}, prior);
  Guarded<T> sm_buf(kReduceThreads);
  T* sm = sm_buf.data();
  const bool skip = K == 0 || (N * Q == 0 && prior);  // as direct_backward_bias_launch
  const i64 grid = bias_grid(K);
  if (!skip)
    for (i64 b = 0; b < grid; ++b)
      for (i64 k = b; k < K; k += grid) {
        std::fill(sm, sm + kReduceThreads, nan_v<T>());
        for (int tid = 0; tid < kReduceThreads; ++tid) bias_partial(N, K, Q, dy.data(), k, tid, kReduceThreads, sm);
        emulate_tree(kReduceThreads, sm);
        for (int tid = 0; tid < kReduceThreads; ++tid) bias_write(k, tid, sm, out.data(), prior != nullptr);
      }
  sm_buf.check_guards("shared memory");
  out.check_guards("db");
  return out.tensor(Shape{K});
}

// The segmented bias reduction (with a workspace of partials), as the
// launch function runs it: tasks (segment, channel), then the finish pass.
template <class T>
HostTensor<T> emulate_bias_segmented(i64 N, i64 K, i64 Q, const HostTensor<T>& dy, const HostTensor<T>* prior) {
  const i64 segments = bias_segments(N, K, Q), L = N * Q, len = ceil_div(L, segments);
  Guarded<T> out = output_buffer<T>(Shape{K}, prior);
  Guarded<T> partials(segments * K);
  Guarded<T> sm_buf(kReduceThreads);
  T* sm = sm_buf.data();
  for (i64 t = 0; t < segments * K; ++t) {
    const i64 seg = t / K, k = t % K;
    std::fill(sm, sm + kReduceThreads, nan_v<T>());
    for (int tid = 0; tid < kReduceThreads; ++tid)
      bias_partial_range(K, Q, dy.data(), k, seg * len, std::min(seg * len + len, L), tid, kReduceThreads, sm);
    emulate_tree(kReduceThreads, sm);
    partials.data()[t] = sm[0];
  }
  for (i64 k = 0; k < K; ++k) bias_finish(K, segments, partials.data(), out.data(), prior != nullptr, k);
  partials.check_guards("partials");
  sm_buf.check_guards("shared memory");
  out.check_guards("db");
  return out.tensor(Shape{K});
}

template <class T>
HostTensor<T> make(const Shape& s, bool floats, std::uint64_t seed) {
  return floats ? random_floats<T>(s, seed) : random_ints<T>(s, seed);
}

template <class T>
HostTensor<double> to_double(const HostTensor<T>& t) {
  HostTensor<double> d(t.shape());
  for (i64 i = 0; i < t.numel(); ++i) d[i] = static_cast<double>(t[i]);
  return d;
}

template <class T>
HostTensor<T> copy_of(const HostTensor<T>& t) {
  HostTensor<T> c(t.shape());
  for (i64 i = 0; i < t.numel(); ++i) c[i] = t[i];
  return c;
}

// Terms per output, for the float tolerance (sqrt-scale, so generous is fine).
i64 data_terms(const ConvProblem& p) {
  i64 t = p.Kg();
  for (int a = 0; a < 3; ++a) t *= p.ker[a] + p.pad_lo[a] + p.pad_hi[a];
  return t;
}

struct Extra {
  std::string name;
  ConvSpec spec;
  Shape x, w;
};

std::vector<Extra> extra_shapes() {
  using B = Boundary;
  using M = Mode;
  std::vector<Extra> t;
  auto add = [&](std::string n, ConvSpec s, Shape x, Shape w) { t.push_back({std::move(n), std::move(s), x, w}); };
  add("3d_groups_conv_reflect", ConvSpec::conv3d().groups(2).padding(1).stride({1, 2, 1}).boundary(B::Reflect).mode(M::Convolution),
      {3, 4, 5, 6, 7}, {6, 2, 3, 2, 3});
  add("3d_symmetric_dil2", ConvSpec::conv3d().dilation({2, 1, 2}).padding(2).boundary(B::Symmetric), {1, 2, 5, 4, 6},
      {3, 2, 2, 3, 2});
  add("2d_stride_gt_kernel", ConvSpec::conv2d().stride({4, 5}).padding(1), {3, 2, 17, 19}, {3, 2, 2, 3});
  add("1d_stride_gt_kernel_circular", ConvSpec::conv1d().stride(7).padding(2).boundary(B::Circular), {1, 3, 30}, {2, 3, 3});
  add("2d_replicate_big_pad", ConvSpec::conv2d().padding(Padding::per_dim({{9, 4}, {6, 11}})).boundary(B::Replicate),
      {2, 1, 5, 4}, {2, 1, 3, 2});
  add("1d_replicate_big_pad_stride", ConvSpec::conv1d().stride(3).padding(Padding::per_dim({{13, 7}})).boundary(B::Replicate).mode(M::Convolution),
      {3, 2, 4}, {1, 2, 3});
  add("2d_symmetric_conv_same", ConvSpec::conv2d().padding(Padding::same()).boundary(B::Symmetric).mode(M::Convolution),
      {1, 2, 6, 5}, {3, 2, 4, 3});
  add("2d_groups_kg3", ConvSpec::conv2d().groups(3).padding(1).stride(2).boundary(B::Circular), {3, 6, 9, 8}, {9, 2, 3, 3});
  add("2d_depthwise_mult2_reflect", ConvSpec::conv2d().groups(4).padding(2).dilation(2).boundary(B::Reflect), {1, 4, 9, 9},
      {8, 1, 3, 3});
  add("1d_many_segments", ConvSpec::conv1d().padding(Padding::same()).boundary(B::Symmetric), {2, 1, 5000}, {1, 1, 5});
  add("1d_segment_cap", ConvSpec::conv1d().padding(1), {1, 1, 300001}, {1, 1, 3});
  add("2d_n3_long_reduction", ConvSpec::conv2d().padding(1), {3, 1, 40, 33}, {2, 1, 3, 3});
  return t;
}

template <class T>
void check_case(const std::string& name, const ConvSpec& spec0, const Shape& xs, const Shape& ws, bool floats) {
  const ConvSpec spec = ConvSpec(spec0).bias(false);
  const ConvProblem p = spec.problem(xs, ws);
  SCOPED_TRACE(name + (floats ? " floats " : " ints ") + dtype_name(dtype_v<T>));
  const Shape ys = p.y_shape();
  const HostTensor<T> x = make<T>(xs, floats, 31), w = make<T>(ws, floats, 32), dy = make<T>(ys, floats, 33);
  const i64 Q = p.out_spatial();

  // Bias (also for N = 0 rows: N·Q = 0).
  {
    HostTensor<T> want(Shape{p.K});
    reference::conv_backward_bias(dy.view(), want.view(), 0.0);
    HostTensor<T> mag(Shape{p.K});
    const HostTensor<T> ady = abs_of(dy);
    reference::conv_backward_bias(ady.view(), mag.view(), 0.0);
    const HostTensor<double> magd = to_double(mag);
    const double tol = floats ? tolerance<T>(p.N * Q) : 0.0;
    EXPECT_TRUE(compare(emulate_bias<T>(p.N, p.K, Q, dy, nullptr), want, &magd, tol)) << "bias, beta 0";
    if (!floats) {
      const HostTensor<T> prior = random_ints<T>(Shape{p.K}, 34);
      HostTensor<T> want1 = copy_of(prior);
      reference::conv_backward_bias(dy.view(), want1.view(), 1.0);
      EXPECT_TRUE(compare(emulate_bias<T>(p.N, p.K, Q, dy, &prior), want1, nullptr, 0.0)) << "bias, beta 1";
    }
  }

  const HostTensor<T> ax = abs_of(x), aw = abs_of(w), ady = abs_of(dy);
  // Backward-filter, N = 0 included (conv() handles that itself, a ConvPlan
  // passes it on: the result must still be zeros, or dw under beta 1).
  {
    HostTensor<T> want(ws), mag(ws);
    reference::conv_backward_filter(spec, x.view(), dy.view(), want.view(), 0.0);
    reference::conv_backward_filter(spec, ax.view(), ady.view(), mag.view(), 0.0);
    const HostTensor<double> magd = to_double(mag);
    const double tol = floats ? tolerance<T>(p.N * Q) : 0.0;
    EXPECT_TRUE(compare(emulate_filter<T>(p, x, dy, nullptr), want, &magd, tol)) << "backward-filter, beta 0";
    if (!floats) {
      const HostTensor<T> prior = random_ints<T>(ws, 36);
      HostTensor<T> want1 = copy_of(prior);
      reference::conv_backward_filter(spec, x.view(), dy.view(), want1.view(), 1.0);
      EXPECT_TRUE(compare(emulate_filter<T>(p, x, dy, &prior), want1, nullptr, 0.0)) << "backward-filter, beta 1";
    }
  }
  // Backward-data (conv() never calls it with N = 0: dx is empty).
  if (p.N == 0) return;
  {
    HostTensor<T> want(xs), mag(xs);
    reference::conv_backward_data(spec, dy.view(), w.view(), want.view(), 0.0);
    reference::conv_backward_data(spec, ady.view(), aw.view(), mag.view(), 0.0);
    const HostTensor<double> magd = to_double(mag);
    const double tol = floats ? tolerance<T>(data_terms(p)) : 0.0;
    EXPECT_TRUE(compare(emulate_data<T>(p, dy, w, nullptr), want, &magd, tol)) << "backward-data, beta 0";
    if (!floats) {
      const HostTensor<T> prior = random_ints<T>(xs, 35);
      HostTensor<T> want1 = copy_of(prior);
      reference::conv_backward_data(spec, dy.view(), w.view(), want1.view(), 1.0);
      EXPECT_TRUE(compare(emulate_data<T>(p, dy, w, &prior), want1, nullptr, 0.0)) << "backward-data, beta 1";
    }
  }
}

template <class T>
void check_all(bool floats) {
  for (const ConvCase& c : problem_table()) check_case<T>(c.name, c.spec, c.x, c.w, floats);
  for (const Extra& c : extra_shapes()) check_case<T>(c.name, c.spec, c.x, c.w, floats);
  for (const ConvCase& c : regression_cases(RegressionUse::Run))
    check_case<T>("regression " + c.name, c.spec, c.x, c.w, floats);
}

TEST(DirectBackwardBlockPrograms, ExactWithSmallIntegersF32) { check_all<float>(false); }
TEST(DirectBackwardBlockPrograms, ExactWithSmallIntegersF64) { check_all<double>(false); }
TEST(DirectBackwardBlockPrograms, RandomFloatsWithinToleranceF32) { check_all<float>(true); }
TEST(DirectBackwardBlockPrograms, RandomFloatsWithinToleranceF64) { check_all<double>(true); }

// The bias reduction over an N·Q several times the block's threads, and over
// an empty batch.
TEST(DirectBackwardBlockPrograms, BiasLongReductionAndEmptyBatch) {
  const i64 N = 3, K = 5, Q = 1000;
  const HostTensor<double> dy = random_ints<double>(Shape{N, K, Q}, 41);
  HostTensor<double> want(Shape{K});
  reference::conv_backward_bias(dy.view(), want.view(), 0.0);
  EXPECT_TRUE(compare(emulate_bias<double>(N, K, Q, dy, nullptr), want, nullptr, 0.0));
  // N·Q = 0: beta 0 writes zeros over the poison, beta 1 leaves db as it was.
  const HostTensor<float> empty(Shape{0, 4, 7});
  const HostTensor<float> zeros = emulate_bias<float>(0, 4, 7, empty, nullptr);
  for (i64 k = 0; k < 4; ++k) EXPECT_EQ(zeros[k], 0.0f);
  HostTensor<float> prior(Shape{4});
  for (i64 k = 0; k < 4; ++k) prior[k] = k == 2 ? nan_v<float>() : float(k) - 1.5f;
  const HostTensor<float> kept = emulate_bias<float>(0, 4, 7, empty, &prior);
  for (i64 k = 0; k < 4; ++k) {
    if (k == 2)
      EXPECT_TRUE(std::isnan(kept[k]));
    else
      EXPECT_EQ(kept[k], prior[k]);
  }
}

// A few channels over a long dy: the sum splits into segments (bias_segments)
// whose fixed-order two passes equal the reference, beta 0 and 1.
TEST(DirectBackwardBlockPrograms, BiasSegmentedOverALongBatch) {
  EXPECT_EQ(bias_segments(1, 1, 1 << 24), 1024);  // one channel of 16M samples: the cap
  EXPECT_EQ(bias_segments(8, 4096, 49), 2);       // many channels: about one block each
  EXPECT_EQ(bias_segments(0, 3, 7), 1);
  for (const auto& [N, K, Q] : {std::tuple<i64, i64, i64>{1, 1, 100000}, {3, 2, 5000}, {2, 7, 300}, {1, 3, 1}}) {
    const i64 S = bias_segments(N, K, Q), len = ceil_div(N * Q, S);
    EXPECT_LT((S - 1) * len, N * Q) << "an empty segment";
    const HostTensor<double> dy = random_ints<double>(Shape{N, K, Q}, 51);
    const HostTensor<double> prior = random_ints<double>(Shape{K}, 52);
    HostTensor<double> want(Shape{K}), want1(Shape{K});
    for (i64 k = 0; k < K; ++k) want1[k] = prior[k];
    reference::conv_backward_bias(dy.view(), want.view(), 0.0);
    reference::conv_backward_bias(dy.view(), want1.view(), 1.0);
    EXPECT_TRUE(compare(emulate_bias_segmented<double>(N, K, Q, dy, nullptr), want, nullptr, 0.0)) << N << " " << K;
    EXPECT_TRUE(compare(emulate_bias_segmented<double>(N, K, Q, dy, &prior), want1, nullptr, 0.0)) << N << " " << K;
  }
}

// A NaN already in dx / dw must not leak under beta 0 (the emulation starts
// from NaN-poisoned outputs and must produce finite, exact results), and a
// NaN in dy reaches exactly the gradients that read it.
TEST(DirectBackwardBlockPrograms, NaNInDyReachesOnlyTheGradientsThatReadIt) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1).stride(2).boundary(Boundary::Reflect);
  const Shape xs{2, 2, 7, 6}, ws{3, 2, 3, 3};
  const ConvProblem p = spec.problem(xs, ws);
  HostTensor<double> x = random_ints<double>(xs, 51), w = random_ints<double>(ws, 52, 1, 3);
  HostTensor<double> dy = random_ints<double>(p.y_shape(), 53);
  dy[dy.numel() / 3] = nan_v<double>();
  HostTensor<double> want_dx(xs), want_dw(ws);
  reference::conv_backward_data(spec, dy.view(), w.view(), want_dx.view(), 0.0);
  reference::conv_backward_filter(spec, x.view(), dy.view(), want_dw.view(), 0.0);
  const HostTensor<double> got_dx = emulate_data<double>(p, dy, w, nullptr);
  const HostTensor<double> got_dw = emulate_filter<double>(p, x, dy, nullptr, /*finite_inputs=*/false);
  i64 nans = 0;
  for (i64 i = 0; i < want_dx.numel(); ++i) {
    nans += std::isnan(want_dx[i]);
    if (std::isnan(want_dx[i]))
      EXPECT_TRUE(std::isnan(got_dx[i])) << i;
    else
      EXPECT_EQ(got_dx[i], want_dx[i]) << i;
  }
  EXPECT_GT(nans, 0);
  for (i64 i = 0; i < want_dw.numel(); ++i) {
    if (std::isnan(want_dw[i]))
      EXPECT_TRUE(std::isnan(got_dw[i])) << i;
    else
      EXPECT_EQ(got_dw[i], want_dw[i]) << i;
  }
}

// ------------------------------------------------------ pure functions

TEST(DirectBackwardGeometry, SegmentsAreBoundedAndCoverTheReduction) {
  int checked = 0;
  auto check = [&](const ConvProblem& p) {
    ++checked;
    const ReduceGeom g = reduce_geometry(p);
    SCOPED_TRACE(p.str());
    EXPECT_GE(g.segments, 1);
    EXPECT_LE(g.segments, kMaxSegments);
    EXPECT_EQ(g.segments, reduce_segments(p));
    EXPECT_EQ(g.weights, p.K * p.Cg() * p.ker_spatial());
    EXPECT_EQ(g.length, p.N * p.out_spatial());
    EXPECT_EQ(g.tasks, g.segments * g.weights);
    EXPECT_GE(g.seg_len * g.segments, g.length);  // the segments cover the reduction
    if (g.length > 0) EXPECT_LT((g.segments - 1) * g.seg_len, g.length);  // and none is empty
    if (g.segments > 1) EXPECT_GE(2 * g.seg_len, kReduceThreads);  // a segment gives most threads work
    // Enough blocks to fill the GPU when the reduction is long enough, and no
    // more segments than needed for it.
    EXPECT_EQ(g.seg_len, reduce_segment_length(p));
    // Enough blocks to fill the GPU where the reduction is long enough: at
    // least half the target (the rounding of the segment length), unless capped.
    if (g.segments < kMaxSegments / 2)
      EXPECT_GE(2 * g.tasks, std::min<i64>(kTargetBlocks, g.weights * ceil_div(g.length, kReduceThreads)));
    EXPECT_LE((g.segments - 1) * g.weights, kTargetBlocks);
    EXPECT_GE(g.grid, std::min<i64>(g.tasks, 1));
    EXPECT_LE(g.grid, kMaxGrid);
    EXPECT_EQ(g.grid2, std::min<i64>(ceil_div(g.weights, kGatherThreads), kMaxGrid));
    for (std::size_t elem : {std::size_t(4), std::size_t(8)})
      EXPECT_EQ(reduce_workspace_bytes(p, elem), static_cast<std::size_t>(g.segments * g.weights) * elem);
  };
  for (const ConvCase& c : problem_table()) check(c.spec.problem(c.x, c.w));
  for (const Extra& c : extra_shapes()) check(c.spec.problem(c.x, c.w));
  EXPECT_GT(checked, 20);
  // Specific values: a long 1-D reduction hits the cap; a big layer needs no split.
  const ConvProblem cap = ConvSpec::conv1d().padding(1).problem({1, 1, 300001}, {1, 1, 3});
  EXPECT_EQ(reduce_segments(cap), kMaxSegments);
  const ConvProblem many = ConvSpec::conv1d().padding(Padding::same()).problem({2, 1, 5000}, {1, 1, 5});
  EXPECT_EQ(reduce_segments(many), ceil_div(10000, kReduceThreads));  // 40: bounded by the length
  const ConvProblem layer = ConvSpec::conv2d().padding(1).problem({8, 256, 14, 14}, {256, 256, 3, 3});
  EXPECT_EQ(reduce_segments(layer), 1);
  const ConvProblem mid = ConvSpec::conv2d().padding(1).problem({16, 4, 64, 64}, {8, 4, 3, 3});  // 288 weights
  EXPECT_EQ(reduce_segments(mid), ceil_div(kTargetBlocks, 288));
  const ConvProblem tiny = ConvSpec::conv1d().problem({1, 1, 3}, {1, 1, 3});
  EXPECT_EQ(reduce_segments(tiny), 1);
}

TEST(DirectBackwardSupport, EveryTableRowIsSupportedWithTheVariantNames) {
  for (const ConvCase& c : problem_table())
    for (DType t : {DType::F32, DType::F64}) {
      const Support d = supports(c.spec, c.x, c.w, t, Algorithm::Direct, Direction::BackwardData);
      EXPECT_TRUE(d.ok) << c.name << ": " << d.reason;
      // The gather, unless a fast forward kernel runs the adjoint (beta 0; test_direct_adjoint.cpp).
      ConvProblem bp = c.spec.problem(c.x, c.w);
      bp.has_bias = false;
      const detail::DirectVariant fv = detail::adjoint_forward_variant(bp, dtype_size(t), nullptr);
      EXPECT_EQ(d.variant, fv == detail::DirectVariant::Generic
                               ? std::string("direct/gather")
                               : std::string("direct/") + detail::direct_variant_name(fv) +
                                     "-adjoint (beta 0; gather for beta 1)")
          << c.name;
      const Support f = supports(c.spec, c.x, c.w, t, Algorithm::Direct, Direction::BackwardFilter);
      EXPECT_TRUE(f.ok) << c.name << ": " << f.reason;
      EXPECT_EQ(f.variant, "direct/reduce") << c.name;
      const ConvProblem p = c.spec.problem(c.x, c.w);
      EXPECT_EQ(workspace_bytes(c.spec, c.x, c.w, t, Algorithm::Direct, Direction::BackwardData), 0u) << c.name;
      EXPECT_EQ(workspace_bytes(c.spec, c.x, c.w, t, Algorithm::Direct, Direction::BackwardFilter),
                reduce_workspace_bytes(p, dtype_size(t)))
          << c.name;
    }
}

// The reduction cannot be chunked: a context limit below its workspace is
// WorkspaceTooSmall before any device work (so this runs without a GPU),
// naming the bytes needed.
TEST(DirectBackwardSupport, FilterWorkspaceBelowTheLimitIsWorkspaceTooSmall) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape xs{2, 3, 16, 16}, ws{4, 3, 3, 3};
  const ConvProblem p = spec.problem(xs, ws);
  const std::size_t need = reduce_workspace_bytes(p, 4);
  ASSERT_GT(need, 0u);
  Context ctx;
  ctx.set_workspace_limit(need - 1);
  auto fake = [](std::uintptr_t a) { return reinterpret_cast<float*>(a); };
  auto x = TensorView<const float>::device(fake(0x10000000), xs);
  auto dy = TensorView<const float>::device(fake(0x20000000), p.y_shape());
  auto dw = TensorView<float>::device(fake(0x30000000), ws);
  try {
    conv_backward_filter(ctx, spec, x, dy, dw, Algorithm::Direct);
    FAIL() << "expected WorkspaceTooSmall";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::WorkspaceTooSmall) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::to_string(need)), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace convkit::test
