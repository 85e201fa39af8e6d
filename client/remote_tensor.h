// Remote tensors: results kept on the pool (SubmitRequest.keep), owned by a session, held as
// pieces on the daemons' devices. This file reads them back: every piece straight from the
// daemon holding it (NodeService.FetchTensor at piece.address, under the piece's grant), never
// through the controller.
//
// Layout (tgrack.v1.Sharding): replicated or on one device, the first piece is the whole tensor;
// sharded, pieces are the shards in order and are joined along layout.axis (devices/shard.h).
// A piece whose dtype or shape does not match what the RemoteTensor says fails with DATA_LOSS
// naming the tensor and the piece; a daemon's error comes back with the piece's address.
// A replicated tensor is read from its first holder that answers: a dead daemon (UNAVAILABLE
// or past the deadline) is passed over for the next replica.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/tensor.h"
#include "tgrack/v1/controller.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

using RemoteTensor = tgrack::v1::RemoteTensor;

// How many shards the layout cuts the tensor into (1 when replicated or unsharded).
uint32_t shard_count(const RemoteTensor& tensor);

// Pure assembly: `pieces` are the fetched pieces in the order of tensor.pieces() (the first
// only, when not sharded). Checks each against the shard type the RemoteTensor implies.
absl::StatusOr<HostTensor> assemble(const RemoteTensor& tensor, std::vector<HostTensor> pieces);

// Reads remote tensors from daemons. Keeps one channel per daemon address for its lifetime.
// Thread-safe; pieces of one tensor are fetched concurrently.
class TensorFetcher {
 public:
  explicit TensorFetcher(std::chrono::milliseconds deadline) : deadline_(deadline) {}
  TensorFetcher(const TensorFetcher&) = delete;
  TensorFetcher& operator=(const TensorFetcher&) = delete;

  absl::StatusOr<HostTensor> fetch(const RemoteTensor& tensor);

 private:
  std::shared_ptr<tgrack::v1::NodeService::Stub> stub(const std::string& address);
  absl::StatusOr<HostTensor> fetch_piece(const RemoteTensor& tensor, int index);
  // One whole copy (a replicated or single-device tensor), from the first holder that answers.
  absl::StatusOr<HostTensor> fetch_replica(const RemoteTensor& tensor);

  std::chrono::milliseconds deadline_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<tgrack::v1::NodeService::Stub>> stubs_;  // By address.
};

}  // namespace tg
