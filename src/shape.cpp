// Shape: small fixed-capacity row-major shape with overflow-checked numel.
#include <convkit/error.hpp>
#include <convkit/types.hpp>

#include "arith.hpp"
#include "check.hpp"

#include <ostream>

namespace convkit {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  for (std::int64_t d : dims) push_back(d);
}

void Shape::push_back(std::int64_t d) {
  CONVKIT_EXPECTS(rank_ < kMaxRank, Status::InvalidArgument, "shape rank ", rank_ + 1,
                  " exceeds the maximum rank ", kMaxRank);
  dims_[rank_++] = d;
}

std::int64_t Shape::numel(const char* what) const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) {
    CONVKIT_EXPECTS(dims_[i] >= 0, Status::InvalidArgument, what, " shape ", str(), ": size ",
                    dims_[i], " at axis ", i, " must be >= 0");
  }
  for (int i = 0; i < rank_; ++i)
    n = detail::mul_checked(n, dims_[i], [&] { return detail::msg(what, " shape ", str(), ": element count"); });
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace convkit
