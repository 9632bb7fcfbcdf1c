// The tuning file's reader: a malformed line -- a time that is nan, inf,
// negative or followed by junk, an empty key, a candidate named twice, a line
// cut short -- is skipped with a warning naming the file, the line and what is
// wrong, and contributes nothing to the cache, so the choice for its key is
// never made from it (on a machine without a GPU the key would have to be
// timed: NoDevice). Well-formed lines around it still load. Needs no device.
#include "harness.hpp"
#include "tuning.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

const ConvSpec kSpec = ConvSpec::conv2d().padding(1);
const Shape kX{2, 3, 16, 16}, kW{4, 3, 3, 3};

// A tuning file written for one test, removed with the cache afterwards.
class TuningFile : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_tuning_cache();
    path_ = ::testing::TempDir() + "convkit_tuning_file_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".tsv";
    std::remove(path_.c_str());
    key_ = tuning_key(ctx_, kSpec, kX, kW, DType::F32);
  }
  void TearDown() override {
    std::remove(path_.c_str());
    clear_tuning_cache();
  }
  void write(const std::string& text) {
    std::ofstream f(path_, std::ios::binary);
    f << text;
  }
  // Loads the file through the public call and returns what it printed.
  std::string load() {
    ::testing::internal::CaptureStderr();
    try {
      ctx_.set_tuning_file(path_);
    } catch (...) {
      ::testing::internal::GetCapturedStderr();
      throw;
    }
    return ::testing::internal::GetCapturedStderr();
  }
  // The line for key_ with the given fields after the key.
  std::string line(const std::string& fields) const { return key_ + "\t" + fields + "\n"; }

  // The file was read without an error, its malformed line `lineno` was
  // reported (file, line, `reason`), and nothing of it reached the cache: a
  // tuned choice for key_ is not made from it.
  void expect_skipped(int lineno, const std::string& reason) {
    std::string printed;
    ASSERT_NO_THROW(printed = load()) << "a malformed line must not make the file unusable";
    const std::string where = "tuning file '" + path_ + "' line " + std::to_string(lineno) + ": ";
    EXPECT_NE(printed.find("warning: " + where), std::string::npos) << printed;
    EXPECT_NE(printed.find(reason), std::string::npos) << "expected the reason '" << reason << "' in: " << printed;
    EXPECT_NE(printed.find("line ignored"), std::string::npos) << printed;
    const detail::TuningFile read = detail::read_tuning_file(path_);
    ASSERT_EQ(read.skipped.size(), 1u);
    EXPECT_EQ(read.skipped[0].rfind(where, 0), 0u) << read.skipped[0];
    detail::TuningEntry e;
    EXPECT_FALSE(detail::cached_tuning_entry(key_, e)) << "a malformed line was loaded into the cache";
    if (!has_gpu()) {
      ctx_.set_tuning(true);
      try {
        choose_algorithm(ctx_, kSpec, kX, kW, DType::F32, true);
        ADD_FAILURE() << "the choice was served from a malformed line";
      } catch (const Error& err) {
        EXPECT_EQ(err.status(), Status::NoDevice) << err.what();
      }
    }
  }

  Context ctx_;
  std::string path_, key_;
};

TEST_F(TuningFile, WellFormedLineIsLoadedAndServesTheChoice) {
  write(line("Direct=1/0.5\tIm2colGemm=1.5e0/2.5E-01\tSparseToeplitz=failed\tFft=2/1"));
  EXPECT_EQ(load(), "");
  detail::TuningEntry e;
  ASSERT_TRUE(detail::cached_tuning_entry(key_, e));
  ASSERT_EQ(e.size(), 4u);
  EXPECT_DOUBLE_EQ(e[Algorithm::Direct].run_ms, 0.5);
  EXPECT_DOUBLE_EQ(e[Algorithm::Im2colGemm].setup_ms, 1.5);
  EXPECT_DOUBLE_EQ(e[Algorithm::Im2colGemm].run_ms, 0.25);
  EXPECT_FALSE(e[Algorithm::SparseToeplitz].failure.empty());
  ctx_.set_tuning(true);
  const AlgorithmChoice c = choose_algorithm(ctx_, kSpec, kX, kW, DType::F32, true);
  EXPECT_TRUE(c.from_cache);
  EXPECT_EQ(c.chosen, Algorithm::Im2colGemm);
}

TEST_F(TuningFile, NanTimeIsSkipped) {
  write(line("Direct=1/nan\tIm2colGemm=1/2"));
  expect_skipped(1, "run time is not finite");
}

TEST_F(TuningFile, NegativeTimeIsSkipped) {
  write(line("Direct=-1/0.5\tIm2colGemm=1/2"));
  expect_skipped(1, "setup time is negative");
}

TEST_F(TuningFile, InfiniteTimeIsSkipped) {
  write(line("Direct=1/0.5\tIm2colGemm=inf/2"));
  expect_skipped(1, "setup time is not finite");
}

TEST_F(TuningFile, TrailingJunkAfterATimeIsSkipped) {
  write(line("Direct=1/0.5abc\tIm2colGemm=1/2"));
  expect_skipped(1, "run time has trailing characters after the number");
}

TEST_F(TuningFile, EmptyKeyIsSkipped) {
  write("\tDirect=1/0.5\n");
  std::string printed;
  ASSERT_NO_THROW(printed = load());
  EXPECT_NE(printed.find("tuning file '" + path_ + "' line 1: the key (before the first tab) is empty"),
            std::string::npos)
      << printed;
  detail::TuningEntry e;
  EXPECT_FALSE(detail::cached_tuning_entry("", e));
}

TEST_F(TuningFile, DuplicateFieldIsSkipped) {
  // Either time could be the one meant: neither is trusted.
  write(line("Direct=9/9\tIm2colGemm=1/2\tDirect=1/0.1"));
  expect_skipped(1, "repeats Direct");
}

TEST_F(TuningFile, TruncatedLineIsSkipped) {
  // A process killed while appending leaves a line cut anywhere.
  write(line("Direct=1/0.5\tIm2colGemm=1.") + key_ + "\tDirect=1/\n" + key_ + "\tDir\n" + key_ + "\n");
  std::string printed;
  ASSERT_NO_THROW(printed = load());
  for (int l = 1; l <= 4; ++l)
    EXPECT_NE(printed.find("tuning file '" + path_ + "' line " + std::to_string(l) + ": "), std::string::npos)
        << "line " << l << " not reported: " << printed;
  EXPECT_NE(printed.find("not <setup_ms>/<run_ms>"), std::string::npos) << printed;
  EXPECT_NE(printed.find("run time is empty"), std::string::npos) << printed;
  EXPECT_NE(printed.find("does not start with <Algorithm>="), std::string::npos) << printed;
  EXPECT_NE(printed.find("no timings after the key"), std::string::npos) << printed;
  EXPECT_EQ(detail::read_tuning_file(path_).skipped.size(), 4u);
  detail::TuningEntry e;
  EXPECT_FALSE(detail::cached_tuning_entry(key_, e));
}

TEST_F(TuningFile, GoodLineAfterABadOneIsLoaded) {
  const std::string other = tuning_key(ctx_, kSpec, kX, kW, DType::F64);
  write(line("Direct=1/nan") + other + "\tDirect=1/0.5\tIm2colGemm=2/0.25\n");
  std::string printed;
  ASSERT_NO_THROW(printed = load());
  EXPECT_NE(printed.find("line 1: "), std::string::npos) << printed;
  EXPECT_EQ(printed.find("line 2"), std::string::npos) << "the good line was reported: " << printed;
  detail::TuningEntry e;
  EXPECT_FALSE(detail::cached_tuning_entry(key_, e));
  ASSERT_TRUE(detail::cached_tuning_entry(other, e));
  EXPECT_DOUBLE_EQ(e[Algorithm::Im2colGemm].run_ms, 0.25);
}

TEST_F(TuningFile, BadLineNeverOverridesAGoodOneForItsKey) {
  // The tuner appends a re-tuned key, so a later line replaces an earlier
  // one -- but only a well-formed line does.
  write(line("Direct=1/0.5\tIm2colGemm=2/0.25") + line("Direct=1/0.01\tIm2colGemm=2/-3"));
  std::string printed;
  ASSERT_NO_THROW(printed = load());
  EXPECT_NE(printed.find("line 2: "), std::string::npos) << printed;
  detail::TuningEntry e;
  ASSERT_TRUE(detail::cached_tuning_entry(key_, e));
  EXPECT_DOUBLE_EQ(e[Algorithm::Direct].run_ms, 0.5);
  EXPECT_DOUBLE_EQ(e[Algorithm::Im2colGemm].run_ms, 0.25);
}

// The line reader on its own: exactly the writer's format, whole tokens.
// An application routes warnings to its own handler (and restores the
// default, stderr, with an empty one): the skipped line's message arrives
// there, without the prefix, and nothing reaches stderr.
TEST_F(TuningFile, WarningsGoToTheInstalledHandler) {
  write(line("Direct=1/nan\tIm2colGemm=1/2"));
  std::vector<std::string> got;
  const WarningHandler before = set_warning_handler([&](const std::string& m) { got.push_back(m); });
  const std::string printed = load();
  set_warning_handler(before);
  EXPECT_EQ(printed, "");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind("tuning file '" + path_ + "' line 1: ", 0), 0u) << got[0];
  // The default is back: the next skip is printed.
  clear_tuning_cache();
  EXPECT_NE(load().find("convkit: warning: tuning file"), std::string::npos);
}

TEST(TuningLine, AcceptsTheWritersFormatOnly) {
  struct Row {
    const char* line;
    bool ok;
  };
  const Row rows[] = {
      {"k\tDirect=1/0.5", true},
      {"k\tDirect=0/0", true},
      {"k\tDirect=1e-05/2.5E+01", true},
      {"k\tDirect=failed\tSparseToeplitz=3/4", true},
      {"k with spaces | x\tIm2colGemm=1/2\r", true},  // CR LF line ending
      {"k\tDirect=+1/0.5", false},
      {"k\tDirect= 1/0.5", false},
      {"k\tDirect=1/0.5 ", false},
      {"k\tDirect=1/0.5/7", false},
      {"k\tDirect=1e999/0.5", false},
      {"k\tDirect=0x1p3/0.5", false},
      {"k\tDirect=1/-0.5", false},
      {"k\tDirect=1/NaN", false},
      {"k\tDirect=1/-inf", false},
      {"k\tDirect=failedx", false},
      {"k\tdirect=1/0.5", false},
      {"k\tAuto=1/0.5", false},
      {"k\tDirect=1/0.5\t", false},
      {"k\t\tDirect=1/0.5", false},
      {"k\tDirect", false},
      {"k", false},
      {" \tDirect=1/0.5", false},
  };
  for (const Row& r : rows) {
    const detail::TuningLine l = detail::parse_tuning_line(r.line);
    EXPECT_EQ(l.error.empty(), r.ok) << "'" << r.line << "': " << l.error;
    if (!r.ok) EXPECT_TRUE(l.entry.empty()) << r.line;
  }
}

TEST(TuningLine, MissingFileIsAnEmptyCache) {
  const detail::TuningFile f = detail::read_tuning_file(::testing::TempDir() + "convkit_tuning_no_such_file.tsv");
  EXPECT_TRUE(f.entries.empty());
  EXPECT_TRUE(f.skipped.empty());
}

}  // namespace
}  // namespace convkit::test
