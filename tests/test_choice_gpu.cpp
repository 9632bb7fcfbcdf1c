// Algorithm::Auto on a GPU: tuning measures every candidate once, writes the
// tuning file, and a fresh process state (cache cleared, file re-read) starts
// tuned; Auto's results match the reference; every algorithm Auto may pick is
// bit-identical run to run (the determinism flag relies on it).
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <fstream>

namespace convkit::test {
namespace {

TEST(ChoiceGpu, TuningMeasuresOnceAndTheFileStartsTheNextRunTuned) {
  CONVKIT_REQUIRE_GPU();
  clear_tuning_cache();
  const std::string path = ::testing::TempDir() + "convkit_tuning_gpu.tsv";
  std::remove(path.c_str());
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape xs{2, 3, 32, 32}, ws{8, 3, 3, 3};
  {
    Context ctx;
    ctx.set_tuning_file(path);
    ctx.set_tuning(true);
    const AlgorithmChoice first = choose_algorithm(ctx, spec, xs, ws, DType::F32, true);
    EXPECT_TRUE(first.tuned);
    EXPECT_FALSE(first.from_cache);
    for (const auto& r : first.candidates)
      if (r.considered) EXPECT_GT(r.measured_ms, 0.0) << algorithm_name(r.algorithm);
    const AlgorithmChoice second = choose_algorithm(ctx, spec, xs, ws, DType::F32, true);
    EXPECT_TRUE(second.from_cache);
    EXPECT_EQ(second.chosen, first.chosen);
    std::printf("%s", first.explain().c_str());
  }
  clear_tuning_cache();
  {
    Context ctx;
    ctx.set_tuning_file(path);
    ctx.set_tuning(true);
    const AlgorithmChoice again = choose_algorithm(ctx, spec, xs, ws, DType::F32, true);
    EXPECT_TRUE(again.from_cache) << "the tuning file should have served this key";
  }
  std::ifstream f(path);
  std::string line;
  ASSERT_TRUE(std::getline(f, line));
  EXPECT_EQ(line.rfind(tuning_key(Context(), spec, xs, ws, DType::F32), 0), 0u);
  std::remove(path.c_str());
  clear_tuning_cache();
}

TEST(ChoiceGpu, AutoMatchesTheReferenceTunedOrNot) {
  CONVKIT_REQUIRE_GPU();
  for (bool tune : {false, true}) {
    for (const ConvCase& c : problem_table()) {
      SCOPED_TRACE(c.name);
      Context ctx;
      ctx.set_tuning(tune);
      const auto hx = random_ints<float>(c.x, 11);
      const auto hw = random_ints<float>(c.w, 12);
      const auto hb = random_ints<float>({c.w[0]}, 13);
      const auto want = expected_output<float>(c.spec, hx, hw, c.spec.has_bias() ? &hb : nullptr);
      auto x = DeviceTensor<float>::from_host(ctx, hx);
      auto w = DeviceTensor<float>::from_host(ctx, hw);
      auto b = DeviceTensor<float>::from_host(ctx, hb);
      DeviceTensor<float> y(ctx, want.y.shape());
      if (y.bytes()) cudaMemsetAsync(y.data(), 0xFF, y.bytes(), ctx.stream());  // NaN poison
      if (c.spec.has_bias())
        conv(ctx, c.spec, x.view(), w.view(), b.view(), y.view(), Algorithm::Auto);
      else
        conv(ctx, c.spec, x.view(), w.view(), y.view(), Algorithm::Auto);
      EXPECT_TRUE(compare(y.to_host(), want.y, nullptr, 0));
    }
  }
  clear_tuning_cache();
}

TEST(ChoiceGpu, EveryAlgorithmIsBitIdenticalRunToRun) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv2d().padding(Padding::same()).bias(true);
  const Shape xs{4, 16, 40, 36}, ws{24, 16, 5, 5};
  Context ctx;
  const auto hx = random_floats<float>(xs, 21);
  const auto hw = random_floats<float>(ws, 22);
  const auto hb = random_floats<float>({24}, 23);
  auto x = DeviceTensor<float>::from_host(ctx, hx);
  auto w = DeviceTensor<float>::from_host(ctx, hw);
  auto b = DeviceTensor<float>::from_host(ctx, hb);
  for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
    if (!supports(spec, xs, ws, DType::F32, a)) continue;
    SCOPED_TRACE(algorithm_name(a));
    DeviceTensor<float> y1(ctx, spec.output_shape(xs, ws)), y2(ctx, spec.output_shape(xs, ws));
    conv(ctx, spec, x.view(), w.view(), b.view(), y1.view(), a);
    conv(ctx, spec, x.view(), w.view(), b.view(), y2.view(), a);
    const auto h1 = y1.to_host(), h2 = y2.to_host();
    EXPECT_EQ(std::memcmp(h1.data(), h2.data(), h1.numel() * sizeof(float)), 0);
  }
}

}  // namespace
}  // namespace convkit::test
