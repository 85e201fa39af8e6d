// Collective requests and communicator set-up the elastic and flight-recorder tests share.
#pragma once

#include <string>
#include <vector>

#include "tgrack/v1/collectives.pb.h"

namespace tg::testing {

// A checked all-reduce (f32 sum) of `count` elements per rank on communicator `comm_id`.
inline tgrack::v1::RunCollectiveRequest checked_all_reduce(const std::string& comm_id, uint32_t warmups = 0,
                                                           uint64_t count = 4096) {
  tgrack::v1::RunCollectiveRequest request;
  request.set_comm_id(comm_id);
  request.set_kind(tgrack::v1::COLLECTIVE_ALL_REDUCE);
  request.set_dtype(tgrack::v1::DTYPE_F32);
  request.set_op(tgrack::v1::REDUCE_OP_SUM);
  request.set_count(count);
  request.set_warmup_iters(warmups);
  request.set_iters(1);
  request.set_check(true);
  return request;
}

// Device 0 of each node, in order.
inline std::vector<tgrack::v1::DeviceRef> first_devices(const std::vector<std::string>& nodes) {
  std::vector<tgrack::v1::DeviceRef> out;
  for (const std::string& node : nodes) {
    out.emplace_back().set_node(node);
  }
  return out;
}

}  // namespace tg::testing
