// Tensors: TensorView<T> (a non-owning, trivially copyable pointer + shape, on
// the host or the device, built from a caller's raw pointer), HostTensor<T>
// and DeviceTensor<T> (owning, move-only, RAII), and TensorArg, the
// type-erased view that the dtype-generic entry points take. Tensors are
// dense and row-major.
#pragma once

#include <convkit/context.hpp>
#include <convkit/error.hpp>
#include <convkit/export.hpp>
#include <convkit/types.hpp>

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace convkit {

/// Non-owning view of a dense row-major tensor. Pass by value; use
/// TensorView<const T> for inputs.
template <class T>
struct TensorView {
  T* data = nullptr;
  Shape shape;
  Location location = Location::Device;

  TensorView() = default;
  TensorView(T* d, const Shape& s, Location l) : data(d), shape(s), location(l) {}
  /// A view of the caller's host memory.
  static TensorView host(T* d, const Shape& s) { return TensorView(d, s, Location::Host); }
  /// A view of the caller's device memory.
  static TensorView device(T* d, const Shape& s) { return TensorView(d, s, Location::Device); }

  /// Views of T convert to views of const T.
  template <class U = T, class = std::enable_if_t<!std::is_const_v<U>>>
  operator TensorView<const U>() const { return {data, shape, location}; }

  std::int64_t numel() const { return shape.numel(); }
  /// numel() * sizeof(T); throws InvalidArgument when it overflows.
  std::size_t bytes() const;
};

/// Type-erased tensor argument: what the dtype-generic entry points take. It
/// converts implicitly from any TensorView.
struct TensorArg {
  const void* data = nullptr;
  Shape shape;
  Location location = Location::Device;
  DType dtype = DType::F32;
  bool writable = false;
  bool present = false;  ///< false for an omitted optional tensor (bias)

  TensorArg() = default;
  template <class T>
  TensorArg(TensorView<T> v)  // NOLINT: implicit on purpose
      : data(v.data), shape(v.shape), location(v.location), dtype(dtype_v<T>),
        writable(!std::is_const_v<T>), present(true) {}
};

namespace detail {
// Device memory helpers behind DeviceTensor, all on the context's stream.
CONVKIT_EXPORT void* device_alloc(const std::shared_ptr<ContextState>& ctx, std::size_t bytes);
CONVKIT_EXPORT void device_free(const std::shared_ptr<ContextState>& ctx, void* p) noexcept;
CONVKIT_EXPORT void copy_to_device_async(const std::shared_ptr<ContextState>& ctx, void* dst,
                                         const void* src, std::size_t bytes);
CONVKIT_EXPORT void copy_to_host_sync(const std::shared_ptr<ContextState>& ctx, void* dst,
                                      const void* src, std::size_t bytes);
CONVKIT_EXPORT void check_host_source(const void* src, std::int64_t numel, const char* what);
/// numel(s) * elem, overflow-checked (InvalidArgument naming `what`).
CONVKIT_EXPORT std::size_t tensor_bytes(const Shape& s, std::size_t elem, const char* what);
/// Sizes a HostTensor's storage to numel(s) zeros through the library's one
/// host allocation path: InvalidArgument for a bad shape, OutOfMemory (naming
/// the bytes) when the host cannot provide them.
CONVKIT_EXPORT void host_storage(std::vector<float>& v, const Shape& s, const char* what);
CONVKIT_EXPORT void host_storage(std::vector<double>& v, const Shape& s, const char* what);
}  // namespace detail

template <class T>
std::size_t TensorView<T>::bytes() const {
  return detail::tensor_bytes(shape, sizeof(T), "TensorView");
}

/// Owning host tensor (value-initialised), move-only.
template <class T>
class HostTensor {
 public:
  HostTensor() = default;
  /// Zeros of shape `s`. Throws InvalidArgument (bad shape) or OutOfMemory.
  explicit HostTensor(const Shape& s) : shape_(s) { detail::host_storage(data_, s, "HostTensor"); }
  HostTensor(HostTensor&&) noexcept = default;
  HostTensor& operator=(HostTensor&&) noexcept = default;
  HostTensor(const HostTensor&) = delete;
  HostTensor& operator=(const HostTensor&) = delete;

  const Shape& shape() const { return shape_; }
  std::int64_t numel() const { return static_cast<std::int64_t>(data_.size()); }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  T& operator[](std::int64_t i) { return data_[static_cast<std::size_t>(i)]; }
  const T& operator[](std::int64_t i) const { return data_[static_cast<std::size_t>(i)]; }
  TensorView<T> view() { return TensorView<T>::host(data(), shape_); }
  TensorView<const T> view() const { return TensorView<const T>::host(data(), shape_); }
  std::vector<T>& vector() { return data_; }
  const std::vector<T>& vector() const { return data_; }

 private:
  Shape shape_;
  std::vector<T> data_;
};

/// Owning device tensor, allocated and freed on its context's stream
/// (stream-ordered; no device-wide synchronisation). Move-only. Keeps the
/// context's state alive, so it may outlive the Context object.
template <class T>
class DeviceTensor {
 public:
  DeviceTensor() = default;
  /// Uninitialised device memory for `s`, allocated on ctx's stream.
  /// Throws InvalidArgument (bad shape), NoDevice, OutOfMemory or CudaError.
  DeviceTensor(Context& ctx, const Shape& s)
      : ctx_(ctx.state()), shape_(s),
        data_(static_cast<T*>(detail::device_alloc(ctx_, detail::tensor_bytes(s, sizeof(T), "DeviceTensor")))) {}
  /// A device copy of `numel(s)` host elements at `host`, enqueued on ctx's
  /// stream (the host buffer may be reused as soon as this returns).
  static DeviceTensor from_host(Context& ctx, const T* host, const Shape& s) {
    detail::check_host_source(host, s.numel("from_host shape"), "from_host: host");
    DeviceTensor t(ctx, s);
    detail::copy_to_device_async(t.ctx_, t.data_, host, t.bytes());
    return t;
  }
  static DeviceTensor from_host(Context& ctx, const HostTensor<T>& h) {
    return from_host(ctx, h.data(), h.shape());
  }
  static DeviceTensor from_host(Context& ctx, const std::vector<T>& h, const Shape& s) {
    if (static_cast<std::int64_t>(h.size()) != s.numel())
      throw Error(Status::InvalidArgument, "from_host: vector has " + std::to_string(h.size()) +
                                               " elements but shape " + s.str() + " needs " +
                                               std::to_string(s.numel()));
    return from_host(ctx, h.data(), s);
  }

  ~DeviceTensor() { reset(); }
  DeviceTensor(DeviceTensor&& o) noexcept
      : ctx_(std::move(o.ctx_)), shape_(o.shape_), data_(std::exchange(o.data_, nullptr)) {}
  DeviceTensor& operator=(DeviceTensor&& o) noexcept {
    if (this != &o) {
      reset();
      ctx_ = std::move(o.ctx_);
      shape_ = o.shape_;
      data_ = std::exchange(o.data_, nullptr);
    }
    return *this;
  }
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;

  /// Copies to a new host tensor; synchronises the context's stream.
  HostTensor<T> to_host() const {
    HostTensor<T> h(shape_);
    copy_to_host(h.data());
    return h;
  }
  /// Copies into `numel()` elements at `dst`; synchronises the stream.
  void copy_to_host(T* dst) const {
    detail::check_host_source(dst, numel(), "copy_to_host: dst");
    if (data_) detail::copy_to_host_sync(ctx_, dst, data_, bytes());
  }

  const Shape& shape() const { return shape_; }
  std::int64_t numel() const { return data_ ? shape_.numel() : 0; }
  std::size_t bytes() const { return data_ ? detail::tensor_bytes(shape_, sizeof(T), "DeviceTensor") : 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  TensorView<T> view() { return TensorView<T>::device(data_, shape_); }
  TensorView<const T> view() const { return TensorView<const T>::device(data_, shape_); }

 private:
  void reset() noexcept {
    if (data_) detail::device_free(ctx_, data_);
    data_ = nullptr;
  }
  std::shared_ptr<detail::ContextState> ctx_;
  Shape shape_;
  T* data_ = nullptr;
};

}  // namespace convkit
