// One KFD sysfs "properties" file: lines of "<key> <unsigned decimal>", as the amdgpu driver
// writes for topology nodes and links. Keeps the line of every key so later checks (a link to
// an unknown node) can point at the offending line. Immutable after parsing; thread-compatible.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace tg {

class KfdProperties {
 public:
  // Reads and parses `file`; `display` is how errors name it (e.g. "nodes/1/properties").
  // NOT_FOUND when the file is missing or unreadable; INVALID_ARGUMENT "<display>:<line>: ..."
  // for a line that is not "key value", a value that is not an unsigned 64-bit decimal, or a
  // key given twice.
  static absl::StatusOr<KfdProperties> read(const std::filesystem::path& file,
                                            std::string display);
  static absl::StatusOr<KfdProperties> parse(std::string_view text, std::string display);

  bool has(std::string_view key) const;
  // NOT_FOUND "<display>: missing key '<key>'".
  absl::StatusOr<uint64_t> get(std::string_view key) const;
  uint64_t get_or(std::string_view key, uint64_t fallback) const;
  // "<display>:<line>" for a present key, "<display>" otherwise.
  std::string where(std::string_view key) const;
  const std::string& display() const { return display_; }

 private:
  struct Value {
    uint64_t value;
    int line;
  };
  std::string display_;
  std::map<std::string, Value, std::less<>> values_;
};

}  // namespace tg
