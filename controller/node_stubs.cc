#include "controller/node_stubs.h"

#include "call_methods.h"
#include "rpc.h"

namespace tg {

tgrack::v1::NodeService::Stub& NodeStubs::at(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) stub = tgrack::v1::NodeService::NewStub(make_channel(address));
  return *stub;
}

absl::StatusOr<tgrack::v1::RunGraphReply> NodeStubs::run_graph(
    const std::string& address, uint32_t call_port, const tgrack::v1::RunGraphRequest& request,
    std::chrono::milliseconds timeout) {
  if (call_port == 0) {
    tgrack::v1::RunGraphReply reply;
    auto context = context_with_deadline(timeout);
    const absl::Status status = from_grpc(at(address).RunGraph(context.get(), request, &reply));
    if (!status.ok()) return status;
    return reply;
  }
  const std::string call_address =
      address.substr(0, address.rfind(':')) + ":" + std::to_string(call_port);
  SocketCalls* calls = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& pooled = run_graph_calls_[call_address];
    if (!pooled) pooled = std::make_unique<SocketCalls>(call_address, "RunGraph on " + address);
    calls = pooled.get();
  }
  return calls->call<tgrack::v1::RunGraphReply>(kCallRunGraph, request, timeout);
}

}  // namespace tg
