// Client: a connection to tgcontroller for programs that use the pool.
//
// Every call is one RPC under the client's deadline and returns the controller's status
// unchanged in code and message (UNAVAILABLE when the controller cannot be reached).
// A Client is cheap to copy (copies share the channel) and thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/tensor.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg {

// What a submitted graph returned.
struct SubmitResult {
  std::vector<HostTensor> outputs;  // In the order of the graph's outputs.
  tgrack::v1::DeviceRef device;     // Where it ran.
  std::string job_id;
};

class Client {
 public:
  // Does not contact the controller; the first call does.
  explicit Client(const std::string& controller_address,
                  std::chrono::milliseconds deadline = std::chrono::seconds(60));

  const std::string& address() const { return address_; }

  // Every node with its devices, sorted by name.
  absl::StatusOr<std::vector<tgrack::v1::NodeInfo>> nodes() const;

  // Runs `graph` with one feed per INPUT node, by name. `placement` empty = anywhere.
  absl::StatusOr<SubmitResult> submit(const tgrack::v1::Graph& graph,
                                      const std::map<std::string, HostTensor>& feeds,
                                      const tgrack::v1::Placement& placement = {}) const;

 private:
  std::string address_;
  std::chrono::milliseconds deadline_;
  std::shared_ptr<tgrack::v1::ControllerService::Stub> stub_;
};

}  // namespace tg
