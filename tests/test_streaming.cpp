// StreamingConv on the host (the CPU reference runs each push): any sequence
// of chunk lengths gives exactly the one-shot conv() of the concatenated
// signal with the causal padding (dil·(k−1), 0); a given history gives the
// one-shot conv of [history | signal]; reset() and zero_history() start
// over; bad arguments are refused with messages naming the parameter, and
// leave the outputs and the history as they were.
#include "harness.hpp"
#include "streaming_cases.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace convkit::test {
namespace {

// The host table has a five-tap thermometer and a short, widely dilated last case.
const std::vector<StreamCase>& stream_cases() {
  static const std::vector<StreamCase> cases =
      stream_case_table({"thermometer k5", 1, 1, 1, 1, 5, 1, false, Mode::Convolution},
                        {"k2 dil5 bias conv", 1, 2, 2, 1, 2, 5, true, Mode::Convolution});
  return cases;
}

template <class T>
bool all_nan(const HostTensor<T>& t) {
  for (std::int64_t i = 0; i < t.numel(); ++i)
    if (!std::isnan(t[i])) return false;
  return true;
}

template <class T>
HostTensor<T> copy_history(const StreamingConv& s) {
  const TensorArg h = s.history();
  HostTensor<T> out(h.shape);
  if (out.numel()) std::memcpy(out.data(), h.data, out.numel() * sizeof(T));
  return out;
}

// Pushes x in chunks of the given lengths (y poisoned first) and returns the
// outputs concatenated.
template <class T>
HostTensor<T> push_all(StreamingConv& s, const HostTensor<T>& x, const std::vector<std::int64_t>& chunks) {
  const std::int64_t N = x.shape()[0], T_len = x.shape()[2];
  HostTensor<T> y = nan_filled<T>({N, s.out_channels(), T_len});
  std::int64_t at = 0;
  for (std::int64_t len : chunks) {
    const HostTensor<T> xc = slice(x, at, len);
    HostTensor<T> yc = nan_filled<T>({N, s.out_channels(), len});
    s.push(xc.view(), yc.view());
    for (std::int64_t r = 0; r < N * s.out_channels(); ++r)
      for (std::int64_t t = 0; t < len; ++t) y[r * T_len + at + t] = yc[r * len + t];
    at += len;
  }
  return y;
}

// The one-shot result: the causal conv of the whole signal.
template <class T>
HostTensor<T> one_shot(const StreamCase& c, const HostTensor<T>& x, const HostTensor<T>& w, const HostTensor<T>& b) {
  HostTensor<T> y({x.shape()[0], c.K, x.shape()[2]});
  if (c.bias)
    reference::conv(causal_spec(c), x.view(), w.view(), b.view(), y.view());
  else
    reference::conv(causal_spec(c), x.view(), w.view(), y.view());
  return y;
}

template <class T>
StreamingConv make_stream(Context& ctx, const StreamCase& c, const Operands<T>& o) {
  if (c.bias) return StreamingConv(ctx, causal_spec(c), o.w.view(), o.b.view(), Algorithm::Auto, c.N);
  return StreamingConv(ctx, causal_spec(c), o.w.view(), Algorithm::Auto, c.N);
}

template <class T>
class Streaming : public ::testing::Test {};
using StreamTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Streaming, StreamTypes);

TYPED_TEST(Streaming, AnyChunkingEqualsTheOneShotConvExactly) {
  using T = TypeParam;
  Context ctx;
  std::uint64_t seed = 100;
  for (const StreamCase& c : stream_cases()) {
    for (std::int64_t T_len : {1, 2, 37, 150}) {
      SCOPED_TRACE(::testing::Message() << c.name << ", " << T_len << " samples");
      const Operands<T> o = int_operands<T>(c, T_len, seed += 7);
      const HostTensor<T> want = one_shot(c, o.x, o.w, o.b);
      std::vector<std::vector<std::int64_t>> sequences = {
          std::vector<std::int64_t>(std::size_t(T_len), 1),  // one sample at a time
          {T_len},                                            // all at once
      };
      for (std::uint64_t r = 0; r < 4; ++r) sequences.push_back(random_chunks(T_len, c.h(), seed + r));
      for (const auto& chunks : sequences) {
        StreamingConv s = make_stream(ctx, c, o);
        EXPECT_EQ(s.history_length(), c.h());
        EXPECT_EQ(s.algorithm_for(1), Algorithm::Reference);
        EXPECT_TRUE(compare(push_all(s, o.x, chunks), want, nullptr, 0.0)) << chunks.size() << " chunks";
        EXPECT_EQ(s.samples_pushed(), T_len);
        // The history is the signal's last h samples (zeros before it).
        const HostTensor<T> zeros({c.N, c.C, c.h()});
        const HostTensor<T> padded = concat(zeros, o.x);
        EXPECT_TRUE(compare(copy_history<T>(s), slice(padded, T_len, c.h()), nullptr, 0.0));
      }
    }
  }
}

TYPED_TEST(Streaming, GivenHistoryEqualsTheOneShotConvOfHistoryThenSignal) {
  using T = TypeParam;
  Context ctx;
  std::uint64_t seed = 500;
  for (const StreamCase& c : stream_cases()) {
    SCOPED_TRACE(c.name);
    const std::int64_t T_len = 61;
    const Operands<T> o = int_operands<T>(c, T_len, seed += 11);
    const HostTensor<T> past = random_ints<T>({c.N, c.C, c.h()}, seed + 5, -9, 9);
    const HostTensor<T> whole = concat(past, o.x);
    const HostTensor<T> want = slice(one_shot(c, whole, o.w, o.b), c.h(), T_len);
    StreamingConv s = make_stream(ctx, c, o);
    s.set_history(past.view());
    EXPECT_TRUE(compare(copy_history<T>(s), past, nullptr, 0.0));
    EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), seed)), want, nullptr, 0.0));
    EXPECT_TRUE(compare(copy_history<T>(s), slice(whole, T_len, c.h()), nullptr, 0.0));
  }
}

TYPED_TEST(Streaming, ResetStartsOverFromZerosOrTheGivenHistory) {
  using T = TypeParam;
  Context ctx;
  const StreamCase c = stream_cases()[3];  // groups, dilation, bias
  const std::int64_t T_len = 40;
  const Operands<T> o = int_operands<T>(c, T_len, 900);
  const HostTensor<T> from_zeros = one_shot(c, o.x, o.w, o.b);
  const HostTensor<T> past = random_ints<T>({c.N, c.C, c.h()}, 905);
  const HostTensor<T> from_past = slice(one_shot(c, concat(past, o.x), o.w, o.b), c.h(), T_len);
  ASSERT_FALSE(compare(from_zeros, from_past, nullptr, 0.0)) << "the two starts must differ for this test to mean anything";

  StreamingConv s = make_stream(ctx, c, o);
  EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), 1)), from_zeros, nullptr, 0.0));
  s.reset();
  EXPECT_EQ(s.samples_pushed(), 0);
  EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), 2)), from_zeros, nullptr, 0.0));
  s.set_history(past.view());
  EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), 3)), from_past, nullptr, 0.0));
  s.reset();  // back to the given history
  EXPECT_TRUE(compare(copy_history<T>(s), past, nullptr, 0.0));
  EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), 4)), from_past, nullptr, 0.0));
  s.zero_history();
  EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), 5)), from_zeros, nullptr, 0.0));
  s.reset();  // zeros again: zero_history() forgot the given start
  EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), 6)), from_zeros, nullptr, 0.0));
  // history() itself is a valid history to continue from.
  s.set_history(s.history());
  EXPECT_TRUE(compare(copy_history<T>(s), slice(concat(HostTensor<T>({c.N, c.C, c.h()}), o.x), T_len, c.h()),
                      nullptr, 0.0));
}

// Boundary::Replicate extends the signal to the left with its first sample:
// a history of that sample repeated gives the same outputs.
TYPED_TEST(Streaming, FirstSampleRepeatedAsHistoryEqualsTheReplicateBoundary) {
  using T = TypeParam;
  Context ctx;
  for (const StreamCase& c : stream_cases()) {
    SCOPED_TRACE(c.name);
    const std::int64_t T_len = 45;
    const Operands<T> o = int_operands<T>(c, T_len, 2024 + c.k);
    HostTensor<T> want({c.N, c.K, T_len});
    const ConvSpec replicate = causal_spec(c).boundary(Boundary::Replicate);
    reference::conv(replicate, o.x.view(), o.w.view(), c.bias ? TensorArg(o.b.view()) : TensorArg(), want.view());
    HostTensor<T> first({c.N, c.C, c.h()});
    for (std::int64_t r = 0; r < c.N * c.C; ++r)
      for (std::int64_t t = 0; t < c.h(); ++t) first[r * c.h() + t] = o.x[r * T_len];
    StreamingConv s = make_stream(ctx, c, o);
    s.set_history(first.view());
    EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), 99)), want, nullptr, 0.0));
  }
}

// An oracle independent of the reference: the formula of the header, the
// kernel indexed by age (Convolution) or by reversed age (CrossCorrelation).
TYPED_TEST(Streaming, KernelIsIndexedByAgeUnderConvolutionAndReversedAgeUnderCrossCorrelation) {
  using T = TypeParam;
  Context ctx;
  for (Mode mode : {Mode::Convolution, Mode::CrossCorrelation}) {
    SCOPED_TRACE(mode_name(mode));
    const StreamCase c{"formula", 1, 3, 4, 1, 4, 2, true, mode};
    const std::int64_t T_len = 30;
    const Operands<T> o = int_operands<T>(c, T_len, 1234 + int(mode));
    HostTensor<T> want({1, c.K, T_len});
    for (std::int64_t k = 0; k < c.K; ++k)
      for (std::int64_t t = 0; t < T_len; ++t) {
        double acc = o.b[k];
        for (std::int64_t ch = 0; ch < c.C; ++ch)
          for (std::int64_t a = 0; a < c.k; ++a) {
            const std::int64_t src = t - a * c.dil;
            if (src < 0) continue;
            const std::int64_t tap = mode == Mode::Convolution ? a : c.k - 1 - a;
            acc += double(o.w[(k * c.C + ch) * c.k + tap]) * double(o.x[ch * T_len + src]);
          }
        want[k * T_len + t] = T(acc);
      }
    StreamingConv s = make_stream(ctx, c, o);
    EXPECT_TRUE(compare(push_all(s, o.x, random_chunks(T_len, c.h(), 77)), want, nullptr, 0.0));
  }
}

TYPED_TEST(Streaming, EmptyChunkIsANoOp) {
  using T = TypeParam;
  Context ctx;
  const StreamCase c = stream_cases()[2];
  const Operands<T> o = int_operands<T>(c, 20, 42);
  const HostTensor<T> want = one_shot(c, o.x, o.w, o.b);
  StreamingConv s = make_stream(ctx, c, o);
  HostTensor<T> y = push_all(s, slice(o.x, 0, 9), {4, 5});
  const HostTensor<T> before = copy_history<T>(s);
  const HostTensor<T> empty({c.N, c.C, 0});
  HostTensor<T> y_empty({c.N, c.K, 0});
  s.push(empty.view(), y_empty.view());
  EXPECT_EQ(s.push(empty).shape(), (Shape{c.N, c.K, 0}));
  EXPECT_EQ(s.samples_pushed(), 9);
  EXPECT_TRUE(compare(copy_history<T>(s), before, nullptr, 0.0));
  const HostTensor<T> rest = s.push(slice(o.x, 9, 11));  // the allocating form
  EXPECT_TRUE(compare(concat(y, rest), want, nullptr, 0.0));
}

template <class F>
void expect_error(F&& f, Status status, std::initializer_list<const char*> parts) {
  try {
    f();
    ADD_FAILURE() << "expected convkit::Error(" << status_name(status) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    for (const char* p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "message \"" << e.what() << "\" lacks \"" << p
                                                                  << "\"";
  }
}

TYPED_TEST(Streaming, BadChunksAreRefusedAndLeaveOutputsAndHistoryAsTheyWere) {
  using T = TypeParam;
  using Other = std::conditional_t<std::is_same_v<T, float>, double, float>;
  Context ctx;
  const StreamCase c = stream_cases()[2];  // N 2, C 3, K 4, h 4
  const std::int64_t T_len = 25;
  const Operands<T> o = int_operands<T>(c, T_len, 3030);
  const HostTensor<T> want = one_shot(c, o.x, o.w, o.b);
  StreamingConv s = make_stream(ctx, c, o);
  const HostTensor<T> first = push_all(s, slice(o.x, 0, 10), {3, 7});
  const HostTensor<T> hist = copy_history<T>(s);
  const HostTensor<T> xc = slice(o.x, 10, 5);
  HostTensor<T> y = nan_filled<T>({c.N, c.K, 5});
  const auto check_untouched = [&] {
    EXPECT_TRUE(all_nan(y)) << "y was written by a refused push";
    EXPECT_TRUE(compare(copy_history<T>(s), hist, nullptr, 0.0)) << "the history changed on a refused push";
    EXPECT_EQ(s.samples_pushed(), 10);
  };

  const HostTensor<T> wrong_c = random_ints<T>({c.N, c.C + 1, 5}, 1);
  expect_error([&] { s.push(wrong_c.view(), y.view()); }, Status::InvalidArgument, {"x shape = [2, 4, 5]", "[2, 3, L]"});
  check_untouched();
  const HostTensor<T> wrong_n = random_ints<T>({1, c.C, 5}, 2);
  expect_error([&] { s.push(wrong_n.view(), y.view()); }, Status::InvalidArgument, {"x shape = [1, 3, 5]"});
  check_untouched();
  const HostTensor<T> rank2 = random_ints<T>({c.C, 5}, 3);
  expect_error([&] { s.push(rank2.view(), y.view()); }, Status::InvalidArgument, {"x shape = [3, 5]"});
  check_untouched();
  const HostTensor<Other> other = random_ints<Other>({c.N, c.C, 5}, 4);
  expect_error([&] { s.push(other.view(), y.view()); }, Status::InvalidArgument,
               {"x dtype = ", dtype_name(dtype_v<Other>), dtype_name(dtype_v<T>)});
  check_untouched();
  HostTensor<T> y_short = nan_filled<T>({c.N, c.K, 4});
  expect_error([&] { s.push(xc.view(), y_short.view()); }, Status::InvalidArgument, {"y shape = [2, 4, 4]", "[2, 4, 5]"});
  EXPECT_TRUE(all_nan(y_short));
  check_untouched();
  expect_error([&] { s.push(xc.view(), TensorView<const T>::host(y.data(), y.shape())); }, Status::InvalidArgument,
               {"y is a view of const data"});
  check_untouched();
  expect_error([&] { s.push(TensorView<const T>::device(xc.data(), xc.shape()), y.view()); }, Status::InvalidArgument,
               {"x is a device view", "host"});
  check_untouched();
  expect_error([&] { s.push(TensorView<const T>::host(nullptr, xc.shape()), y.view()); }, Status::InvalidArgument,
               {"x is a null pointer"});
  check_untouched();
  expect_error([&] { s.push(xc.view(), TensorArg()); }, Status::InvalidArgument, {"y is missing"});
  check_untouched();
  {  // y over x: one buffer holding both
    HostTensor<T> buf = nan_filled<T>({c.N * c.K * 5 + 7});
    const auto xo = TensorView<const T>::host(buf.data(), xc.shape());
    expect_error([&] { s.push(xo, TensorView<T>::host(buf.data() + 3, y.shape())); }, Status::InvalidArgument,
                 {"y overlaps x"});
    check_untouched();
  }
  HostTensor<T> bad_hist = random_ints<T>({c.N, c.C, c.h() + 1}, 5);
  expect_error([&] { s.set_history(bad_hist.view()); }, Status::InvalidArgument, {"history shape = [2, 3, 5]", "[2, 3, 4]"});
  check_untouched();
  expect_error([&] { s.algorithm_for(0); }, Status::InvalidArgument, {"chunk length L = 0"});

  // Nothing was disturbed: the stream carries on exactly.
  const HostTensor<T> rest = push_all(s, slice(o.x, 10, T_len - 10), {5, 1, 9});
  EXPECT_TRUE(compare(concat(first, rest), want, nullptr, 0.0));
}

TEST(StreamingSetup, BadSpecsWeightsAndAlgorithmsAreRefusedNamingTheParameter) {
  Context ctx;
  const HostTensor<float> w = random_ints<float>({3, 2, 4}, 9);  // K 3, C/G 2, k 4
  const HostTensor<float> b = random_ints<float>({3}, 10);
  const auto causal = [] { return ConvSpec::conv1d().padding(Padding::per_dim({{3, 0}})); };
  expect_error([&] { (void)StreamingConv(ctx, causal().stride(2), w.view()); }, Status::NotSupported,
               {"stride = 2", "stride 1"});
  expect_error([&] { (void)StreamingConv(ctx, causal().boundary(Boundary::Replicate), w.view()); }, Status::InvalidArgument,
               {"boundary = replicate", "set_history"});
  expect_error([&] { (void)StreamingConv(ctx, ConvSpec::conv1d(), w.view()); }, Status::InvalidArgument,
               {"padding", "(0, 0)", "(3, 0)"});
  expect_error([&] { (void)StreamingConv(ctx, ConvSpec::conv1d().padding(Padding::same()), w.view()); },
               Status::InvalidArgument, {"padding", "(3, 0)"});
  expect_error([&] { (void)StreamingConv(ctx, causal().dilation(2), w.view()); }, Status::InvalidArgument,
               {"padding", "(6, 0)"});
  expect_error([&] { (void)StreamingConv(ctx, ConvSpec::conv2d(), w.view()); }, Status::InvalidArgument, {"dims = 2"});
  expect_error([&] { (void)StreamingConv(ctx, causal().bias(true), w.view()); }, Status::InvalidArgument,
               {"bias is missing"});
  expect_error([&] { (void)StreamingConv(ctx, causal(), w.view(), b.view()); }, Status::InvalidArgument, {"bias given"});
  expect_error([&] { (void)StreamingConv(ctx, causal().groups(2), w.view()); }, Status::InvalidArgument,
               {"groups = 2", "K = 3"});
  expect_error([&] { (void)StreamingConv(ctx, causal(), w.view(), Algorithm::Auto, 0); }, Status::InvalidArgument,
               {"batch = 0"});
  expect_error([&] { (void)StreamingConv(ctx, causal(), w.view(), Algorithm::Direct); }, Status::InvalidArgument,
               {"algorithm = Direct", "host"});
  const HostTensor<float> w2 = random_ints<float>({3, 4}, 11);
  expect_error([&] { (void)StreamingConv(ctx, causal(), w2.view()); }, Status::InvalidArgument, {"w shape = [3, 4]"});
  expect_error([&] { (void)StreamingConv(ctx, causal(), TensorArg()); }, Status::InvalidArgument, {"w is missing"});
  // The good spec is accepted, Auto or Reference, with C = w[1]·G channels.
  StreamingConv ok(ctx, causal(), w.view(), Algorithm::Reference, 2);
  EXPECT_EQ(ok.channels(), 2);
  EXPECT_EQ(ok.out_channels(), 3);
  EXPECT_EQ(ok.batch(), 2);
  EXPECT_EQ(ok.history().shape, (Shape{2, 2, 3}));
  EXPECT_EQ(ok.location(), Location::Host);
  EXPECT_EQ(ok.dtype(), DType::F32);
  EXPECT_EQ(ok.push_spec().padding(), Padding::valid());
}

// Device weights make a device stream: Reference is refused there, and
// without a device the constructor says NoDevice before touching the weights
// (the pointer here is never dereferenced).
TEST(StreamingSetup, DeviceWeightsNeedAGpuAlgorithmAndADevice) {
  Context ctx;
  float fake[8] = {};
  const auto wd = TensorView<const float>::device(fake, {1, 1, 8});
  const ConvSpec spec = ConvSpec::conv1d().padding(Padding::per_dim({{7, 0}}));
  expect_error([&] { (void)StreamingConv(ctx, spec, wd, Algorithm::Reference); }, Status::InvalidArgument,
               {"algorithm = Reference", "host"});
  const HostTensor<float> b = random_ints<float>({1}, 3);
  expect_error([&] { (void)StreamingConv(ctx, ConvSpec(spec).bias(true), wd, b.view()); }, Status::InvalidArgument,
               {"bias is a host view"});
  if (device_available()) GTEST_SKIP() << "a CUDA device is present: the NoDevice case cannot be seen here";
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct}) {
    SCOPED_TRACE(algorithm_name(a));
    expect_error([&] { (void)StreamingConv(ctx, spec, wd, a); }, Status::NoDevice, {});
  }
}

TEST(StreamingSetup, WeightsAreCopiedAtConstruction) {
  Context ctx;
  const StreamCase c = stream_cases()[0];
  Operands<double> o = int_operands<double>(c, 30, 77);
  const HostTensor<double> want = one_shot(c, o.x, o.w, o.b);
  StreamingConv s = make_stream(ctx, c, o);
  for (std::int64_t i = 0; i < o.w.numel(); ++i) o.w[i] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(compare(push_all(s, o.x, {7, 23}), want, nullptr, 0.0));
}

TEST(StreamingSetup, MovedFromIsRefusedAndMovedToCarriesOn) {
  Context ctx;
  const StreamCase c = stream_cases()[2];
  const Operands<float> o = int_operands<float>(c, 20, 55);
  const HostTensor<float> want = one_shot(c, o.x, o.w, o.b);
  StreamingConv a = make_stream(ctx, c, o);
  const HostTensor<float> head = push_all(a, slice(o.x, 0, 6), {6});
  StreamingConv b = std::move(a);
  const HostTensor<float> tail = push_all(b, slice(o.x, 6, 14), {1, 13});
  EXPECT_TRUE(compare(concat(head, tail), want, nullptr, 0.0));
  HostTensor<float> y({c.N, c.K, 1});
  const HostTensor<float> x1 = slice(o.x, 0, 1);
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is what is tested
  expect_error([&] { a.push(x1.view(), y.view()); }, Status::InvalidArgument, {"push", "used after move"});
  expect_error([&] { a.reset(); }, Status::InvalidArgument, {"reset", "used after move"});
  expect_error([&] { (void)a.history(); }, Status::InvalidArgument, {"history", "used after move"});
  a = std::move(b);
  EXPECT_EQ(a.samples_pushed(), 20);
}

}  // namespace
}  // namespace convkit::test
