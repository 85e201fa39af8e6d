// An AMD GPU as a Device, over the HIP runtime: memory from hipMalloc within the GPU's
// capacity, zeroed before allocate() returns it (no tenant reads what another left), one
// stream per device on which every copy and kernel is queued in order, Events
// completed by stream callbacks, kernels generated per op (hip_kernels.h) and compiled with
// hiprtc for the GPU's own gfx target, cached by source; a constant node's launch uploads its
// value. A kernel that fails on its data (integer division by zero, integer to a negative
// power) completes with INVALID_ARGUMENT naming the node, as on the host; the device stays
// healthy. host_address is always nullptr.
// Copies between GPUs take the path the link policy chose (hip_peer_copy): XGMI or PCIe peer
// through hipMemcpyPeerAsync once peer access is enabled, or staged through host memory.
// reset() drains and frees everything; a device that reported a fault is also reset in
// hardware through ROCm SMI. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <absl/status/statusor.h>
#include <hip/hip_runtime_api.h>

#include "devices/device.h"
#include "devices/hip/rocm_smi.h"
#include "devices/topology/kfd_topology.h"
#include "devices/topology/link_class.h"

namespace tg {

struct HipOpenOptions {
  std::vector<int> ordinals;                    // HIP ordinals to open; empty = every GPU.
  std::string dev_root = "/dev";                // Where /dev/kfd is looked for.
  std::string kfd_topology_root = kKfdTopologyRoot;  // For hive ids; unreadable = no hives.
};

// OK when HIP sees at least one AMD GPU; otherwise UNAVAILABLE with one line naming what is
// missing: "hip backend: no AMD GPU found (/dev/kfd missing)" or the HIP error.
absl::Status hip_devices_present(const std::string& dev_root = "/dev");

// Sensor readings for metrics; a reading the GPU or SMI cannot give is absent (NaN / -1).
struct HipMetrics {
  double temperature_celsius = -1;
  double power_watts = -1;
  int64_t busy_percent = -1;
  int64_t vram_used_bytes = -1;
  std::string xgmi_errors;  // "none", "error", "multiple errors"; "" when unknown.
};

class HipDevice : public Device {
 public:
  // Opens HIP ordinal `ordinal`. `smi` may be null (no metrics, no hardware reset).
  static absl::StatusOr<std::unique_ptr<HipDevice>> open(int ordinal, std::shared_ptr<RocmSmi> smi,
                                                         const KfdTopology* topology);
  ~HipDevice() override;
  HipDevice(const HipDevice&) = delete;
  HipDevice& operator=(const HipDevice&) = delete;

  const DeviceProperties& properties() const override { return properties_; }
  uint64_t memory_used() const override;
  absl::StatusOr<Buffer> allocate(uint64_t bytes) override;
  void release(Buffer buffer) override;
  Event upload(Buffer dst, uint64_t dst_offset, const void* src, uint64_t bytes) override;
  Event download(void* dst, Buffer src, uint64_t src_offset, uint64_t bytes) override;
  Event copy(Buffer dst, uint64_t dst_offset, Buffer src, uint64_t src_offset,
             uint64_t bytes) override;
  // UNIMPLEMENTED naming the op and dtype for what the generator does not support.
  Event launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) override;
  std::byte* host_address(Buffer) override { return nullptr; }
  DeviceHealth health() const override;
  absl::Status reset() override;

  int ordinal() const { return ordinal_; }
  const std::string& arch() const { return arch_; }             // e.g. "gfx90a:sramecc+:xnack-"
  const std::string& pci_address() const { return pci_address_; }  // "0000:05:00.0"
  HipMetrics metrics() const;

  // Lets this device reach `peer`'s memory directly. FAILED_PRECONDITION naming both when HIP
  // says the pair cannot (no XGMI or PCIe peer path).
  absl::Status enable_peer_access(const HipDevice& peer);
  bool peer_access_enabled(const HipDevice& peer) const;

 private:
  struct Allocation {
    void* ptr = nullptr;
    uint64_t bytes = 0;
  };
  struct Compiled {
    hipModule_t module = nullptr;
    hipFunction_t function = nullptr;
  };

  HipDevice() = default;
  absl::Status select() const;  // hipSetDevice for the calling thread.
  // Device pointer of `buffer` at `offset` when [offset, offset + bytes) lies inside it.
  absl::StatusOr<char*> locate(Buffer buffer, uint64_t offset, uint64_t bytes) const;
  // An Event completed when the work queued so far on the stream has run, with `check`'s
  // status (when given) if that work succeeded.
  Event when_done(const std::string& what, std::function<absl::Status()> check = nullptr);
  Event upload_constant(const Kernel& kernel, Buffer output);
  // The device word kernels set on a data error, allocated on first use.
  absl::StatusOr<void*> error_flag();
  absl::StatusOr<hipFunction_t> function_for(const std::string& source);
  void free_everything();
  void note_failure(const std::string& reason);
  static void on_stream_done(hipStream_t stream, hipError_t status, void* data);

  int ordinal_ = -1;
  std::string arch_;
  std::string pci_address_;
  DeviceProperties properties_;
  std::shared_ptr<RocmSmi> smi_;
  int64_t smi_index_ = -1;
  hipStream_t stream_ = nullptr;

  mutable std::mutex mu_;
  std::map<uint64_t, Allocation> allocations_;
  uint64_t next_id_ = 1;
  uint64_t used_ = 0;
  std::map<std::string, Compiled> kernels_;
  void* error_flag_ = nullptr;
  std::set<int> peers_;
  // Non-empty once queued work failed: the device is unhealthy. Apart from mu_ because stream
  // callbacks set it while other threads may hold mu_ and wait on the stream.
  mutable std::mutex failure_mu_;
  std::string failure_;

  friend Event hip_peer_copy(HipDevice&, Buffer, uint64_t, HipDevice&, Buffer, uint64_t,
                             uint64_t, LinkClass);
};

// Copies `bytes` from `src`'s buffer to `dst`'s buffer over `path` (what the link policy
// chose). XGMI and PCIe peer use hipMemcpyPeerAsync and need dst.enable_peer_access(src)
// first: FAILED_PRECONDITION naming both devices otherwise, never a silent fallback. Host
// stages through pinned host memory synchronously: the calling thread waits for the whole
// copy and gets an Event that is already complete. Otherwise the Event completes when the
// bytes are in `dst`.
Event hip_peer_copy(HipDevice& dst, Buffer dst_buffer, uint64_t dst_offset, HipDevice& src,
                    Buffer src_buffer, uint64_t src_offset, uint64_t bytes, LinkClass path);

// Opens the GPUs in `options`. UNAVAILABLE with one line when there is none (see
// hip_devices_present); the first error opening a listed GPU otherwise.
absl::StatusOr<std::vector<std::unique_ptr<Device>>> open_hip_devices(
    const HipOpenOptions& options = {});

}  // namespace tg
