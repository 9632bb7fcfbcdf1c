// convkit-bench's command line: the options, their defaults, the help text
// and the parser (which needs no device, so --help and --list work anywhere).
#pragma once

#include <convkit/conv.hpp>
#include <convkit/types.hpp>

#include <string>
#include <vector>

namespace convkit::bench {

/// The algorithms a row can be, in the order a case runs them: cuDNN first so
/// that every convkit row can show its time relative to cuDNN (its best
/// algorithm by cudnnFind, then its FFT and FFT_TILING algorithms forced, for
/// the Fft targets), the Fft path's transforms-only floor before the Fft row
/// that is compared with it, the two Auto rows last so that they can be
/// compared with the best algorithm measured before them. Auto chooses by the
/// cost model, AutoTuned on a context with tuning on.
enum class Which { Cudnn, CudnnFft, CudnnFftTiling, Direct, Im2col, Toeplitz, FftTransforms, Fft, Auto, AutoTuned };

/// "cudnn", "cudnn-fft", "cudnn-fft-tiling", "direct", "im2col", "toeplitz",
/// "fft-transforms", "fft", "auto", "auto-tuned".
const char* which_name(Which w);

/// Whether `w` is one of the cuDNN rows.
inline bool is_cudnn(Which w) { return w == Which::Cudnn || w == Which::CudnnFft || w == Which::CudnnFftTiling; }

struct Options {
  bool quick = false;
  bool list = false;
  bool help = false;
  std::vector<std::string> suites;         ///< empty: all
  std::vector<std::string> case_filters;   ///< substrings of case names; empty: all
  std::vector<Which> algos;                ///< in run order
  std::vector<Direction> directions;       ///< passes timed per case, in run order; default {Forward}
  int reps = 50;                           ///< timed runs per row (median); --quick: 20
  int warmup = 3;
  int samples = 300;                       ///< output elements checked per row
  DType dtype = DType::F32;
  unsigned long long seed = 20240607;
  std::string json;                        ///< empty: no JSON file
  double workspace_gb = 4;                 ///< convkit context limit and cuDNN workspace cap
  double toeplitz_max_gb = 16;             ///< workspace limit of the Toeplitz rows' context
  double row_budget_s = 5;                 ///< cap on one row's timed loop (fewer reps beyond it)
};

/// "fwd", "bwd-data", "bwd-filter": the --direction names.
const char* direction_label(Direction d);

/// Parses argv. On a usage error returns false and sets `error`.
bool parse_options(int argc, char** argv, Options& opt, std::string& error);

/// The --help text.
std::string help_text();

}  // namespace convkit::bench
