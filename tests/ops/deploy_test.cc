// Checks of deploy/: the systemd units pass systemd-analyze and are hardened, the env files
// define what the units use, Prometheus accepts the config and the alert rules (and their
// unit tests pass), and every metric the dashboard and the rules name is one the metrics
// classes really export.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <absl/strings/str_replace.h>
#include <gtest/gtest.h>

#include "controller/controller_metrics.h"
#include "daemon/child_process.h"
#include "daemon/daemon_metrics.h"
#include "tests/ops/exposition.h"

namespace tg {
namespace {

const std::string kSource = TGRACK_SOURCE_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

// A fresh directory, removed with everything in it when this goes out of scope.
class TempDir {
 public:
  TempDir() : path_(::testing::TempDir() + "tgrack-ops-XXXXXX") {
    EXPECT_NE(::mkdtemp(path_.data()), nullptr);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs a tool; NOT_FOUND (the tool is missing) is returned as is for the caller to skip.
absl::StatusOr<ChildResult> run_tool(std::vector<std::string> argv) {
  ChildOptions options;
  options.argv = std::move(argv);
  options.timeout = absl::Seconds(120);
  return run_child(options);
}

// The unit file with ExecStart's binary replaced by an executable stand-in of the same name
// (systemd-analyze verify insists the binary exists), written to `dir`. Returns its path.
std::string unit_copy(const std::string& unit, const std::string& binary, const std::string& dir) {
  const std::string stand_in = dir + "/" + binary;
  write_file(stand_in, "#!/bin/sh\nexit 0\n", 0755);
  const std::string path = dir + "/" + unit;
  write_file(path, absl::StrReplaceAll(read_file(kSource + "/deploy/systemd/" + unit),
                                       {{"/usr/bin/" + binary, stand_in}}));
  return path;
}

TEST(Deploy, SystemdAnalyzeVerifiesBothUnitsWithoutAWord) {
  const TempDir temp;
  const std::string& dir = temp.path();
  for (const auto& [unit, binary] :
       {std::pair{"tgd.service", "tgd"}, std::pair{"tgcontroller.service", "tgcontroller"}}) {
    absl::StatusOr<ChildResult> result =
        run_tool({"systemd-analyze", "verify", unit_copy(unit, binary, dir)});
    if (absl::IsNotFound(result.status())) GTEST_SKIP() << "systemd-analyze is not installed";
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->succeeded()) << unit << ": " << result->stderr_text;
    // verify only warns, exit 0, about unknown keys and bad values: any output is a failure.
    EXPECT_EQ(result->stdout_text + result->stderr_text, "") << unit;
  }
}

TEST(Deploy, SystemdAnalyzeWouldReportABrokenUnit) {
  const TempDir temp;
  const std::string path = unit_copy("tgd.service", "tgd", temp.path());
  write_file(path, absl::StrReplaceAll(read_file(path), {{"KillMode=control-group",
                                                          "KillMode=bogus\nNoSuchKey=1"}}));
  absl::StatusOr<ChildResult> result = run_tool({"systemd-analyze", "verify", path});
  if (absl::IsNotFound(result.status())) GTEST_SKIP() << "systemd-analyze is not installed";
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NE(result->stderr_text.find("NoSuchKey"), std::string::npos) << result->stderr_text;
  EXPECT_NE(result->stderr_text.find("bogus"), std::string::npos) << result->stderr_text;
}

TEST(Deploy, UnitsAreHardenedAndKillTheirWholeControlGroup) {
  const std::vector<std::string> common = {
      "NoNewPrivileges=yes",    "ProtectSystem=strict",   "PrivateTmp=yes",
      "KillMode=control-group", "Restart=on-failure",     "DevicePolicy=closed",
      "ProtectHome=yes",        "CapabilityBoundingSet=", "EnvironmentFile=/etc/tgrack/"};
  for (const std::string unit : {"tgd.service", "tgcontroller.service"}) {
    const std::string text = read_file(kSource + "/deploy/systemd/" + unit);
    for (const std::string& line : common) {
      EXPECT_NE(text.find("\n" + line), std::string::npos) << unit << " lacks " << line;
    }
    EXPECT_TRUE(std::regex_search(text, std::regex("\nStateDirectory=\\S+"))) << unit;
    EXPECT_TRUE(std::regex_search(text, std::regex("\nRuntimeDirectory=\\S+"))) << unit;
  }
  const std::string tgd = read_file(kSource + "/deploy/systemd/tgd.service");
  EXPECT_NE(tgd.find("\nDeviceAllow=/dev/kfd rw"), std::string::npos);
  EXPECT_NE(tgd.find("\nDeviceAllow=char-drm rw"), std::string::npos);
}

TEST(Deploy, EnvFilesSetEveryVariableTheUnitsUse) {
  for (const std::string name : {"tgd", "tgcontroller"}) {
    const std::string unit = read_file(kSource + "/deploy/systemd/" + name + ".service");
    const std::string env = read_file(kSource + "/deploy/config/" + name + ".env");
    const std::regex use(R"(\$\{?([A-Z_][A-Z0-9_]*)\}?)");
    int uses = 0;
    for (auto it = std::sregex_iterator(unit.begin(), unit.end(), use);
         it != std::sregex_iterator(); ++it, ++uses) {
      const std::string var = (*it)[1];
      EXPECT_TRUE(std::regex_search(env, std::regex("(^|\n)" + var + "=")))
          << name << ".env does not set " << var;
    }
    EXPECT_GE(uses, 3) << name;
  }
}

// One controller port everywhere: the README's, tgctl's default and both env files'.
TEST(Deploy, ControllerPortIsTheSameInTheReadmeAndTheEnvFiles) {
  const std::string readme = read_file(kSource + "/README.md");
  EXPECT_NE(readme.find("else `127.0.0.1:7070`"), std::string::npos) << "tgctl's default";
  const std::string controller = read_file(kSource + "/deploy/config/tgcontroller.env");
  EXPECT_TRUE(std::regex_search(controller, std::regex("\nTGCONTROLLER_LISTEN=[^\n]*:7070\n")))
      << controller;
  const std::string daemon = read_file(kSource + "/deploy/config/tgd.env");
  EXPECT_TRUE(std::regex_search(daemon, std::regex("\nTGD_CONTROLLER=[^\n]*:7070\n"))) << daemon;
}

// What a daemon on a rack needs from its unit: an address other hosts can dial, a fixed data
// port for the firewall, and its TLS files handed over as credentials of the dynamic user.
TEST(Deploy, UnitsAdvertiseFixedPortsAndLoadTheirTlsFiles) {
  const std::string tgd = read_file(kSource + "/deploy/systemd/tgd.service");
  for (const std::string flag :
       {"--advertise ${TGD_ADVERTISE}", "--data-listen ${TGD_DATA_LISTEN}", "--name ${TGD_NAME}",
        "--tls-ca %d/tls-ca --tls-cert %d/tls-cert --tls-key %d/tls-key",
        "\nLoadCredential=tls-key:/etc/tgrack/tls/tgd.key", "\nExecStart=/usr/bin/tgd "}) {
    EXPECT_NE(tgd.find(flag), std::string::npos) << flag;
  }
  const std::string controller = read_file(kSource + "/deploy/systemd/tgcontroller.service");
  for (const std::string flag :
       {"--advertise ${TGCONTROLLER_ADVERTISE}",
        "--tls-ca %d/tls-ca --tls-cert %d/tls-cert --tls-key %d/tls-key",
        "\nLoadCredential=tls-key:/etc/tgrack/tls/tgcontroller.key",
        "\nExecStart=/usr/bin/tgcontroller "}) {
    EXPECT_NE(controller.find(flag), std::string::npos) << flag;
  }
}

TEST(Deploy, PromtoolAcceptsTheConfigAndTheRulesPassTheirTests) {
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"promtool", "check", "config", kSource + "/deploy/prometheus/prometheus.yml"},
           {"promtool", "check", "rules", kSource + "/deploy/prometheus/alerts.yml"},
           {"promtool", "test", "rules", kSource + "/tests/ops/alerts_test.yml"}}) {
    absl::StatusOr<ChildResult> result = run_tool(argv);
    if (absl::IsNotFound(result.status())) {
      GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
    }
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->succeeded()) << argv[1] << " " << argv[2] << ":\n"
                                     << result->stdout_text << result->stderr_text;
  }
}

// Every family both metrics classes export, after one event of each kind.
std::string everything_exported() {
  DaemonMetrics daemon("node-a");
  daemon.device_added("cpu:0", "cpu");
  daemon.device_memory("cpu:0", 1, 2);
  daemon.device_busy("cpu:0", 0.5);
  daemon.kernel_ran("cpu:0", "add", 0.1, 8);
  daemon.bytes_copied("cpu:0", 8);
  daemon.device_health("cpu:0", true);
  daemon.device_reset("cpu:0");
  daemon.link_totals("0", "node-b/0", "tcp", 1, 1);
  daemon.link_error_total("node-b/0", "tcp", 1);
  daemon.transfer_done("node-b", "tcp", 8, 0.1);
  daemon.link_fallback("node-b", "xgmi", "pcie_peer");
  daemon.link_error("node-b/0", "tcp", absl::StatusCode::kUnavailable);
  daemon.collective_done("all_reduce", "ring", 2, 8, 0.1);
  daemon.fragment_done(0.1, absl::StatusCode::kOk);
  ControllerMetrics controller("ctl");
  controller.nodes_by_state({{"up", 1}});
  controller.devices_by_state({{"healthy", 1}});
  controller.node_up("node-a", true);
  controller.jobs_running(1);
  tg::QueuedJob waiting(&controller);
  controller.job_submitted();
  controller.job_scheduled(0.1);
  controller.job_done(0.1, absl::StatusCode::kOk);
  controller.hive_reset("hive-1", absl::StatusCode::kOk);
  controller.tenant_usage("default", 120, 0.5, 64);
  return daemon.render_text() + controller.render_text();
}

TEST(Deploy, EveryMetricTheDashboardAndAlertsNameIsExported) {
  const std::set<std::string> exported = testing::exported_names(everything_exported());
  for (const std::string file : {"deploy/grafana/tgrack.json", "deploy/prometheus/alerts.yml"}) {
    const std::set<std::string> used = testing::tgrack_names_in(read_file(kSource + "/" + file));
    EXPECT_GE(used.size(), 5u) << file;
    for (const std::string& name : used) {
      EXPECT_TRUE(exported.contains(name)) << file << " uses " << name << ", never exported";
    }
  }
}

TEST(Deploy, ExportedNamesFollowPrometheusConventions) {
  const std::string text = everything_exported();
  const std::regex type_line(R"((^|\n)# TYPE (\S+) (\S+))");
  int families = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), type_line);
       it != std::sregex_iterator(); ++it, ++families) {
    const std::string name = (*it)[2], type = (*it)[3];
    EXPECT_TRUE(name.starts_with("tgrack_")) << name;
    EXPECT_EQ(type == "counter", name.ends_with("_total")) << name << " is a " << type;
  }
  EXPECT_GE(families, 25);
}

}  // namespace
}  // namespace tg
