// convkit-bench: the benchmark program. For every selected case (and, with
// --direction, each backward pass too: see run_backward_rows) it makes
// seeded small-integer inputs, computes reference values of a few hundred
// sampled outputs on the CPU (convkit::reference::conv_sampled), uploads the
// inputs once, then for each algorithm -- cuDNN first (its best algorithm,
// then FFT and FFT_TILING forced), then convkit's Direct, Im2colGemm,
// SparseToeplitz, the Fft path's transforms-only floor, Fft, Auto (cost model)
// and Auto tuned, through ConvPlan -- warms up, checks, times the median of
// many L2-flushed runs with CUDA events on the context's stream, checks again,
// and prints a table row with its '^' detail lines (Im2colGemm's halves timed
// apart through the library's benchmark hooks, the Toeplitz matrix traffic,
// Fft against its floor, Direct and cuDNN, Auto against the best algorithm).
// FFT-based rows are checked within the normwise FFT bound (bench_math.hpp),
// every other row within the per-element tolerance. A (case, algorithm) that
// is not supported is a "skipped (reason)" row, so the program runs whatever
// subset of algorithms the library provides. The run ends with a markdown
// table of the performance targets (targets.hpp). See --help for the options.
#include <convkit/convkit.hpp>

#include "bench_math.hpp"
#include "cases.hpp"
#include "cudnn_baseline.hpp"
#include "device.hpp"
#include "fft_floor.hpp"
#include "im2col_gemm.hpp"
#include "options.hpp"
#include "report.hpp"
#include "targets.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <new>
#include <string>
#include <vector>

namespace convkit::bench {
namespace {

Algorithm to_algorithm(Which w) {
  switch (w) {
    case Which::Direct: return Algorithm::Direct;
    case Which::Im2col: return Algorithm::Im2colGemm;
    case Which::Toeplitz: return Algorithm::SparseToeplitz;
    case Which::Fft: return Algorithm::Fft;
    default: return Algorithm::Auto;  // Auto and AutoTuned: the context decides how
  }
}

// The bench's short names for the library's algorithms.
std::string label(Algorithm a) {
  switch (a) {
    case Algorithm::Direct: return "direct";
    case Algorithm::Im2colGemm: return "im2col";
    case Algorithm::SparseToeplitz: return "toeplitz";
    case Algorithm::Fft: return "fft";
    case Algorithm::Auto: return "auto";
    default: return algorithm_name(a);
  }
}

// FNV-1a: a per-case seed that is the same on every platform (std::hash is not).
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// What every row of a run shares. The three contexts share one stream, so
// the events, the L2 flush and the checks all see the rows' work in order;
// they differ in what a plan may hold and how Auto chooses:
//   ctx          -- --workspace-gb; direct, im2col and Auto (cost model) rows;
//   toeplitz_ctx -- --toeplitz-max-gb, because the library counts a plan's
//                   Toeplitz matrix against its context's workspace limit, and
//                   the SpMV / SpMM cases need more than the other algorithms'
//                   workspace;
//   tuned_ctx    -- --workspace-gb with tuning on: the auto-tuned rows.
struct Env {
  const Options& opt;
  const DeviceInfo& dev;
  Context& ctx;
  Context& toeplitz_ctx;
  Context& tuned_ctx;
  cudaStream_t stream;
  L2Flusher& flusher;
  bool cudnn_ok;
  double peak;  // FMA peak for the dtype, FLOP/s
};

// One case's inputs on the device and its reference values.
template <class T>
struct CaseData {
  const Case& c;
  ConvProblem p;
  DeviceTensor<T> x, w, y;
  std::vector<std::int64_t> idx;  // sampled flat output indices
  std::vector<double> ref, mag;   // reference values and Σ|x·w| at idx
  double tol = 0;
  // The normwise FFT bound at idx: fft_magnitudes of the output's (n, k),
  // and fft_tolerance_factor.
  std::vector<double> fft_mag;
  double fft_tol = 0;
};

// What measure() checks an output against: the sampled indices, reference
// values, magnitudes and tolerance factor.
struct Checks {
  const std::vector<std::int64_t>& idx;
  const std::vector<double>& ref;
  const std::vector<double>& mag;
  double tol;
};

// The case's samples with the normwise FFT bound in place of the per-element one.
template <class T>
Checks fft_checks(const CaseData<T>& d) {
  return Checks{d.idx, d.ref, d.fft_mag, d.fft_tol};
}

template <class T>
void fill_small_ints(HostTensor<T>& t, std::uint64_t seed) {
  // Integers in [-4, 4] keep every partial sum exact in float for these
  // reduction lengths, so an exact path matches the reference bit for bit.
  SplitMix64 rng(seed);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(static_cast<int>(rng.next() % 9) - 4);
}

template <class T>
HostTensor<T> abs_copy(const HostTensor<T>& t) {
  HostTensor<T> a(t.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) a[i] = t[i] < 0 ? -t[i] : t[i];
  return a;
}

Row base_row(const Case& c, const ConvProblem& p, Which which, DType t) {
  Row r;
  r.suite = c.suite;
  r.case_name = c.name;
  r.spec = c.spec.str();
  r.x_shape = c.x.str();
  r.w_shape = c.w.str();
  r.y_shape = p.y_shape().str();
  r.algorithm = which_name(which);
  r.flops = p.flops();
  r.min_bytes = p.min_bytes(t);
  r.x_bytes = double(c.x.numel()) * double(dtype_size(t));
  r.y_bytes = double(p.y_shape().numel()) * double(dtype_size(t));
  r.direct_target = c.direct_target == DirectTarget::MemoryBound    ? "memory"
                    : c.direct_target == DirectTarget::ComputeBound ? "compute"
                                                                    : "";
  r.fft_large_kernel = c.fft_large_kernel;
  r.fft_over_direct = c.fft_over_direct;
  r.status = "ok";
  return r;
}

Row& skip(Row& r, const std::string& why) {
  r.status = "skipped";
  r.reason = why;
  return r;
}

// The row's timing figures from its timed runs `ms` (milliseconds): median
// and minimum, and at the median the GFLOP/s, GB/s (the row's flops and
// min_bytes) and percent of the roofline.
void set_timing(Row& r, const std::vector<double>& ms, const Env& env) {
  r.ms_median = median(ms);
  r.ms_min = minimum(ms);
  const double s = r.ms_median * 1e-3;
  r.gflops = r.flops / s / 1e9;
  r.gbs = r.min_bytes / s / 1e9;
  r.roofline_pct = 100.0 * roofline_fraction(s, r.flops, r.min_bytes, env.peak, env.dev.copy_bandwidth);
}

// Runs `run_fn` (which writes `out`): poison, warm up, check; poison, time
// `reps` flushed runs, check again. Fills the row's timings, rates, roofline
// fraction and check result.
// `d` holds the sampled indices and reference values the output is checked
// at (idx, ref, mag, tol): CaseData for the forward, GradData for the
// backward directions.
template <class T, class D>
void measure(const Env& env, const D& d, Row& r, const std::function<void()>& run_fn, T* out,
             std::size_t out_bytes, const std::vector<std::int64_t>& out_idx) {
  const Options& opt = env.opt;
  poison(env.stream, out, out_bytes);
  const std::vector<double> warm = time_runs(env.stream, std::max(opt.warmup, 1), {}, run_fn);
  const std::vector<double> got_first = gather(env.stream, out, out_idx);
  const SampleCheck first = check_samples(got_first, d.ref, d.mag, d.tol);

  // A full run keeps every requested run (the medians are over at least
  // --reps runs); only --quick trades runs for time, down to 10.
  r.reps = reps_within_budget(opt.reps, median(warm) * 1e-3, opt.row_budget_s, opt.quick ? 10 : opt.reps);
  poison(env.stream, out, out_bytes);
  const std::vector<double> ms = time_runs(env.stream, r.reps, [&] { env.flusher.flush(); }, run_fn);
  const std::vector<double> got_last = gather(env.stream, out, out_idx);
  const SampleCheck last = check_samples(got_last, d.ref, d.mag, d.tol);

  set_timing(r, ms, env);
  r.samples = last.checked;
  r.mismatches = std::max(first.mismatches, last.mismatches);
  r.max_abs_err = std::max(first.max_abs_err, last.max_abs_err);
  r.exact = first.exact && last.exact;
  if (r.mismatches > 0) {
    const bool in_first = first.mismatches > 0;
    const SampleCheck& bad = in_first ? first : last;
    const std::size_t j = static_cast<std::size_t>(std::max<std::int64_t>(bad.first_bad, 0));
    const double got = (in_first ? got_first : got_last)[j];
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%lld of %lld sampled outputs wrong after the %s; first at flat index %lld: got %.9g, "
                  "reference %.9g, allowed error %.3g",
                  static_cast<long long>(bad.mismatches), static_cast<long long>(bad.checked),
                  in_first ? "warm-up" : "timed runs", static_cast<long long>(d.idx[j]), got, d.ref[j],
                  d.tol * d.mag[j]);
    r.status = "FAIL";
    r.reason = buf;
  }
}

// The Toeplitz row's figures: the matrix's own bytes (as toeplitz::info
// sizes what the plan built) per product time, against the copy bandwidth,
// with the ceiling that figure has and the bandwidth on all the product's
// minimum bytes; set_weights against one product; and how many times the
// direct path's minimum bytes a product moves.
template <class T>
void toeplitz_figures(const Env& env, const CaseData<T>& d, Row& r) {
  const toeplitz::Info in = toeplitz::info(d.c.spec, d.c.x, d.c.w, dtype_v<T>);
  r.matrix_nnz = in.nnz;
  r.matrix_bytes = double(in.matrix_bytes);
  r.map_bytes = double(in.map_bytes);
  const double bytes_per_s = ratio(r.matrix_bytes, r.ms_median * 1e-3);
  r.matrix_gbs = bytes_per_s / 1e9;
  r.matrix_copy_pct = 100.0 * ratio(bytes_per_s, env.dev.copy_bandwidth);
  r.matrix_ceiling_pct = toeplitz_matrix_copy_ceiling_pct(r.matrix_bytes, r.x_bytes, r.y_bytes);
  r.all_copy_pct =
      100.0 * ratio(ratio(r.matrix_bytes + r.x_bytes + r.y_bytes, r.ms_median * 1e-3), env.dev.copy_bandwidth);
  r.set_weights_ratio = ratio(r.set_weights_ms, r.ms_median);
  r.byte_penalty = toeplitz_byte_penalty(r.matrix_bytes, r.x_bytes, r.y_bytes, r.min_bytes);
}

// Im2colGemm's two halves timed apart with the library's benchmark hooks, on
// the whole batch -- what run() does when the column matrix fits the
// workspace; when it does not, run() chunks and a whole-batch split would
// time something else, so the split is skipped with a note. Timed like every
// row (warm-up, then the row's number of L2-flushed runs, median); the
// GEMM's output is checked against the reference like any timed output. A
// failure here leaves the row's own measurement standing.
template <class T>
void im2col_split(const Env& env, CaseData<T>& d, Row& r) {
  constexpr DType t = dtype_v<T>;
  const ConvProblem& p = d.p;
  if (p.has_bias) {
    r.split_note = "the hooks take bias-free problems";
    return;
  }
  r.plain_gemm = detail::im2col_is_plain_gemm(p);
  const auto timed = [&](const std::function<void()>& fn) {
    time_runs(env.stream, std::max(env.opt.warmup, 1), {}, fn);
    return median(time_runs(env.stream, r.reps, [&] { env.flusher.flush(); }, fn));
  };
  const auto gemm_checked = [&](const void* columns) {
    poison(env.stream, d.y.data(), d.y.bytes());
    r.gemm_ms = timed([&] { detail::gemm_only(env.ctx, p, t, columns, d.w.data(), d.y.data(), 0, p.N); });
    const SampleCheck ck = check_samples(gather(env.stream, d.y.data(), d.idx), d.ref, d.mag, d.tol);
    if (ck.mismatches == 0) return true;
    r.status = "FAIL";
    r.reason = "GEMM alone (benchmark hook): " + std::to_string(ck.mismatches) + " of " +
               std::to_string(ck.checked) + " sampled outputs wrong";
    return false;
  };
  try {
    if (r.plain_gemm) {
      // run() multiplies x in place here, and x is exactly its own column
      // matrix: the GEMM hook on x is that product with nothing around it.
      if (!gemm_checked(d.x.data())) return;
      r.gemm_ratio = ratio(r.ms_median, r.gemm_ms);
      r.split_timed = true;
      return;
    }
    const std::size_t per_image = detail::im2col_column_bytes_per_image(p, t);
    r.column_bytes = double(per_image) * double(p.N);
    if (r.column_bytes > double(env.ctx.workspace_limit())) {
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "the column matrix (%.2f GB) exceeds the %.2f GB workspace, so run() chunks the batch",
                    r.column_bytes / 1e9, double(env.ctx.workspace_limit()) / 1e9);
      r.split_note = buf;
      return;
    }
    DeviceTensor<T> columns(env.ctx, Shape{static_cast<std::int64_t>(per_image / sizeof(T)) * p.N});
    r.im2col_ms = timed([&] { detail::im2col_only(env.ctx, p, t, d.x.data(), columns.data(), 0, p.N); });
    if (!gemm_checked(columns.data())) return;
    r.bound_ms = 1e3 * im2col_bound_seconds(r.gemm_ms * 1e-3, r.column_bytes, r.x_bytes, env.dev.copy_bandwidth);
    r.split_timed = true;
  } catch (const std::exception& e) {
    cudaGetLastError();
    r.split_note = std::string("the split failed: ") + e.what();
  }
}

template <class T>
Row run_convkit(const Env& env, CaseData<T>& d, Which which) {
  constexpr DType t = dtype_v<T>;
  const Case& c = d.c;
  Row r = base_row(c, d.p, which, t);
  const Algorithm a = to_algorithm(which);
  const Support s = supports(c.spec, c.x, c.w, t, a);
  if (!s) return skip(r, s.reason);
  Context& ctx = which == Which::Toeplitz ? env.toeplitz_ctx : which == Which::AutoTuned ? env.tuned_ctx : env.ctx;

  if (which == Which::Toeplitz) {
    // The plan would refuse this too (NotSupported, over its context's
    // limit); checking first costs no device time and names the sizes.
    const toeplitz::Info in = toeplitz::info(c.spec, c.x, c.w, t);
    if (in.total_bytes() > ctx.workspace_limit()) {
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "Toeplitz matrix %.1f GB (CSR %.1f GB + source-tap map %.1f GB) exceeds --toeplitz-max-gb %.1f",
                    double(in.total_bytes()) / 1e9, double(in.matrix_bytes) / 1e9, double(in.map_bytes) / 1e9,
                    env.opt.toeplitz_max_gb);
      return skip(r, buf);
    }
  }

  // For auto-tuned this includes the tuning, which happens here, not in run().
  const auto t0 = std::chrono::steady_clock::now();
  ConvPlan plan(ctx, c.spec, c.x, c.w, t, a);
  plan.set_weights(d.w.view());
  ctx.synchronize();
  r.plan_ms = ms_since(t0);
  const Algorithm chosen = plan.algorithm();
  r.chosen = label(chosen);
  r.variant = plan.variant();
  r.workspace_bytes = double(plan.workspace_bytes());

  // What a caller pays when only the weights change (for Toeplitz: the
  // matrix values are refilled; for the others a pointer is rebound). Flushed
  // like the product it is compared with.
  r.set_weights_ms = median(time_runs(env.stream, std::min(env.opt.reps, 10), [&] { env.flusher.flush(); },
                                      [&] { plan.set_weights(d.w.view()); }));

  // Fft's error is normwise: its rows (and an Auto row that chose it) are
  // checked within that bound; every other algorithm per element.
  const auto run_fn = [&] { plan.run(d.x.view(), d.y.view()); };
  r.normwise_check = chosen == Algorithm::Fft;
  if (r.normwise_check)
    measure(env, fft_checks(d), r, run_fn, d.y.data(), d.y.bytes(), d.idx);
  else
    measure(env, d, r, run_fn, d.y.data(), d.y.bytes(), d.idx);
  r.variant = plan.variant();  // after running: the Toeplitz SpMM's layout is chosen at its first run
  if (chosen == Algorithm::SparseToeplitz) toeplitz_figures(env, d, r);
  if (which == Which::Im2col && r.status == "ok") im2col_split(env, d, r);
  return r;
}

// A cuDNN row: its best algorithm (Which::Cudnn), or FFT / FFT_TILING forced.
template <class T>
Row run_cudnn(const Env& env, CaseData<T>& d, Which which) {
  constexpr DType t = dtype_v<T>;
  Row r = base_row(d.c, d.p, which, t);
  r.chosen = "cudnn";
  const CudnnForward how = which == Which::CudnnFft         ? CudnnForward::Fft
                           : which == Which::CudnnFftTiling ? CudnnForward::FftTiling
                                                            : CudnnForward::Best;
  const auto t0 = std::chrono::steady_clock::now();
  CudnnConv conv(env.stream, d.p, t, d.x.data(), d.w.data(), static_cast<std::size_t>(env.opt.workspace_gb * 1e9),
                 how);
  r.plan_ms = ms_since(t0);
  r.variant = conv.algorithm();
  r.workspace_bytes = double(conv.workspace_bytes());
  std::vector<std::int64_t> where;
  for (std::int64_t i : d.idx) where.push_back(symmetric_index(d.p, conv.view(), i));
  // cuDNN's FFT algorithms (forced, or Find's pick) round like convkit's Fft:
  // the same normwise bound (their transforms are no longer than the bound's
  // power of two of each padded axis).
  r.normwise_check = r.variant == "FFT" || r.variant == "FFT_TILING";
  const auto run_fn = [&] { conv.run(); };
  if (r.normwise_check)
    measure(env, fft_checks(d), r, run_fn, static_cast<T*>(conv.y()), conv.y_bytes(), where);
  else
    measure(env, d, r, run_fn, static_cast<T*>(conv.y()), conv.y_bytes(), where);
  return r;
}

// The Fft path's floor: only the R2C and C2R transforms a ConvPlan's call runs
// (fft_floor.hpp), under the same workspace limit. It computes no
// convolution, so nothing is checked; its GFLOP/s and GB/s are the
// convolution's FLOPs and minimum bytes over its time, comparable with the
// other rows'.
template <class T>
Row run_fft_floor(const Env& env, CaseData<T>& d) {
  constexpr DType t = dtype_v<T>;
  Row r = base_row(d.c, d.p, Which::FftTransforms, t);
  r.chosen = "fft-transforms";
  r.timing_only = true;
  const auto t0 = std::chrono::steady_clock::now();
  FftTransformsOnly floor(env.stream, d.p, t, env.ctx.workspace_limit());
  r.plan_ms = ms_since(t0);
  r.variant = floor.description();
  r.workspace_bytes = double(floor.buffer_bytes());
  const Options& opt = env.opt;
  const auto run_fn = [&] { floor.run(); };
  const std::vector<double> warm = time_runs(env.stream, std::max(opt.warmup, 1), {}, run_fn);
  r.reps = reps_within_budget(opt.reps, median(warm) * 1e-3, opt.row_budget_s, opt.quick ? 10 : opt.reps);
  const std::vector<double> ms = time_runs(env.stream, r.reps, [&] { env.flusher.flush(); }, run_fn);
  set_timing(r, ms, env);
  return r;
}

// ------------------------------------------------------------ backward rows

// The multiply-adds up to which a backward case's reference gradient is
// computed whole on the host (in double, single-threaded: seconds).
constexpr double kMaxReferenceMacs = 4294967296.0;  // 2^32

// One backward direction of a case: dy on the device, the gradient's output
// buffer, and the reference gradient at sampled elements.
template <class T>
struct GradData {
  Direction dir = Direction::BackwardData;
  DeviceTensor<T> dy, out;
  std::vector<std::int64_t> idx;
  std::vector<double> ref, mag;
  double tol = 0;
};

// dy and the reference gradient (whole, then sampled) for direction `dir`;
// x and w are regenerated from the case's seeds exactly as run_case made them.
template <class T>
void make_grad_data(const Env& env, const CaseData<T>& d, std::uint64_t seed, GradData<T>& g) {
  const Case& c = d.c;
  const ConvProblem& p = d.p;
  const bool data = g.dir == Direction::BackwardData;
  HostTensor<T> hx(c.x), hw(c.w), hdy(p.y_shape());
  fill_small_ints(hx, seed);
  fill_small_ints(hw, seed + 1);
  fill_small_ints(hdy, seed + 3);
  const Shape out_shape = data ? c.x : c.w;
  HostTensor<T> want(out_shape), mag(out_shape);
  const ConvSpec spec = ConvSpec(c.spec).bias(false);
  if (data) {
    reference::conv_backward_data(spec, hdy.view(), hw.view(), want.view());
    reference::conv_backward_data(spec, abs_copy(hdy).view(), abs_copy(hw).view(), mag.view());
  } else {
    reference::conv_backward_filter(spec, hx.view(), hdy.view(), want.view());
    reference::conv_backward_filter(spec, abs_copy(hx).view(), abs_copy(hdy).view(), mag.view());
  }
  g.idx = sample_output_indices(out_shape, env.opt.samples, seed + 4);
  for (std::int64_t i : g.idx) {
    g.ref.push_back(double(want[i]));
    g.mag.push_back(double(mag[i]));
  }
  g.dy = DeviceTensor<T>::from_host(env.ctx, hdy);
  g.out = DeviceTensor<T>(env.ctx, out_shape);
  // Terms per gradient element: dx sums K/G·Πk products at most, dw N·ΠO.
  g.tol = tolerance_factor(dtype_v<T>, data ? p.Kg() * p.ker_spatial() : p.N * p.out_spatial());
  env.ctx.synchronize();
}

template <class T>
Row run_convkit_backward(const Env& env, CaseData<T>& d, GradData<T>& g, Which which) {
  constexpr DType t = dtype_v<T>;
  const Case& c = d.c;
  const ConvSpec spec = ConvSpec(c.spec).bias(false);
  const bool data = g.dir == Direction::BackwardData;
  Row r = base_row(c, d.p, which, t);
  r.direction = direction_label(g.dir);
  const Algorithm a = to_algorithm(which);
  const Support s = supports(spec, c.x, c.w, t, a, g.dir);
  if (!s) return skip(r, s.reason);
  Context& ctx = which == Which::Toeplitz ? env.toeplitz_ctx : which == Which::AutoTuned ? env.tuned_ctx : env.ctx;
  const auto run = [&] {
    if (data)
      conv_backward_data(ctx, spec, g.dy.view(), d.w.view(), g.out.view(), a);
    else
      conv_backward_filter(ctx, spec, d.x.view(), g.dy.view(), g.out.view(), a);
  };
  // The first call: Auto's choice (and with tuning on, the tuning) and
  // anything the algorithm builds per call.
  const auto t0 = std::chrono::steady_clock::now();
  run();
  ctx.synchronize();
  r.plan_ms = ms_since(t0);
  const Algorithm chosen = a == Algorithm::Auto ? choose_algorithm(ctx, spec, c.x, c.w, t, false, g.dir).chosen : a;
  r.chosen = label(chosen);
  // The bench bounds Fft's normwise error for the forward pass only; a
  // gradient by Fft (should the library add one) is not checked per element.
  if (chosen == Algorithm::Fft) return skip(r, "no normwise bound for Fft gradients in the bench yet");
  r.variant = supports(spec, c.x, c.w, t, chosen, g.dir).variant;
  r.workspace_bytes = double(workspace_bytes(spec, c.x, c.w, t, chosen, g.dir));
  measure(env, g, r, run, g.out.data(), g.out.bytes(), g.idx);
  return r;
}

template <class T>
Row run_cudnn_backward(const Env& env, CaseData<T>& d, GradData<T>& g) {
  constexpr DType t = dtype_v<T>;
  Row r = base_row(d.c, d.p, Which::Cudnn, t);
  r.direction = direction_label(g.dir);
  r.chosen = "cudnn";
  const auto t0 = std::chrono::steady_clock::now();
  ConvProblem p = d.p;
  p.has_bias = false;
  CudnnConvBackward bw(env.stream, p, t, g.dir == Direction::BackwardData, d.x.data(), d.w.data(), g.dy.data(),
                       static_cast<std::size_t>(env.opt.workspace_gb * 1e9));
  r.plan_ms = ms_since(t0);
  r.variant = bw.algorithm();
  r.workspace_bytes = double(bw.workspace_bytes());
  measure(env, g, r, [&] { bw.run(); }, static_cast<T*>(bw.out()), bw.out_bytes(), g.idx);
  return r;
}

// Runs `fn` for one row, turning exceptions into skipped / error rows.
template <class T>
Row guarded_row(const CaseData<T>& d, Which which, Direction dir, const std::function<Row()>& fn) {
  const auto fail = [&] {
    Row r = base_row(d.c, d.p, which, dtype_v<T>);
    r.direction = direction_label(dir);
    return r;
  };
  try {
    return fn();
  } catch (const Error& e) {
    Row r = fail();
    const Status st = e.status();
    if (st == Status::NotSupported || st == Status::WorkspaceTooSmall || st == Status::OutOfMemory)
      return skip(r, e.what());
    r.status = "error";
    r.reason = std::string(status_name(st)) + ": " + e.what();
    return r;
  } catch (const CudnnUnsupported& e) {
    Row r = fail();
    return skip(r, std::string("cuDNN: ") + e.what());
  } catch (const std::bad_alloc&) {
    Row r = fail();
    return skip(r, "host out of memory");
  } catch (const std::exception& e) {
    Row r = fail();
    r.status = "error";
    r.reason = e.what();
    cudaGetLastError();
    return r;
  }
}

// One forward row.
template <class T>
Row run_row(const Env& env, CaseData<T>& d, Which which) {
  return guarded_row<T>(d, which, Direction::Forward, [&] {
    if (is_cudnn(which)) return run_cudnn(env, d, which);
    if (which == Which::FftTransforms) return run_fft_floor(env, d);
    return run_convkit(env, d, which);
  });
}

// The rows of one backward direction of a case, cuDNN first.
template <class T>
void run_backward_rows(const Env& env, CaseData<T>& d, Direction dir, std::uint64_t seed, bool cudnn_requested,
                       std::vector<Row>& rows) {
  const Options& opt = env.opt;
  GradData<T> g;
  g.dir = dir;
  std::string why;
  if (d.p.flops() / 2 > kMaxReferenceMacs) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "the reference gradient (%.3g multiply-adds) is over the bench's 2^32 host budget",
                  d.p.flops() / 2);
    why = buf;
  } else {
    try {
      make_grad_data(env, d, seed, g);
    } catch (const std::exception& e) {
      why = std::string("backward case setup: ") + e.what();
      cudaGetLastError();
    }
  }
  double cudnn_ms = NAN;
  for (Which which : opt.algos) {
    if (which == Which::Cudnn && !env.cudnn_ok) continue;
    // Forward-only rows: the forced cuDNN FFT algorithms and the Fft floor.
    if (which == Which::CudnnFft || which == Which::CudnnFftTiling || which == Which::FftTransforms) continue;
    Row r;
    if (!why.empty()) {
      r = base_row(d.c, d.p, which, dtype_v<T>);
      r.direction = direction_label(dir);
      skip(r, why);
    } else if (which == Which::Cudnn) {
      r = guarded_row<T>(d, which, dir, [&] { return run_cudnn_backward(env, d, g); });
      if (r.status == "ok") cudnn_ms = r.ms_median;
    } else {
      r = guarded_row<T>(d, which, dir, [&] { return run_convkit_backward(env, d, g, which); });
      if (std::isfinite(cudnn_ms) && std::isfinite(r.ms_median)) r.cudnn_ratio = r.ms_median / cudnn_ms;
    }
    print_row(stdout, r, cudnn_requested);
    rows.push_back(r);
  }
}

template <class T>
void run_case(const Env& env, const Case& c, std::vector<Row>& rows) {
  constexpr DType t = dtype_v<T>;
  const Options& opt = env.opt;
  const ConvProblem p = c.spec.problem(c.x, c.w);
  std::printf("\n== %s | %s: x %s, w %s -> y %s; %.3g GFLOP, %.3g GB minimum\n", c.suite.c_str(), c.name.c_str(),
              c.x.str().c_str(), c.w.str().c_str(), p.y_shape().str().c_str(), p.flops() / 1e9,
              p.min_bytes(t) / 1e9);
  std::fflush(stdout);

  const std::uint64_t seed = opt.seed ^ fnv1a(c.suite + "/" + c.name);
  CaseData<T> d{c, p, {}, {}, {}, {}, {}, {}, 0.0, {}, 0.0};
  try {
    d.idx = sample_output_indices(p.y_shape(), opt.samples, seed + 2);
    d.ref.resize(d.idx.size());
    d.mag.resize(d.idx.size());
    {
      HostTensor<T> hx(c.x), hw(c.w);
      fill_small_ints(hx, seed);
      fill_small_ints(hw, seed + 1);
      const auto n = static_cast<std::int64_t>(d.idx.size());
      reference::conv_sampled(c.spec, hx.view(), hw.view(), TensorArg(), d.idx.data(), n, d.ref.data());
      {
        const HostTensor<T> ax = abs_copy(hx), aw = abs_copy(hw);
        reference::conv_sampled(c.spec, ax.view(), aw.view(), TensorArg(), d.idx.data(), n, d.mag.data());
      }
      {
        // The normwise bound's magnitude per (n, k): norms over the whole
        // inputs, O(N·C·padded extent + K·C/G·taps) on the host. With the
        // sampled reference above, every forward check stays feasible
        // whatever the case's size (2^24 samples x 65536 taps: 300 x 65536
        // multiply-adds); only whole backward gradients have a size limit.
        const std::vector<double> xd(hx.data(), hx.data() + hx.numel()), wd(hw.data(), hw.data() + hw.numel());
        const std::vector<double> nk = fft_magnitudes(p, xd.data(), wd.data(), nullptr);
        for (std::int64_t i : d.idx) d.fft_mag.push_back(nk[static_cast<std::size_t>(i / p.out_spatial())]);
      }
      d.x = DeviceTensor<T>::from_host(env.ctx, hx);
      d.w = DeviceTensor<T>::from_host(env.ctx, hw);
    }
    d.y = DeviceTensor<T>(env.ctx, p.y_shape());
    env.ctx.synchronize();
  } catch (const std::exception& e) {
    Row r = base_row(c, p, Which::Auto, t);
    r.algorithm = "-";
    r.status = "error";
    r.reason = std::string("case setup: ") + e.what();
    cudaGetLastError();
    print_row(stdout, r, false);
    rows.push_back(r);
    return;
  }
  d.tol = tolerance_factor(t, p.Cg() * p.ker_spatial());
  d.fft_tol = fft_tolerance_factor(t, p);

  const bool cudnn_requested = env.cudnn_ok && std::any_of(opt.algos.begin(), opt.algos.end(), is_cudnn);
  for (Direction dir : opt.directions)
    if (dir != Direction::Forward) run_backward_rows(env, d, dir, seed, cudnn_requested, rows);
  if (std::find(opt.directions.begin(), opt.directions.end(), Direction::Forward) == opt.directions.end()) return;

  // Times of the rows run so far (Which's order), which later rows are
  // compared with: cuDNN's Find row (the "vs cuDNN" column) and its fastest
  // row of all three; the fastest of direct / im2col / toeplitz / fft (Auto's
  // best) and of those but fft (Auto's choice of Fft); Direct and the Fft
  // floor (the Fft row's targets); Fft itself.
  double cudnn_ms = NAN, cudnn_best_ms = NAN, best_ms = NAN, other_best_ms = NAN;
  double direct_ms = NAN, floor_ms = NAN, fft_ms = NAN;
  std::string cudnn_best_algorithm, best_algorithm, other_best_algorithm;
  const auto faster = [](const Row& r, double& fastest_ms, std::string& fastest, const std::string& name) {
    if (r.status == "ok" && (!std::isfinite(fastest_ms) || r.ms_median < fastest_ms)) {
      fastest_ms = r.ms_median;
      fastest = name;
    }
  };
  for (Which which : opt.algos) {
    if (is_cudnn(which) && !env.cudnn_ok) continue;  // the header says why; the column reads n/a
    Row r = run_row(env, d, which);
    const bool ok = r.status == "ok";
    if (which == Which::Cudnn && ok) cudnn_ms = r.ms_median;
    if (which != Which::Cudnn && std::isfinite(cudnn_ms) && std::isfinite(r.ms_median))
      r.cudnn_ratio = r.ms_median / cudnn_ms;
    if (is_cudnn(which)) faster(r, cudnn_best_ms, cudnn_best_algorithm, r.algorithm + " " + r.variant);
    const bool other = which == Which::Direct || which == Which::Im2col || which == Which::Toeplitz;
    if (other || which == Which::Fft) faster(r, best_ms, best_algorithm, r.algorithm);
    if (other) faster(r, other_best_ms, other_best_algorithm, r.algorithm);
    if (which == Which::Direct && ok) direct_ms = r.ms_median;
    if (which == Which::FftTransforms && ok) floor_ms = r.ms_median;
    if (which == Which::Fft) {
      r.floor_ms = floor_ms;
      r.floor_ratio = ratio(r.ms_median, floor_ms);
      r.direct_ms = direct_ms;
      r.direct_speedup = ratio(direct_ms, r.ms_median);
      r.cudnn_best_algorithm = cudnn_best_algorithm;
      r.cudnn_best_ms = cudnn_best_ms;
      r.cudnn_best_speedup = ratio(cudnn_best_ms, r.ms_median);
      if (ok) fft_ms = r.ms_median;
    }
    if ((which == Which::Auto || which == Which::AutoTuned) && ok) {
      r.best_algorithm = best_algorithm;
      r.best_ms = best_ms;
      r.best_ratio = ratio(r.ms_median, best_ms);
      r.fft_ms = fft_ms;
      r.other_best_algorithm = other_best_algorithm;
      r.other_best_ms = other_best_ms;
    }
    print_row(stdout, r, cudnn_requested);
    rows.push_back(r);
  }
}

void print_cases(const std::vector<Case>& cases, DType t) {
  for (const Case& c : cases) {
    const ConvProblem p = c.spec.problem(c.x, c.w);
    std::printf("%-12s %-34s x %-22s w %-18s %9.3g GFLOP %8.3g GB  %s\n", c.suite.c_str(), c.name.c_str(),
                c.x.str().c_str(), c.w.str().c_str(), p.flops() / 1e9, p.min_bytes(t) / 1e9, c.spec.str().c_str());
  }
}

int run(int argc, char** argv) {
  Options opt;
  std::string error;
  if (!parse_options(argc, argv, opt, error)) {
    std::fprintf(stderr, "convkit-bench: %s\n", error.c_str());
    return 2;
  }
  if (opt.help) {
    std::fputs(help_text().c_str(), stdout);
    return 0;
  }
  std::vector<Case> cases;
  for (const std::string& s : opt.suites)
    for (Case& c : suite_cases(s, opt.quick)) {
      bool keep = opt.case_filters.empty();
      for (const std::string& f : opt.case_filters) keep = keep || c.name.find(f) != std::string::npos;
      if (keep) cases.push_back(std::move(c));
    }
  if (opt.list) {
    print_cases(cases, opt.dtype);
    return 0;
  }
  if (!device_available()) {
    std::puts("no CUDA device: nothing to benchmark");
    return 0;
  }

  Context ctx;
  ctx.set_workspace_limit(static_cast<std::size_t>(opt.workspace_gb * 1e9));
  const cudaStream_t stream = ctx.stream();
  Context toeplitz_ctx(stream);
  toeplitz_ctx.set_workspace_limit(static_cast<std::size_t>(opt.toeplitz_max_gb * 1e9));
  Context tuned_ctx(stream);
  tuned_ctx.set_workspace_limit(static_cast<std::size_t>(opt.workspace_gb * 1e9));
  tuned_ctx.set_tuning(true);
  DeviceInfo dev = query_device();
  {
    // The copy: 1 GiB, or a quarter of free memory on a smaller device;
    // large enough that launch overhead and L2 do not matter.
    std::size_t free_b = 0, total_b = 0;
    cuda_check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
    dev.copy_bytes = std::min<std::size_t>(std::size_t(1) << 30, free_b / 4);
    dev.copy_reps = 10;
    dev.copy_bandwidth = measure_copy_bandwidth(stream, dev.copy_bytes, dev.copy_reps);
  }
  L2Flusher flusher(stream, dev.l2_bytes);

  std::string cudnn_why;
  const bool cudnn_wanted = std::any_of(opt.algos.begin(), opt.algos.end(), is_cudnn);
  const bool cudnn_ok = cudnn_wanted && cudnn_available(&cudnn_why);

  RunInfo info;
  info.program_version = CONVKIT_VERSION_STRING;
  for (int i = 0; i < argc; ++i) info.command += (i ? " " : "") + std::string(argv[i]);
  info.date = utc_now();
  info.device = dev.name;
  info.compute_capability = std::to_string(dev.major) + "." + std::to_string(dev.minor);
  info.sms = dev.sms;
  info.clock_mhz = dev.clock_khz / 1e3;
  info.l2_bytes = double(dev.l2_bytes);
  info.memory_bytes = double(dev.global_bytes);
  info.copy_gbs = dev.copy_bandwidth / 1e9;
  info.copy_bytes = double(dev.copy_bytes);
  info.copy_reps = dev.copy_reps;
  info.fp32_peak_gflops = dev.fp32_peak / 1e9;
  info.fp64_peak_gflops = dev.fp64_peak / 1e9;
  info.fp32_lanes = dev.fp32_lanes;
  info.fp64_lanes = dev.fp64_lanes;
  info.cudnn = cudnn_ok ? cudnn_version() : !cudnn_wanted ? "not requested" : "n/a (" + cudnn_why + ")";
  info.dtype = dtype_name(opt.dtype);
  info.quick = opt.quick;
  info.reps = opt.reps;
  info.samples = opt.samples;
  info.seed = opt.seed;

  const bool f64 = opt.dtype == DType::F64;
  std::printf("convkit-bench %s  %s\n", info.program_version.c_str(), info.date.c_str());
  std::printf("device: %s (sm_%d%d, %d SMs, %.0f MHz, L2 %.1f MB, %.1f GB)\n", dev.name.c_str(), dev.major,
              dev.minor, dev.sms, info.clock_mhz, info.l2_bytes / 1e6, info.memory_bytes / 1e9);
  std::printf("ceiling: FP32 FMA peak %.1f GFLOP/s = %d SMs x %d lanes x 2 x %.0f MHz\n", info.fp32_peak_gflops,
              dev.sms, dev.fp32_lanes, info.clock_mhz);
  if (f64)
    std::printf("ceiling: FP64 FMA peak %.1f GFLOP/s = %d SMs x %d lanes x 2 x %.0f MHz\n", info.fp64_peak_gflops,
                dev.sms, dev.fp64_lanes, info.clock_mhz);
  std::printf("ceiling: copy bandwidth %.1f GB/s (device-to-device copy of %.2f GB, bytes read + written, "
              "median of %d)\n",
              info.copy_gbs, info.copy_bytes / 1e9, dev.copy_reps);
  std::printf("dtype %s, %d timed runs per row (median), %d warm-up, L2 flush %.0f MB, %d sampled outputs "
              "checked, seed %llu\n",
              info.dtype.c_str(), opt.reps, opt.warmup, double(flusher.bytes()) / 1e6, opt.samples, opt.seed);
  std::printf("cuDNN: %s\n\n", info.cudnn.c_str());
  print_table_header(stdout);

  Env env{opt, dev, ctx, toeplitz_ctx, tuned_ctx, stream, flusher, cudnn_ok, f64 ? dev.fp64_peak : dev.fp32_peak};
  // The targets are the forward pass's (docs/PERF.md); backward rows are reported, not scored yet.
  const auto targets_of = [&](const std::vector<Row>& rs) {
    std::vector<Row> fwd;
    for (const Row& r : rs)
      if (r.direction == "fwd") fwd.push_back(r);
    return evaluate_targets(fwd, info.copy_gbs, env.peak / 1e9);
  };
  std::vector<Row> rows;
  const auto t0 = std::chrono::steady_clock::now();
  for (const Case& c : cases) {
    if (f64)
      run_case<double>(env, c, rows);
    else
      run_case<float>(env, c, rows);
    if (!opt.json.empty()) write_json(opt.json, info, rows, targets_of(rows));
  }

  int ok = 0, failed = 0, errors = 0, skipped = 0;
  for (const Row& r : rows) {
    if (r.status == "ok") ++ok;
    else if (r.status == "FAIL") ++failed;
    else if (r.status == "error") ++errors;
    else ++skipped;
  }
  std::printf("\n%zu rows in %.1f s: %d ok, %d FAIL, %d error, %d skipped\n", rows.size(), ms_since(t0) / 1e3, ok,
              failed, errors, skipped);
  const std::vector<TargetResult> targets = targets_of(rows);
  std::printf("\nPerformance targets: %s, %s, dtype %s, convkit %s%s\n\n%s", info.device.c_str(), info.date.c_str(),
              info.dtype.c_str(), info.program_version.c_str(),
              opt.quick ? " (--quick: reduced sizes, not the documented cases)" : "",
              targets_markdown(targets).c_str());
  bool json_ok = true;
  if (!opt.json.empty()) {
    json_ok = write_json(opt.json, info, rows, targets);
    if (json_ok) std::printf("JSON: %s\n", opt.json.c_str());
  }
  for (const Row& r : rows)
    if (r.status == "FAIL" || r.status == "error")
      std::printf("%s: %s | %s | %s: %s\n", r.status.c_str(), r.suite.c_str(), r.case_name.c_str(),
                  r.algorithm.c_str(), r.reason.c_str());
  return failed == 0 && errors == 0 && json_ok ? 0 : 1;
}

}  // namespace
}  // namespace convkit::bench

int main(int argc, char** argv) {
  try {
    return convkit::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "convkit-bench: %s\n", e.what());
    return 1;
  }
}
