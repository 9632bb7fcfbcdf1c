// The tuner's decisions that CPU tests check without a device: the strict
// reader of a tuning-file line, the reader of a whole file (which lines it
// keeps, and the message for each line it skips), which tuning failures are
// remembered across processes, and a look into the process-wide cache.
// tuning.cpp holds the tuner itself.
#pragma once

#include <convkit/conv.hpp>
#include <convkit/error.hpp>
#include <convkit/export.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace convkit::detail {

/// One candidate's tuning result.
struct Measured {
  double setup_ms = -1;  ///< plan construction + set_weights, synchronised
  double run_ms = -1;    ///< median ConvPlan::run
  std::string failure;   ///< non-empty when the candidate failed while tuning
  /// The failure is a property of the key (written to the tuning file);
  /// false for one that depends on the moment (kept for this process only).
  bool failure_persists = true;
};
using TuningEntry = std::map<Algorithm, Measured>;

/// One line of a tuning file, read strictly:
///   <key> TAB <Algorithm>=<setup_ms>/<run_ms> TAB ...   (or <Algorithm>=failed)
/// `error` is empty when the line is well formed; otherwise it says what is
/// wrong (and key / entry are not to be used).
struct TuningLine {
  std::string key;
  TuningEntry entry;
  std::string error;
};
CONVKIT_EXPORT TuningLine parse_tuning_line(const std::string& line);

/// A whole tuning file: the entries of its well-formed lines (a later line
/// for a key replaces an earlier one) and one message per skipped line,
/// "tuning file '<path>' line <n>: <what is wrong>; line ignored".
/// A file that does not exist reads as empty.
struct TuningFile {
  std::vector<std::pair<std::string, TuningEntry>> entries;
  std::vector<std::string> skipped;
};
CONVKIT_EXPORT TuningFile read_tuning_file(const std::string& path);

/// Whether a candidate that failed with `s` while being timed stays failed
/// for its key in later processes (written to the tuning file).
CONVKIT_EXPORT bool tuning_failure_persists(Status s);

/// Test hook: the process-wide cache's entry for `key`, if any.
CONVKIT_EXPORT bool cached_tuning_entry(const std::string& key, TuningEntry& out);

}  // namespace convkit::detail
