// The Fft path's transforms-only floor (see fft_floor.hpp), with cuFFT
// called directly: the plans the library's plan cache would make (same
// lengths, batches and strides; src/fft.cpp), executed back to back.
#include "fft_floor.hpp"

#include <convkit/error.hpp>

#include <cufft.h>

#include <algorithm>
#include <utility>
#include <string>

namespace convkit::bench {
namespace {

void cufft_check(cufftResult r, const char* what) {
  if (r == CUFFT_SUCCESS) return;
  const Status s = r == CUFFT_ALLOC_FAILED ? Status::OutOfMemory : Status::CufftError;
  throw Error(s, std::string("transforms-only floor: ") + what + " failed (cufftResult " + std::to_string(int(r)) +
                     ")");
}

void cuda_ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();
  throw Error(e == cudaErrorMemoryAllocation ? Status::OutOfMemory : Status::CudaError,
              std::string("transforms-only floor: ") + what + ": " + cudaGetErrorString(e));
}

}  // namespace

struct FftTransformsOnly::Impl {
  cudaStream_t stream = nullptr;
  DType dtype = DType::F32;
  detail::FftChoice choice;
  std::int64_t passes = 0;
  std::vector<detail::FftTransform> transforms;
  // One plan per distinct (direction, batch), as the library's cache keeps
  // them: a full pass's and the tail pass's; plan_of[i] is transform i's.
  std::vector<cufftHandle> plans;
  std::vector<std::pair<bool, std::int64_t>> plan_keys;
  std::vector<std::size_t> plan_of;
  void* real = nullptr;
  void* spec = nullptr;
  std::size_t real_bytes = 0, spec_bytes = 0;

  ~Impl() {
    for (cufftHandle h : plans) cufftDestroy(h);
    if (real) cudaFree(real);
    if (spec) cudaFree(spec);
  }
};

FftTransformsOnly::FftTransformsOnly(cudaStream_t stream, const ConvProblem& p, DType t, std::size_t workspace_limit)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.stream = stream;
  m.dtype = t;
  m.choice = detail::fft_plan_choice(p, t, workspace_limit);  // what a ConvPlan runs
  if (!m.choice.ok)
    throw Error(m.choice.min_bytes > workspace_limit ? Status::WorkspaceTooSmall : Status::NotSupported,
                "transforms-only floor: the Fft path cannot plan this problem: " + m.choice.reason);
  m.transforms = fft_floor_transforms(m.choice, p.N);
  m.passes = static_cast<std::int64_t>(m.transforms.size() / 2);
  std::int64_t batch = 0;
  for (const detail::FftTransform& x : m.transforms) batch = std::max(batch, x.batch);
  const std::size_t e = dtype_size(t);
  const detail::FftGeometry& g = m.choice.geo;
  m.real_bytes = std::size_t(g.points) * std::size_t(batch) * e;
  m.spec_bytes = std::size_t(g.freqs) * std::size_t(batch) * 2 * e;
  cuda_ok(cudaMalloc(&m.real, std::max<std::size_t>(m.real_bytes, 1)), "cudaMalloc (real blocks)");
  cuda_ok(cudaMalloc(&m.spec, std::max<std::size_t>(m.spec_bytes, 1)), "cudaMalloc (spectra)");
  // Timing does not depend on the values; zeros keep the transforms finite.
  cuda_ok(cudaMemsetAsync(m.real, 0, m.real_bytes, stream), "cudaMemsetAsync");
  cuda_ok(cudaMemsetAsync(m.spec, 0, m.spec_bytes, stream), "cudaMemsetAsync");

  const bool f32 = t == DType::F32;
  for (const detail::FftTransform& x : m.transforms) {
    const std::pair<bool, std::int64_t> key{x.inverse, x.batch};
    const auto known = std::find(m.plan_keys.begin(), m.plan_keys.end(), key);
    if (known != m.plan_keys.end()) {
      m.plan_of.push_back(std::size_t(known - m.plan_keys.begin()));
      continue;
    }
    cufftHandle h = 0;
    cufft_check(cufftCreate(&h), "cufftCreate");
    m.plans.push_back(h);
    m.plan_keys.push_back(key);
    m.plan_of.push_back(m.plans.size() - 1);
    long long n[3] = {x.n[0], x.n[1], x.n[2]};
    long long real_embed[3] = {x.n[0], x.n[1], x.n[2]};
    long long cplx_embed[3] = {x.n[0], x.n[1], x.n[2]};
    cplx_embed[x.rank - 1] = x.n[x.rank - 1] / 2 + 1;
    // The spectra's layout as src/fft.cpp lays them out: frequency-major
    // (stride = batch, distance 1) for the GEMM path, batch-major otherwise.
    const long long cstride = x.freq_major ? x.batch : 1, cdist = x.freq_major ? 1 : x.freqs;
    const long long rdist = x.points;
    std::size_t work = 0;
    const cufftType type = x.inverse ? (f32 ? CUFFT_C2R : CUFFT_Z2D) : (f32 ? CUFFT_R2C : CUFFT_D2Z);
    if (x.inverse)
      cufft_check(cufftMakePlanMany64(h, x.rank, n, cplx_embed, cstride, cdist, real_embed, 1, rdist, type, x.batch,
                                      &work),
                  "cufftMakePlanMany64 (C2R)");
    else
      cufft_check(cufftMakePlanMany64(h, x.rank, n, real_embed, 1, rdist, cplx_embed, cstride, cdist, type, x.batch,
                                      &work),
                  "cufftMakePlanMany64 (R2C)");
    cufft_check(cufftSetStream(h, stream), "cufftSetStream");
  }
  cuda_ok(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
}

FftTransformsOnly::~FftTransformsOnly() = default;

void FftTransformsOnly::run() {
  Impl& m = *impl_;
  for (std::size_t i = 0; i < m.transforms.size(); ++i) {
    const detail::FftTransform& x = m.transforms[i];
    const cufftHandle h = m.plans[m.plan_of[i]];
    if (m.dtype == DType::F32) {
      auto* r = static_cast<cufftReal*>(m.real);
      auto* c = static_cast<cufftComplex*>(m.spec);
      cufft_check(x.inverse ? cufftExecC2R(h, c, r) : cufftExecR2C(h, r, c),
                  x.inverse ? "cufftExecC2R" : "cufftExecR2C");
    } else {
      auto* r = static_cast<cufftDoubleReal*>(m.real);
      auto* c = static_cast<cufftDoubleComplex*>(m.spec);
      cufft_check(x.inverse ? cufftExecZ2D(h, c, r) : cufftExecD2Z(h, r, c),
                  x.inverse ? "cufftExecZ2D" : "cufftExecD2Z");
    }
  }
}

std::string FftTransformsOnly::description() const {
  const Impl& m = *impl_;
  return "cufft " + fft_floor_lengths(m.choice) + " " + m.choice.variant() + ": " +
         std::to_string(m.choice.geo.blocks) + " block(s) per image, " + std::to_string(m.choice.chunk) +
         " image(s) per pass, " + std::to_string(m.passes) + (m.passes == 1 ? " pass" : " passes");
}

std::size_t FftTransformsOnly::buffer_bytes() const { return impl_->real_bytes + impl_->spec_bytes; }

}  // namespace convkit::bench
