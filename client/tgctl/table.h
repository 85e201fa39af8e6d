// Table: left-aligned text columns for tgctl's human-readable output.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tg::tgctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : rows_{std::move(headers)} {}
  // A row with fewer cells than headers is padded with empty cells.
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // Headers, then rows; columns two spaces apart, no trailing spaces.
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace tg::tgctl
