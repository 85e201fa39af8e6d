// Device names as tgctl prints them and takes them everywhere: NODE/INDEX ("node-a/0"), the
// index a decimal number. The older NODE:INDEX form is still read, and said so, so callers
// can hint at the new one.
#pragma once

#include <string>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include "tgrack/v1/common.pb.h"

namespace tg {

struct ParsedDevice {
  tgrack::v1::DeviceRef ref;
  bool old_form = false;  // Written NODE:INDEX.
};

// INVALID_ARGUMENT "'text' is not NODE/INDEX (e.g. node-a/0)" for anything else.
absl::StatusOr<ParsedDevice> parse_device_name(absl::string_view text);

// A comma-separated list of device names ("node-a/0,node-b/1"); empty items are skipped.
// Errors are parse_device_name's.
absl::StatusOr<std::vector<ParsedDevice>> parse_device_names(absl::string_view text);

// "node-a/0".
std::string format_device_name(const tgrack::v1::DeviceRef& ref);

// The line to print on stderr for a name in the old form, naming the flag or argument.
std::string old_device_form_hint(absl::string_view where, const tgrack::v1::DeviceRef& ref);

}  // namespace tg
