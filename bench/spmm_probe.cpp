// convkit-spmm-probe: which cuSPARSE SpMM / SpMV configuration multiplies
// convkit's Toeplitz matrices fastest, and which give bit-identical results
// run to run. For each case (convkit-bench's Toeplitz cases, f32: the 1-D SpMM
// case and four ResNet-50 layers with N = 64, then the N = 1 CNN layer and the
// 1-D 2^24 signal) it builds T on the device (toeplitz::build_device,
// small-integer weights). For N > 1, for each dense layout -- column-major
// (NCHW is [C·ΠD, N] column-major: x and y used in place) and row-major (x
// transposed into [C·ΠD, N] with N fastest, the product transposed back) --
// and each CSR SpMM algorithm (DEFAULT, CSR_ALG1, CSR_ALG2, CSR_ALG3); for
// N = 1, each SpMV algorithm (DEFAULT, CSR_ALG1, CSR_ALG2), it
//   * times the product alone: preprocess once, one warm-up, median of --reps
//     runs, C zeroed and the L2 flushed (untimed) before each, CUDA events;
//     beta 1 onto the zeroed C (what the library runs) and beta 0 beside it;
//   * checks three images of the product exactly against T·x on the host
//     (integer data in -3..3, so every sum is exact in float);
//   * runs the product twice on uniform random floats (where the summation
//     order shows) and compares the two outputs bit for bit;
//   * runs it once more with beta 0 onto a C filled with NaN and checks the
//     images again: whether beta 0 leaves C unread, which would let the
//     library drop the pass that zeroes C before its beta-1 product.
// The row-major rows also carry the two transposes' times (the library's own
// tiled transpose, the one its row-major SpMM runs). A configuration cuSPARSE
// refuses is a row with the status it returned. See --help.
#include <convkit/convkit.hpp>

#include "bench_math.hpp"
#include "cases.hpp"
#include "device.hpp"
#include "toeplitz.cuh"

#include <cusparse.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace convkit::bench {
namespace {

constexpr double kBudgetS = 1.5;  // timed seconds per configuration before --reps is cut (to min(--reps, 5))

const char* const kHelp =
    "usage: convkit-spmm-probe [--case SUBSTR]... [--reps R] [--quick] [--json FILE]\n"
    "  --case SUBSTR  only the cases whose name contains SUBSTR (repeatable)\n"
    "  --reps R       timed runs per configuration, median (default 20; fewer when they exceed 1.5 s)\n"
    "  --quick        the first two SpMM cases and the first SpMV case chosen, 5 runs each\n"
    "  --json FILE    also write the rows as JSON\n"
    "Exit status: 0 when every configuration cuSPARSE ran gave the exact product, 1 when one did not,\n"
    "when a case could not be set up or cuSPARSE ran none of its configurations, or on a CUDA error;\n"
    "2 on a usage error (a --case matching no case included).\n"
    "Without a CUDA device it says so and exits 0.\n";

struct Options {
  std::vector<std::string> cases;
  int reps = 20;
  bool quick = false, help = false;
  std::string json;
};

bool parse(int argc, char** argv, Options& o, std::string& err) {
  bool reps_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--case" || a == "--reps" || a == "--json") {
      if (i + 1 >= argc) return err = a + " needs a value", false;
      const std::string v = argv[++i];
      if (a == "--case") o.cases.push_back(v);
      if (a == "--json") o.json = v;
      if (a == "--reps") {
        char* end = nullptr;
        const long r = std::strtol(v.c_str(), &end, 10);
        if (*end || r < 1 || r > 10000) return err = "--reps wants a count in 1..10000, not '" + v + "'", false;
        o.reps = static_cast<int>(r);
        reps_given = true;
      }
    } else {
      return err = "unknown option '" + a + "' (see --help)", false;
    }
  }
  if (o.quick && !reps_given) o.reps = 5;
  return true;
}

// A cuSPARSE call that failed: the configuration becomes a row with this status.
struct SparseFailure {
  std::string what;
};

void sp_check(cusparseStatus_t s, const char* what) {
  if (s != CUSPARSE_STATUS_SUCCESS) throw SparseFailure{std::string(what) + ": " + cusparseGetErrorName(s)};
}

// Owns a cuSPARSE matrix descriptor (sparse or dense, const or not).
template <class D, auto Destroy>
struct Owned {
  D d = nullptr;
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (d) Destroy(d);
  }
};
using SpMat = Owned<cusparseConstSpMatDescr_t, cusparseDestroySpMat>;
using ConstDnMat = Owned<cusparseConstDnMatDescr_t, cusparseDestroyDnMat>;
using DnMat = Owned<cusparseDnMatDescr_t, cusparseDestroyDnMat>;

// out = inᵀ (in: rows × cols row-major) with the library's transpose kernel.
void transpose(cudaStream_t stream, const float* in, float* out, std::int64_t rows, std::int64_t cols) {
  detail::toeplitz::transpose_device<float>(stream, in, out, rows, cols, nullptr, 1);
}

const char* alg_name(cusparseSpMMAlg_t a) {
  switch (a) {
    case CUSPARSE_SPMM_ALG_DEFAULT: return "DEFAULT";
    case CUSPARSE_SPMM_CSR_ALG1: return "CSR_ALG1";
    case CUSPARSE_SPMM_CSR_ALG2: return "CSR_ALG2";
    case CUSPARSE_SPMM_CSR_ALG3: return "CSR_ALG3";
    default: return "?";
  }
}

const char* spmv_alg_name(cusparseSpMVAlg_t a) {
  switch (a) {
    case CUSPARSE_SPMV_ALG_DEFAULT: return "DEFAULT";
    case CUSPARSE_SPMV_CSR_ALG1: return "CSR_ALG1";
    case CUSPARSE_SPMV_CSR_ALG2: return "CSR_ALG2";
    default: return "?";
  }
}

struct Env {
  const Options& opt;
  Context& ctx;
  cudaStream_t stream;
  L2Flusher& flusher;
  cusparseHandle_t sp;
};

// One case on the device: T, the operands in both layouts, the host product
// of the checked images, the transposes' times, and host buffers for reading
// outputs back.
struct CaseData {
  const Case* c = nullptr;
  std::int64_t N = 0, rows = 0, cols = 0;
  toeplitz::DeviceMatrix<float> T;
  DeviceTensor<float> x_int, x_flt, xr_int, xr_flt, y, yr;  // xr / yr: row-major [cols, N] / [rows, N]
  std::vector<std::int64_t> check_images;
  std::vector<std::vector<float>> ref;  // T·x of those images, exact
  double t_in_ms = NAN, t_out_ms = NAN;
  std::vector<float> host1, host2;
};

struct ProbeRow {
  std::string case_name, layout, alg, status = "ok", stable = "-", exact = "-", beta0_nan = "-";
  double ms = NAN, ms_beta0 = NAN, matrix_gbs = NAN, total_gbs = NAN, t_in_ms = NAN, t_out_ms = NAN;
  int reps = 0;
  std::size_t buffer_bytes = 0;
  double end_to_end_ms() const { return ms + (std::isfinite(t_in_ms) ? t_in_ms + t_out_ms : 0.0); }
};

// Median ms of `fn` after one warm-up: --reps runs, fewer (down to 5) when
// they would exceed kBudgetS. `prepare` and the L2 flush run untimed before each.
double median_ms(const Env& env, const std::function<void()>& prepare, const std::function<void()>& fn,
                 int* reps_out = nullptr) {
  const auto before = [&] {
    if (prepare) prepare();
    env.flusher.flush();
  };
  const double warm = time_runs(env.stream, 1, before, fn)[0];
  const int reps = reps_within_budget(env.opt.reps, warm * 1e-3, kBudgetS, std::min(env.opt.reps, 5));
  if (reps_out) *reps_out = reps;
  return median(time_runs(env.stream, reps, before, fn));
}

void copy_to_host(const Env& env, const float* dev, std::size_t count, std::vector<float>& host) {
  host.resize(count);
  cuda_check(cudaMemcpyAsync(host.data(), dev, count * sizeof(float), cudaMemcpyDeviceToHost, env.stream),
             "cudaMemcpyAsync (output to host)");
  cuda_check(cudaStreamSynchronize(env.stream), "cudaStreamSynchronize");
}

// Whether the checked images of the product at `c` (element (r, n) at
// c[r·rs + n·cs]) equal the host product exactly.
bool images_exact(const Env& env, CaseData& d, const float* c, std::int64_t rs, std::int64_t cs) {
  copy_to_host(env, c, static_cast<std::size_t>(d.rows * d.N), d.host1);
  for (std::size_t j = 0; j < d.check_images.size(); ++j)
    for (std::int64_t r = 0; r < d.rows; ++r)
      if (d.host1[static_cast<std::size_t>(r * rs + d.check_images[j] * cs)] != d.ref[j][static_cast<std::size_t>(r)])
        return false;
  return true;
}

void setup(const Env& env, const Case& c, std::uint64_t seed, CaseData& d) {
  d.c = &c;
  d.N = c.x[0];
  SplitMix64 rng(seed);
  HostTensor<float> hx(c.x), hw(c.w);
  const auto small_int = [&] { return static_cast<float>(static_cast<int>(rng.next() % 7) - 3); };
  for (std::int64_t i = 0; i < hw.numel(); ++i) hw[i] = small_int();
  for (std::int64_t i = 0; i < hx.numel(); ++i) hx[i] = small_int();
  {
    const DeviceTensor<float> w = DeviceTensor<float>::from_host(env.ctx, hw);
    d.T = toeplitz::build_device(env.ctx, c.spec, c.x, w.view());
  }
  d.rows = d.T.rows();
  d.cols = d.T.cols();
  d.x_int = DeviceTensor<float>::from_host(env.ctx, hx);
  {
    const toeplitz::Matrix<float> host_T = d.T.to_host();
    d.check_images = {0, d.N / 2, d.N - 1};
    for (std::int64_t n : d.check_images) {
      d.ref.emplace_back(static_cast<std::size_t>(d.rows));
      host_T.multiply(hx.data() + n * d.cols, d.ref.back().data());
    }
  }
  for (std::int64_t i = 0; i < hx.numel(); ++i)
    hx[i] = static_cast<float>(double(rng.next() >> 40) / double(1 << 23) - 1.0);  // uniform in [-1, 1)
  d.x_flt = DeviceTensor<float>::from_host(env.ctx, hx);
  d.y = DeviceTensor<float>(env.ctx, Shape{d.N, d.rows});
  if (d.N > 1) {  // the row-major operands and the transposes' times (SpMM only)
    d.xr_int = DeviceTensor<float>(env.ctx, Shape{d.cols, d.N});
    d.xr_flt = DeviceTensor<float>(env.ctx, Shape{d.cols, d.N});
    d.yr = DeviceTensor<float>(env.ctx, Shape{d.rows, d.N});
    cuda_check(cudaMemsetAsync(d.yr.data(), 0, d.yr.bytes(), env.stream), "cudaMemsetAsync");
    transpose(env.stream, d.x_flt.data(), d.xr_flt.data(), d.N, d.cols);
    transpose(env.stream, d.x_int.data(), d.xr_int.data(), d.N, d.cols);
    d.t_in_ms = median_ms(env, {}, [&] { transpose(env.stream, d.x_int.data(), d.xr_int.data(), d.N, d.cols); });
    d.t_out_ms = median_ms(env, {}, [&] { transpose(env.stream, d.yr.data(), d.y.data(), d.rows, d.N); });
  }
  env.ctx.synchronize();
}

using ConstDnVec = Owned<cusparseConstDnVecDescr_t, cusparseDestroyDnVec>;
using DnVec = Owned<cusparseDnVecDescr_t, cusparseDestroyDnVec>;

void make_csr(const CaseData& d, SpMat& A) {
  const toeplitz::Info& in = d.T.info();
  const cusparseIndexType_t it = in.index_width == toeplitz::IndexWidth::I64 ? CUSPARSE_INDEX_64I : CUSPARSE_INDEX_32I;
  sp_check(cusparseCreateConstCsr(&A.d, d.rows, d.cols, in.nnz, d.T.row_ptr(), d.T.col_ind(), d.T.values(), it, it,
                                  CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F),
           "cusparseCreateConstCsr");
}

// One configuration's product: `mult(flt, beta)` multiplies the integer
// (flt false) or random-float operand into C, with that beta.
using Multiply = std::function<void(bool flt, const float* beta)>;

// Times, checks and rates one configuration whose product lands in `c`
// (element (r, n) at c[r·rs + n·cs]): beta 0 and beta 1 timings (C zeroed
// before each run, as the library's beta = 1 onto a zeroed C), exactness on
// integer data (row-major: also after transposing back to NCHW), bit
// stability on floats, and the bandwidths.
void time_and_check(const Env& env, CaseData& d, ProbeRow& r, float* c, bool row_major, const Multiply& mult) {
  const float beta = 1.0f, beta0 = 0.0f;
  const std::size_t c_bytes = d.y.bytes();
  const auto zero = [&] { cuda_check(cudaMemsetAsync(c, 0, c_bytes, env.stream), "cudaMemsetAsync (C)"); };
  r.ms_beta0 = median_ms(env, zero, [&] { mult(false, &beta0); });
  r.ms = median_ms(env, zero, [&] { mult(false, &beta); }, &r.reps);
  bool exact = images_exact(env, d, c, row_major ? d.N : 1, row_major ? 1 : d.rows);
  if (row_major) {  // the product back to NCHW, as a caller would have it
    transpose(env.stream, c, d.y.data(), d.rows, d.N);
    exact = exact && images_exact(env, d, d.y.data(), 1, d.rows);
  }
  r.exact = exact ? "pass" : "FAIL";
  // beta 0 onto NaN (all bits set): exact only if cuSPARSE never reads C then.
  cuda_check(cudaMemsetAsync(c, 0xFF, c_bytes, env.stream), "cudaMemsetAsync (C, NaN)");
  mult(false, &beta0);
  r.beta0_nan = images_exact(env, d, c, row_major ? d.N : 1, row_major ? 1 : d.rows) ? "pass" : "FAIL";
  for (std::vector<float>* host : {&d.host1, &d.host2}) {
    zero();
    mult(true, &beta);
    copy_to_host(env, c, static_cast<std::size_t>(d.rows * d.N), *host);
  }
  r.stable = std::memcmp(d.host1.data(), d.host2.data(), c_bytes) == 0 ? "yes" : "no";
  const double sec = r.ms * 1e-3, matrix = double(d.T.info().matrix_bytes);
  r.matrix_gbs = matrix / sec / 1e9;
  r.total_gbs = (matrix + double(d.x_int.bytes()) + double(c_bytes)) / sec / 1e9;
}

// Runs `body` and turns a refused cuSPARSE call or a library error (e.g. no
// memory for the buffer) into the row's status.
ProbeRow guarded(ProbeRow r, const std::function<void(ProbeRow&)>& body) {
  try {
    body(r);
  } catch (const SparseFailure& e) {
    r.status = e.what;
  } catch (const Error& e) {
    r.status = std::string(status_name(e.status())) + ": " + e.what();
  }
  return r;
}

ProbeRow probe(const Env& env, CaseData& d, bool row_major, cusparseSpMMAlg_t alg) {
  ProbeRow r0;
  r0.case_name = d.c->name;
  r0.layout = row_major ? "row-major" : "column-major";
  r0.alg = alg_name(alg);
  if (row_major) {
    r0.t_in_ms = d.t_in_ms;
    r0.t_out_ms = d.t_out_ms;
  }
  return guarded(r0, [&](ProbeRow& r) {
    const cusparseOrder_t order = row_major ? CUSPARSE_ORDER_ROW : CUSPARSE_ORDER_COL;
    const std::int64_t ldb = row_major ? d.N : d.cols, ldc = row_major ? d.N : d.rows;
    float* const c = row_major ? d.yr.data() : d.y.data();
    SpMat A;
    make_csr(d, A);
    ConstDnMat b_int, b_flt;
    DnMat cm;
    const auto dense_b = [&](ConstDnMat& m, const DeviceTensor<float>& x) {
      sp_check(cusparseCreateConstDnMat(&m.d, d.cols, d.N, ldb, x.data(), CUDA_R_32F, order), "cusparseCreateConstDnMat");
    };
    dense_b(b_int, row_major ? d.xr_int : d.x_int);
    dense_b(b_flt, row_major ? d.xr_flt : d.x_flt);
    sp_check(cusparseCreateDnMat(&cm.d, d.rows, d.N, ldc, c, CUDA_R_32F, order), "cusparseCreateDnMat");
    const float alpha = 1.0f, beta = 1.0f;
    const cusparseOperation_t op = CUSPARSE_OPERATION_NON_TRANSPOSE;
    sp_check(cusparseSpMM_bufferSize(env.sp, op, op, &alpha, A.d, b_int.d, &beta, cm.d, CUDA_R_32F, alg,
                                     &r.buffer_bytes),
             "cusparseSpMM_bufferSize");
    DeviceTensor<float> buf(env.ctx, Shape{std::max<std::int64_t>(1, std::int64_t(r.buffer_bytes + 3) / 4)});
    void* const b = buf.data();
    const cusparseStatus_t pre =
        cusparseSpMM_preprocess(env.sp, op, op, &alpha, A.d, b_int.d, &beta, cm.d, CUDA_R_32F, alg, b);
    if (pre != CUSPARSE_STATUS_NOT_SUPPORTED) sp_check(pre, "cusparseSpMM_preprocess");
    time_and_check(env, d, r, c, row_major, [&](bool flt, const float* bt) {
      sp_check(cusparseSpMM(env.sp, op, op, &alpha, A.d, flt ? b_flt.d : b_int.d, bt, cm.d, CUDA_R_32F, alg, b),
               "cusparseSpMM");
    });
  });
}

// N = 1: the SpMV the library runs for a single image, per CSR algorithm.
ProbeRow probe_spmv(const Env& env, CaseData& d, cusparseSpMVAlg_t alg) {
  ProbeRow r0;
  r0.case_name = d.c->name;
  r0.layout = "vector";
  r0.alg = spmv_alg_name(alg);
  return guarded(r0, [&](ProbeRow& r) {
    SpMat A;
    make_csr(d, A);
    ConstDnVec x_int, x_flt;
    DnVec yv;
    sp_check(cusparseCreateConstDnVec(&x_int.d, d.cols, d.x_int.data(), CUDA_R_32F), "cusparseCreateConstDnVec");
    sp_check(cusparseCreateConstDnVec(&x_flt.d, d.cols, d.x_flt.data(), CUDA_R_32F), "cusparseCreateConstDnVec");
    sp_check(cusparseCreateDnVec(&yv.d, d.rows, d.y.data(), CUDA_R_32F), "cusparseCreateDnVec");
    const float alpha = 1.0f, beta = 1.0f;
    const cusparseOperation_t op = CUSPARSE_OPERATION_NON_TRANSPOSE;
    sp_check(cusparseSpMV_bufferSize(env.sp, op, &alpha, A.d, x_int.d, &beta, yv.d, CUDA_R_32F, alg, &r.buffer_bytes),
             "cusparseSpMV_bufferSize");
    DeviceTensor<float> buf(env.ctx, Shape{std::max<std::int64_t>(1, std::int64_t(r.buffer_bytes + 3) / 4)});
    void* const b = buf.data();
    const cusparseStatus_t pre =
        cusparseSpMV_preprocess(env.sp, op, &alpha, A.d, x_int.d, &beta, yv.d, CUDA_R_32F, alg, b);
    if (pre != CUSPARSE_STATUS_NOT_SUPPORTED) sp_check(pre, "cusparseSpMV_preprocess");
    time_and_check(env, d, r, d.y.data(), false, [&](bool flt, const float* bt) {
      sp_check(cusparseSpMV(env.sp, op, &alpha, A.d, flt ? x_flt.d : x_int.d, bt, yv.d, CUDA_R_32F, alg, b),
               "cusparseSpMV");
    });
  });
}

std::string num(double v, const char* fmt = "%.3f") {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

void print_row(const ProbeRow& r) {
  std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", r.case_name.c_str(),
              r.layout.c_str(), r.alg.c_str(), num(r.ms).c_str(), num(r.ms_beta0).c_str(),
              num(r.matrix_gbs, "%.1f").c_str(), num(r.total_gbs, "%.1f").c_str(), r.stable.c_str(), r.exact.c_str(),
              r.beta0_nan.c_str(), num(r.t_in_ms).c_str(), num(r.t_out_ms).c_str(), r.reps, r.status.c_str());
  std::fflush(stdout);
}

// The fastest correct configuration of a case by product time and end to end
// (row-major with its two transposes), and the fastest bit-reproducible one.
void summarize(const std::vector<ProbeRow>& rows, std::size_t first) {
  const ProbeRow *fast = nullptr, *e2e = nullptr, *stable = nullptr;
  for (std::size_t i = first; i < rows.size(); ++i) {
    const ProbeRow& r = rows[i];
    if (r.status != "ok" || r.exact != "pass") continue;
    if (!fast || r.ms < fast->ms) fast = &r;
    if (!e2e || r.end_to_end_ms() < e2e->end_to_end_ms()) e2e = &r;
    if (r.stable == "yes" && (!stable || r.end_to_end_ms() < stable->end_to_end_ms())) stable = &r;
  }
  const auto say = [](const char* what, const ProbeRow* r) {
    if (r)
      std::printf("%s: %s %s, %.3f ms product, %.3f ms end to end\n", what, r->layout.c_str(), r->alg.c_str(), r->ms,
                  r->end_to_end_ms());
    else
      std::printf("%s: none\n", what);
  };
  say("fastest product", fast);
  say("fastest end to end", e2e);
  say("fastest bitwise-stable end to end", stable);
}

bool write_json(const std::string& path, const std::string& header, const std::vector<ProbeRow>& rows) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return std::fprintf(stderr, "convkit-spmm-probe: cannot write %s\n", path.c_str()), false;
  std::fprintf(f, "{%s,\n \"rows\": [", header.c_str());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ProbeRow& r = rows[i];
    std::fprintf(f,
                 "%s\n  {\"case\": %s, \"layout\": %s, \"alg\": %s, \"status\": %s, \"median_ms\": %s, \"beta0_ms\": %s, "
                 "\"runs\": %d, \"matrix_gbs\": %s, \"total_gbs\": %s, \"bitwise_stable\": %s, \"exact\": %s, "
                 "\"beta0_over_nan_exact\": %s, "
                 "\"transpose_in_ms\": %s, \"transpose_out_ms\": %s, \"buffer_bytes\": %zu}",
                 i ? "," : "", json_string(r.case_name).c_str(), json_string(r.layout).c_str(),
                 json_string(r.alg).c_str(), json_string(r.status).c_str(), json_number(r.ms).c_str(),
                 json_number(r.ms_beta0).c_str(), r.reps,
                 json_number(r.matrix_gbs).c_str(), json_number(r.total_gbs).c_str(), json_string(r.stable).c_str(),
                 json_string(r.exact).c_str(), json_string(r.beta0_nan).c_str(), json_number(r.t_in_ms).c_str(), json_number(r.t_out_ms).c_str(),
                 r.buffer_bytes);
  }
  std::fprintf(f, "\n ]}\n");
  return std::fclose(f) == 0;
}

int run(int argc, char** argv) {
  Options opt;
  std::string err;
  if (!parse(argc, argv, opt, err)) return std::fprintf(stderr, "convkit-spmm-probe: %s\n", err.c_str()), 2;
  if (opt.help) return std::fputs(kHelp, stdout), 0;
  // convkit-bench's full-size Toeplitz cases: SpMM (1-D N=64, then the
  // ResNet-50 layers), then SpMV (the N = 1 layer, the 1-D 2^24 signal).
  std::vector<Case> cases, spmv_layers, spmv_signals;
  for (Case& c : suite_cases("signal1d", false)) {
    if (c.name.rfind("spmm ", 0) == 0) cases.push_back(std::move(c));
    else if (c.name.rfind("spmv ", 0) == 0) spmv_signals.push_back(std::move(c));
  }
  for (Case& c : suite_cases("cnn", false)) {
    if (c.name.rfind("resnet50", 0) == 0) cases.push_back(std::move(c));
    else if (c.x[0] == 1) spmv_layers.push_back(std::move(c));
  }
  for (auto* group : {&spmv_layers, &spmv_signals})
    for (Case& c : *group) cases.push_back(std::move(c));
  std::vector<Case> chosen;
  for (Case& c : cases) {
    bool keep = opt.cases.empty();
    for (const std::string& f : opt.cases) keep = keep || c.name.find(f) != std::string::npos;
    if (keep) chosen.push_back(std::move(c));
  }
  if (chosen.empty()) return std::fprintf(stderr, "convkit-spmm-probe: no case matches --case\n"), 2;
  if (opt.quick) {  // the first two SpMM cases and the first SpMV case chosen
    std::vector<Case> quick;
    int spmm_left = 2, spmv_left = 1;
    for (Case& c : chosen) {
      int& left = c.x[0] > 1 ? spmm_left : spmv_left;
      if (left > 0) --left, quick.push_back(std::move(c));
    }
    chosen = std::move(quick);
  }
  if (!device_available()) return std::puts("no CUDA device: nothing to probe"), 0;

  Context ctx;
  const cudaStream_t stream = ctx.stream();
  const DeviceInfo dev = query_device();
  L2Flusher flusher(stream, dev.l2_bytes);
  cusparseHandle_t sp = nullptr;
  sp_check(cusparseCreate(&sp), "cusparseCreate");
  const std::unique_ptr<cusparseContext, cusparseStatus_t (*)(cusparseHandle_t)> sp_owner(sp, cusparseDestroy);
  sp_check(cusparseSetStream(sp, stream), "cusparseSetStream");
  sp_check(cusparseSetPointerMode(sp, CUSPARSE_POINTER_MODE_HOST), "cusparseSetPointerMode");
  int runtime = 0, driver = 0, sparse = 0;
  cuda_check(cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
  cuda_check(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  sp_check(cusparseGetVersion(sp, &sparse), "cusparseGetVersion");
  const std::string date = utc_now();
  char versions[160];
  std::snprintf(versions, sizeof versions, "CUDA runtime %d.%d, driver %d.%d, cuSPARSE %d.%d.%d", runtime / 1000,
                runtime % 1000 / 10, driver / 1000, driver % 1000 / 10, sparse / 1000, sparse % 1000 / 100,
                sparse % 100);
  std::printf("convkit-spmm-probe %s  %s\ndevice: %s (sm_%d%d)\n%s\n", CONVKIT_VERSION_STRING, date.c_str(),
              dev.name.c_str(), dev.major, dev.minor, versions);
  std::printf("f32, alpha 1, beta 1 as the library runs it (beta 0 timed beside it), opA non-transpose; median of up to "
              "%d runs (cut to fit %.1f s, never below min(5, that)), C zeroed and L2 flushed (%.0f MB) before each, "
              "the product alone timed\n",
              opt.reps, kBudgetS, double(flusher.bytes()) / 1e6);

  Env env{opt, ctx, stream, flusher, sp};
  std::vector<ProbeRow> rows;
  std::size_t unprobed = 0;  // cases skipped, or with no configuration cuSPARSE ran
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < chosen.size(); ++k) {
    const Case& c = chosen[k];
    std::printf("\n== %s: x %s, w %s, %s\n", c.name.c_str(), c.x.str().c_str(), c.w.str().c_str(),
                c.spec.str().c_str());
    CaseData d;
    try {
      setup(env, c, 0x5EED0000u + k, d);
    } catch (const Error& e) {  // e.g. T over the device's memory: skip the case
      std::printf("case skipped: %s: %s\n", status_name(e.status()), e.what());
      ++unprobed;
      continue;
    }
    std::printf("%s\n", d.T.info().str().c_str());
    if (d.N > 1) std::printf("transpose x to row-major %.3f ms, y back to NCHW %.3f ms\n", d.t_in_ms, d.t_out_ms);
    std::printf("\n");
    std::printf("| case | layout | alg | median ms | beta 0 ms | matrix GB/s | total GB/s | bitwise-stable | exact | "
                "beta 0 over NaN C exact | transpose-in ms | transpose-out ms | runs | status |\n"
                "|---|---|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|---|\n");
    const std::size_t first = rows.size();
    if (d.N == 1) {
      for (cusparseSpMVAlg_t alg : {CUSPARSE_SPMV_ALG_DEFAULT, CUSPARSE_SPMV_CSR_ALG1, CUSPARSE_SPMV_CSR_ALG2}) {
        rows.push_back(probe_spmv(env, d, alg));
        print_row(rows.back());
      }
    } else {
      for (bool row_major : {false, true})
        for (cusparseSpMMAlg_t alg :
             {CUSPARSE_SPMM_ALG_DEFAULT, CUSPARSE_SPMM_CSR_ALG1, CUSPARSE_SPMM_CSR_ALG2, CUSPARSE_SPMM_CSR_ALG3}) {
          rows.push_back(probe(env, d, row_major, alg));
          print_row(rows.back());
        }
    }
    std::printf("\n");
    summarize(rows, first);
    if (std::none_of(rows.begin() + static_cast<std::ptrdiff_t>(first), rows.end(),
                     [](const ProbeRow& r) { return r.status == "ok"; })) {
      std::printf("no configuration ran on this case\n");
      ++unprobed;
    }
  }
  std::printf("\n%zu rows in %.1f s\n", rows.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::size_t inexact = 0;
  for (const ProbeRow& r : rows) inexact += r.status == "ok" && r.exact != "pass";
  if (inexact) std::printf("%zu configuration(s) gave an inexact product on integer data\n", inexact);
  std::size_t reads_c = 0;  // informational: the library runs beta 1 onto a zeroed C either way
  for (const ProbeRow& r : rows) reads_c += r.status == "ok" && r.beta0_nan == "FAIL";
  if (reads_c) std::printf("%zu configuration(s) read C with beta 0 (NaN in C reached the product)\n", reads_c);
  if (unprobed) std::printf("%zu case(s) not probed\n", unprobed);
  const int status = inexact || unprobed ? 1 : 0;
  if (opt.json.empty()) return status;
  const std::string header = "\"program\": \"convkit-spmm-probe\", \"version\": " +
                             json_string(CONVKIT_VERSION_STRING) + ", \"device\": " + json_string(dev.name) +
                             ", \"date\": " + json_string(date) + ", \"versions\": " + json_string(versions) +
                             ", \"max_runs\": " + std::to_string(opt.reps);
  if (!write_json(opt.json, header, rows)) return 1;
  std::printf("JSON: %s\n", opt.json.c_str());
  return status;
}

}  // namespace
}  // namespace convkit::bench

int main(int argc, char** argv) {
  try {
    return convkit::bench::run(argc, argv);
  } catch (const convkit::bench::SparseFailure& e) {  // outside a configuration: the handle itself
    std::fprintf(stderr, "convkit-spmm-probe: %s\n", e.what.c_str());
  } catch (const std::exception& e) {  // CUDA errors (cuda_check) and anything unexpected abort the run
    std::fprintf(stderr, "convkit-spmm-probe: %s\n", e.what());
  }
  return 1;
}
