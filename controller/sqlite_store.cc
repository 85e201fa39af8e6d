#include "controller/sqlite_store.h"

#include <sqlite3.h>

namespace tg {
namespace {

// Finalizes a prepared statement when it goes out of scope.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS kv (tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY (tbl, key));"
    "CREATE TABLE IF NOT EXISTS log (name TEXT NOT NULL, seq INTEGER NOT NULL,"
    " value BLOB NOT NULL, PRIMARY KEY (name, seq));"
    "CREATE TABLE IF NOT EXISTS log_key (name TEXT NOT NULL, key TEXT NOT NULL,"
    " PRIMARY KEY (name, key));";

void bind_text(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}
void bind_blob(sqlite3_stmt* stmt, int index, const std::string& bytes) {
  sqlite3_bind_blob(stmt, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}
std::string column_bytes(sqlite3_stmt* stmt, int index) {
  const void* data = sqlite3_column_blob(stmt, index);
  return data == nullptr ? std::string()
                         : std::string(static_cast<const char*>(data),
                                       static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  const std::string name = path.empty() ? ":memory:" : path;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(name.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::FailedPreconditionError("state store " + name + ": " + message);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, name));
  sqlite3_busy_timeout(db, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", kSchema}) {
    if (absl::Status status = store->exec(sql); !status.ok()) {
      return absl::FailedPreconditionError(std::string(status.message()));
    }
  }
  return store;
}

SqliteStore::~SqliteStore() { sqlite3_close(db_); }

absl::Status SqliteStore::error(const std::string& what) const {
  return absl::InternalError("state store " + name_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

absl::Status SqliteStore::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return absl::OkStatus();
  std::string text = message != nullptr ? message : "unknown error";
  sqlite3_free(message);
  return absl::InternalError("state store " + name_ + ": " + text);
}

absl::Status SqliteStore::commit(const std::vector<Put>& puts, const std::vector<Append>& appends,
                                 size_t* appended) {
  std::lock_guard lock(mu_);
  size_t made = 0;
  if (absl::Status status = exec("BEGIN IMMEDIATE;"); !status.ok()) return status;
  auto apply = [&]() -> absl::Status {
    for (const Put& put : puts) {
      Statement s;
      const char* sql = put.value ? "INSERT OR REPLACE INTO kv (tbl, key, value) VALUES (?, ?, ?)"
                                  : "DELETE FROM kv WHERE tbl = ? AND key = ?";
      if (sqlite3_prepare_v2(db_, sql, -1, &s.stmt, nullptr) != SQLITE_OK) return error("prepare");
      bind_text(s.stmt, 1, put.table);
      bind_text(s.stmt, 2, put.key);
      if (put.value) bind_blob(s.stmt, 3, *put.value);
      if (sqlite3_step(s.stmt) != SQLITE_DONE) return error("write " + put.table + "/" + put.key);
    }
    for (const Append& append : appends) {
      if (!append.key.empty()) {
        Statement k;
        if (sqlite3_prepare_v2(db_, "INSERT OR IGNORE INTO log_key (name, key) VALUES (?, ?)", -1,
                               &k.stmt, nullptr) != SQLITE_OK) {
          return error("prepare");
        }
        bind_text(k.stmt, 1, append.log);
        bind_text(k.stmt, 2, append.key);
        if (sqlite3_step(k.stmt) != SQLITE_DONE) {
          return error("key " + append.log + "/" + append.key);
        }
        if (sqlite3_changes(db_) == 0) continue;  // Appended before.
      }
      Statement s;
      const char* sql =
          "INSERT INTO log (name, seq, value) VALUES (?1, "
          "(SELECT COALESCE(MAX(seq), 0) + 1 FROM log WHERE name = ?1), ?2)";
      if (sqlite3_prepare_v2(db_, sql, -1, &s.stmt, nullptr) != SQLITE_OK) return error("prepare");
      bind_text(s.stmt, 1, append.log);
      bind_blob(s.stmt, 2, append.value);
      if (sqlite3_step(s.stmt) != SQLITE_DONE) return error("append to " + append.log);
      ++made;
    }
    return absl::OkStatus();
  };
  absl::Status status = apply();
  if (!status.ok()) {
    exec("ROLLBACK;").IgnoreError();
    return status;
  }
  status = exec("COMMIT;");
  if (status.ok() && appended != nullptr) *appended = made;
  return status;
}

absl::StatusOr<std::map<std::string, std::string>> SqliteStore::table(const std::string& table) {
  std::lock_guard lock(mu_);
  Statement s;
  if (sqlite3_prepare_v2(db_, "SELECT key, value FROM kv WHERE tbl = ?", -1, &s.stmt, nullptr) !=
      SQLITE_OK) {
    return error("prepare");
  }
  bind_text(s.stmt, 1, table);
  std::map<std::string, std::string> rows;
  int rc;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
    rows[column_bytes(s.stmt, 0)] = column_bytes(s.stmt, 1);
  }
  if (rc != SQLITE_DONE) return error("read " + table);
  return rows;
}

absl::StatusOr<std::vector<StateStore::Entry>> SqliteStore::log(const std::string& log,
                                                                uint64_t after, size_t limit) {
  std::lock_guard lock(mu_);
  Statement s;
  if (sqlite3_prepare_v2(db_, "SELECT seq, value FROM log WHERE name = ? AND seq > ? "
                              "ORDER BY seq LIMIT ?", -1, &s.stmt, nullptr) != SQLITE_OK) {
    return error("prepare");
  }
  bind_text(s.stmt, 1, log);
  sqlite3_bind_int64(s.stmt, 2, static_cast<sqlite3_int64>(after));
  sqlite3_bind_int64(s.stmt, 3, static_cast<sqlite3_int64>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<Entry> entries;
  int rc;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
    entries.push_back({static_cast<uint64_t>(sqlite3_column_int64(s.stmt, 0)),
                       column_bytes(s.stmt, 1)});
  }
  if (rc != SQLITE_DONE) return error("read " + log);
  return entries;
}

absl::StatusOr<std::vector<StateStore::Entry>> SqliteStore::log_tail(const std::string& log,
                                                                     size_t limit) {
  uint64_t last = 0;
  {
    std::lock_guard lock(mu_);
    Statement s;
    if (sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(seq), 0) FROM log WHERE name = ?", -1,
                           &s.stmt, nullptr) != SQLITE_OK) {
      return error("prepare");
    }
    bind_text(s.stmt, 1, log);
    if (sqlite3_step(s.stmt) != SQLITE_ROW) return error("read " + log);
    last = static_cast<uint64_t>(sqlite3_column_int64(s.stmt, 0));
  }
  return this->log(log, last > limit ? last - limit : 0, limit);
}

}  // namespace tg
