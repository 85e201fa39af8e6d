// A thin handle on ROCm SMI (librocm_smi64): per-GPU temperature, power, busy percent, VRAM
// used and XGMI error status for metrics and health, and the hardware reset the operations
// path uses. GPUs are addressed by SMI index; index_for_pci maps a HIP device to it.
// rsmi_init on open, rsmi_shut_down on destruction; not copyable. Thread-safe (ROCm SMI
// serialises its own calls).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <absl/status/statusor.h>

namespace tg {

enum class XgmiErrorStatus { kNoErrors, kError, kMultipleErrors };

class RocmSmi {
 public:
  // UNAVAILABLE "rocm smi: ..." when ROCm SMI cannot start (no amdgpu driver loaded).
  static absl::StatusOr<std::unique_ptr<RocmSmi>> open();
  ~RocmSmi();
  RocmSmi(const RocmSmi&) = delete;
  RocmSmi& operator=(const RocmSmi&) = delete;

  uint32_t device_count() const { return count_; }
  // The SMI index of the GPU at PCI domain:bus:device.function; NOT_FOUND otherwise.
  absl::StatusOr<uint32_t> index_for_pci(uint32_t domain, uint32_t bus, uint32_t device,
                                         uint32_t function) const;

  // Each returns the reading, or the SMI error naming the call and the index (NOT_FOUND for an
  // index out of range, UNIMPLEMENTED where the GPU has no such sensor).
  absl::StatusOr<double> temperature_celsius(uint32_t index) const;  // Edge sensor.
  absl::StatusOr<double> power_watts(uint32_t index) const;          // Average socket power.
  absl::StatusOr<uint32_t> busy_percent(uint32_t index) const;
  absl::StatusOr<uint64_t> vram_used_bytes(uint32_t index) const;
  absl::StatusOr<XgmiErrorStatus> xgmi_error_status(uint32_t index) const;

  // Resets the GPU (rsmi_dev_gpu_reset). Every allocation and context on it is lost: callers
  // drop their device state first and reopen after. GPUs of one XGMI hive must be reset
  // together; that coordination is the caller's.
  absl::Status gpu_reset(uint32_t index);

 private:
  explicit RocmSmi(uint32_t count) : count_(count) {}
  uint32_t count_ = 0;
};

std::string xgmi_error_status_name(XgmiErrorStatus status);  // "none", "error", "multiple errors"

}  // namespace tg
