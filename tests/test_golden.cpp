// Golden tests: the CPU reference against cases computed by SciPy
// (tests/data/golden.txt, written by tests/data/make_golden.py; the script
// documents how each SciPy mode maps onto a ConvSpec). Small-integer cases
// must match exactly in both float and double; random float64 cases within
// 1e-12 of the sum of the magnitudes of each output's terms.
#include "harness.hpp"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

struct GoldenTensor {
  Shape shape;
  std::vector<double> values;
};

struct GoldenCase {
  std::string name;
  std::string kind;  // "int" or "f64"
  ConvSpec spec = ConvSpec(2);
  GoldenTensor x, w, y;
};

// Reads "<rank> <sizes...> <values...>" after the tag.
GoldenTensor read_tensor(std::istringstream& in) {
  GoldenTensor t;
  int rank = 0;
  in >> rank;
  for (int i = 0; i < rank; ++i) {
    std::int64_t s = 0;
    in >> s;
    t.shape.push_back(s);
  }
  t.values.resize(static_cast<std::size_t>(t.shape.numel()));
  // strtod-style parsing of the shortest round-trip repr gives the exact double.
  for (double& v : t.values) {
    std::string tok;
    in >> tok;
    v = std::stod(tok);
  }
  return t;
}

// Parses golden.txt; a malformed file fails the test that reads it.
std::vector<GoldenCase> load_cases(std::string* error) {
  const std::string path = std::string(CONVKIT_TEST_DATA_DIR) + "/golden.txt";
  std::ifstream f(path);
  if (!f) {
    *error = "cannot open " + path;
    return {};
  }
  std::vector<GoldenCase> cases;
  GoldenCase c;
  int dims = 0;
  bool open = false;
  std::string line;
  int lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key == "case") {
      c = GoldenCase{};
      in >> c.name;
      open = true;
    } else if (!open) {
      *error = "line " + std::to_string(lineno) + ": '" + key + "' outside a case";
      return {};
    } else if (key == "kind") {
      in >> c.kind;
    } else if (key == "dims") {
      in >> dims;
      c.spec = ConvSpec(dims);
    } else if (key == "mode") {
      std::string m;
      in >> m;
      c.spec.mode(m == "convolution" ? Mode::Convolution : Mode::CrossCorrelation);
    } else if (key == "boundary") {
      std::string b;
      in >> b;
      c.spec.boundary(b == "circular" ? Boundary::Circular : Boundary::Zeros);
    } else if (key == "padding") {
      std::string p;
      in >> p;
      if (p == "valid") {
        c.spec.padding(Padding::valid());
      } else if (p == "same") {
        c.spec.padding(Padding::same());
      } else if (p == "full") {
        c.spec.padding(Padding::full());
      } else {
        std::int64_t v[6] = {0, 0, 0, 0, 0, 0};
        for (int i = 0; i < 2 * dims; ++i) in >> v[i];
        if (dims == 1) c.spec.padding(Padding::per_dim({{v[0], v[1]}}));
        if (dims == 2) c.spec.padding(Padding::per_dim({{v[0], v[1]}, {v[2], v[3]}}));
        if (dims == 3) c.spec.padding(Padding::per_dim({{v[0], v[1]}, {v[2], v[3]}, {v[4], v[5]}}));
      }
    } else if (key == "x") {
      c.x = read_tensor(in);
    } else if (key == "w") {
      c.w = read_tensor(in);
    } else if (key == "y") {
      c.y = read_tensor(in);
    } else if (key == "end") {
      cases.push_back(c);
      open = false;
    } else {
      *error = "line " + std::to_string(lineno) + ": unknown key '" + key + "'";
      return {};
    }
    if (in.fail()) {
      *error = "line " + std::to_string(lineno) + ": malformed '" + key + "' line";
      return {};
    }
  }
  return cases;
}

template <class T>
HostTensor<T> to_host(const GoldenTensor& g) {
  HostTensor<T> t(g.shape);
  for (std::size_t i = 0; i < g.values.size(); ++i) t[static_cast<std::int64_t>(i)] = static_cast<T>(g.values[i]);
  return t;
}

// Runs one case in dtype T; tol_factor 0 means exact.
template <class T>
void check_case(const GoldenCase& c, double tol_factor) {
  SCOPED_TRACE(c.name + " (" + dtype_name(dtype_v<T>) + ", " + c.spec.str() + ")");
  const HostTensor<T> x = to_host<T>(c.x), w = to_host<T>(c.w), want = to_host<T>(c.y);
  ASSERT_EQ(c.spec.output_shape(x.shape(), w.shape()), want.shape());
  const Expected<T> got = expected_output<T>(c.spec, x, w, nullptr);
  EXPECT_TRUE(compare(got.y, want, &got.magnitude, tol_factor));
}

TEST(Golden, FileParsesAndCoversEveryFamily) {
  std::string error;
  const std::vector<GoldenCase> cases = load_cases(&error);
  ASSERT_TRUE(error.empty()) << error;
  // The script writes 1-D, 2-D and 3-D cases, integer and float64, both modes,
  // zero and circular boundaries, every named padding and explicit padding.
  int dims_seen[4] = {0, 0, 0, 0}, ints = 0, f64 = 0, conv = 0, corr = 0, circ = 0;
  int named[4] = {0, 0, 0, 0};
  for (const GoldenCase& c : cases) {
    ++dims_seen[c.spec.dims()];
    (c.kind == "int" ? ints : f64)++;
    (c.spec.mode() == Mode::Convolution ? conv : corr)++;
    circ += c.spec.boundary() == Boundary::Circular;
    ++named[static_cast<int>(c.spec.padding().kind())];
  }
  EXPECT_GE(cases.size(), 40u);
  EXPECT_GT(dims_seen[1], 0);
  EXPECT_GT(dims_seen[2], 0);
  EXPECT_GT(dims_seen[3], 0);
  EXPECT_GT(ints, 0);
  EXPECT_GT(f64, 0);
  EXPECT_GT(conv, 0);
  EXPECT_GT(corr, 0);
  EXPECT_GT(circ, 0);
  for (int k = 0; k < 4; ++k) EXPECT_GT(named[k], 0) << "padding kind " << k;
}

TEST(Golden, ReferenceMatchesScipy) {
  std::string error;
  const std::vector<GoldenCase> cases = load_cases(&error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_FALSE(cases.empty());
  for (const GoldenCase& c : cases) {
    if (c.kind == "int") {
      // Integer sums are exact in either dtype, so any difference is a bug.
      check_case<float>(c, 0.0);
      check_case<double>(c, 0.0);
    } else {
      // SciPy sums in another order; both are float64, so only rounding differs.
      check_case<double>(c, 1e-12);
    }
  }
}

}  // namespace
}  // namespace convkit::test
