// Fuzz target: toeplitz::Matrix<T>::read_matrix_market on arbitrary bytes, in
// float and double. Any input may be rejected with convkit::Error; one that is
// accepted must give a well-formed CSR matrix (rows sorted, columns in range,
// ascending and unique per row), survive multiply(), and read back equal from
// what write_matrix_market writes (NaN and Inf included) -- the reader's
// promise to SciPy-made files and to the library's own output alike.
#include <convkit/toeplitz.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using convkit_fuzz::broken;

// Bounds on the checks only (not on the reader): an empty 10^9-row matrix is
// a valid file of a few bytes, and walking its rows would be the timeout.
constexpr std::int64_t kWalkRows = std::int64_t(1) << 20;
constexpr std::int64_t kMultiplyElems = std::int64_t(1) << 16;
// The reader's byte budget here: an input is at most a few KiB, so a declared
// size that needs more is refused by the budget, not allocated (the default
// budget, 8 GiB, is for real matrices and over the fuzzer's memory limit).
constexpr std::size_t kBudget = std::size_t(64) << 20;

template <class T>
void check_csr(const convkit::toeplitz::Matrix<T>& m) {
  if (m.rows() < 0 || m.cols() < 0 || m.nnz() < 0) broken("negative size");
  if (m.rows() > kWalkRows) return;
  if (m.rows() > 0 && (m.row_begin(0) != 0 || m.row_end(m.rows() - 1) != m.nnz()))
    broken("row offsets do not span nnz");
  for (std::int64_t r = 0; r < m.rows(); ++r) {
    if (m.row_begin(r) > m.row_end(r)) broken("row offsets decrease");
    for (std::int64_t j = m.row_begin(r); j < m.row_end(r); ++j) {
      if (m.col(j) < 0 || m.col(j) >= m.cols()) broken("column out of range");
      if (j > m.row_begin(r) && m.col(j) <= m.col(j - 1)) broken("columns not ascending and unique");
    }
  }
  if (m.rows() <= kMultiplyElems && m.cols() <= kMultiplyElems) {
    std::vector<T> x(static_cast<std::size_t>(m.cols()), T(1)), y(static_cast<std::size_t>(m.rows()));
    m.multiply(x.data(), y.data());
    m.multiply_transpose(y.data(), x.data());
  }
  std::stringstream ss;
  m.write_matrix_market(ss);
  convkit::toeplitz::Matrix<T> back;
  try {
    back = convkit::toeplitz::Matrix<T>::read_matrix_market(ss, kBudget);
  } catch (const convkit::Error&) {
    broken("write_matrix_market output does not read back");
  }
  if (back.rows() != m.rows() || back.cols() != m.cols() || back.nnz() != m.nnz())
    broken("write_matrix_market output reads back with other sizes");
  for (std::int64_t j = 0; j < m.nnz(); ++j)
    if (back.col(j) != m.col(j) ||
        !(back.value(j) == m.value(j) || (std::isnan(back.value(j)) && std::isnan(m.value(j)))))
      broken("write_matrix_market output reads back other entries");
}

template <class T>
void one(const std::string& text) {
  std::istringstream is(text);
  try {
    auto m = convkit::toeplitz::Matrix<T>::read_matrix_market(is, kBudget);
    check_csr(m);
  } catch (const convkit::Error& e) {
    convkit_fuzz::expected(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  one<float>(text);
  one<double>(text);
  return 0;
}
