#include "controller/plan_inputs.h"

#include <algorithm>

#include <absl/strings/str_cat.h>

namespace tg {

namespace v1 = tgrack::v1;

absl::Status check_inputs(const Plan& plan, const tgrack::v1::SubmitRequest& request,
                          const std::map<std::string, tgrack::v1::RemoteTensor>& fed) {
  std::map<std::string, const v1::NamedTensor*> by_value;
  for (const v1::NamedTensor& feed : request.feeds()) {
    if (!by_value.emplace(feed.name(), &feed).second) {
      return absl::InvalidArgumentError("input '" + feed.name() + "' is fed twice");
    }
  }
  std::map<std::string, std::string> fed_by;  // Remote tensor id -> input.
  size_t matched = 0;
  for (const PlannedValue& input : plan.inputs) {
    const auto value = by_value.find(input.name);
    const auto handle = fed.find(input.name);
    if (value != by_value.end() && handle != fed.end()) {
      return absl::InvalidArgumentError("input '" + input.name +
                                        "' is fed twice (by value and by a remote tensor)");
    }
    if (value == by_value.end() && handle == fed.end()) {
      return absl::InvalidArgumentError("input '" + input.name + "' (" + input.type.str() +
                                        ") is not fed");
    }
    TensorType got;
    if (value != by_value.end()) {
      ++matched;
      got.dtype = value->second->tensor().dtype();
      got.shape.assign(value->second->tensor().shape().begin(), value->second->tensor().shape().end());
    } else {
      const v1::RemoteTensor& tensor = handle->second;
      got.dtype = tensor.dtype();
      got.shape.assign(tensor.shape().begin(), tensor.shape().end());
      auto [it, fresh] = fed_by.emplace(tensor.id(), input.name);
      if (!fresh) {
        return absl::InvalidArgumentError(absl::StrCat(
            "inputs '", it->second, "' and '", input.name, "' are both fed remote tensor '",
            tensor.id(), "'; an input may not alias another"));
      }
      auto layout = Layout::from_sharding(tensor.layout(), static_cast<int>(got.shape.size()));
      if (!layout.ok() || !(*layout == input.layout)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input '", input.name, "' was planned ", input.layout.str(), " but remote tensor '",
            tensor.id(), "' is ", layout.ok() ? layout->str() : std::string(layout.status().message())));
      }
    }
    if (!(got == input.type)) {
      return absl::InvalidArgumentError("input '" + input.name + "': expected " +
                                        input.type.str() + ", got " + got.str());
    }
  }
  if (matched != by_value.size()) {
    for (const auto& fed : by_value) {
      const std::string& name = fed.first;
      if (std::none_of(plan.inputs.begin(), plan.inputs.end(),
                       [&](const PlannedValue& v) { return v.name == name; })) {
        return absl::InvalidArgumentError("feed '" + name + "' names no INPUT of the graph");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace tg
