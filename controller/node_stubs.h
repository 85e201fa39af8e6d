// NodeStubs: one NodeService stub per daemon address, created on first use and shared by
// every caller (gRPC stubs are thread-safe), and one pool of RunGraph streams per daemon.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "call_streams.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class NodeStubs {
 public:
  using RunGraphStreams = CallStreams<tgrack::v1::RunGraphRequest, tgrack::v1::RunGraphStreamReply>;

  tgrack::v1::NodeService::Stub& at(const std::string& address);
  // RunGraph calls to the daemon at `address` over pooled streams (proto/call_streams.h).
  RunGraphStreams& run_graph(const std::string& address);

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<tgrack::v1::NodeService::Stub>> stubs_;
  std::map<std::string, std::unique_ptr<RunGraphStreams>> run_graph_streams_;
};

}  // namespace tg
