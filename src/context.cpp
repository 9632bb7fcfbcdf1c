// Context and its state: the stream, lazily created cuBLAS / cuSPARSE handles,
// the stream-ordered workspace, and the device-memory helpers behind
// DeviceTensor. Nothing here touches the device until it is needed.
#include "context_state.hpp"

#include <convkit/context.hpp>
#include <convkit/error.hpp>
#include <convkit/tensor.hpp>

#include "arith.hpp"
#include "check.hpp"

namespace convkit {
namespace detail {

void require_device(const char* what) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();
    throw Error(Status::NoDevice, msg(what, " needs a CUDA device, and none is usable (",
                                      e == cudaSuccess ? "0 devices" : cudaGetErrorString(e), ")"));
  }
}

ContextState::~ContextState() {
  // Destructors never throw; failures here can only be ignored.
  // cuFFT plans first, once the stream has finished their work (cuFFT does
  // not promise that destroying a plan waits for it).
  if (fft_plans && stream_ready_) cudaStreamSynchronize(stream_);
  fft_plans.reset();
  if (workspace_) cudaFreeAsync(workspace_, stream_);
  if (cublas_) cublasDestroy(cublas_);
  if (cusparse_) cusparseDestroy(cusparse_);
  if (owns_stream_ && stream_ready_) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

cudaStream_t ContextState::stream() {
  if (!device_checked_) {
    // A caller's stream too: without a device the answer is NoDevice, not a
    // CudaError from the first launch.
    require_device("convkit::Context");
    device_checked_ = true;
  }
  if (!stream_ready_) {
    CONVKIT_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    stream_ready_ = true;
  }
  return stream_;
}

cublasHandle_t ContextState::cublas() {
  if (!cublas_) {
    cudaStream_t s = stream();
    CONVKIT_CUBLAS_TRY(cublasCreate(&cublas_));
    CONVKIT_CUBLAS_TRY(cublasSetStream(cublas_, s));
  }
  CONVKIT_CUBLAS_TRY(cublasSetMathMode(
      cublas_, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
  return cublas_;
}

cusparseHandle_t ContextState::cusparse() {
  if (!cusparse_) {
    cudaStream_t s = stream();
    CONVKIT_CUSPARSE_TRY(cusparseCreate(&cusparse_));
    CONVKIT_CUSPARSE_TRY(cusparseSetStream(cusparse_, s));
  }
  return cusparse_;
}

void ContextState::check_workspace(std::size_t bytes, const char* who) const {
  CONVKIT_EXPECTS(bytes <= workspace_limit, Status::WorkspaceTooSmall, who, " needs ", bytes,
                  " bytes of workspace; the context's workspace limit is ", workspace_limit, " bytes");
}

void* ContextState::workspace(std::size_t bytes, const char* who) {
  check_workspace(bytes, who);
  if (bytes == 0) return nullptr;
  if (bytes > workspace_size) {
    cudaStream_t s = stream();
    if (workspace_) CONVKIT_CUDA_TRY(cudaFreeAsync(workspace_, s));
    workspace_ = nullptr;
    workspace_size = 0;
    CONVKIT_CUDA_TRY(cudaMallocAsync(&workspace_, bytes, s));
    workspace_size = bytes;
  }
  return workspace_;
}

void ContextState::release_workspace() {
  if (!workspace_) return;
  // Forgotten before the free is enqueued: if enqueueing fails, a leak is
  // better than the destructor freeing the block a second time.
  void* p = workspace_;
  workspace_ = nullptr;
  workspace_size = 0;
  CONVKIT_CUDA_TRY(cudaFreeAsync(p, stream_));
}

void* device_alloc(const std::shared_ptr<ContextState>& ctx, std::size_t bytes) {
  cudaStream_t s = ctx->stream();
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  CONVKIT_CUDA_TRY(cudaMallocAsync(&p, bytes, s));
  return p;
}

void device_free(const std::shared_ptr<ContextState>& ctx, void* p) noexcept {
  if (p) cudaFreeAsync(p, ctx->stream());
}

void copy_to_device_async(const std::shared_ptr<ContextState>& ctx, void* dst, const void* src,
                          std::size_t bytes) {
  if (bytes) CONVKIT_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream()));
}

void copy_to_host_sync(const std::shared_ptr<ContextState>& ctx, void* dst, const void* src,
                       std::size_t bytes) {
  cudaStream_t s = ctx->stream();
  if (bytes) CONVKIT_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
  CONVKIT_CUDA_TRY(cudaStreamSynchronize(s));
}

void check_host_source(const void* src, std::int64_t numel, const char* what) {
  CONVKIT_EXPECTS(src != nullptr || numel == 0, Status::InvalidArgument, what,
                  " is a null pointer for ", numel, " elements");
}

std::size_t tensor_bytes(const Shape& s, std::size_t elem, const char* what) {
  return bytes_checked(s.numel(what), elem, [&] { return msg(what, " shape ", s, ": bytes"); });
}

void host_storage(std::vector<float>& v, const Shape& s, const char* what) { host_resize(v, s.numel(what), what); }
void host_storage(std::vector<double>& v, const Shape& s, const char* what) { host_resize(v, s.numel(what), what); }

}  // namespace detail

Context::Context() : state_(std::make_shared<detail::ContextState>()) {}
Context::Context(cudaStream_t stream) : state_(std::make_shared<detail::ContextState>(stream)) {}
Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

cudaStream_t Context::stream() const { return state_->stream(); }
void Context::synchronize() const { CONVKIT_CUDA_TRY(cudaStreamSynchronize(state_->stream())); }
void Context::set_workspace_limit(std::size_t bytes) { state_->workspace_limit = bytes; }
std::size_t Context::workspace_limit() const { return state_->workspace_limit; }
std::size_t Context::workspace_allocated() const { return state_->workspace_size; }
void Context::set_allow_tf32(bool on) { state_->allow_tf32 = on; }
bool Context::allow_tf32() const { return state_->allow_tf32; }
void Context::set_tuning(bool on) { state_->tuning = on; }
bool Context::tuning() const { return state_->tuning; }
void Context::set_tuning_file(const std::string& path) {
  detail::load_tuning_file(path);
  state_->tuning_file = path;
}
const std::string& Context::tuning_file() const { return state_->tuning_file; }
void Context::set_deterministic(bool on) { state_->deterministic = on; }
bool Context::deterministic() const { return state_->deterministic; }
void Context::set_exact(bool on) { state_->exact = on; }
bool Context::exact() const { return state_->exact; }

bool device_available() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return n > 0;
}

}  // namespace convkit
