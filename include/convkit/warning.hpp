// Warnings: what convkit reports without failing a call (today: tuning-file
// lines it skipped). By default they go to stderr as
// "convkit: warning: <message>"; an application routes them to its own log,
// collects them, or silences them with set_warning_handler().
#pragma once

#include <convkit/export.hpp>

#include <functional>
#include <string>

namespace convkit {

/// Receives each warning's message (without the "convkit: warning: " prefix).
using WarningHandler = std::function<void(const std::string& message)>;

/// Installs the process-wide warning handler and returns the previous one
/// (empty when it was the default). An empty handler restores the default,
/// stderr. Thread-safe; the handler may be called from any thread that uses
/// convkit, one call at a time, and must not throw (an exception it throws is
/// dropped).
CONVKIT_EXPORT WarningHandler set_warning_handler(WarningHandler handler);

}  // namespace convkit
