// detail::warn: how library code reports a warning (src/warning.cpp).
#pragma once

#include <string>

namespace convkit::detail {

/// Passes `message` to the installed warning handler (stderr by default).
void warn(const std::string& message) noexcept;

}  // namespace convkit::detail
