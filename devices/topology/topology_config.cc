#include "devices/topology/topology_config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <absl/strings/str_cat.h>
#include <nlohmann/json.hpp>

namespace tg {
namespace {

using nlohmann::json;

absl::Status bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("topology config: ", where, ": ", what));
}

absl::Status only_keys(const json& object, const std::string& where,
                       std::initializer_list<std::string_view> allowed) {
  if (!object.is_object()) return bad(where, "expected an object");
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) return bad(where, absl::StrCat("unknown key '", key, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> non_negative(const json& object, const std::string& key,
                                    const std::string& where, double scale) {
  if (!object.contains(key)) return 0.0;
  const json& v = object.at(key);
  if (!v.is_number() || v.get<double>() < 0) {
    return bad(absl::StrCat(where, ".", key), "expected a number >= 0");
  }
  return v.get<double>() * scale;
}

// A link description: {"class", "bandwidth_gbytes_per_s", "latency_us"} (+ "between" when
// `pair_key` is set, checked by the caller).
absl::StatusOr<Link> parse_link(const json& object, const std::string& where, bool pair_key) {
  absl::Status keys =
      pair_key ? only_keys(object, where, {"between", "class", "bandwidth_gbytes_per_s",
                                           "latency_us"})
               : only_keys(object, where, {"class", "bandwidth_gbytes_per_s", "latency_us"});
  if (!keys.ok()) return keys;
  Link link;
  if (!object.contains("class") || !object["class"].is_string()) {
    return bad(absl::StrCat(where, ".class"), "required: \"xgmi\", \"pcie\" or \"host\"");
  }
  auto cls = parse_link_class(object["class"].get<std::string>());
  if (!cls.ok()) return bad(absl::StrCat(where, ".class"), std::string(cls.status().message()));
  link.link_class = *cls;
  auto bw = non_negative(object, "bandwidth_gbytes_per_s", where, 1e9);
  if (!bw.ok()) return bw.status();
  auto lat = non_negative(object, "latency_us", where, 1e-6);
  if (!lat.ok()) return lat.status();
  link.bandwidth = *bw;
  link.min_bandwidth = *bw;
  link.latency = *lat;
  link.source = where;
  return link;
}

absl::StatusOr<std::vector<TopologyDevice>> parse_devices(const json& devices) {
  std::vector<TopologyDevice> out;
  if (devices.is_number_unsigned()) {
    for (uint64_t i = 0; i < devices.get<uint64_t>(); ++i) {
      TopologyDevice d;
      d.name = absl::StrCat("cpu", i);
      out.push_back(std::move(d));
    }
    return out;
  }
  if (!devices.is_array()) return bad("devices", "expected a list of devices or a count");
  std::set<std::string> names;
  for (size_t i = 0; i < devices.size(); ++i) {
    const std::string where = absl::StrCat("devices[", i, "]");
    if (auto s = only_keys(devices[i], where, {"name", "hive"}); !s.ok()) return s;
    TopologyDevice d;
    if (!devices[i].contains("name") || !devices[i]["name"].is_string()) {
      return bad(absl::StrCat(where, ".name"), "required string");
    }
    d.name = devices[i]["name"].get<std::string>();
    if (!names.insert(d.name).second) {
      return bad(absl::StrCat(where, ".name"), absl::StrCat("duplicate name '", d.name, "'"));
    }
    if (devices[i].contains("hive")) {
      if (!devices[i]["hive"].is_string()) {
        return bad(absl::StrCat(where, ".hive"), "expected a string");
      }
      d.hive_id = devices[i]["hive"].get<std::string>();
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

absl::StatusOr<LinkMatrix> parse_topology_config(std::string_view json_text) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    return bad("<json>", e.what());
  }
  if (auto s = only_keys(root, "<root>", {"devices", "default_link", "links"}); !s.ok()) return s;
  if (!root.contains("devices")) return bad("devices", "required");
  auto devices = parse_devices(root["devices"]);
  if (!devices.ok()) return devices.status();
  LinkMatrix matrix(std::move(*devices));

  if (root.contains("default_link")) {
    auto link = parse_link(root["default_link"], "default_link", false);
    if (!link.ok()) return link.status();
    for (size_t a = 0; a < matrix.size(); ++a) {
      for (size_t b = 0; b < matrix.size(); ++b) {
        if (a != b) matrix.set_link(a, b, *link);
      }
    }
  }
  if (!root.contains("links")) return matrix;
  const json& links = root["links"];
  if (!links.is_array()) return bad("links", "expected a list");
  std::set<std::pair<size_t, size_t>> seen;
  for (size_t i = 0; i < links.size(); ++i) {
    const std::string where = absl::StrCat("links[", i, "]");
    auto link = parse_link(links[i], where, true);
    if (!link.ok()) return link.status();
    const json* between = links[i].contains("between") ? &links[i]["between"] : nullptr;
    if (!between || !between->is_array() || between->size() != 2 ||
        !(*between)[0].is_number_unsigned() || !(*between)[1].is_number_unsigned()) {
      return bad(absl::StrCat(where, ".between"), "required: two device indices");
    }
    const size_t a = (*between)[0].get<size_t>(), b = (*between)[1].get<size_t>();
    if (a >= matrix.size() || b >= matrix.size()) {
      return bad(absl::StrCat(where, ".between"),
                 absl::StrCat("device index out of range (", matrix.size(), " devices)"));
    }
    if (a == b) return bad(absl::StrCat(where, ".between"), "a device cannot link to itself");
    if (!seen.insert({std::min(a, b), std::max(a, b)}).second) {
      return bad(absl::StrCat(where, ".between"),
                 absl::StrCat("pair ", a, "-", b, " listed twice"));
    }
    matrix.set_link(a, b, *link);
    matrix.set_link(b, a, *link);
  }
  return matrix;
}

absl::StatusOr<LinkMatrix> load_topology_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat(file.string(), ": cannot read topology config"));
  std::stringstream text;
  text << in.rdbuf();
  auto matrix = parse_topology_config(text.str());
  if (!matrix.ok()) {
    return absl::Status(matrix.status().code(),
                        absl::StrCat(file.string(), ": ", matrix.status().message()));
  }
  return matrix;
}

}  // namespace tg
