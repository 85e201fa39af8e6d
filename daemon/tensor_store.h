// TensorStore: tensors kept on this daemon's devices between runs (remote tensors), by id.
// Each holds a device buffer, its type, the device index and the session and tenant that own
// it. A lookup on behalf of a tenant answers for another tenant's tensor exactly as for an
// unknown id; "" (the controller's own calls) sees every tenant's.
// The store owns the buffers: a tensor is freed when it is freed here (by id or with its
// session) or replaced, but never while a run still holds it (Lease).
//
// When a device is reset its tensors are dropped without touching the device (the reset
// frees all of its memory); later use of one of their ids fails with FAILED_PRECONDITION
// "tensor 'id' was lost: device node/i was reset". Thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devices/device.h"
#include "devices/tensor.h"

namespace tg {

// One stored tensor. Releases its buffer when the last holder lets go, unless its device
// was reset meanwhile.
struct StoredTensor {
  std::string id;
  uint32_t device_index = 0;
  std::string session;
  std::string tenant;
  TensorType type;
  Buffer buffer;
  Device* device = nullptr;
  std::atomic<bool> lost{false};  // Set when the device is reset.
  ~StoredTensor();
};

class TensorStore {
 public:
  using Lease = std::shared_ptr<const StoredTensor>;

  // `devices[i]` is device index i of node `node_name`; the devices outlive the store.
  TensorStore(std::string node_name, std::vector<Device*> devices);
  TensorStore(const TensorStore&) = delete;
  TensorStore& operator=(const TensorStore&) = delete;

  // Takes ownership of `buffer` (allocated on device `device_index`) as tensor `id` of
  // `session`. An existing tensor with that id is replaced (freed once no run holds it).
  // NOT_FOUND for a device index the node lacks (the buffer stays the caller's);
  // PERMISSION_DENIED when the id is another tenant's.
  absl::Status put(const std::string& id, uint32_t device_index, Buffer buffer, TensorType type,
                   const std::string& session, const std::string& tenant = "");
  // The tensor, held for as long as the lease lives. NOT_FOUND naming the id when unknown
  // (or another tenant's than `tenant`); FAILED_PRECONDITION when its device was reset.
  absl::StatusOr<Lease> get(const std::string& id, const std::string& tenant = "") const;
  // The tensor's value, read from its device; errors as get() (for `tenant`).
  absl::StatusOr<HostTensor> fetch(const std::string& id, const std::string& tenant = "") const;
  // Frees `ids` (unknown ids are ignored) and every tensor of `session` ("" = none);
  // returns how many tensors were freed. Forgets lost ids among them too.
  uint64_t free(const std::vector<std::string>& ids, const std::string& session);
  // Every stored tensor, by id.
  std::vector<std::shared_ptr<const StoredTensor>> list() const;
  // Bytes held per session.
  std::map<std::string, uint64_t> bytes_by_session() const;
  // Device `device_index` is being reset: forgets its tensors without releasing their
  // buffers. Call after the device is drained and before it is reset.
  void drop_device(uint32_t device_index);

 private:
  const std::string node_name_;
  const std::vector<Device*> devices_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<StoredTensor>> tensors_;  // Guarded by mu_.
  // Ids lost to a reset: why, and the session that owned them. Guarded by mu_.
  std::map<std::string, std::pair<std::string, std::string>> lost_;
};

}  // namespace tg
