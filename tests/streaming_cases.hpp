// What the StreamingConv tests share (test_streaming.cpp on the host,
// test_streaming_gpu.cpp on the device): the case description and the table
// layout both run, the causal spec a case streams, slicing and joining
// [N, C, L] signals along L, NaN-poisoned outputs, random chunkings and the
// small-integer operands. Pushing and reading the history back stay in each
// file (host or device memory). Header-only because the test targets compile
// test_*.cpp and the harness, nothing else.
#pragma once

#include "harness.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace convkit::test {

struct StreamCase {
  const char* name;
  std::int64_t N, C, K, G, k, dil;
  bool bias;
  Mode mode;
  std::int64_t h() const { return dil * (k - 1); }
};

// The case table of both files: `first` (a single-channel thermometer), the
// four cases they share, then `last`. The tests index it: [2] is
// "N2 C3 K4 k3 dil2 bias xcorr", [3] "C4 K6 G2 k4 dil3 bias conv".
inline std::vector<StreamCase> stream_case_table(const StreamCase& first, const StreamCase& last) {
  return {
      first,
      {"one tap (no history)", 1, 2, 3, 1, 1, 1, true, Mode::Convolution},
      {"N2 C3 K4 k3 dil2 bias xcorr", 2, 3, 4, 1, 3, 2, true, Mode::CrossCorrelation},
      {"C4 K6 G2 k4 dil3 bias conv", 1, 4, 6, 2, 4, 3, true, Mode::Convolution},
      {"depthwise N3 C4 k7 xcorr", 3, 4, 4, 4, 7, 1, false, Mode::CrossCorrelation},
      last,
  };
}

// The one-shot equivalent of the stream: causal padding (dil·(k−1), 0).
inline ConvSpec causal_spec(const StreamCase& c) {
  return ConvSpec::conv1d()
      .groups(c.G)
      .dilation(c.dil)
      .mode(c.mode)
      .bias(c.bias)
      .padding(Padding::per_dim({{c.h(), 0}}));
}

// Samples [from, from + len) of every row of a [N, C, L] tensor.
template <class T>
HostTensor<T> slice(const HostTensor<T>& x, std::int64_t from, std::int64_t len) {
  const Shape& s = x.shape();
  HostTensor<T> out({s[0], s[1], len});
  for (std::int64_t r = 0; r < s[0] * s[1]; ++r)
    for (std::int64_t t = 0; t < len; ++t) out[r * len + t] = x[r * s[2] + from + t];
  return out;
}

// [a | b] along the last axis.
template <class T>
HostTensor<T> concat(const HostTensor<T>& a, const HostTensor<T>& b) {
  const std::int64_t rows = a.shape()[0] * a.shape()[1], la = a.shape()[2], lb = b.shape()[2];
  HostTensor<T> out({a.shape()[0], a.shape()[1], la + lb});
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t t = 0; t < la; ++t) out[r * (la + lb) + t] = a[r * la + t];
    for (std::int64_t t = 0; t < lb; ++t) out[r * (la + lb) + la + t] = b[r * lb + t];
  }
  return out;
}

template <class T>
HostTensor<T> nan_filled(const Shape& s) {
  HostTensor<T> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = std::numeric_limits<T>::quiet_NaN();
  return t;
}

// A chunk-length sequence summing to `total`: a mix of single samples,
// chunks shorter than the history, about the kernel's size, and long ones.
inline std::vector<std::int64_t> random_chunks(std::int64_t total, std::int64_t h, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> out;
  while (total > 0) {
    std::int64_t len = 1;
    switch (rng() % 4) {
      case 0: len = 1; break;
      case 1: len = 1 + std::int64_t(rng() % std::uint64_t(std::max<std::int64_t>(h, 1))); break;   // <= h
      case 2: len = h + 1 + std::int64_t(rng() % 4); break;                                           // just past h
      default: len = 2 * h + 2 + std::int64_t(rng() % std::uint64_t(3 * h + 9)); break;               // long
    }
    len = std::min(len, total);
    out.push_back(len);
    total -= len;
  }
  return out;
}

template <class T>
struct Operands {
  HostTensor<T> x, w, b;
};

// x [N, C, T_len], w [K, C/G, k] and b [K] of small integers.
template <class T>
Operands<T> int_operands(const StreamCase& c, std::int64_t T_len, std::uint64_t seed) {
  return {random_ints<T>({c.N, c.C, T_len}, seed), random_ints<T>({c.K, c.C / c.G, c.k}, seed + 1),
          random_ints<T>({c.K}, seed + 2)};
}

}  // namespace convkit::test
