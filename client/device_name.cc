#include "client/device_name.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>

namespace tg {

absl::StatusOr<ParsedDevice> parse_device_name(absl::string_view text) {
  ParsedDevice parsed;
  size_t split = text.rfind('/');
  if (split == absl::string_view::npos) {
    split = text.rfind(':');
    parsed.old_form = true;
  }
  uint32_t index = 0;
  const absl::string_view digits =
      split == absl::string_view::npos ? absl::string_view() : text.substr(split + 1);
  const bool decimal = !digits.empty() && digits.find_first_not_of("0123456789") ==
                                              absl::string_view::npos;
  if (split == absl::string_view::npos || split == 0 || !decimal ||
      !absl::SimpleAtoi(digits, &index)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not NODE/INDEX (e.g. node-a/0)"));
  }
  parsed.ref.set_node(std::string(text.substr(0, split)));
  parsed.ref.set_index(index);
  return parsed;
}

absl::StatusOr<std::vector<ParsedDevice>> parse_device_names(absl::string_view text) {
  std::vector<ParsedDevice> devices;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    auto parsed = parse_device_name(item);
    if (!parsed.ok()) return parsed.status();
    devices.push_back(*std::move(parsed));
  }
  return devices;
}

std::string format_device_name(const tgrack::v1::DeviceRef& ref) {
  return absl::StrCat(ref.node(), "/", ref.index());
}

std::string old_device_form_hint(absl::string_view where, const tgrack::v1::DeviceRef& ref) {
  return absl::StrCat(where, ": '", ref.node(), ":", ref.index(),
                      "' is the old NODE:INDEX form; devices are named NODE/INDEX: ",
                      format_device_name(ref));
}

}  // namespace tg
