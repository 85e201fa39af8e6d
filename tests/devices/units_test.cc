#include "devices/units.h"

#include <gtest/gtest.h>

namespace tg {
namespace {

TEST(Units, ParsesBinaryMultiples) {
  EXPECT_EQ(*parse_bytes("4096"), 4096u);
  EXPECT_EQ(*parse_bytes("512K"), 512u << 10);
  EXPECT_EQ(*parse_bytes("512M"), 512u << 20);
  EXPECT_EQ(*parse_bytes("512MiB"), 512u << 20);
  EXPECT_EQ(*parse_bytes("2G"), uint64_t{2} << 30);
  EXPECT_EQ(*parse_bytes("2g"), uint64_t{2} << 30);
  EXPECT_EQ(*parse_bytes("1T"), uint64_t{1} << 40);
  EXPECT_EQ(*parse_bytes("64B"), 64u);
  EXPECT_EQ(*parse_bytes("0"), 0u);
}

TEST(Units, RejectsWhatIsNotASize) {
  for (const char* text :
       {"", "M", "12X", "1.5G", "-1", "99999999999999999999", "17179869184T", "12 M"}) {
    auto parsed = parse_bytes(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(parsed.status().message().find(std::string("'") + text + "'"), std::string::npos)
        << parsed.status();
  }
}

TEST(Units, Formats) {
  EXPECT_EQ(format_bytes(100), "100 B");
  EXPECT_EQ(format_bytes(512u << 20), "512.0 MiB");
  EXPECT_EQ(format_bytes(uint64_t{3} << 29), "1.5 GiB");
  EXPECT_EQ(format_bytes(12u << 20), "12.0 MiB");
  EXPECT_EQ(format_bytes(1024), "1.0 KiB");
}

}  // namespace
}  // namespace tg
