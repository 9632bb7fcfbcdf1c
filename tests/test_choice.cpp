// Algorithm::Auto on the CPU: the cost model's choice and its explanation,
// exclusions (unsupported, workspace), the tuning cache key and the tuning
// file (parsing, reuse of a matching key, no reuse of a changed key). Needs
// no device: a cached entry is used without timing anything.
#include "harness.hpp"

#include <cstdio>
#include <fstream>
#include <string>

namespace convkit::test {
namespace {

const ConvSpec kSpec = ConvSpec::conv2d().padding(1);
const Shape kX{2, 3, 16, 16}, kW{4, 3, 3, 3};

std::string temp_path(const char* name) { return ::testing::TempDir() + name; }

TEST(Choice, CostModelPicksTheCheapestConsideredCandidate) {
  Context ctx;
  const AlgorithmChoice c = choose_algorithm(ctx, kSpec, kX, kW, DType::F32);
  EXPECT_FALSE(c.tuned);
  ASSERT_EQ(c.candidates.size(), 3u);
  const CandidateReport* chosen = nullptr;
  for (const auto& r : c.candidates) {
    if (r.considered) {
      EXPECT_GT(r.estimated_ms, 0.0) << algorithm_name(r.algorithm);
      EXPECT_TRUE(r.excluded_because.empty());
    } else {
      EXPECT_FALSE(r.excluded_because.empty()) << algorithm_name(r.algorithm);
    }
    if (r.algorithm == c.chosen) chosen = &r;
  }
  ASSERT_NE(chosen, nullptr);
  EXPECT_TRUE(chosen->considered);
  for (const auto& r : c.candidates)
    if (r.considered) EXPECT_LE(chosen->estimated_ms, r.estimated_ms);
  const std::string text = c.explain();
  EXPECT_NE(text.find("chose"), std::string::npos);
  EXPECT_NE(text.find(algorithm_name(c.chosen)), std::string::npos);
  EXPECT_NE(text.find("<- chosen"), std::string::npos);
}

TEST(Choice, WorkspaceLimitExcludesIm2colWithItsBytes) {
  Context ctx;
  ctx.set_workspace_limit(0);
  try {
    const AlgorithmChoice c = choose_algorithm(ctx, kSpec, kX, kW, DType::F32);
    for (const auto& r : c.candidates) {
      if (r.algorithm == Algorithm::Im2colGemm) {
        EXPECT_FALSE(r.considered);
        EXPECT_NE(r.excluded_because.find("workspace"), std::string::npos) << r.excluded_because;
      }
      if (r.algorithm == Algorithm::SparseToeplitz) {
        // The matrix cannot be chunked, so a limit below it excludes the path.
        EXPECT_FALSE(r.considered);
        EXPECT_NE(r.excluded_because.find("memory"), std::string::npos) << r.excluded_because;
      }
    }
    EXPECT_EQ(c.chosen, Algorithm::Direct);
  } catch (const Error& e) {
    // Only possible while no other algorithm supports the problem.
    EXPECT_EQ(e.status(), Status::NotSupported);
    EXPECT_NE(std::string(e.what()).find("workspace"), std::string::npos) << e.what();
  }
}

TEST(Choice, InvalidProblemIsInvalidArgument) {
  Context ctx;
  try {
    choose_algorithm(ctx, ConvSpec::conv2d().stride(0), kX, kW, DType::F32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("stride"), std::string::npos);
  }
}

TEST(Choice, KeyHoldsEverythingTimingsDependOn) {
  Context a, b;
  const std::string k = tuning_key(a, kSpec, kX, kW, DType::F32);
  EXPECT_EQ(k, tuning_key(b, kSpec, kX, kW, DType::F32));
  EXPECT_NE(k.find(CONVKIT_VERSION_STRING), std::string::npos);
  EXPECT_NE(k, tuning_key(a, kSpec, kX, kW, DType::F64));
  EXPECT_NE(k, tuning_key(a, kSpec, Shape{3, 3, 16, 16}, kW, DType::F32));
  EXPECT_NE(k, tuning_key(a, ConvSpec::conv2d().padding(1).boundary(Boundary::Reflect), kX, kW, DType::F32));
  b.set_allow_tf32(true);
  EXPECT_NE(k, tuning_key(b, kSpec, kX, kW, DType::F32));
  Context c;
  c.set_workspace_limit(1 << 20);
  EXPECT_NE(k, tuning_key(c, kSpec, kX, kW, DType::F32));
  EXPECT_EQ(k.find('\t'), std::string::npos);
}

TEST(Choice, TuningFileEntryIsReusedForItsKeyOnly) {
  clear_tuning_cache();
  Context ctx;
  const std::string path = temp_path("convkit_tuning_reuse.tsv");
  std::remove(path.c_str());
  {
    // Per run Im2colGemm is fastest; with setup counted (one-shot call),
    // Direct is. setup_ms/run_ms per algorithm.
    std::ofstream f(path);
    f << tuning_key(ctx, kSpec, kX, kW, DType::F32)
      << "\tDirect=1/0.5\tIm2colGemm=1.5/0.25\tSparseToeplitz=20/0.9\n";
  }
  ctx.set_tuning_file(path);
  ctx.set_tuning(true);
  const AlgorithmChoice plan = choose_algorithm(ctx, kSpec, kX, kW, DType::F32, /*for_plan=*/true);
  const AlgorithmChoice once = choose_algorithm(ctx, kSpec, kX, kW, DType::F32, /*for_plan=*/false);
  EXPECT_TRUE(plan.tuned);
  EXPECT_TRUE(plan.from_cache);
  EXPECT_TRUE(once.from_cache);
  // Expected winners among the candidates this build supports.
  auto best = [&](const AlgorithmChoice& c, bool for_plan) {
    const double setup[] = {1, 1.5, 20}, run[] = {0.5, 0.25, 0.9};
    Algorithm b = Algorithm::Auto;
    double bt = 1e30;
    for (const auto& r : c.candidates) {
      if (!r.considered) continue;
      const int i = r.algorithm == Algorithm::Direct ? 0 : r.algorithm == Algorithm::Im2colGemm ? 1 : 2;
      const double t = run[i] + (for_plan ? 0 : setup[i]);
      EXPECT_DOUBLE_EQ(r.measured_ms, t) << algorithm_name(r.algorithm);
      if (t < bt) bt = t, b = r.algorithm;
    }
    return b;
  };
  EXPECT_EQ(plan.chosen, best(plan, true));
  EXPECT_EQ(once.chosen, best(once, false));
  EXPECT_NE(plan.explain().find("tuned, from the cache"), std::string::npos);
  // A changed key (another batch size) is not served from that entry: it would
  // have to be measured, which needs a device here.
  if (!has_gpu()) {
    try {
      choose_algorithm(ctx, kSpec, Shape{3, 3, 16, 16}, kW, DType::F32);
      FAIL() << "a changed key must not reuse the cached entry";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::NoDevice) << e.what();
    }
  }
  std::remove(path.c_str());
  clear_tuning_cache();
}

TEST(Choice, MalformedTuningFileIsRejectedWithItsLine) {
  const std::string path = temp_path("convkit_tuning_bad.tsv");
  {
    std::ofstream f(path);
    f << "some key\tIm2colGemm=1/2\n";
    f << "another key\tNoSuchAlgorithm=1/2\n";
  }
  Context ctx;
  try {
    ctx.set_tuning_file(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ctx.tuning_file(), "");
  std::remove(path.c_str());
  // A file that does not exist yet is an empty cache.
  EXPECT_NO_THROW(ctx.set_tuning_file(temp_path("convkit_tuning_absent.tsv")));
}

TEST(Choice, DeterministicFlagKeepsAChoice) {
  Context ctx;
  ctx.set_deterministic(true);
  EXPECT_TRUE(ctx.deterministic());
  const AlgorithmChoice c = choose_algorithm(ctx, kSpec, kX, kW, DType::F64);
  bool considered = false;
  for (const auto& r : c.candidates) considered |= r.considered && r.algorithm == c.chosen;
  EXPECT_TRUE(considered);
}

TEST(Choice, AutoConvWithoutDeviceIsNoDeviceAfterValidation) {
  if (has_gpu()) GTEST_SKIP() << "checks the GPU-less behaviour";
  Context ctx;
  std::vector<float> x(kX.numel(), 1.f), w(kW.numel(), 1.f), y(2 * 4 * 16 * 16, -7.f);
  try {
    conv(ctx, kSpec, TensorView<const float>::device(x.data(), kX), TensorView<const float>::device(w.data(), kW),
         TensorView<float>::device(y.data(), {2, 4, 16, 16}), Algorithm::Auto);
    FAIL() << "expected NoDevice";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::NoDevice) << e.what();
  }
  for (float v : y) ASSERT_EQ(v, -7.f);
}

}  // namespace
}  // namespace convkit::test
