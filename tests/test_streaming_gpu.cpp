// StreamingConv on the device: pushes enqueued back to back on the stream
// (nothing waits between them) give exactly the one-shot reference conv of
// the concatenated signal with Algorithm::Direct on small integers; Auto
// stays within the usual tolerance on random floats; Algorithm::Fft runs
// where supports() says it can. Bad arguments leave the device outputs and
// the history as they were.
#include "harness.hpp"
#include "streaming_cases.hpp"

#include <cuda_runtime_api.h>

#include <cmath>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

// The device table has a long thermometer kernel and a wider last case.
const std::vector<StreamCase>& stream_cases() {
  static const std::vector<StreamCase> cases =
      stream_case_table({"thermometer k120", 1, 1, 1, 1, 120, 1, false, Mode::Convolution},
                        {"C8 K16 k5 bias conv", 2, 8, 16, 1, 5, 1, true, Mode::Convolution});
  return cases;
}

// Every chunk pushed before anything is copied back; outputs (NaN-poisoned
// first) concatenated on the host. `algos` receives each chunk's algorithm.
template <class T>
HostTensor<T> push_all(Context& ctx, StreamingConv& s, const HostTensor<T>& x, const std::vector<std::int64_t>& chunks,
                       std::vector<Algorithm>* algos = nullptr) {
  const std::int64_t N = x.shape()[0], T_len = x.shape()[2], K = s.out_channels();
  std::vector<DeviceTensor<T>> xs, ys;
  std::int64_t at = 0;
  for (std::int64_t len : chunks) {
    xs.push_back(DeviceTensor<T>::from_host(ctx, slice(x, at, len)));
    ys.push_back(DeviceTensor<T>::from_host(ctx, nan_filled<T>({N, K, len})));
    if (algos) algos->push_back(s.algorithm_for(len));
    s.push(xs.back().view(), ys.back().view());
    at += len;
  }
  HostTensor<T> y({N, K, T_len});
  at = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const HostTensor<T> yc = ys[i].to_host();
    const std::int64_t len = chunks[i];
    for (std::int64_t r = 0; r < N * K; ++r)
      for (std::int64_t t = 0; t < len; ++t) y[r * T_len + at + t] = yc[r * len + t];
    at += len;
  }
  return y;
}

template <class T>
StreamingConv device_stream(Context& ctx, const StreamCase& c, const Operands<T>& o, Algorithm algo) {
  // The stream copies the weights: these device tensors may go right away.
  const auto w = DeviceTensor<T>::from_host(ctx, o.w);
  const auto b = DeviceTensor<T>::from_host(ctx, o.b);
  if (c.bias) return StreamingConv(ctx, causal_spec(c), w.view(), b.view(), algo, c.N);
  return StreamingConv(ctx, causal_spec(c), w.view(), algo, c.N);
}

template <class T>
HostTensor<T> history_on_host(Context& ctx, const StreamingConv& s) {
  const TensorArg h = s.history();
  HostTensor<T> out(h.shape);
  ctx.synchronize();
  if (out.numel()) {
    EXPECT_EQ(cudaMemcpy(out.data(), h.data, out.numel() * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  }
  return out;
}

template <class T>
class StreamingGpu : public ::testing::Test {};
using StreamTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(StreamingGpu, StreamTypes);

TYPED_TEST(StreamingGpu, DirectChunkingEqualsTheOneShotConvExactly) {
  CONVKIT_REQUIRE_GPU();
  using T = TypeParam;
  Context ctx;
  std::uint64_t seed = 7000;
  for (const StreamCase& c : stream_cases()) {
    const std::int64_t T_len = 3 * c.h() + 97;
    SCOPED_TRACE(::testing::Message() << c.name << ", " << T_len << " samples");
    const Operands<T> o = int_operands<T>(c, T_len, seed += 13);
    HostTensor<T> want({c.N, c.K, T_len});
    reference::conv(causal_spec(c), o.x.view(), o.w.view(), c.bias ? TensorArg(o.b.view()) : TensorArg(), want.view());
    std::vector<std::vector<std::int64_t>> sequences = {std::vector<std::int64_t>(std::size_t(T_len), 1), {T_len}};
    for (std::uint64_t r = 0; r < 3; ++r) sequences.push_back(random_chunks(T_len, c.h(), seed + r));
    for (const auto& chunks : sequences) {
      StreamingConv s = device_stream(ctx, c, o, Algorithm::Direct);
      EXPECT_EQ(s.location(), Location::Device);
      EXPECT_TRUE(compare(push_all(ctx, s, o.x, chunks), want, nullptr, 0.0)) << chunks.size() << " chunks";
      const HostTensor<T> padded = concat(HostTensor<T>({c.N, c.C, c.h()}), o.x);
      EXPECT_TRUE(compare(history_on_host<T>(ctx, s), slice(padded, T_len, c.h()), nullptr, 0.0));
    }
  }
}

TYPED_TEST(StreamingGpu, GivenHistoryAndResetOnTheDevice) {
  CONVKIT_REQUIRE_GPU();
  using T = TypeParam;
  Context ctx;
  const StreamCase c = stream_cases()[3];
  const std::int64_t T_len = 80;
  const Operands<T> o = int_operands<T>(c, T_len, 4242);
  const HostTensor<T> past = random_ints<T>({c.N, c.C, c.h()}, 4250);
  const HostTensor<T> whole = concat(past, o.x);
  HostTensor<T> full({c.N, c.K, c.h() + T_len});
  reference::conv(causal_spec(c), whole.view(), o.w.view(), o.b.view(), full.view());
  const HostTensor<T> want = slice(full, c.h(), T_len);
  HostTensor<T> from_zeros({c.N, c.K, T_len});
  reference::conv(causal_spec(c), o.x.view(), o.w.view(), o.b.view(), from_zeros.view());

  StreamingConv s = device_stream(ctx, c, o, Algorithm::Direct);
  {
    const auto hd = DeviceTensor<T>::from_host(ctx, past);
    s.set_history(hd.view());
  }  // freed in stream order after the copy
  EXPECT_TRUE(compare(push_all(ctx, s, o.x, random_chunks(T_len, c.h(), 1)), want, nullptr, 0.0));
  EXPECT_TRUE(compare(history_on_host<T>(ctx, s), slice(whole, T_len, c.h()), nullptr, 0.0));
  s.reset();
  EXPECT_TRUE(compare(push_all(ctx, s, o.x, random_chunks(T_len, c.h(), 2)), want, nullptr, 0.0));
  s.zero_history();
  EXPECT_TRUE(compare(push_all(ctx, s, o.x, random_chunks(T_len, c.h(), 3)), from_zeros, nullptr, 0.0));
}

// Auto on random floats: each chunk's outputs within the usual per-element
// tolerance of the reference. Chunks Auto runs with Fft are left to the Fft
// test below (its error is normwise, with a bound of its own).
TYPED_TEST(StreamingGpu, AutoIsWithinTheUsualTolerance) {
  CONVKIT_REQUIRE_GPU();
  using T = TypeParam;
  Context ctx;
  std::uint64_t seed = 9100;
  for (const StreamCase& c : stream_cases()) {
    const std::int64_t T_len = 4 * c.h() + 300;
    SCOPED_TRACE(::testing::Message() << c.name << ", " << T_len << " samples");
    Operands<T> o{random_floats<T>({c.N, c.C, T_len}, seed += 17), random_floats<T>({c.K, c.C / c.G, c.k}, seed + 1),
                  random_floats<T>({c.K}, seed + 2)};
    const Expected<T> e = expected_output(causal_spec(c), o.x, o.w, c.bias ? &o.b : nullptr);
    for (std::uint64_t r = 0; r < 3; ++r) {
      const std::vector<std::int64_t> chunks = random_chunks(T_len, c.h(), seed + 5 + r);
      StreamingConv s = device_stream(ctx, c, o, Algorithm::Auto);
      std::vector<Algorithm> algos;
      HostTensor<T> got = push_all(ctx, s, o.x, chunks, &algos);
      // Outputs of Fft chunks are compared as themselves (masked out here).
      HostTensor<T> want({c.N, c.K, T_len});
      std::int64_t at = 0, checked = 0;
      for (std::size_t i = 0; i < chunks.size(); ++i) {
        for (std::int64_t row = 0; row < c.N * c.K; ++row)
          for (std::int64_t t = at; t < at + chunks[i]; ++t) {
            const std::int64_t j = row * T_len + t;
            want[j] = algos[i] == Algorithm::Fft ? got[j] : e.y[j];
          }
        checked += algos[i] == Algorithm::Fft ? 0 : chunks[i];
        at += chunks[i];
      }
      EXPECT_GT(checked, 0);
      EXPECT_TRUE(compare(got, want, &e.magnitude, tolerance<T>((c.C / c.G) * c.k)));
    }
  }
}

// Fft where supports() says it runs this stream's problem (it skips itself
// until it does). On small integers the exact outputs are integers and a
// chunking mistake is off by a whole sample·weight product (at least 1), so
// Fft's outputs rounded to the nearest integer must equal the reference;
// the FFT's own accuracy is its tests' business.
TYPED_TEST(StreamingGpu, FftWhereSupported) {
  CONVKIT_REQUIRE_GPU();
  using T = TypeParam;
  Context ctx;
  int ran = 0;
  std::uint64_t seed = 9900;
  for (const StreamCase& c : stream_cases()) {
    const std::int64_t T_len = 2 * c.h() + 200;
    const std::vector<std::int64_t> chunks = random_chunks(T_len, c.h(), seed += 3);
    // The chunks' lengths, and 1, for which the constructor asks supports().
    bool all = true;
    std::vector<std::int64_t> lengths = chunks;
    lengths.push_back(1);
    for (std::int64_t len : lengths)
      all = all && supports(causal_spec(c).padding(Padding::valid()), Shape{c.N, c.C, c.h() + len},
                            Shape{c.K, c.C / c.G, c.k}, dtype_v<T>, Algorithm::Fft)
                       .ok;
    if (!all) continue;
    SCOPED_TRACE(c.name);
    const Operands<T> o = int_operands<T>(c, T_len, seed);
    HostTensor<T> want({c.N, c.K, T_len});
    reference::conv(causal_spec(c), o.x.view(), o.w.view(), c.bias ? TensorArg(o.b.view()) : TensorArg(), want.view());
    StreamingConv s = device_stream(ctx, c, o, Algorithm::Fft);
    HostTensor<T> got = push_all(ctx, s, o.x, chunks);
    for (std::int64_t i = 0; i < got.numel(); ++i) got[i] = std::nearbyint(got[i]);
    EXPECT_TRUE(compare(got, want, nullptr, 0.0));
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "Algorithm::Fft supports none of these problems in this build";
}

TYPED_TEST(StreamingGpu, BadChunksLeaveDeviceOutputsAndHistoryAsTheyWere) {
  CONVKIT_REQUIRE_GPU();
  using T = TypeParam;
  Context ctx;
  const StreamCase c = stream_cases()[2];
  const std::int64_t T_len = 30;
  const Operands<T> o = int_operands<T>(c, T_len, 5151);
  HostTensor<T> want({c.N, c.K, T_len});
  reference::conv(causal_spec(c), o.x.view(), o.w.view(), o.b.view(), want.view());
  StreamingConv s = device_stream(ctx, c, o, Algorithm::Auto);
  const HostTensor<T> head = push_all(ctx, s, slice(o.x, 0, 12), {5, 7});
  const HostTensor<T> hist = history_on_host<T>(ctx, s);
  const HostTensor<T> xh = slice(o.x, 12, 6);
  const auto xd = DeviceTensor<T>::from_host(ctx, xh);
  auto yd = DeviceTensor<T>::from_host(ctx, nan_filled<T>({c.N, c.K, 6}));
  const auto expect_refused = [&](TensorArg x, TensorArg y, const char* part) {
    try {
      s.push(x, y);
      ADD_FAILURE() << "expected InvalidArgument naming " << part;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    const HostTensor<T> y_now = yd.to_host();
    for (std::int64_t i = 0; i < y_now.numel(); ++i) ASSERT_TRUE(std::isnan(y_now[i])) << "y written at " << i;
    EXPECT_TRUE(compare(history_on_host<T>(ctx, s), hist, nullptr, 0.0));
  };
  expect_refused(xh.view(), yd.view(), "x is a host view");
  const auto wrong = DeviceTensor<T>::from_host(ctx, random_ints<T>({c.N, c.C + 1, 6}, 3));
  expect_refused(wrong.view(), yd.view(), "x shape = ");
  expect_refused(xd.view(), TensorView<T>::device(yd.data(), {c.N, c.K, 5}), "y shape = ");
  expect_refused(TensorView<const T>::device(yd.data(), xd.shape()), yd.view(), "y overlaps x");
  // Undisturbed: the rest of the signal continues exactly.
  const HostTensor<T> tail = push_all(ctx, s, slice(o.x, 12, T_len - 12), {6, 1, 11});
  EXPECT_TRUE(compare(concat(head, tail), want, nullptr, 0.0));
}

}  // namespace
}  // namespace convkit::test
