// Moved-from objects that only a device can make: a ConvPlan (its
// constructor needs a device) and a built DeviceMatrix throw InvalidArgument
// ("used after move") from every member instead of dereferencing null, while
// the object they moved into keeps working. The host-side guards are in
// test_moved_from.cpp.
#include "harness.hpp"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace convkit::test {
namespace {

void expect_used_after_move(const std::function<void()>& call, const std::string& member) {
  try {
    call();
    ADD_FAILURE() << member << " on a moved-from object did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(member), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("used after move"), std::string::npos) << e.what();
  }
}

TEST(MovedFromGpu, ConvPlanThrowsOnEveryMember) {
  CONVKIT_REQUIRE_GPU();
  const ConvSpec spec = ConvSpec::conv1d().bias(true);
  const Shape xs{2, 1, 9}, ws{1, 1, 3};  // y: [2, 1, 7]
  Context ctx;
  const auto hx = random_ints<float>(xs, 3), hw = random_ints<float>(ws, 4), hb = random_ints<float>({1}, 5);
  auto x = DeviceTensor<float>::from_host(ctx, hx);
  auto w = DeviceTensor<float>::from_host(ctx, hw);
  auto b = DeviceTensor<float>::from_host(ctx, hb);
  DeviceTensor<float> y(ctx, {2, 1, 7});
  for (Algorithm a : {Algorithm::Direct, Algorithm::Im2colGemm, Algorithm::SparseToeplitz}) {
    SCOPED_TRACE(algorithm_name(a));
    ConvPlan p(ctx, spec, xs, ws, DType::F32, a);
    p.set_weights(w.view(), b.view());
    ConvPlan q(std::move(p));
    const std::vector<std::pair<const char*, std::function<void()>>> members = {
        {"set_weights", [&] { p.set_weights(w.view(), b.view()); }},
        {"run", [&] { p.run(x.view(), y.view()); }},
        {"run_transpose", [&] { p.run_transpose(y.view(), x.view()); }},
        {"problem", [&] { p.problem(); }},
        {"algorithm", [&] { p.algorithm(); }},
        {"dtype", [&] { p.dtype(); }},
        {"workspace_bytes", [&] { p.workspace_bytes(); }},
        {"variant", [&] { p.variant(); }},
    };
    for (const auto& [name, call] : members) {
      SCOPED_TRACE(name);
      expect_used_after_move(call, std::string("ConvPlan::") + name);
    }
    // The plan moved into runs with the weights bound before the move.
    q.run(x.view(), y.view());
    const auto want = expected_output<float>(spec, hx, hw, &hb);
    EXPECT_TRUE(compare(y.to_host(), want.y, nullptr, 0.0));  // small integers: exact
    // Move assignment leaves its source moved-from; assigning revives it.
    ConvPlan r(ctx, spec, xs, ws, DType::F32, a);
    r = std::move(q);
    expect_used_after_move([&] { q.run(x.view(), y.view()); }, "ConvPlan::run");
    q = ConvPlan(ctx, spec, xs, ws, DType::F32, a);
    EXPECT_EQ(q.algorithm(), a);
  }
}

TEST(MovedFromGpu, BuiltDeviceMatrixThrowsOnEveryMember) {
  CONVKIT_REQUIRE_GPU();
  Context ctx;
  const auto hw = random_ints<float>({1, 1, 3}, 6);
  auto w = DeviceTensor<float>::from_host(ctx, hw);
  auto a = toeplitz::build_device(ctx, ConvSpec::conv1d(), {1, 1, 5}, w.view());
  toeplitz::DeviceMatrix<float> b(std::move(a));
  const std::vector<std::pair<const char*, std::function<void()>>> members = {
      {"info", [&] { a.info(); }},       {"rows", [&] { a.rows(); }},
      {"cols", [&] { a.cols(); }},       {"nnz", [&] { a.nnz(); }},
      {"bytes", [&] { a.bytes(); }},     {"values", [&] { a.values(); }},
      {"row_ptr", [&] { a.row_ptr(); }}, {"col_ind", [&] { a.col_ind(); }},
      {"refill", [&] { a.refill(w.view()); }}, {"to_host", [&] { a.to_host(); }},
  };
  for (const auto& [name, call] : members) {
    SCOPED_TRACE(name);
    expect_used_after_move(call, std::string("DeviceMatrix::") + name);
  }
  EXPECT_EQ(b.nnz(), 9);
  EXPECT_EQ(b.to_host().to_dense(), toeplitz::build(ConvSpec::conv1d(), {1, 1, 5}, hw.view()).to_dense());
}

}  // namespace
}  // namespace convkit::test
