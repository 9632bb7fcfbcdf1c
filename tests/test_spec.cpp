// Shape math: the output-size formula of DESIGN §1 over a table, how named
// paddings resolve for both modes with odd and even kernels and dilation,
// ConvSpec / ConvProblem equality, hashing and printing, the FLOP and byte
// counts, and Shape itself. Expected values are small hand-computed numbers.
#include "harness.hpp"

#include <sstream>
#include <unordered_set>

namespace convkit::test {
namespace {

// One spatial dimension of the output-size table.
struct SizeRow {
  std::int64_t D, k, s, dil, lo, hi, O;
};

// O = floor((D + lo + hi - dil*(k-1) - 1) / s) + 1, worked out by hand.
const SizeRow kSizeTable[] = {
    {10, 3, 1, 1, 0, 0, 8},  {10, 3, 2, 1, 1, 1, 5},  {7, 3, 1, 2, 0, 0, 3},   {5, 5, 1, 1, 0, 0, 1},
    {11, 2, 3, 1, 2, 0, 4},  {1, 1, 1, 1, 0, 0, 1},   {8, 3, 5, 1, 0, 0, 2},   {6, 4, 1, 1, 3, 3, 9},
    {9, 3, 2, 3, 1, 2, 3},   {2, 3, 1, 1, 1, 0, 1},   {13, 1, 4, 1, 0, 0, 4},  {4, 2, 7, 1, 0, 0, 1},
    {17, 4, 3, 2, 0, 5, 6},
};

TEST(OutputShape, FormulaTable1d) {
  for (const SizeRow& r : kSizeTable) {
    const ConvSpec spec =
        ConvSpec::conv1d().stride(r.s).dilation(r.dil).padding(Padding::per_dim({{r.lo, r.hi}}));
    EXPECT_EQ(spec.output_shape({3, 2, r.D}, {5, 2, r.k}), (Shape{3, 5, r.O}))
        << "D=" << r.D << " k=" << r.k << " s=" << r.s << " dil=" << r.dil << " pad=(" << r.lo << "," << r.hi << ")";
  }
}

TEST(OutputShape, PerDimension2dAnd3d) {
  // Rows of the table combined across dimensions, with per-dim stride / dilation.
  const std::size_t n = sizeof(kSizeTable) / sizeof(kSizeTable[0]);
  for (std::size_t i = 0; i < n; ++i) {
    const SizeRow& a = kSizeTable[i];
    const SizeRow& b = kSizeTable[(i + 3) % n];
    const SizeRow& c = kSizeTable[(i + 7) % n];
    const ConvSpec s2 = ConvSpec::conv2d()
                            .stride({a.s, b.s})
                            .dilation({a.dil, b.dil})
                            .padding(Padding::per_dim({{a.lo, a.hi}, {b.lo, b.hi}}));
    EXPECT_EQ(s2.output_shape({1, 3, a.D, b.D}, {2, 3, a.k, b.k}), (Shape{1, 2, a.O, b.O}));
    const ConvSpec s3 = ConvSpec::conv3d()
                            .stride({a.s, b.s, c.s})
                            .dilation({a.dil, b.dil, c.dil})
                            .padding(Padding::per_dim({{a.lo, a.hi}, {b.lo, b.hi}, {c.lo, c.hi}}))
                            .groups(2);
    EXPECT_EQ(s3.output_shape({2, 4, a.D, b.D, c.D}, {6, 2, a.k, b.k, c.k}),
              (Shape{2, 6, a.O, b.O, c.O}));
  }
}

TEST(OutputShape, ProblemFieldsAreRightAligned) {
  const ConvProblem p = ConvSpec::conv2d()
                            .stride({2, 1})
                            .dilation({1, 3})
                            .padding(Padding::per_dim({{1, 2}, {0, 4}}))
                            .groups(3)
                            .bias(true)
                            .problem({4, 6, 9, 11}, {12, 2, 3, 2});
  EXPECT_EQ(p.dims, 2);
  EXPECT_EQ(p.N, 4);
  EXPECT_EQ(p.C, 6);
  EXPECT_EQ(p.K, 12);
  EXPECT_EQ(p.G, 3);
  EXPECT_EQ(p.Cg(), 2);
  EXPECT_EQ(p.Kg(), 4);
  EXPECT_TRUE(p.has_bias);
  // Slot 0 is unused in 2-D: size 1, stride 1, dilation 1, no padding.
  EXPECT_EQ(p.in[0], 1);
  EXPECT_EQ(p.ker[0], 1);
  EXPECT_EQ(p.out[0], 1);
  EXPECT_EQ(p.stride[0], 1);
  EXPECT_EQ(p.dilation[0], 1);
  EXPECT_EQ(p.pad_lo[0], 0);
  EXPECT_EQ(p.pad_hi[0], 0);
  EXPECT_EQ(p.in[1], 9);
  EXPECT_EQ(p.in[2], 11);
  EXPECT_EQ(p.ker[1], 3);
  EXPECT_EQ(p.ker[2], 2);
  EXPECT_EQ(p.stride[1], 2);
  EXPECT_EQ(p.dilation[2], 3);
  EXPECT_EQ(p.pad_lo[1], 1);
  EXPECT_EQ(p.pad_hi[1], 2);
  EXPECT_EQ(p.pad_lo[2], 0);
  EXPECT_EQ(p.pad_hi[2], 4);
  EXPECT_EQ(p.out[1], 5);   // floor((12 - 3) / 2) + 1
  EXPECT_EQ(p.out[2], 12);  // 15 - (3*1 + 1) + 1
  EXPECT_EQ(p.x_shape(), (Shape{4, 6, 9, 11}));
  EXPECT_EQ(p.w_shape(), (Shape{12, 2, 3, 2}));
  EXPECT_EQ(p.y_shape(), (Shape{4, 12, 5, 12}));
  EXPECT_EQ(p.in_spatial(), 99);
  EXPECT_EQ(p.ker_spatial(), 6);
  EXPECT_EQ(p.out_spatial(), 60);
}

TEST(OutputShape, EmptyBatchIsValid) {
  EXPECT_EQ(ConvSpec::conv2d().padding(1).output_shape({0, 3, 8, 8}, {4, 3, 3, 3}), (Shape{0, 4, 8, 8}));
}

// (lo, hi) of one dimension after resolving a named padding.
std::pair<std::int64_t, std::int64_t> resolved(Padding pad, Mode m, std::int64_t k, std::int64_t dil) {
  return ConvSpec::conv1d().padding(pad).mode(m).dilation(dil).resolved_padding(0, k);
}
using LoHi = std::pair<std::int64_t, std::int64_t>;

TEST(NamedPadding, SameCrossCorrelationRoundsLoDown) {
  const Mode m = Mode::CrossCorrelation;
  EXPECT_EQ(resolved(Padding::same(), m, 1, 1), LoHi(0, 0));
  EXPECT_EQ(resolved(Padding::same(), m, 3, 1), LoHi(1, 1));
  EXPECT_EQ(resolved(Padding::same(), m, 5, 1), LoHi(2, 2));
  EXPECT_EQ(resolved(Padding::same(), m, 2, 1), LoHi(0, 1));
  EXPECT_EQ(resolved(Padding::same(), m, 4, 1), LoHi(1, 2));
  EXPECT_EQ(resolved(Padding::same(), m, 3, 2), LoHi(2, 2));
  EXPECT_EQ(resolved(Padding::same(), m, 4, 2), LoHi(3, 3));
  EXPECT_EQ(resolved(Padding::same(), m, 2, 3), LoHi(1, 2));
}

TEST(NamedPadding, SameConvolutionRoundsLoUp) {
  const Mode m = Mode::Convolution;
  EXPECT_EQ(resolved(Padding::same(), m, 1, 1), LoHi(0, 0));
  EXPECT_EQ(resolved(Padding::same(), m, 3, 1), LoHi(1, 1));
  EXPECT_EQ(resolved(Padding::same(), m, 2, 1), LoHi(1, 0));
  EXPECT_EQ(resolved(Padding::same(), m, 4, 1), LoHi(2, 1));
  EXPECT_EQ(resolved(Padding::same(), m, 6, 1), LoHi(3, 2));
  EXPECT_EQ(resolved(Padding::same(), m, 4, 2), LoHi(3, 3));
  EXPECT_EQ(resolved(Padding::same(), m, 2, 3), LoHi(2, 1));
}

TEST(NamedPadding, FullValidExplicit) {
  for (Mode m : {Mode::CrossCorrelation, Mode::Convolution}) {
    EXPECT_EQ(resolved(Padding::full(), m, 4, 1), LoHi(3, 3));
    EXPECT_EQ(resolved(Padding::full(), m, 4, 2), LoHi(6, 6));
    EXPECT_EQ(resolved(Padding::full(), m, 1, 5), LoHi(0, 0));
    EXPECT_EQ(resolved(Padding::valid(), m, 4, 2), LoHi(0, 0));
    EXPECT_EQ(resolved(Padding::uniform(3), m, 4, 2), LoHi(3, 3));
    EXPECT_EQ(resolved(Padding::per_dim({{2, 5}}), m, 4, 2), LoHi(2, 5));
  }
  EXPECT_EQ(ConvSpec::conv2d().padding(Padding::per_dim({{1, 2}, {3, 4}})).resolved_padding(1, 3), LoHi(3, 4));
  EXPECT_EQ(ConvSpec::conv2d().padding(2).resolved_padding(1, 3), LoHi(2, 2));
}

TEST(NamedPadding, SameKeepsTheInputSize) {
  // Odd and even kernels, dilation, both modes, every dimension count.
  for (Mode m : {Mode::CrossCorrelation, Mode::Convolution})
    for (std::int64_t k : {1, 2, 3, 4, 5, 6})
      for (std::int64_t dil : {1, 2, 3}) {
        const Shape s1 = ConvSpec::conv1d().padding(Padding::same()).mode(m).dilation(dil).output_shape(
            {1, 1, 23}, {1, 1, k});
        EXPECT_EQ(s1, (Shape{1, 1, 23})) << "k=" << k << " dil=" << dil;
        const Shape s3 = ConvSpec::conv3d().padding(Padding::same()).mode(m).dilation({dil, 1, 2}).output_shape(
            {2, 1, 19, 7, 20}, {3, 1, k, 2, 3});
        EXPECT_EQ(s3, (Shape{2, 3, 19, 7, 20})) << "k=" << k << " dil=" << dil;
      }
}

TEST(NamedPadding, FullGrowsByTheDilatedKernel) {
  EXPECT_EQ(ConvSpec::conv2d().padding(Padding::full()).dilation({1, 2}).output_shape({1, 1, 5, 6}, {1, 1, 3, 4}),
            (Shape{1, 1, 7, 12}));
}

TEST(SpecEquality, EffectiveValuesCompare) {
  EXPECT_EQ(ConvSpec::conv2d(), ConvSpec());
  EXPECT_EQ(ConvSpec::conv2d().stride(2), ConvSpec::conv2d().stride({2, 2}));
  EXPECT_EQ(ConvSpec::conv2d().dilation(3), ConvSpec::conv2d().dilation({3, 3}));
  EXPECT_EQ(ConvSpec::conv2d().stride(2).hash(), ConvSpec::conv2d().stride({2, 2}).hash());
  EXPECT_EQ(ConvSpec::conv2d().dilation(3).hash(), ConvSpec::conv2d().dilation({3, 3}).hash());
  EXPECT_EQ(ConvSpec::conv1d().padding(Padding::same()).bias(true),
            ConvSpec::conv1d().bias(true).padding(Padding::same()));
}

// Specs that differ in exactly one field: all pairwise unequal, and as keys of
// a hash set (a plan cache) all distinct.
std::vector<ConvSpec> distinct_specs() {
  return {
      ConvSpec::conv2d(),
      ConvSpec::conv1d(),
      ConvSpec::conv3d(),
      ConvSpec::conv2d().stride(2),
      ConvSpec::conv2d().stride({1, 2}),
      ConvSpec::conv2d().dilation(2),
      ConvSpec::conv2d().dilation({2, 1}),
      ConvSpec::conv2d().padding(1),
      ConvSpec::conv2d().padding(Padding::per_dim({{1, 0}, {1, 1}})),
      ConvSpec::conv2d().padding(Padding::same()),
      ConvSpec::conv2d().padding(Padding::full()),
      ConvSpec::conv2d().groups(2),
      ConvSpec::conv2d().mode(Mode::Convolution),
      ConvSpec::conv2d().boundary(Boundary::Circular),
      ConvSpec::conv2d().boundary(Boundary::Reflect),
      ConvSpec::conv2d().boundary(Boundary::Replicate),
      ConvSpec::conv2d().bias(true),
  };
}

// The runtime-sequence setters (std::vector, pointer + count) give the same
// spec as the initializer-list ones, and refuse a wrong count or a null
// pointer with InvalidArgument naming the parameter and the count.
TEST(RuntimeSequences, VectorAndSpanMatchInitializerLists) {
  const std::vector<std::int64_t> s2{2, 3}, d3{1, 2, 4};
  EXPECT_EQ(ConvSpec::conv2d().stride(s2), ConvSpec::conv2d().stride({2, 3}));
  EXPECT_EQ(ConvSpec::conv2d().stride(s2.data(), s2.size()), ConvSpec::conv2d().stride({2, 3}));
  EXPECT_EQ(ConvSpec::conv3d().dilation(d3), ConvSpec::conv3d().dilation({1, 2, 4}));
  EXPECT_EQ(ConvSpec::conv3d().dilation(d3.data(), 3).hash(), ConvSpec::conv3d().dilation({1, 2, 4}).hash());
  EXPECT_EQ(ConvSpec::conv2d().stride(std::vector<std::int64_t>{2, 2}), ConvSpec::conv2d().stride(2));
  EXPECT_EQ(ConvSpec::conv2d().stride(s2).stride_count(), 2);
  const std::vector<std::pair<std::int64_t, std::int64_t>> pads{{1, 2}, {0, 4}};
  EXPECT_EQ(Padding::per_dim(pads), Padding::per_dim({{1, 2}, {0, 4}}));
  EXPECT_EQ(Padding::per_dim(pads.data(), pads.size()), Padding::per_dim({{1, 2}, {0, 4}}));
  const auto spec = ConvSpec::conv2d().stride(std::vector<std::int64_t>{2, 1}).dilation(std::vector<std::int64_t>{1, 3})
                        .padding(Padding::per_dim(pads));
  EXPECT_EQ(spec.output_shape({1, 1, 9, 11}, {1, 1, 3, 2}),
            (ConvSpec::conv2d().stride({2, 1}).dilation({1, 3}).padding(Padding::per_dim({{1, 2}, {0, 4}}))
                 .output_shape({1, 1, 9, 11}, {1, 1, 3, 2})));
}

TEST(RuntimeSequences, WrongCountsAndNullAreInvalidArguments) {
  const auto expect_invalid = [](auto&& f, const char* param, const char* count) {
    try {
      f();
      ADD_FAILURE() << param << " with " << count << " values accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
      const std::string m = e.what();
      EXPECT_NE(m.find(param), std::string::npos) << m;
      EXPECT_NE(m.find(count), std::string::npos) << m;
    }
  };
  const std::vector<std::int64_t> none, four{1, 1, 1, 1};
  expect_invalid([&] { ConvSpec::conv2d().stride(none); }, "stride", "0");
  expect_invalid([&] { ConvSpec::conv2d().stride(four); }, "stride", "4");
  expect_invalid([&] { ConvSpec::conv2d().dilation(four.data(), 4); }, "dilation", "4");
  expect_invalid([&] { ConvSpec::conv2d().dilation(nullptr, 2); }, "dilation", "null");
  expect_invalid([&] { ConvSpec::conv2d().stride(nullptr, 1); }, "stride", "null");
  expect_invalid([&] { Padding::per_dim(std::vector<std::pair<std::int64_t, std::int64_t>>{}); }, "padding", "0");
  expect_invalid([&] { Padding::per_dim(nullptr, 2); }, "padding", "null");
  const std::vector<std::pair<std::int64_t, std::int64_t>> four_pairs(4, {0, 0});
  expect_invalid([&] { Padding::per_dim(four_pairs); }, "padding", "4");
}

TEST(SpecEquality, DifferentFieldsDiffer) {
  const std::vector<ConvSpec> specs = distinct_specs();
  for (std::size_t i = 0; i < specs.size(); ++i)
    for (std::size_t j = 0; j < specs.size(); ++j) {
      if (i == j)
        EXPECT_EQ(specs[i], specs[j]) << specs[i];
      else
        EXPECT_NE(specs[i], specs[j]) << specs[i] << " vs " << specs[j];
    }
  std::unordered_set<ConvSpec> set(specs.begin(), specs.end());
  EXPECT_EQ(set.size(), specs.size());
  for (const ConvSpec& s : specs) EXPECT_EQ(set.count(s), 1u) << s;
  std::unordered_set<std::size_t> hashes;
  for (const ConvSpec& s : specs) hashes.insert(std::hash<ConvSpec>()(s));
  EXPECT_EQ(hashes.size(), specs.size()) << "hash collisions among specs differing in one field";
}

TEST(SpecEquality, UnvalidatedDimsCompareSafely) {
  // A spec is only validated by problem(); comparing or hashing one with an
  // out-of-range dimension count (as a cache lookup might) must stay within
  // its 3 slots. Run under a sanitizer or _GLIBCXX_ASSERTIONS to see a slip.
  const ConvSpec a = ConvSpec(4).stride({1, 2, 3}).dilation({2, 1, 1});
  const ConvSpec b = ConvSpec(4).stride({1, 2, 3}).dilation({2, 1, 1});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_NE(a, ConvSpec(4).stride({1, 2, 4}).dilation({2, 1, 1}));
  EXPECT_NE(a, ConvSpec::conv3d().stride({1, 2, 3}).dilation({2, 1, 1}));
}

TEST(SpecPrinting, StrNamesEveryField) {
  const ConvSpec s = ConvSpec::conv2d()
                         .stride(2)
                         .dilation({1, 3})
                         .padding(Padding::same())
                         .groups(4)
                         .mode(Mode::Convolution)
                         .boundary(Boundary::Reflect)
                         .bias(true);
  const std::string str = s.str();
  for (const char* part : {"conv2d", "stride=2", "dilation={1,3}", "padding=same", "groups=4", "mode=convolution",
                           "boundary=reflect", "bias"})
    EXPECT_NE(str.find(part), std::string::npos) << part << " not in " << str;
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), str);
  EXPECT_EQ(ConvSpec::conv1d().str().find("bias"), std::string::npos);
  EXPECT_NE(ConvSpec::conv1d().padding(Padding::per_dim({{1, 2}})).str().find("padding={(1, 2)}"),
            std::string::npos);
  EXPECT_NE(ConvSpec::conv3d().padding(3).str().find("padding=3"), std::string::npos);
  EXPECT_NE(ConvSpec::conv3d().str().find("boundary=zeros"), std::string::npos);
  EXPECT_NE(ConvSpec::conv3d().str().find("mode=cross-correlation"), std::string::npos);
}

TEST(PaddingValue, StrAndEquality) {
  EXPECT_EQ(Padding::valid().str(), "valid");
  EXPECT_EQ(Padding::same().str(), "same");
  EXPECT_EQ(Padding::full().str(), "full");
  EXPECT_EQ(Padding::uniform(2).str(), "2");
  EXPECT_EQ(Padding::per_dim({{1, 2}, {0, 3}}).str(), "{(1, 2), (0, 3)}");
  EXPECT_EQ(Padding(), Padding::valid());
  EXPECT_EQ(Padding::uniform(2), Padding::uniform(2));
  EXPECT_NE(Padding::uniform(2), Padding::uniform(3));
  EXPECT_NE(Padding::same(), Padding::full());
  EXPECT_EQ(Padding::per_dim({{1, 2}}).count(), 1);
  EXPECT_EQ(Padding::uniform(1).count(), -1);
  EXPECT_EQ(Padding::per_dim({{1, 2}, {3, 4}}).lo(1), 3);
  EXPECT_EQ(Padding::per_dim({{1, 2}, {3, 4}}).hi(1), 4);
  EXPECT_EQ(Padding::uniform(5).hi(2), 5);
  EXPECT_EQ(Padding::full().kind(), Padding::Kind::Full);
}

TEST(ProblemValue, EqualityHashAndStr) {
  const ConvSpec spec = ConvSpec::conv2d().padding(1).groups(2).stride(2);
  const ConvProblem a = spec.problem({2, 4, 9, 8}, {6, 2, 3, 3});
  const ConvProblem b = spec.problem({2, 4, 9, 8}, {6, 2, 3, 3});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_EQ(std::hash<ConvProblem>()(a), a.hash());
  EXPECT_NE(a, spec.problem({3, 4, 9, 8}, {6, 2, 3, 3}));
  EXPECT_NE(a, spec.problem({2, 4, 9, 9}, {6, 2, 3, 3}));
  EXPECT_NE(a, spec.problem({2, 4, 9, 8}, {4, 2, 3, 3}));
  EXPECT_NE(a, ConvSpec(spec).boundary(Boundary::Replicate).problem({2, 4, 9, 8}, {6, 2, 3, 3}));
  EXPECT_NE(a, ConvSpec(spec).mode(Mode::Convolution).problem({2, 4, 9, 8}, {6, 2, 3, 3}));
  EXPECT_NE(a, ConvSpec(spec).bias(true).problem({2, 4, 9, 8}, {6, 2, 3, 3}));
  const std::string s = a.str();
  for (const char* part : {"conv2d", "N=2", "C=4", "K=6", "G=2", "in=9x8", "k=3x3", "out=5x4", "s=2x2",
                           "dil=1x1", "pad=(1,1),(1,1)", "cross-correlation", "zeros"})
    EXPECT_NE(s.find(part), std::string::npos) << part << " not in " << s;
  std::ostringstream os;
  os << a;
  EXPECT_EQ(os.str(), s);
}

TEST(ProblemValue, FlopsAndBytesClosedForms) {
  // x [2, 4, 5, 6], w [6, 2, 3, 3], G = 2, padding 1: y [2, 6, 5, 6].
  const ConvProblem p = ConvSpec::conv2d().padding(1).groups(2).problem({2, 4, 5, 6}, {6, 2, 3, 3});
  EXPECT_EQ(p.flops(), 2.0 * 2 * 6 * 30 * 2 * 9);  // 2·N·K·ΠO·(C/G)·Πk
  const double elems = 2 * 4 * 30 + 6 * 2 * 9 + 2 * 6 * 30;  // x + w + y
  EXPECT_EQ(p.min_bytes(DType::F32), elems * 4);
  EXPECT_EQ(p.min_bytes(DType::F64), elems * 8);
  const ConvProblem pb = ConvSpec::conv2d().padding(1).groups(2).bias(true).problem({2, 4, 5, 6}, {6, 2, 3, 3});
  EXPECT_EQ(pb.min_bytes(DType::F32), (elems + 6) * 4);
  // 1-D and an empty batch.
  const ConvProblem q = ConvSpec::conv1d().stride(2).problem({3, 1, 11}, {2, 1, 3});
  EXPECT_EQ(q.flops(), 2.0 * 3 * 2 * 5 * 1 * 3);
  const ConvProblem e = ConvSpec::conv1d().problem({0, 1, 11}, {2, 1, 3});
  EXPECT_EQ(e.flops(), 0.0);
  EXPECT_EQ(e.min_bytes(DType::F64), (2 * 1 * 3) * 8.0);
}

TEST(ShapeBasics, RankNumelStr) {
  const Shape s{2, 3, 5};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s[2], 5);
  EXPECT_EQ(s.numel(), 30);
  EXPECT_EQ(s.str(), "[2, 3, 5]");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "[2, 3, 5]");
  EXPECT_EQ(Shape().rank(), 0);
  EXPECT_EQ(Shape().numel(), 1);
  EXPECT_EQ(Shape().str(), "[]");
  EXPECT_EQ((Shape{4, 0, 7}).numel(), 0);
  int count = 0;
  for (std::int64_t d : s) count += d > 0;
  EXPECT_EQ(count, 3);
}

TEST(ShapeBasics, EqualityAndPushBack) {
  Shape s{2, 3};
  s.push_back(5);
  EXPECT_EQ(s, (Shape{2, 3, 5}));
  EXPECT_NE(s, (Shape{2, 3}));
  EXPECT_NE(s, (Shape{2, 3, 6}));
  s[2] = 6;
  EXPECT_EQ(s, (Shape{2, 3, 6}));
  Shape full{1, 2, 3, 4, 5};
  EXPECT_EQ(full.rank(), Shape::kMaxRank);
  try {
    full.push_back(6);
    ADD_FAILURE() << "push_back past kMaxRank did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("rank"), std::string::npos) << e.what();
  }
  EXPECT_THROW((Shape{1, 2, 3, 4, 5, 6}), Error);
}

TEST(ShapeBasics, NumelRejectsNegativeAndOverflow) {
  try {
    (void)Shape{2, -1}.numel("thing");
    ADD_FAILURE() << "negative size accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("thing"), std::string::npos) << e.what();
  }
  const std::int64_t big = std::int64_t(1) << 32;
  try {
    (void)Shape{big, big}.numel("big");
    ADD_FAILURE() << "2^64 elements accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("overflows"), std::string::npos) << e.what();
  }
  EXPECT_EQ((Shape{big, big / 2 - 1}).numel(), big * (big / 2 - 1));
}

TEST(Names, EnumsHaveNames) {
  EXPECT_STREQ(mode_name(Mode::CrossCorrelation), "cross-correlation");
  EXPECT_STREQ(mode_name(Mode::Convolution), "convolution");
  EXPECT_STREQ(boundary_name(Boundary::Zeros), "zeros");
  EXPECT_STREQ(boundary_name(Boundary::Circular), "circular");
  EXPECT_STREQ(boundary_name(Boundary::Reflect), "reflect");
  EXPECT_STREQ(boundary_name(Boundary::Replicate), "replicate");
  EXPECT_STREQ(dtype_name(DType::F32), "f32");
  EXPECT_STREQ(dtype_name(DType::F64), "f64");
  EXPECT_STREQ(location_name(Location::Host), "host");
  EXPECT_STREQ(location_name(Location::Device), "device");
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_STREQ(algorithm_name(Algorithm::SparseToeplitz), "SparseToeplitz");
  EXPECT_STREQ(algorithm_name(Algorithm::Im2colGemm), "Im2colGemm");
}

}  // namespace
}  // namespace convkit::test
