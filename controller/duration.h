// Durations on command lines: a number followed by a unit, "200ms", "3s", "1.5s", "2m".
#pragma once

#include <chrono>
#include <string_view>

#include <absl/status/statusor.h>

namespace tg {

// INVALID_ARGUMENT naming the text and the accepted units for anything else, and for
// negative values.
absl::StatusOr<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace tg
