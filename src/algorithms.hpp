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

/// Operands of a backward call: validated device pointers.
///  - Direction::BackwardData:   dy, w  -> out = dx (x unused)
///  - Direction::BackwardFilter: x, dy  -> out = dw (w unused)
/// accumulate: out += gradient (beta 1); otherwise out = gradient and out is
/// never read (beta 0).
struct GradOperands {
  const void* x = nullptr;
  const void* w = nullptr;
  const void* dy = nullptr;
  void* out = nullptr;
  bool accumulate = false;
};

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

  // The backward directions (BackwardData, BackwardFilter), same contracts as
  // the forward members above with `d` added. A null supports_backward means
  // the algorithm has no backward path yet (NotSupported, with that reason).
  // run_backward receives N >= 1 (backward-filter with N = 0 is handled by
  // the caller: dw = beta·dw).
  Support (*supports_backward)(const ConvProblem& p, DType t, Direction d) = nullptr;
  std::size_t (*workspace_backward)(const ConvProblem& p, DType t, Direction d) = nullptr;
  std::size_t (*min_workspace_backward)(const ConvProblem& p, DType t, Direction d) = nullptr;
  void (*run_backward)(ContextState& ctx, const ConvProblem& p, DType t, Direction d,
                       const GradOperands& ops) = nullptr;
};

/// Support of `ops` for direction `d` (forward or backward) of a validated problem.
Support supports_direction(const AlgorithmOps& ops, const ConvProblem& p, DType t, Direction d);
/// Workspace of `ops` for direction `d`, whole batch / least it runs with.
std::size_t workspace_direction(const AlgorithmOps& ops, const ConvProblem& p, DType t, Direction d);
std::size_t min_workspace_direction(const AlgorithmOps& ops, const ConvProblem& p, DType t, Direction d);
/// Runs direction `d`: forward with Operands{x, w, b, y}, backward with `g`.
void run_direction(const AlgorithmOps& ops, ContextState& ctx, const ConvProblem& p, DType t, Direction d,
                   const Operands& fwd, const GradOperands& g);

/// db[k] = (accumulate ? db[k] : 0) + Σ_n Σ_q dy[n,k,q] for dy [N, K, Q] on
/// the context's stream: the deterministic reduction of
/// conv_backward_bias (direct_backward.cpp). N, K, Q >= 0; with N·Q = 0 it
/// still writes db (zeros, or leaves it under accumulate).
void run_backward_bias(ContextState& ctx, DType t, std::int64_t N, std::int64_t K, std::int64_t Q, const void* dy,
                       void* db, bool accumulate);

/// y[n,c,q] += bias[c] for y [N, C, Q] on the context's stream (the bias of
/// conv_transpose, added once the adjoint has written y).
void add_channel_bias(ContextState& ctx, DType t, std::int64_t N, std::int64_t C, std::int64_t Q, const void* bias,
                      void* y);

extern const AlgorithmOps kDirectOps;
extern const AlgorithmOps kIm2colGemmOps;
extern const AlgorithmOps kSparseToeplitzOps;
extern const AlgorithmOps kFftOps;

/// The ops of a concrete GPU algorithm; throws NotSupported for others.
const AlgorithmOps& ops_for(Algorithm a);

/// A plan for `ops`: its own make_plan when it has one, else the generic plan.
std::unique_ptr<PlanImpl> make_plan_impl(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p, DType t,
                                         const AlgorithmOps& ops);

/// Algorithm::Auto's choice (tuning.cpp): cost model, or the tuner when the
/// context has tuning on.
AlgorithmChoice choose(const std::shared_ptr<ContextState>& ctx, const ConvProblem& p, DType t, bool for_plan,
                       Direction d = Direction::Forward);

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
  /// Backward passes with the plan's algorithm (validated pointers; N >= 1
  /// is not guaranteed). The generic plan calls run_backward with the bound
  /// weights; the Toeplitz plan overrides backward-data with Tᵀ·dy.
  virtual void run_backward_data(const void* dy, void* dx, bool accumulate);
  virtual void run_backward_filter(const void* x, const void* dy, void* dw, bool accumulate);
  virtual std::size_t workspace_bytes() const { return ops_.workspace(problem_, dtype_); }
  /// The path it runs (Support::variant).
  virtual std::string variant() const { return ops_.supports(problem_, dtype_).variant; }

  const ConvProblem& problem() const { return problem_; }
  DType dtype() const { return dtype_; }
  Algorithm algorithm() const { return ops_.algo; }
  bool has_weights() const { return w_ != nullptr; }
  ContextState* context() const { return ctx_.get(); }

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
