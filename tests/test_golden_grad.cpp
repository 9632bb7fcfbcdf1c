// Golden gradient tests: the CPU reference's three gradients, the
// transposed convolution (Algorithm::Reference, with and without a bias) and
// conv_transpose_output_shape against cases computed by NumPy
// (tests/data/golden_grad.txt, written by tests/data/make_golden_grad.py from
// straight loops over an input extended by np.pad, no convkit index code).
// Every value is a small integer, so float and double must match exactly.
#include "harness.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

struct GoldenTensor {
  Shape shape;
  std::vector<double> values;
};

struct GradCase {
  std::string name;
  ConvSpec spec = ConvSpec(1);
  std::string boundary;
  std::vector<std::int64_t> output_padding;
  std::map<std::string, GoldenTensor> t;  // x, w, dy, y, dx, dw, db, tbias, ty
};

GoldenTensor read_tensor(std::istringstream& in) {
  GoldenTensor t;
  int rank = 0;
  in >> rank;
  for (int i = 0; i < rank && in; ++i) {
    std::int64_t s = 0;
    in >> s;
    t.shape.push_back(s);
  }
  if (!in) return t;
  t.values.resize(static_cast<std::size_t>(t.shape.numel()));
  for (double& v : t.values) in >> v;
  return t;
}

std::vector<std::int64_t> read_ints(std::istringstream& in, int n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (auto& e : v) in >> e;
  return v;
}

Boundary parse_boundary(const std::string& b, bool* ok) {
  *ok = true;
  if (b == "zeros") return Boundary::Zeros;
  if (b == "circular") return Boundary::Circular;
  if (b == "reflect") return Boundary::Reflect;
  if (b == "replicate") return Boundary::Replicate;
  if (b == "symmetric") return Boundary::Symmetric;
  *ok = false;
  return Boundary::Zeros;
}

// Parses golden_grad.txt; a malformed file fails the test that reads it.
std::vector<GradCase> load_cases(std::string* error) {
  const std::string path = std::string(CONVKIT_TEST_DATA_DIR) + "/golden_grad.txt";
  std::ifstream f(path);
  if (!f) {
    *error = "cannot open " + path;
    return {};
  }
  static const char* kTensors[] = {"x", "w", "dy", "y", "dx", "dw", "db", "tbias", "ty"};
  std::vector<GradCase> cases;
  GradCase c;
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
    const std::string where = "line " + std::to_string(lineno) + ": ";
    if (key == "case") {
      c = GradCase{};
      in >> c.name;
      open = true;
    } else if (!open) {
      *error = where + "'" + key + "' outside a case";
      return {};
    } else if (key == "dims") {
      in >> dims;
      if (dims < 1 || dims > 3) {
        *error = where + "dims must be 1..3";
        return {};
      }
      c.spec = ConvSpec(dims);
    } else if (key == "mode") {
      std::string m;
      in >> m;
      if (m != "convolution" && m != "cross-correlation") {
        *error = where + "unknown mode '" + m + "'";
        return {};
      }
      c.spec.mode(m == "convolution" ? Mode::Convolution : Mode::CrossCorrelation);
    } else if (key == "boundary") {
      in >> c.boundary;
      bool ok = false;
      c.spec.boundary(parse_boundary(c.boundary, &ok));
      if (!ok) {
        *error = where + "unknown boundary '" + c.boundary + "'";
        return {};
      }
    } else if (key == "padding") {
      const auto v = read_ints(in, 2 * dims);
      std::vector<std::pair<std::int64_t, std::int64_t>> lohi;
      for (int i = 0; i < dims; ++i) lohi.emplace_back(v[2 * i], v[2 * i + 1]);
      c.spec.padding(Padding::per_dim(lohi));
    } else if (key == "stride") {
      c.spec.stride(read_ints(in, dims));
    } else if (key == "dilation") {
      c.spec.dilation(read_ints(in, dims));
    } else if (key == "groups") {
      std::int64_t g = 0;
      in >> g;
      c.spec.groups(g);
    } else if (key == "output_padding") {
      c.output_padding = read_ints(in, dims);
    } else if (std::find(std::begin(kTensors), std::end(kTensors), key) != std::end(kTensors)) {
      c.t[key] = read_tensor(in);
    } else if (key == "end") {
      for (const char* name : kTensors)
        if (!c.t.count(name)) {
          *error = where + "case " + c.name + " has no '" + name + "'";
          return {};
        }
      cases.push_back(c);
      open = false;
    } else {
      *error = where + "unknown key '" + key + "'";
      return {};
    }
    if (in.fail()) {
      *error = where + "malformed '" + key + "' line";
      return {};
    }
  }
  if (open) *error = "the last case has no 'end'";
  return cases;
}

template <class T>
HostTensor<T> to_host(const GoldenTensor& g) {
  HostTensor<T> t(g.shape);
  for (std::size_t i = 0; i < g.values.size(); ++i) t[static_cast<std::int64_t>(i)] = static_cast<T>(g.values[i]);
  return t;
}

// NaN everywhere: beta 0 must overwrite every element.
template <class T>
HostTensor<T> nan_tensor(const Shape& s) {
  HostTensor<T> t(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = std::numeric_limits<T>::quiet_NaN();
  return t;
}

template <class T>
void check_case(const GradCase& c) {
  SCOPED_TRACE(c.name + " (" + dtype_name(dtype_v<T>) + ", " + c.spec.str() + ")");
  const auto x = to_host<T>(c.t.at("x")), w = to_host<T>(c.t.at("w")), dy = to_host<T>(c.t.at("dy"));
  const auto y = to_host<T>(c.t.at("y")), dx = to_host<T>(c.t.at("dx")), dw = to_host<T>(c.t.at("dw"));
  const auto db = to_host<T>(c.t.at("db")), tbias = to_host<T>(c.t.at("tbias")), ty = to_host<T>(c.t.at("ty"));
  ASSERT_EQ(c.spec.output_shape(x.shape(), w.shape()), dy.shape());

  // The forward, for the boundary modes golden.txt does not cover.
  HostTensor<T> got_y = nan_tensor<T>(y.shape());
  reference::conv(c.spec, x.view(), w.view(), got_y.view());
  EXPECT_TRUE(compare(got_y, y, nullptr, 0.0)) << "forward y";

  HostTensor<T> got_dx = nan_tensor<T>(dx.shape()), got_dw = nan_tensor<T>(dw.shape());
  HostTensor<T> got_db = nan_tensor<T>(db.shape());
  reference::conv_backward_data(c.spec, dy.view(), w.view(), got_dx.view(), 0.0);
  reference::conv_backward_filter(c.spec, x.view(), dy.view(), got_dw.view(), 0.0);
  reference::conv_backward_bias(dy.view(), got_db.view(), 0.0);
  EXPECT_TRUE(compare(got_dx, dx, nullptr, 0.0)) << "reference::conv_backward_data";
  EXPECT_TRUE(compare(got_dw, dw, nullptr, 0.0)) << "reference::conv_backward_filter";
  EXPECT_TRUE(compare(got_db, db, nullptr, 0.0)) << "reference::conv_backward_bias";

  // The public entry points' Reference paths, host tensors.
  Context ctx;
  HostTensor<T> api_dx = nan_tensor<T>(dx.shape()), api_dw = nan_tensor<T>(dw.shape());
  conv_backward_data(ctx, c.spec, dy.view(), w.view(), api_dx.view(), Algorithm::Reference);
  conv_backward_filter(ctx, c.spec, x.view(), dy.view(), api_dw.view(), Algorithm::Reference);
  EXPECT_TRUE(compare(api_dx, dx, nullptr, 0.0)) << "conv_backward_data(Reference)";
  EXPECT_TRUE(compare(api_dw, dw, nullptr, 0.0)) << "conv_backward_filter(Reference)";

  // The transposed convolution: dy plays the input, dx's shape the output.
  EXPECT_EQ(conv_transpose_output_shape(c.spec, dy.shape(), w.shape(), c.output_padding), dx.shape())
      << "output_padding " << ::testing::PrintToString(c.output_padding);
  HostTensor<T> t_nobias = nan_tensor<T>(dx.shape());
  conv_transpose(ctx, c.spec, dy.view(), w.view(), TensorArg(), t_nobias.view(), Algorithm::Reference);
  EXPECT_TRUE(compare(t_nobias, dx, nullptr, 0.0)) << "conv_transpose without bias";
  ConvSpec with_bias = c.spec;
  with_bias.bias(true);
  HostTensor<T> t_bias = nan_tensor<T>(ty.shape());
  conv_transpose(ctx, with_bias, dy.view(), w.view(), tbias.view(), t_bias.view(), Algorithm::Reference);
  EXPECT_TRUE(compare(t_bias, ty, nullptr, 0.0)) << "conv_transpose with bias";
}

TEST(GoldenGrad, FileParsesAndCoversEveryFamily) {
  std::string error;
  const std::vector<GradCase> cases = load_cases(&error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_GE(cases.size(), 12u);
  // Each boundary in 1-D and in 2-D; both modes; stride, dilation, groups,
  // asymmetric padding and a nonzero output_padding somewhere.
  std::map<std::string, int> seen;
  int conv = 0, corr = 0, strided = 0, dilated = 0, grouped = 0, asym = 0, op = 0;
  for (const GradCase& c : cases) {
    ++seen[std::to_string(c.spec.dims()) + "d " + c.boundary];
    (c.spec.mode() == Mode::Convolution ? conv : corr)++;
    const ConvProblem p = c.spec.problem(c.t.at("x").shape, c.t.at("w").shape);
    bool s = false, d = false, a = false, o = false;
    for (int i = 0; i < c.spec.dims(); ++i) {
      s |= c.spec.stride_at(i) > 1;
      d |= c.spec.dilation_at(i) > 1;
      a |= p.pad_lo[i] != p.pad_hi[i];
      o |= c.output_padding[static_cast<std::size_t>(i)] != 0;
    }
    strided += s;
    dilated += d;
    asym += a;
    op += o;
    grouped += c.spec.groups() > 1;
  }
  for (const char* dim : {"1d ", "2d "})
    for (const char* b : {"zeros", "circular", "reflect", "replicate", "symmetric"})
      EXPECT_GT(seen[std::string(dim) + b], 0) << dim << b;
  EXPECT_GT(conv, 0);
  EXPECT_GT(corr, 0);
  EXPECT_GT(strided, 0);
  EXPECT_GT(dilated, 0);
  EXPECT_GT(grouped, 0);
  EXPECT_GT(asym, 0);
  EXPECT_GT(op, 0);
}

TEST(GoldenGrad, ReferenceAndTransposeMatchNumpy) {
  std::string error;
  const std::vector<GradCase> cases = load_cases(&error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_FALSE(cases.empty());
  for (const GradCase& c : cases) {
    check_case<float>(c);
    check_case<double>(c);
  }
}

}  // namespace
}  // namespace convkit::test
