// Algorithm::Auto on a GPU: tuning measures every candidate once, writes the
// tuning file, and a fresh process state (cache cleared, file re-read) starts
// tuned; a candidate short of free memory is not written to the file and is
// timed again by the next process; Auto's results match the reference; every algorithm Auto may pick is
// bit-identical run to run (the determinism flag relies on it).
#include "harness.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

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
    // Im2colGemm's column matrix grew the context's workspace; the tuner
    // gives it back rather than leave it held while the next candidate (and,
    // afterwards, the caller) runs.
    EXPECT_EQ(ctx.workspace_allocated(), 0u) << "a timed candidate's workspace was left behind";
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

// Holds all but `leave` bytes of the device's free memory while in scope.
struct MemoryHog {
  void* p = nullptr;
  explicit MemoryHog(std::size_t leave) {
    std::size_t free_bytes = 0, total = 0;
    if (cudaMemGetInfo(&free_bytes, &total) == cudaSuccess && free_bytes > leave)
      if (cudaMalloc(&p, free_bytes - leave) != cudaSuccess) p = nullptr;
  }
  ~MemoryHog() {
    if (p) cudaFree(p);
  }
  MemoryHog(const MemoryHog&) = delete;
  MemoryHog& operator=(const MemoryHog&) = delete;
};

// A Toeplitz matrix that fits the device but not its free memory at tuning
// time (held by others) fails for the moment: it is excluded for this
// process and not written to the tuning file, and the next process, with the
// memory back, times it and appends a line that has it.
TEST(ChoiceGpu, CandidateShortOfFreeMemoryIsTimedAgainByTheNextProcess) {
  CONVKIT_REQUIRE_GPU();
  clear_tuning_cache();
  const std::string path = ::testing::TempDir() + "convkit_tuning_gpu_memory.tsv";
  std::remove(path.c_str());
  // About 2.8 GB of matrix and map; Im2colGemm's columns are 118 MB.
  const ConvSpec spec = ConvSpec::conv2d().padding(2);
  const Shape xs{1, 8, 384, 384}, ws{8, 8, 5, 5};
  const std::size_t matrix = toeplitz::info(spec, xs, ws, DType::F32).total_bytes();
  ASSERT_GT(matrix, std::size_t(2) << 30);
  {
    Context ctx;
    ctx.stream();
    MemoryHog hog(std::size_t(1) << 30);
    ASSERT_NE(hog.p, nullptr) << "could not take the device's free memory";
    ctx.set_tuning_file(path);
    ctx.set_tuning(true);
    const AlgorithmChoice c = choose_algorithm(ctx, spec, xs, ws, DType::F32, true);
    std::printf("%s", c.explain().c_str());
    for (const auto& r : c.candidates) {
      if (r.algorithm != Algorithm::SparseToeplitz) continue;
      EXPECT_FALSE(r.considered);
      EXPECT_NE(r.excluded_because.find("for this process only"), std::string::npos) << r.excluded_because;
      EXPECT_NE(r.excluded_because.find("OutOfMemory"), std::string::npos) << r.excluded_because;
    }
    EXPECT_EQ(ctx.workspace_allocated(), 0u);
  }
  {
    std::ifstream f(path);
    std::string line;
    ASSERT_TRUE(std::getline(f, line));
    EXPECT_EQ(line.find("SparseToeplitz"), std::string::npos) << "a failure of the moment was written: " << line;
    EXPECT_NE(line.find("\tDirect="), std::string::npos) << line;
  }
  clear_tuning_cache();
  {
    Context ctx;
    ctx.set_tuning_file(path);
    ctx.set_tuning(true);
    const AlgorithmChoice c = choose_algorithm(ctx, spec, xs, ws, DType::F32, true);
    EXPECT_FALSE(c.from_cache) << "SparseToeplitz was missing from the file and must be timed";
    for (const auto& r : c.candidates)
      if (r.algorithm == Algorithm::SparseToeplitz) {
        EXPECT_TRUE(r.considered) << r.excluded_because;
        EXPECT_GT(r.measured_ms, 0.0);
      }
  }
  std::ifstream f(path);
  std::string line, last;
  int lines = 0;
  while (std::getline(f, line)) last = line, ++lines;
  EXPECT_EQ(lines, 2);
  EXPECT_NE(last.find("\tSparseToeplitz="), std::string::npos) << last;
  EXPECT_EQ(last.find("failed"), std::string::npos) << last;
  std::remove(path.c_str());
  clear_tuning_cache();
}

// The tuning key names the calling thread's current device, each device
// read on its own (not whichever was current first).
TEST(ChoiceGpu, TuningKeyNamesTheCurrentDevice) {
  CONVKIT_REQUIRE_GPU();
  int count = 0, original = 0;
  ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  ASSERT_EQ(cudaGetDevice(&original), cudaSuccess);
  struct Restore {
    int dev;
    ~Restore() { cudaSetDevice(dev); }
  } restore{original};
  const ConvSpec spec = ConvSpec::conv2d().padding(1);
  const Shape xs{2, 3, 32, 32}, ws{8, 3, 3, 3};
  // Last device first, so a model read once for device 0 would show.
  for (int d = count - 1; d >= 0; --d) {
    ASSERT_EQ(cudaSetDevice(d), cudaSuccess);
    cudaDeviceProp prop{};
    ASSERT_EQ(cudaGetDeviceProperties(&prop, d), cudaSuccess);
    const std::string want = std::string(prop.name) + " sm_" + std::to_string(prop.major) +
                             std::to_string(prop.minor) + " x" + std::to_string(prop.multiProcessorCount) + " | ";
    const std::string key = tuning_key(Context(), spec, xs, ws, DType::F32);
    EXPECT_EQ(key.rfind(want, 0), 0u) << "device " << d << ": " << key;
  }
}

TEST(ChoiceGpu, AutoMatchesTheReferenceTunedOrNot) {
  CONVKIT_REQUIRE_GPU();
  for (bool tune : {false, true}) {
    for (const ConvCase& c : problem_table()) {
      SCOPED_TRACE(c.name);
      Context ctx;
      ctx.set_tuning(tune);
      ctx.set_exact(true);  // compared exactly: Auto must not pick Fft, whose error is normwise
      const auto hx = random_ints<float>(c.x, 11);
      const auto hw = random_ints<float>(c.w, 12);
      const auto hb = random_ints<float>({c.w[0]}, 13);
      const auto want = expected_output<float>(c.spec, hx, hw, c.spec.has_bias() ? &hb : nullptr);
      auto x = DeviceTensor<float>::from_host(ctx, hx);
      auto w = DeviceTensor<float>::from_host(ctx, hw);
      auto b = DeviceTensor<float>::from_host(ctx, hb);
      DeviceTensor<float> y(ctx, want.y.shape());
      if (y.bytes()) ASSERT_EQ(cudaMemsetAsync(y.data(), 0xFF, y.bytes(), ctx.stream()), cudaSuccess);  // NaN poison
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
  struct Case {
    ConvSpec spec;
    Shape x, w;
  };
  const Case cases[] = {
      {ConvSpec::conv2d().padding(Padding::same()).bias(true), {4, 16, 40, 36}, {24, 16, 5, 5}},
      {ConvSpec::conv2d().padding(1), {1, 8, 33, 31}, {8, 8, 3, 3}},
      {ConvSpec::conv1d().padding(Padding::same()), {3, 1, 5000}, {1, 1, 31}},
  };
  for (const Case& c : cases) {
    Context ctx;
    const auto hx = random_floats<float>(c.x, 21);
    const auto hw = random_floats<float>(c.w, 22);
    const auto hb = random_floats<float>({c.w[0]}, 23);
    const auto want = expected_output<float>(c.spec, hx, hw, c.spec.has_bias() ? &hb : nullptr);
    const double tol = tolerance<float>(c.w.numel() / c.w[0]);
    auto x = DeviceTensor<float>::from_host(ctx, hx);
    auto w = DeviceTensor<float>::from_host(ctx, hw);
    auto b = DeviceTensor<float>::from_host(ctx, hb);
    for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
      const Support s = supports(c.spec, c.x, c.w, DType::F32, a);
      if (!s) continue;
      SCOPED_TRACE(std::string(algorithm_name(a)) + " " + s.variant + " on " + c.spec.str() + " x " + c.x.str());
      DeviceTensor<float> y1(ctx, want.y.shape()), y2(ctx, want.y.shape());
      // NaN poison: a run that writes nothing fails the reference check and
      // cannot pass the bit-identity check on two untouched buffers.
      ASSERT_EQ(cudaMemsetAsync(y1.data(), 0xFF, y1.bytes(), ctx.stream()), cudaSuccess);
      ASSERT_EQ(cudaMemsetAsync(y2.data(), 0xFF, y2.bytes(), ctx.stream()), cudaSuccess);
      auto run = [&](DeviceTensor<float>& y) {
        if (c.spec.has_bias())
          conv(ctx, c.spec, x.view(), w.view(), b.view(), y.view(), a);
        else
          conv(ctx, c.spec, x.view(), w.view(), y.view(), a);
      };
      run(y1);
      run(y2);
      const auto h1 = y1.to_host(), h2 = y2.to_host();
      EXPECT_TRUE(compare(h1, want.y, &want.magnitude, tol));
      std::int64_t differ = 0;
      for (std::int64_t i = 0; i < h1.numel(); ++i) differ += std::memcmp(&h1[i], &h2[i], sizeof(float)) != 0;
      EXPECT_EQ(differ, 0) << "elements that differ between two identical runs";
      // The same through a ConvPlan (persistent state: preprocessed cuSPARSE
      // buffers, the chosen SpMM layout), run twice.
      ConvPlan plan(ctx, c.spec, c.x, c.w, DType::F32, a);
      if (c.spec.has_bias())
        plan.set_weights(w.view(), b.view());
      else
        plan.set_weights(w.view());
      DeviceTensor<float> y3(ctx, want.y.shape()), y4(ctx, want.y.shape());
      ASSERT_EQ(cudaMemsetAsync(y3.data(), 0xFF, y3.bytes(), ctx.stream()), cudaSuccess);
      ASSERT_EQ(cudaMemsetAsync(y4.data(), 0xFF, y4.bytes(), ctx.stream()), cudaSuccess);
      plan.run(x.view(), y3.view());
      plan.run(x.view(), y4.view());
      const auto h3 = y3.to_host(), h4 = y4.to_host();
      EXPECT_TRUE(compare(h3, want.y, &want.magnitude, tol)) << "plan";
      differ = 0;
      for (std::int64_t i = 0; i < h3.numel(); ++i) differ += std::memcmp(&h3[i], &h4[i], sizeof(float)) != 0;
      EXPECT_EQ(differ, 0) << "elements that differ between two runs of one plan";
    }
  }
}

}  // namespace
}  // namespace convkit::test
