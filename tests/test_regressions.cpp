// CPU tests of the regression file (regressions.hpp): the entries are
// well-formed, the "run" entries stay small enough for every path's sweep
// (those sweeps live beside each path's other checks: test_direct.cpp,
// test_im2col.cpp, test_toeplitz.cpp, test_regressions_gpu.cpp), and every
// entry's queries -- output_shape, supports, workspace_bytes for each
// Algorithm and dtype, toeplitz::info -- answer with a value or a
// convkit::Error, agree with each other, and never report a size that
// wrapped around 64 bits.
#include "regressions.hpp"

#include "im2col_gemm.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

namespace convkit::test {
namespace {

constexpr Algorithm kAlgorithms[] = {Algorithm::Auto,           Algorithm::Direct, Algorithm::Im2colGemm,
                                     Algorithm::SparseToeplitz, Algorithm::Fft,    Algorithm::Reference};

// The status of f(), or Success when it returns; anything not a convkit::Error
// escapes and fails the test.
template <class F>
Status status_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.status();
  }
  return Status::Success;
}

// Lower bound on a size that must not wrap: a·b·c bytes, saturated.
std::size_t at_least(double a, double b, double c) {
  const double v = a * b * c;
  return v >= double(std::numeric_limits<std::size_t>::max()) ? std::numeric_limits<std::size_t>::max()
                                                               : static_cast<std::size_t>(v);
}

TEST(Regressions, EntriesAreWellFormed) {
  std::set<std::string> names;
  int runs = 0, queries = 0;
  for (const Regression& r : regressions()) {
    EXPECT_TRUE(names.insert(r.c.name).second) << "duplicate name " << r.c.name;
    EXPECT_FALSE(r.note.empty()) << r.c.name;
    if (r.use == RegressionUse::Query) {
      ++queries;
      continue;
    }
    ++runs;
    // A run entry is a valid problem small enough for the reference on every
    // path's sweep, in both dtypes, in well under a second.
    SCOPED_TRACE(r.c.name);
    ASSERT_NO_THROW(r.c.spec.output_shape(r.c.x, r.c.w));
    const ConvProblem p = r.c.spec.problem(r.c.x, r.c.w);
    EXPECT_LE(double(p.N) * p.K * p.out_spatial() * p.Cg() * p.ker_spatial(), 1e7);
  }
  EXPECT_GE(runs, 10);
  EXPECT_GE(queries, 5);
}

// Every query answers -- a value or a convkit::Error with the status the
// contract gives -- and the answers agree: an invalid problem is
// InvalidArgument from every entry point; a supported algorithm reports its
// workspace; an unsupported one is NotSupported there too. Each call must be
// fast: a closed form, not an enumeration of the outputs or nonzeros.
TEST(Regressions, QueriesAnswerQuicklyOnEveryEntry) {
  using clock = std::chrono::steady_clock;
  const double kSecondsPerCall = 5;  // a closed form answers in microseconds; an enumeration takes seconds
  for (const Regression& r : regressions()) {
    const ConvCase& c = r.c;
    SCOPED_TRACE(c.name + ": " + r.note);
    auto timed = [&](const char* what, auto&& f) {
      const auto t0 = clock::now();
      const Status s = status_of(f);
      const double sec = std::chrono::duration<double>(clock::now() - t0).count();
      EXPECT_LT(sec, kSecondsPerCall) << what << " took " << sec << " s";
      return s;
    };
    Shape ys;
    const Status valid = timed("output_shape", [&] { ys = c.spec.output_shape(c.x, c.w); });
    EXPECT_TRUE(valid == Status::Success || valid == Status::InvalidArgument) << status_name(valid);
    if (r.use == RegressionUse::Run) EXPECT_EQ(valid, Status::Success);
    for (DType t : {DType::F32, DType::F64}) {
      for (Algorithm a : kAlgorithms) {
        SCOPED_TRACE(std::string(algorithm_name(a)) + " " + dtype_name(t));
        Support s;
        const Status sup = timed("supports", [&] { s = supports(c.spec, c.x, c.w, t, a); });
        std::size_t bytes = 0;
        const Status ws = timed("workspace_bytes", [&] { bytes = workspace_bytes(c.spec, c.x, c.w, t, a); });
        if (valid != Status::Success) {
          EXPECT_EQ(sup, Status::InvalidArgument) << status_name(sup);
          EXPECT_EQ(ws, Status::InvalidArgument) << status_name(ws);
          continue;
        }
        ASSERT_EQ(sup, Status::Success) << "supports() of a valid problem threw " << status_name(sup);
        if (!s.ok) {
          EXPECT_FALSE(s.reason.empty());
          EXPECT_EQ(ws, Status::NotSupported) << status_name(ws);
          continue;
        }
        if (a != Algorithm::Reference) EXPECT_FALSE(s.variant.empty());  // the CPU oracle names no kernel
        EXPECT_EQ(ws, Status::Success) << "workspace_bytes of a supported algorithm: " << status_name(ws);
        // The column matrix holds at least every output position once per image.
        const ConvProblem p = c.spec.problem(c.x, c.w);
        if (a == Algorithm::Im2colGemm && ws == Status::Success && p.N > 0 && !detail::im2col_is_plain_gemm(p))
          EXPECT_GE(bytes, at_least(double(p.out_spatial()), double(p.ker_spatial()), double(dtype_size(t))))
              << "im2col workspace wrapped around";
      }
      if (valid != Status::Success) continue;
      toeplitz::Info in;
      const Status st = timed("toeplitz::info", [&] { in = toeplitz::info(c.spec, c.x, c.w, t); });
      if (st != Status::Success) continue;  // a refusal is an answer
      // The row pointers alone take (rows + 1) indices, the values one element per nonzero.
      const ConvProblem p = c.spec.problem(c.x, c.w);
      EXPECT_EQ(in.rows, p.K * p.out_spatial());
      EXPECT_GE(in.matrix_bytes, at_least(double(in.rows) + 1, 4, 1)) << "matrix bytes wrapped around";
      EXPECT_GE(in.matrix_bytes, at_least(double(in.nnz), double(dtype_size(t)), 1)) << "matrix bytes wrapped around";
    }
  }
}

}  // namespace
}  // namespace convkit::test
