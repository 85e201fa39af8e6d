// Submitter: sends Submit requests to the controller. It asks the controller once for its
// Submit socket-call port (GetCallPort) and from then on submits over pooled plain-TCP
// connections (proto/socket_calls.h), the fast path for small graphs; a controller without
// such a port gets gRPC Submit calls. When a socket call finds the controller unavailable,
// the port is asked for again, and if the controller came back on another port the call is
// made once more there. Errors are the controller's, unchanged, or name the address that
// could not be reached. Thread-safe; shared by the copies of a Client.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <absl/status/statusor.h>

#include "socket_calls.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg {

class Submitter {
 public:
  Submitter(std::string controller_address,
            std::shared_ptr<tgrack::v1::ControllerService::Stub> stub);

  absl::StatusOr<tgrack::v1::SubmitReply> submit(const tgrack::v1::SubmitRequest& request,
                                                 std::chrono::milliseconds timeout);

 private:
  // The socket calls to the controller's Submit port, null when it serves none; asks the
  // controller when not known yet or when `ask_again`.
  absl::StatusOr<std::shared_ptr<SocketCalls>> socket_calls(std::chrono::milliseconds timeout,
                                                            bool ask_again);

  const std::string address_;
  const std::shared_ptr<tgrack::v1::ControllerService::Stub> stub_;
  std::mutex mu_;
  bool known_ = false;                  // Guarded by mu_, as is calls_.
  std::shared_ptr<SocketCalls> calls_;
};

}  // namespace tg
