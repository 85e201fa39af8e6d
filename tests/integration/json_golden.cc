#include "json_golden.h"

#include <cctype>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

namespace tg::testing {
namespace {

using nlohmann::json;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool snake_case(const std::string& key) {
  if (key.empty() || !std::islower(static_cast<unsigned char>(key[0]))) return false;
  for (char c : key) {
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) &&
        c != '_') {
      return false;
    }
  }
  return true;
}

// Keys whose values are enums: lower-case words.
bool enum_key(const std::string& key) {
  return key == "state" || key == "node_state" || key == "health" || key == "kind";
}

void check(const json& value, const std::string& path, std::vector<std::string>& breaks) {
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) check(value[i], path + "[" + std::to_string(i) + "]", breaks);
    return;
  }
  if (!value.is_object()) return;
  for (const auto& [key, item] : value.items()) {
    const std::string at = path + "." + key;
    if (!snake_case(key)) breaks.push_back(at + ": key is not lower snake_case");
    if ((ends_with(key, "_bytes") || ends_with(key, "_count") || key == "index" || key == "pid") &&
        !item.is_number_integer() && !item.is_null()) {
      breaks.push_back(at + ": not an integer: " + item.dump());
    }
    if (ends_with(key, "_seconds") && !item.is_number()) {
      breaks.push_back(at + ": a duration in seconds must be a number: " + item.dump());
    }
    if (ends_with(key, "_ids") && !item.is_array()) breaks.push_back(at + ": _ids is not a list");
    if (enum_key(key) && item.is_string()) {
      const std::string text = item;
      for (char c : text) {
        if (std::isupper(static_cast<unsigned char>(c))) {
          breaks.push_back(at + ": enum value not lower-case: " + text);
          break;
        }
      }
    }
    for (const char* old : {"name", "job_id", "session", "device", "node", "comm_id"}) {
      if (key == old && !(key == "name" && value.contains("id"))) {
        breaks.push_back(at + ": identity or reference key '" + key +
                         "' (the convention says \"id\" or \"<thing>_id\")");
      }
    }
    if (key == "devices" && !item.is_array()) breaks.push_back(at + ": 'devices' is not a list");
    check(item, at, breaks);
  }
}

}  // namespace

json json_shape(const json& document) {
  switch (document.type()) {
    case json::value_t::object: {
      json out = json::object();
      for (const auto& [key, value] : document.items()) out[key] = json_shape(value);
      return out;
    }
    case json::value_t::array: {
      if (document.empty()) return json::array();
      json first = json_shape(document[0]);
      for (const json& element : document) {
        if (json_shape(element) != first) return json::array({"elements of different shapes"});
      }
      return json::array({first});
    }
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::null: return "null";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    default: return "?";
  }
}

std::vector<std::string> convention_breaks(const json& document) {
  std::vector<std::string> breaks;
  if (!document.is_object()) breaks.push_back(": the document is not an object");
  check(document, "", breaks);
  return breaks;
}

void expect_golden_shape(const std::string& name, const std::string& text) {
  const json document = json::parse(text, nullptr, false);
  ASSERT_FALSE(document.is_discarded()) << name << ": not one JSON document:\n" << text;
  for (const std::string& problem : convention_breaks(document)) {
    ADD_FAILURE() << name << ": breaks docs/cli-json.md at " << problem;
  }
  const json shape = json_shape(document);
  const std::string path = std::string(TGRACK_GOLDEN_DIR) + "/" + name + ".json";
  if (const char* update = std::getenv("TGRACK_UPDATE_GOLDEN"); update && *update == '1') {
    std::ofstream(path) << shape.dump(2) << "\n";
    return;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "no golden file " << path
                         << " (write it: TGRACK_UPDATE_GOLDEN=1 ctest -R TgctlJson)";
  const json golden = json::parse(in, nullptr, false);
  ASSERT_FALSE(golden.is_discarded()) << path << " is not JSON";
  EXPECT_EQ(shape, golden) << name << " --json changed shape.\ngolden " << path << ":\n"
                           << golden.dump(2) << "\nnow:\n"
                           << shape.dump(2)
                           << "\nIf intended: TGRACK_UPDATE_GOLDEN=1 ctest -R TgctlJson";
}

}  // namespace tg::testing
