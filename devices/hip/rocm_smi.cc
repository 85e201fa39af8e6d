#include "devices/hip/rocm_smi.h"

#include <absl/strings/str_cat.h>
#include <rocm_smi/rocm_smi.h>

namespace tg {
namespace {

absl::Status smi_status(rsmi_status_t status, const std::string& what, uint32_t index) {
  if (status == RSMI_STATUS_SUCCESS) return absl::OkStatus();
  const char* text = nullptr;
  if (rsmi_status_string(status, &text) != RSMI_STATUS_SUCCESS || text == nullptr) text = "?";
  const std::string message = absl::StrCat("rocm smi: ", what, " on GPU ", index, ": ", text);
  switch (status) {
    case RSMI_STATUS_INVALID_ARGS: return absl::NotFoundError(message);
    case RSMI_STATUS_NOT_SUPPORTED: return absl::UnimplementedError(message);
    case RSMI_STATUS_PERMISSION: return absl::PermissionDeniedError(message);
    default: return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocmSmi>> RocmSmi::open() {
  rsmi_status_t status = rsmi_init(0);
  if (status != RSMI_STATUS_SUCCESS) {
    const char* text = nullptr;
    if (rsmi_status_string(status, &text) != RSMI_STATUS_SUCCESS || text == nullptr) text = "?";
    return absl::UnavailableError(absl::StrCat("rocm smi: cannot start: ", text));
  }
  uint32_t count = 0;
  status = rsmi_num_monitor_devices(&count);
  if (status != RSMI_STATUS_SUCCESS) {
    rsmi_shut_down();
    return absl::UnavailableError("rocm smi: cannot count GPUs");
  }
  return std::unique_ptr<RocmSmi>(new RocmSmi(count));
}

RocmSmi::~RocmSmi() { rsmi_shut_down(); }

absl::StatusOr<uint32_t> RocmSmi::index_for_pci(uint32_t domain, uint32_t bus, uint32_t device,
                                                uint32_t function) const {
  const uint64_t want = (uint64_t{domain} << 32) | ((bus & 0xff) << 8) | ((device & 0x1f) << 3) |
                        (function & 0x7);
  for (uint32_t i = 0; i < count_; ++i) {
    uint64_t bdfid = 0;
    if (rsmi_dev_pci_id_get(i, &bdfid) == RSMI_STATUS_SUCCESS && bdfid == want) return i;
  }
  return absl::NotFoundError(absl::StrCat("rocm smi: no GPU at PCI ", domain, ":", bus, ":",
                                          device, ".", function));
}

absl::StatusOr<double> RocmSmi::temperature_celsius(uint32_t index) const {
  int64_t millidegrees = 0;
  auto s = smi_status(
      rsmi_dev_temp_metric_get(index, RSMI_TEMP_TYPE_EDGE, RSMI_TEMP_CURRENT, &millidegrees),
      "temperature", index);
  if (!s.ok()) return s;
  return static_cast<double>(millidegrees) / 1000.0;
}

absl::StatusOr<double> RocmSmi::power_watts(uint32_t index) const {
  uint64_t microwatts = 0;
  auto s = smi_status(rsmi_dev_power_ave_get(index, 0, &microwatts), "power", index);
  if (!s.ok()) return s;
  return static_cast<double>(microwatts) / 1e6;
}

absl::StatusOr<uint32_t> RocmSmi::busy_percent(uint32_t index) const {
  uint32_t busy = 0;
  auto s = smi_status(rsmi_dev_busy_percent_get(index, &busy), "busy percent", index);
  if (!s.ok()) return s;
  return busy;
}

absl::StatusOr<uint64_t> RocmSmi::vram_used_bytes(uint32_t index) const {
  uint64_t used = 0;
  auto s = smi_status(rsmi_dev_memory_usage_get(index, RSMI_MEM_TYPE_VRAM, &used), "VRAM used",
                      index);
  if (!s.ok()) return s;
  return used;
}

absl::StatusOr<XgmiErrorStatus> RocmSmi::xgmi_error_status(uint32_t index) const {
  rsmi_xgmi_status_t status = RSMI_XGMI_STATUS_NO_ERRORS;
  auto s = smi_status(rsmi_dev_xgmi_error_status(index, &status), "XGMI error status", index);
  if (!s.ok()) return s;
  switch (status) {
    case RSMI_XGMI_STATUS_NO_ERRORS: return XgmiErrorStatus::kNoErrors;
    case RSMI_XGMI_STATUS_ERROR: return XgmiErrorStatus::kError;
    default: return XgmiErrorStatus::kMultipleErrors;
  }
}

absl::Status RocmSmi::gpu_reset(uint32_t index) {
  return smi_status(rsmi_dev_gpu_reset(static_cast<int32_t>(index)), "GPU reset", index);
}

std::string xgmi_error_status_name(XgmiErrorStatus status) {
  switch (status) {
    case XgmiErrorStatus::kNoErrors: return "none";
    case XgmiErrorStatus::kError: return "error";
    case XgmiErrorStatus::kMultipleErrors: return "multiple errors";
  }
  return "multiple errors";
}

}  // namespace tg
