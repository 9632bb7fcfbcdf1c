// convkit._convkit: the nanobind extension over convkit's public C++ API.
//
// It exposes the library almost one to one -- ConvSpec and Padding, the
// queries (output_shape, supports, workspace_bytes, choose_algorithm), the
// forward convolution on host (the CPU reference) or device arrays, the host
// Toeplitz matrix and the reference transposed convolution, the gradients
// and the transposed convolution on host or device arrays, StreamingConv --
// and maps convkit::Error statuses to Python exceptions. Arrays arrive through nanobind's
// ndarray (DLPack or the buffer protocol) without copies; the pure-Python layer
// (convkit/*.py) makes them contiguous, allocates outputs in the caller's array
// type and resolves the caller's stream before calling in here.
#include <convkit/convkit.hpp>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#ifndef CONVKIT_PY_CUDA_ARCHITECTURES
#define CONVKIT_PY_CUDA_ARCHITECTURES "unknown"
#endif

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using Array = nb::ndarray<nb::c_contig>;
using ShapeVec = std::vector<std::int64_t>;

// convkit.Error: the Python class for the statuses that have no builtin
// counterpart (WorkspaceTooSmall, NoDevice, the CUDA library errors, internal
// errors). Created once at import; the translator raises instances carrying
// `.status`.
PyObject* g_error_class = nullptr;

void translate_error(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const convkit::Error& e) {
    switch (e.status()) {
      case convkit::Status::InvalidArgument: PyErr_SetString(PyExc_ValueError, e.what()); return;
      case convkit::Status::NotSupported: PyErr_SetString(PyExc_NotImplementedError, e.what()); return;
      case convkit::Status::OutOfMemory: PyErr_SetString(PyExc_MemoryError, e.what()); return;
      default: break;
    }
    // Translators run with the GIL held. The instance carries the message
    // alone (str(e) is the library's message) and the status as an attribute.
    nb::object status = nb::cast(e.status());
    nb::object inst = nb::steal(PyObject_CallFunction(g_error_class, "s", e.what()));
    if (!inst.is_valid()) return;  // the constructor's own error is pending
    if (PyObject_SetAttrString(inst.ptr(), "status", status.ptr()) != 0) return;
    PyErr_SetObject(g_error_class, inst.ptr());
  }
}

convkit::Shape to_shape(const ShapeVec& v, const char* what) {
  if (v.size() > static_cast<std::size_t>(convkit::Shape::kMaxRank))
    throw convkit::Error(convkit::Status::InvalidArgument,
                         std::string(what) + ": rank " + std::to_string(v.size()) + " exceeds " +
                             std::to_string(convkit::Shape::kMaxRank));
  convkit::Shape s;
  for (std::int64_t d : v) s.push_back(d);
  return s;
}

ShapeVec from_shape(const convkit::Shape& s) { return ShapeVec(s.begin(), s.end()); }

convkit::DType dtype_of(const Array& a, const char* what) {
  const auto dt = a.dtype();
  if (dt == nb::dtype<float>()) return convkit::DType::F32;
  if (dt == nb::dtype<double>()) return convkit::DType::F64;
  throw convkit::Error(convkit::Status::InvalidArgument,
                       std::string(what) + ": dtype must be float32 or float64 (got DLPack code " +
                           std::to_string(dt.code) + ", " + std::to_string(dt.bits) + " bits)");
}

bool on_device(const Array& a) {
  return a.device_type() == nb::device::cuda::value || a.device_type() == nb::device::cuda_managed::value;
}

convkit::TensorArg tensor_arg(const Array& a, const char* what, bool writable) {
  if (a.device_type() != nb::device::cpu::value && !on_device(a))
    throw convkit::Error(convkit::Status::InvalidArgument,
                         std::string(what) + ": arrays must live in host memory or on a CUDA device (DLPack device type " +
                             std::to_string(a.device_type()) + ")");
  convkit::TensorArg t;
  t.data = a.data();
  ShapeVec shape(a.shape_ptr(), a.shape_ptr() + a.ndim());
  t.shape = to_shape(shape, what);
  t.location = on_device(a) ? convkit::Location::Device : convkit::Location::Host;
  t.dtype = dtype_of(a, what);
  t.writable = writable;
  t.present = true;
  return t;
}

// Contexts bound to callers' streams, one per (device, stream), kept for the
// life of the process: destroying one would synchronise (its cuBLAS handle),
// and convkit never synchronises behind the caller. They are deliberately
// never destroyed (not even at exit, when the CUDA runtime may be gone).
// Calls into here hold the GIL, so the map needs no lock of its own.
convkit::Context& context_for(int device, std::uintptr_t stream) {
  static auto* contexts = new std::map<std::pair<int, std::uintptr_t>, std::unique_ptr<convkit::Context>>();
  auto& slot = (*contexts)[{device, stream}];
  if (!slot) slot = std::make_unique<convkit::Context>(reinterpret_cast<cudaStream_t>(stream));
  return *slot;
}

// A Python handle on context_for(device, stream), for its settings.
struct ContextHandle {
  int device;
  std::uintptr_t stream;
  convkit::Context* ctx;
};

// Makes `device` current for the duration of a call and restores the
// caller's device afterwards (a PyTorch or CuPy current device may differ
// from the array's).
struct DeviceGuard {
  int previous = -1;
  explicit DeviceGuard(int device) {
    if (device < 0) return;
    if (cudaGetDevice(&previous) != cudaSuccess) {
      previous = -1;
      cudaGetLastError();
      return;
    }
    if (previous != device && cudaSetDevice(device) != cudaSuccess) cudaGetLastError();
  }
  ~DeviceGuard() {
    if (previous >= 0) cudaSetDevice(previous);
  }
};

void conv(const convkit::ConvSpec& spec, const Array& x, const Array& w, const std::optional<Array>& bias,
          const Array& y, convkit::Algorithm algo, std::uintptr_t stream) {
  const convkit::TensorArg tx = tensor_arg(x, "x", false);
  const convkit::TensorArg tw = tensor_arg(w, "w", false);
  const convkit::TensorArg tb = bias ? tensor_arg(*bias, "bias", false) : convkit::TensorArg();
  const convkit::TensorArg ty = tensor_arg(y, "out", true);
  const bool all_host = tx.location == convkit::Location::Host && tw.location == convkit::Location::Host &&
                        ty.location == convkit::Location::Host &&
                        (!tb.present || tb.location == convkit::Location::Host);
  if (all_host && (algo == convkit::Algorithm::Auto || algo == convkit::Algorithm::Reference)) {
    nb::gil_scoped_release release;  // host arrays stay alive: the caller holds them
    if (tb.present)
      convkit::reference::conv(spec, tx, tw, tb, ty);
    else
      convkit::reference::conv(spec, tx, tw, ty);
    return;
  }
  // Device arrays (or a GPU algorithm asked for on host arrays, which the
  // library refuses with its own message). The call only enqueues work.
  DeviceGuard guard(on_device(x) ? x.device_id() : -1);
  convkit::Context& ctx = context_for(on_device(x) ? x.device_id() : 0, stream);
  if (tb.present)
    convkit::conv(ctx, spec, tx, tw, tb, ty, algo);
  else
    convkit::conv(ctx, spec, tx, tw, ty, algo);
}

// Whether every given operand is in host memory: then Auto / Reference run
// the CPU reference (anything else goes to the library, which refuses a GPU
// algorithm on host views with its own message).
bool host_call(std::initializer_list<const convkit::TensorArg*> ts, convkit::Algorithm algo) {
  for (const convkit::TensorArg* t : ts)
    if (t->present && t->location != convkit::Location::Host) return false;
  return algo == convkit::Algorithm::Auto || algo == convkit::Algorithm::Reference;
}

// The context of a device call on `x`'s device and the caller's stream, with
// that device current for the call.
struct DeviceCall {
  DeviceGuard guard;
  convkit::Context& ctx;
  DeviceCall(const Array& x, std::uintptr_t stream)
      : guard(on_device(x) ? x.device_id() : -1), ctx(context_for(on_device(x) ? x.device_id() : 0, stream)) {}
};

void conv_backward_data(const convkit::ConvSpec& spec, const Array& dy, const Array& w, const Array& dx,
                        convkit::Algorithm algo, double beta, std::uintptr_t stream) {
  const convkit::TensorArg tdy = tensor_arg(dy, "grad_output", false), tw = tensor_arg(w, "weight", false),
                           tdx = tensor_arg(dx, "out", true);
  if (host_call({&tdy, &tw, &tdx}, algo)) {
    nb::gil_scoped_release release;
    convkit::reference::conv_backward_data(spec, tdy, tw, tdx, beta);
    return;
  }
  DeviceCall call(dy, stream);
  convkit::conv_backward_data(call.ctx, spec, tdy, tw, tdx, algo, beta);
}

void conv_backward_filter(const convkit::ConvSpec& spec, const Array& x, const Array& dy, const Array& dw,
                          convkit::Algorithm algo, double beta, std::uintptr_t stream) {
  const convkit::TensorArg tx = tensor_arg(x, "input", false), tdy = tensor_arg(dy, "grad_output", false),
                           tdw = tensor_arg(dw, "out", true);
  if (host_call({&tx, &tdy, &tdw}, algo)) {
    nb::gil_scoped_release release;
    convkit::reference::conv_backward_filter(spec, tx, tdy, tdw, beta);
    return;
  }
  DeviceCall call(x, stream);
  convkit::conv_backward_filter(call.ctx, spec, tx, tdy, tdw, algo, beta);
}

void conv_backward_bias(const Array& dy, const Array& db, double beta, std::uintptr_t stream) {
  const convkit::TensorArg tdy = tensor_arg(dy, "grad_output", false), tdb = tensor_arg(db, "out", true);
  if (tdy.location == convkit::Location::Host) {
    nb::gil_scoped_release release;
    convkit::reference::conv_backward_bias(tdy, tdb, beta);
    return;
  }
  DeviceCall call(dy, stream);
  convkit::conv_backward_bias(call.ctx, tdy, tdb, beta);
}

void conv_transpose(const convkit::ConvSpec& spec, const Array& x, const Array& w, const std::optional<Array>& bias,
                    const Array& y, convkit::Algorithm algo, std::uintptr_t stream) {
  const convkit::TensorArg tx = tensor_arg(x, "input", false), tw = tensor_arg(w, "weight", false),
                           tb = bias ? tensor_arg(*bias, "bias", false) : convkit::TensorArg(),
                           ty = tensor_arg(y, "out", true);
  if (host_call({&tx, &tw, &tb, &ty}, algo)) {
    convkit::Context ctx;  // the reference needs none; the entry point takes one
    nb::gil_scoped_release release;
    convkit::conv_transpose(ctx, spec, tx, tw, tb, ty, convkit::Algorithm::Reference);
    return;
  }
  DeviceCall call(x, stream);
  convkit::conv_transpose(call.ctx, spec, tx, tw, tb, ty, algo);
}

// A convkit::StreamingConv for Python. A host stream (host weights) has a
// Context of its own, which never touches a device; its calls run with the
// GIL released (the CPU reference can take a while), one at a time per
// object (the mutex). A device stream runs on context_for(device, stream),
// which other calls share, so its calls hold the GIL, as conv() does, and
// only enqueue work. Arrays handed in on the device must live on the
// stream's device and come with the stream it runs on as the caller's
// stream: the history and the working buffer are ordered on that one stream
// only, and the library cannot see the caller's.
struct Streaming {
  std::unique_ptr<convkit::Context> own;  // host streams only
  std::unique_ptr<convkit::StreamingConv> s;
  int device = -1;            // device streams: the weights' device
  std::uintptr_t stream = 0;  // device streams: the stream its work is enqueued on
  std::mutex m;

  Streaming(std::unique_ptr<convkit::Context> c, std::unique_ptr<convkit::StreamingConv> sc, int dev,
            std::uintptr_t st)
      : own(std::move(c)), s(std::move(sc)), device(dev), stream(st) {}
  ~Streaming() {
    DeviceGuard guard(device);  // its device memory is freed on its device's stream
    s.reset();
  }

  // f(StreamingConv&) under the rules above.
  template <class F>
  decltype(auto) call(F&& f) {
    if (own) {
      nb::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(m);
      return f(*s);
    }
    DeviceGuard guard(device);
    return f(*s);
  }

  // A device array `what` handed in on `caller_stream` must be on this
  // stream's device and stream (host arrays and host streams are left to the
  // library, which names the location rule).
  void check_device_array(const Array& a, const char* what, std::uintptr_t caller_stream) const {
    if (own || !on_device(a)) return;
    if (a.device_id() != device)
      throw convkit::Error(convkit::Status::InvalidArgument,
                           std::string("StreamingConv: ") + what + " is on CUDA device " +
                               std::to_string(a.device_id()) + ": this stream runs on device " +
                               std::to_string(device) + " (where its weights are)");
    if (caller_stream != stream)
      throw convkit::Error(convkit::Status::InvalidArgument,
                           std::string("StreamingConv: ") + what + " comes on stream " +
                               std::to_string(caller_stream) + ": this stream enqueues its work on stream " +
                               std::to_string(stream) +
                               " (current, or given, when it was made); call it with that stream current or "
                               "pass stream=");
  }
};

void streaming_init(Streaming* self, const convkit::ConvSpec& spec, const Array& w,
                    const std::optional<Array>& bias, convkit::Algorithm algo, std::int64_t batch,
                    std::uintptr_t stream) {
  const convkit::TensorArg tw = tensor_arg(w, "w", false);
  const convkit::TensorArg tb = bias ? tensor_arg(*bias, "bias", false) : convkit::TensorArg();
  std::unique_ptr<convkit::Context> own;
  std::unique_ptr<convkit::StreamingConv> s;
  int device = -1;
  if (tw.location == convkit::Location::Host) {
    own = std::make_unique<convkit::Context>();  // its stream is made at first use: never, here
    s = std::make_unique<convkit::StreamingConv>(*own, spec, tw, tb, algo, batch);
    stream = 0;
  } else {
    device = w.device_id();
    DeviceGuard guard(device);
    s = std::make_unique<convkit::StreamingConv>(context_for(device, stream), spec, tw, tb, algo, batch);
  }
  new (self) Streaming(std::move(own), std::move(s), device, stream);
}

void streaming_push(Streaming& self, const Array& x, const Array& y, std::uintptr_t stream) {
  const convkit::TensorArg tx = tensor_arg(x, "x", false), ty = tensor_arg(y, "out", true);
  self.check_device_array(x, "x", stream);
  self.check_device_array(y, "out", stream);
  self.call([&](convkit::StreamingConv& s) { s.push(tx, ty); });
}

void streaming_set_history(Streaming& self, const Array& h, std::uintptr_t stream) {
  const convkit::TensorArg th = tensor_arg(h, "history", false);
  self.check_device_array(h, "history", stream);
  self.call([&](convkit::StreamingConv& s) { s.set_history(th); });
}

// Copies the history into `out` (of its shape, dtype and location): a host
// copy, or one enqueued on the stream (the caller reads it in stream order).
void streaming_history(Streaming& self, const Array& out, std::uintptr_t stream) {
  const convkit::TensorArg to = tensor_arg(out, "out", true);
  self.check_device_array(out, "out", stream);
  self.call([&](convkit::StreamingConv& s) {
    const convkit::TensorArg h = s.history();
    if (to.location != h.location || to.dtype != h.dtype || !(to.shape == h.shape))
      throw convkit::Error(convkit::Status::InvalidArgument,
                           "StreamingConv.history: out must be a " + std::string(convkit::dtype_name(h.dtype)) +
                               " " + convkit::location_name(h.location) + " array of the history's shape");
    const std::size_t bytes =
        static_cast<std::size_t>(h.shape.numel("history")) * convkit::dtype_size(h.dtype);
    if (bytes == 0) return;
    if (h.location == convkit::Location::Host) {
      std::memcpy(const_cast<void*>(to.data), h.data, bytes);
      return;
    }
    const cudaError_t e = cudaMemcpyAsync(const_cast<void*>(to.data), h.data, bytes, cudaMemcpyDeviceToDevice,
                                          s.context().stream());
    if (e != cudaSuccess) {
      cudaGetLastError();
      throw convkit::Error(convkit::Status::CudaError,
                           std::string("StreamingConv.history: cudaMemcpyAsync: ") + cudaGetErrorString(e));
    }
  });
}

template <class T>
nb::ndarray<nb::numpy, T, nb::ndim<1>> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T, nb::ndim<1>>(heap->data(), {heap->size()}, owner);
}

// T in CSR as NumPy arrays (indptr, indices as int64; data in w's dtype).
template <class T>
nb::tuple csr_of(const convkit::toeplitz::Matrix<T>& m) {
  const std::int64_t rows = m.rows(), nnz = m.nnz();
  std::vector<std::int64_t> indptr(static_cast<std::size_t>(rows + 1)), indices(static_cast<std::size_t>(nnz));
  for (std::int64_t r = 0; r <= rows; ++r) indptr[static_cast<std::size_t>(r)] = m.row_begin(r);
  if (m.index_width() == convkit::toeplitz::IndexWidth::I32) {
    const std::int32_t* c = m.col_ind_i32();
    for (std::int64_t j = 0; j < nnz; ++j) indices[static_cast<std::size_t>(j)] = c[j];
  } else {
    const std::int64_t* c = m.col_ind_i64();
    for (std::int64_t j = 0; j < nnz; ++j) indices[static_cast<std::size_t>(j)] = c[j];
  }
  std::vector<T> data(m.values(), m.values() + nnz);
  return nb::make_tuple(rows, m.cols(), to_numpy(std::move(indptr)), to_numpy(std::move(indices)),
                        to_numpy(std::move(data)));
}

nb::tuple toeplitz_csr(const convkit::ConvSpec& spec, const ShapeVec& x_shape, const Array& w) {
  const convkit::TensorArg tw = tensor_arg(w, "w", false);
  if (tw.location != convkit::Location::Host)
    throw convkit::Error(convkit::Status::InvalidArgument,
                         "toeplitz_matrix: w must be a host (NumPy) array; the matrix is built on the host");
  const convkit::Shape xs = to_shape(x_shape, "x_shape");
  if (tw.dtype == convkit::DType::F32)
    return csr_of(convkit::toeplitz::build(
        spec, xs, convkit::TensorView<const float>::host(static_cast<const float*>(tw.data), tw.shape)));
  return csr_of(convkit::toeplitz::build(
      spec, xs, convkit::TensorView<const double>::host(static_cast<const double*>(tw.data), tw.shape)));
}

void toeplitz_write_mm(const convkit::ConvSpec& spec, const ShapeVec& x_shape, const Array& w,
                       const std::string& path) {
  const convkit::TensorArg tw = tensor_arg(w, "w", false);
  if (tw.location != convkit::Location::Host)
    throw convkit::Error(convkit::Status::InvalidArgument,
                         "write_matrix_market: w must be a host (NumPy) array; the matrix is built on the host");
  const convkit::Shape xs = to_shape(x_shape, "x_shape");
  if (tw.dtype == convkit::DType::F32)
    convkit::toeplitz::build(spec, xs,
                             convkit::TensorView<const float>::host(static_cast<const float*>(tw.data), tw.shape))
        .write_matrix_market(path);
  else
    convkit::toeplitz::build(spec, xs,
                             convkit::TensorView<const double>::host(static_cast<const double*>(tw.data), tw.shape))
        .write_matrix_market(path);
}

std::string device_description() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    const cudaError_t e = cudaGetLastError();
    return std::string("none (") + (e == cudaSuccess ? "no CUDA device" : cudaGetErrorString(e)) + ")";
  }
  std::ostringstream os;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    os << (i ? "; " : "") << i << ": " << prop.name << " (sm_" << prop.major << prop.minor << ", "
       << prop.multiProcessorCount << " SMs, " << (prop.totalGlobalMem >> 20) << " MiB)";
  }
  return os.str();
}

}  // namespace

NB_MODULE(_convkit, m) {
  m.doc() = "convkit's C++ API (the pure-Python layer is the convkit package).";
  m.attr("__version__") = CONVKIT_VERSION_STRING;
  m.attr("cuda_architectures") = CONVKIT_PY_CUDA_ARCHITECTURES;
  m.attr("cudart_version") = CUDART_VERSION;

  nb::enum_<convkit::Status>(m, "Status", "What kind of failure a convkit.Error reports.")
      .value("Success", convkit::Status::Success)
      .value("InvalidArgument", convkit::Status::InvalidArgument)
      .value("NotSupported", convkit::Status::NotSupported)
      .value("OutOfMemory", convkit::Status::OutOfMemory)
      .value("WorkspaceTooSmall", convkit::Status::WorkspaceTooSmall)
      .value("NoDevice", convkit::Status::NoDevice)
      .value("CudaError", convkit::Status::CudaError)
      .value("CublasError", convkit::Status::CublasError)
      .value("CusparseError", convkit::Status::CusparseError)
      .value("InternalError", convkit::Status::InternalError)
      .value("CufftError", convkit::Status::CufftError);
  nb::enum_<convkit::Mode>(m, "Mode")
      .value("CrossCorrelation", convkit::Mode::CrossCorrelation)
      .value("Convolution", convkit::Mode::Convolution);
  nb::enum_<convkit::Boundary>(m, "Boundary")
      .value("Zeros", convkit::Boundary::Zeros)
      .value("Circular", convkit::Boundary::Circular)
      .value("Reflect", convkit::Boundary::Reflect)
      .value("Replicate", convkit::Boundary::Replicate)
      .value("Symmetric", convkit::Boundary::Symmetric);
  nb::enum_<convkit::Algorithm>(m, "Algorithm")
      .value("Auto", convkit::Algorithm::Auto)
      .value("Direct", convkit::Algorithm::Direct)
      .value("Im2colGemm", convkit::Algorithm::Im2colGemm)
      .value("SparseToeplitz", convkit::Algorithm::SparseToeplitz)
      .value("Fft", convkit::Algorithm::Fft)
      .value("Reference", convkit::Algorithm::Reference);
  nb::enum_<convkit::Direction>(m, "Direction")
      .value("Forward", convkit::Direction::Forward)
      .value("BackwardData", convkit::Direction::BackwardData)
      .value("BackwardFilter", convkit::Direction::BackwardFilter);
  nb::enum_<convkit::DType>(m, "DType").value("F32", convkit::DType::F32).value("F64", convkit::DType::F64);

  // The base class of the statuses without a builtin exception; the Python
  // layer re-exports it as convkit.Error. Error(message, status).
  g_error_class = PyErr_NewExceptionWithDoc(
      "convkit.Error",
      "A convkit failure without a builtin Python counterpart (WorkspaceTooSmall, NoDevice, CudaError, "
      "CublasError, CusparseError, InternalError, CufftError). `status` is the convkit.Status; the message is the "
      "library's.",
      PyExc_RuntimeError, nullptr);
  m.attr("Error") = nb::handle(g_error_class);
  nb::register_exception_translator(translate_error);

  m.def("_raise_status",
        [](convkit::Status s, const std::string& message) { throw convkit::Error(s, message); },
        "status"_a, "message"_a, "Throws convkit::Error(status, message) (tests the exception mapping).");
  m.def("status_name", [](convkit::Status s) { return std::string(convkit::status_name(s)); });
  m.def("algorithm_name", [](convkit::Algorithm a) { return std::string(convkit::algorithm_name(a)); });
  m.def("device_available", &convkit::device_available);
  m.def("device_description", &device_description, "The CUDA devices, one line; 'none (why)' without one.");

  nb::class_<convkit::Padding>(m, "Padding")
      .def_static("valid", &convkit::Padding::valid)
      .def_static("same", &convkit::Padding::same)
      .def_static("full", &convkit::Padding::full)
      .def_static("uniform", &convkit::Padding::uniform, "p"_a)
      .def_static("per_dim",
                  [](const std::vector<std::pair<std::int64_t, std::int64_t>>& lohi) {
                    return convkit::Padding::per_dim(lohi);
                  },
                  "lohi"_a)
      .def("__str__", &convkit::Padding::str)
      .def("__repr__", [](const convkit::Padding& p) { return "Padding(" + p.str() + ")"; })
      .def("__eq__", [](const convkit::Padding& a, const convkit::Padding& b) { return a == b; });

  using convkit::ConvSpec;
  nb::class_<ConvSpec>(m, "ConvSpec")
      .def(nb::init<int>(), "dims"_a = 2)
      .def("stride", [](ConvSpec& s, std::int64_t v) -> ConvSpec& { return s.stride(v); },
           nb::rv_policy::reference_internal, "One stride for every spatial dimension.")
      .def("stride", [](ConvSpec& s, const std::vector<std::int64_t>& v) -> ConvSpec& { return s.stride(v); },
           nb::rv_policy::reference_internal, "One stride per spatial dimension.")
      .def("dilation", [](ConvSpec& s, std::int64_t v) -> ConvSpec& { return s.dilation(v); },
           nb::rv_policy::reference_internal)
      .def("dilation", [](ConvSpec& s, const std::vector<std::int64_t>& v) -> ConvSpec& { return s.dilation(v); },
           nb::rv_policy::reference_internal)
      .def("padding", [](ConvSpec& s, const convkit::Padding& p) -> ConvSpec& { return s.padding(p); },
           nb::rv_policy::reference_internal)
      .def("groups", [](ConvSpec& s, std::int64_t g) -> ConvSpec& { return s.groups(g); },
           nb::rv_policy::reference_internal)
      .def("mode", [](ConvSpec& s, convkit::Mode v) -> ConvSpec& { return s.mode(v); },
           nb::rv_policy::reference_internal)
      .def("boundary", [](ConvSpec& s, convkit::Boundary v) -> ConvSpec& { return s.boundary(v); },
           nb::rv_policy::reference_internal)
      .def("bias", [](ConvSpec& s, bool on) -> ConvSpec& { return s.bias(on); },
           nb::rv_policy::reference_internal)
      .def_prop_ro("dims", &ConvSpec::dims)
      .def("output_shape",
           [](const ConvSpec& s, const ShapeVec& x, const ShapeVec& w) {
             return from_shape(s.output_shape(to_shape(x, "x"), to_shape(w, "w")));
           },
           "x_shape"_a, "w_shape"_a)
      .def("resolved_padding", &ConvSpec::resolved_padding, "dim"_a, "kernel_size"_a)
      .def("__str__", &ConvSpec::str)
      .def("__repr__", [](const ConvSpec& s) { return "ConvSpec(" + s.str() + ")"; })
      .def("__eq__", [](const ConvSpec& a, const ConvSpec& b) { return a == b; })
      .def("__hash__", &ConvSpec::hash);

  m.def("supports",
        [](const ConvSpec& spec, const ShapeVec& x, const ShapeVec& w, convkit::DType dt, convkit::Algorithm a,
           convkit::Direction d) {
          const convkit::Support s = convkit::supports(spec, to_shape(x, "x"), to_shape(w, "w"), dt, a, d);
          return nb::make_tuple(s.ok, s.reason, s.variant);
        },
        "spec"_a, "x_shape"_a, "w_shape"_a, "dtype"_a, "algorithm"_a, "direction"_a = convkit::Direction::Forward);
  m.def("workspace_bytes",
        [](const ConvSpec& spec, const ShapeVec& x, const ShapeVec& w, convkit::DType dt, convkit::Algorithm a,
           convkit::Direction d) {
          return static_cast<std::uint64_t>(
              convkit::workspace_bytes(spec, to_shape(x, "x"), to_shape(w, "w"), dt, a, d));
        },
        "spec"_a, "x_shape"_a, "w_shape"_a, "dtype"_a, "algorithm"_a, "direction"_a = convkit::Direction::Forward);

  nb::class_<convkit::CandidateReport>(m, "CandidateReport")
      .def_ro("algorithm", &convkit::CandidateReport::algorithm)
      .def_ro("considered", &convkit::CandidateReport::considered)
      .def_ro("excluded_because", &convkit::CandidateReport::excluded_because)
      .def_ro("variant", &convkit::CandidateReport::variant)
      .def_ro("estimated_ms", &convkit::CandidateReport::estimated_ms)
      .def_ro("measured_ms", &convkit::CandidateReport::measured_ms);
  nb::class_<convkit::AlgorithmChoice>(m, "AlgorithmChoice")
      .def_ro("chosen", &convkit::AlgorithmChoice::chosen)
      .def_ro("tuned", &convkit::AlgorithmChoice::tuned)
      .def_ro("from_cache", &convkit::AlgorithmChoice::from_cache)
      .def_ro("for_plan", &convkit::AlgorithmChoice::for_plan)
      .def_ro("tuning_note", &convkit::AlgorithmChoice::tuning_note)
      .def_ro("candidates", &convkit::AlgorithmChoice::candidates)
      .def("explain", &convkit::AlgorithmChoice::explain)
      .def("__str__", &convkit::AlgorithmChoice::explain);
  m.def("choose_algorithm",
        [](const ConvSpec& spec, const ShapeVec& x, const ShapeVec& w, convkit::DType dt, bool for_plan, int device,
           std::uintptr_t stream, convkit::Direction d) {
          DeviceGuard guard(device);
          return convkit::choose_algorithm(context_for(device, stream), spec, to_shape(x, "x"), to_shape(w, "w"), dt,
                                           for_plan, d);
        },
        "spec"_a, "x_shape"_a, "w_shape"_a, "dtype"_a, "for_plan"_a = false, "device"_a = 0, "stream"_a = 0,
        "direction"_a = convkit::Direction::Forward);

  nb::class_<ContextHandle>(m, "Context",
                            "The convkit::Context that calls on (device, stream) run on: every handle on one pair "
                            "shares it. Making one touches no device.")
      .def(
          "__init__",
          [](ContextHandle* self, int device, std::uintptr_t stream) {
            new (self) ContextHandle{device, stream, &context_for(device, stream)};
          },
          "device"_a = 0, "stream"_a = 0)
      .def_ro("device", &ContextHandle::device)
      .def_ro("stream", &ContextHandle::stream)
      .def("set_exact", [](ContextHandle& h, bool on) { h.ctx->set_exact(on); }, "on"_a,
           "When on, algorithm='auto' never picks the FFT (whose error is normwise) on this context.")
      .def("exact", [](const ContextHandle& h) { return h.ctx->exact(); });
  m.def("conv_backward_data", &conv_backward_data, "spec"_a, "grad_output"_a.noconvert(), "weight"_a.noconvert(),
        "out"_a.noconvert(), "algorithm"_a, "beta"_a, "stream"_a,
        "out = beta·out + Tᵀ·grad_output (host arrays: the CPU reference; CUDA arrays on `stream`).");
  m.def("conv_backward_filter", &conv_backward_filter, "spec"_a, "input"_a.noconvert(), "grad_output"_a.noconvert(),
        "out"_a.noconvert(), "algorithm"_a, "beta"_a, "stream"_a,
        "out = beta·out + ∂L/∂w (host arrays: the CPU reference; CUDA arrays on `stream`).");
  m.def("conv_backward_bias", &conv_backward_bias, "grad_output"_a.noconvert(), "out"_a.noconvert(), "beta"_a,
        "stream"_a, "out[k] = beta·out[k] + Σ grad_output[:, k, ...].");
  m.def("conv_transpose", &conv_transpose, "spec"_a, "input"_a.noconvert(), "weight"_a.noconvert(),
        "bias"_a.noconvert().none(), "out"_a.noconvert(), "algorithm"_a, "stream"_a,
        "out = Tᵀ·input (+ bias): the transposed convolution of `spec`'s forward map.");
  m.def("conv_transpose_output_shape",
        [](const ConvSpec& spec, const ShapeVec& x, const ShapeVec& w, const ShapeVec& output_padding) {
          return from_shape(
              convkit::conv_transpose_output_shape(spec, to_shape(x, "input"), to_shape(w, "weight"), output_padding));
        },
        "spec"_a, "x_shape"_a, "w_shape"_a, "output_padding"_a);

  m.def("conv", &conv, "spec"_a, "x"_a.noconvert(), "w"_a.noconvert(), "bias"_a.noconvert().none(),
        "out"_a.noconvert(), "algorithm"_a, "stream"_a,
        "y = conv(x, w) (+ bias) into out: host arrays through the CPU reference, CUDA arrays on `stream`.");
  m.def("_time_conv",
        [](const ConvSpec& spec, const Array& x, const Array& w, const std::optional<Array>& bias, const Array& y,
           convkit::Algorithm algo, std::uintptr_t stream, int reps) {
          // The same call as conv() above, timed in a C++ loop: what a C++
          // caller pays per call (validation + the reference's arithmetic on
          // the host; the launch on the device, which is not waited for).
          conv(spec, x, w, bias, y, algo, stream);
          const auto t0 = std::chrono::steady_clock::now();
          for (int i = 0; i < reps; ++i) conv(spec, x, w, bias, y, algo, stream);
          const auto t1 = std::chrono::steady_clock::now();
          return std::chrono::duration<double>(t1 - t0).count() / std::max(reps, 1);
        },
        "spec"_a, "x"_a.noconvert(), "w"_a.noconvert(), "bias"_a.noconvert().none(), "out"_a.noconvert(),
        "algorithm"_a, "stream"_a, "reps"_a,
        "Seconds per call of conv() in a C++ loop (the benchmark's baseline for the Python overhead).");
  m.def("reference_conv_transpose",
        [](const ConvSpec& spec, const Array& dy, const Array& w, const Array& dx) {
          const convkit::TensorArg tdy = tensor_arg(dy, "dy", false), tw = tensor_arg(w, "w", false),
                                   tdx = tensor_arg(dx, "dx", true);
          nb::gil_scoped_release release;
          convkit::reference::conv_transpose(spec, tdy, tw, tdx);
        },
        "spec"_a, "dy"_a.noconvert(), "w"_a.noconvert(), "dx"_a.noconvert(),
        "dx = Tᵀ·dy, the adjoint of the bias-free conv (host arrays; the CPU reference).");
  nb::class_<Streaming>(m, "StreamingConv",
                        "convkit::StreamingConv: a causal 1-D filter over chunks (the Python class is "
                        "convkit.StreamingConv).")
      .def("__init__", &streaming_init, "spec"_a, "w"_a.noconvert(), "bias"_a.noconvert().none(), "algorithm"_a,
           "batch"_a, "stream"_a,
           "Host weights: a host stream (the CPU reference); device weights: a device stream on `stream`.")
      .def("push", &streaming_push, "x"_a.noconvert(), "out"_a.noconvert(), "stream"_a,
           "Filters the chunk x [N, C, L] into out [N, K, L] and keeps the new history.")
      .def("set_history", &streaming_set_history, "h"_a.noconvert(), "stream"_a)
      .def("history", &streaming_history, "out"_a.noconvert(), "stream"_a,
           "Copies the history [N, C, dil*(k-1)] into out.")
      .def("zero_history", [](Streaming& self) { self.call([](convkit::StreamingConv& s) { s.zero_history(); }); })
      .def("reset", [](Streaming& self) { self.call([](convkit::StreamingConv& s) { s.reset(); }); })
      .def("output_shape",
           [](Streaming& self, const ShapeVec& x) {
             return from_shape(self.s->output_shape(to_shape(x, "x")));
           },
           "x_shape"_a)
      .def("algorithm_for",
           [](Streaming& self, std::int64_t L) {
             return self.call([L](convkit::StreamingConv& s) { return s.algorithm_for(L); });
           },
           "length"_a)
      .def_prop_ro("history_shape", [](Streaming& self) { return from_shape(self.s->history().shape); })
      .def_prop_ro("samples_pushed",
                   [](Streaming& self) {
                     return self.call([](convkit::StreamingConv& s) { return s.samples_pushed(); });
                   })
      .def_prop_ro("algorithm", [](Streaming& self) { return self.s->algorithm(); })
      .def_prop_ro("dtype", [](Streaming& self) { return self.s->dtype(); })
      .def_prop_ro("on_device", [](Streaming& self) { return self.s->location() == convkit::Location::Device; })
      .def_prop_ro("device", [](Streaming& self) { return self.device; })
      .def_prop_ro("stream", [](Streaming& self) { return self.stream; })
      .def_prop_ro("batch", [](Streaming& self) { return self.s->batch(); })
      .def_prop_ro("channels", [](Streaming& self) { return self.s->channels(); })
      .def_prop_ro("out_channels", [](Streaming& self) { return self.s->out_channels(); })
      .def_prop_ro("history_length", [](Streaming& self) { return self.s->history_length(); });

  m.def("toeplitz_csr", &toeplitz_csr, "spec"_a, "x_shape"_a, "w"_a.noconvert(),
        "(rows, cols, indptr, indices, data) of the host-built Toeplitz matrix T (y = T·x per image).");
  m.def("write_matrix_market", &toeplitz_write_mm, "spec"_a, "x_shape"_a, "w"_a.noconvert(), "path"_a);
}
