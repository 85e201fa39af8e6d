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

namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Sample> samples(const std::string& text) {
  std::vector<Sample> found;
  std::istringstream lines(text);
  std::string line;
  const std::regex sample_line(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  const std::regex label(R"(([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\]|\\.)*)\")");
  std::smatch m;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || !std::regex_match(line, m, sample_line)) continue;
    Sample sample{m[1], {}, std::stod(m[4])};
    const std::string label_text = m[3];
    for (auto it = std::sregex_iterator(label_text.begin(), label_text.end(), label);
         it != std::sregex_iterator(); ++it) {
      sample.labels[(*it)[1]] = (*it)[2];
    }
    found.push_back(std::move(sample));
  }
  return found;
}

}  // namespace

std::vector<std::map<std::string, std::string>> label_sets(const std::string& text,
                                                           const std::string& name) {
  std::vector<std::map<std::string, std::string>> sets;
  for (const Sample& s : samples(text)) {
    if (s.name == name) sets.push_back(s.labels);
  }
  return sets;
}

std::map<std::string, std::set<std::string>> labels_used(const std::string& expression) {
  std::map<std::string, std::set<std::string>> used;
  const std::regex series(R"(\b(tgrack_[a-z0-9_]+)(\{([^}]*)\})?)");
  const std::regex matcher(R"(([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=))");
  const std::regex by(R"(\bby\s*\(([^)]*)\))");
  const std::regex word(R"([a-zA-Z_][a-zA-Z0-9_]*)");
  std::set<std::string> grouped;
  for (auto it = std::sregex_iterator(expression.begin(), expression.end(), by);
       it != std::sregex_iterator(); ++it) {
    const std::string list = (*it)[1];
    for (auto w = std::sregex_iterator(list.begin(), list.end(), word); w != std::sregex_iterator();
         ++w) {
      grouped.insert(w->str());
    }
  }
  for (auto it = std::sregex_iterator(expression.begin(), expression.end(), series);
       it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    std::set<std::string>& labels = used[name];
    const std::string matchers = (*it)[3];
    for (auto m = std::sregex_iterator(matchers.begin(), matchers.end(), matcher);
         m != std::sregex_iterator(); ++m) {
      labels.insert((*m)[1]);
    }
    for (const std::string& label : grouped) {
      if (label != "le" || name.ends_with("_bucket")) labels.insert(label);
    }
  }
  return used;
}

std::optional<double> sample(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& labels) {
  std::optional<double> found;
  int matches = 0;
  for (const Sample& s : samples(text)) {
    if (s.name != name) continue;
    const std::map<std::string, std::string>& have = s.labels;
    bool all = true;
    for (const auto& [key, value] : labels) {
      const auto h = have.find(key);
      all = all && h != have.end() && h->second == value;
    }
    if (!all) continue;
    ++matches;
    found = s.value;
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
