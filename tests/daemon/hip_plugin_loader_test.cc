// The HIP plugin loader: where it looks, and a one-line reason naming the plugin and the
// culprit for every plugin it cannot use (absent, not a library, a missing library, no entry
// point, another version). The plugins are stand-ins built by tests/daemon/CMakeLists.txt.
#include "daemon/hip_plugin_loader.h"

#include <cstdlib>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "process.h"

namespace tg {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

absl::Status load_status(const std::string& path) { return load_hip_plugin(path).status(); }

TEST(HipPluginLoader, AbsentPluginIsUnavailableNamingThePath) {
  TempDir dir;
  const std::string path = dir.file("libtgrack-hip.so");
  absl::Status s = load_status(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("hip backend: plugin " + path + " is not installed"));
}

TEST(HipPluginLoader, AFileThatIsNoLibraryIsUnavailableNamingIt) {
  TempDir dir;
  const std::string path = dir.file("libtgrack-hip.so");
  std::ofstream(path) << "not an ELF file\n";
  absl::Status s = load_status(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("cannot load plugin " + path + ": "));
}

TEST(HipPluginLoader, AMissingLibraryIsNamed) {
  absl::Status s = load_status(FAKE_PLUGIN_MISSING_LIBRARY_PATH);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("libtgrack-test-rocm-stand-in.so"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("cannot open shared object file"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("is the ROCm runtime installed?"));
}

TEST(HipPluginLoader, APluginOfAnotherVersionIsRefused) {
  absl::Status s = load_status(FAKE_PLUGIN_OTHER_VERSION_PATH);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("belongs to tgrack 0.0.0-other"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("this tgd is " TGRACK_VERSION));
}

TEST(HipPluginLoader, ALibraryWithoutTheEntryPointIsRefused) {
  absl::Status s = load_status(NOT_A_PLUGIN_PATH);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("has no entry point tgrack_hip_plugin"));
}

TEST(HipPluginLoader, AGoodPluginLoadsOnceAndAnswers) {
  auto plugin = load_hip_plugin(FAKE_PLUGIN_PATH);
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_STREQ((*plugin)->version, TGRACK_VERSION);
  absl::Status present = (*plugin)->devices_present("/nowhere");
  EXPECT_EQ(present.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(present.message()), HasSubstr("/nowhere/kfd missing"));
  auto again = load_hip_plugin(FAKE_PLUGIN_PATH);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *plugin);
}

TEST(HipPluginLoader, FlagBeatsEnvironmentBeatsTheInstalledPlace) {
  ::unsetenv(kHipPluginEnv);
  const std::string installed = hip_plugin_path("");
  EXPECT_EQ(installed, default_hip_plugin_path());
  EXPECT_TRUE(installed.ends_with("/lib/tgrack/libtgrack-hip.so") ||
              installed.ends_with("-linux-gnu/tgrack/libtgrack-hip.so"))
      << installed;
  ::setenv(kHipPluginEnv, "/from/env.so", 1);
  EXPECT_EQ(hip_plugin_path(""), "/from/env.so");
  EXPECT_EQ(hip_plugin_path("/from/flag.so"), "/from/flag.so");
  ::unsetenv(kHipPluginEnv);
}

}  // namespace
}  // namespace tg
