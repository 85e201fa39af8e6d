// The controller's state across kill -9: tenants, tokens, quotas, the audit log, cordons,
// the node list, job history and every ledger entry committed before the kill are there when
// a controller starts again on the same --state-dir, in the middle of a workload.
#include <thread>

#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "controller/sqlite_store.h"
#include "tenant_pool.h"
#include "test_graphs.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;

// The ledger's entries as the store holds them now (read beside the running controller).
std::vector<StateStore::Entry> ledger_entries(const Pool& pool) {
  auto store = SqliteStore::open(pool.state_dir("controller") + "/state.db");
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return {};
  auto entries = (*store)->log("ledger", 0, 1 << 20);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *entries : std::vector<StateStore::Entry>{};
}

TEST(ControllerState, TenantsLedgerAuditCordonsAndHistorySurviveKillNineMidWorkload) {
  Pool pool;
  pool.hold_kernels_on("node-c");
  ASSERT_OK_POOL(pool.start_default());
  ASSERT_OK_POOL(pool.start_daemon("node-c"));
  ASSERT_TRUE(pool.wait_for_node("node-c", v1::NODE_STATE_UP));
  v1::Quota quota;
  quota.set_devices(3);
  auto tenant = create_tenant(pool, "team-a", quota);
  ASSERT_TRUE(tenant.ok()) << tenant.status();
  Client a(pool.controller_address(), 60s, tenant->token);
  ASSERT_TRUE(pool.client().jobs().ok());
  auto admin = controller_as(pool, pool.admin_token());
  v1::CordonNodeRequest cordon;
  cordon.set_node("node-b");
  cordon.set_reason("fan swap");
  v1::CordonNodeReply cordoned;
  auto context = context_with_deadline(10s);
  ASSERT_TRUE(admin->CordonNode(context.get(), cordon, &cordoned).ok());

  std::vector<std::string> finished;
  for (int i = 0; i < 4; ++i) {
    auto ran = a.submit(relu_graph("relu"), x_feeds(), on_device("node-a", i % 2));
    ASSERT_TRUE(ran.ok()) << ran.status();
    finished.push_back(ran->job_id);
  }
  // Daemons report the jobs clients ran directly in their heartbeats; each becomes a ledger
  // entry when the controller hears of it.
  ASSERT_TRUE(wait_until([&] { return ledger_entries(pool).size() >= finished.size(); }, 10s));

  // A job of team-a's is running (held on node-c) when the controller is killed.
  std::thread held([&] { a.submit(held_graph(), x_feeds(), on_device("node-c", 0)).IgnoreError(); });
  ASSERT_TRUE(pool.wait_held("node-c", "test_hold_job"));
  const std::vector<StateStore::Entry> committed = ledger_entries(pool);
  const std::string address = pool.controller_address();
  pool.controller().kill(9);
  ASSERT_OK_POOL(pool.start_controller(address));

  // Every ledger entry committed before the kill, unchanged.
  const std::vector<StateStore::Entry> after = ledger_entries(pool);
  ASSERT_GE(after.size(), committed.size());
  for (size_t i = 0; i < committed.size(); ++i) {
    EXPECT_EQ(after[i].seq, committed[i].seq);
    EXPECT_EQ(after[i].value, committed[i].value) << "ledger entry " << committed[i].seq;
  }
  // The same tenants, tokens and quota.
  auto tenants_after = controller_as(pool, pool.admin_token());
  v1::ListTenantsReply tenants;
  context = context_with_deadline(10s);
  ASSERT_TRUE(tenants_after->ListTenants(context.get(), {}, &tenants).ok());
  ASSERT_EQ(tenants.tenants_size(), 2);  // admin, team-a.
  EXPECT_EQ(tenants.tenants(1).name(), "team-a");
  EXPECT_EQ(tenants.tenants(1).quota().devices(), 3u);
  auto nodes = a.nodes();
  ASSERT_TRUE(nodes.ok()) << "team-a's token after the restart: " << nodes.status();
  // The node list and the cordon: node-b is known (DOWN until it registers again) and cordoned.
  bool node_b_cordoned = false;
  for (const v1::NodeInfo& node : *nodes) {
    if (node.name() == "node-b") node_b_cordoned = node.cordoned() && node.cordon_reason() == "fan swap";
  }
  EXPECT_TRUE(node_b_cordoned);
  // Job history: team-a's finished jobs are listed again.
  auto jobs = a.jobs();
  ASSERT_TRUE(jobs.ok());
  for (const std::string& id : finished) {
    EXPECT_TRUE(std::any_of(jobs->begin(), jobs->end(),
                            [&](const v1::JobInfo& job) { return job.job_id() == id; }))
        << id;
  }
  // The audit log: the tenant's creation and the cordon.
  v1::ListAuditReply audit;
  context = context_with_deadline(10s);
  ASSERT_TRUE(tenants_after->ListAudit(context.get(), {}, &audit).ok());
  std::vector<std::string> actions;
  for (const v1::AuditEntry& entry : audit.entries()) actions.push_back(entry.action() + " " + entry.target());
  EXPECT_NE(std::find(actions.begin(), actions.end(), "create-tenant team-a"), actions.end());
  EXPECT_NE(std::find(actions.begin(), actions.end(), "cordon node-b"), actions.end());

  pool.release("node-c", "test_hold_job");
  held.join();
  // The job that was running at the kill is reported to the new controller and recorded.
  ASSERT_TRUE(wait_until([&] { return ledger_entries(pool).size() > committed.size(); }, 10s));
}

}  // namespace
}  // namespace tg::testing
