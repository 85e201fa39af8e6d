// The RPCs that are also served as socket calls (socket_calls.h), by the tag their request
// frames carry. Each takes and returns the messages of the gRPC method of the same name.
#pragma once

#include <cstdint>

namespace tg {

enum CallMethod : uint32_t {
  kCallSubmit = 1,    // ControllerService.Submit: SubmitRequest -> SubmitReply.
  kCallRunGraph = 2,  // NodeService.RunGraph: RunGraphRequest -> RunGraphReply.
};

}  // namespace tg
