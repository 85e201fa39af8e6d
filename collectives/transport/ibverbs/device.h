// Whether this host can use RDMA: the first device ibv_get_device_list reports, or an error
// naming what is missing. Only built when libibverbs is present.
#pragma once

#include <string>

#include <absl/status/statusor.h>

namespace tg::coll::ibverbs {

// NOT_FOUND "no RDMA device: ..." when the library finds none (no RDMA NIC, no rxe/siw).
absl::StatusOr<std::string> rdma_device();

}  // namespace tg::coll::ibverbs
