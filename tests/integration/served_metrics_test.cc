// The metrics the dashboard and the alert rules read are what the real binaries serve:
// after a graph and a checked all-reduce, a scrape of tgcontroller and of each tgd serves
// every tgrack_* name that deploy/grafana/tgrack.json and deploy/prometheus/alerts.yml
// use, and every label those expressions match on or group by is on every sample served
// under that name, with a value.
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pool.h"
#include "tests/ops/exposition.h"
#include "tests/ops/http_get.h"

namespace tg::testing {
namespace {

const std::string kSource = TGRACK_SOURCE_DIR;

// The expressions of a Prometheus rules file: each `expr:` value, one line or a `|` block.
std::vector<std::string> rule_expressions(const std::string& yaml) {
  std::vector<std::string> expressions;
  std::istringstream lines(yaml);
  std::string line;
  std::string* block = nullptr;
  size_t block_indent = 0;
  while (std::getline(lines, line)) {
    const size_t indent = line.find_first_not_of(' ');
    if (block != nullptr && indent != std::string::npos && indent > block_indent) {
      *block += line.substr(indent) + "\n";
      continue;
    }
    block = nullptr;
    const size_t at = line.find("expr:");
    if (at == std::string::npos) continue;
    std::string value = line.substr(at + 5);
    value.erase(0, value.find_first_not_of(' '));
    expressions.push_back(value == "|" || value == "|-" ? "" : value);
    if (expressions.back().empty()) {
      block = &expressions.back();
      block_indent = at;
    }
  }
  return expressions;
}

// Every "expr" of a Grafana dashboard.
void dashboard_expressions(const nlohmann::json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "expr" && value.is_string()) out.push_back(value);
      dashboard_expressions(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& value : node) dashboard_expressions(value, out);
  }
}

// Families no event of this workload fills (a family without series is not served at all);
// their names and label sets are checked where the event is made (tests/ops/*_test.cc).
const std::set<std::string> kNotCausedHere = {
    "tgrack_link_errors_total",
    "tgrack_link_fallbacks_total",
    "tgrack_device_resets_total",
    "tgrack_hive_resets_total",
    "tgrack_transfer_bandwidth_bytes_per_second_bucket",
    "tgrack_transfer_bytes_total"};

// Labels Prometheus adds to every series it scrapes; no binary serves them.
const std::set<std::string> kTargetLabels = {"instance", "job"};

class ServedMetrics : public ::testing::Test {
 protected:
  Pool pool_;
};

TEST_F(ServedMetrics, EveryNameAndLabelTheDashboardAndAlertsUseIsServed) {
  pool_.controller_args = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                           pool_.dir().file("controller.metrics")};
  for (const char* name : {"node-a", "node-b"}) {
    pool_.daemon_args[name] = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                               pool_.dir().file(std::string(name) + ".metrics")};
  }
  ASSERT_TRUE(pool_.start_default().ok());
  std::vector<int> ports;
  for (auto [file, process] : {std::pair{"controller.metrics", &pool_.controller()},
                               std::pair{"node-a.metrics", &pool_.daemon("node-a")},
                               std::pair{"node-b.metrics", &pool_.daemon("node-b")}}) {
    auto address = read_port_file(pool_.dir().file(file), *process);
    ASSERT_TRUE(address.ok()) << address.status();
    ports.push_back(std::stoi(address->substr(address->rfind(':') + 1)));
  }
  Completed example = run(pool_.dir(), EXAMPLE_GRAPH_PATH, {"--controller", pool_.controller_address()});
  ASSERT_EQ(example.exit_status, 0) << example.out << example.err;
  Completed bench = run(pool_.dir(), TGCTL_PATH,
                        {"--controller", pool_.controller_address(), "bench", "allreduce",
                         "--devices", "all", "--min", "1M", "--max", "1M", "--check"},
                        60s);
  ASSERT_EQ(bench.exit_status, 0) << bench.out << bench.err;

  // The daemons sample link totals with their heartbeat, and report the example's job (and
  // so its tenant's usage) with it: wait until a scrape has them.
  std::string served;
  ASSERT_TRUE(wait_until(
      [&] {
        served.clear();
        for (int port : ports) {
          auto text = http_get(port, "/metrics");
          if (!text.ok()) return false;
          served += *text;
        }
        return !label_sets(served, "tgrack_link_sent_bytes_total").empty() &&
               !label_sets(served, "tgrack_nodes").empty() &&
               !label_sets(served, "tgrack_tenant_flops_total").empty();
      },
      20s));
  const std::set<std::string> names = exported_names(served);

  std::vector<std::string> expressions =
      rule_expressions(read_file(kSource + "/deploy/prometheus/alerts.yml"));
  const size_t rules = expressions.size();
  dashboard_expressions(nlohmann::json::parse(read_file(kSource + "/deploy/grafana/tgrack.json")),
                        expressions);
  EXPECT_GE(rules, 5u);
  EXPECT_GE(expressions.size() - rules, 20u);
  for (const std::string& expression : expressions) {
    for (const auto& [name, labels] : labels_used(expression)) {
      SCOPED_TRACE(name + " in " + expression);
      if (kNotCausedHere.contains(name)) continue;
      EXPECT_TRUE(names.contains(name)) << "not served in:\n" << served;
      const auto sets = label_sets(served, name);
      EXPECT_FALSE(sets.empty()) << "no sample served";
      for (const auto& set : sets) {
        for (const std::string& label : labels) {
          if (kTargetLabels.contains(label)) continue;
          const auto found = set.find(label);
          EXPECT_TRUE(found != set.end() && !found->second.empty())
              << "a sample without label " << label;
        }
      }
    }
  }
}

}  // namespace
}  // namespace tg::testing
