#include "controller/node_stubs.h"

#include "rpc.h"

namespace tg {

tgrack::v1::NodeService::Stub& NodeStubs::at(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) stub = tgrack::v1::NodeService::NewStub(make_channel(address));
  return *stub;
}

NodeStubs::RunGraphStreams& NodeStubs::run_graph(const std::string& address) {
  tgrack::v1::NodeService::Stub& stub = at(address);
  std::lock_guard lock(mu_);
  auto& streams = run_graph_streams_[address];
  if (!streams) {
    streams = std::make_unique<RunGraphStreams>(
        [&stub](grpc::ClientContext* context) { return stub.RunGraphStream(context); },
        "RunGraph on " + address);
  }
  return *streams;
}

}  // namespace tg
