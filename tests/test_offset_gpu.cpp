// GPU tests of views that are element-aligned but not 16-byte aligned: every
// algorithm (Direct through conv() and each kernel variant that serves the
// shape, Im2colGemm, SparseToeplitz) on x, w, bias and y starting 1, 2 or 3
// elements into an aligned device allocation, compared exactly with the CPU
// reference (small-integer data), for f32 and f64. Validation guarantees
// element alignment only, so vector paths must be chosen from the pointer at
// run time; the shapes keep rows at multiples of 4 elements so that the
// pointer alone decides. The elements around each output window are poisoned
// and must stay so: an offset output is written exactly where it lies.
#include "direct.hpp"
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

using detail::DirectVariant;

// Elements past each view, poisoned like the ones before it.
constexpr std::int64_t kGuard = 5;

// A device buffer holding `h` (or poison, for an output) `off` elements in.
template <class T>
struct Placed {
  DeviceTensor<T> buf;
  TensorView<T> view;
};

template <class T>
Placed<T> place(Context& ctx, const Shape& s, std::int64_t numel, const T* h, int off) {
  Placed<T> p{DeviceTensor<T>(ctx, Shape{off + numel + kGuard}), {}};
  EXPECT_EQ(cudaMemsetAsync(p.buf.data(), 0xFF, p.buf.bytes(), ctx.stream()), cudaSuccess);
  if (h && numel)
    EXPECT_EQ(cudaMemcpyAsync(p.buf.data() + off, h, numel * sizeof(T), cudaMemcpyHostToDevice, ctx.stream()),
              cudaSuccess);
  p.view = TensorView<T>::device(p.buf.data() + off, s);
  return p;
}

template <class T>
bool is_poison(T v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (unsigned char c : b)
    if (c != 0xFF) return false;
  return true;
}

using Case = ConvCase;  // the problem table's row type

std::vector<Case> cases() {
  return {
      {"long1d", ConvSpec::conv1d().padding(Padding::same()), {2, 1, 4096}, {1, 1, 31}},
      {"plane2d", ConvSpec::conv2d().padding(Padding::same()), {1, 1, 64, 128}, {1, 1, 5, 5}},
      {"plane2d_bias", ConvSpec::conv2d().padding(2).bias(true), {2, 1, 40, 64}, {1, 1, 5, 5}},
      {"depthwise2d", ConvSpec::conv2d().padding(1).groups(8), {2, 8, 32, 32}, {8, 1, 3, 3}},
      {"small_channel2d", ConvSpec::conv2d().padding(1).bias(true), {2, 3, 32, 32}, {8, 3, 3, 3}},
      {"generic3d", ConvSpec::conv3d().padding(1), {1, 2, 8, 8, 8}, {3, 2, 3, 3, 3}},
      {"conv2d_strided", ConvSpec::conv2d().stride(2).padding(1).bias(true), {2, 4, 16, 20}, {4, 4, 3, 3}},
  };
}

// One run: inputs `in_off` and the output `out_off` elements into their
// buffers; Direct with variant `v` (or the algorithm `a` through conv()).
template <class T>
void run_one(Context& ctx, const Case& c, const HostTensor<T>& x, const HostTensor<T>& w, const HostTensor<T>& b,
             const HostTensor<T>& want, Algorithm a, std::optional<DirectVariant> v, int in_off, int out_off) {
  const Shape ys = c.spec.output_shape(c.x, c.w);
  const std::int64_t ny = ys.numel();
  Placed<T> dx = place(ctx, c.x, x.numel(), x.data(), in_off);
  Placed<T> dw = place(ctx, c.w, w.numel(), w.data(), in_off);
  Placed<T> db = place(ctx, Shape{c.w[0]}, c.w[0], b.data(), in_off);
  Placed<T> dy = place<T>(ctx, ys, ny, nullptr, out_off);
  const TensorArg bias = c.spec.has_bias() ? TensorArg(TensorView<const T>(db.view)) : TensorArg();
  const TensorView<const T> xv = dx.view, wv = dw.view;
  if (v)
    detail::run_direct_variant(ctx, c.spec, xv, wv, bias, dy.view, *v);
  else
    conv(ctx, c.spec, xv, wv, bias, dy.view, a);
  const HostTensor<T> all = dy.buf.to_host();
  HostTensor<T> got(ys);
  std::memcpy(got.data(), all.data() + out_off, ny * sizeof(T));
  EXPECT_TRUE(compare(got, want, nullptr, 0.0));
  std::int64_t touched = 0;
  for (std::int64_t i = 0; i < out_off; ++i) touched += !is_poison(all[i]);
  for (std::int64_t i = out_off + ny; i < all.numel(); ++i) touched += !is_poison(all[i]);
  EXPECT_EQ(touched, 0) << "elements outside the offset output were written";
}

template <class T>
void check_offsets() {
  Context ctx;
  for (const Case& c : cases()) {
    const ConvProblem p = c.spec.problem(c.x, c.w);
    const HostTensor<T> x = random_ints<T>(c.x, 11), w = random_ints<T>(c.w, 12),
                        b = random_ints<T>(Shape{c.w[0]}, 13);
    const Expected<T> e = expected_output(c.spec, x, w, c.spec.has_bias() ? &b : nullptr);
    struct Run {
      Algorithm a;
      std::optional<DirectVariant> v;
      std::string name;
    };
    std::vector<Run> runs{{Algorithm::Direct, std::nullopt, "Direct (selected)"}};
    for (DirectVariant v : detail::kDirectVariants)
      if (detail::direct::direct_applies(v, p, sizeof(T)))
        runs.push_back({Algorithm::Direct, v, std::string("Direct/") + detail::direct_variant_name(v)});
    for (Algorithm a : {Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
      const Support s = supports(c.spec, c.x, c.w, dtype_v<T>, a);
      if (s.ok)
        runs.push_back({a, std::nullopt, algorithm_name(a)});
      else
        ADD_FAILURE() << c.name << ": " << algorithm_name(a) << " does not support the case: " << s.reason;
    }
    for (const Run& r : runs)
      for (int off : {0, 1, 2, 3})
        for (auto [in_off, out_off] : {std::pair{off, off}, std::pair{0, off}, std::pair{off, 0}}) {
          if (off == 0 && (in_off != 0 || out_off != 0)) continue;
          SCOPED_TRACE(c.name + " " + dtype_name(dtype_v<T>) + " " + r.name + " inputs +" +
                       std::to_string(in_off) + " output +" + std::to_string(out_off));
          run_one(ctx, c, x, w, b, e.y, r.a, r.v, in_off, out_off);
        }
  }
}

TEST(OffsetViewsGpu, EveryAlgorithmOnElementAlignedViewsF32) {
  CONVKIT_REQUIRE_GPU();
  check_offsets<float>();
}

TEST(OffsetViewsGpu, EveryAlgorithmOnElementAlignedViewsF64) {
  CONVKIT_REQUIRE_GPU();
  check_offsets<double>();
}

// A ConvPlan (the Toeplitz matrix built once, weights refreshed) run on
// offset inputs and outputs, and its transposed convolution too.
TEST(OffsetViewsGpu, SparseToeplitzPlanOnOffsetViews) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape xs{3, 2, 12, 16}, ws{4, 2, 3, 3};
  const HostTensor<float> x = random_ints<float>(xs, 21), w = random_ints<float>(ws, 22);
  const Expected<float> e = expected_output<float>(spec, x, w, nullptr);
  const Shape ys = spec.output_shape(xs, ws);
  ConvPlan plan(ctx, spec, xs, ws, DType::F32, Algorithm::SparseToeplitz);
  for (int off : {1, 2, 3}) {
    SCOPED_TRACE("offset " + std::to_string(off));
    Placed<float> dw = place(ctx, ws, w.numel(), w.data(), off);
    Placed<float> dx = place(ctx, xs, x.numel(), x.data(), off);
    Placed<float> dy = place<float>(ctx, ys, ys.numel(), nullptr, (off + 1) % 4);
    plan.set_weights(TensorView<const float>(dw.view));
    plan.run(TensorView<const float>(dx.view), dy.view);
    const HostTensor<float> all = dy.buf.to_host();
    HostTensor<float> got(ys);
    std::memcpy(got.data(), all.data() + (off + 1) % 4, ys.numel() * sizeof(float));
    EXPECT_TRUE(compare(got, e.y, nullptr, 0.0));
    // dx = Tᵀ·dy, from the offset output into an offset input buffer.
    HostTensor<float> want_dx(xs);
    reference::conv_transpose(spec, got.view(), w.view(), want_dx.view());
    Placed<float> ddx = place<float>(ctx, xs, xs.numel(), nullptr, 3 - off + 1);
    plan.run_transpose(TensorView<const float>(dy.view), ddx.view);
    const HostTensor<float> dall = ddx.buf.to_host();
    HostTensor<float> got_dx(xs);
    std::memcpy(got_dx.data(), dall.data() + (3 - off + 1), xs.numel() * sizeof(float));
    EXPECT_TRUE(compare(got_dx, want_dx, nullptr, 0.0));
  }
}

}  // namespace
}  // namespace convkit::test
