// The cuDNN baseline (see cudnn_baseline.hpp), on cuDNN's classic
// convolution API, which cuDNN 9 still ships. A problem maps onto cuDNN as:
// 1-D and 2-D as 4-D NCHW tensors (1-D with H = 1), 3-D as 5-D NCDHW;
// Mode::CrossCorrelation -> CUDNN_CROSS_CORRELATION, Mode::Convolution ->
// CUDNN_CONVOLUTION (cuDNN flips the filter then, as convkit does); padding
// made symmetric (SymmetricView). Only zero boundaries and no bias: cuDNN has
// no other boundary modes, and the bench's cases add no bias.
#include "cudnn_baseline.hpp"

#include <cudnn.h>

#include <algorithm>
#include <string>
#include <vector>

namespace convkit::bench {
namespace {

void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) throw CudnnUnsupported(std::string(what) + ": " + cudnnGetErrorString(s));
}

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw CudnnUnsupported(std::string(what) + ": " + cudaGetErrorString(e));
  }
}

// One handle for the process: creating it loads cuDNN's sub-libraries, which
// takes long enough that per-case handles would show up in the run time.
struct Handle {
  cudnnHandle_t h = nullptr;
  cudnnStatus_t status = CUDNN_STATUS_NOT_INITIALIZED;
  Handle() { status = cudnnCreate(&h); }
  ~Handle() {
    if (h) cudnnDestroy(h);
  }
};

Handle& handle() {
  static Handle handle;
  return handle;
}

const char* algo_name(cudnnConvolutionFwdAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "UNKNOWN";
  }
}

int to_int(std::int64_t v, const char* what) {
  if (v > 0x7fffffff) throw CudnnUnsupported(std::string(what) + " exceeds cuDNN's 32-bit sizes");
  return static_cast<int>(v);
}

// Packed row-major strides for dims[0..n).
std::vector<int> packed_strides(const std::vector<int>& dims) {
  std::vector<int> s(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

}  // namespace

bool cudnn_available(std::string* why) {
  const Handle& h = handle();
  if (h.status != CUDNN_STATUS_SUCCESS) {
    if (why) *why = std::string("cudnnCreate: ") + cudnnGetErrorString(h.status);
    return false;
  }
  return true;
}

std::string cudnn_version() {
  const std::size_t v = cudnnGetVersion();
  // cuDNN 9 encodes major*10000 + minor*100 + patch; cuDNN 8 major*1000 + ...
  const std::size_t major = v >= 90000 ? v / 10000 : v / 1000;
  const std::size_t rest = v >= 90000 ? v % 10000 : v % 1000;
  return std::to_string(major) + "." + std::to_string(rest / 100) + "." + std::to_string(rest % 100);
}

namespace {

// Descriptors of one problem (x, w, y and the convolution), shared by the
// forward and the backward baselines; destroyed with the object.
struct Descriptors {
  SymmetricView view;
  cudnnDataType_t dt = CUDNN_DATA_FLOAT;
  cudnnTensorDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnFilterDescriptor_t w_desc = nullptr;
  cudnnConvolutionDescriptor_t conv_desc = nullptr;
  std::size_t x_bytes = 0, w_bytes = 0, y_bytes = 0;  ///< as cuDNN lays them out

  Descriptors() = default;
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
  ~Descriptors() {
    if (conv_desc) cudnnDestroyConvolutionDescriptor(conv_desc);
    if (w_desc) cudnnDestroyFilterDescriptor(w_desc);
    if (y_desc) cudnnDestroyTensorDescriptor(y_desc);
    if (x_desc) cudnnDestroyTensorDescriptor(x_desc);
  }
};

// Fills `m` for `p`: NCHW (NCDHW) tensors, the symmetric-padding view, FMA
// math for float. Throws CudnnUnsupported for what cuDNN cannot express.
void describe(Descriptors& m, const ConvProblem& p, DType t) {
  std::string why;
  if (!cudnn_available(&why)) throw CudnnUnsupported(why);
  if (p.boundary != Boundary::Zeros)
    throw CudnnUnsupported(std::string("cuDNN pads with zeros only, not ") + boundary_name(p.boundary));
  if (p.has_bias) throw CudnnUnsupported("bias is not wired into the cuDNN baseline");
  m.view = symmetric_view(p);
  if (!m.view.ok) throw CudnnUnsupported("asymmetric padding has no symmetric equivalent at this stride");
  m.dt = t == DType::F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;

  // Spatial slots used: 2 for d <= 2 (H = 1 for 1-D), 3 for 3-D.
  const int first = p.dims == 3 ? 0 : 1;
  const int nsp = 3 - first;
  std::vector<int> xd{to_int(p.N, "N"), to_int(p.C, "C")}, wd{to_int(p.K, "K"), to_int(p.Cg(), "C/G")};
  std::vector<int> yd{to_int(p.N, "N"), to_int(p.K, "K")};
  std::vector<int> pad, stride, dil;
  for (int a = first; a < 3; ++a) {
    xd.push_back(to_int(p.in[a], "input size"));
    wd.push_back(to_int(p.ker[a], "kernel size"));
    yd.push_back(to_int(m.view.out[a], "output size"));
    pad.push_back(to_int(m.view.pad[a], "padding"));
    stride.push_back(to_int(p.stride[a], "stride"));
    dil.push_back(to_int(p.dilation[a], "dilation"));
  }
  const int nd = static_cast<int>(xd.size());
  check(cudnnCreateTensorDescriptor(&m.x_desc), "cudnnCreateTensorDescriptor");
  check(cudnnCreateTensorDescriptor(&m.y_desc), "cudnnCreateTensorDescriptor");
  check(cudnnCreateFilterDescriptor(&m.w_desc), "cudnnCreateFilterDescriptor");
  check(cudnnCreateConvolutionDescriptor(&m.conv_desc), "cudnnCreateConvolutionDescriptor");
  check(cudnnSetTensorNdDescriptor(m.x_desc, m.dt, nd, xd.data(), packed_strides(xd).data()),
        "cudnnSetTensorNdDescriptor(x)");
  check(cudnnSetFilterNdDescriptor(m.w_desc, m.dt, CUDNN_TENSOR_NCHW, nd, wd.data()), "cudnnSetFilterNdDescriptor");
  check(cudnnSetConvolutionNdDescriptor(m.conv_desc, nsp, pad.data(), stride.data(), dil.data(),
                                        p.mode == Mode::Convolution ? CUDNN_CONVOLUTION : CUDNN_CROSS_CORRELATION,
                                        m.dt),
        "cudnnSetConvolutionNdDescriptor");
  check(cudnnSetConvolutionGroupCount(m.conv_desc, to_int(p.G, "groups")), "cudnnSetConvolutionGroupCount");
  // CUDNN_DEFAULT_MATH may still pick TF32 tensor-core kernels for float on
  // Ampere and later; CUDNN_FMA_MATH restricts cuDNN to FMA kernels, the
  // same full-FP32 arithmetic convkit does by default.
  check(cudnnSetConvolutionMathType(m.conv_desc, t == DType::F32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH),
        "cudnnSetConvolutionMathType");

  std::vector<int> got(nd);
  check(cudnnGetConvolutionNdForwardOutputDim(m.conv_desc, m.x_desc, m.w_desc, nd, got.data()),
        "cudnnGetConvolutionNdForwardOutputDim");
  if (got != yd) throw CudnnUnsupported("cuDNN's output shape differs from the symmetric-padding view");
  check(cudnnSetTensorNdDescriptor(m.y_desc, m.dt, nd, yd.data(), packed_strides(yd).data()),
        "cudnnSetTensorNdDescriptor(y)");
  const auto bytes = [&](const std::vector<int>& dims) {
    std::size_t b = dtype_size(t);
    for (int v : dims) b *= static_cast<std::size_t>(v);
    return b;
  };
  m.x_bytes = bytes(xd);
  m.w_bytes = bytes(wd);
  m.y_bytes = bytes(yd);
}

// Whether a Find result may be used: it ran, fits the workspace and (float)
// kept to FMA math.
template <class Perf>
bool usable(const Perf& r, std::size_t ws_bytes, DType t) {
  if (r.status != CUDNN_STATUS_SUCCESS || r.memory > ws_bytes) return false;
  return !(t == DType::F32 &&
           (r.mathType == CUDNN_TENSOR_OP_MATH || r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION));
}

// A device buffer freed with its owner.
struct DeviceBuffer {
  void* p = nullptr;
  std::size_t bytes = 0;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
  void allocate(std::size_t n, const char* what) {
    if (n == 0) return;
    check_cuda(cudaMalloc(&p, n), what);
    bytes = n;
  }
};

// cudnnFind's choice for one direction (forward, backward-data or
// backward-filter) over its `Count` algorithms: allocates `ws` as the
// workspace Find may use, the largest any algorithm asks for within
// `workspace_cap` (algorithms that need more are then simply not chosen),
// runs `find` (cudnnFind...AlgorithmEx bound to the pass's descriptors and
// buffers) and returns the algorithm of the first result -- they come
// fastest first -- that ran, fits, and (for float) did not use tensor
// cores. For double the result's math type is set on `conv_desc`; float
// stays on CUDNN_FMA_MATH even when Find reports DEFAULT_MATH for the
// algorithm, which could let TF32 back in. Syncs `stream` before returning.
//   workspace_size(Algo, std::size_t* bytes) -> cudnnStatus_t
//   find(int requested, int* returned, Perf* perf, void* ws, std::size_t ws_bytes) -> cudnnStatus_t
// `find_name` names the Find call in its error, `pass` the pass in the
// "no FMA-math ... algorithm" error.
template <class Perf, int Count, class WorkspaceSize, class Find>
decltype(Perf::algo) find_fastest_usable(WorkspaceSize workspace_size, Find find, DeviceBuffer& ws,
                                         std::size_t workspace_cap, cudnnConvolutionDescriptor_t conv_desc, DType t,
                                         cudaStream_t stream, const char* find_name, const char* pass) {
  using Algo = decltype(Perf::algo);
  std::size_t want = 0;
  for (int a = 0; a < Count; ++a) {
    std::size_t bytes = 0;
    if (workspace_size(static_cast<Algo>(a), &bytes) == CUDNN_STATUS_SUCCESS && bytes <= workspace_cap)
      want = std::max(want, bytes);
  }
  ws.allocate(want, "cudaMalloc (cuDNN workspace)");
  Perf perf[Count];
  int returned = 0;
  check(find(Count, &returned, perf, ws.p, ws.bytes), find_name);
  for (int i = 0; i < returned; ++i) {
    if (!usable(perf[i], ws.bytes, t)) continue;
    if (t != DType::F32) check(cudnnSetConvolutionMathType(conv_desc, perf[i].mathType), "cudnnSetConvolutionMathType");
    check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    return perf[i].algo;
  }
  throw CudnnUnsupported(std::string("cudnnFind found no FMA-math ") + pass + " algorithm for this problem");
}

}  // namespace

struct CudnnConv::Impl {
  cudaStream_t stream = nullptr;
  DType dtype = DType::F32;
  Descriptors d;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  const void* x = nullptr;
  const void* w = nullptr;
  DeviceBuffer y, ws;
};

CudnnConv::CudnnConv(cudaStream_t stream, const ConvProblem& p, DType t, const void* x, const void* w,
                     std::size_t workspace_cap, CudnnForward which)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.stream = stream;
  m.dtype = t;
  m.x = x;
  m.w = w;
  describe(m.d, p, t);
  cudnnHandle_t h = handle().h;
  check(cudnnSetStream(h, stream), "cudnnSetStream");

  if (which != CudnnForward::Best) {
    // A forced algorithm: cuDNN supports the problem with it where its
    // workspace query succeeds. The math type stays FMA for float (the FFT
    // algorithms have no tensor-core variant), the default for double.
    m.algo = which == CudnnForward::Fft ? CUDNN_CONVOLUTION_FWD_ALGO_FFT : CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING;
    std::size_t bytes = 0;
    const cudnnStatus_t st =
        cudnnGetConvolutionForwardWorkspaceSize(h, m.d.x_desc, m.d.w_desc, m.d.conv_desc, m.d.y_desc, m.algo, &bytes);
    if (st != CUDNN_STATUS_SUCCESS)
      throw CudnnUnsupported(std::string(algo_name(m.algo)) + " does not take this problem (workspace query: " +
                             cudnnGetErrorString(st) + ")");
    if (bytes > workspace_cap)
      throw CudnnUnsupported(std::string(algo_name(m.algo)) + " needs " + std::to_string(bytes) +
                             " bytes of workspace, over the cap of " + std::to_string(workspace_cap));
    m.y.allocate(m.d.y_bytes, "cudaMalloc (cuDNN output)");
    m.ws.allocate(bytes, "cudaMalloc (cuDNN workspace)");
    check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    return;
  }

  m.y.allocate(m.d.y_bytes, "cudaMalloc (cuDNN output)");

  m.algo = find_fastest_usable<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(
      [&](cudnnConvolutionFwdAlgo_t a, std::size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, m.d.x_desc, m.d.w_desc, m.d.conv_desc, m.d.y_desc, a, bytes);
      },
      [&](int requested, int* returned, cudnnConvolutionFwdAlgoPerf_t* perf, void* ws, std::size_t ws_bytes) {
        return cudnnFindConvolutionForwardAlgorithmEx(h, m.d.x_desc, x, m.d.w_desc, w, m.d.conv_desc, m.d.y_desc,
                                                      m.y.p, requested, returned, perf, ws, ws_bytes);
      },
      m.ws, workspace_cap, m.d.conv_desc, t, stream, "cudnnFindConvolutionForwardAlgorithmEx", "forward");
}

CudnnConv::~CudnnConv() = default;

namespace {
// alpha = 1, beta = 0 as cuDNN takes them: float for float data, double for double.
struct Scalars {
  float one_f = 1.0f, zero_f = 0.0f;
  double one_d = 1.0, zero_d = 0.0;
  bool f32;
  explicit Scalars(DType t) : f32(t == DType::F32) {}
  const void* one() const { return f32 ? static_cast<const void*>(&one_f) : &one_d; }
  const void* zero() const { return f32 ? static_cast<const void*>(&zero_f) : &zero_d; }
};
}  // namespace

void CudnnConv::run() {
  Impl& m = *impl_;
  const Scalars s(m.dtype);
  check(cudnnConvolutionForward(handle().h, s.one(), m.d.x_desc, m.x, m.d.w_desc, m.w, m.d.conv_desc, m.algo,
                                m.ws.p, m.ws.bytes, s.zero(), m.d.y_desc, m.y.p),
        "cudnnConvolutionForward");
}

void* CudnnConv::y() const { return impl_->y.p; }
std::size_t CudnnConv::y_bytes() const { return impl_->y.bytes; }
const SymmetricView& CudnnConv::view() const { return impl_->d.view; }
std::string CudnnConv::algorithm() const { return algo_name(impl_->algo); }
std::size_t CudnnConv::workspace_bytes() const { return impl_->ws.bytes; }

// ---------------------------------------------------------------- backward

namespace {
const char* bwd_data_algo_name(cudnnConvolutionBwdDataAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0: return "BWD_DATA_ALGO_0";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1: return "BWD_DATA_ALGO_1";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT: return "BWD_DATA_FFT";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING: return "BWD_DATA_FFT_TILING";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD: return "BWD_DATA_WINOGRAD";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED: return "BWD_DATA_WINOGRAD_NONFUSED";
    default: return "BWD_DATA_UNKNOWN";
  }
}
const char* bwd_filter_algo_name(cudnnConvolutionBwdFilterAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0: return "BWD_FILTER_ALGO_0";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1: return "BWD_FILTER_ALGO_1";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT: return "BWD_FILTER_FFT";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3: return "BWD_FILTER_ALGO_3";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED: return "BWD_FILTER_WINOGRAD_NONFUSED";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING: return "BWD_FILTER_FFT_TILING";
    default: return "BWD_FILTER_UNKNOWN";
  }
}
}  // namespace

struct CudnnConvBackward::Impl {
  cudaStream_t stream = nullptr;
  DType dtype = DType::F32;
  bool data = true;
  Descriptors d;
  cudnnConvolutionBwdDataAlgo_t data_algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  cudnnConvolutionBwdFilterAlgo_t filter_algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0;
  const void* x = nullptr;
  const void* w = nullptr;
  const void* dy = nullptr;
  DeviceBuffer out, ws;
};

CudnnConvBackward::CudnnConvBackward(cudaStream_t stream, const ConvProblem& p, DType t, bool data, const void* x,
                                     const void* w, const void* dy, std::size_t workspace_cap)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.stream = stream;
  m.dtype = t;
  m.data = data;
  m.x = x;
  m.w = w;
  m.dy = dy;
  describe(m.d, p, t);
  // dy is convkit's output; cuDNN's would be larger where the padding had
  // to be made symmetric, and dy would have to be embedded in zeros.
  for (int a = 0; a < 3; ++a)
    if (m.d.view.out[a] != p.out[a] || m.d.view.offset[a] != 0)
      throw CudnnUnsupported("asymmetric padding: cuDNN's output differs from convkit's, so dy does not fit it");
  cudnnHandle_t h = handle().h;
  check(cudnnSetStream(h, stream), "cudnnSetStream");
  m.out.allocate(data ? m.d.x_bytes : m.d.w_bytes, "cudaMalloc (cuDNN gradient)");

  if (data) {
    m.data_algo = find_fastest_usable<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(
        [&](cudnnConvolutionBwdDataAlgo_t a, std::size_t* bytes) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(h, m.d.w_desc, m.d.y_desc, m.d.conv_desc, m.d.x_desc, a,
                                                              bytes);
        },
        [&](int requested, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf, void* ws, std::size_t ws_bytes) {
          return cudnnFindConvolutionBackwardDataAlgorithmEx(h, m.d.w_desc, w, m.d.y_desc, dy, m.d.conv_desc,
                                                             m.d.x_desc, m.out.p, requested, returned, perf, ws,
                                                             ws_bytes);
        },
        m.ws, workspace_cap, m.d.conv_desc, t, stream, "cudnnFindConvolutionBackwardDataAlgorithmEx", "backward-data");
    return;
  }
  m.filter_algo = find_fastest_usable<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(
      [&](cudnnConvolutionBwdFilterAlgo_t a, std::size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, m.d.x_desc, m.d.y_desc, m.d.conv_desc, m.d.w_desc, a,
                                                              bytes);
      },
      [&](int requested, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf, void* ws, std::size_t ws_bytes) {
        return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, m.d.x_desc, x, m.d.y_desc, dy, m.d.conv_desc,
                                                             m.d.w_desc, m.out.p, requested, returned, perf, ws,
                                                             ws_bytes);
      },
      m.ws, workspace_cap, m.d.conv_desc, t, stream, "cudnnFindConvolutionBackwardFilterAlgorithmEx",
      "backward-filter");
}

CudnnConvBackward::~CudnnConvBackward() = default;

void CudnnConvBackward::run() {
  Impl& m = *impl_;
  const Scalars s(m.dtype);
  if (m.data)
    check(cudnnConvolutionBackwardData(handle().h, s.one(), m.d.w_desc, m.w, m.d.y_desc, m.dy, m.d.conv_desc,
                                       m.data_algo, m.ws.p, m.ws.bytes, s.zero(), m.d.x_desc, m.out.p),
          "cudnnConvolutionBackwardData");
  else
    check(cudnnConvolutionBackwardFilter(handle().h, s.one(), m.d.x_desc, m.x, m.d.y_desc, m.dy, m.d.conv_desc,
                                         m.filter_algo, m.ws.p, m.ws.bytes, s.zero(), m.d.w_desc, m.out.p),
          "cudnnConvolutionBackwardFilter");
}

void* CudnnConvBackward::out() const { return impl_->out.p; }
std::size_t CudnnConvBackward::out_bytes() const { return impl_->out.bytes; }
std::string CudnnConvBackward::algorithm() const {
  return impl_->data ? bwd_data_algo_name(impl_->data_algo) : bwd_filter_algo_name(impl_->filter_algo);
}
std::size_t CudnnConvBackward::workspace_bytes() const { return impl_->ws.bytes; }

}  // namespace convkit::bench
