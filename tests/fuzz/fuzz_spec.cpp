// Fuzz target: spec validation and the queries that answer before anything
// runs. The bytes describe a ConvSpec (dims, every setter, enum values in and
// out of range, huge and negative numbers) and the x / w shapes; the target
// then asks problem(), output_shape(), toeplitz::info(), supports() and
// workspace_bytes() for every Algorithm and Direction, and
// conv_transpose_output_shape() (x read as the transposed convolution's
// input) with an output_padding. Each may reject the problem with
// convkit::Error; none may crash, hang, overflow or throw anything else.
//
// Input layout (make_seeds.py writes it; missing bytes read as 0):
//   num dims | list stride | list dilation | u8 padding kind, its numbers |
//   num groups | i8 mode | i8 boundary | u8 bias | i8 dtype | i8 index width |
//   i8 extra algorithm | shape x | shape w | i8 extra direction |
//   u8 count (% 5) and that many nums: conv_transpose's output_padding
// where num = one tag byte: tag & 3 == 0 -> (tag >> 2) - 8 (small values
// cheaply), 1 -> one signed byte, 2 -> int32 LE, 3 -> int64 LE;
// list = u8 count (0: one value for every dimension, then a num; 1..4: that
// many nums, 4 being one too many); shape = u8 rank (0..6), then rank nums.
#include <convkit/conv.hpp>
#include <convkit/spec.hpp>
#include <convkit/toeplitz.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using convkit::Error;
using convkit_fuzz::expected;

class Bytes {
 public:
  Bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  std::uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
  std::int8_t i8() { return static_cast<std::int8_t>(u8()); }
  std::int64_t num() {
    const std::uint8_t tag = u8();
    switch (tag & 3) {
      case 0: return std::int64_t(tag >> 2) - 8;
      case 1: return i8();
      case 2: return static_cast<std::int32_t>(le(4));
      default: return static_cast<std::int64_t>(le(8));
    }
  }

 private:
  std::uint64_t le(int bytes) {
    std::uint64_t v = 0;
    for (int b = 0; b < bytes; ++b) v |= std::uint64_t(u8()) << (8 * b);
    return v;
  }
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t i_ = 0;
};

// The list setters take initializer lists, hence one call per count.
template <class Setter>
void per_dim(Bytes& in, std::uint8_t count, Setter set) {
  const std::int64_t a = in.num(), b = count > 1 ? in.num() : 0, c = count > 2 ? in.num() : 0,
                     d = count > 3 ? in.num() : 0;
  switch (count) {
    case 1: set({a}); break;
    case 2: set({a, b}); break;
    case 3: set({a, b, c}); break;
    default: set({a, b, c, d}); break;
  }
}

void set_list(Bytes& in, convkit::ConvSpec& spec, bool stride) {
  const std::uint8_t count = in.u8() % 5;
  try {
    if (count == 0) {
      const std::int64_t v = in.num();
      stride ? spec.stride(v) : spec.dilation(v);
    } else {
      per_dim(in, count, [&](std::initializer_list<std::int64_t> l) { stride ? spec.stride(l) : spec.dilation(l); });
    }
  } catch (const Error& e) {
    expected(e);
  }
}

void set_padding(Bytes& in, convkit::ConvSpec& spec) {
  using convkit::Padding;
  const std::uint8_t kind = in.u8() % 5;
  try {
    switch (kind) {
      case 0: spec.padding(Padding::valid()); break;
      case 1: spec.padding(Padding::same()); break;
      case 2: spec.padding(Padding::full()); break;
      case 3: spec.padding(Padding::uniform(in.num())); break;
      default: {
        const std::uint8_t count = in.u8() % 5;
        std::int64_t v[8];
        for (int i = 0; i < 2 * (count ? count : 1); ++i) v[i] = in.num();
        switch (count) {
          case 0:
          case 1: spec.padding(Padding::per_dim({{v[0], v[1]}})); break;
          case 2: spec.padding(Padding::per_dim({{v[0], v[1]}, {v[2], v[3]}})); break;
          case 3: spec.padding(Padding::per_dim({{v[0], v[1]}, {v[2], v[3]}, {v[4], v[5]}})); break;
          default: spec.padding(Padding::per_dim({{v[0], v[1]}, {v[2], v[3]}, {v[4], v[5]}, {v[6], v[7]}})); break;
        }
      }
    }
  } catch (const Error& e) {
    expected(e);
  }
}

convkit::Shape shape(Bytes& in) {
  convkit::Shape s;
  const int rank = in.u8() % 7;  // 6 is past Shape::kMaxRank on purpose
  for (int i = 0; i < rank; ++i) {
    const std::int64_t d = in.num();
    try {
      s.push_back(d);
    } catch (const Error& e) {
      expected(e);
    }
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace convkit;
  Bytes in(data, size);
  ConvSpec spec(static_cast<int>(in.num()));
  set_list(in, spec, true);
  set_list(in, spec, false);
  set_padding(in, spec);
  spec.groups(in.num());
  spec.mode(static_cast<Mode>(in.i8()));
  spec.boundary(static_cast<Boundary>(in.i8()));
  spec.bias(in.u8() & 1);
  const auto dtype = static_cast<DType>(in.i8());
  const auto width = static_cast<toeplitz::IndexWidth>(in.i8());
  const auto extra = static_cast<Algorithm>(in.i8());
  const Shape x = shape(in);
  const Shape w = shape(in);
  const auto extra_dir = static_cast<Direction>(in.i8());
  std::vector<std::int64_t> output_padding(in.u8() % 5);
  for (std::int64_t& v : output_padding) v = in.num();

  // Describing a spec, valid or not, must work: error messages do it.
  std::ostringstream os;
  os << spec << " x=" << x << " w=" << w << " dtype=" << int(dtype) << " width=" << int(width)
     << " extra=" << int(extra);
  // To read a finding: CONVKIT_FUZZ_PRINT=1 fuzz_spec <input> says what it asks.
  if (std::getenv("CONVKIT_FUZZ_PRINT")) std::fprintf(stderr, "fuzz_spec: %s\n", os.str().c_str());
  (void)spec.hash();
  try {
    const ConvProblem p = spec.problem(x, w);
    os << p;
    (void)p.flops();
    (void)p.min_bytes(dtype);
    (void)p.hash();
    if (spec.output_shape(x, w) != p.y_shape()) convkit_fuzz::broken("output_shape() != problem().y_shape()");
    if (!(spec.problem(p.x_shape(), p.w_shape()) == p)) convkit_fuzz::broken("problem() not stable on its own shapes");
  } catch (const Error& e) {
    expected(e);
  }
  for (auto iw : {toeplitz::IndexWidth::Auto, width}) {
    try {
      const toeplitz::Info info = toeplitz::info(spec, x, w, dtype, iw);
      os << info.str() << info.density() << info.total_bytes();
    } catch (const Error& e) {
      expected(e);
    }
  }
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz,
                      Algorithm::Fft, Algorithm::Reference, extra})
    for (Direction d : {Direction::Forward, Direction::BackwardData, Direction::BackwardFilter, extra_dir}) {
      try {
        const Support s = supports(spec, x, w, dtype, a, d);
        os << s.ok << s.reason << s.variant;
      } catch (const Error& e) {
        expected(e);
      }
      try {
        os << workspace_bytes(spec, x, w, dtype, a, d);
      } catch (const Error& e) {
        expected(e);
      }
    }
  try {
    const Shape y = conv_transpose_output_shape(spec, x, w, output_padding);
    // Its promise: the forward map of y's shape gives x's back.
    if (spec.output_shape(y, w) != x) convkit_fuzz::broken("conv_transpose_output_shape does not invert the forward shape");
  } catch (const Error& e) {
    expected(e);
  }
  return 0;
}
