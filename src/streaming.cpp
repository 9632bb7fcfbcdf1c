// StreamingConv: causal 1-D filtering of chunked signals, on the public API
// only. Each push copies [history | chunk] into a working buffer (one strided
// copy per operand on the stream), runs one convkit::conv over it with valid
// padding, and copies the buffer's last dil·(k−1) samples of each row back as
// the new history. Nothing here launches a kernel of its own.
#include <convkit/choice.hpp>
#include <convkit/streaming.hpp>

#include "arith.hpp"
#include "check.hpp"
#include "validate.hpp"

#include <cuda_runtime_api.h>

#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

namespace convkit {
namespace detail {

namespace {

// Storage at a location: host memory (doubles, so aligned for either dtype)
// or device memory allocated and freed on the context's stream.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  void* data() { return loc_ == Location::Host ? static_cast<void*>(host_.data()) : dev_; }
  const void* data() const { return loc_ == Location::Host ? static_cast<const void*>(host_.data()) : dev_; }
  std::size_t bytes() const { return bytes_; }

  // Storage for at least `bytes` (the contents are not kept when it grows).
  void reserve(const std::shared_ptr<ContextState>& st, Location loc, std::size_t bytes) {
    if (bytes <= bytes_ && loc == loc_) return;
    if (loc == Location::Host) {
      std::vector<double> v;
      try {
        v.resize((bytes + sizeof(double) - 1) / sizeof(double));
      } catch (const std::bad_alloc&) {
        throw Error(Status::OutOfMemory, msg("StreamingConv: cannot allocate ", bytes, " bytes of host memory"));
      }
      release();
      host_ = std::move(v);
    } else {
      void* p = device_alloc(st, bytes);
      release();
      st_ = st;
      dev_ = p;
    }
    loc_ = loc;
    bytes_ = bytes;
  }

 private:
  void release() noexcept {
    if (dev_) device_free(st_, dev_);
    dev_ = nullptr;
    host_.clear();
    bytes_ = 0;
  }
  Location loc_ = Location::Host;
  std::shared_ptr<ContextState> st_;
  std::vector<double> host_;
  void* dev_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace

class StreamingImpl {
 public:
  StreamingImpl(Context& ctx, const ConvSpec& spec, const TensorArg& w, const TensorArg& bias, Algorithm algo,
                std::int64_t batch);

  void push(const TensorArg& x, const TensorArg& y);
  void set_history(const TensorArg& h);
  void zero_history();
  void reset();
  TensorArg history() const { return view(hist_.data(), hist_shape_); }
  Shape output_shape(const Shape& x) const;
  Algorithm algorithm_for(std::int64_t L);

  Context* ctx_;
  ConvSpec spec_;  // the push spec: the caller's with valid padding
  Algorithm algo_;
  DType dtype_;
  Location loc_;
  std::int64_t N_, C_, K_, h_;
  Shape w_shape_, hist_shape_;
  std::int64_t pushed_ = 0;

 private:
  TensorArg view(const void* p, const Shape& s) const {
    TensorArg t;
    t.data = p;
    t.shape = s;
    t.location = loc_;
    t.dtype = dtype_;
    t.writable = false;
    t.present = true;
    return t;
  }
  std::size_t elem() const { return dtype_size(dtype_); }
  // rows of `width` bytes from src (pitch spitch) to dst (pitch dpitch), in
  // stream order on a device stream.
  void copy_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                 std::int64_t rows) const;
  void fill_zero(Buffer& b, std::size_t bytes) const;
  void check_chunk(const TensorArg& x, const char* name) const;

  std::shared_ptr<ContextState> st_;
  Buffer w_, b_, hist_, start_, work_;
  bool has_bias_ = false, has_start_ = false;
  // Auto's choice per chunk length, valid for the context settings it was made under.
  std::unordered_map<std::int64_t, Algorithm> choice_;
  std::size_t choice_limit_ = 0;
  bool choice_tf32_ = false, choice_det_ = false, choice_exact_ = false, choice_tuning_ = false;
};

StreamingImpl::StreamingImpl(Context& ctx, const ConvSpec& spec, const TensorArg& w, const TensorArg& bias,
                             Algorithm algo, std::int64_t batch)
    : ctx_(&ctx), spec_(spec), algo_(algo), st_(ctx.state()) {
  const Status bad = Status::InvalidArgument;
  check_enum(algo);
  check_enum(spec.mode(), "spec mode");
  check_enum(spec.boundary(), "spec boundary");
  CONVKIT_EXPECTS(spec.dims() == 1, bad, "StreamingConv: spec dims = ", spec.dims(),
                  ": streaming filters 1-D signals (ConvSpec::conv1d())");
  CONVKIT_EXPECTS(w.present, bad, "StreamingConv: w is missing");
  check_enum(w.dtype, "w dtype");
  check_enum(w.location, "w location");
  CONVKIT_EXPECTS(w.shape.rank() == 3, bad, "StreamingConv: w shape = ", w.shape,
                  ": must be [K, C/G, k] (rank 3) for a 1-D spec");
  CONVKIT_EXPECTS(spec.stride_at(0) == 1, Status::NotSupported, "StreamingConv: spec stride = ", spec.stride_at(0),
                  ": streaming supports stride 1 only (one output per input sample)");
  CONVKIT_EXPECTS(spec.boundary() == Boundary::Zeros, bad, "StreamingConv: spec boundary = ",
                  boundary_name(spec.boundary()),
                  ": must be zeros (the history is the signal's past; to start as Boundary::Replicate does, "
                  "set_history() to the first sample repeated)");
  CONVKIT_EXPECTS(batch >= 1, bad, "StreamingConv: batch = ", batch, ": must be >= 1 (the number of streams N)");
  dtype_ = w.dtype;
  loc_ = w.location;
  N_ = batch;
  K_ = w.shape[0];
  const std::int64_t G = spec.groups();
  C_ = mul_checked(w.shape[1], G >= 1 ? G : 1, "StreamingConv: channels C = w[1] * groups");
  const std::int64_t k = w.shape[2], dil = spec.dilation_at(0);
  h_ = 0;
  if (k >= 1 && dil >= 1) {
    h_ = mul_checked(dil, k - 1, "StreamingConv: history length dilation * (k - 1)");
    const auto pad = spec.resolved_padding(0, k);
    CONVKIT_EXPECTS(pad.first == h_ && pad.second == 0, bad, "StreamingConv: spec padding = ", spec.padding().str(),
                    " resolves to (", pad.first, ", ", pad.second, "): must be the causal padding (dilation * (k - 1), 0) = (",
                    h_, ", 0), e.g. Padding::per_dim({{", h_, ", 0}}): pushes reproduce conv() with that padding");
  }
  // Every remaining rule (groups, channel counts, dilation, kernel size) as conv() checks it.
  spec.problem(Shape{N_, C_, add_checked(h_, std::int64_t{1}, "StreamingConv: history length + 1")}, w.shape);
  spec_.padding(Padding::valid());
  w_shape_ = w.shape;
  hist_shape_ = Shape{N_, C_, h_};

  if (loc_ == Location::Host) {
    CONVKIT_EXPECTS(algo == Algorithm::Auto || algo == Algorithm::Reference, bad, "StreamingConv: algorithm = ",
                    algorithm_name(algo), " with host weights: a host stream runs Algorithm::Reference (pass Auto or "
                    "Reference), a device stream (device weights) runs the GPU algorithms");
  } else {
    CONVKIT_EXPECTS(algo != Algorithm::Reference, bad,
                    "StreamingConv: algorithm = Reference with device weights: Algorithm::Reference runs on host "
                    "tensors only; give host weights for a host stream");
  }
  check_tensor(w, "w", dtype_, loc_, w.shape, false);
  has_bias_ = spec.has_bias();
  check_bias(bias, has_bias_, dtype_, loc_, K_);
  if (loc_ == Location::Device && algo != Algorithm::Auto) {
    const Support s = supports(spec_, Shape{N_, C_, h_ + 1}, w_shape_, dtype_, algo);
    CONVKIT_EXPECTS(s.ok, Status::NotSupported, "StreamingConv: algorithm = ", algorithm_name(algo),
                    " cannot run this stream's convolution: ", s.reason);
  }
  if (loc_ == Location::Device) ctx.stream();  // NoDevice here, before any allocation

  // Own copies of the weights and bias, and zero history.
  const std::size_t wb = tensor_bytes(w.shape, elem(), "w");
  w_.reserve(st_, loc_, wb);
  copy_rows(w_.data(), wb, w.data, wb, wb, 1);
  if (has_bias_) {
    const std::size_t bb = tensor_bytes(bias.shape, elem(), "bias");
    b_.reserve(st_, loc_, bb);
    copy_rows(b_.data(), bb, bias.data, bb, bb, 1);
  }
  const std::size_t hb = tensor_bytes(hist_shape_, elem(), "history");
  hist_.reserve(st_, loc_, hb);
  fill_zero(hist_, hb);
}

void StreamingImpl::copy_rows(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                              std::int64_t rows) const {
  if (width == 0 || rows == 0) return;
  if (loc_ == Location::Host) {
    for (std::int64_t r = 0; r < rows; ++r)
      std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
    return;
  }
  const cudaStream_t s = ctx_->stream();
  if (rows == 1 || (dpitch == width && spitch == width)) {  // one contiguous range (one channel, or no gaps)
    CONVKIT_CUDA_TRY(cudaMemcpyAsync(dst, src, width * static_cast<std::size_t>(rows), cudaMemcpyDeviceToDevice, s));
    return;
  }
  // cudaMemcpy2DAsync takes pitches up to the device's maximum (2^31 − 1
  // bytes on current GPUs); rows longer than that are copied one by one.
  constexpr std::size_t kMaxPitch = 2147483647u;
  if (dpitch <= kMaxPitch && spitch <= kMaxPitch) {
    CONVKIT_CUDA_TRY(
        cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, static_cast<std::size_t>(rows), cudaMemcpyDeviceToDevice, s));
    return;
  }
  for (std::int64_t r = 0; r < rows; ++r)
    CONVKIT_CUDA_TRY(cudaMemcpyAsync(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch,
                                     width, cudaMemcpyDeviceToDevice, s));
}

void StreamingImpl::fill_zero(Buffer& b, std::size_t bytes) const {
  if (bytes == 0) return;
  if (loc_ == Location::Host)
    std::memset(b.data(), 0, bytes);  // all-zero bits are 0.0 in IEEE float and double
  else
    CONVKIT_CUDA_TRY(cudaMemsetAsync(b.data(), 0, bytes, ctx_->stream()));
}

void StreamingImpl::check_chunk(const TensorArg& x, const char* name) const {
  const Status bad = Status::InvalidArgument;
  CONVKIT_EXPECTS(x.present, bad, "StreamingConv: ", name, " is missing");
  check_enum(x.dtype, msg(name, " dtype").c_str());
  check_enum(x.location, msg(name, " location").c_str());
  CONVKIT_EXPECTS(x.dtype == dtype_, bad, "StreamingConv: ", name, " dtype = ", dtype_name(x.dtype),
                  ": must be the stream's dtype ", dtype_name(dtype_), " (its weights')");
  CONVKIT_EXPECTS(x.location == loc_, bad, "StreamingConv: ", name, " is a ", location_name(x.location),
                  " view: this stream runs on the ", location_name(loc_), " (where its weights are)");
}

Shape StreamingImpl::output_shape(const Shape& x) const {
  CONVKIT_EXPECTS(x.rank() == 3 && x[0] == N_ && x[1] == C_ && x[2] >= 0, Status::InvalidArgument,
                  "StreamingConv: x shape = ", x, ": a chunk must be [N, C, L] = [", N_, ", ", C_,
                  ", L] with L >= 0 (N streams of C channels)");
  return Shape{N_, K_, x[2]};
}

Algorithm StreamingImpl::algorithm_for(std::int64_t L) {
  CONVKIT_EXPECTS(L >= 1, Status::InvalidArgument, "StreamingConv: chunk length L = ", L, ": must be >= 1");
  if (loc_ == Location::Host) return Algorithm::Reference;
  if (algo_ != Algorithm::Auto) return algo_;
  // The choice depends on these context settings: remake it when they change.
  if (choice_limit_ != ctx_->workspace_limit() || choice_tf32_ != ctx_->allow_tf32() ||
      choice_det_ != ctx_->deterministic() || choice_exact_ != ctx_->exact() || choice_tuning_ != ctx_->tuning()) {
    choice_.clear();
    choice_limit_ = ctx_->workspace_limit();
    choice_tf32_ = ctx_->allow_tf32();
    choice_det_ = ctx_->deterministic();
    choice_exact_ = ctx_->exact();
    choice_tuning_ = ctx_->tuning();
  }
  const auto it = choice_.find(L);
  if (it != choice_.end()) return it->second;
  const Shape xs{N_, C_, add_checked(h_, L, "StreamingConv: history length + chunk length")};
  const Algorithm a = choose_algorithm(*ctx_, spec_, xs, w_shape_, dtype_).chosen;
  if (choice_.size() >= 256) choice_.clear();  // lengths that vary without end do not grow it without end
  choice_.emplace(L, a);
  return a;
}

void StreamingImpl::push(const TensorArg& x, const TensorArg& y) {
  check_chunk(x, "x");
  check_chunk(y, "y");
  const Shape ys = output_shape(x.shape);
  check_tensor(x, "x", dtype_, loc_, x.shape, false);
  check_tensor(y, "y", dtype_, loc_, ys, true);
  check_no_overlap(y, "y", x, "x");
  const std::int64_t L = x.shape[2];
  if (L == 0) return;
  const Algorithm a = algorithm_for(L);
  const TensorArg w = view(w_.data(), w_shape_);
  const TensorArg b = has_bias_ ? view(b_.data(), Shape{K_}) : TensorArg();
  if (h_ == 0) {  // no past to keep: the chunk is the whole input
    conv(*ctx_, spec_, x, w, b, y, a);
    pushed_ += L;
    return;
  }
  const std::int64_t rows = mul_checked(N_, C_, "StreamingConv: rows N * C");
  const Shape ws{N_, C_, add_checked(h_, L, "StreamingConv: history length + chunk length")};
  const std::size_t e = elem(), pitch = bytes_checked(ws[2], e, "StreamingConv: row bytes");
  work_.reserve(st_, loc_, tensor_bytes(ws, e, "StreamingConv working buffer"));
  char* work = static_cast<char*>(work_.data());
  copy_rows(work, pitch, hist_.data(), h_ * e, h_ * e, rows);
  copy_rows(work + h_ * e, pitch, x.data, L * e, L * e, rows);
  conv(*ctx_, spec_, view(work, ws), w, b, y, a);
  copy_rows(hist_.data(), h_ * e, work + L * e, pitch, h_ * e, rows);  // the last h samples of each row
  pushed_ += L;
}

void StreamingImpl::set_history(const TensorArg& h) {
  check_chunk(h, "history");
  CONVKIT_EXPECTS(h.shape == hist_shape_, Status::InvalidArgument, "StreamingConv: history shape = ", h.shape,
                  ": must be [N, C, dilation * (k - 1)] = ", hist_shape_);
  check_tensor(h, "history", dtype_, loc_, h.shape, false);
  const std::size_t hb = tensor_bytes(hist_shape_, elem(), "history");
  start_.reserve(st_, loc_, hb);
  copy_rows(start_.data(), hb, h.data, hb, hb, 1);  // memmove / cudaMemcpy: h may be history() itself
  copy_rows(hist_.data(), hb, start_.data(), hb, hb, 1);
  has_start_ = true;
  pushed_ = 0;
}

void StreamingImpl::zero_history() {
  fill_zero(hist_, tensor_bytes(hist_shape_, elem(), "history"));
  has_start_ = false;
  pushed_ = 0;
}

void StreamingImpl::reset() {
  const std::size_t hb = tensor_bytes(hist_shape_, elem(), "history");
  if (has_start_)
    copy_rows(hist_.data(), hb, start_.data(), hb, hb, 1);
  else
    fill_zero(hist_, hb);
  pushed_ = 0;
}

}  // namespace detail

namespace {

detail::StreamingImpl& live(const std::unique_ptr<detail::StreamingImpl>& p, const char* fn) {
  CONVKIT_EXPECTS(p != nullptr, Status::InvalidArgument, "StreamingConv::", fn,
                  ": used after move (a moved-from StreamingConv holds nothing until one is assigned to it)");
  return *p;
}

}  // namespace

StreamingConv::StreamingConv(Context& ctx, const ConvSpec& spec, TensorArg w, Algorithm algo, std::int64_t batch)
    : StreamingConv(ctx, spec, w, TensorArg(), algo, batch) {}

StreamingConv::StreamingConv(Context& ctx, const ConvSpec& spec, TensorArg w, TensorArg bias, Algorithm algo,
                             std::int64_t batch)
    : impl_(std::make_unique<detail::StreamingImpl>(ctx, spec, w, bias, algo, batch)) {}

StreamingConv::~StreamingConv() = default;
StreamingConv::StreamingConv(StreamingConv&&) noexcept = default;
StreamingConv& StreamingConv::operator=(StreamingConv&&) noexcept = default;

void StreamingConv::push(TensorArg x, TensorArg y) { live(impl_, "push").push(x, y); }
void StreamingConv::set_history(TensorArg h) { live(impl_, "set_history").set_history(h); }
void StreamingConv::zero_history() { live(impl_, "zero_history").zero_history(); }
void StreamingConv::reset() { live(impl_, "reset").reset(); }
TensorArg StreamingConv::history() const { return live(impl_, "history").history(); }
Shape StreamingConv::output_shape(const Shape& x) const { return live(impl_, "output_shape").output_shape(x); }
Algorithm StreamingConv::algorithm_for(std::int64_t L) { return live(impl_, "algorithm_for").algorithm_for(L); }
const ConvSpec& StreamingConv::push_spec() const { return live(impl_, "push_spec").spec_; }
Algorithm StreamingConv::algorithm() const { return live(impl_, "algorithm").algo_; }
DType StreamingConv::dtype() const { return live(impl_, "dtype").dtype_; }
Location StreamingConv::location() const { return live(impl_, "location").loc_; }
std::int64_t StreamingConv::batch() const { return live(impl_, "batch").N_; }
std::int64_t StreamingConv::channels() const { return live(impl_, "channels").C_; }
std::int64_t StreamingConv::out_channels() const { return live(impl_, "out_channels").K_; }
std::int64_t StreamingConv::history_length() const { return live(impl_, "history_length").h_; }
std::int64_t StreamingConv::samples_pushed() const { return live(impl_, "samples_pushed").pushed_; }
Context& StreamingConv::context() const { return *live(impl_, "context").ctx_; }

}  // namespace convkit
