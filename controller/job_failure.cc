#include "controller/job_failure.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include "controller/placement.h"

namespace tg {

namespace {

bool cancelled(const NodeOutcome& out) { return out.status.code() == absl::StatusCode::kCancelled; }

// Whether `a` is a likelier root cause than `b` (both failed).
bool likelier(const NodeOutcome& a, const NodeOutcome& b) {
  if (a.lost != b.lost) return a.lost;
  if (cancelled(a) != cancelled(b)) return !cancelled(a);
  return a.done < b.done;
}

std::string devices_of(const NodeOutcome& out) {
  return absl::StrJoin(out.devices, ",", [](std::string* text, const tgrack::v1::DeviceRef& d) {
    text->append(device_name(d.node(), d.index()));
  });
}

}  // namespace

absl::Status job_failure(const std::string& job_id, const std::vector<NodeOutcome>& outcomes) {
  const NodeOutcome* cause = nullptr;
  for (const NodeOutcome& out : outcomes) {
    if (!out.status.ok() && (cause == nullptr || likelier(out, *cause))) cause = &out;
  }
  if (cause == nullptr) return absl::OkStatus();
  std::string message =
      absl::StrCat(job_id, ": node '", cause->node, "' (", devices_of(*cause), ")");
  if (cause->lost || cause->status.code() == absl::StatusCode::kUnavailable) {
    absl::StrAppend(&message, " at ", cause->address, " is unreachable");
  } else {
    absl::StrAppend(&message, " failed");
  }
  absl::StrAppend(&message, ": ", cause->status.message());
  for (const NodeOutcome& out : outcomes) {
    if (&out == cause || out.status.ok() || cancelled(out)) continue;
    absl::StrAppend(&message, "; ", devices_of(out), " failed too: ", out.status.message());
  }
  return absl::Status(cause->status.code(), message);
}

}  // namespace tg
