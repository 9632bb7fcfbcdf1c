// Algorithm::Auto, made visible: which algorithms were considered for a
// problem, which were excluded and why, the cost model's estimate and (when
// tuning) the measured time of each, and the one chosen.
#pragma once

#include <convkit/context.hpp>
#include <convkit/conv.hpp>
#include <convkit/export.hpp>
#include <convkit/spec.hpp>

#include <string>
#include <vector>

namespace convkit {

/// One candidate algorithm in a choice.
struct CandidateReport {
  Algorithm algorithm = Algorithm::Direct;
  bool considered = false;   ///< supported, fits the workspace and memory, allowed by the flags
  std::string excluded_because;  ///< why not considered (empty when considered)
  std::string variant;       ///< which kernel / path would serve it
  double estimated_ms = -1;  ///< cost model estimate (-1 when excluded)
  double measured_ms = -1;   ///< tuner measurement (-1 when not measured)
  /// The error its results carry, in words (empty when excluded): per element
  /// for most algorithms, normwise over each transform block for Fft.
  std::string expected_error;
};

/// What Algorithm::Auto chose and why.
struct AlgorithmChoice {
  Algorithm chosen = Algorithm::Direct;
  bool tuned = false;       ///< chosen by measurement (now or from the tuning cache)
  bool from_cache = false;  ///< the measurement came from the cache (memory or file)
  bool for_plan = false;    ///< costs are per ConvPlan::run (else per one-shot conv(), setup included)
  Direction direction = Direction::Forward;  ///< the pass chosen for
  std::string tuning_note;  ///< why tuning was asked for but not done (e.g. no memory for its operands)
  std::vector<CandidateReport> candidates;
  /// A human-readable table of the candidates and the choice.
  CONVKIT_EXPORT std::string explain() const;
};

/// The choice Algorithm::Auto makes for this problem on this context: by the
/// cost model, or, with ctx.tuning() on, by timing each candidate once per
/// key (device, library version, problem, dtype, TF32 flag, workspace limit)
/// and caching the result. `for_plan` selects the cost of ConvPlan::run
/// (setup excluded) rather than of a one-shot conv(). Throws InvalidArgument
/// for an invalid problem and NotSupported when no algorithm can run it.
/// Synchronises the context's stream only when it tunes a new key.
/// `dir` chooses for a backward pass of the same forward problem; each
/// direction is chosen (and tuned, and cached) on its own.
CONVKIT_EXPORT AlgorithmChoice choose_algorithm(Context& ctx, const ConvSpec& spec, const Shape& x,
                                                const Shape& w, DType dtype, bool for_plan = false,
                                                Direction dir = Direction::Forward);

/// The tuning-cache key of this problem on this context: device, library
/// version, problem, dtype, direction and the flags timings depend on. Lines
/// of a tuning file start with it.
CONVKIT_EXPORT std::string tuning_key(const Context& ctx, const ConvSpec& spec, const Shape& x, const Shape& w,
                                      DType dtype, Direction dir = Direction::Forward);

/// Forgets every tuning result held in memory (files are left alone).
CONVKIT_EXPORT void clear_tuning_cache();

}  // namespace convkit
