// StateStore: what the controller keeps across restarts, behind one small interface so that
// a replicated store can replace the embedded one (sqlite_store.h).
//
// Two shapes of state: tables (a key -> bytes map per table name: tenants, tokens, cordons,
// nodes) and append-only logs (numbered entries per log name: audit, jobs, ledger). Values
// are serialized protos; the store never looks inside them. commit() applies table writes
// and log appends in one transaction that is durable when it returns OK: a process killed at
// any instant afterwards keeps all of it, one killed before keeps none of it. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <absl/status/statusor.h>

namespace tg {

class StateStore {
 public:
  // One write to a table: `value` nullopt erases the key.
  struct Put {
    std::string table, key;
    std::optional<std::string> value;
  };
  // One entry to append to a log. A non-empty `key` names the entry within its log: an
  // append whose key the log holds already is skipped, so a report sent twice is kept once.
  struct Append {
    std::string log, value;
    std::string key = "";
  };
  struct Entry {
    uint64_t seq;  // 1, 2, ... per log, in append order.
    std::string value;
  };

  virtual ~StateStore() = default;

  // Applies every write and append atomically and durably. INTERNAL naming the store on failure.
  // `appended` (when given) is set to the number of appends made (keyed ones held already are
  // not).
  virtual absl::Status commit(const std::vector<Put>& puts,
                              const std::vector<Append>& appends = {},
                              size_t* appended = nullptr) = 0;
  // Every key of `table` with its value.
  virtual absl::StatusOr<std::map<std::string, std::string>> table(const std::string& table) = 0;
  // Entries of `log` with seq > `after`, oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<Entry>> log(const std::string& log, uint64_t after,
                                                 size_t limit) = 0;
  // The newest `limit` entries of `log`, oldest first.
  virtual absl::StatusOr<std::vector<Entry>> log_tail(const std::string& log, size_t limit) = 0;
};

}  // namespace tg
