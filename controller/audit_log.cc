#include "controller/audit_log.h"

#include <chrono>

namespace tg {

absl::Status AuditLog::record(const Caller& actor, const std::string& action,
                              const std::string& target, const std::string& detail,
                              const absl::Status& outcome) {
  tgrack::v1::AuditEntry entry;
  entry.set_unix_seconds(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  entry.set_actor(actor.name());
  entry.set_action(action);
  entry.set_target(target);
  entry.set_detail(detail);
  entry.set_outcome(outcome.ok() ? "ok" : std::string(outcome.message()));
  return store_.commit({}, {{"audit", entry.SerializeAsString()}});
}

absl::StatusOr<std::vector<tgrack::v1::AuditEntry>> AuditLog::recent(size_t limit) const {
  auto entries = store_.log_tail("audit", limit == 0 ? 1000 : limit);
  if (!entries.ok()) return entries.status();
  std::vector<tgrack::v1::AuditEntry> listed;
  for (const StateStore::Entry& stored : *entries) {
    listed.emplace_back().ParseFromString(stored.value);
    listed.back().set_seq(stored.seq);
  }
  return listed;
}

}  // namespace tg
