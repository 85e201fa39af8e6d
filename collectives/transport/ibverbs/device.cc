#include "collectives/transport/ibverbs/device.h"

#include <infiniband/verbs.h>

namespace tg::coll::ibverbs {

absl::StatusOr<std::string> rdma_device() {
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list == nullptr || n == 0) {
    if (list) ibv_free_device_list(list);
    return absl::NotFoundError(
        "no RDMA device: ibv_get_device_list found none (no RDMA NIC, and no rxe/siw soft-RoCE in this kernel)");
  }
  std::string name = ibv_get_device_name(list[0]);
  ibv_free_device_list(list);
  return name;
}

}  // namespace tg::coll::ibverbs
