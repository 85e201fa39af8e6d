// Reading the Prometheus text exposition format in tests: which series a registry exports
// and the value of one sample. Enough of the format for what prometheus-cpp writes.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tg::testing {

// Every series name a scrape of `text` can return: each family from its "# TYPE" line, and
// for histograms and summaries also NAME_bucket / NAME_sum / NAME_count.
std::set<std::string> exported_names(const std::string& text);

// The value of the sample called `name` whose labels include all of `labels`;
// nullopt when there is none, or when more than one matches.
std::optional<double> sample(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& labels = {});

// Every tgrack_* name mentioned in `text` (a dashboard, a rules file).
std::set<std::string> tgrack_names_in(const std::string& text);

// The labels of every sample called `name` in `text`, one map per sample.
std::vector<std::map<std::string, std::string>> label_sets(const std::string& text,
                                                           const std::string& name);

// What a PromQL expression asks of the tgrack_* series it reads: series name -> the labels
// it matches on ({label="..."}) or groups by (by (...), applied to every series of the
// expression; "le" only to _bucket series).
std::map<std::string, std::set<std::string>> labels_used(const std::string& expression);

}  // namespace tg::testing
