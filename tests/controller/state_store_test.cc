// The SQLite state store: what commit() wrote is there after the store is closed and opened
// again, table writes replace and erase, logs number their entries in append order, and a
// keyed entry is appended once however often it is committed.
#include "controller/sqlite_store.h"

#include <gtest/gtest.h>

#include "process.h"

namespace tg {
namespace {

TEST(SqliteStore, CommittedTablesAndLogsSurviveReopening) {
  testing::TempDir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->commit({{"tenants", "a", "alpha"}, {"tenants", "b", "beta"}},
                                 {{"ledger", "one"}, {"ledger", "two"}})
                    .ok());
  }
  auto store = SqliteStore::open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto tenants = (*store)->table("tenants");
  ASSERT_TRUE(tenants.ok());
  EXPECT_EQ(*tenants, (std::map<std::string, std::string>{{"a", "alpha"}, {"b", "beta"}}));
  auto ledger = (*store)->log("ledger", 0, 10);
  ASSERT_TRUE(ledger.ok());
  ASSERT_EQ(ledger->size(), 2u);
  EXPECT_EQ((*ledger)[0].seq, 1u);
  EXPECT_EQ((*ledger)[0].value, "one");
  EXPECT_EQ((*ledger)[1].seq, 2u);
  EXPECT_EQ((*ledger)[1].value, "two");
}

TEST(SqliteStore, PutsReplaceAndEraseKeys) {
  auto store = SqliteStore::open("");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->commit({{"cordons", "node-a", "fan"}, {"cordons", "node-b", "disk"}}).ok());
  ASSERT_TRUE((*store)->commit({{"cordons", "node-a", "fan swap"},
                                {"cordons", "node-b", std::nullopt}}).ok());
  auto cordons = (*store)->table("cordons");
  ASSERT_TRUE(cordons.ok());
  EXPECT_EQ(*cordons, (std::map<std::string, std::string>{{"node-a", "fan swap"}}));
  auto other = (*store)->table("nodes");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
}

TEST(SqliteStore, LogsAreNumberedPerLogAndReadFromAnyPoint) {
  auto store = SqliteStore::open("");
  ASSERT_TRUE(store.ok());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE((*store)->commit({}, {{"audit", "a" + std::to_string(i)},
                                      {"jobs", "j" + std::to_string(i)}}).ok());
  }
  auto after = (*store)->log("audit", 3, 10);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].value, "a4");
  EXPECT_EQ((*after)[1].seq, 5u);
  auto tail = (*store)->log_tail("jobs", 2);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].value, "j4");
  EXPECT_EQ((*tail)[1].value, "j5");
}

TEST(SqliteStore, AKeyedEntryIsAppendedOnceAlsoAfterReopening) {
  testing::TempDir dir;
  const std::string path = dir.file("state.db");
  {
    auto store = SqliteStore::open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    size_t appended = 9;
    ASSERT_TRUE((*store)->commit({}, {{"ledger", "first", "job-x@node-a"}}, &appended).ok());
    EXPECT_EQ(appended, 1u);
    // Sent again in one transaction with a new entry: only the new one is appended.
    ASSERT_TRUE((*store)->commit({}, {{"ledger", "again", "job-x@node-a"},
                                      {"ledger", "other", "job-x@node-b"}}, &appended).ok());
    EXPECT_EQ(appended, 1u);
  }
  auto store = SqliteStore::open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  size_t appended = 9;
  ASSERT_TRUE((*store)->commit({}, {{"ledger", "after restart", "job-x@node-a"}}, &appended).ok());
  EXPECT_EQ(appended, 0u);
  // The same key in another log, and unkeyed entries, are appended as always.
  ASSERT_TRUE((*store)->commit({}, {{"jobs", "job", "job-x@node-a"}, {"ledger", "unkeyed"},
                                    {"ledger", "unkeyed"}}, &appended).ok());
  EXPECT_EQ(appended, 3u);
  auto ledger = (*store)->log("ledger", 0, 10);
  ASSERT_TRUE(ledger.ok());
  ASSERT_EQ(ledger->size(), 4u);
  EXPECT_EQ((*ledger)[0].value, "first");
  EXPECT_EQ((*ledger)[1].value, "other");
  EXPECT_EQ((*ledger)[2].value, "unkeyed");
}

TEST(SqliteStore, AFileThatIsNotADatabaseIsRefusedNamingIt) {
  testing::TempDir dir;
  const std::string path = dir.file("state.db");
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("this is not an SQLite database, and it is long enough to show it", f);
  std::fclose(f);
  auto store = SqliteStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status();
}

}  // namespace
}  // namespace tg
