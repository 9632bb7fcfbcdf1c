// Parsing of convkit-bench's command line (see options.hpp).
#include "options.hpp"

#include "bench_math.hpp"
#include "cases.hpp"

#include <algorithm>
#include <cstdlib>

namespace convkit::bench {

const char* which_name(Which w) {
  switch (w) {
    case Which::Cudnn: return "cudnn";
    case Which::CudnnFft: return "cudnn-fft";
    case Which::CudnnFftTiling: return "cudnn-fft-tiling";
    case Which::Direct: return "direct";
    case Which::Im2col: return "im2col";
    case Which::Toeplitz: return "toeplitz";
    case Which::FftTransforms: return "fft-transforms";
    case Which::Fft: return "fft";
    case Which::Auto: return "auto";
    case Which::AutoTuned: return "auto-tuned";
  }
  return "?";
}

const char* direction_label(Direction d) {
  switch (d) {
    case Direction::Forward: return "fwd";
    case Direction::BackwardData: return "bwd-data";
    case Direction::BackwardFilter: return "bwd-filter";
  }
  return "?";
}

std::string help_text() {
  return R"(convkit-bench: times convkit's convolution algorithms (and cuDNN when built
in) on fixed problem suites, checks every timed output against the CPU
reference, and reports time, GFLOP/s, GB/s and the fraction of the roofline.

usage: convkit-bench [options]

  --quick              smaller sizes and 20 runs per row: the whole set in well
                       under a minute
  --suite LIST         suites to run, comma-separated or repeated:
                       signal1d, image2d, cnn, large-kernel (default: all)
  --case TEXT          only cases whose name contains TEXT (repeatable)
  --algo LIST          direct, im2col, toeplitz, fft, fft-transforms, auto,
                       auto-tuned, cudnn, cudnn-fft, cudnn-fft-tiling, or all
                       (default: all). auto chooses by the cost model,
                       auto-tuned on a context with tuning on; both are
                       compared with the best of direct / im2col / toeplitz /
                       fft measured for the case. fft-transforms times only
                       the R2C + C2R transforms the fft path runs (same
                       sizes and batches), its floor; cudnn-fft and
                       cudnn-fft-tiling force those cuDNN algorithms where
                       cuDNN's workspace query accepts the shape
  --direction LIST     passes to time: fwd, bwd-data, bwd-filter, or all
                       (default fwd). Backward rows run the one-shot
                       conv_backward_data / conv_backward_filter (Auto chooses
                       per direction) against cuDNN's best backward algorithm
                       (cudnnFind...BackwardData/FilterAlgorithmEx), checked
                       at sampled elements against the CPU reference gradient,
                       which is computed whole: a case over 2^32 multiply-adds
                       is skipped in the backward directions
  --reps N             timed runs per row; the median is reported (default 50)
  --warmup N           untimed runs before timing (default 3)
  --samples N          output elements checked against the reference (default 300)
  --dtype f32|f64      element type (default f32)
  --seed N             seed of the input data and the sampled indices
  --json FILE          also write the results as JSON to FILE
  --workspace-gb X     workspace limit of convkit's context and cap of cuDNN's
                       workspace (default 4)
  --toeplitz-max-gb X  workspace limit of the context the toeplitz rows run
                       on; a case whose matrix (CSR plus source-tap map, as
                       toeplitz::info sizes it) exceeds X GB is skipped
                       (default 16)
  --row-budget-s X     with --quick, a row whose runs would take longer than X
                       seconds gets fewer runs (never fewer than 10; default 1);
                       a full run always times --reps runs
  --list               print the cases and exit (needs no GPU)
  --help               this text

Each row: warm-up, then the median (and minimum) of the timed runs, each timed
with CUDA events on the library context's stream after an L2 flush. Ceilings:
FP32 (FP64) FMA peak = SMs x lanes/SM x 2 x clock; copy bandwidth measured at
start with a device-to-device copy (bytes read + written). Roofline time =
max(FLOPs / peak, minimum bytes / bandwidth). "vs cuDNN" is convkit's time
divided by cuDNN's (below 1: convkit is faster). Every row is checked at the
sampled outputs within DESIGN 5's per-element tolerance, except FFT-based
ones (fft, an auto row that chose it, cuDNN's FFT algorithms), which are
checked within the normwise FFT bound (bench_math.hpp); fft-transforms
computes no convolution and is not checked. Detail lines ('^') give
the Toeplitz matrix traffic, im2col's two halves timed apart, and how Auto's
choice compares with the best algorithm; the run ends with a markdown table
of every performance target and whether it was met.

Exit status: 0 when every check passed, 1 when a check failed or a run
raised an error, 2 on a usage error. Without a CUDA device it prints
"no CUDA device: nothing to benchmark" and exits 0.
)";
}

namespace {

bool parse_int(const std::string& s, long long lo, long long& out) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo) return false;
  out = v;
  return true;
}

bool parse_double(const std::string& s, double& out) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v > 0)) return false;
  out = v;
  return true;
}

bool parse_algo(const std::string& name, std::vector<Which>& out) {
  static const Which all[] = {Which::Cudnn,    Which::CudnnFft,      Which::CudnnFftTiling, Which::Direct,
                              Which::Im2col,   Which::Toeplitz,      Which::FftTransforms,  Which::Fft,
                              Which::Auto,     Which::AutoTuned};
  if (name == "all") {
    out.assign(std::begin(all), std::end(all));
    return true;
  }
  for (Which w : all)
    if (name == which_name(w)) {
      if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
      return true;
    }
  return false;
}

}  // namespace

bool parse_options(int argc, char** argv, Options& opt, std::string& error) {
  bool reps_given = false, budget_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    // Options take their value as the next argument or after '='.
    std::string value;
    bool has_value = false;
    std::string key = a;
    if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      key = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    const auto need = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) {
        error = key + " needs a value";
        return false;
      }
      value = argv[++i];
      return true;
    };
    long long n = 0;
    if (key == "--help" || key == "-h") {
      opt.help = true;
    } else if (key == "--quick") {
      opt.quick = true;
    } else if (key == "--list") {
      opt.list = true;
    } else if (key == "--suite") {
      if (!need()) return false;
      for (const auto& s : split_list(value)) {
        const auto& known = suite_names();
        if (std::find(known.begin(), known.end(), s) == known.end()) {
          error = "--suite " + s + ": unknown suite (signal1d, image2d, cnn, large-kernel)";
          return false;
        }
        if (std::find(opt.suites.begin(), opt.suites.end(), s) == opt.suites.end()) opt.suites.push_back(s);
      }
    } else if (key == "--case") {
      if (!need()) return false;
      opt.case_filters.push_back(value);
    } else if (key == "--algo") {
      if (!need()) return false;
      for (const auto& s : split_list(value))
        if (!parse_algo(s, opt.algos)) {
          error = "--algo " + s +
                  ": unknown algorithm (direct, im2col, toeplitz, fft, fft-transforms, auto, auto-tuned, cudnn, "
                  "cudnn-fft, cudnn-fft-tiling, all)";
          return false;
        }
    } else if (key == "--direction") {
      if (!need()) return false;
      for (const auto& s : split_list(value)) {
        std::vector<Direction> add;
        if (s == "all") add = {Direction::Forward, Direction::BackwardData, Direction::BackwardFilter};
        for (Direction d : {Direction::Forward, Direction::BackwardData, Direction::BackwardFilter})
          if (s == direction_label(d)) add = {d};
        if (add.empty()) {
          error = "--direction " + s + ": unknown direction (fwd, bwd-data, bwd-filter, all)";
          return false;
        }
        for (Direction d : add)
          if (std::find(opt.directions.begin(), opt.directions.end(), d) == opt.directions.end())
            opt.directions.push_back(d);
      }
    } else if (key == "--reps") {
      if (!need()) return false;
      if (!parse_int(value, 1, n)) {
        error = "--reps " + value + ": must be an integer >= 1";
        return false;
      }
      opt.reps = static_cast<int>(n);
      reps_given = true;
    } else if (key == "--warmup") {
      if (!need()) return false;
      if (!parse_int(value, 0, n)) {
        error = "--warmup " + value + ": must be an integer >= 0";
        return false;
      }
      opt.warmup = static_cast<int>(n);
    } else if (key == "--samples") {
      if (!need()) return false;
      if (!parse_int(value, 1, n)) {
        error = "--samples " + value + ": must be an integer >= 1";
        return false;
      }
      opt.samples = static_cast<int>(n);
    } else if (key == "--seed") {
      if (!need()) return false;
      if (!parse_int(value, 0, n)) {
        error = "--seed " + value + ": must be an integer >= 0";
        return false;
      }
      opt.seed = static_cast<unsigned long long>(n);
    } else if (key == "--dtype") {
      if (!need()) return false;
      if (value == "f32" || value == "float") {
        opt.dtype = DType::F32;
      } else if (value == "f64" || value == "double") {
        opt.dtype = DType::F64;
      } else {
        error = "--dtype " + value + ": must be f32 or f64";
        return false;
      }
    } else if (key == "--json") {
      if (!need()) return false;
      opt.json = value;
    } else if (key == "--workspace-gb" || key == "--toeplitz-max-gb" || key == "--row-budget-s") {
      if (!need()) return false;
      double v = 0;
      if (!parse_double(value, v)) {
        error = key + " " + value + ": must be a number > 0";
        return false;
      }
      budget_given = budget_given || key == "--row-budget-s";
      (key == "--workspace-gb" ? opt.workspace_gb : key == "--toeplitz-max-gb" ? opt.toeplitz_max_gb
                                                                               : opt.row_budget_s) = v;
    } else {
      error = "unknown option " + a + " (see --help)";
      return false;
    }
  }
  if (opt.algos.empty()) parse_algo("all", opt.algos);
  if (opt.directions.empty()) opt.directions = {Direction::Forward};
  // Run cuDNN first whatever the order given, so convkit rows can show the ratio.
  std::stable_sort(opt.algos.begin(), opt.algos.end(),
                   [](Which a, Which b) { return static_cast<int>(a) < static_cast<int>(b); });
  if (opt.suites.empty()) opt.suites = suite_names();
  if (opt.quick && !reps_given) opt.reps = 20;
  if (opt.quick && !budget_given) opt.row_budget_s = 1;
  return true;
}

}  // namespace convkit::bench
