// The device backends and link topology end to end: tgd --backend, link matrices from a
// --topology config in the pool (tgctl topology), and --require-link refusing what the links
// cannot give. Tests that need an AMD GPU skip, naming what is missing.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pool.h"

namespace tg::testing {
namespace {

bool has_amd_gpu() { return std::filesystem::exists("/dev/kfd"); }

// Two cpu devices of one hive joined by XGMI.
constexpr char kXgmiPair[] = R"({
  "devices": [{"name": "cpu0", "hive": "h0"}, {"name": "cpu1", "hive": "h0"}],
  "links": [{"between": [0, 1], "class": "xgmi", "bandwidth_gbytes_per_s": 64, "latency_us": 2}]
})";

int count_lines_with(const std::string& text, const std::string& needle) {
  int lines = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines += line.find(needle) != std::string::npos;
  return lines;
}

TEST(Backend, HipWithoutGpuExitsWithOneClearLine) {
  if (has_amd_gpu()) GTEST_SKIP() << "this host has an AMD GPU (/dev/kfd present)";
  TempDir dir;
  Completed tgd = run(dir, TGD_PATH,
                      {"--backend", "hip", "--insecure", "--controller", "127.0.0.1:1", "--state-dir",
                       dir.file("state"), "--name", "gpu-node"},
                      20s);
  const std::string all = tgd.out + tgd.err;
  EXPECT_NE(tgd.exit_status, 0) << all;
  EXPECT_NE(tgd.exit_status, -1) << "tgd kept running: " << all;
  EXPECT_EQ(count_lines_with(all, "hip backend: "), 1) << all;
  EXPECT_TRUE(all.find("no AMD GPU found") != std::string::npos ||
              all.find("libtgrack-hip.so is not installed") != std::string::npos)
      << all;
  EXPECT_EQ(all.find("serving on"), std::string::npos) << all;  // It never served.
}

// --backend hip where the plugin cannot load is an error naming the library it lacks (here a
// stand-in for libamdhip64 the loader cannot find), or the plugin's path when it is absent.
TEST(Backend, HipAskedForWithoutItsLibraryExitsNamingIt) {
  TempDir dir;
  Completed tgd = run(dir, TGD_PATH,
                      {"--backend", "hip", "--hip-plugin", FAKE_PLUGIN_MISSING_LIBRARY_PATH,
                       "--controller", "127.0.0.1:1", "--state-dir", dir.file("state"), "--insecure"});
  const std::string all = tgd.out + tgd.err;
  EXPECT_EQ(tgd.exit_status, 1) << all;
  EXPECT_EQ(count_lines_with(all, "hip backend: cannot load plugin " +
                                      std::string(FAKE_PLUGIN_MISSING_LIBRARY_PATH) +
                                      ": libtgrack-test-rocm-stand-in.so: cannot open shared"),
            1)
      << all;
  EXPECT_EQ(all.find("serving on"), std::string::npos) << all;
}

TEST(Backend, HipAskedForWithoutThePluginExitsNamingWhereItLooked) {
  TempDir dir;
  const std::string absent = dir.file("elsewhere/libtgrack-hip.so");
  Completed tgd = run(dir, TGD_PATH,
                      {"--backend", "hip", "--controller", "127.0.0.1:1", "--state-dir",
                       dir.file("state"), "--insecure"},
                      20s, {{"TGRACK_HIP_PLUGIN", absent}});
  const std::string all = tgd.out + tgd.err;
  EXPECT_EQ(tgd.exit_status, 1) << all;
  EXPECT_EQ(count_lines_with(all, "hip backend: plugin " + absent + " is not installed"), 1)
      << all;
}

TEST(Backend, UnknownBackendIsRefused) {
  TempDir dir;
  Completed tgd = run(dir, TGD_PATH,
                      {"--backend", "cuda", "--insecure", "--controller", "127.0.0.1:1", "--state-dir",
                       dir.file("state")});
  EXPECT_NE(tgd.exit_status, 0);
  EXPECT_NE((tgd.out + tgd.err).find("--backend"), std::string::npos) << tgd.out << tgd.err;
}

class TopologyPool : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string config = pool_.dir().file("xgmi-pair.json");
    std::ofstream(config) << kXgmiPair;
    // Neither daemon can load the HIP backend: node-a finds no plugin, node-b's plugin lacks
    // a library. Both serve their cpu devices.
    pool_.daemon_args["node-a"] = {"--topology", config, "--hip-plugin",
                                   pool_.dir().file("absent/libtgrack-hip.so")};
    pool_.daemon_args["node-b"] = {"--backend", "auto", "--hip-plugin",
                                   FAKE_PLUGIN_MISSING_LIBRARY_PATH};
    ASSERT_TRUE(pool_.start_default().ok());
  }

  Completed tgctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--controller", pool_.controller_address()});
    return run(pool_.dir(), TGCTL_PATH, args, 30s);
  }

  Pool pool_;
};

TEST_F(TopologyPool, AutoBackendWithoutAUsableHipPluginRunsOnCpuAndSaysWhy) {
  const std::string a = pool_.daemon("node-a").stdout_text() + pool_.daemon("node-a").stderr_text();
  EXPECT_EQ(count_lines_with(a, "backend auto: using cpu devices (hip backend: plugin " +
                                    pool_.dir().file("absent/libtgrack-hip.so") +
                                    " is not installed"),
            1)
      << a;
  const std::string b = pool_.daemon("node-b").stdout_text() + pool_.daemon("node-b").stderr_text();
  EXPECT_EQ(count_lines_with(b, "backend auto: using cpu devices (hip backend: cannot load plugin"),
            1)
      << b;
  EXPECT_NE(b.find("libtgrack-test-rocm-stand-in.so: cannot open shared object file"),
            std::string::npos)
      << b;
  auto nodes = pool_.client().nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  for (const auto& node : *nodes) {
    ASSERT_EQ(node.devices_size(), kDevicesPerDaemon) << node.name();
    for (const auto& d : node.devices()) EXPECT_EQ(d.kind(), tgrack::v1::DEVICE_KIND_CPU);
  }
}

TEST_F(TopologyPool, DaemonLogsTheLinkOfEveryPair) {
  const std::string a = pool_.daemon("node-a").stdout_text() + pool_.daemon("node-a").stderr_text();
  EXPECT_EQ(count_lines_with(a, "link cpu0 <-> cpu1: XGMI"), 1) << a;
  const std::string b = pool_.daemon("node-b").stdout_text() + pool_.daemon("node-b").stderr_text();
  EXPECT_EQ(count_lines_with(b, "link cpu0 <-> cpu1: host-staged"), 1) << b;
  EXPECT_NE(b.find("fallback XGMI -> PCIe peer -> host-staged"), std::string::npos) << b;
}

TEST_F(TopologyPool, TopologyJsonShowsConfiguredClasses) {
  Completed out = tgctl({"topology", "--json"});
  ASSERT_EQ(out.exit_status, 0) << out.err;
  const nlohmann::json json = nlohmann::json::parse(out.out);
  ASSERT_EQ(json["nodes"].size(), 2u) << out.out;
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& node : json["nodes"]) by_name[node["id"]] = node;
  const nlohmann::json& a = by_name.at("node-a");
  ASSERT_EQ(a["pairs"].size(), 1u);
  EXPECT_EQ(a["pairs"][0]["class"], "xgmi");
  EXPECT_DOUBLE_EQ(a["pairs"][0]["bandwidth_bytes_per_second"].get<double>(), 64e9);
  EXPECT_EQ(a["devices"][0]["hive_id"], "h0");
  EXPECT_EQ(a["collective_shape"], "mesh");
  EXPECT_NE(a["source"].get<std::string>().find("config "), std::string::npos);
  const nlohmann::json& b = by_name.at("node-b");
  EXPECT_EQ(b["pairs"][0]["class"], "host");
  EXPECT_EQ(b["source"], "default");
  EXPECT_EQ(json["between_nodes"]["class"], "network");

  Completed table = tgctl({"topology"});
  ASSERT_EQ(table.exit_status, 0) << table.err;
  EXPECT_NE(table.out.find("Node node-a"), std::string::npos) << table.out;
  const size_t b_at = table.out.find("Node node-b");
  ASSERT_NE(b_at, std::string::npos) << table.out;
  EXPECT_LT(table.out.find("cpu0   X    XGMI"), b_at) << table.out;  // node-a's row.
  EXPECT_GT(table.out.find("cpu0   X    HOST"), b_at) << table.out;  // node-b's row.
  EXPECT_NE(table.out.find("Between nodes: NET"), std::string::npos) << table.out;
}

std::vector<std::string> bench(const std::string& devices, const std::string& link) {
  return {"bench", "allreduce", "--devices", devices, "--require-link", link, "--min", "1K",
          "--max", "1K", "--iters", "1", "--warmup", "0"};
}

TEST_F(TopologyPool, RequireXgmiAcrossDaemonsFailsNamingThePair) {
  Completed across = tgctl(bench("node-a:0,node-b:0", "xgmi"));
  EXPECT_EQ(across.exit_status, 1) << across.out << across.err;
  EXPECT_NE(across.err.find("FAILED_PRECONDITION"), std::string::npos) << across.err;
  EXPECT_NE(across.err.find("node-a:0 and node-b:0"), std::string::npos) << across.err;
  EXPECT_NE(across.err.find("network"), std::string::npos) << across.err;
}

TEST_F(TopologyPool, RequiredLinkIsMetOrRefusedInsideADaemon) {
  Completed xgmi = tgctl(bench("node-a:0,node-a:1", "xgmi"));
  EXPECT_EQ(xgmi.exit_status, 0) << xgmi.out << xgmi.err;
  Completed pcie = tgctl(bench("node-b:0,node-b:1", "pcie"));
  EXPECT_EQ(pcie.exit_status, 1) << pcie.out << pcie.err;
  EXPECT_NE(pcie.err.find("FAILED_PRECONDITION"), std::string::npos) << pcie.err;
  EXPECT_NE(pcie.err.find("node-b:0 and node-b:1"), std::string::npos) << pcie.err;
  EXPECT_NE(pcie.err.find("host-staged"), std::string::npos) << pcie.err;
}

TEST_F(TopologyPool, CostModelReadsTheDaemonsLinks) {
  std::vector<std::string> args = {"bench", "allreduce", "--min", "1K", "--max", "1K", "--iters",
                                   "1", "--warmup", "0", "--json", "--devices"};
  args.push_back("node-a:0,node-a:1");
  Completed xgmi = tgctl(args);
  ASSERT_EQ(xgmi.exit_status, 0) << xgmi.err;
  const nlohmann::json a = nlohmann::json::parse(xgmi.out)["results"][0];
  EXPECT_EQ(a["algorithm"], "mesh") << a;
  EXPECT_NE(a["reason"].get<std::string>().find("links suit mesh"), std::string::npos) << a;
  args.back() = "node-b:0,node-b:1";  // Default links: nothing measured, the model's own figures.
  Completed host = tgctl(args);
  ASSERT_EQ(host.exit_status, 0) << host.err;
  const nlohmann::json b = nlohmann::json::parse(host.out)["results"][0];
  EXPECT_EQ(b["reason"].get<std::string>().find("links suit"), std::string::npos) << b;
}

TEST(Backend, TopologyConfigMustMatchTheDeviceCount) {
  TempDir dir;
  const std::string config = dir.file("pair.json");
  std::ofstream(config) << kXgmiPair;
  Completed tgd = run(dir, TGD_PATH,
                      {"--backend", "cpu", "--cpu-devices", "3", "--topology", config,
                       "--insecure", "--controller", "127.0.0.1:1", "--state-dir", dir.file("state")});
  EXPECT_EQ(tgd.exit_status, 1) << tgd.out << tgd.err;
  EXPECT_NE((tgd.out + tgd.err).find("describes 2 device(s) but --cpu-devices is 3"),
            std::string::npos)
      << tgd.out << tgd.err;
}

TEST(Backend, HipServesTheGpusWithTheirKfdLinks) {
  if (!has_amd_gpu()) GTEST_SKIP() << "needs an AMD GPU: /dev/kfd missing";
  Pool pool;
  ASSERT_TRUE(pool.start_controller().ok());
  pool.daemon_args["gpu"] = {"--backend", "hip"};
  ASSERT_TRUE(pool.start_daemon("gpu").ok());
  ASSERT_TRUE(pool.wait_for_node("gpu", tgrack::v1::NODE_STATE_UP));
  auto nodes = pool.client().nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_GT((*nodes)[0].devices_size(), 0);
  EXPECT_EQ((*nodes)[0].devices(0).kind(), tgrack::v1::DEVICE_KIND_HIP);
  EXPECT_EQ((*nodes)[0].topology().source().rfind("kfd ", 0), 0u);
}

}  // namespace
}  // namespace tg::testing
