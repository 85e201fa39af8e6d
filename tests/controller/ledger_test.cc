// The ledger: finished jobs are summed per tenant, per device kind and per day, a tenant's
// scope sees only its own entries, and used() is what quotas compare against.
#include "controller/ledger.h"

#include <gtest/gtest.h>

#include "controller/sqlite_store.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;

v1::JobInfo job(const std::string& id, const std::string& tenant, uint64_t flops,
                double started, double seconds) {
  v1::JobInfo info;
  info.set_job_id(id);
  info.set_tenant(tenant);
  info.set_state(v1::JOB_STATE_SUCCEEDED);
  info.set_started_unix_seconds(started);
  info.set_seconds(seconds);
  info.mutable_usage()->set_flops(flops);
  info.mutable_usage()->set_device_seconds(seconds);
  info.mutable_usage()->set_bytes_moved(flops / 2);
  info.mutable_usage()->set_peak_memory_bytes(flops * 4);
  return info;
}

constexpr double kDay1 = 1767225600;  // 2026-01-01T00:00:00Z.
constexpr double kDay2 = kDay1 + 86400;

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::open("");
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    ledger_ = std::make_unique<Ledger>(*store_);
    ASSERT_TRUE(ledger_->record(job("j1", "a", 100, kDay1 + 10, 2), "cpu").ok());
    ASSERT_TRUE(ledger_->record(job("j2", "a", 50, kDay2 + 10, 1), "hip").ok());
    ASSERT_TRUE(ledger_->record(job("j3", "b", 7, kDay2 + 20, 3), "cpu").ok());
  }
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(LedgerTest, SumsPerTenant) {
  auto usage = ledger_->usage("", {});
  ASSERT_TRUE(usage.ok()) << usage.status();
  ASSERT_EQ(usage->rows_size(), 2);
  EXPECT_EQ(usage->rows(0).tenant(), "a");
  EXPECT_EQ(usage->rows(0).job_count(), 2u);
  EXPECT_EQ(usage->rows(0).usage().flops(), 150u);
  EXPECT_DOUBLE_EQ(usage->rows(0).usage().device_seconds(), 3);
  EXPECT_EQ(usage->rows(0).usage().bytes_moved(), 75u);
  EXPECT_EQ(usage->rows(0).usage().peak_memory_bytes(), 400u);  // The larger peak.
  EXPECT_EQ(usage->rows(1).tenant(), "b");
  EXPECT_EQ(usage->rows(1).usage().flops(), 7u);
}

TEST_F(LedgerTest, ATenantsScopeSeesOnlyItsOwnEntries) {
  v1::GetUsageRequest request;
  request.set_tenant("a");  // Asked for another tenant's: nothing.
  auto usage = ledger_->usage("b", request);
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->rows_size(), 0);
  usage = ledger_->usage("b", {});
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->rows_size(), 1);
  EXPECT_EQ(usage->rows(0).tenant(), "b");
}

TEST_F(LedgerTest, SplitsByDeviceKindAndDayAndStartsAtSince) {
  v1::GetUsageRequest request;
  request.set_tenant("a");
  request.set_by("device-kind");
  auto usage = ledger_->usage("", request);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->rows_size(), 2);
  EXPECT_EQ(usage->rows(0).key(), "cpu");
  EXPECT_EQ(usage->rows(0).usage().flops(), 100u);
  EXPECT_EQ(usage->rows(1).key(), "hip");
  request.set_by("day");
  usage = ledger_->usage("", request);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->rows_size(), 2);
  EXPECT_EQ(usage->rows(0).key(), "2026-01-01");
  EXPECT_EQ(usage->rows(1).key(), "2026-01-02");
  request.set_by("");
  request.set_since_unix_seconds(kDay2);
  usage = ledger_->usage("", request);
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->rows_size(), 1);
  EXPECT_EQ(usage->rows(0).usage().flops(), 50u);
  auto used = ledger_->used("a", kDay2);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(used->flops(), 50u);
  request.set_by("week");
  EXPECT_EQ(ledger_->usage("", request).status().code(), absl::StatusCode::kInvalidArgument);
}

// A daemon sends its report again when its heartbeat's reply was lost: the entry is kept
// once per daemon, and the job's part on another daemon is an entry of its own.
TEST_F(LedgerTest, AReportSentAgainIsRecordedOncePerDaemon) {
  const v1::JobInfo split = job("j4", "b", 1000, kDay2 + 30, 1);
  auto first = ledger_->record(split, "cpu", "node-a");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  auto again = ledger_->record(split, "cpu", "node-a");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  auto other_daemon = ledger_->record(split, "cpu", "node-b");
  ASSERT_TRUE(other_daemon.ok());
  EXPECT_TRUE(*other_daemon);
  auto usage = ledger_->usage("b", {});
  ASSERT_TRUE(usage.ok()) << usage.status();
  ASSERT_EQ(usage->rows_size(), 1);
  EXPECT_EQ(usage->rows(0).usage().flops(), 7u + 2 * 1000u);
  EXPECT_EQ(usage->rows(0).job_count(), 3u);  // j3, and j4 once per daemon.
  auto jobs = ledger_->recent_jobs(10);
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->size(), 5u);
}

TEST_F(LedgerTest, RecentJobsComeBackNewestFirst) {
  auto jobs = ledger_->recent_jobs(2);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].job_id(), "j3");
  EXPECT_EQ((*jobs)[1].job_id(), "j2");
}

}  // namespace
}  // namespace tg
