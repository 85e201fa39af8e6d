// Device names: NODE/INDEX everywhere, the old NODE:INDEX read and marked, anything else refused.
#include "client/device_name.h"

#include <gtest/gtest.h>

namespace tg {
namespace {

TEST(DeviceName, ReadsNodeSlashIndex) {
  auto parsed = parse_device_name("node-a/12");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ref.node(), "node-a");
  EXPECT_EQ(parsed->ref.index(), 12u);
  EXPECT_FALSE(parsed->old_form);
  EXPECT_EQ(format_device_name(parsed->ref), "node-a/12");
}

TEST(DeviceName, ReadsTheOldColonFormAndSaysSo) {
  auto parsed = parse_device_name("node-b:1");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(format_device_name(parsed->ref), "node-b/1");
  EXPECT_TRUE(parsed->old_form);
  EXPECT_EQ(old_device_form_hint("--devices", parsed->ref),
            "--devices: 'node-b:1' is the old NODE:INDEX form; devices are named NODE/INDEX: "
            "node-b/1");
}

TEST(DeviceName, RefusesWhatIsNotNodeAndIndex) {
  for (const char* bad : {"node-a", "node-a/", "/0", "node-a/x", "node-a/-1", "node-a/+1",
                          "node-a/99999999999", ""}) {
    auto parsed = parse_device_name(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(parsed.status().message(),
              std::string("'") + bad + "' is not NODE/INDEX (e.g. node-a/0)");
  }
}

TEST(DeviceName, ListsSkipEmptyItemsAndStopAtTheFirstBadOne) {
  auto parsed = parse_device_names("node-a/0,,node-b:1,");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ(format_device_name((*parsed)[1].ref), "node-b/1");
  EXPECT_TRUE((*parsed)[1].old_form);
  EXPECT_EQ(parse_device_names("node-a/0,oops").status().message(),
            "'oops' is not NODE/INDEX (e.g. node-a/0)");
}

}  // namespace
}  // namespace tg
