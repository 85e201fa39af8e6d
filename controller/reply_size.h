// The size check of a Submit's reply, made before the graph runs: the outputs it returns
// (every output not kept on the pool) must fit one message together.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <absl/status/status.h>

#include "devices/tensor.h"

namespace tg {

// RESOURCE_EXHAUSTED naming the outputs, their total size and the message limit when the
// `returned` outputs (name, type) need more than one message holds; the error says that large
// results stay on the pool as remote tensors (RunOptions keep).
absl::Status check_returned_outputs(
    const std::vector<std::pair<std::string, TensorType>>& returned);

}  // namespace tg
