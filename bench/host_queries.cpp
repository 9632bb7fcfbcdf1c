// convkit-host-queries: the host time of the questions a caller asks before
// any device work -- supports(Auto), workspace_bytes(Auto),
// choose_algorithm() and a ConvPlan's creation -- on long signals and huge
// paddings, where sizing the Toeplitz matrix used to walk every border output
// times every tap. These are CPU timings (steady_clock, median of --reps
// calls after a first, cold one), whatever machine runs them; a plan's creation needs a device and
// reads "needs a device" without one.
//
//   convkit-host-queries [--reps N] [--json FILE]
#include <convkit/convkit.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace convkit;

struct QueryCase {
  std::string name;
  ConvSpec spec;
  Shape x, w;
};

std::vector<QueryCase> cases() {
  const std::int64_t big = std::int64_t(1) << 62;
  return {
      {"1d 8192 * 8192 convolution full", ConvSpec::conv1d().mode(Mode::Convolution).padding(Padding::full()),
       {1, 1, 8192}, {1, 1, 8192}},
      {"1d 2^20, k=8193, same", ConvSpec::conv1d().padding(Padding::same()), {1, 1, 1 << 20}, {1, 1, 8193}},
      {"1d 65536 * 65536 full", ConvSpec::conv1d().padding(Padding::full()), {1, 1, 65536}, {1, 1, 65536}},
      {"1d 1 sample, pad (2^62, 0)", ConvSpec::conv1d().padding(Padding::per_dim({{big, 0}})), {1, 1, 1}, {1, 1, 1}},
      {"1d 2^24, k=4096, same, reflect", ConvSpec::conv1d().padding(Padding::same()).boundary(Boundary::Reflect),
       {1, 1, 1 << 24}, {1, 1, 4096}},
      {"2d 4096^2, k=31, same, replicate",
       ConvSpec::conv2d().padding(Padding::same()).boundary(Boundary::Replicate), {1, 1, 4096, 4096}, {1, 1, 31, 31}},
      {"2d resnet 3x3 56^2 64->64 N=64", ConvSpec::conv2d().padding(1), {64, 64, 56, 56}, {64, 64, 3, 3}},
  };
}

// Median wall time of `reps` calls of f, in microseconds; "" when f throws
// (the error's status is returned in `note`).
double median_us(int reps, const std::function<void()>& f, std::string& note) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      f();
    } catch (const Error& e) {
      note = e.status() == Status::NoDevice ? "needs a device" : std::string("error: ") + e.what();
      return -1;
    }
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--json") && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: convkit-host-queries [--reps N] [--json FILE]\n");
      return 2;
    }
  }
  std::printf("host time of the queries (CPU timings, median of %d calls, microseconds)\n", reps);
  std::printf("%-36s %12s %14s %14s %14s %16s  %s\n", "case", "first call", "supports(Auto)", "workspace", "choose_algo",
              "ConvPlan(Auto)", "Auto's choice");
  std::string json = "[\n";
  int failures = 0;
  for (const QueryCase& c : cases()) {
    std::string n1, n2, n3, n4, choice;
    Context ctx;
    // The first call is cold (the library caches a problem's Toeplitz sizes):
    // it is the one that used to walk the signal.
    std::string n0;
    const double cold = median_us(1, [&] { (void)supports(c.spec, c.x, c.w, DType::F32, Algorithm::Auto); }, n0);
    const double sup = median_us(reps, [&] { (void)supports(c.spec, c.x, c.w, DType::F32, Algorithm::Auto); }, n1);
    const double ws =
        median_us(reps, [&] { (void)workspace_bytes(c.spec, c.x, c.w, DType::F32, Algorithm::Auto); }, n2);
    const double ch = median_us(
        reps, [&] { choice = algorithm_name(choose_algorithm(ctx, c.spec, c.x, c.w, DType::F32).chosen); }, n3);
    const double plan =
        median_us(reps, [&] { ConvPlan p(ctx, c.spec, c.x, c.w, DType::F32, Algorithm::Auto); }, n4);
    auto cell = [](double v, const std::string& note) {
      char b[64];
      if (v < 0) return note.substr(0, 16);
      std::snprintf(b, sizeof b, "%.1f", v);
      return std::string(b);
    };
    std::printf("%-36s %12s %14s %14s %14s %16s  %s\n", c.name.c_str(), cell(cold, n0).c_str(), cell(sup, n1).c_str(), cell(ws, n2).c_str(),
                cell(ch, n3).c_str(), cell(plan, n4).c_str(), choice.c_str());
    for (const std::string* n : {&n0, &n1, &n2, &n3, &n4})
      if (n->rfind("error", 0) == 0) {
        std::printf("  %s\n", n->c_str());
        ++failures;
      }
    char line[512];
    std::snprintf(line, sizeof line,
                  "  {\"case\": \"%s\", \"first_supports_auto_us\": %.3f, \"supports_auto_us\": %.3f, \"workspace_bytes_auto_us\": %.3f, "
                  "\"choose_algorithm_us\": %.3f, \"plan_auto_us\": %.3f, \"choice\": \"%s\", \"timing\": \"cpu\"}",
                  c.name.c_str(), cold, sup, ws, ch, plan, choice.c_str());
    if (json.size() > 2) json += ",\n";
    json += line;
  }
  json += "\n]\n";
  if (!json_path.empty()) std::ofstream(json_path) << json;
  return failures ? 1 : 0;
}
