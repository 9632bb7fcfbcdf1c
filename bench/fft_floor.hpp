// The "transforms only" row of the Fft path: the R2C of x's blocks and the
// C2R of y's blocks that Algorithm::Fft runs per call, with nothing around
// them (no gather of the padded copy, no per-frequency product, no
// extraction) -- the floor of the method. Sizes, batches, passes and the
// spectra's layout are the library's own block choice (detail::fft_plan_choice,
// as a ConvPlan makes it: the plan keeps the weight spectra, so no kernel
// transform per call), so the floor follows whatever the library picks under
// the same workspace limit. fft_floor_transforms is pure (CPU-tested); the
// timing class needs a device.
#pragma once

#include <convkit/spec.hpp>
#include <convkit/types.hpp>

#include "fft.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace convkit::bench {

/// The transforms one call of a ConvPlan runs for N images under the block
/// choice `ch`, in order: per pass of ch.chunk images (the last may hold
/// fewer), the R2C of the pass's M·C blocks, then the C2R of its M·K blocks
/// (M = images in the pass x blocks per image).
inline std::vector<detail::FftTransform> fft_floor_transforms(const detail::FftChoice& ch, std::int64_t N) {
  std::vector<detail::FftTransform> v;
  if (!ch.ok) return v;
  const detail::FftGeometry& g = ch.geo;
  for (std::int64_t first = 0; first < N; first += ch.chunk) {
    const std::int64_t count = std::min(ch.chunk, N - first);
    const std::int64_t M = count * g.blocks;
    v.push_back(detail::fft_transform(g, false, M * g.C));
    v.push_back(detail::fft_transform(g, true, M * g.K));
  }
  return v;
}

/// The transform lengths of `ch`, outermost first, as "4096x8192".
inline std::string fft_floor_lengths(const detail::FftChoice& ch) {
  std::string s;
  for (int a = 3 - ch.geo.dims; a < 3; ++a) s += (s.empty() ? "" : "x") + std::to_string(ch.geo.ax[a].n);
  return s;
}

/// The floor prepared for fixed shapes: cuFFT plans (cufftMakePlanMany64,
/// the library's layouts) and buffers of the largest pass, allocated here.
/// cuFFT allocates its own work areas (the library runs a transform in
/// sub-batches when its work area exceeds the workspace's share; the floor
/// does not). Throws Error(NotSupported / WorkspaceTooSmall) where the Fft
/// path cannot plan the problem under `workspace_limit`, Error(OutOfMemory)
/// when the buffers or plans do not fit the device, Error(CufftError) for
/// other cuFFT failures.
class FftTransformsOnly {
 public:
  FftTransformsOnly(cudaStream_t stream, const ConvProblem& p, DType t, std::size_t workspace_limit);
  ~FftTransformsOnly();
  FftTransformsOnly(const FftTransformsOnly&) = delete;
  FftTransformsOnly& operator=(const FftTransformsOnly&) = delete;

  /// Enqueues every transform of one call on the stream.
  void run();
  /// e.g. "cufft 2304x4000 fft/whole+pointwise: 1 block(s) per image, 1
  /// image(s) per pass, 1 pass".
  std::string description() const;
  /// The buffers' bytes (real + complex; cuFFT's own work areas not counted).
  std::size_t buffer_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convkit::bench
