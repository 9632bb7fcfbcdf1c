// Algorithm::Auto: the cost model, the tuner and the tuning cache.
//
// Two levels. The cost model estimates each supported algorithm's time from
// the problem's FLOP and byte counts against the device's arithmetic and
// memory ceilings (read from the current device, once per device id, or
// nominal H100 figures when there is none or its attributes cannot be read),
// with per-algorithm efficiencies and the extra bytes each path moves
// (im2col's column matrix, the Toeplitz matrix). It spends no device
// time. The tuner, opt-in through Context::set_tuning, times each candidate
// once per key on temporary tensors and remembers the result in a
// process-wide cache and, when the context names a file, on disk. The key
// holds everything the timing depends on -- device, library version,
// problem, dtype, TF32 flag and workspace limit -- so a changed key never
// reuses a stale entry.
#include <convkit/choice.hpp>
#include <convkit/version.hpp>

#include "algorithms.hpp"
#include "arith.hpp"
#include "check.hpp"
#include "context_state.hpp"
#include "determinism.hpp"
#include "fft.hpp"
#include "tuning.hpp"
#include "validate.hpp"
#include "warning_internal.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <locale>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

namespace convkit {
namespace detail {
namespace {

constexpr Algorithm kCandidates[] = {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz,
                                     Algorithm::Fft};

// ---------------------------------------------------------------- device model

struct DeviceModel {
  std::string name;   // names the device in the tuning key
  double fp32_flops;  // FMA peak, FLOP/s
  double fp64_flops;
  double bandwidth;   // bytes/s, DRAM
};

// Nominal H100 figures: the model with no device, and the figures of a
// device whose attributes cannot be read.
constexpr double kNominalFp32 = 67e12, kNominalFp64 = 34e12, kNominalBandwidth = 3.0e12;

DeviceModel nominal_model(std::string name) {
  return DeviceModel{std::move(name), kNominalFp32, kNominalFp64, kNominalBandwidth};
}

// Reads device `dev`'s model; false when any query fails (errors cleared),
// with `m` then holding what could be read and nominal figures. Never throws:
// the cost model must answer whatever the device says.
bool query_device_model(int dev, DeviceModel& m) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
    cudaGetLastError();
    m = nominal_model(msg("nominal (device ", dev, ": properties unreadable)"));
    return false;
  }
  // Name, architecture and SM count: what the timings depend on. Two
  // identical GPUs share a key on purpose -- they time alike, and a tuning
  // file then serves every slot and machine with that part. (The PCI bus id
  // would tell them apart, at the cost of that reuse.)
  std::ostringstream name;
  name << prop.name << " sm_" << prop.major << prop.minor << " x" << prop.multiProcessorCount;
  m = nominal_model(name.str());
  int sms = 0, clock_khz = 0, mem_khz = 0, bus_bits = 0;
  const std::pair<int*, cudaDeviceAttr> attrs[] = {{&sms, cudaDevAttrMultiProcessorCount},
                                                   {&clock_khz, cudaDevAttrClockRate},
                                                   {&mem_khz, cudaDevAttrMemoryClockRate},
                                                   {&bus_bits, cudaDevAttrGlobalMemoryBusWidth}};
  for (const auto& [value, attr] : attrs) {
    if (cudaDeviceGetAttribute(value, attr, dev) != cudaSuccess) {
      cudaGetLastError();
      return false;  // nominal figures, as with no device
    }
  }
  // FP32 lanes per SM: 128 on sm_86+ and Hopper, 64 on sm_80 / sm_70.
  const double lanes = (prop.major == 8 && prop.minor == 0) || prop.major < 8 ? 64 : 128;
  if (sms > 0 && clock_khz > 0) {
    m.fp32_flops = sms * lanes * 2.0 * clock_khz * 1e3;
    // Data-centre parts (x.0: P100, V100, A100, H100) run FP64 at half the
    // FP32 rate; the others at 1/64.
    const bool datacentre = prop.minor == 0 && prop.major >= 6;
    m.fp64_flops = m.fp32_flops / (datacentre ? 2.0 : 64.0);
  }
  if (mem_khz > 0 && bus_bits > 0) m.bandwidth = 2.0 * mem_khz * 1e3 * bus_bits / 8.0;
  return true;
}

// The model of the calling thread's current device, read once per device id:
// a process that uses two GPUs gets each one's figures and tuning keys. A
// model whose queries failed is not remembered, so a later call asks again.
DeviceModel device_model() {
  int dev = -1;
  if (!device_available() || cudaGetDevice(&dev) != cudaSuccess) {
    cudaGetLastError();
    return nominal_model("nominal (no device)");
  }
  static std::mutex m;
  static std::map<int, DeviceModel> models;
  std::lock_guard<std::mutex> lock(m);
  auto it = models.find(dev);
  if (it != models.end()) return it->second;
  DeviceModel model;
  if (query_device_model(dev, model)) models.emplace(dev, model);
  return model;
}

// ---------------------------------------------------------------- cost model

// Time (ms) to do `flops` at efficiency ec of peak and move `bytes` at
// efficiency eb of bandwidth, overlapped, plus launch overhead.
double roof_ms(double flops, double peak, double ec, double bytes, double bw, double eb, int launches) {
  return std::max(flops / (ec * peak), bytes / (eb * bw)) * 1e3 + 0.004 * launches;
}

double estimate_ms(Algorithm a, const std::string& variant, const ConvProblem& p, DType t,
                   const ContextState& ctx, bool for_plan, Direction dir) {
  const DeviceModel d = device_model();
  const double esz = double(dtype_size(t));
  const double peak = t == DType::F32 ? d.fp32_flops : d.fp64_flops;
  const double flops = p.flops(), bytes = p.min_bytes(t);
  const double x_bytes = double(p.N) * p.C * p.in_spatial() * esz;
  const double y_bytes = double(p.N) * p.K * p.out_spatial() * esz;
  const double taps = double(p.Cg()) * p.ker_spatial();
  switch (a) {
    case Algorithm::Direct: {
      // Backward passes (untimed so far): backward-data's gather as generic
      // unless it reuses a forward kernel; backward-filter's two-pass
      // reduction at half of generic's efficiency.
      if (dir == Direction::BackwardFilter) return roof_ms(flops, peak, 0.06, bytes, d.bandwidth, 0.3, 2);
      const bool generic = variant.find("generic") != std::string::npos || variant == "direct/gather";
      return generic ? roof_ms(flops, peak, 0.12, bytes, d.bandwidth, 0.4, 1)
                     : roof_ms(flops, peak, 0.5, bytes, d.bandwidth, 0.75, 1);
    }
    case Algorithm::Im2colGemm: {
      const bool plain_gemm = variant.find("1x1") != std::string::npos;
      const double cols = plain_gemm ? 0.0 : double(p.N) * p.G * taps * p.out_spatial() * esz;
      const double tf32 = (t == DType::F32 && ctx.allow_tf32) ? 6.0 : 1.0;
      // GEMM efficiency falls for skinny products (few output channels per group).
      const double shape_eff = std::min(1.0, double(p.Kg()) / 64.0) * std::min(1.0, taps / 32.0);
      const double gemm = roof_ms(flops, peak * tf32, std::max(0.05, 0.75 * shape_eff),
                                  (plain_gemm ? x_bytes : cols) + y_bytes, d.bandwidth, 0.8, int(p.G));
      const double im2col = plain_gemm ? 0.0 : roof_ms(0, 1, 1, x_bytes + cols, d.bandwidth, 0.7, 1);
      return gemm + im2col;
    }
    case Algorithm::SparseToeplitz: {
      const double idx = 4.0;
      const double nnz = double(p.K) * p.out_spatial() * taps;
      const double matrix = nnz * (esz + idx) + double(p.K) * p.out_spatial() * idx;
      // SpMM streams the matrix once per block of right-hand sides.
      const double passes = std::ceil(double(p.N) / 32.0);
      double ms = roof_ms(2.0 * nnz * p.N, peak, 0.3, matrix * passes + x_bytes + y_bytes, d.bandwidth, 0.6, 2);
      if (p.N > 1) {
        // And every nonzero multiplies a whole row of N dense values: nnz·N
        // elements gathered through the caches. Fitted to the H100's
        // column-major SpMM (docs/PERF.md, first full run: 0.8-2.6 TB/s on
        // those bytes over five cases, about 0.4 of DRAM bandwidth; the
        // stream term alone was 6-23x optimistic). The row-major formulation,
        // the default now, has not been timed: it adds two transposes and a
        // zeroed product (2 x + 3 y bytes) and may gather faster.
        ms = std::max(ms, roof_ms(0, 1, 1, nnz * p.N * esz, d.bandwidth, 0.4, 2));
        ms += roof_ms(0, 1, 1, 2.0 * x_bytes + 3.0 * y_bytes, d.bandwidth, 0.7, 3);
      }
      if (!for_plan) ms += roof_ms(0, 1, 1, 3.0 * matrix, d.bandwidth, 0.3, 6) + 0.05;
      return ms;
    }
    case Algorithm::Fft: {
      // Forward only. The block choice's own terms (fft_cost_terms): cuFFT
      // at half the bandwidth on the passes counted, the arithmetic at a
      // quarter of peak. Untimed so far (docs/PERF.md).
      if (dir != Direction::Forward) return 1e30;
      const FftChoice ch = fft_choose(p, t, ctx.workspace_limit, !for_plan);
      if (!ch.ok) return 1e30;
      const FftCostTerms c = fft_cost_terms(ch.geo, p.N, t, !for_plan);
      return roof_ms(c.flops, peak, 0.25, c.bytes, d.bandwidth, 0.5, c.launches) + (for_plan ? 0.0 : 0.02);
    }
    default: break;
  }
  return 1e30;
}

// The expected error of an algorithm's results, for explain(): every path
// but Fft rounds each output on its own terms (DESIGN §5); Fft's error is
// normwise over each transform block.
std::string expected_error(Algorithm a, const ConvProblem& p, DType t, const ContextState& ctx) {
  const char* eps = t == DType::F32 ? "2^-24" : "2^-53";
  if (a != Algorithm::Fft)
    return msg("per element, about ", t == DType::F32 ? "1e-6" : "1e-14", "·sqrt(terms)·Σ|x·w|");
  const FftChoice ch = fft_choose(p, t, ctx.workspace_limit, true);
  const double lg = ch.ok ? std::log2(double(std::max<std::int64_t>(ch.geo.points, 2))) : 0.0;
  std::ostringstream os;
  os << "normwise, about " << eps << "·" << std::setprecision(3) << lg
     << " (log2 of the transform points)·‖x̃ block‖₂·‖w‖₁ on every output of a block";
  return os.str();
}

// Whether an algorithm's results are exact up to per-element rounding (what
// Context::set_exact asks for): all but Fft.
bool is_exact(Algorithm a) { return a != Algorithm::Fft; }

// Whether each algorithm's results are bit-identical run to run, per
// direction. Backward: Direct's backward-data is a gather (one thread owns
// each dx element, fixed order), its backward-filter a fixed-order two-pass
// reduction (per-segment shared-memory trees, then the segments in order) and
// the bias gradient a one-pass fixed-order block tree per channel, no atomics
// anywhere (kernels/direct_backward.cuh); Im2colGemm's are cuBLAS GEMMs and a col2im
// gather; SparseToeplitz's backward-data is cuSPARSE's transposed product,
// which cuSPARSE documents as not bit-reproducible. Forward: Direct: one
// thread owns each output and sums in a fixed order. Im2colGemm: cuBLAS
// guarantees run-to-run bitwise reproducibility on one architecture and SM
// count (atomics mode stays off). SparseToeplitz: the forward SpMV runs
// cuSPARSE's CUSPARSE_SPMV_CSR_ALG2, which cuSPARSE documents as bit-identical
// run to run, and the forward SpMM CUSPARSE_SPMM_CSR_ALG3, measured
// bit-identical run to run on column-major operands (the default, CSR_ALG1 and
// CSR_ALG2 SpMM were measured to differ); the row-major SpMM formulation keeps
// CSR_ALG3 and fixed-order transposes.
// ChoiceGpu.EveryAlgorithmIsBitIdenticalRunToRun checks every row (one-shot
// conv() and a ConvPlan, each run twice). Only forward products are chosen by
// Auto; the transposed product is not bit-reproducible. Kept in one table so
// Auto's determinism filter has one place to look; since no row is false
// today, the CPU test of the filter overrides one
// (override_determinism_for_testing).
struct DeterminismRow {
  Algorithm algorithm;
  Direction direction;
  bool bit_identical;
};
constexpr DeterminismRow kDeterminism[] = {
    {Algorithm::Direct, Direction::Forward, true},
    {Algorithm::Direct, Direction::BackwardData, true},
    {Algorithm::Direct, Direction::BackwardFilter, true},
    {Algorithm::Im2colGemm, Direction::Forward, true},
    {Algorithm::Im2colGemm, Direction::BackwardData, true},
    {Algorithm::Im2colGemm, Direction::BackwardFilter, true},
    {Algorithm::SparseToeplitz, Direction::Forward, true},
    {Algorithm::SparseToeplitz, Direction::BackwardData, false},
    {Algorithm::SparseToeplitz, Direction::BackwardFilter, true},
    // cuFFT documents no run-to-run guarantee (cuFFTDx documents none across
    // configurations either); not claimed until measured on a device.
    {Algorithm::Fft, Direction::Forward, false},
};

std::mutex g_determinism_mutex;
std::map<Algorithm, bool> g_determinism_overrides;  // test hook

// ---------------------------------------------------------------- cache

using Entry = TuningEntry;

std::mutex g_mutex;
std::map<std::string, Entry> g_cache;

}  // namespace

bool is_deterministic(Algorithm a, Direction d) {
  {
    std::lock_guard<std::mutex> lock(g_determinism_mutex);
    auto it = g_determinism_overrides.find(a);
    if (it != g_determinism_overrides.end()) return it->second;
  }
  for (const DeterminismRow& r : kDeterminism)
    if (r.algorithm == a && r.direction == d) return r.bit_identical;
  return false;  // an algorithm not in the table is not known to be
}

void override_determinism_for_testing(Algorithm a, bool bit_identical) {
  std::lock_guard<std::mutex> lock(g_determinism_mutex);
  g_determinism_overrides[a] = bit_identical;
}

void clear_determinism_overrides_for_testing() {
  std::lock_guard<std::mutex> lock(g_determinism_mutex);
  g_determinism_overrides.clear();
}

std::string cache_key(const ConvProblem& p, DType t, const ContextState& ctx, Direction d) {
  std::ostringstream k;
  k << device_model().name << " | convkit " << CONVKIT_VERSION_STRING << " | " << p.str() << " | "
    << dtype_name(t) << " | " << direction_name(d) << " | tf32=" << ctx.allow_tf32
    << " | ws=" << ctx.workspace_limit;
  return k.str();
}

namespace {

bool parse_algorithm(const std::string& s, Algorithm& a) {
  for (Algorithm c : kCandidates)
    if (s == algorithm_name(c)) {
      a = c;
      return true;
    }
  return false;
}

// A time in milliseconds: the whole token must be a finite number >= 0.
// from_chars, not strtod / stod: those stop at the first character they
// cannot use (so "0.5abc" or a truncated "0.5e" would pass as a number) and
// read the decimal point of the C locale the application has set, while the
// writer below always writes the classic one.
bool parse_ms(const std::string& s, double& v, std::string& why) {
  if (s.empty()) {
    why = "is empty";
    return false;
  }
  const char* first = s.data();
  const char* last = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(first, last, v, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    why = "is out of range";
    return false;
  }
  if (ec != std::errc() || ptr == first) {
    why = "is not a number";
    return false;
  }
  if (ptr != last) {
    why = "has trailing characters after the number";
    return false;
  }
  if (!std::isfinite(v)) {
    why = "is not finite";
    return false;
  }
  if (v < 0) {
    why = "is negative";
    return false;
  }
  return true;
}

// File format, one tuned key per line:
//   <key> TAB <Algorithm>=<setup_ms>/<run_ms> TAB ...
// with a failed candidate written as <Algorithm>=failed. Only failures that
// are a property of the key are written (tuning_failure_persists); a line
// whose candidates all failed for the moment is not written at all.
void append_to_file(const std::string& path, const std::string& key, const Entry& e) {
  if (path.empty()) return;
  std::ostringstream line;
  line.imbue(std::locale::classic());  // the reader expects '.' whatever the application's locale
  line << key;
  std::size_t fields = 0;
  for (const auto& [a, m] : e) {
    if (!m.failure.empty() && !m.failure_persists) continue;
    line << '\t' << algorithm_name(a) << '=';
    if (m.failure.empty())
      line << std::setprecision(9) << m.setup_ms << '/' << m.run_ms;
    else
      line << "failed";
    ++fields;
  }
  if (fields == 0) return;
  std::ofstream f(path, std::ios::app);
  CONVKIT_EXPECTS(bool(f), Status::InvalidArgument, "tuning file '", path, "' cannot be opened for writing");
  f << line.str() << '\n';
}

}  // namespace

TuningLine parse_tuning_line(const std::string& raw) {
  TuningLine out;
  // A file edited on Windows ends its lines with CR LF: the CR is the line
  // ending, not part of the last field.
  const std::string line = !raw.empty() && raw.back() == '\r' ? raw.substr(0, raw.size() - 1) : raw;
  std::vector<std::string> fields;
  for (std::size_t pos = 0;;) {
    const std::size_t tab = line.find('\t', pos);
    fields.push_back(line.substr(pos, tab == std::string::npos ? std::string::npos : tab - pos));
    if (tab == std::string::npos) break;
    pos = tab + 1;
  }
  const auto fail = [&](std::string why) {
    out.key.clear();
    out.entry.clear();
    out.error = std::move(why);
    return out;
  };
  if (fields[0].find_first_not_of(' ') == std::string::npos) return fail("the key (before the first tab) is empty");
  out.key = fields[0];
  if (fields.size() < 2) return fail("no timings after the key (a truncated line?)");
  for (std::size_t i = 1; i < fields.size(); ++i) {
    const std::string& field = fields[i];
    const std::string where = msg("field ", i, " '", field, "'");
    if (field.empty()) return fail(msg("field ", i, " is empty (two tabs in a row, or a trailing tab)"));
    const auto eq = field.find('=');
    Algorithm a;
    if (eq == std::string::npos || !parse_algorithm(field.substr(0, eq), a))
      return fail(where + " does not start with <Algorithm>= naming Direct, Im2colGemm or SparseToeplitz");
    if (out.entry.count(a))
      return fail(msg(where, " repeats ", algorithm_name(a), " (which of its times would be meant?)"));
    Measured m;
    const std::string v = field.substr(eq + 1);
    if (v == "failed") {
      m.failure = "failed while tuning (from the tuning file)";
    } else {
      const auto slash = v.find('/');
      if (slash == std::string::npos)
        return fail(where + ": the timing is not <setup_ms>/<run_ms> or 'failed' (a truncated line?)");
      std::string why;
      if (!parse_ms(v.substr(0, slash), m.setup_ms, why)) return fail(msg(where, ": setup time ", why));
      if (!parse_ms(v.substr(slash + 1), m.run_ms, why)) return fail(msg(where, ": run time ", why));
    }
    out.entry[a] = m;
  }
  return out;
}

TuningFile read_tuning_file(const std::string& path) {
  TuningFile out;
  if (path.empty()) return out;
  std::ifstream f(path);
  if (!f) return out;  // a file that does not exist yet is an empty cache
  std::string line;
  long long lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    if (line.empty() || line == "\r") continue;
    TuningLine l = parse_tuning_line(line);
    if (!l.error.empty()) {
      out.skipped.push_back(msg("tuning file '", path, "' line ", lineno, ": ", l.error, "; line ignored"));
      continue;
    }
    out.entries.emplace_back(std::move(l.key), std::move(l.entry));
  }
  return out;
}

// A malformed line is skipped with a warning, never an error, and never
// half-read. The file is a cache: whatever it holds can be measured again,
// and a line cut short by a process killed while appending, or a stale or
// hand-edited one, must not make every later set_tuning_file() throw (the
// application would then have to delete the file to start at all). But a
// line that is not exactly what the writer writes is not trusted either: it
// contributes nothing, so its key is timed again (and the fresh line appended
// overrides it), and the skip is reported on stderr naming the file, the line
// and what is wrong through the warning channel (stderr unless the
// application installed a handler, convkit/warning.hpp): what PyTorch
// (TORCH_WARN) and MIOpen (whose performance database skips and logs a
// malformed record) do in the same place; the call that reads the file
// returns nothing that could carry it.
void load_tuning_file(const std::string& path) {
  TuningFile file = read_tuning_file(path);
  for (const std::string& m : file.skipped) ::convkit::detail::warn(m);
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto& [k, e] : file.entries) g_cache[k] = std::move(e);
}

bool tuning_failure_persists(Status s) {
  // Only NotSupported is a property of the key (device, version, problem,
  // dtype, flags, workspace limit): the algorithm or cuSPARSE declines the
  // problem and will do so next time. Everything else may pass: OutOfMemory
  // and a Toeplitz matrix over the device's free memory (also OutOfMemory,
  // see sparse_toeplitz.cpp) depend on what else holds memory then;
  // WorkspaceTooSmall on buffer sizes the key does not name (cuSPARSE's
  // version); CUDA / library errors and NoDevice on the device's state. Such
  // a failure excludes the candidate for this process (timing it again on
  // every call would cost a synchronisation each time) but is not written,
  // so the next process times it again.
  return s == Status::NotSupported;
}

bool cached_tuning_entry(const std::string& key, TuningEntry& out) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_cache.find(key);
  if (it == g_cache.end()) return false;
  out = it->second;
  return true;
}

namespace {

// Times one candidate on temporary tensors: plan setup (host clock around a
// synchronised construction + set_weights) and the median of a few runs
// (CUDA events on the context's stream).
Measured measure(const std::shared_ptr<ContextState>& st, const ConvProblem& p, DType t, const AlgorithmOps& ops,
                 const Operands& data, Direction dir) {
  Measured m;
  cudaStream_t s = st->stream();
  try {
    CONVKIT_CUDA_TRY(cudaStreamSynchronize(s));
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<PlanImpl> plan = make_plan_impl(st, p, t, ops);
    plan->set_weights(data.w, data.b);
    CONVKIT_CUDA_TRY(cudaStreamSynchronize(s));
    m.setup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    // Forward: y = conv(x, w). Backward-data: x = Tᵀ·y. Backward-filter:
    // w = ∂L/∂w from x and y (the plan's weights are then not read).
    auto run = [&] {
      switch (dir) {
        case Direction::Forward: plan->run(data.x, data.y); break;
        case Direction::BackwardData: plan->run_backward_data(data.y, const_cast<void*>(data.x), false); break;
        case Direction::BackwardFilter:
          plan->run_backward_filter(data.x, data.y, const_cast<void*>(data.w), false);
          break;
      }
    };
    run();  // warm-up
    // Events destroyed on every path, a throwing run included.
    struct Events {
      cudaEvent_t e[2] = {nullptr, nullptr};
      ~Events() {
        for (cudaEvent_t x : e)
          if (x) cudaEventDestroy(x);
      }
    } ev;
    CONVKIT_CUDA_TRY(cudaEventCreate(&ev.e[0]));
    CONVKIT_CUDA_TRY(cudaEventCreate(&ev.e[1]));
    cudaEvent_t a = ev.e[0], b = ev.e[1];
    std::vector<float> times;
    for (int r = 0; r < 5; ++r) {
      CONVKIT_CUDA_TRY(cudaEventRecord(a, s));
      run();
      CONVKIT_CUDA_TRY(cudaEventRecord(b, s));
      CONVKIT_CUDA_TRY(cudaEventSynchronize(b));
      float ms = 0;
      CONVKIT_CUDA_TRY(cudaEventElapsedTime(&ms, a, b));
      times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    m.run_ms = times[times.size() / 2];
  } catch (const Error& e) {
    m.failure = e.what();
    m.failure_persists = tuning_failure_persists(e.status());
  }
  return m;
}

// Temporary operands for the tuner, filled with small integers (never zeros:
// some paths run faster on zeros than on real data).
struct TempOperands {
  // Owns the buffers as they are made, so a failure part way through the
  // constructor frees the ones already allocated.
  struct Buffers {
    std::shared_ptr<ContextState> st;
    std::vector<void*> ptrs;
    ~Buffers() {
      for (void* d : ptrs) device_free(st, d);
    }
  } owned;
  Operands ops;
  TempOperands(const std::shared_ptr<ContextState>& s, const ConvProblem& p, DType t) : owned{s, {}} {
    const std::shared_ptr<ContextState>& st = owned.st;
    std::vector<void*>& ptrs = owned.ptrs;
    const std::size_t esz = dtype_size(t);
    auto make = [&](std::int64_t n, const char* what) {
      const std::size_t bytes = bytes_checked(n, esz, what);
      void* d = device_alloc(st, bytes);
      if (d) ptrs.push_back(d);
      std::vector<unsigned char> h;
      host_resize(h, bytes, what);
      for (std::int64_t i = 0; i < n; ++i) {
        const double v = double(int((i * 7919) % 9) - 4);
        if (t == DType::F32) {
          const float f = float(v);
          std::memcpy(&h[std::size_t(i) * esz], &f, esz);
        } else {
          std::memcpy(&h[std::size_t(i) * esz], &v, esz);
        }
      }
      CONVKIT_CUDA_TRY(cudaMemcpyAsync(d, h.data(), h.size(), cudaMemcpyHostToDevice, st->stream()));
      CONVKIT_CUDA_TRY(cudaStreamSynchronize(st->stream()));
      return d;
    };
    ops.x = make(p.x_shape().numel("tuning: temporary x"), "tuning: temporary x");
    ops.w = make(p.w_shape().numel("tuning: temporary w"), "tuning: temporary w");
    ops.b = p.has_bias ? make(p.K, "tuning: temporary bias") : nullptr;
    // Filled too: the backward passes read it as dy.
    ops.y = make(p.y_shape().numel("tuning: temporary y"), "tuning: temporary y");
  }
};

}  // namespace

AlgorithmChoice choose(const std::shared_ptr<ContextState>& st, const ConvProblem& p, DType t, bool for_plan,
                       Direction dir) {
  ContextState& ctx = *st;
  AlgorithmChoice c;
  c.for_plan = for_plan;
  c.direction = dir;
  std::vector<const AlgorithmOps*> ops_of;
  for (Algorithm a : kCandidates) {
    CandidateReport r;
    r.algorithm = a;
    const AlgorithmOps& ops = ops_for(a);
    Support s = supports_direction(ops, p, t, dir);
    if (!s) {
      r.excluded_because = "unsupported: " + s.reason;
    } else if (min_workspace_direction(ops, p, t, dir) > ctx.workspace_limit) {
      r.excluded_because = msg("workspace: needs ", min_workspace_direction(ops, p, t, dir), " bytes, limit ",
                               ctx.workspace_limit);
    } else if (a == Algorithm::SparseToeplitz && workspace_direction(ops, p, t, dir) > ctx.workspace_limit) {
      // The matrix cannot be chunked: a plan would refuse it (NotSupported),
      // so Auto must not pick it.
      r.excluded_because = msg("memory: the Toeplitz matrix and its build scratch need ",
                               workspace_direction(ops, p, t, dir), " bytes, over the context's workspace limit ",
                               ctx.workspace_limit);
    } else if (ctx.deterministic && !is_deterministic(a, dir)) {
      r.excluded_because = "not bit-identical run to run, and the context asks for determinism";
    } else if (ctx.exact && !is_exact(a)) {
      r.excluded_because = "its error is normwise (" + expected_error(a, p, t, ctx) +
                           "), and the context asks for exact results (Context::set_exact)";
    } else {
      r.considered = true;
      r.variant = s.variant;
      r.estimated_ms = estimate_ms(a, s.variant, p, t, ctx, for_plan, dir);
      r.expected_error = expected_error(a, p, t, ctx);
    }
    c.candidates.push_back(r);
    ops_of.push_back(&ops);
  }
  std::string why;
  for (const auto& r : c.candidates)
    if (!r.considered) why += msg(why.empty() ? "" : "; ", algorithm_name(r.algorithm), ": ", r.excluded_because);
  const bool any = std::any_of(c.candidates.begin(), c.candidates.end(), [](auto& r) { return r.considered; });
  CONVKIT_EXPECTS(any, Status::NotSupported, "Algorithm::Auto: no algorithm can run the ", direction_name(dir),
                  " pass of ", p, " (", why, ")");

  if (ctx.tuning && p.N > 0) {
    const std::string key = cache_key(p, t, ctx, dir);
    Entry e;
    bool cached = false;
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      auto it = g_cache.find(key);
      if (it != g_cache.end()) {
        e = it->second;
        cached = true;
      }
    }
    // Measure what the cache lacks: a new key, or candidates an entry does
    // not list (say, an algorithm that became supported since).
    std::vector<std::size_t> missing;
    for (std::size_t i = 0; i < c.candidates.size(); ++i)
      if (c.candidates[i].considered && !e.count(c.candidates[i].algorithm)) missing.push_back(i);
    std::unique_ptr<TempOperands> tmp;
    if (!missing.empty()) {
      try {
        tmp = std::make_unique<TempOperands>(st, p, t);
      } catch (const Error& err) {
        // No room for a second set of operands: the tuner cannot time this
        // problem, so the cost model decides (and nothing is cached).
        if (err.status() != Status::OutOfMemory) throw;
        c.tuning_note = "tuning skipped: no memory for temporary operands";
        missing.clear();
        e.clear();
        cached = false;
      }
    }
    if (!missing.empty()) {
      for (std::size_t i : missing) {
        // What a candidate leaves in the context's workspace (Im2colGemm's
        // whole column matrix) would otherwise be missing from the device's
        // free memory while the next is timed, and the Toeplitz build budgets
        // against that: give it back once it is more than the context held.
        const std::size_t held = ctx.workspace_size;
        e[c.candidates[i].algorithm] = measure(st, p, t, *ops_of[i], tmp->ops, dir);
        if (ctx.workspace_size > held) ctx.release_workspace();
      }
      {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_cache[key] = e;
      }
      append_to_file(ctx.tuning_file, key, e);
      cached = false;
    }
    c.tuned = c.tuning_note.empty();
    c.from_cache = cached && c.tuned;
    for (auto& r : c.candidates) {
      auto it = e.find(r.algorithm);
      if (!r.considered || it == e.end()) continue;
      if (!it->second.failure.empty()) {
        r.considered = false;
        r.excluded_because = (it->second.failure_persists ? "failed while tuning: "
                                                          : "failed while tuning (for this process only): ") +
                             it->second.failure;
        continue;
      }
      r.measured_ms = it->second.run_ms + (for_plan ? 0.0 : it->second.setup_ms);
    }
  }
  // Lowest measured time when tuned, else lowest estimate.
  const CandidateReport* best = nullptr;
  for (const auto& r : c.candidates) {
    if (!r.considered) continue;
    const double v = c.tuned && r.measured_ms >= 0 ? r.measured_ms : r.estimated_ms;
    const double bv = !best ? 0 : (c.tuned && best->measured_ms >= 0 ? best->measured_ms : best->estimated_ms);
    if (!best || v < bv) best = &r;
  }
  CONVKIT_EXPECTS(best != nullptr, Status::NotSupported, "Algorithm::Auto: every candidate failed for ", p);
  c.chosen = best->algorithm;
  return c;
}

void clear_cache() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_cache.clear();
}

}  // namespace detail

std::string AlgorithmChoice::explain() const {
  std::ostringstream os;
  os << "Algorithm::Auto chose " << algorithm_name(chosen) << " for the " << direction_name(direction) << " pass ("
     << (tuned ? (from_cache ? "tuned, from the cache" : "tuned now") : "cost model") << ", costs per "
     << (for_plan ? "plan run" : "one-shot call") << ")\n";
  if (!tuning_note.empty()) os << "  " << tuning_note << "\n";
  for (const auto& r : candidates) {
    os << "  " << std::left << std::setw(15) << algorithm_name(r.algorithm);
    if (!r.considered) {
      os << "excluded: " << r.excluded_because << "\n";
      continue;
    }
    os << std::fixed << std::setprecision(4) << "estimated " << r.estimated_ms << " ms";
    if (r.measured_ms >= 0) os << ", measured " << r.measured_ms << " ms";
    if (!r.variant.empty()) os << " [" << r.variant << "]";
    os << (r.algorithm == chosen ? "  <- chosen" : "") << "\n";
    if (!r.expected_error.empty()) os << "  " << std::setw(15) << "" << "error: " << r.expected_error << "\n";
  }
  return os.str();
}

namespace {
// The problem a direction is chosen for: the backward passes do not involve
// the bias.
ConvProblem problem_for(const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype, Direction dir) {
  detail::check_enum(dir);
  ConvProblem p = detail::validate_problem(spec, x, w, dtype);
  if (dir != Direction::Forward) p.has_bias = false;
  return p;
}
}  // namespace

AlgorithmChoice choose_algorithm(Context& ctx, const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype,
                                 bool for_plan, Direction dir) {
  return detail::choose(ctx.state(), problem_for(spec, x, w, dtype, dir), dtype, for_plan, dir);
}

std::string tuning_key(const Context& ctx, const ConvSpec& spec, const Shape& x, const Shape& w, DType dtype,
                       Direction dir) {
  return detail::cache_key(problem_for(spec, x, w, dtype, dir), dtype, *ctx.state(), dir);
}

void clear_tuning_cache() { detail::clear_cache(); }

}  // namespace convkit
