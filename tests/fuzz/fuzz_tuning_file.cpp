// Fuzz target: the tuning-file reader, through the public entry point
// Context::set_tuning_file (a Context touches no device until it runs
// something). Going through the public call keeps the target valid whatever
// the reader's internals become. Any input may be rejected with
// convkit::Error; nothing else may escape, crash or trip a sanitizer.
#include <convkit/choice.hpp>
#include <convkit/context.hpp>
#include <convkit/warning.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_common.hpp"

namespace {

// One file per process, rewritten for every input; unlinked at exit.
const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/convkit-fuzz-tuning-XXXXXX";
    const int fd = mkstemp(p.data());
    if (fd < 0) convkit_fuzz::broken("cannot create a scratch file");
    close(fd);
    std::atexit([] { std::remove(scratch_path().c_str()); });
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Nearly every input has malformed lines: their warnings (the expected
  // answer) would flood the log that must show the findings. Each message
  // must still be formed, so the handler reads it.
  static const bool quiet = [] {
    convkit::set_warning_handler([](const std::string& m) {
      if (m.empty()) convkit_fuzz::broken("an empty warning");
    });
    return true;
  }();
  (void)quiet;
  const std::string& path = scratch_path();
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) convkit_fuzz::broken("cannot write the scratch file");
    if (size && std::fwrite(data, 1, size, f) != size) convkit_fuzz::broken("short write to the scratch file");
    std::fclose(f);
  }
  try {
    convkit::Context ctx;
    ctx.set_tuning_file(path);
  } catch (const convkit::Error& e) {
    convkit_fuzz::expected(e);
  }
  // The cache is process-wide: without this every input's keys would pile up.
  convkit::clear_tuning_cache();
  return 0;
}
