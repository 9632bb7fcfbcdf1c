// The process-wide warning channel (include/convkit/warning.hpp) and the
// library's one way to emit a warning, detail::warn.
#include <convkit/warning.hpp>

#include "warning_internal.hpp"

#include <iostream>
#include <mutex>
#include <utility>

namespace convkit {
namespace {

std::mutex g_mutex;
WarningHandler g_handler;  // empty: stderr

}  // namespace

WarningHandler set_warning_handler(WarningHandler handler) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return std::exchange(g_handler, std::move(handler));
}

namespace detail {

void warn(const std::string& message) noexcept {
  try {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_handler)
      g_handler(message);
    else
      std::cerr << "convkit: warning: " << message << '\n';
  } catch (...) {
    // A warning must never turn into a failure of the call that raised it.
  }
}

}  // namespace detail
}  // namespace convkit
