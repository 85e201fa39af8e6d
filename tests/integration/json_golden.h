// Golden JSON shapes for tgctl --json documents. A document's shape keeps its keys and puts
// each value's type in its place ("string", "integer", "number", "boolean", "null"); an
// array becomes [shape of its elements] (they must agree) or [] when empty. Addresses,
// ports, times and every other value are thereby masked, while renaming a key, changing a
// type (4 vs 4.0) or reshaping a list shows.
//
// expect_golden_shape(name, stdout) compares the document's shape with golden/NAME.json and
// checks the convention of docs/cli-json.md on the document itself. To write the golden files
// anew after an intended change:  TGRACK_UPDATE_GOLDEN=1 ctest -R TgctlJson
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tg::testing {

nlohmann::json json_shape(const nlohmann::json& document);

// Where `document` breaks docs/cli-json.md, one line per break ("" path = the root).
std::vector<std::string> convention_breaks(const nlohmann::json& document);

// gtest expectations: `text` is one JSON document whose shape equals golden/NAME.json and
// which follows the convention.
void expect_golden_shape(const std::string& name, const std::string& text);

}  // namespace tg::testing
