#include "devices/topology/link_class.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

namespace tg {

std::string link_class_name(LinkClass link_class) {
  switch (link_class) {
    case LinkClass::kXgmi: return "xgmi";
    case LinkClass::kPcie: return "pcie";
    case LinkClass::kHost: return "host";
  }
  return "host";
}

std::string link_class_label(LinkClass link_class) {
  switch (link_class) {
    case LinkClass::kXgmi: return "XGMI";
    case LinkClass::kPcie: return "PCIE";
    case LinkClass::kHost: return "HOST";
  }
  return "HOST";
}

std::string link_class_description(LinkClass link_class) {
  switch (link_class) {
    case LinkClass::kXgmi: return "XGMI";
    case LinkClass::kPcie: return "PCIe peer";
    case LinkClass::kHost: return "host-staged";
  }
  return "host-staged";
}

absl::StatusOr<LinkClass> parse_link_class(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(std::string(name));
  for (LinkClass c : {LinkClass::kXgmi, LinkClass::kPcie, LinkClass::kHost}) {
    if (lower == link_class_name(c)) return c;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown link class '", std::string(name), "' (expected xgmi, pcie or host)"));
}

}  // namespace tg
