#include "controller/duration.h"

#include <gtest/gtest.h>

namespace tg {
namespace {

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(*parse_duration("200ms"), std::chrono::milliseconds(200));
  EXPECT_EQ(*parse_duration("3s"), std::chrono::milliseconds(3000));
  EXPECT_EQ(*parse_duration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*parse_duration("2m"), std::chrono::milliseconds(120000));
}

TEST(ParseDuration, RejectsMissingUnitNegativeAndGarbage) {
  for (const char* text : {"3", "-1s", "s", "", "3 s", "3h"}) {
    auto parsed = parse_duration(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(std::string("'") + text + "'"), std::string::npos);
  }
}

}  // namespace
}  // namespace tg
