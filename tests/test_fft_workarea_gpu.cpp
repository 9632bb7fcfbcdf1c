// Algorithm::Fft's cuFFT work area on a device: the workspace reserves, in
// closed form, as many bytes as the complex side of a pass's largest batch
// (src/fft.hpp, FftWorkspace::work). cuFFT documents no bound, so this sweep
// asks cuFFT itself, for every transform a pass runs, across ranks, odd and
// even, small and large lengths, both spectrum layouts and both dtypes, and
// requires that each fits the reserve in one call (a plan that does not would
// run in sub-batches, slower; a single transform that does not would be
// NotSupported).
#include "fft.hpp"
#include "harness.hpp"

#include <convkit/convkit.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace convkit::test {
namespace {

TEST(FftGpuWorkArea, EveryTransformOfAPassFitsTheReserve) {
  CONVKIT_REQUIRE_GPU();
  struct Case {
    ConvSpec spec;
    Shape x, w;
  };
  const Case cases[] = {
      {ConvSpec::conv1d(), {1, 1, 1 << 20}, {1, 1, 4096}},
      {ConvSpec::conv1d().padding(Padding::same()), {2, 1, 100003}, {1, 1, 2187}},  // odd lengths
      {ConvSpec::conv1d().padding(Padding::same()), {4, 3, 5000}, {5, 3, 301}},
      {ConvSpec::conv2d().padding(Padding::same()), {1, 1, 2160, 3840}, {1, 1, 63, 63}},
      {ConvSpec::conv2d().padding(Padding::same()), {2, 4, 243, 125}, {2, 4, 9, 7}},  // 3^5 x 5^3
      {ConvSpec::conv2d().padding(3), {8, 16, 56, 56}, {32, 16, 7, 7}},
      {ConvSpec::conv2d().boundary(Boundary::Circular).padding(Padding::same()), {1, 1, 343, 81}, {1, 1, 5, 5}},
      {ConvSpec::conv3d().padding(Padding::same()), {1, 1, 64, 64, 64}, {1, 1, 15, 15, 15}},
      {ConvSpec::conv3d().padding(1).groups(2), {2, 4, 21, 27, 25}, {4, 2, 3, 3, 3}},
  };
  Context ctx;
  int checked = 0;
  for (const Case& c : cases)
    for (DType t : {DType::F32, DType::F64}) {
      const ConvProblem p = c.spec.problem(c.x, c.w);
      SCOPED_TRACE(p.str() + " " + dtype_name(t));
      const detail::FftChoice ch = detail::fft_choose(p, t, std::numeric_limits<std::size_t>::max(), true);
      ASSERT_TRUE(ch.ok) << ch.reason;
      const detail::FftGeometry& g = ch.geo;
      const std::int64_t M = ch.chunk * g.blocks;
      for (const detail::FftTransform& tr :
           {detail::fft_transform(g, false, g.K * g.Cg), detail::fft_transform(g, false, M * g.C),
            detail::fft_transform(g, true, M * g.K), detail::fft_transform(g, false, g.blocks * g.C),
            detail::fft_transform(g, true, g.blocks * g.K)}) {
        const std::size_t need = detail::fft_work_area_bytes(ctx, tr, t);
        EXPECT_LE(need, ch.ws.work) << (tr.inverse ? "C2R" : "R2C") << " batch " << tr.batch << " of "
                                    << tr.points << " points (" << ch.variant() << ")";
        ++checked;
      }
    }
  EXPECT_EQ(checked, 9 * 2 * 5);
}

}  // namespace
}  // namespace convkit::test
