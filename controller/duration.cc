#include "controller/duration.h"

#include <charconv>
#include <string>

namespace tg {

absl::StatusOr<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto invalid = [&] {
    return absl::InvalidArgumentError("invalid duration '" + std::string(text) +
                                      "': expected a number and a unit (ms, s, m), e.g. 200ms or 3s");
  };
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || value < 0) return invalid();
  const std::string_view unit(end, text.data() + text.size() - end);
  double ms;
  if (unit == "ms") {
    ms = value;
  } else if (unit == "s") {
    ms = value * 1000;
  } else if (unit == "m") {
    ms = value * 60000;
  } else {
    return invalid();
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms + 0.5));
}

}  // namespace tg
