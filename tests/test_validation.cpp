// Argument validation: every bad input is a convkit::Error with the right
// Status and a message naming the parameter, raised the same way by every
// entry point (reference::conv, convkit::conv with each algorithm,
// ConvSpec::output_shape, supports, workspace_bytes, ConvPlan) and before
// anything the caller owns is written. The GPU entry points validate before
// any device work, so on a machine without a GPU a bad call is still
// InvalidArgument, never NoDevice; "device" views here wrap host buffers that
// are never dereferenced.
#include "harness.hpp"
#include "validate.hpp"

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

constexpr std::int64_t kP62 = std::int64_t(1) << 62;
constexpr std::int64_t kP32 = std::int64_t(1) << 32;

// Succeeds when f throws a convkit::Error with `status` whose message holds
// every needle; otherwise says what happened instead.
template <class F>
::testing::AssertionResult throws_with(F&& f, Status status, std::initializer_list<std::string> needles) {
  try {
    f();
  } catch (const Error& e) {
    const std::string what = e.what();
    if (e.status() != status)
      return ::testing::AssertionFailure() << "status " << status_name(e.status()) << ", expected "
                                           << status_name(status) << ": " << what;
    for (const std::string& n : needles)
      if (what.find(n) == std::string::npos)
        return ::testing::AssertionFailure() << "message lacks \"" << n << "\": " << what;
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-convkit exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// The caller's memory: inputs hold data, outputs a sentinel. Big enough for
// every valid shape below (shapes of rejected calls may claim more; the
// library never touches those).
constexpr std::size_t kBuf = 4096;
constexpr float kSentinel = -12345.f;

struct Buffers {
  std::vector<float> x, w, b, y;
  std::vector<double> xd, wd, bd, yd;
  Buffers() : x(kBuf), w(kBuf), b(kBuf), y(kBuf, kSentinel), xd(kBuf), wd(kBuf), bd(kBuf), yd(kBuf, kSentinel) {
    for (std::size_t i = 0; i < kBuf; ++i) {
      x[i] = xd[i] = float(int(i % 7) - 3);
      w[i] = wd[i] = float(int(i % 5) - 2);
      b[i] = bd[i] = float(int(i % 3) + 1);
    }
  }
  bool same_as(const Buffers& o) const {
    return x == o.x && w == o.w && b == o.b && y == o.y && xd == o.xd && wd == o.wd && bd == o.bd && yd == o.yd;
  }
};

struct Args {
  TensorArg x, w, b, y;
};

// f32 host views of the buffers with the given shapes (no bias when bs is empty).
Args host_args(Buffers& buf, const Shape& xs, const Shape& ws, const Shape& ys, const Shape& bs = Shape()) {
  Args a;
  a.x = TensorView<const float>::host(buf.x.data(), xs);
  a.w = TensorView<const float>::host(buf.w.data(), ws);
  a.y = TensorView<float>::host(buf.y.data(), ys);
  if (bs.rank() > 0) a.b = TensorView<const float>::host(buf.b.data(), bs);
  return a;
}

Args on_device(Args a) {
  for (TensorArg* t : {&a.x, &a.w, &a.b, &a.y})
    if (t->present) t->location = Location::Device;
  return a;
}

// Every tensor-taking entry point rejects the call with InvalidArgument and
// the needles, and leaves all buffers as they were.
void expect_call_rejected(const ConvSpec& spec, const Args& host, Buffers& buf,
                          std::initializer_list<std::string> needles) {
  const Buffers before = buf;
  const Status bad = Status::InvalidArgument;
  Context ctx;  // touches no device
  EXPECT_TRUE(throws_with(
      [&] {
        if (host.b.present)
          reference::conv(spec, host.x, host.w, host.b, host.y);
        else
          reference::conv(spec, host.x, host.w, host.y);
      },
      bad, needles))
      << "reference::conv, " << spec;
  EXPECT_TRUE(throws_with([&] { conv(ctx, spec, host.x, host.w, host.b, host.y, Algorithm::Reference); }, bad,
                          needles))
      << "conv(Algorithm::Reference), " << spec;
  const Args dev = on_device(host);
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz,
                      Algorithm::Fft}) {
    EXPECT_TRUE(throws_with(
        [&] {
          if (dev.b.present)
            conv(ctx, spec, dev.x, dev.w, dev.b, dev.y, a);
          else
            conv(ctx, spec, dev.x, dev.w, dev.y, a);
        },
        bad, needles))
        << "conv(Algorithm::" << algorithm_name(a) << "), " << spec;
  }
  EXPECT_TRUE(buf.same_as(before)) << "a rejected call wrote caller memory, " << spec;
}

// A problem that is invalid from its shapes alone: the shape-only queries
// reject it too, and so does every call on tensors of those shapes.
void expect_shapes_rejected(const ConvSpec& spec, const Shape& xs, const Shape& ws,
                            std::initializer_list<std::string> needles) {
  const Status bad = Status::InvalidArgument;
  EXPECT_TRUE(throws_with([&] { (void)spec.output_shape(xs, ws); }, bad, needles)) << "output_shape, " << spec;
  EXPECT_TRUE(throws_with([&] { (void)spec.problem(xs, ws); }, bad, needles)) << "problem, " << spec;
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct, Algorithm::SparseToeplitz, Algorithm::Fft,
                      Algorithm::Reference}) {
    EXPECT_TRUE(throws_with([&] { (void)supports(spec, xs, ws, DType::F32, a); }, bad, needles))
        << "supports(" << algorithm_name(a) << "), " << spec;
    EXPECT_TRUE(throws_with([&] { (void)workspace_bytes(spec, xs, ws, DType::F64, a); }, bad, needles))
        << "workspace_bytes(" << algorithm_name(a) << "), " << spec;
  }
  Context ctx;
  for (Algorithm a : {Algorithm::Auto, Algorithm::Im2colGemm})
    EXPECT_TRUE(throws_with([&] { ConvPlan plan(ctx, spec, xs, ws, DType::F32, a); }, bad, needles))
        << "ConvPlan(" << algorithm_name(a) << "), " << spec;
  // The output shape cannot be computed; any y will do, the spec fails first.
  Buffers buf;
  expect_call_rejected(spec, host_args(buf, xs, ws, xs, spec.has_bias() ? Shape{ws[0]} : Shape()), buf, needles);
}

// ---------------------------------------------------------------- spec rules

TEST(Validation, StrideAndDilationMustBePositive) {
  expect_shapes_rejected(ConvSpec::conv2d().stride(0), {1, 1, 8, 8}, {1, 1, 3, 3}, {"stride[0]", "0", ">= 1"});
  expect_shapes_rejected(ConvSpec::conv2d().stride({1, -2}), {1, 1, 8, 8}, {1, 1, 3, 3}, {"stride[1]", "-2"});
  expect_shapes_rejected(ConvSpec::conv1d().dilation(0), {1, 1, 8}, {1, 1, 3}, {"dilation[0]", ">= 1"});
  expect_shapes_rejected(ConvSpec::conv3d().dilation({1, 1, -1}), {1, 1, 8, 8, 8}, {1, 1, 3, 3, 3},
                         {"dilation[2]", "-1"});
}

TEST(Validation, PaddingMustBeNonNegative) {
  expect_shapes_rejected(ConvSpec::conv2d().padding(-1), {1, 1, 8, 8}, {1, 1, 3, 3}, {"padding lo[0]", "-1"});
  expect_shapes_rejected(ConvSpec::conv2d().padding(Padding::per_dim({{0, 0}, {1, -2}})), {1, 1, 8, 8},
                         {1, 1, 3, 3}, {"padding hi[1]", "-2"});
}

TEST(Validation, GroupsMustBePositiveAndDivideChannels) {
  expect_shapes_rejected(ConvSpec::conv2d().groups(0), {1, 4, 8, 8}, {4, 4, 3, 3}, {"groups", "0", ">= 1"});
  expect_shapes_rejected(ConvSpec::conv2d().groups(-2), {1, 4, 8, 8}, {4, 2, 3, 3}, {"groups", "-2"});
  expect_shapes_rejected(ConvSpec::conv2d().groups(2), {1, 3, 8, 8}, {2, 1, 3, 3}, {"groups", "C = 3"});
  expect_shapes_rejected(ConvSpec::conv2d().groups(2), {1, 4, 8, 8}, {3, 2, 3, 3},
                         {"groups", "output channels", "K = 3"});
}

TEST(Validation, WeightChannelsMustBeCOverG) {
  expect_shapes_rejected(ConvSpec::conv2d(), {1, 4, 8, 8}, {2, 3, 3, 3}, {"w.shape[1]", "3", "C/groups"});
  expect_shapes_rejected(ConvSpec::conv2d().groups(2), {1, 4, 8, 8}, {2, 4, 3, 3}, {"w.shape[1]", "4/2"});
}

TEST(Validation, RanksMustAgreeWithEachOtherAndTheSpec) {
  expect_shapes_rejected(ConvSpec::conv2d(), {1, 1, 8}, {1, 1, 3, 3}, {"x rank", "3"});
  expect_shapes_rejected(ConvSpec::conv2d(), {1, 1, 8, 8}, {1, 1, 3}, {"w rank", "3"});
  expect_shapes_rejected(ConvSpec::conv1d(), {1, 1, 8, 8}, {1, 1, 3, 3}, {"x rank", "4"});
  expect_shapes_rejected(ConvSpec::conv3d(), {1, 1, 8, 8}, {1, 1, 3, 3}, {"x rank"});
  expect_shapes_rejected(ConvSpec::conv1d().stride({1, 2}), {1, 1, 8}, {1, 1, 3}, {"stride", "2 values", "1-D"});
  expect_shapes_rejected(ConvSpec::conv3d().dilation({1, 2}), {1, 1, 8, 8, 8}, {1, 1, 3, 3, 3},
                         {"dilation", "2 values", "3-D"});
  expect_shapes_rejected(ConvSpec::conv2d().padding(Padding::per_dim({{1, 1}})), {1, 1, 8, 8}, {1, 1, 3, 3},
                         {"padding", "1 (lo, hi)"});
  expect_shapes_rejected(ConvSpec(4), {1, 1, 8, 8, 8}, {1, 1, 3, 3, 3}, {"dims", "4"});
  expect_shapes_rejected(ConvSpec(0), {1, 1}, {1, 1}, {"dims", "0"});
}

TEST(Validation, BuildersRejectBadCounts) {
  const Status bad = Status::InvalidArgument;
  EXPECT_TRUE(throws_with([] { ConvSpec::conv2d().stride({1, 1, 1, 1}); }, bad, {"stride", "4 values"}));
  EXPECT_TRUE(throws_with([] { ConvSpec::conv2d().dilation({}); }, bad, {"dilation", "0 values"}));
  EXPECT_TRUE(throws_with([] { (void)Padding::per_dim({}); }, bad, {"padding", "0 (lo, hi)"}));
  EXPECT_TRUE(
      throws_with([] { (void)Padding::per_dim({{0, 0}, {0, 0}, {0, 0}, {0, 0}}); }, bad, {"padding", "4 (lo, hi)"}));
}

TEST(Validation, SizesMustBePositive) {
  expect_shapes_rejected(ConvSpec::conv2d(), {-1, 1, 8, 8}, {1, 1, 3, 3}, {"x.shape[0]", "-1"});
  expect_shapes_rejected(ConvSpec::conv2d(), {1, 0, 8, 8}, {1, 0, 3, 3}, {"x.shape[1]", "(C)"});
  expect_shapes_rejected(ConvSpec::conv2d(), {1, 1, 8, 0}, {1, 1, 3, 3}, {"x.shape[3]", "0"});
  expect_shapes_rejected(ConvSpec::conv2d(), {1, 1, 8, 8}, {0, 1, 3, 3}, {"w.shape[0]", "(K)"});
  expect_shapes_rejected(ConvSpec::conv1d(), {1, 1, 8}, {1, 1, 0}, {"w.shape[2]", "0"});
}

TEST(Validation, KernelLargerThanPaddedInput) {
  // Dilated extent 3*(3-1)+1 = 7 > 5.
  expect_shapes_rejected(ConvSpec::conv2d().dilation(3), {1, 1, 5, 5}, {1, 1, 3, 3},
                         {"spatial dim 0", "dilated size", "7", "padded input", "5"});
  expect_shapes_rejected(ConvSpec::conv1d(), {1, 1, 4}, {1, 1, 5}, {"spatial dim 0", "5", "4"});
  expect_shapes_rejected(ConvSpec::conv2d().padding(Padding::per_dim({{0, 0}, {1, 0}})), {1, 1, 6, 3},
                         {1, 1, 3, 5}, {"spatial dim 1", "padded input", "4"});
  // With enough padding the same kernel fits.
  EXPECT_EQ(ConvSpec::conv1d().padding(1).output_shape({1, 1, 4}, {1, 1, 5}), (Shape{1, 1, 2}));
}

TEST(Validation, SameNeedsStrideOne) {
  expect_shapes_rejected(ConvSpec::conv2d().padding(Padding::same()).stride(2), {1, 1, 8, 8}, {1, 1, 3, 3},
                         {"same", "stride[0]", "2"});
  expect_shapes_rejected(ConvSpec::conv2d().padding(Padding::same()).stride({1, 3}), {1, 1, 8, 8}, {1, 1, 3, 3},
                         {"same", "stride[1]", "3"});
}

TEST(Validation, CircularPadAtMostD) {
  expect_shapes_rejected(ConvSpec::conv1d().padding(5).boundary(Boundary::Circular), {1, 1, 4}, {1, 1, 3},
                         {"circular", "(5, 5)", "D = 4"});
  expect_shapes_rejected(
      ConvSpec::conv2d().padding(Padding::per_dim({{1, 1}, {0, 4}})).boundary(Boundary::Circular), {1, 1, 6, 3},
      {1, 1, 3, 3}, {"circular", "spatial dim 1", "D = 3"});
  // 'full' with k - 1 > D.
  expect_shapes_rejected(ConvSpec::conv1d().padding(Padding::full()).boundary(Boundary::Circular), {1, 1, 3},
                         {1, 1, 5}, {"circular", "(4, 4)"});
  // pad == D is allowed.
  EXPECT_EQ(ConvSpec::conv1d().padding(4).boundary(Boundary::Circular).output_shape({1, 1, 4}, {1, 1, 3}),
            (Shape{1, 1, 10}));
  EXPECT_EQ(ConvSpec::conv1d().padding(Padding::full()).boundary(Boundary::Circular).output_shape({1, 1, 4},
                                                                                                   {1, 1, 5}),
            (Shape{1, 1, 8}));
}

TEST(Validation, ReflectPadBelowD) {
  expect_shapes_rejected(ConvSpec::conv1d().padding(4).boundary(Boundary::Reflect), {1, 1, 4}, {1, 1, 3},
                         {"reflect", "(4, 4)", "D = 4"});
  expect_shapes_rejected(ConvSpec::conv2d().padding(Padding::per_dim({{0, 0}, {3, 0}})).boundary(Boundary::Reflect),
                         {1, 1, 5, 3}, {1, 1, 1, 1}, {"reflect", "spatial dim 1", "D = 3"});
  // 'same' with k = 7 pads 3 on each side: too much for D = 3.
  expect_shapes_rejected(ConvSpec::conv1d().padding(Padding::same()).boundary(Boundary::Reflect), {1, 1, 3},
                         {1, 1, 7}, {"reflect", "(3, 3)"});
  // pad == D - 1 is allowed, and the reference runs it.
  const ConvSpec ok = ConvSpec::conv1d().padding(3).boundary(Boundary::Reflect);
  EXPECT_EQ(ok.output_shape({1, 1, 4}, {1, 1, 3}), (Shape{1, 1, 8}));
  const auto x = random_ints<float>({1, 1, 4}, 1), w = random_ints<float>({1, 1, 3}, 2);
  HostTensor<float> y({1, 1, 8});
  EXPECT_NO_THROW(reference::conv(ok, x.view(), w.view(), y.view()));
  // Replicate has no limit.
  EXPECT_EQ(ConvSpec::conv1d().padding(9).boundary(Boundary::Replicate).output_shape({1, 1, 2}, {1, 1, 3}),
            (Shape{1, 1, 18}));
}

TEST(Validation, SizesThatOverflow64Bits) {
  // Padding 2^62 on both sides: D + lo + hi passes 2^63.
  expect_shapes_rejected(ConvSpec::conv1d().padding(kP62), {1, 1, 8}, {1, 1, 3},
                         {"padding", "4611686018427387904", "overflows 64 bits"});
  // Kernel 2^32 x 2^32: the weight count is 2^64.
  expect_shapes_rejected(ConvSpec::conv2d().padding(kP32), {1, 1, 4, 4}, {1, 1, kP32, kP32},
                         {"w shape", "4294967296", "overflows 64 bits"});
  // Kernel 2^32 with dilation 2^32: the dilated extent overflows.
  expect_shapes_rejected(ConvSpec::conv1d().dilation(kP32), {1, 1, 4}, {1, 1, kP32},
                         {"k[0] = 4294967296", "dilation 4294967296", "overflows 64 bits"});
  // ... and so does 'full' padding of it.
  expect_shapes_rejected(ConvSpec::conv1d().dilation(kP32).padding(Padding::full()), {1, 1, 4}, {1, 1, kP32},
                         {"padding 'full'", "overflows 64 bits"});
  // Output 2^32+5 on each side: the output count overflows.
  expect_shapes_rejected(ConvSpec::conv2d().padding(kP32), {1, 1, 4, 4}, {1, 1, 1, 1},
                         {"y shape", "overflows 64 bits"});
  // Input count 2^64.
  expect_shapes_rejected(ConvSpec::conv1d(), {kP32, kP32, 1}, {1, kP32, 1}, {"x shape", "overflows 64 bits"});
}

// ---------------------------------------------------------------- tensors

TEST(Validation, OutputOfTheWrongShape) {
  Buffers buf;
  const ConvSpec spec = ConvSpec::conv2d();
  expect_call_rejected(spec, host_args(buf, {1, 2, 8, 9}, {3, 2, 3, 3}, {1, 3, 6, 6}), buf,
                       {"y shape", "[1, 3, 6, 6]", "[1, 3, 6, 7]"});
  expect_call_rejected(spec, host_args(buf, {1, 2, 8, 9}, {3, 2, 3, 3}, {1, 3, 42}), buf, {"y shape", "[1, 3, 42]"});
  expect_call_rejected(spec, host_args(buf, {2, 2, 8, 9}, {3, 2, 3, 3}, {1, 3, 6, 7}), buf, {"y shape"});
}

TEST(Validation, NullPointerForNonEmptyTensor) {
  Buffers buf;
  const ConvSpec spec = ConvSpec::conv1d().bias(true);
  Args a = host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6}, {3});
  Args nx = a;
  nx.x.data = nullptr;
  expect_call_rejected(spec, nx, buf, {"x is a null pointer"});
  Args nw = a;
  nw.w.data = nullptr;
  expect_call_rejected(spec, nw, buf, {"w is a null pointer"});
  Args nb = a;
  nb.b.data = nullptr;
  expect_call_rejected(spec, nb, buf, {"bias is a null pointer"});
  Args ny = a;
  ny.y.data = nullptr;
  expect_call_rejected(spec, ny, buf, {"y is a null pointer"});
}

TEST(Validation, DtypesMustMatch) {
  Buffers buf;
  const ConvSpec spec = ConvSpec::conv1d().bias(true);
  const Args a = host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6}, {3});
  Args w64 = a;
  w64.w = TensorView<const double>::host(buf.wd.data(), {3, 2, 3});
  expect_call_rejected(spec, w64, buf, {"w dtype", "f64", "f32"});
  Args y64 = a;
  y64.y = TensorView<double>::host(buf.yd.data(), {1, 3, 6});
  expect_call_rejected(spec, y64, buf, {"y dtype", "f64"});
  Args b64 = a;
  b64.b = TensorView<const double>::host(buf.bd.data(), {3});
  expect_call_rejected(spec, b64, buf, {"bias dtype", "f64"});
  Args x64 = a;
  x64.x = TensorView<const double>::host(buf.xd.data(), {1, 2, 8});
  expect_call_rejected(spec, x64, buf, {"dtype", "must match x dtype f64"});
}

TEST(Validation, BiasPresentExactlyWhenTheSpecSaysSo) {
  Buffers buf;
  expect_call_rejected(ConvSpec::conv1d(), host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6}, {3}), buf,
                       {"bias given", "bias(false)", "bias(true)"});
  expect_call_rejected(ConvSpec::conv1d().bias(true), host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6}), buf,
                       {"bias is missing", "bias(true)"});
  expect_call_rejected(ConvSpec::conv1d().bias(true), host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6}, {4}), buf,
                       {"bias shape", "[4]", "[3]"});
  expect_call_rejected(ConvSpec::conv1d().bias(true), host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6}, {1, 3}), buf,
                       {"bias shape", "[1, 3]"});
}

TEST(Validation, OutputMustNotOverlapAnInput) {
  const ConvSpec spec = ConvSpec::conv2d().bias(true);
  {
    Buffers buf;  // y inside x
    Args a = host_args(buf, {1, 1, 8, 8}, {1, 1, 3, 3}, {1, 1, 6, 6}, {1});
    a.y.data = buf.x.data() + 10;
    expect_call_rejected(spec, a, buf, {"y overlaps x"});
  }
  {
    Buffers buf;  // in place: y == x
    Args a = host_args(buf, {1, 1, 8, 8}, {1, 1, 1, 1}, {1, 1, 8, 8}, {1});
    a.y.data = buf.x.data();
    expect_call_rejected(spec, a, buf, {"y overlaps x"});
  }
  {
    Buffers buf;  // y ends inside w
    Args a = host_args(buf, {1, 1, 8, 8}, {1, 1, 3, 3}, {1, 1, 6, 6}, {1});
    a.w.data = buf.w.data() + 100;
    a.y.data = buf.w.data() + 70;
    expect_call_rejected(spec, a, buf, {"y overlaps w"});
  }
  {
    Buffers buf;  // y covers the bias
    Args a = host_args(buf, {1, 1, 8, 8}, {1, 1, 3, 3}, {1, 1, 6, 6}, {1});
    a.b.data = buf.y.data() + 35;
    expect_call_rejected(spec, a, buf, {"y overlaps bias"});
  }
  {
    // Adjacent but disjoint is fine.
    Buffers buf;
    Args a = host_args(buf, {1, 1, 8, 8}, {1, 1, 3, 3}, {1, 1, 6, 6}, {1});
    a.y.data = buf.x.data() + 64;
    EXPECT_NO_THROW(reference::conv(spec, a.x, a.w, a.b, a.y));
  }
}

TEST(Validation, MissingAndConstTensors) {
  Buffers buf;
  const ConvSpec spec = ConvSpec::conv1d();
  const Args a = host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6});
  Args mx = a;
  mx.x = TensorArg();
  expect_call_rejected(spec, mx, buf, {"x is missing"});
  Args mw = a;
  mw.w = TensorArg();
  expect_call_rejected(spec, mw, buf, {"w is missing"});
  Args my = a;
  my.y = TensorArg();
  expect_call_rejected(spec, my, buf, {"y is missing"});
  Args cy = a;
  cy.y = TensorView<const float>::host(buf.y.data(), {1, 3, 6});
  expect_call_rejected(spec, cy, buf, {"y is a view of const data", "writable"});
}

TEST(Validation, MemoryLocationMustMatchTheEntryPoint) {
  Buffers buf;
  const Buffers before = buf;
  const ConvSpec spec = ConvSpec::conv1d();
  const Args host = host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6});
  const Args dev = on_device(host);
  Context ctx;
  const Status bad = Status::InvalidArgument;
  EXPECT_TRUE(throws_with([&] { reference::conv(spec, dev.x, dev.w, dev.y); }, bad, {"x is a device view", "host"}));
  EXPECT_TRUE(throws_with([&] { conv(ctx, spec, dev.x, dev.w, dev.y, Algorithm::Reference); }, bad,
                          {"device view"}));
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz})
    EXPECT_TRUE(throws_with([&] { conv(ctx, spec, host.x, host.w, host.y, a); }, bad, {"x is a host view", "device"}))
        << algorithm_name(a);
  Args mixed = dev;
  mixed.y = host.y;
  EXPECT_TRUE(throws_with([&] { conv(ctx, spec, mixed.x, mixed.w, mixed.y, Algorithm::Direct); }, bad,
                          {"y is a host view"}));
  EXPECT_TRUE(buf.same_as(before));
}

// ---------------------------------------------------------------- valid edge cases

TEST(Validation, EmptyBatchIsValidEverywhere) {
  Buffers buf;
  const Buffers before = buf;
  const ConvSpec spec = ConvSpec::conv2d().padding(1).bias(true);
  const Args host = host_args(buf, {0, 3, 5, 5}, {4, 3, 3, 3}, {0, 4, 5, 5}, {4});
  EXPECT_EQ(spec.output_shape({0, 3, 5, 5}, {4, 3, 3, 3}), (Shape{0, 4, 5, 5}));
  EXPECT_NO_THROW(reference::conv(spec, host.x, host.w, host.b, host.y));
  Context ctx;
  EXPECT_NO_THROW(conv(ctx, spec, host.x, host.w, host.b, host.y, Algorithm::Reference));
  // The GPU paths accept it as valid: they may still be unbuilt (NotSupported)
  // or lack a device (NoDevice), but never call it an invalid argument.
  const Args dev = on_device(host);
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
    try {
      conv(ctx, spec, dev.x, dev.w, dev.b, dev.y, a);
    } catch (const Error& e) {
      EXPECT_TRUE(e.status() == Status::NotSupported || e.status() == Status::NoDevice)
          << algorithm_name(a) << ": " << e.what();
    }
  }
  EXPECT_TRUE(buf.same_as(before));
}

// Valid input, GPU algorithm: NotSupported while the algorithm is not built,
// NoDevice once it is (this machine has no GPU). Never InvalidArgument.
TEST(Validation, ValidInputOnGpuPathsIsNotSupportedOrNoDevice) {
  if (has_gpu()) GTEST_SKIP() << "a GPU is present: the GPU tests run these paths for real";
  Buffers buf;
  const Buffers before = buf;
  const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same());
  const Args dev = on_device(host_args(buf, {2, 3, 8, 8}, {4, 3, 3, 3}, {2, 4, 8, 8}));
  Context ctx;
  for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz, Algorithm::Fft,
                      Algorithm::Auto}) {
    try {
      conv(ctx, spec, dev.x, dev.w, dev.y, a);
      ADD_FAILURE() << algorithm_name(a) << " ran without a GPU";
    } catch (const Error& e) {
      EXPECT_TRUE(e.status() == Status::NotSupported || e.status() == Status::NoDevice)
          << algorithm_name(a) << ": " << e.what();
    }
    try {
      ConvPlan plan(ctx, spec, {2, 3, 8, 8}, {4, 3, 3, 3}, DType::F32, a);
      ADD_FAILURE() << "ConvPlan(" << algorithm_name(a) << ") was built without a GPU";
    } catch (const Error& e) {
      EXPECT_TRUE(e.status() == Status::NotSupported || e.status() == Status::NoDevice)
          << "ConvPlan(" << algorithm_name(a) << "): " << e.what();
    }
  }
  EXPECT_TRUE(buf.same_as(before));
}

TEST(Validation, QueriesOnValidProblems) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape xs{2, 3, 8, 8}, ws{4, 3, 3, 3};
  const Support ref = supports(spec, xs, ws, DType::F64, Algorithm::Reference);
  EXPECT_TRUE(ref.ok);
  EXPECT_TRUE(ref.reason.empty());
  EXPECT_EQ(workspace_bytes(spec, xs, ws, DType::F32, Algorithm::Reference), 0u);
  // Fft: the forward pass of every spec, the backward passes not (yet).
  const Support fft = supports(spec, xs, ws, DType::F32, Algorithm::Fft);
  EXPECT_TRUE(fft.ok) << fft.reason;
  EXPECT_EQ(fft.variant, "fft/whole+gemm");
  EXPECT_GT(workspace_bytes(spec, xs, ws, DType::F32, Algorithm::Fft), 0u);
  const Support fft_dx = supports(spec, xs, ws, DType::F32, Algorithm::Fft, Direction::BackwardData);
  EXPECT_FALSE(fft_dx.ok);
  EXPECT_FALSE(fft_dx.reason.empty());
  EXPECT_TRUE(throws_with([&] { (void)workspace_bytes(spec, xs, ws, DType::F32, Algorithm::Fft, Direction::BackwardFilter); },
                          Status::NotSupported, {"Fft"}));
  // The other algorithms are being built: either they support this plain
  // problem, or they say why not -- and workspace_bytes agrees with supports.
  for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz, Algorithm::Auto}) {
    const Support s = supports(spec, xs, ws, DType::F32, a);
    if (s.ok) {
      EXPECT_TRUE(s.reason.empty()) << algorithm_name(a);
      EXPECT_NO_THROW((void)workspace_bytes(spec, xs, ws, DType::F32, a)) << algorithm_name(a);
    } else {
      EXPECT_FALSE(s.reason.empty()) << algorithm_name(a);
      EXPECT_TRUE(throws_with([&] { (void)workspace_bytes(spec, xs, ws, DType::F32, a); }, Status::NotSupported, {}))
          << algorithm_name(a);
    }
  }
}

// ---------------------------------------------------------------- transpose and sampling

TEST(Validation, ConvTransposeRejectsBadArguments) {
  const Status bad = Status::InvalidArgument;
  const ConvSpec spec = ConvSpec::conv1d().padding(1);
  std::vector<double> dy(16, 1.0), w(12, 1.0), dx(16, kSentinel);
  const auto dyv = TensorView<const double>::host(dy.data(), {1, 2, 8});
  const auto wv = TensorView<const double>::host(w.data(), {2, 2, 3});
  const auto dxv = TensorView<double>::host(dx.data(), {1, 2, 8});
  const std::vector<double> before = dx;
  EXPECT_TRUE(throws_with(
      [&] { reference::conv_transpose(spec, TensorView<const double>::host(dy.data(), {1, 2, 7}), wv, dxv); }, bad,
      {"dy shape", "[1, 2, 7]"}));
  EXPECT_TRUE(throws_with([&] { reference::conv_transpose(ConvSpec(spec).bias(true), dyv, wv, dxv); }, bad,
                          {"bias"}));
  EXPECT_TRUE(throws_with([&] { reference::conv_transpose(ConvSpec(spec).stride(0), dyv, wv, dxv); }, bad,
                          {"stride[0]"}));
  EXPECT_TRUE(throws_with(
      [&] { reference::conv_transpose(spec, dyv, wv, TensorView<double>::host(dy.data(), {1, 2, 8})); }, bad,
      {"dx overlaps dy"}));
  EXPECT_TRUE(throws_with(
      [&] { reference::conv_transpose(spec, dyv, TensorView<const float>::host(nullptr, {2, 2, 3}), dxv); }, bad,
      {"w dtype"}));
  EXPECT_EQ(dx, before);
  EXPECT_NO_THROW(reference::conv_transpose(spec, dyv, wv, dxv));
}

TEST(Validation, ConvSampledRejectsBadArguments) {
  const Status bad = Status::InvalidArgument;
  const ConvSpec spec = ConvSpec::conv1d();
  std::vector<float> x(8, 1.f), w(6, 1.f);
  const auto xv = TensorView<const float>::host(x.data(), {1, 2, 4});
  const auto wv = TensorView<const float>::host(w.data(), {1, 2, 3});
  std::vector<std::int64_t> idx{0, 2};
  std::vector<double> out(2, -1.0);
  EXPECT_TRUE(throws_with([&] { reference::conv_sampled(spec, xv, wv, TensorArg(), idx.data(), 2, out.data()); },
                          bad, {"flat_indices[1]", "2", "[0, 2)"}));
  EXPECT_TRUE(throws_with([&] { reference::conv_sampled(spec, xv, wv, TensorArg(), idx.data(), -1, out.data()); },
                          bad, {"count", "-1"}));
  EXPECT_TRUE(throws_with([&] { reference::conv_sampled(spec, xv, wv, TensorArg(), nullptr, 1, out.data()); }, bad,
                          {"null"}));
  EXPECT_TRUE(throws_with([&] { reference::conv_sampled(ConvSpec(spec).bias(true), xv, wv, TensorArg(), idx.data(), 1,
                                                        out.data()); },
                          bad, {"bias is missing"}));
  EXPECT_TRUE(throws_with([&] { reference::conv_sampled(ConvSpec::conv1d().dilation(2), xv, wv, TensorArg(),
                                                        idx.data(), 1, out.data()); },
                          bad, {"exceeds the padded input"}));
  EXPECT_EQ(out, std::vector<double>(2, -1.0));
}

// ---------------------------------------------------------------- sizes, memory and address ranges

// A 1-D problem whose output has `out` elements from a single input and tap:
// padding lo = out - 1. The caller's x and w are one element each; y is the
// caller's (small) buffer claiming `out` elements, which is never touched.
ConvSpec huge_output_spec(std::int64_t out) { return ConvSpec::conv1d().padding(Padding::per_dim({{out - 1, 0}})); }

// An element-aligned address for `count` elements of `elem` bytes ending at
// most 16 bytes below `end` (by default the top of the address space, where
// no user memory can be). For views whose data must never be read: the call
// under test fails before touching it.
template <class T>
T* fake_range(std::int64_t count, std::uintptr_t end = ~std::uintptr_t(0)) {
  return reinterpret_cast<T*>((end - std::uintptr_t(count) * sizeof(T)) & ~std::uintptr_t(15));
}

TEST(Validation, ReferenceOutputBeyondHostMemoryIsOutOfMemory) {
  // y has 2^40 + 1 elements: its byte count fits easily, so no arithmetic
  // refuses it; the reference's double accumulator (8 * (2^40 + 1) bytes) is
  // more than any host has and must be OutOfMemory naming the bytes -- refused
  // before allocating, so nothing is touched and the test stays fast.
  const std::int64_t n = (std::int64_t(1) << 40) + 1;
  const ConvSpec spec = huge_output_spec(n);
  Buffers buf;
  const Buffers before = buf;
  Args a = host_args(buf, {1, 1, 1}, {1, 1, 1}, {1, 1, n});
  a.y.data = fake_range<float>(n);
  const std::string bytes = std::to_string(8 * n);
  EXPECT_TRUE(throws_with([&] { reference::conv(spec, a.x, a.w, a.y); }, Status::OutOfMemory,
                          {"reference::conv", bytes, "host memory"}));
  Context ctx;
  EXPECT_TRUE(throws_with([&] { conv(ctx, spec, a.x, a.w, a.y, Algorithm::Reference); }, Status::OutOfMemory,
                          {bytes}));
  EXPECT_TRUE(buf.same_as(before));
  // The transposed reference sizes its accumulator (dx's shape) the same way.
  float* dx = fake_range<float>(n);
  const float* dy = fake_range<float>(n, reinterpret_cast<std::uintptr_t>(dx));
  EXPECT_TRUE(throws_with(
      [&] {
        reference::conv_transpose(ConvSpec::conv1d(), TensorView<const float>::host(dy, {1, 1, n}),
                                  TensorView<const float>::host(buf.w.data(), {1, 1, 1}),
                                  TensorView<float>::host(dx, {1, 1, n}));
      },
      Status::OutOfMemory, {"reference::conv_transpose", bytes}));
}

TEST(Validation, HostTensorBeyondHostMemoryIsOutOfMemory) {
  const std::int64_t n = (std::int64_t(1) << 40) + 1;
  EXPECT_TRUE(throws_with([&] { HostTensor<float> t(Shape{n}); }, Status::OutOfMemory,
                          {"HostTensor", std::to_string(4 * n), "host memory"}));
  EXPECT_TRUE(throws_with([&] { HostTensor<double> t(Shape{std::int64_t(1) << 61}); }, Status::OutOfMemory,
                          {"HostTensor", "host memory"}));
  EXPECT_TRUE(throws_with([&] { HostTensor<double> t(Shape{-1}); }, Status::InvalidArgument, {"HostTensor", "-1"}));
}

TEST(Validation, OutputBytesPastTheAddressSpaceDoNotWrapPastTheOverlapCheck) {
  // 2^61 doubles are 2^64 bytes: an unchecked byte end wraps to y's start, so
  // the range looks empty and y "on top of x" passed the overlap check.
  const std::int64_t n = std::int64_t(1) << 61;
  const ConvSpec spec = huge_output_spec(n);
  Buffers buf;
  const Buffers before = buf;
  const auto x = TensorView<const double>::host(buf.xd.data(), {1, 1, 1});
  const auto w = TensorView<const double>::host(buf.wd.data(), {1, 1, 1});
  const auto y = TensorView<double>::host(buf.xd.data(), {1, 1, n});
  EXPECT_TRUE(throws_with([&] { reference::conv(spec, x, w, y); }, Status::InvalidArgument,
                          {"y shape", std::to_string(n), "overflows the address space"}));
  Context ctx;
  for (Algorithm a : {Algorithm::Reference, Algorithm::Direct, Algorithm::Auto}) {
    TensorArg yd = y, xd = x, wd = w;
    if (a != Algorithm::Reference) yd.location = xd.location = wd.location = Location::Device;
    EXPECT_TRUE(throws_with([&] { conv(ctx, spec, xd, wd, yd, a); }, Status::InvalidArgument, {"y shape"}))
        << algorithm_name(a);
  }
  EXPECT_TRUE(buf.same_as(before));
  // The overlap check itself, on ranges no size check has refused first.
  EXPECT_TRUE(throws_with([&] { detail::check_no_overlap(y, "y", x, "x"); }, Status::InvalidArgument,
                          {"y overlaps x"}));
  const auto above = TensorView<double>::host(buf.xd.data() + 1, {n});  // starts past x, runs off the end
  EXPECT_NO_THROW(detail::check_no_overlap(above, "y", x, "x"));
  const auto below = TensorView<const double>::host(buf.xd.data() + 1, {1});
  EXPECT_TRUE(throws_with([&] { detail::check_no_overlap(y, "y", below, "w"); }, Status::InvalidArgument,
                          {"y overlaps w"}));
}

// An empty batch makes every element count 0, but one image's sizes are
// still used (FLOP counts, matrix sizes): they must fit 64 bits too. Found
// by the spec fuzzer (x = [0, 3, 10, 4621238152432086962]).
TEST(Validation, EmptyBatchStillNeedsOneImageToFit) {
  const std::int64_t huge = 4621238152432086962;
  expect_shapes_rejected(ConvSpec::conv2d(), {0, 3, 10, huge}, {6, 3, 3, 3}, {"x", "one image", "overflows"});
  expect_shapes_rejected(ConvSpec::conv2d(), {0, 1, 3, std::int64_t(1) << 40}, {1 << 23, 1, 1, 1},
                         {"y", "one image", "overflows"});
  EXPECT_NO_THROW(ConvSpec::conv2d().output_shape({0, 3, 10, 4096}, {6, 3, 3, 3}));
}

TEST(Validation, ViewRunningOffTheAddressSpaceIsRejected) {
  Buffers buf;
  // Element-aligned, but its 16 bytes end past the last address.
  auto* top = reinterpret_cast<float*>(~std::uintptr_t(0) - 7);
  Args a = host_args(buf, {1, 1, 4}, {1, 1, 1}, {1, 1, 4});
  a.y.data = top;
  expect_call_rejected(ConvSpec::conv1d(), a, buf, {"y data", "16 bytes", "overflows the address space"});
}

// ---------------------------------------------------------------- per-dimension accessors

TEST(Validation, PerDimensionAccessorsCheckTheirIndex) {
  const Status bad = Status::InvalidArgument;
  const ConvSpec s2 = ConvSpec::conv2d().padding(Padding::full());
  EXPECT_TRUE(throws_with([&] { (void)s2.resolved_padding(5, 3); }, bad, {"resolved_padding", "5", "[0, 2)"}));
  EXPECT_TRUE(throws_with([&] { (void)s2.resolved_padding(-1, 3); }, bad, {"resolved_padding", "-1", "[0, 2)"}));
  EXPECT_TRUE(throws_with([&] { (void)ConvSpec::conv1d().padding(1).resolved_padding(1, 3); }, bad,
                          {"resolved_padding", "1", "[0, 1)"}));
  EXPECT_TRUE(throws_with([&] { (void)ConvSpec(7).resolved_padding(3, 3); }, bad, {"3", "[0, 3)"}));
  EXPECT_TRUE(throws_with([&] { (void)s2.stride_at(2); }, bad, {"stride_at", "2", "[0, 2)"}));
  EXPECT_TRUE(throws_with([&] { (void)ConvSpec::conv3d().dilation_at(3); }, bad, {"dilation_at", "3", "[0, 3)"}));
  EXPECT_TRUE(throws_with([&] { (void)Padding::per_dim({{1, 2}}).lo(1); }, bad, {"Padding::lo", "1", "[0, 1)"}));
  EXPECT_TRUE(throws_with([&] { (void)Padding::uniform(4).hi(3); }, bad, {"Padding::hi", "3", "[0, 3)"}));
  // In range they answer as before.
  EXPECT_EQ(s2.resolved_padding(1, 3), std::make_pair(std::int64_t(2), std::int64_t(2)));
  EXPECT_EQ(ConvSpec::conv3d().stride({1, 2, 3}).stride_at(2), 3);
  EXPECT_EQ(Padding::uniform(4).hi(2), 4);
  // Hashing and comparing never throw, even for specs that would not validate.
  const ConvSpec odd = ConvSpec::conv3d().padding(Padding::per_dim({{1, 1}}));
  EXPECT_NO_THROW((void)odd.hash());
  EXPECT_FALSE(odd == ConvSpec::conv3d());
}

// ---------------------------------------------------------------- enum arguments

TEST(Validation, SpecEnumsOutOfRangeAreInvalidEverywhere) {
  const Shape xs{1, 2, 8, 8}, ws{3, 2, 3, 3};
  expect_shapes_rejected(ConvSpec::conv2d().boundary(static_cast<Boundary>(7)), xs, ws,
                         {"boundary = Boundary(7)", "Zeros", "Replicate"});
  expect_shapes_rejected(ConvSpec::conv2d().mode(static_cast<Mode>(9)), xs, ws,
                         {"mode = Mode(9)", "CrossCorrelation", "Convolution"});
  EXPECT_TRUE(throws_with(
      [&] { (void)toeplitz::info(ConvSpec::conv2d().boundary(static_cast<Boundary>(7)), xs, ws, DType::F32); },
      Status::InvalidArgument, {"Boundary(7)"}));
}

TEST(Validation, DtypeOutOfRangeIsInvalidEverywhere) {
  const ConvSpec spec = ConvSpec::conv2d();
  const Shape xs{1, 2, 8, 8}, ws{3, 2, 3, 3};
  const DType d7 = static_cast<DType>(7);
  const std::initializer_list<std::string> needles{"dtype", "DType(7)", "F32", "F64"};
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz,
                      Algorithm::Fft, Algorithm::Reference}) {
    EXPECT_TRUE(throws_with([&] { (void)supports(spec, xs, ws, d7, a); }, Status::InvalidArgument, needles))
        << algorithm_name(a);
    EXPECT_TRUE(throws_with([&] { (void)workspace_bytes(spec, xs, ws, d7, a); }, Status::InvalidArgument, needles))
        << algorithm_name(a);
    Context ctx;
    EXPECT_TRUE(throws_with([&] { ConvPlan plan(ctx, spec, xs, ws, d7, a); }, Status::InvalidArgument, needles))
        << algorithm_name(a);
  }
  // The queries that size or key a problem without a tensor.
  EXPECT_TRUE(throws_with([&] { (void)toeplitz::info(spec, xs, ws, d7); }, Status::InvalidArgument, needles));
  {
    Context ctx;
    EXPECT_TRUE(
        throws_with([&] { (void)choose_algorithm(ctx, spec, xs, ws, d7); }, Status::InvalidArgument, needles));
    EXPECT_TRUE(throws_with([&] { (void)tuning_key(ctx, spec, xs, ws, d7); }, Status::InvalidArgument, needles));
  }
  EXPECT_TRUE(throws_with(
      [&] { (void)toeplitz::info(spec, xs, ws, DType::F32, static_cast<toeplitz::IndexWidth>(9)); },
      Status::InvalidArgument, {"index_width = 9", "Auto", "I32", "I64"}));
  // Tensor arguments carrying the bad dtype (all of them, so none mismatches).
  Buffers buf;
  Args a = host_args(buf, xs, ws, {1, 3, 6, 6});
  for (TensorArg* t : {&a.x, &a.w, &a.y}) t->dtype = d7;
  expect_call_rejected(spec, a, buf, {"x dtype = DType(7)", "F32"});
  Args only_y = host_args(buf, xs, ws, {1, 3, 6, 6});
  only_y.y.dtype = d7;
  expect_call_rejected(spec, only_y, buf, {"y dtype = DType(7)"});
  // (expect_call_rejected moves every view to the device, so the location
  // enum is checked on both kinds of entry point here.)
  const Buffers before = buf;
  for (Location where : {Location::Host, Location::Device}) {
    Args bad_loc = host_args(buf, xs, ws, {1, 3, 6, 6});
    bad_loc.x.location = bad_loc.y.location = where;
    bad_loc.w.location = static_cast<Location>(5);
    const Algorithm algo = where == Location::Host ? Algorithm::Reference : Algorithm::Direct;
    Context ctx;
    EXPECT_TRUE(throws_with([&] { conv(ctx, spec, bad_loc.x, bad_loc.w, bad_loc.y, algo); },
                            Status::InvalidArgument, {"w location = Location(5)", "Host", "Device"}))
        << algorithm_name(algo);
  }
  EXPECT_TRUE(buf.same_as(before));
  TensorArg dx = TensorView<float>::host(buf.y.data(), xs);
  dx.dtype = d7;
  EXPECT_TRUE(throws_with([&] { reference::conv_transpose(spec, a.y, a.w, dx); }, Status::InvalidArgument,
                          {"dx dtype = DType(7)"}));
}

TEST(Validation, AlgorithmOutOfRangeIsInvalidNotUnsupported) {
  const ConvSpec spec = ConvSpec::conv2d();
  const Shape xs{1, 2, 8, 8}, ws{3, 2, 3, 3};
  const Algorithm a42 = static_cast<Algorithm>(42);
  const std::initializer_list<std::string> needles{"algorithm = Algorithm(42)", "Auto", "Reference"};
  EXPECT_TRUE(throws_with([&] { (void)supports(spec, xs, ws, DType::F32, a42); }, Status::InvalidArgument, needles));
  EXPECT_TRUE(
      throws_with([&] { (void)workspace_bytes(spec, xs, ws, DType::F32, a42); }, Status::InvalidArgument, needles));
  Context ctx;
  EXPECT_TRUE(throws_with([&] { ConvPlan plan(ctx, spec, xs, ws, DType::F32, a42); }, Status::InvalidArgument,
                          needles));
  Buffers buf;
  const Buffers before = buf;
  const Args h = host_args(buf, xs, ws, {1, 3, 6, 6});
  EXPECT_TRUE(throws_with([&] { conv(ctx, spec, h.x, h.w, h.y, a42); }, Status::InvalidArgument, needles));
  const Args d = on_device(h);
  EXPECT_TRUE(throws_with([&] { conv(ctx, spec, d.x, d.w, d.y, a42); }, Status::InvalidArgument, needles));
  EXPECT_TRUE(buf.same_as(before));
}

// ---------------------------------------------------------------- alignment

TEST(Validation, ViewsMustBeAlignedToTheirElementSize) {
  const ConvSpec spec = ConvSpec::conv1d().bias(true);
  Buffers buf;
  const Args a = host_args(buf, {1, 2, 8}, {3, 2, 3}, {1, 3, 6}, {3});
  auto shifted = [](const void* p, int bytes) { return static_cast<const char*>(p) + bytes; };
  for (int off : {1, 2, 3}) {
    Args x = a;
    x.x.data = shifted(buf.x.data(), off);
    expect_call_rejected(spec, x, buf, {"x data", "not aligned", "multiple of 4 bytes"});
    Args w = a;
    w.w.data = shifted(buf.w.data(), off);
    expect_call_rejected(spec, w, buf, {"w data", "not aligned"});
    Args b = a;
    b.b.data = shifted(buf.b.data(), off);
    expect_call_rejected(spec, b, buf, {"bias data", "not aligned"});
    Args y = a;
    y.y.data = shifted(buf.y.data(), off);
    expect_call_rejected(spec, y, buf, {"y data", "not aligned"});
  }
  // A double view 4 bytes into an allocation: aligned for float, not double.
  Args d = a;
  d.x = TensorView<const double>::host(buf.xd.data(), {1, 2, 8});
  d.w = TensorView<const double>::host(buf.wd.data(), {3, 2, 3});
  d.b = TensorView<const double>::host(buf.bd.data(), {3});
  d.y = TensorView<double>::host(buf.yd.data(), {1, 3, 6});
  d.x.data = shifted(buf.xd.data(), 4);
  expect_call_rejected(spec, d, buf, {"x data", "not aligned", "f64", "multiple of 8 bytes"});
}

TEST(Validation, ElementAlignedViewsOffsetFromAnAllocationAreValid) {
  // Views 1, 2, 3 elements into the caller's buffers are element-aligned:
  // the reference computes the same values at any such offset.
  const ConvSpec spec = ConvSpec::conv1d().padding(1).bias(true);
  Buffers buf;
  std::vector<float> want(3 * 8);
  reference::conv(spec, TensorView<const float>::host(buf.x.data(), {1, 2, 8}),
                  TensorView<const float>::host(buf.w.data(), {3, 2, 3}), TensorView<const float>::host(buf.b.data(), {3}),
                  TensorView<float>::host(want.data(), {1, 3, 8}));
  for (int off : {1, 2, 3}) {
    std::vector<float> xs(buf.x.begin(), buf.x.begin() + 16), ws(buf.w.begin(), buf.w.begin() + 18),
        bs(buf.b.begin(), buf.b.begin() + 3);
    xs.insert(xs.begin(), off, 0.f);
    ws.insert(ws.begin(), off, 0.f);
    bs.insert(bs.begin(), off, 0.f);
    std::vector<float> y(off + 24 + 1, kSentinel);
    reference::conv(spec, TensorView<const float>::host(xs.data() + off, {1, 2, 8}),
                    TensorView<const float>::host(ws.data() + off, {3, 2, 3}),
                    TensorView<const float>::host(bs.data() + off, {3}), TensorView<float>::host(y.data() + off, {1, 3, 8}));
    EXPECT_EQ(std::vector<float>(y.begin() + off, y.begin() + off + 24), want) << "offset " << off;
    for (int i = 0; i < off; ++i) EXPECT_EQ(y[i], kSentinel) << "offset " << off;
    EXPECT_EQ(y.back(), kSentinel) << "offset " << off;
  }
}

// ---------------------------------------------------------------- Error itself

TEST(ErrorType, CatchableAsRuntimeErrorWithStatusInTheMessage) {
  try {
    (void)ConvSpec::conv2d().stride(0).output_shape({1, 1, 4, 4}, {1, 1, 3, 3});
    ADD_FAILURE() << "no throw";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("convkit InvalidArgument: ", 0), 0u) << what;
    const auto* ce = dynamic_cast<const Error*>(&e);
    ASSERT_NE(ce, nullptr);
    EXPECT_EQ(ce->status(), Status::InvalidArgument);
  }
  const Error e(Status::WorkspaceTooSmall, "needs 10 bytes");
  EXPECT_EQ(e.status(), Status::WorkspaceTooSmall);
  EXPECT_STREQ(e.what(), "convkit WorkspaceTooSmall: needs 10 bytes");
  const Error copy = e;
  EXPECT_EQ(copy.status(), Status::WorkspaceTooSmall);
  EXPECT_STREQ(copy.what(), e.what());
}

TEST(ErrorType, StatusNamesAreDistinct) {
  const Status all[] = {Status::Success,       Status::InvalidArgument, Status::NotSupported,
                        Status::OutOfMemory,   Status::WorkspaceTooSmall, Status::NoDevice,
                        Status::CudaError,     Status::CublasError,     Status::CusparseError,
                        Status::InternalError};
  const char* want[] = {"Success",  "InvalidArgument", "NotSupported", "OutOfMemory",   "WorkspaceTooSmall",
                        "NoDevice", "CudaError",       "CublasError",  "CusparseError", "InternalError"};
  for (std::size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) EXPECT_STREQ(status_name(all[i]), want[i]);
}

}  // namespace
}  // namespace convkit::test
