#include "devices/units.h"

#include <cctype>
#include <limits>

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

namespace tg {

absl::StatusOr<uint64_t> parse_bytes(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid size '", std::string(text), "': ", std::string(why),
                     " (expected e.g. 4096, 512K, 512M, 2G, 1T, 512MiB)"));
  };
  size_t digits = 0;
  uint64_t number = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    const uint64_t digit = static_cast<uint64_t>(text[digits] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) return bad("too large");
    number = number * 10 + digit;
    ++digits;
  }
  if (digits == 0) return bad("no number");
  const std::string suffix = absl::AsciiStrToUpper(std::string(text.substr(digits)));
  int shift = -1;
  for (auto [name, bits] : {std::pair{"", 0},
                            {"B", 0},
                            {"K", 10},
                            {"KIB", 10},
                            {"M", 20},
                            {"MIB", 20},
                            {"G", 30},
                            {"GIB", 30},
                            {"T", 40},
                            {"TIB", 40}}) {
    if (suffix == name) shift = bits;
  }
  if (shift < 0) return bad("unknown unit");
  if (shift > 0 && number > (std::numeric_limits<uint64_t>::max() >> shift))
    return bad("too large");
  return number << shift;
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

}  // namespace tg
