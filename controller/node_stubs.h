// NodeStubs: one NodeService stub per daemon address, created on first use and shared by
// every caller (gRPC stubs are thread-safe), and one pool of RunGraph socket-call
// connections per daemon. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <absl/status/statusor.h>

#include "socket_calls.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class NodeStubs {
 public:
  tgrack::v1::NodeService::Stub& at(const std::string& address);
  // RunGraph on the daemon whose NodeService is at `address`: a socket call to `call_port`
  // on its host when the daemon serves one (proto/socket_calls.h), a gRPC call otherwise.
  // The daemon's errors come back unchanged; failures to reach it name the address.
  absl::StatusOr<tgrack::v1::RunGraphReply> run_graph(const std::string& address,
                                                       uint32_t call_port,
                                                       const tgrack::v1::RunGraphRequest& request,
                                                       std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<tgrack::v1::NodeService::Stub>> stubs_;
  std::map<std::string, std::unique_ptr<SocketCalls>> run_graph_calls_;  // By call address.
};

}  // namespace tg
