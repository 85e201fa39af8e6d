#include "devices/topology/kfd_properties.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tg {
namespace {

using ::testing::HasSubstr;

TEST(KfdProperties, ParsesKeyValueLinesAndRemembersTheirLines) {
  auto p = KfdProperties::parse("simd_count 416\n\nhive_id 18446744073709551615\n", "props");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p->get("simd_count"), 416u);
  EXPECT_EQ(*p->get("hive_id"), UINT64_MAX);
  EXPECT_EQ(p->where("hive_id"), "props:3");
  EXPECT_EQ(p->where("absent"), "props");
  EXPECT_EQ(p->get_or("absent", 7), 7u);
  EXPECT_FALSE(p->has("absent"));
}

TEST(KfdProperties, BadNumberNamesFileLineAndKey) {
  auto p = KfdProperties::parse("type 2\nweight 1x5\n", "nodes/1/io_links/0/properties");
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("nodes/1/io_links/0/properties:2"));
  EXPECT_THAT(p.status().message(), HasSubstr("'1x5' for 'weight'"));
}

TEST(KfdProperties, NegativeAndOverflowingValuesAreRejected) {
  EXPECT_EQ(KfdProperties::parse("weight -1\n", "f").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KfdProperties::parse("weight 18446744073709551616\n", "f").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KfdProperties, LineWithoutValueIsRejected) {
  auto p = KfdProperties::parse("type 2\nhive_id\n", "f");
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("f:2: expected '<key> <number>'"));
}

TEST(KfdProperties, DuplicateKeyIsRejected) {
  auto p = KfdProperties::parse("type 2\ntype 11\n", "f");
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("f:2: key 'type' given twice"));
}

TEST(KfdProperties, MissingKeyIsNotFoundNamingTheFile) {
  auto p = KfdProperties::parse("type 2\n", "f");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->get("weight").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(p->get("weight").status().message(), HasSubstr("f: missing key 'weight'"));
}

TEST(KfdProperties, MissingFileIsNotFound) {
  auto p = KfdProperties::read(TG_KFD_FIXTURES "/no/such/properties", "no/such/properties");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(p.status().message(), HasSubstr("no/such/properties"));
}

}  // namespace
}  // namespace tg
