// The inputs a run of a plan is fed, checked against the plan: every INPUT fed once (by
// value or by a remote tensor, not both), with the planned dtype, shape and layout, no two
// inputs fed the same remote tensor, and no feed naming something that is not an INPUT.
// INVALID_ARGUMENT naming the input and the difference. A pure function.
#pragma once

#include <map>
#include <string>

#include <absl/status/status.h>

#include "controller/planner.h"
#include "tgrack/v1/controller.pb.h"

namespace tg {

absl::Status check_inputs(const Plan& plan, const tgrack::v1::SubmitRequest& request,
                          const std::map<std::string, tgrack::v1::RemoteTensor>& fed);

}  // namespace tg
