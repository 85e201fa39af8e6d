#include "client/remote_tensor.h"

#include <future>

#include <absl/strings/str_cat.h>

#include "devices/shard.h"
#include "net/rpc.h"

namespace tg {

uint32_t shard_count(const RemoteTensor& tensor) {
  const tgrack::v1::Sharding& layout = tensor.layout();
  if (layout.replicated() || layout.devices_size() == 0) return 1;
  return layout.shards() != 0 ? layout.shards() : static_cast<uint32_t>(layout.devices_size());
}

absl::StatusOr<HostTensor> assemble(const RemoteTensor& tensor, std::vector<HostTensor> pieces) {
  const Shape whole(tensor.shape().begin(), tensor.shape().end());
  const uint32_t shards = shard_count(tensor);
  const bool sharded = !tensor.layout().replicated() && tensor.layout().devices_size() > 0;
  Shape part = whole;
  if (sharded) {
    auto shape = shard_shape(whole, tensor.layout().axis(), shards);
    if (!shape.ok()) {
      return absl::Status(shape.status().code(), absl::StrCat("remote tensor '", tensor.id(),
                                                              "': ", shape.status().message()));
    }
    part = *shape;
  }
  const size_t needed = sharded ? shards : 1;
  if (pieces.size() < needed) {
    return absl::DataLossError(absl::StrCat("remote tensor '", tensor.id(), "' needs ", needed,
                                            " piece(s), has ", pieces.size()));
  }
  pieces.resize(needed);
  const TensorType expected{tensor.dtype(), part};
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].type() != expected) {
      return absl::DataLossError(absl::StrCat("remote tensor '", tensor.id(), "' piece ", i,
                                              " is ", pieces[i].type().str(), ", expected ",
                                              expected.str()));
    }
  }
  if (!sharded) return std::move(pieces.front());
  return join_shards(pieces, tensor.layout().axis());
}

std::shared_ptr<tgrack::v1::NodeService::Stub> TensorFetcher::stub(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto& stub = stubs_[address];
  if (!stub) stub = tgrack::v1::NodeService::NewStub(make_channel(address));
  return stub;
}

absl::StatusOr<HostTensor> TensorFetcher::fetch_piece(const RemoteTensor& tensor, int index) {
  const tgrack::v1::TensorPiece& piece = tensor.pieces(index);
  const std::string what = absl::StrCat("remote tensor '", tensor.id(), "' piece ", index, " (",
                                        piece.device().node(), "/", piece.device().index(),
                                        " at ", piece.address(), ")");
  tgrack::v1::FetchTensorRequest request;
  request.set_tensor_id(piece.tensor_id());
  *request.mutable_grant() = piece.grant();
  tgrack::v1::FetchTensorReply reply;
  auto context = context_with_deadline(deadline_);
  absl::Status status = from_grpc(stub(piece.address())->FetchTensor(context.get(), request, &reply));
  if (!status.ok()) return absl::Status(status.code(), what + ": " + std::string(status.message()));
  return HostTensor::from_proto(reply.tensor(), what);
}

absl::StatusOr<HostTensor> TensorFetcher::fetch_replica(const RemoteTensor& tensor) {
  absl::Status first;
  for (int i = 0; i < tensor.pieces_size(); ++i) {
    auto piece = fetch_piece(tensor, i);
    if (piece.ok()) return assemble(tensor, {std::move(*piece)});
    // Only an unreachable holder is worth passing over; any other error is the tensor's.
    if (piece.status().code() != absl::StatusCode::kUnavailable &&
        piece.status().code() != absl::StatusCode::kDeadlineExceeded) {
      return piece.status();
    }
    first.Update(piece.status());
  }
  if (tensor.pieces_size() == 1) return first;
  return absl::Status(first.code(), absl::StrCat("no holder of remote tensor '", tensor.id(),
                                                 "' answers (", tensor.pieces_size(),
                                                 " replicas); first: ", first.message()));
}

absl::StatusOr<HostTensor> TensorFetcher::fetch(const RemoteTensor& tensor) {
  if (tensor.pieces_size() == 0) {
    return absl::FailedPreconditionError("remote tensor '" + tensor.id() + "' has no pieces");
  }
  const int needed = shard_count(tensor) > 1 ? static_cast<int>(shard_count(tensor)) : 1;
  if (tensor.pieces_size() < needed) {
    return absl::DataLossError(absl::StrCat("remote tensor '", tensor.id(), "' has ",
                                            tensor.pieces_size(), " pieces for ", needed,
                                            " shards"));
  }
  if (needed == 1) return fetch_replica(tensor);
  std::vector<std::future<absl::StatusOr<HostTensor>>> pending;
  for (int i = 1; i < needed; ++i) {
    pending.push_back(std::async(std::launch::async, [this, &tensor, i] {
      return fetch_piece(tensor, i);
    }));
  }
  std::vector<HostTensor> pieces;
  absl::Status first;
  auto own = fetch_piece(tensor, 0);
  if (own.ok()) pieces.push_back(std::move(*own)); else first.Update(own.status());
  for (auto& future : pending) {  // Each bounded by the RPC deadline.
    auto piece = future.get();
    if (piece.ok()) pieces.push_back(std::move(*piece)); else first.Update(piece.status());
  }
  if (!first.ok()) return first;
  return assemble(tensor, std::move(pieces));
}

}  // namespace tg
