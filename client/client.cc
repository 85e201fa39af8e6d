#include "client/client.h"

#include "rpc.h"

namespace tg {

Client::Client(const std::string& controller_address, std::chrono::milliseconds deadline)
    : address_(controller_address),
      deadline_(deadline),
      stub_(tgrack::v1::ControllerService::NewStub(make_channel(controller_address))) {}

absl::StatusOr<std::vector<tgrack::v1::NodeInfo>> Client::nodes() const {
  tgrack::v1::ListNodesReply reply;
  auto context = context_with_deadline(deadline_);
  absl::Status status =
      from_grpc(stub_->ListNodes(context.get(), tgrack::v1::ListNodesRequest(), &reply));
  if (!status.ok()) return status;
  return std::vector<tgrack::v1::NodeInfo>(reply.nodes().begin(), reply.nodes().end());
}

absl::StatusOr<SubmitResult> Client::submit(const tgrack::v1::Graph& graph,
                                            const std::map<std::string, HostTensor>& feeds,
                                            const tgrack::v1::Placement& placement) const {
  tgrack::v1::SubmitRequest request;
  *request.mutable_graph() = graph;
  *request.mutable_placement() = placement;
  for (const auto& [name, tensor] : feeds) {
    tgrack::v1::NamedTensor* feed = request.add_feeds();
    feed->set_name(name);
    *feed->mutable_tensor() = tensor.to_proto();
  }
  tgrack::v1::SubmitReply reply;
  auto context = context_with_deadline(deadline_);
  absl::Status status = from_grpc(stub_->Submit(context.get(), request, &reply));
  if (!status.ok()) return status;

  SubmitResult result;
  result.device = reply.device();
  result.job_id = reply.job_id();
  for (int i = 0; i < reply.outputs_size(); ++i) {
    const std::string name = i < graph.outputs_size() ? graph.outputs(i) : std::to_string(i);
    auto tensor = HostTensor::from_proto(reply.outputs(i), "output '" + name + "'");
    if (!tensor.ok()) return tensor.status();
    result.outputs.push_back(std::move(*tensor));
  }
  return result;
}

}  // namespace tg
