#include "devices/topology/kfd_properties.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>

namespace tg {

absl::StatusOr<KfdProperties> KfdProperties::read(const std::filesystem::path& file,
                                                  std::string display) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat(display, ": missing or unreadable"));
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), std::move(display));
}

absl::StatusOr<KfdProperties> KfdProperties::parse(std::string_view text, std::string display) {
  KfdProperties props;
  props.display_ = std::move(display);
  int line_number = 0;
  const absl::string_view all(text.data(), text.size());
  for (absl::string_view line : absl::StrSplit(all, '\n')) {
    ++line_number;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) continue;
    const std::string where = absl::StrCat(props.display_, ":", line_number);
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected '<key> <number>', got '", line, "'"));
    }
    uint64_t value = 0;
    const absl::string_view digits = fields[1];
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": bad value '", digits, "' for '",
                                                     fields[0],
                                                     "' (expected an unsigned decimal number)"));
    }
    if (!props.values_.emplace(std::string(fields[0]), Value{value, line_number}).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": key '", fields[0], "' given twice"));
    }
  }
  return props;
}

bool KfdProperties::has(std::string_view key) const { return values_.find(key) != values_.end(); }

absl::StatusOr<uint64_t> KfdProperties::get(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    return absl::NotFoundError(absl::StrCat(display_, ": missing key '", std::string(key), "'"));
  }
  return it->second.value;
}

uint64_t KfdProperties::get_or(std::string_view key, uint64_t fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second.value;
}

std::string KfdProperties::where(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return display_;
  return absl::StrCat(display_, ":", it->second.line);
}

}  // namespace tg
