#include "controller/reply_size.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "devices/checked_size.h"
#include "net/rpc.h"

namespace tg {

absl::Status check_returned_outputs(
    const std::vector<std::pair<std::string, TensorType>>& returned) {
  int64_t total = 0;
  for (const auto& [name, type] : returned) {
    auto bytes = checked_bytes(type, "output '" + name + "'");
    if (!bytes.ok()) return bytes.status();
    auto sum = checked_add(total, static_cast<int64_t>(*bytes), "bytes of the returned outputs");
    if (!sum.ok()) return sum.status();
    total = *sum;
  }
  if (total <= message_limit()) return absl::OkStatus();  // Names built only for the error.
  const std::string what = absl::StrCat(
      "the reply with outputs (",
      absl::StrJoin(returned, ", ",
                    [](std::string* out, const auto& output) {
                      absl::StrAppend(out, output.first, ": ", output.second.str());
                    }),
      ")");
  return check_message_size(static_cast<uint64_t>(total), what);
}

}  // namespace tg
