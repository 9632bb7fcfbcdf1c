// ConvSpec, Padding and ConvProblem: the one place where shapes are validated
// and resolved, output sizes computed and FLOPs / bytes counted.
#include <convkit/error.hpp>
#include <convkit/spec.hpp>

#include "arith.hpp"
#include "check.hpp"
#include "validate.hpp"

#include <ostream>
#include <sstream>

namespace convkit {

const char* mode_name(Mode m) noexcept {
  switch (m) {
    case Mode::CrossCorrelation: return "cross-correlation";
    case Mode::Convolution: return "convolution";
  }
  return "unknown";
}

const char* boundary_name(Boundary b) noexcept {
  switch (b) {
    case Boundary::Zeros: return "zeros";
    case Boundary::Circular: return "circular";
    case Boundary::Reflect: return "reflect";
    case Boundary::Replicate: return "replicate";
    case Boundary::Symmetric: return "symmetric";
  }
  return "unknown";
}

// ---------------------------------------------------------------- Padding

Padding Padding::valid() { return Padding(); }
Padding Padding::same() {
  Padding p;
  p.kind_ = Kind::Same;
  return p;
}
Padding Padding::full() {
  Padding p;
  p.kind_ = Kind::Full;
  return p;
}
Padding Padding::uniform(std::int64_t v) {
  Padding p;
  p.kind_ = Kind::Explicit;
  p.lo_ = {v, v, v};
  p.hi_ = {v, v, v};
  return p;
}
Padding Padding::per_dim(std::initializer_list<std::pair<std::int64_t, std::int64_t>> lohi) {
  return per_dim(lohi.begin(), lohi.size());
}
Padding Padding::per_dim(const std::vector<std::pair<std::int64_t, std::int64_t>>& lohi) {
  return per_dim(lohi.data(), lohi.size());
}
Padding Padding::per_dim(const std::pair<std::int64_t, std::int64_t>* lohi, std::size_t count) {
  CONVKIT_EXPECTS(count >= 1 && count <= 3, Status::InvalidArgument,
                  "padding: ", count, " (lo, hi) pairs given; must be 1 to 3, one per spatial dimension");
  CONVKIT_EXPECTS(lohi != nullptr, Status::InvalidArgument, "padding: null pointer to ", count, " (lo, hi) pairs");
  Padding p;
  p.kind_ = Kind::Explicit;
  p.count_ = static_cast<int>(count);
  for (std::size_t i = 0; i < count; ++i) {
    p.lo_[i] = lohi[i].first;
    p.hi_[i] = lohi[i].second;
  }
  return p;
}

bool Padding::operator==(const Padding& o) const {
  return kind_ == o.kind_ && count_ == o.count_ && lo_ == o.lo_ && hi_ == o.hi_;
}

std::string Padding::str() const {
  switch (kind_) {
    case Kind::Valid: return "valid";
    case Kind::Same: return "same";
    case Kind::Full: return "full";
    case Kind::Explicit: break;
  }
  std::ostringstream os;
  if (count_ < 0) {
    os << lo_[0];
    return os.str();
  }
  os << "{";
  for (int i = 0; i < count_; ++i) os << (i ? ", " : "") << "(" << lo_[i] << ", " << hi_[i] << ")";
  os << "}";
  return os.str();
}

// ---------------------------------------------------------------- ConvSpec

ConvSpec::ConvSpec(int dims) : dims_(dims) {}

ConvSpec& ConvSpec::stride(std::int64_t s) {
  stride_ = {s, s, s};
  stride_count_ = -1;
  return *this;
}
ConvSpec& ConvSpec::stride(std::initializer_list<std::int64_t> s) { return stride(s.begin(), s.size()); }
ConvSpec& ConvSpec::stride(const std::vector<std::int64_t>& s) { return stride(s.data(), s.size()); }
ConvSpec& ConvSpec::stride(const std::int64_t* s, std::size_t count) {
  CONVKIT_EXPECTS(count >= 1 && count <= 3, Status::InvalidArgument, "stride: ", count,
                  " values given; must be 1 to 3, one per spatial dimension");
  CONVKIT_EXPECTS(s != nullptr, Status::InvalidArgument, "stride: null pointer to ", count, " values");
  stride_count_ = static_cast<int>(count);
  std::copy(s, s + count, stride_.begin());
  return *this;
}
ConvSpec& ConvSpec::dilation(std::int64_t d) {
  dilation_ = {d, d, d};
  dilation_count_ = -1;
  return *this;
}
ConvSpec& ConvSpec::dilation(std::initializer_list<std::int64_t> d) { return dilation(d.begin(), d.size()); }
ConvSpec& ConvSpec::dilation(const std::vector<std::int64_t>& d) { return dilation(d.data(), d.size()); }
ConvSpec& ConvSpec::dilation(const std::int64_t* d, std::size_t count) {
  CONVKIT_EXPECTS(count >= 1 && count <= 3, Status::InvalidArgument, "dilation: ", count,
                  " values given; must be 1 to 3, one per spatial dimension");
  CONVKIT_EXPECTS(d != nullptr, Status::InvalidArgument, "dilation: null pointer to ", count, " values");
  dilation_count_ = static_cast<int>(count);
  std::copy(d, d + count, dilation_.begin());
  return *this;
}
ConvSpec& ConvSpec::padding(const Padding& p) {
  padding_ = p;
  return *this;
}
ConvSpec& ConvSpec::groups(std::int64_t g) {
  groups_ = g;
  return *this;
}
ConvSpec& ConvSpec::mode(Mode m) {
  mode_ = m;
  return *this;
}
ConvSpec& ConvSpec::boundary(Boundary b) {
  boundary_ = b;
  return *this;
}
ConvSpec& ConvSpec::bias(bool on) {
  bias_ = on;
  return *this;
}

namespace {

// Per-dimension accessors take an index from the caller; out of range is an
// error, not a read past the three slots.
void check_dim_index(const char* who, int i, int count) {
  CONVKIT_EXPECTS(i >= 0 && i < count, Status::InvalidArgument, who, ": spatial dimension index ", i,
                  " is out of range: must lie in [0, ", count, ")");
}

// The spec's number of usable slots: dims() when valid, never past the 3 slots.
int usable_dims(int dims) { return dims < 0 ? 0 : dims > 3 ? 3 : dims; }

}  // namespace

std::int64_t Padding::lo(int dim) const {
  check_dim_index("Padding::lo", dim, count_ < 0 ? 3 : count_);
  return lo_[count_ < 0 ? 0 : dim];
}
std::int64_t Padding::hi(int dim) const {
  check_dim_index("Padding::hi", dim, count_ < 0 ? 3 : count_);
  return hi_[count_ < 0 ? 0 : dim];
}

std::int64_t ConvSpec::stride_at(int i) const {
  check_dim_index("ConvSpec::stride_at", i, usable_dims(dims_));
  return stride_[i];
}
std::int64_t ConvSpec::dilation_at(int i) const {
  check_dim_index("ConvSpec::dilation_at", i, usable_dims(dims_));
  return dilation_[i];
}

std::pair<std::int64_t, std::int64_t> ConvSpec::resolved_padding(int i, std::int64_t k) const {
  check_dim_index("ConvSpec::resolved_padding", i, usable_dims(dims_));
  const std::int64_t dil = dilation_[i];
  std::int64_t total = 0;
  switch (padding_.kind()) {
    case Padding::Kind::Explicit: return {padding_.lo(i), padding_.hi(i)};
    case Padding::Kind::Valid: return {0, 0};
    case Padding::Kind::Full:
    case Padding::Kind::Same:
      total = detail::mul_checked(dil, k - 1, [&] {
        return detail::msg("padding '", padding_.str(), "' along spatial dim ", i, ": dilation*(k-1)");
      });
      break;
  }
  if (padding_.kind() == Padding::Kind::Full) return {total, total};
  const std::int64_t lo = mode_ == Mode::CrossCorrelation ? total / 2 : total - total / 2;
  return {lo, total - lo};
}

namespace {

const char* axis_name(int rank_axis) {
  static const char* names[] = {"N", "C", "D1", "D2", "D3"};
  return names[rank_axis];
}

}  // namespace

ConvProblem ConvSpec::problem(const Shape& x, const Shape& w) const {
  using detail::msg;
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(dims_ >= 1 && dims_ <= 3, bad, "spec dims = ", dims_,
                  ": the number of spatial dimensions must be 1, 2 or 3");
  detail::check_enum(mode_);
  detail::check_enum(boundary_);
  const int d = dims_;
  CONVKIT_EXPECTS(stride_count_ < 0 || stride_count_ == d, bad, "stride: ", stride_count_,
                  " values given for a ", d, "-D spec; give one per spatial dimension or a single value");
  CONVKIT_EXPECTS(dilation_count_ < 0 || dilation_count_ == d, bad, "dilation: ", dilation_count_,
                  " values given for a ", d, "-D spec; give one per spatial dimension or a single value");
  CONVKIT_EXPECTS(padding_.count() < 0 || padding_.count() == d, bad, "padding: ", padding_.count(),
                  " (lo, hi) pairs given for a ", d, "-D spec; give one per spatial dimension");
  CONVKIT_EXPECTS(x.rank() == d + 2, bad, "x rank = ", x.rank(), " (shape ", x,
                  "): a ", d, "-D convolution needs input rank ", d + 2, " [N, C, D1..D", d, "]");
  CONVKIT_EXPECTS(w.rank() == d + 2, bad, "w rank = ", w.rank(), " (shape ", w,
                  "): a ", d, "-D convolution needs weight rank ", d + 2, " [K, C/G, k1..k", d, "]");
  CONVKIT_EXPECTS(x[0] >= 0, bad, "x.shape[0] (N) = ", x[0], ": batch size must be >= 0");
  for (int a = 1; a < x.rank(); ++a)
    CONVKIT_EXPECTS(x[a] >= 1, bad, "x.shape[", a, "] (", axis_name(a), ") = ", x[a],
                    ": must be >= 1 (x shape ", x, ")");
  for (int a = 0; a < w.rank(); ++a)
    CONVKIT_EXPECTS(w[a] >= 1, bad, "w.shape[", a, "] (", a == 0 ? "K" : a == 1 ? "C/G" : "k", ") = ",
                    w[a], ": must be >= 1 (w shape ", w, ")");
  CONVKIT_EXPECTS(groups_ >= 1, bad, "groups = ", groups_, ": must be >= 1");
  const std::int64_t C = x[1], K = w[0];
  CONVKIT_EXPECTS(C % groups_ == 0, bad, "groups = ", groups_, ": must divide the input channels C = ", C);
  CONVKIT_EXPECTS(K % groups_ == 0, bad, "groups = ", groups_, ": must divide the output channels K = ", K);
  CONVKIT_EXPECTS(w[1] == C / groups_, bad, "w.shape[1] = ", w[1], ": must equal C/groups = ", C, "/",
                  groups_, " = ", C / groups_);

  ConvProblem p;
  p.dims = d;
  p.N = x[0];
  p.C = C;
  p.K = K;
  p.G = groups_;
  p.mode = mode_;
  p.boundary = boundary_;
  p.has_bias = bias_;
  for (int i = 0; i < d; ++i) {
    const int slot = 3 - d + i;
    const std::int64_t D = x[2 + i], k = w[2 + i];
    const std::int64_t s = stride_[i], dil = dilation_[i];
    CONVKIT_EXPECTS(s >= 1, bad, "stride[", i, "] = ", s, ": must be >= 1");
    CONVKIT_EXPECTS(dil >= 1, bad, "dilation[", i, "] = ", dil, ": must be >= 1");
    CONVKIT_EXPECTS(!(padding_.kind() == Padding::Kind::Same && s != 1), bad, "padding 'same' with stride[",
                    i, "] = ", s, ": 'same' needs stride 1");
    // Plain variables, not a structured binding: the lambdas below capture them.
    const std::pair<std::int64_t, std::int64_t> lohi = resolved_padding(i, k);
    const std::int64_t lo = lohi.first, hi = lohi.second;
    CONVKIT_EXPECTS(lo >= 0, bad, "padding lo[", i, "] = ", lo, ": must be >= 0");
    CONVKIT_EXPECTS(hi >= 0, bad, "padding hi[", i, "] = ", hi, ": must be >= 0");
    auto pad_what = [&] {
      return msg("padding (", lo, ", ", hi, ") along spatial dim ", i, ": D + lo + hi with D = ", D);
    };
    const std::int64_t padded = detail::add_checked(detail::add_checked(D, lo, pad_what), hi, pad_what);
    auto ext_what = [&] {
      return msg("kernel size k[", i, "] = ", k, " with dilation ", dil, ": dilation*(k-1)+1");
    };
    const std::int64_t extent = detail::add_checked(detail::mul_checked(dil, k - 1, ext_what), 1, ext_what);
    CONVKIT_EXPECTS(extent <= padded, bad, "kernel along spatial dim ", i, ": dilated size dilation*(k-1)+1 = ",
                    extent, " exceeds the padded input D + lo + hi = ", padded,
                    "; the output size would be < 1");
    if (boundary_ == Boundary::Circular)
      CONVKIT_EXPECTS(lo <= D && hi <= D, bad, "boundary circular: padding (", lo, ", ", hi,
                      ") along spatial dim ", i, " must be <= D = ", D);
    // Symmetric, like circular, folds once: a pad past D would need a second
    // mirror image (NumPy's pad repeats it; PyTorch has no such mode).
    if (boundary_ == Boundary::Symmetric)
      CONVKIT_EXPECTS(lo <= D && hi <= D, bad, "boundary symmetric: padding (", lo, ", ", hi,
                      ") along spatial dim ", i, " must be <= D = ", D);
    if (boundary_ == Boundary::Reflect)
      CONVKIT_EXPECTS(lo < D && hi < D, bad, "boundary reflect: padding (", lo, ", ", hi,
                      ") along spatial dim ", i, " must be < D = ", D);
    p.in[slot] = D;
    p.ker[slot] = k;
    p.stride[slot] = s;
    p.dilation[slot] = dil;
    p.pad_lo[slot] = lo;
    p.pad_hi[slot] = hi;
    p.out[slot] = (padded - extent) / s + 1;
  }
  x.numel("x");
  w.numel("w");
  p.y_shape().numel("y");
  // One image's sizes must fit too: with N = 0 the element counts above are 0
  // whatever the rest, but the spatial products and per-image sizes are
  // still used (FLOP and byte counts, matrix sizes, launch geometry).
  auto per_image = [&](const char* what, std::int64_t channels, const std::int64_t* dims) {
    auto why = [&] { return msg(what, ": one image's element count overflows 64 bits"); };
    std::int64_t n = channels;
    for (int a = 0; a < 3; ++a) n = detail::mul_checked(n, dims[a], why);
    return n;
  };
  per_image("x", p.C, p.in);
  per_image("y", p.K, p.out);
  return p;
}

Shape ConvSpec::output_shape(const Shape& x, const Shape& w) const { return problem(x, w).y_shape(); }

bool ConvSpec::operator==(const ConvSpec& o) const {
  // Specs are compared before validation too (e.g. as cache keys), so an
  // out-of-range dims_ must not index past the 3 slots.
  auto eff = [](const std::array<std::int64_t, 3>& a, int count, int d) {
    std::array<std::int64_t, 3> r{1, 1, 1};
    for (int i = 0; i < d && i < 3; ++i) r[i] = count < 0 ? a[0] : a[i];
    return r;
  };
  return dims_ == o.dims_ && eff(stride_, stride_count_, dims_) == eff(o.stride_, o.stride_count_, o.dims_) &&
         eff(dilation_, dilation_count_, dims_) == eff(o.dilation_, o.dilation_count_, o.dims_) &&
         padding_ == o.padding_ && groups_ == o.groups_ && mode_ == o.mode_ && boundary_ == o.boundary_ &&
         bias_ == o.bias_;
}

namespace {
inline void hash_mix(std::size_t& h, std::uint64_t v) {
  h ^= std::hash<std::uint64_t>()(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
}
}  // namespace

std::size_t ConvSpec::hash() const {
  std::size_t h = 0;
  hash_mix(h, static_cast<std::uint64_t>(dims_));
  for (int i = 0; i < dims_ && i < 3; ++i) {  // dims_ is unvalidated here, as in operator==
    hash_mix(h, static_cast<std::uint64_t>(stride_count_ < 0 ? stride_[0] : stride_[i]));
    hash_mix(h, static_cast<std::uint64_t>(dilation_count_ < 0 ? dilation_[0] : dilation_[i]));
    if (padding_.count() < 0 || i < padding_.count()) {  // hashing never throws, whatever the spec
      hash_mix(h, static_cast<std::uint64_t>(padding_.lo(i)));
      hash_mix(h, static_cast<std::uint64_t>(padding_.hi(i)));
    }
  }
  hash_mix(h, static_cast<std::uint64_t>(padding_.kind()));
  hash_mix(h, static_cast<std::uint64_t>(groups_));
  hash_mix(h, static_cast<std::uint64_t>(mode_));
  hash_mix(h, static_cast<std::uint64_t>(boundary_));
  hash_mix(h, bias_);
  return h;
}

std::string ConvSpec::str() const {
  std::ostringstream os;
  auto list = [&](const std::array<std::int64_t, 3>& a, int count) {
    if (count < 0) {
      os << a[0];
      return;
    }
    os << "{";
    for (int i = 0; i < count; ++i) os << (i ? "," : "") << a[i];
    os << "}";
  };
  os << "conv" << dims_ << "d(stride=";
  list(stride_, stride_count_);
  os << ", dilation=";
  list(dilation_, dilation_count_);
  os << ", padding=" << padding_.str() << ", groups=" << groups_ << ", mode=" << mode_name(mode_)
     << ", boundary=" << boundary_name(boundary_) << (bias_ ? ", bias" : "") << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const ConvSpec& s) { return os << s.str(); }

// ---------------------------------------------------------------- ConvProblem

Shape ConvProblem::x_shape() const {
  Shape s{N, C};
  for (int i = 3 - dims; i < 3; ++i) s.push_back(in[i]);
  return s;
}
Shape ConvProblem::w_shape() const {
  Shape s{K, Cg()};
  for (int i = 3 - dims; i < 3; ++i) s.push_back(ker[i]);
  return s;
}
Shape ConvProblem::y_shape() const {
  Shape s{N, K};
  for (int i = 3 - dims; i < 3; ++i) s.push_back(out[i]);
  return s;
}

double ConvProblem::flops() const {
  return 2.0 * double(N) * double(K) * double(out_spatial()) * double(Cg()) * double(ker_spatial());
}

double ConvProblem::min_bytes(DType t) const {
  const double e = double(dtype_size(t));
  double n = double(N) * double(C) * double(in_spatial()) + double(K) * double(Cg()) * double(ker_spatial()) +
             double(N) * double(K) * double(out_spatial());
  if (has_bias) n += double(K);
  return n * e;
}

bool ConvProblem::operator==(const ConvProblem& o) const {
  for (int i = 0; i < 3; ++i)
    if (in[i] != o.in[i] || ker[i] != o.ker[i] || out[i] != o.out[i] || stride[i] != o.stride[i] ||
        dilation[i] != o.dilation[i] || pad_lo[i] != o.pad_lo[i] || pad_hi[i] != o.pad_hi[i])
      return false;
  return dims == o.dims && N == o.N && C == o.C && K == o.K && G == o.G && mode == o.mode &&
         boundary == o.boundary && has_bias == o.has_bias;
}

std::size_t ConvProblem::hash() const {
  std::size_t h = 0;
  for (std::int64_t v : {std::int64_t(dims), N, C, K, G, std::int64_t(mode), std::int64_t(boundary),
                         std::int64_t(has_bias)})
    hash_mix(h, static_cast<std::uint64_t>(v));
  for (int i = 0; i < 3; ++i)
    for (std::int64_t v : {in[i], ker[i], stride[i], dilation[i], pad_lo[i], pad_hi[i]})
      hash_mix(h, static_cast<std::uint64_t>(v));
  return h;
}

std::string ConvProblem::str() const {
  std::ostringstream os;
  auto sp = [&](const std::int64_t* a) {
    for (int i = 3 - dims; i < 3; ++i) os << (i > 3 - dims ? "x" : "") << a[i];
  };
  os << "conv" << dims << "d N=" << N << " C=" << C << " K=" << K << " G=" << G << " in=";
  sp(in);
  os << " k=";
  sp(ker);
  os << " out=";
  sp(out);
  os << " s=";
  sp(stride);
  os << " dil=";
  sp(dilation);
  os << " pad=";
  for (int i = 3 - dims; i < 3; ++i) os << (i > 3 - dims ? "," : "") << "(" << pad_lo[i] << "," << pad_hi[i] << ")";
  os << " " << mode_name(mode) << " " << boundary_name(boundary) << (has_bias ? " bias" : "");
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const ConvProblem& p) { return os << p.str(); }

}  // namespace convkit
