// SqliteStore: the StateStore in one SQLite file (STATE_DIR/state.db), or in memory for a
// controller without --state-dir. SQLite because it is embedded, transactional and in
// Debian (libsqlite3-dev), and one file is easy to back up; the journal is WAL with
// synchronous=FULL, so a committed transaction survives kill -9 and power loss. The keys of
// keyed log entries are a unique key (log_key) checked in the appending transaction.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "controller/state_store.h"

struct sqlite3;

namespace tg {

class SqliteStore final : public StateStore {
 public:
  // Opens (creating when absent) the database at `path`; "" = a private in-memory one.
  // FAILED_PRECONDITION naming the file when it cannot be opened or is not a tgrack store.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> open(const std::string& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  absl::Status commit(const std::vector<Put>& puts, const std::vector<Append>& appends = {},
                      size_t* appended = nullptr) override;
  absl::StatusOr<std::map<std::string, std::string>> table(const std::string& table) override;
  absl::StatusOr<std::vector<Entry>> log(const std::string& log, uint64_t after,
                                         size_t limit) override;
  absl::StatusOr<std::vector<Entry>> log_tail(const std::string& log, size_t limit) override;

 private:
  SqliteStore(sqlite3* db, std::string name) : db_(db), name_(std::move(name)) {}
  absl::Status exec(const char* sql);
  absl::Status error(const std::string& what) const;  // INTERNAL with SQLite's message.

  std::mutex mu_;
  sqlite3* db_;
  const std::string name_;  // The file, for errors.
};

}  // namespace tg
