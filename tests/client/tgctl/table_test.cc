#include "client/tgctl/table.h"

#include <sstream>

#include <gtest/gtest.h>

namespace tg::tgctl {
namespace {

TEST(Table, AlignsColumnsAndTrimsTrailingSpace) {
  Table table({"NODE", "STATE"});
  table.add_row({"alpha-long", "UP"});
  table.add_row({"b"});
  std::ostringstream out;
  table.print(out);
  EXPECT_EQ(out.str(), "NODE        STATE\nalpha-long  UP\nb\n");
}

}  // namespace
}  // namespace tg::tgctl
