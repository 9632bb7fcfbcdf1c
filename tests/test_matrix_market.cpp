// The Matrix Market reader as an input boundary: a declared size is checked
// against the byte budget before anything is allocated, every token must
// parse whole, the entry count must match the size line exactly, and each
// refusal is a convkit::Error naming the line, the token and the rule.
// Everything write_matrix_market writes -- nan, ±inf, denormals, ±0 --
// reads back bit for bit.
#include "harness.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

const std::string kBanner = "%%MatrixMarket matrix coordinate real general\n";
const std::size_t kDefaultBudget = toeplitz::BuildOptions{}.max_bytes;

struct Outcome {
  bool accepted = false;
  bool convkit_error = false;  // false when something else was thrown
  Status status = Status::InvalidArgument;
  std::string what;
};

template <class T>
Outcome read(const std::string& text, std::size_t budget = kDefaultBudget) {
  std::istringstream is(text);
  Outcome o;
  try {
    toeplitz::Matrix<T>::read_matrix_market(is, budget);
    o.accepted = true;
  } catch (const Error& e) {
    o.convkit_error = true;
    o.status = e.status();
    o.what = e.what();
  } catch (const std::exception& e) {
    o.what = e.what();
  }
  return o;
}

// The file is refused with `status` and a message holding every piece.
template <class T>
void expect_refused(const std::string& text, Status status, std::initializer_list<const char*> pieces,
                    std::size_t budget = kDefaultBudget) {
  SCOPED_TRACE("file:\n" + text);
  const Outcome o = read<T>(text, budget);
  ASSERT_FALSE(o.accepted) << "the reader accepted it";
  ASSERT_TRUE(o.convkit_error) << "a non-convkit exception escaped: " << o.what;
  EXPECT_EQ(o.status, status) << o.what;
  for (const char* p : pieces) EXPECT_NE(o.what.find(p), std::string::npos) << "'" << p << "' missing from: " << o.what;
}

// -------------------------------------------------------- declared sizes

// A 60-byte file must not make the reader allocate what its size line
// claims: each of these is refused from the size line alone, before any
// allocation, under build()'s budget or a smaller one the caller passes.
TEST(MatrixMarket, HugeDeclaredSizesAreRefusedBeforeAllocating) {
  // 2^28 - 1 rows: 1 GiB of int32 row offsets for an empty matrix.
  expect_refused<double>(kBanner + "268435455 1 0\n", Status::NotSupported,
                         {"line 2", "268435455 x 1", "1073741824 bytes", "budget of 268435456 bytes"},
                         std::size_t(1) << 28);
  // 2^40 rows: 8 TiB of row offsets, over the default budget (8 GiB).
  expect_refused<double>(kBanner + "1099511627776 1 0\n", Status::NotSupported,
                         {"line 2", "1099511627776 x 1", "8796093022216 bytes", "budget of 8589934592 bytes"});
  // INT64_MAX rows: rows + 1 overflows; the size saturates rather than wraps.
  expect_refused<float>(kBanner + "9223372036854775807 1 0\n", Status::NotSupported,
                        {"line 2", "9223372036854775807 x 1", "budget of 8589934592 bytes"});
  // A huge entry count is budgeted too (CSR plus the entry list held while reading).
  expect_refused<float>(kBanner + "% a comment\n1 1 1099511627776\n1 1 1\n", Status::NotSupported,
                        {"line 3", "1099511627776 entries", "budget of 8589934592 bytes"});
  expect_refused<double>(kBanner + "2 2 1\n1 1 1\n", Status::NotSupported, {"line 2", "over the budget of 16 bytes"},
                         16);
}

// The budget counts what reading takes: the same file passes at its exact
// need and is refused one byte below.
TEST(MatrixMarket, BudgetIsTheCsrPlusTheEntryList) {
  const std::string text = kBanner + "3 4 2\n1 1 1\n3 4 2\n";
  // int32 indices: values 2*8 + columns 2*4 + row offsets 4*4, entry list 2*24.
  const std::size_t need = 16 + 8 + 16 + 48;
  EXPECT_TRUE(read<double>(text, need).accepted);
  expect_refused<double>(text, Status::NotSupported, {"needs 88 bytes", "budget of 87 bytes"}, need - 1);
}

// ----------------------------------------------------------- whole tokens

TEST(MatrixMarket, TokensMustParseWhole) {
  const std::string h = kBanner + "2 3 1\n";
  // Hex, junk and partial numbers, in every column.
  expect_refused<double>(h + "1 1 0x10\n", Status::InvalidArgument, {"line 3", "'0x10'", "not a decimal number"});
  expect_refused<float>(h + "1 1 0x10\n", Status::InvalidArgument, {"line 3", "'0x10'"});
  expect_refused<double>(h + "1 1 1.5abc\n", Status::InvalidArgument, {"line 3", "'1.5abc'"});
  expect_refused<double>(h + "1 1 1e\n", Status::InvalidArgument, {"line 3", "'1e'"});
  expect_refused<double>(h + "1 1 +1\n", Status::InvalidArgument, {"line 3", "'+1'"});
  expect_refused<double>(h + "0x1 1 1\n", Status::InvalidArgument, {"line 3", "row '0x1'", "decimal integer"});
  expect_refused<double>(h + "1 1.0 1\n", Status::InvalidArgument, {"line 3", "column '1.0'"});
  expect_refused<double>(h + "1 1 1 junk\n", Status::InvalidArgument, {"line 3", "junk 'junk'", "entry 1"});
  expect_refused<double>(h + "1 1\n", Status::InvalidArgument, {"line 3", "'1 1'", "row, column and value"});
  // The size line.
  expect_refused<double>(kBanner + "2 3 1 junk\n1 1 1\n", Status::InvalidArgument,
                         {"line 2", "junk 'junk'", "size line"});
  expect_refused<double>(kBanner + "2 3\n", Status::InvalidArgument, {"line 2", "'2 3'", "rows, cols and entries"});
  expect_refused<double>(kBanner + "0x2 3 1\n1 1 1\n", Status::InvalidArgument,
                         {"line 2", "rows '0x2'", "non-negative decimal integer"});
  expect_refused<double>(kBanner + "-2 3 1\n1 1 1\n", Status::InvalidArgument, {"line 2", "rows '-2'"});
  expect_refused<double>(kBanner + "2 3 1x\n1 1 1\n", Status::InvalidArgument, {"line 2", "entries '1x'"});
  // The banner.
  expect_refused<double>("%%MatrixMarket matrix coordinate real general junk\n1 1 0\n", Status::InvalidArgument,
                         {"line 1", "banner"});
  expect_refused<double>("", Status::InvalidArgument, {"line 1", "empty"});
}

TEST(MatrixMarket, OutOfRangeValuesAndIndicesAreRefused) {
  const std::string h = kBanner + "2 3 1\n";
  expect_refused<double>(h + "1 1 1e400\n", Status::InvalidArgument, {"line 3", "'1e400'", "out of range for f64"});
  expect_refused<float>(h + "1 1 1e39\n", Status::InvalidArgument, {"line 3", "'1e39'", "out of range for f32"});
  expect_refused<double>(h + "1 1 1e-400\n", Status::InvalidArgument, {"line 3", "'1e-400'", "out of range"});
  expect_refused<double>(h + "3 1 1\n", Status::InvalidArgument, {"line 3", "row '3'", "outside [1, 2]"});
  expect_refused<double>(h + "1 4 1\n", Status::InvalidArgument, {"line 3", "column '4'", "outside [1, 3]"});
  expect_refused<double>(h + "0 1 1\n", Status::InvalidArgument, {"line 3", "row '0'", "1-based"});
  expect_refused<double>(h + "-1 1 1\n", Status::InvalidArgument, {"line 3", "row '-1'"});
  expect_refused<double>(kBanner + "99999999999999999999 1 0\n", Status::InvalidArgument,
                         {"line 2", "rows '99999999999999999999'", "out of range"});
  expect_refused<double>(h + "99999999999999999999 1 1\n", Status::InvalidArgument,
                         {"line 3", "row '99999999999999999999'", "out of range"});
  // An integer field takes integers only, within 64 bits.
  const std::string hi = "%%MatrixMarket matrix coordinate integer general\n2 3 1\n";
  expect_refused<double>(hi + "1 1 1.5\n", Status::InvalidArgument, {"line 3", "'1.5'", "field is integer"});
  expect_refused<double>(hi + "1 1 99999999999999999999\n", Status::InvalidArgument,
                         {"line 3", "'99999999999999999999'", "out of range"});
}

// ---------------------------------------------------------- entry count

TEST(MatrixMarket, EntryCountMustMatchTheSizeLine) {
  expect_refused<double>(kBanner + "2 2 3\n1 1 1\n2 2 2\n", Status::InvalidArgument,
                         {"line 4", "ends after 2 of the 3 entries", "(line 2)"});
  expect_refused<double>(kBanner + "2 2 1\n", Status::InvalidArgument, {"line 2", "ends after 0 of the 1 entries"});
  expect_refused<double>(kBanner + "2 2 1\n1 1 1\n2 2 2\n", Status::InvalidArgument,
                         {"line 4", "'2 2 2'", "past the 1 entries"});
  expect_refused<double>(kBanner + "2 2 1\n1 1 1\n\n% fine\njunk\n", Status::InvalidArgument,
                         {"line 6", "'junk'", "past the 1 entries"});
  // Blank lines, comments and CRLF line ends around the entries are fine.
  std::istringstream ok("%%MatrixMarket matrix coordinate real general\r\n% c\r\n\r\n2 2 2\r\n1 1 1\r\n\r\n% c\n"
                        "2 2 -2.5\r\n\r\n");
  const auto m = toeplitz::Matrix<double>::read_matrix_market(ok);
  EXPECT_EQ(m.to_dense(), (std::vector<double>{1, 0, 0, -2.5}));
}

// A caller's stream with exceptions enabled: the file still reads, a bad one
// is still a convkit::Error, and the caller's mask is left as it was.
TEST(MatrixMarket, StreamExceptionsDoNotEscape) {
  const auto mask = std::ios::failbit | std::ios::badbit | std::ios::eofbit;
  std::istringstream ok(kBanner + "2 2 1\n2 1 7\n");
  ok.exceptions(mask);
  const auto m = toeplitz::Matrix<float>::read_matrix_market(ok);
  EXPECT_EQ(m.to_dense(), (std::vector<float>{0, 0, 7, 0}));
  EXPECT_EQ(ok.exceptions(), mask);
  std::istringstream bad(kBanner + "2 2 2\n2 1 7\n");
  bad.exceptions(mask);
  try {
    toeplitz::Matrix<float>::read_matrix_market(bad);
    ADD_FAILURE() << "a missing entry was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("ends after 1 of the 2 entries"), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "a non-convkit exception escaped: " << e.what();
  }
}

// ------------------------------------------------------------ round trip

template <class T>
class MatrixMarketRoundTrip : public ::testing::Test {};
using Dtypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(MatrixMarketRoundTrip, Dtypes);

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// The weights land in T's values as they are (cross-correlation, valid
// padding: row r holds w at columns r..r+k-1), so a matrix built from
// special weights holds every special value.
TYPED_TEST(MatrixMarketRoundTrip, SpecialValuesReadBackBitForBit) {
  using T = TypeParam;
  using L = std::numeric_limits<T>;
  const std::vector<T> w = {L::quiet_NaN(), -L::quiet_NaN(), L::infinity(), -L::infinity(),
                            L::denorm_min(), -L::denorm_min(), L::min() / T(3), T(0), -T(0),
                            L::min(), L::max(), L::lowest(), T(1) / T(3), -L::epsilon(), T(1e-30)};
  const std::int64_t k = static_cast<std::int64_t>(w.size());
  for (auto width : {toeplitz::IndexWidth::I32, toeplitz::IndexWidth::I64}) {
    SCOPED_TRACE(toeplitz::index_width_name(width));
    toeplitz::BuildOptions opts;
    opts.index_width = width;
    const auto m = toeplitz::build(ConvSpec::conv1d(), {1, 1, k + 2}, TensorView<const T>::host(w.data(), {1, 1, k}),
                                   opts);
    ASSERT_EQ(m.nnz(), 3 * k);
    std::stringstream ss;
    m.write_matrix_market(ss);
    const std::string text = ss.str();
    for (const char* spelled : {" nan\n", " -nan\n", " inf\n", " -inf\n", " -0\n"})
      EXPECT_NE(text.find(spelled), std::string::npos) << "the writer did not write '" << spelled << "'";
    const auto back = toeplitz::Matrix<T>::read_matrix_market(ss);
    ASSERT_EQ(back.rows(), m.rows());
    ASSERT_EQ(back.cols(), m.cols());
    ASSERT_EQ(back.nnz(), m.nnz());
    for (std::int64_t r = 0; r <= m.rows(); ++r) ASSERT_EQ(back.row_begin(r), m.row_begin(r)) << "row " << r;
    int mismatches = 0;
    for (std::int64_t j = 0; j < m.nnz(); ++j) {
      ASSERT_EQ(back.col(j), m.col(j)) << "entry " << j;
      if (!same_bits(back.value(j), m.value(j)) && ++mismatches <= 5)
        ADD_FAILURE() << "entry " << j << ": wrote " << m.value(j) << ", read back " << back.value(j)
                      << " with other bits";
    }
    EXPECT_EQ(mismatches, 0);
  }
}

// Duplicates still add up, and an integer field still reads.
TEST(MatrixMarket, DuplicatesAreSummed) {
  std::istringstream is("%%MatrixMarket matrix coordinate integer general\n2 3 3\n2 3 4\n1 1 -1\n2 3 5\n");
  const auto m = toeplitz::Matrix<double>::read_matrix_market(is);
  EXPECT_EQ(m.nnz(), 2);
  EXPECT_EQ(m.to_dense(), (std::vector<double>{-1, 0, 0, 0, 0, 9}));
}

}  // namespace
}  // namespace convkit::test
