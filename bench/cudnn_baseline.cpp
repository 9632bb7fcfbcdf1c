// The cuDNN baseline (see cudnn_baseline.hpp), on cuDNN's classic
// convolution API, which cuDNN 9 still ships. A problem maps onto cuDNN as:
// 1-D and 2-D as 4-D NCHW tensors (1-D with H = 1), 3-D as 5-D NCDHW;
// Mode::CrossCorrelation -> CUDNN_CROSS_CORRELATION, Mode::Convolution ->
// CUDNN_CONVOLUTION (cuDNN flips the filter then, as convkit does); padding
// made symmetric (SymmetricView). Only zero boundaries and no bias: cuDNN has
// no other boundary modes, and the bench's cases add no bias.
#include "cudnn_baseline.hpp"

#include <cudnn.h>

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

struct CudnnConv::Impl {
  cudaStream_t stream = nullptr;
  DType dtype = DType::F32;
  SymmetricView view;
  cudnnTensorDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnFilterDescriptor_t w_desc = nullptr;
  cudnnConvolutionDescriptor_t conv_desc = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  const void* x = nullptr;
  const void* w = nullptr;
  void* y = nullptr;
  std::size_t y_bytes = 0;
  void* ws = nullptr;
  std::size_t ws_bytes = 0;

  ~Impl() {
    if (ws) cudaFree(ws);
    if (y) cudaFree(y);
    if (conv_desc) cudnnDestroyConvolutionDescriptor(conv_desc);
    if (w_desc) cudnnDestroyFilterDescriptor(w_desc);
    if (y_desc) cudnnDestroyTensorDescriptor(y_desc);
    if (x_desc) cudnnDestroyTensorDescriptor(x_desc);
  }
};

CudnnConv::CudnnConv(cudaStream_t stream, const ConvProblem& p, DType t, const void* x, const void* w,
                     std::size_t workspace_cap)
    : impl_(std::make_unique<Impl>()) {
  std::string why;
  if (!cudnn_available(&why)) throw CudnnUnsupported(why);
  if (p.boundary != Boundary::Zeros)
    throw CudnnUnsupported(std::string("cuDNN pads with zeros only, not ") + boundary_name(p.boundary));
  if (p.has_bias) throw CudnnUnsupported("bias is not wired into the cuDNN baseline");
  Impl& m = *impl_;
  m.stream = stream;
  m.dtype = t;
  m.x = x;
  m.w = w;
  m.view = symmetric_view(p);
  if (!m.view.ok) throw CudnnUnsupported("asymmetric padding has no symmetric equivalent at this stride");

  cudnnHandle_t h = handle().h;
  check(cudnnSetStream(h, stream), "cudnnSetStream");
  const cudnnDataType_t dt = t == DType::F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;

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
  check(cudnnSetTensorNdDescriptor(m.x_desc, dt, nd, xd.data(), packed_strides(xd).data()),
        "cudnnSetTensorNdDescriptor(x)");
  check(cudnnSetFilterNdDescriptor(m.w_desc, dt, CUDNN_TENSOR_NCHW, nd, wd.data()), "cudnnSetFilterNdDescriptor");
  check(cudnnSetConvolutionNdDescriptor(m.conv_desc, nsp, pad.data(), stride.data(), dil.data(),
                                        p.mode == Mode::Convolution ? CUDNN_CONVOLUTION : CUDNN_CROSS_CORRELATION,
                                        dt),
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
  check(cudnnSetTensorNdDescriptor(m.y_desc, dt, nd, yd.data(), packed_strides(yd).data()),
        "cudnnSetTensorNdDescriptor(y)");

  m.y_bytes = dtype_size(t);
  for (int v : yd) m.y_bytes *= static_cast<std::size_t>(v);
  check_cuda(cudaMalloc(&m.y, m.y_bytes), "cudaMalloc (cuDNN output)");

  // The workspace Find may use: the largest any algorithm asks for, within
  // the cap (algorithms that need more are then simply not chosen).
  std::size_t want = 0;
  for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a) {
    std::size_t bytes = 0;
    if (cudnnGetConvolutionForwardWorkspaceSize(h, m.x_desc, m.w_desc, m.conv_desc, m.y_desc,
                                                static_cast<cudnnConvolutionFwdAlgo_t>(a),
                                                &bytes) == CUDNN_STATUS_SUCCESS &&
        bytes <= workspace_cap)
      want = std::max(want, bytes);
  }
  if (want > 0) {
    check_cuda(cudaMalloc(&m.ws, want), "cudaMalloc (cuDNN workspace)");
    m.ws_bytes = want;
  }

  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  check(cudnnFindConvolutionForwardAlgorithmEx(h, m.x_desc, x, m.w_desc, w, m.conv_desc, m.y_desc, m.y,
                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf, m.ws,
                                               m.ws_bytes),
        "cudnnFindConvolutionForwardAlgorithmEx");
  // Results come fastest first; take the first that ran, fits, and (for
  // float) did not use tensor cores.
  for (int i = 0; i < returned; ++i) {
    const cudnnConvolutionFwdAlgoPerf_t& r = perf[i];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > m.ws_bytes) continue;
    if (t == DType::F32 && (r.mathType == CUDNN_TENSOR_OP_MATH || r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
      continue;
    m.algo = r.algo;
    // Float stays on CUDNN_FMA_MATH even when Find reports DEFAULT_MATH for
    // the algorithm, which could let TF32 back in.
    if (t != DType::F32)
      check(cudnnSetConvolutionMathType(m.conv_desc, r.mathType), "cudnnSetConvolutionMathType");
    check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    return;
  }
  throw CudnnUnsupported("cudnnFind found no FMA-math forward algorithm for this problem");
}

CudnnConv::~CudnnConv() = default;

void CudnnConv::run() {
  Impl& m = *impl_;
  const float one_f = 1.0f, zero_f = 0.0f;
  const double one_d = 1.0, zero_d = 0.0;
  const bool f32 = m.dtype == DType::F32;
  // cuDNN takes alpha / beta as float for float data, double for double.
  check(cudnnConvolutionForward(handle().h, f32 ? static_cast<const void*>(&one_f) : &one_d, m.x_desc, m.x, m.w_desc,
                                m.w, m.conv_desc, m.algo, m.ws, m.ws_bytes,
                                f32 ? static_cast<const void*>(&zero_f) : &zero_d, m.y_desc, m.y),
        "cudnnConvolutionForward");
}

void* CudnnConv::y() const { return impl_->y; }
std::size_t CudnnConv::y_bytes() const { return impl_->y_bytes; }
const SymmetricView& CudnnConv::view() const { return impl_->view; }
std::string CudnnConv::algorithm() const { return algo_name(impl_->algo); }
std::size_t CudnnConv::workspace_bytes() const { return impl_->ws_bytes; }

}  // namespace convkit::bench
