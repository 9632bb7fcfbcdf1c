// Which algorithms give bit-identical results run to run: the table Auto's
// determinism filter (Context::set_deterministic) reads, in tuning.cpp. Every
// algorithm Auto may pick is deterministic today, so the filter would never
// exclude anything; the override lets a CPU test mark one candidate
// non-deterministic and check that the filter excludes it, with its reason.
#pragma once

#include <convkit/conv.hpp>
#include <convkit/export.hpp>

namespace convkit::detail {

/// Whether `a`'s results in direction `d` are bit-identical run to run (the table in
/// tuning.cpp, or a test's override).
CONVKIT_EXPORT bool is_deterministic(Algorithm a, Direction d = Direction::Forward);

/// Test hook: is_deterministic(a) answers `bit_identical` until the overrides
/// are cleared. Process-wide; guarded by a mutex.
CONVKIT_EXPORT void override_determinism_for_testing(Algorithm a, bool bit_identical);

/// Drops every override: the table answers again.
CONVKIT_EXPORT void clear_determinism_overrides_for_testing();

}  // namespace convkit::detail
