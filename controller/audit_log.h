// AuditLog: the append-only record of admin actions (tenant and token changes, cordon,
// uncordon, drain, reset, node removal), kept in the StateStore's "audit" log. Each entry
// names who acted (tenant/token id), the action, its target and outcome. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "controller/state_store.h"
#include "controller/tenants.h"
#include "tgrack/v1/controller.pb.h"

namespace tg {

class AuditLog {
 public:
  explicit AuditLog(StateStore& store) : store_(store) {}  // `store` must outlive it.

  // Appends one entry; `outcome` OK is written "ok", else its message.
  absl::Status record(const Caller& actor, const std::string& action, const std::string& target,
                      const std::string& detail, const absl::Status& outcome);
  // The newest `limit` entries (0 = 1000), oldest first.
  absl::StatusOr<std::vector<tgrack::v1::AuditEntry>> recent(size_t limit) const;

 private:
  StateStore& store_;
};

}  // namespace tg
