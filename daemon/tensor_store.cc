#include "daemon/tensor_store.h"

#include <absl/strings/str_cat.h>

namespace tg {

StoredTensor::~StoredTensor() {
  if (!lost && buffer.id != 0) device->release(buffer);
}

TensorStore::TensorStore(std::string node_name, std::vector<Device*> devices)
    : node_name_(std::move(node_name)), devices_(std::move(devices)) {}

absl::Status TensorStore::put(const std::string& id, uint32_t device_index, Buffer buffer,
                              TensorType type, const std::string& session,
                              const std::string& tenant) {
  if (device_index >= devices_.size()) {
    return absl::NotFoundError(absl::StrCat("cannot store tensor '", id, "': node ", node_name_,
                                            " has no device ", device_index));
  }
  {
    std::lock_guard lock(mu_);
    if (auto it = tensors_.find(id); it != tensors_.end() && it->second->tenant != tenant) {
      return absl::PermissionDeniedError(absl::StrCat("cannot store tensor '", id, "' on node ",
                                                      node_name_, ": the id is taken"));
    }
  }
  auto tensor = std::make_shared<StoredTensor>();
  tensor->id = id;
  tensor->device_index = device_index;
  tensor->session = session;
  tensor->tenant = tenant;
  tensor->type = std::move(type);
  tensor->buffer = buffer;
  tensor->device = devices_[device_index];
  std::shared_ptr<StoredTensor> replaced;  // Released outside the lock.
  std::lock_guard lock(mu_);
  lost_.erase(id);
  std::swap(tensors_[id], tensor);
  replaced = std::move(tensor);
  return absl::OkStatus();
}

absl::StatusOr<TensorStore::Lease> TensorStore::get(const std::string& id,
                                                    const std::string& tenant) const {
  std::lock_guard lock(mu_);
  if (auto it = tensors_.find(id); it != tensors_.end()) {
    if (tenant.empty() || it->second->tenant.empty() || it->second->tenant == tenant) {
      return Lease(it->second);
    }
    return absl::NotFoundError(absl::StrCat("node ", node_name_, " holds no tensor '", id, "'"));
  }
  if (auto it = lost_.find(id); it != lost_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor '", id, "' was lost: ", it->second.first));
  }
  return absl::NotFoundError(absl::StrCat("node ", node_name_, " holds no tensor '", id, "'"));
}

absl::StatusOr<HostTensor> TensorStore::fetch(const std::string& id,
                                              const std::string& tenant) const {
  auto lease = get(id, tenant);
  if (!lease.ok()) return lease.status();
  const StoredTensor& tensor = **lease;
  HostTensor value(tensor.type);
  absl::Status status =
      tensor.device->download(value.data(), tensor.buffer, 0, value.bytes()).wait();
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("reading tensor '", id, "' from ", node_name_, "/",
                                     tensor.device_index, ": ", status.message()));
  }
  return value;
}

uint64_t TensorStore::free(const std::vector<std::string>& ids, const std::string& session) {
  std::vector<std::shared_ptr<StoredTensor>> freed;  // Released outside the lock.
  std::lock_guard lock(mu_);
  for (const std::string& id : ids) {
    lost_.erase(id);
    if (auto it = tensors_.find(id); it != tensors_.end()) {
      freed.push_back(std::move(it->second));
      tensors_.erase(it);
    }
  }
  if (!session.empty()) {
    std::erase_if(lost_, [&](const auto& entry) { return entry.second.second == session; });
    for (auto it = tensors_.begin(); it != tensors_.end();) {
      if (it->second->session == session) {
        freed.push_back(std::move(it->second));
        it = tensors_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return freed.size();
}

std::vector<std::shared_ptr<const StoredTensor>> TensorStore::list() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const StoredTensor>> result;
  for (const auto& [id, tensor] : tensors_) result.push_back(tensor);
  return result;
}

std::map<std::string, uint64_t> TensorStore::bytes_by_session() const {
  std::lock_guard lock(mu_);
  std::map<std::string, uint64_t> bytes;
  for (const auto& [id, tensor] : tensors_) bytes[tensor->session] += tensor->type.bytes();
  return bytes;
}

void TensorStore::drop_device(uint32_t device_index) {
  const std::string why = absl::StrCat("device ", node_name_, "/", device_index, " was reset");
  std::lock_guard lock(mu_);
  for (auto it = tensors_.begin(); it != tensors_.end();) {
    if (it->second->device_index == device_index) {
      it->second->lost = true;
      lost_[it->first] = {why, it->second->session};
      it = tensors_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace tg
