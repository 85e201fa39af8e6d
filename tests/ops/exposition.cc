#include "tests/ops/exposition.h"

#include <regex>
#include <sstream>
#include <vector>

namespace tg::testing {

std::set<std::string> exported_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream lines(text);
  std::string line;
  const std::regex type_line(R"(^# TYPE (\S+) (\S+)$)");
  std::smatch m;
  while (std::getline(lines, line)) {
    if (!std::regex_match(line, m, type_line)) continue;
    const std::string name = m[1];
    names.insert(name);
    if (m[2] == "histogram" || m[2] == "summary") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(name + suffix);
    }
  }
  return names;
}

std::optional<double> sample(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& labels) {
  std::istringstream lines(text);
  std::string line;
  const std::regex sample_line(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  const std::regex label(R"(([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\]|\\.)*)\")");
  std::optional<double> found;
  int matches = 0;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || !std::regex_match(line, m, sample_line)) continue;
    if (m[1] != name) continue;
    std::map<std::string, std::string> have;
    const std::string label_text = m[3];
    for (auto it = std::sregex_iterator(label_text.begin(), label_text.end(), label);
         it != std::sregex_iterator(); ++it) {
      have[(*it)[1]] = (*it)[2];
    }
    bool all = true;
    for (const auto& [key, value] : labels) {
      const auto h = have.find(key);
      all = all && h != have.end() && h->second == value;
    }
    if (!all) continue;
    ++matches;
    found = std::stod(m[4]);
  }
  return matches == 1 ? found : std::nullopt;
}

std::set<std::string> tgrack_names_in(const std::string& text) {
  std::set<std::string> names;
  const std::regex name(R"(\btgrack_[a-z0-9_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it) {
    names.insert(it->str());
  }
  return names;
}

}  // namespace tg::testing
