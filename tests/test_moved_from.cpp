// Host-side guards of the matrix types: Matrix's index accessors refuse an
// index outside their range (naming the accessor, the index and the range)
// instead of reading past the arrays, and a moved-from Matrix or an empty
// DeviceMatrix throws InvalidArgument from every member instead of
// dereferencing null. The device-side counterparts (a built DeviceMatrix, a
// ConvPlan) are in test_moved_from_gpu.cpp.
#include "harness.hpp"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace convkit::test {
namespace {

// call() throws Error(InvalidArgument) whose message holds every piece.
void expect_invalid(const std::function<void()>& call, std::initializer_list<std::string> pieces) {
  try {
    call();
    ADD_FAILURE() << "no error; expected one holding '" << *pieces.begin() << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument) << e.what();
    for (const auto& p : pieces)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' missing from: " << e.what();
  }
}

// x = [1 2 3 4 5], w = [1 2 3], valid: T is 3 x 5 with 9 nonzeros.
toeplitz::Matrix<float> small(toeplitz::IndexWidth width) {
  static const float w[] = {1, 2, 3};
  toeplitz::BuildOptions opts;
  opts.index_width = width;
  return toeplitz::build(ConvSpec::conv1d(), {1, 1, 5}, TensorView<const float>::host(w, {1, 1, 3}), opts);
}

TEST(MatrixAccessors, IndicesOutsideTheirRangeAreRefused) {
  for (auto width : {toeplitz::IndexWidth::I32, toeplitz::IndexWidth::I64}) {
    SCOPED_TRACE(toeplitz::index_width_name(width));
    const auto m = small(width);
    ASSERT_EQ(m.rows(), 3);
    ASSERT_EQ(m.nnz(), 9);
    // The ends of each range are valid...
    EXPECT_EQ(m.row_begin(0), 0);
    EXPECT_EQ(m.row_begin(3), 9);  // row_begin(rows()) is the end of the last row
    EXPECT_EQ(m.row_end(2), 9);
    EXPECT_EQ(m.col(8), 4);
    EXPECT_EQ(m.value(8), 3.f);
    EXPECT_EQ(m.source_taps(8), (std::vector<std::int64_t>{2}));
    // ...one past them is not.
    expect_invalid([&] { m.row_begin(-1); }, {"Matrix::row_begin", "r = -1", "[0, rows()] = [0, 3]"});
    expect_invalid([&] { m.row_begin(3 + 5); }, {"Matrix::row_begin", "r = 8", "[0, 3]"});
    expect_invalid([&] { m.row_end(3); }, {"Matrix::row_end", "r = 3", "[0, rows()) = [0, 3)"});
    expect_invalid([&] { m.row_end(-1); }, {"Matrix::row_end", "r = -1"});
    expect_invalid([&] { m.col(-1); }, {"Matrix::col", "j = -1", "[0, nnz()) = [0, 9)"});
    expect_invalid([&] { m.col(9); }, {"Matrix::col", "j = 9"});
    expect_invalid([&] { m.value(9); }, {"Matrix::value", "j = 9", "[0, 9)"});
    expect_invalid([&] { m.value(-3); }, {"Matrix::value", "j = -3"});
    expect_invalid([&] { m.source_taps(9); }, {"Matrix::source_taps", "j = 9", "[0, 9)"});
    expect_invalid([&] { m.source_taps(-1); }, {"Matrix::source_taps", "j = -1"});
  }
}

// A matrix read from a file has no source-tap map; its indices are checked all the same.
TEST(MatrixAccessors, MatrixWithoutAMapChecksToo) {
  std::istringstream is("%%MatrixMarket matrix coordinate real general\n2 2 1\n2 1 5\n");
  const auto m = toeplitz::Matrix<double>::read_matrix_market(is);
  EXPECT_TRUE(m.source_taps(0).empty());
  expect_invalid([&] { m.source_taps(1); }, {"Matrix::source_taps", "j = 1", "[0, 1)"});
  expect_invalid([&] { m.col(1); }, {"Matrix::col", "j = 1"});
  const toeplitz::Matrix<double> empty;
  EXPECT_EQ(empty.row_begin(0), 0);
  expect_invalid([&] { empty.row_end(0); }, {"Matrix::row_end", "r = 0", "[0, 0)"});
  expect_invalid([&] { empty.value(0); }, {"Matrix::value", "j = 0", "[0, 0)"});
}

// Every member of a moved-from Matrix throws "used after move" naming itself;
// the matrix it moved into works, and assigning to the moved-from one revives it.
TEST(MovedFrom, MatrixThrowsOnEveryMember) {
  auto a = small(toeplitz::IndexWidth::Auto);
  toeplitz::Matrix<float> b(std::move(a));
  const std::vector<float> x(5, 1.f);
  std::vector<float> y(3), xt(5);
  static const float w[] = {1, 2, 3};
  const auto wv = TensorView<const float>::host(w, {1, 1, 3});
  std::ostringstream os;
  const std::vector<std::pair<const char*, std::function<void()>>> members = {
      {"info", [&] { a.info(); }},
      {"rows", [&] { a.rows(); }},
      {"cols", [&] { a.cols(); }},
      {"nnz", [&] { a.nnz(); }},
      {"density", [&] { a.density(); }},
      {"bytes", [&] { a.bytes(); }},
      {"index_width", [&] { a.index_width(); }},
      {"values", [&] { a.values(); }},
      {"row_ptr_i32", [&] { a.row_ptr_i32(); }},
      {"col_ind_i32", [&] { a.col_ind_i32(); }},
      {"row_ptr_i64", [&] { a.row_ptr_i64(); }},
      {"col_ind_i64", [&] { a.col_ind_i64(); }},
      {"row_begin", [&] { a.row_begin(0); }},
      {"row_end", [&] { a.row_end(0); }},
      {"col", [&] { a.col(0); }},
      {"value", [&] { a.value(0); }},
      {"has_source_map", [&] { a.has_source_map(); }},
      {"source_taps", [&] { a.source_taps(0); }},
      {"to_dense", [&] { a.to_dense(); }},
      {"multiply", [&] { a.multiply(x.data(), y.data()); }},
      {"multiply_transpose", [&] { a.multiply_transpose(y.data(), xt.data()); }},
      {"refill", [&] { a.refill(wv); }},
      {"write_matrix_market", [&] { a.write_matrix_market(os); }},
      {"write_matrix_market", [&] { a.write_matrix_market(::testing::TempDir() + "convkit_moved_from.mtx"); }},
  };
  for (const auto& [name, call] : members) {
    SCOPED_TRACE(name);
    expect_invalid(call, {std::string("Matrix::") + name, "used after move"});
  }
  EXPECT_TRUE(os.str().empty()) << "a moved-from matrix wrote: " << os.str();
  // The matrix moved into is whole.
  EXPECT_EQ(b.to_dense(), (std::vector<float>{1, 2, 3, 0, 0, 0, 1, 2, 3, 0, 0, 0, 1, 2, 3}));
  // Move assignment leaves its source moved-from too; assignment revives.
  toeplitz::Matrix<float> c;
  c = std::move(b);
  expect_invalid([&] { b.nnz(); }, {"Matrix::nnz", "used after move"});
  b = small(toeplitz::IndexWidth::Auto);
  EXPECT_EQ(b.nnz(), 9);
  a = std::move(c);
  EXPECT_EQ(a.row_end(2), 9);
}

// A DeviceMatrix that holds nothing -- default-constructed or moved from --
// throws from every member; none of this needs a device.
TEST(MovedFrom, EmptyDeviceMatrixThrowsOnEveryMember) {
  toeplitz::DeviceMatrix<double> a;
  toeplitz::DeviceMatrix<double> b(std::move(a));
  for (auto* m : {&a, &b}) {
    const std::vector<std::pair<const char*, std::function<void()>>> members = {
        {"info", [&] { m->info(); }},
        {"rows", [&] { m->rows(); }},
        {"cols", [&] { m->cols(); }},
        {"nnz", [&] { m->nnz(); }},
        {"bytes", [&] { m->bytes(); }},
        {"values", [&] { m->values(); }},
        {"row_ptr", [&] { m->row_ptr(); }},
        {"col_ind", [&] { m->col_ind(); }},
        {"refill", [&] { m->refill(TensorView<const double>()); }},
        {"to_host", [&] { m->to_host(); }},
    };
    for (const auto& [name, call] : members) {
      SCOPED_TRACE(name);
      expect_invalid(call, {std::string("DeviceMatrix::") + name, "used after move"});
    }
  }
}

}  // namespace
}  // namespace convkit::test
