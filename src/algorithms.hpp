// The internal interface every algorithm implements, and the plan base class.
// conv.cpp validates, picks an algorithm and calls through an AlgorithmOps
// table; each algorithm lives in its own host file (direct.cpp,
// im2col_gemm.cpp, sparse_toeplitz.cpp) with its kernels in kernels/.
#pragma once

#include <convkit/choice.hpp>
#include <convkit/conv.hpp>
#include <convkit/spec.hpp>

#include "context_state.hpp"
#include "validate.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace convkit::detail {

class PlanImpl;

/// What conv.cpp needs from an algorithm. The problem passed in is already
/// validated; run() receives validated device pointers, N >= 1, and a
/// workspace limit already checked against workspace().
struct AlgorithmOps {
  Algorithm algo;
  Support (*supports)(const ConvProblem& p, DType t);
  /// Workspace for the whole batch at once (what workspace_bytes() reports).
  std::size_t (*workspace)(const ConvProblem& p, DType t);
  /// Least workspace the algorithm can run with (e.g. one image's columns);
  /// a context limit below it is WorkspaceTooSmall. run() must stay within
  /// max(min_workspace, min(workspace, ctx.workspace_limit)).
  std::size_t (*min_workspace)(const ConvProblem& p, DType t);
  void (*run)(ContextState& ctx, const ConvProblem& p, DType t, const Operands& ops);
  /// Builds a plan with prepared state; null means the generic plan (which
  /// keeps the weight pointers and calls run()).
  std::unique_ptr<PlanImpl> (*make_plan)(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p,
                                         DType t);
};

extern const AlgorithmOps kDirectOps;
extern const AlgorithmOps kIm2colGemmOps;
extern const AlgorithmOps kSparseToeplitzOps;

/// The ops of a concrete GPU algorithm; throws NotSupported for others.
const AlgorithmOps& ops_for(Algorithm a);

/// A plan for `ops`: its own make_plan when it has one, else the generic plan.
std::unique_ptr<PlanImpl> make_plan_impl(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p, DType t,
                                         const AlgorithmOps& ops);

/// Algorithm::Auto's choice (tuning.cpp): cost model, or the tuner when the
/// context has tuning on.
AlgorithmChoice choose(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p, DType t, bool for_plan);

/// Support{false, reason}: shorthand for algorithms' supports().
inline Support unsupported(std::string reason) { return Support{false, std::move(reason), {}}; }
inline Support supported(std::string variant = {}) { return Support{true, {}, std::move(variant)}; }

/// A prepared convolution. The generic implementation binds the weight
/// pointers and calls the algorithm's run(); algorithms with prepared state
/// (the Toeplitz matrix) derive from it.
class PlanImpl {
 public:
  PlanImpl(std::shared_ptr<ContextState> ctx, const ConvProblem& p, DType t, const AlgorithmOps& ops)
      : ctx_(std::move(ctx)), problem_(p), dtype_(t), ops_(ops) {}
  virtual ~PlanImpl() = default;

  /// w and b are validated device pointers (b null without bias).
  virtual void set_weights(const void* w, const void* b) {
    w_ = w;
    b_ = b;
  }
  /// x, y validated device pointers; weights bound.
  virtual void run(const void* x, void* y) {
    if (problem_.N == 0) return;
    ops_.run(*ctx_, problem_, dtype_, Operands{x, w_, b_, y});
  }
  virtual void run_transpose(const void* dy, void* dx);
  virtual std::size_t workspace_bytes() const { return ops_.workspace(problem_, dtype_); }
  /// The path it runs (Support::variant).
  virtual std::string variant() const { return ops_.supports(problem_, dtype_).variant; }

  const ConvProblem& problem() const { return problem_; }
  DType dtype() const { return dtype_; }
  Algorithm algorithm() const { return ops_.algo; }
  bool has_weights() const { return w_ != nullptr; }

  /// The caller's weight and bias views as last bound (for overlap checks).
  TensorArg bound_w, bound_b;

 protected:
  std::shared_ptr<ContextState> ctx_;
  ConvProblem problem_;
  DType dtype_;
  const AlgorithmOps& ops_;
  const void* w_ = nullptr;
  const void* b_ = nullptr;
};

}  // namespace convkit::detail
