// Ids nobody guesses (net/random_id.h): the prefix, then 32 hex digits that all vary, and no
// two ids alike.
#include "net/random_id.h"

#include <array>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace tg {
namespace {

TEST(RandomId, IsThePrefixAnd32HexDigitsEveryOneOfThemRandom) {
  constexpr int kIds = 2000;
  constexpr size_t kPrefix = 4;  // "job-"
  std::set<std::string> ids;
  std::array<std::set<char>, 32> seen;  // The digits each position took.
  for (int i = 0; i < kIds; ++i) {
    const std::string id = random_id("job-");
    ASSERT_EQ(id.size(), kPrefix + 32) << id;
    ASSERT_EQ(id.substr(0, kPrefix), "job-");
    for (size_t d = 0; d < 32; ++d) {
      const char c = id[kPrefix + d];
      ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
      seen[d].insert(c);
    }
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kIds));
  // 2000 draws of a random hex digit miss one of the 16 with probability about 16 * (15/16)^2000:
  // never. A digit that is fixed (a counter, padding, fewer random bits) takes few values.
  for (size_t d = 0; d < 32; ++d) EXPECT_EQ(seen[d].size(), 16u) << "hex digit " << d;
}

}  // namespace
}  // namespace tg
