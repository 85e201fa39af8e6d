#include "collectives/rack_groups.h"

#include <map>
#include <string>

namespace tg::coll {

std::optional<std::vector<uint32_t>> rack_groups(const tgrack::v1::CommunicatorSpec& spec) {
  std::map<std::string, uint32_t> first_rank;
  std::vector<uint32_t> group;
  for (const auto& info : spec.ranks()) {
    if (info.rack().empty()) return std::nullopt;
    group.push_back(first_rank.try_emplace(info.rack(), info.rank()).first->second);
  }
  if (first_rank.size() < 2) return std::nullopt;
  return group;
}

}  // namespace tg::coll
