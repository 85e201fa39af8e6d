#include "devices/hip/hip_device.h"

#include <filesystem>
#include <functional>
#include <memory>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include "devices/graph/type_rules.h"
#include "devices/hip/hip_compiler.h"
#include "devices/hip/hip_kernels.h"
#include "devices/hip/hip_status.h"

namespace tg {
namespace {

// What a stream callback needs to finish one Event.
struct Completion {
  EventCompleter completer;
  std::string what;
  HipDevice* device;
  std::function<absl::Status()> check;  // Run once the work succeeded; may be empty.
};

std::string hive_of(const KfdTopology* topology, const hipDeviceProp_t& prop) {
  if (topology == nullptr) return "";
  const uint64_t location = (static_cast<uint64_t>(prop.pciBusID) << 8) |
                            (static_cast<uint64_t>(prop.pciDeviceID) << 3);
  for (const KfdNode& node : topology->nodes) {
    if (node.is_gpu() && node.domain == static_cast<uint64_t>(prop.pciDomainID) &&
        (node.location_id & ~uint64_t{7}) == location && node.hive_id != 0) {
      return absl::StrFormat("0x%016x", node.hive_id);
    }
  }
  return "";
}

}  // namespace

absl::Status hip_devices_present(const std::string& dev_root) {
  const std::filesystem::path kfd = std::filesystem::path(dev_root) / "kfd";
  if (!std::filesystem::exists(kfd)) {
    return absl::UnavailableError(
        absl::StrCat("hip backend: no AMD GPU found (", kfd.string(), " missing)"));
  }
  int count = 0;
  const hipError_t error = hipGetDeviceCount(&count);
  if (error != hipSuccess) {
    return absl::UnavailableError(absl::StrCat("hip backend: no AMD GPU found (hipGetDeviceCount: ",
                                               hipGetErrorName(error), ")"));
  }
  if (count == 0) return absl::UnavailableError("hip backend: no AMD GPU found (HIP sees 0 GPUs)");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HipDevice>> HipDevice::open(int ordinal,
                                                           std::shared_ptr<RocmSmi> smi,
                                                           const KfdTopology* topology) {
  std::unique_ptr<HipDevice> d(new HipDevice());
  d->ordinal_ = ordinal;
  if (auto s = d->select(); !s.ok()) return s;
  hipDeviceProp_t prop;
  if (auto s = hip_status(hipGetDeviceProperties(&prop, ordinal), "hipGetDeviceProperties");
      !s.ok()) {
    return s;
  }
  d->arch_ = prop.gcnArchName;
  d->pci_address_ = absl::StrFormat("%04x:%02x:%02x.0", prop.pciDomainID, prop.pciBusID,
                                    prop.pciDeviceID);
  d->properties_.name = prop.name;
  d->properties_.kind = tgrack::v1::DEVICE_KIND_HIP;
  d->properties_.memory_bytes = prop.totalGlobalMem;
  // 64 lanes per CU, one FMA (2 FLOPs) per lane per clock; DDR memory, bus width in bits.
  d->properties_.peak_flops = 2.0 * 64 * prop.multiProcessorCount * prop.clockRate * 1e3;
  d->properties_.memory_bandwidth = 2.0 * prop.memoryClockRate * 1e3 * prop.memoryBusWidth / 8;
  d->properties_.hive_id = hive_of(topology, prop);
  if (auto s = hip_status(hipStreamCreateWithFlags(&d->stream_, hipStreamNonBlocking),
                          "hipStreamCreate");
      !s.ok()) {
    return s;
  }
  d->smi_ = std::move(smi);
  if (d->smi_) {
    auto index = d->smi_->index_for_pci(prop.pciDomainID, prop.pciBusID, prop.pciDeviceID, 0);
    if (index.ok()) d->smi_index_ = *index;
  }
  return d;
}

HipDevice::~HipDevice() {
  if (select().ok()) {
    if (stream_) (void)hipStreamSynchronize(stream_);
    free_everything();
    if (stream_) (void)hipStreamDestroy(stream_);
  }
}

absl::Status HipDevice::select() const {
  return hip_status(hipSetDevice(ordinal_), absl::StrCat("hipSetDevice(", ordinal_, ")"));
}

uint64_t HipDevice::memory_used() const {
  std::lock_guard lock(mu_);
  return used_;
}

absl::StatusOr<Buffer> HipDevice::allocate(uint64_t bytes) {
  std::lock_guard lock(mu_);
  const uint64_t free = properties_.memory_bytes - used_;
  if (bytes > free) {
    return absl::ResourceExhaustedError(absl::StrCat(properties_.name, " (HIP ", ordinal_,
                                                     "): cannot allocate ", bytes, " bytes, ",
                                                     free, " of ", properties_.memory_bytes,
                                                     " free"));
  }
  if (auto s = select(); !s.ok()) return s;
  void* ptr = nullptr;
  if (bytes > 0) {
    if (auto s = hip_status(hipMalloc(&ptr, bytes), absl::StrCat("hipMalloc(", bytes, ")"));
        !s.ok()) {
      return s;
    }
    // Zeroed before it is handed out, as on cpu devices: what another tenant's tensor left in
    // this memory must not reach the next one. On the null stream (which does not wait for
    // this device's non-blocking stream) and waited for, so every later reader sees zeros.
    absl::Status cleared = hip_status(hipMemsetAsync(ptr, 0, bytes, nullptr), "clear new buffer");
    if (cleared.ok()) cleared = hip_status(hipStreamSynchronize(nullptr), "clear new buffer");
    if (!cleared.ok()) {
      (void)hipFree(ptr);
      return cleared;
    }
  }
  const uint64_t id = next_id_++;
  allocations_[id] = {ptr, bytes};
  used_ += bytes;
  return Buffer{id, bytes};
}

void HipDevice::release(Buffer buffer) {
  Allocation allocation;
  {
    std::lock_guard lock(mu_);
    auto it = allocations_.find(buffer.id);
    if (it == allocations_.end()) return;
    allocation = it->second;
    used_ -= allocation.bytes;
    allocations_.erase(it);
  }
  // The stream is drained first so that queued work still touching the buffer completes.
  if (select().ok()) {
    (void)hipStreamSynchronize(stream_);
    if (allocation.ptr) (void)hipFree(allocation.ptr);
  }
}

absl::StatusOr<char*> HipDevice::locate(Buffer buffer, uint64_t offset, uint64_t bytes) const {
  std::lock_guard lock(mu_);
  auto it = allocations_.find(buffer.id);
  if (it == allocations_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(properties_.name, ": buffer ", buffer.id, " is not allocated here"));
  }
  if (offset > it->second.bytes || bytes > it->second.bytes - offset) {
    return absl::InvalidArgumentError(absl::StrCat(properties_.name, ": bytes [", offset, ", ",
                                                   offset + bytes, ") outside buffer ",
                                                   buffer.id, " of ", it->second.bytes));
  }
  return static_cast<char*>(it->second.ptr) + offset;
}

void HipDevice::on_stream_done(hipStream_t, hipError_t status, void* data) {
  std::unique_ptr<Completion> c(static_cast<Completion*>(data));
  absl::Status s = hip_status(status, c->what);
  if (!s.ok()) {
    c->device->note_failure(std::string(s.message()));
  } else if (c->check) {
    s = c->check();
  }
  c->completer.complete(std::move(s));
}

Event HipDevice::when_done(const std::string& what, std::function<absl::Status()> check) {
  auto [event, completer] = Event::pending();
  auto* c = new Completion{std::move(completer), what, this, std::move(check)};
  const hipError_t error = hipStreamAddCallback(stream_, &on_stream_done, c, 0);
  if (error != hipSuccess) {
    std::unique_ptr<Completion> owned(c);
    owned->completer.complete(hip_status(error, absl::StrCat(what, ": hipStreamAddCallback")));
  }
  return event;
}

void HipDevice::note_failure(const std::string& reason) {
  std::lock_guard lock(failure_mu_);
  if (failure_.empty()) failure_ = reason;
}

Event HipDevice::upload(Buffer dst, uint64_t dst_offset, const void* src, uint64_t bytes) {
  auto ptr = locate(dst, dst_offset, bytes);
  if (!ptr.ok()) return Event::done(ptr.status());
  if (bytes == 0) return Event();
  if (auto s = select(); !s.ok()) return Event::done(s);
  if (auto s = hip_status(hipMemcpyHtoDAsync(*ptr, const_cast<void*>(src), bytes, stream_),
                          "upload");
      !s.ok()) {
    return Event::done(s);
  }
  return when_done("upload");
}

Event HipDevice::download(void* dst, Buffer src, uint64_t src_offset, uint64_t bytes) {
  auto ptr = locate(src, src_offset, bytes);
  if (!ptr.ok()) return Event::done(ptr.status());
  if (bytes == 0) return Event();
  if (auto s = select(); !s.ok()) return Event::done(s);
  if (auto s = hip_status(hipMemcpyDtoHAsync(dst, *ptr, bytes, stream_), "download"); !s.ok()) {
    return Event::done(s);
  }
  return when_done("download");
}

Event HipDevice::copy(Buffer dst, uint64_t dst_offset, Buffer src, uint64_t src_offset,
                      uint64_t bytes) {
  auto to = locate(dst, dst_offset, bytes);
  if (!to.ok()) return Event::done(to.status());
  auto from = locate(src, src_offset, bytes);
  if (!from.ok()) return Event::done(from.status());
  if (bytes == 0) return Event();
  if (auto s = select(); !s.ok()) return Event::done(s);
  if (auto s = hip_status(hipMemcpyDtoDAsync(*to, *from, bytes, stream_), "copy"); !s.ok()) {
    return Event::done(s);
  }
  return when_done("copy");
}

absl::StatusOr<hipFunction_t> HipDevice::function_for(const std::string& source) {
  std::lock_guard lock(mu_);
  if (auto it = kernels_.find(source); it != kernels_.end()) return it->second.function;
  auto code = compile_hip_source(source, arch_);
  if (!code.ok()) return code.status();
  if (auto s = select(); !s.ok()) return s;
  Compiled compiled;
  if (auto s = hip_status(hipModuleLoadData(&compiled.module, code->data()), "hipModuleLoadData");
      !s.ok()) {
    return s;
  }
  if (auto s = hip_status(hipModuleGetFunction(&compiled.function, compiled.module, "tg_kernel"),
                          "hipModuleGetFunction");
      !s.ok()) {
    (void)hipModuleUnload(compiled.module);
    return s;
  }
  kernels_[source] = compiled;
  return compiled.function;
}

Event HipDevice::upload_constant(const Kernel& kernel, Buffer output) {
  const std::string& data = kernel.node->value().data();
  if (data.size() != kernel.output.bytes()) {
    return Event::done(absl::InvalidArgumentError(
        absl::StrCat("node '", kernel.node->name(), "' (OP_CONSTANT): value has ", data.size(),
                     " bytes, its type ", kernel.output.str(), " needs ", kernel.output.bytes())));
  }
  auto out = locate(output, 0, data.size());
  if (!out.ok()) return Event::done(out.status());
  if (data.empty()) return Event();
  if (auto s = select(); !s.ok()) return Event::done(s);
  // The bytes are copied so that they outlive the node until the upload has run.
  auto bytes = std::make_shared<std::string>(data);
  if (auto s = hip_status(hipMemcpyHtoDAsync(*out, bytes->data(), bytes->size(), stream_),
                          "upload constant");
      !s.ok()) {
    return Event::done(s);
  }
  return when_done("upload constant", [bytes] { return absl::OkStatus(); });
}

absl::StatusOr<void*> HipDevice::error_flag() {
  std::lock_guard lock(mu_);
  if (error_flag_ == nullptr) {
    if (auto s = select(); !s.ok()) return s;
    if (auto s = hip_status(hipMalloc(&error_flag_, sizeof(uint32_t)), "hipMalloc(error flag)");
        !s.ok()) {
      error_flag_ = nullptr;
      return s;
    }
  }
  return error_flag_;
}

Event HipDevice::launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) {
  if (kernel.node == nullptr || inputs.size() != kernel.inputs.size()) {
    return Event::done(absl::InvalidArgumentError(
        absl::StrCat(properties_.name, ": kernel inputs and buffers disagree")));
  }
  if (kernel.node->op() == tgrack::v1::OP_CONSTANT && inputs.empty()) {
    return upload_constant(kernel, output);
  }
  const std::string op = op_name(kernel.node->op());
  auto source = generate_hip_kernel(kernel);
  if (!source.ok()) return Event::done(source.status());
  std::vector<void*> pointers;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto ptr = locate(inputs[i], 0, kernel.inputs[i].bytes());
    if (!ptr.ok()) return Event::done(ptr.status());
    pointers.push_back(*ptr);
  }
  auto out = locate(output, 0, kernel.output.bytes());
  if (!out.ok()) return Event::done(out.status());
  pointers.push_back(*out);
  if (source->empty()) return Event();
  auto function = function_for(source->source);
  if (!function.ok()) return Event::done(function.status());
  if (auto s = select(); !s.ok()) return Event::done(s);
  // Kernels that can fail on their data get a flag, cleared before and read back after.
  const bool flagged = !source->failure.empty();
  if (flagged) {
    auto flag = error_flag();
    if (!flag.ok()) return Event::done(flag.status());
    if (auto s = hip_status(hipMemsetAsync(*flag, 0, sizeof(uint32_t), stream_),
                            "clear error flag");
        !s.ok()) {
      return Event::done(s);
    }
    pointers.push_back(*flag);
  }
  std::vector<void*> args;
  for (void*& p : pointers) args.push_back(&p);
  if (auto s = hip_status(
          hipModuleLaunchKernel(*function, source->grid[0], source->grid[1], source->grid[2],
                                source->block[0], source->block[1], source->block[2], 0, stream_,
                                args.data(), nullptr),
          absl::StrCat("launch ", op));
      !s.ok()) {
    return Event::done(s);
  }
  if (!flagged) return when_done(op);
  auto failed = std::make_shared<uint32_t>(0);
  if (auto s = hip_status(
          hipMemcpyDtoHAsync(failed.get(), pointers.back(), sizeof(uint32_t), stream_),
          "read error flag");
      !s.ok()) {
    return Event::done(s);
  }
  std::string message =
      absl::StrCat("node '", kernel.node->name(), "' (", op, "): ", source->failure);
  return when_done(op, [failed, message = std::move(message)] {
    return *failed ? absl::InvalidArgumentError(message) : absl::OkStatus();
  });
}

DeviceHealth HipDevice::health() const {
  {
    std::lock_guard lock(failure_mu_);
    if (!failure_.empty()) return {false, failure_};
  }
  if (smi_ && smi_index_ >= 0) {
    auto xgmi = smi_->xgmi_error_status(static_cast<uint32_t>(smi_index_));
    if (xgmi.ok() && *xgmi != XgmiErrorStatus::kNoErrors) {
      return {false, absl::StrCat("XGMI link errors reported (", xgmi_error_status_name(*xgmi),
                                  ")")};
    }
  }
  return {true, ""};
}

HipMetrics HipDevice::metrics() const {
  HipMetrics m;
  if (!smi_ || smi_index_ < 0) return m;
  const uint32_t i = static_cast<uint32_t>(smi_index_);
  if (auto v = smi_->temperature_celsius(i); v.ok()) m.temperature_celsius = *v;
  if (auto v = smi_->power_watts(i); v.ok()) m.power_watts = *v;
  if (auto v = smi_->busy_percent(i); v.ok()) m.busy_percent = *v;
  if (auto v = smi_->vram_used_bytes(i); v.ok()) m.vram_used_bytes = static_cast<int64_t>(*v);
  if (auto v = smi_->xgmi_error_status(i); v.ok()) m.xgmi_errors = xgmi_error_status_name(*v);
  return m;
}

void HipDevice::free_everything() {
  for (auto& [id, a] : allocations_) {
    if (a.ptr) (void)hipFree(a.ptr);
  }
  allocations_.clear();
  used_ = 0;
  for (auto& [source, k] : kernels_) (void)hipModuleUnload(k.module);
  kernels_.clear();
  if (error_flag_) (void)hipFree(error_flag_);
  error_flag_ = nullptr;
}

absl::Status HipDevice::reset() {
  std::lock_guard lock(mu_);
  if (auto s = select(); !s.ok()) return s;
  const absl::Status drained = hip_status(hipStreamSynchronize(stream_), "reset: drain");
  if (!drained.ok()) note_failure(std::string(drained.message()));
  free_everything();
  (void)hipStreamDestroy(stream_);
  stream_ = nullptr;
  peers_.clear();
  std::string failure;
  {
    std::lock_guard failure_lock(failure_mu_);
    failure = failure_;
  }
  if (!failure.empty()) {
    if (!smi_ || smi_index_ < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          properties_.name, " (HIP ", ordinal_, ") faulted (", failure,
          ") and needs a hardware reset, but ROCm SMI does not know this GPU"));
    }
    if (auto s = smi_->gpu_reset(static_cast<uint32_t>(smi_index_)); !s.ok()) return s;
  }
  if (auto s = hip_status(hipDeviceReset(), "hipDeviceReset"); !s.ok()) return s;
  if (auto s = select(); !s.ok()) return s;
  if (auto s = hip_status(hipStreamCreateWithFlags(&stream_, hipStreamNonBlocking),
                          "hipStreamCreate");
      !s.ok()) {
    return s;
  }
  std::lock_guard failure_lock(failure_mu_);
  failure_.clear();
  return absl::OkStatus();
}

absl::Status HipDevice::enable_peer_access(const HipDevice& peer) {
  int can = 0;
  if (auto s = hip_status(hipDeviceCanAccessPeer(&can, ordinal_, peer.ordinal_),
                          "hipDeviceCanAccessPeer");
      !s.ok()) {
    return s;
  }
  if (!can) {
    return absl::FailedPreconditionError(absl::StrCat(
        "HIP ", ordinal_, " (", pci_address_, ") cannot access HIP ", peer.ordinal_, " (",
        peer.pci_address_, ") directly: no XGMI or PCIe peer path"));
  }
  std::lock_guard lock(mu_);
  if (peers_.count(peer.ordinal_)) return absl::OkStatus();
  if (auto s = select(); !s.ok()) return s;
  const hipError_t error = hipDeviceEnablePeerAccess(peer.ordinal_, 0);
  if (error != hipSuccess && error != hipErrorPeerAccessAlreadyEnabled) {
    return hip_status(error, absl::StrCat("hipDeviceEnablePeerAccess(", peer.ordinal_, ")"));
  }
  peers_.insert(peer.ordinal_);
  return absl::OkStatus();
}

bool HipDevice::peer_access_enabled(const HipDevice& peer) const {
  std::lock_guard lock(mu_);
  return peers_.count(peer.ordinal_) > 0;
}

Event hip_peer_copy(HipDevice& dst, Buffer dst_buffer, uint64_t dst_offset, HipDevice& src,
                    Buffer src_buffer, uint64_t src_offset, uint64_t bytes, LinkClass path) {
  auto to = dst.locate(dst_buffer, dst_offset, bytes);
  if (!to.ok()) return Event::done(to.status());
  auto from = src.locate(src_buffer, src_offset, bytes);
  if (!from.ok()) return Event::done(from.status());
  if (bytes == 0) return Event();
  if (path != LinkClass::kHost) {
    if (!dst.peer_access_enabled(src)) {
      return Event::done(absl::FailedPreconditionError(absl::StrCat(
          "peer copy HIP ", src.ordinal(), " -> HIP ", dst.ordinal(), " over ",
          link_class_name(path), ": peer access is not enabled between them")));
    }
    if (auto s = dst.select(); !s.ok()) return Event::done(s);
    if (auto s = hip_status(hipMemcpyPeerAsync(*to, dst.ordinal(), *from, src.ordinal(), bytes,
                                               dst.stream_),
                            "hipMemcpyPeerAsync");
        !s.ok()) {
      return Event::done(s);
    }
    return dst.when_done(absl::StrCat("peer copy over ", link_class_name(path)));
  }
  // Host-staged: src -> pinned host memory, wait, then host -> dst. The staging buffer lives
  // until the upload's callback, which owns it.
  void* staging = nullptr;
  if (auto s = hip_status(hipHostMalloc(&staging, bytes, 0), "hipHostMalloc"); !s.ok()) {
    return Event::done(s);
  }
  auto free_staging = [staging] { (void)hipHostFree(staging); };
  if (auto s = src.select(); !s.ok()) {
    free_staging();
    return Event::done(s);
  }
  absl::Status first = hip_status(hipMemcpyDtoHAsync(staging, *from, bytes, src.stream_),
                                  "host-staged copy (download)");
  if (first.ok()) first = hip_status(hipStreamSynchronize(src.stream_), "host-staged copy (wait)");
  if (first.ok()) first = dst.select();
  if (first.ok()) {
    first = hip_status(hipMemcpyHtoDAsync(*to, staging, bytes, dst.stream_),
                       "host-staged copy (upload)");
  }
  if (!first.ok()) {
    free_staging();
    return Event::done(first);
  }
  absl::Status second = hip_status(hipStreamSynchronize(dst.stream_), "host-staged copy (upload)");
  free_staging();
  return Event::done(second);
}

absl::StatusOr<std::vector<std::unique_ptr<Device>>> open_hip_devices(
    const HipOpenOptions& options) {
  if (auto s = hip_devices_present(options.dev_root); !s.ok()) return s;
  int count = 0;
  if (auto s = hip_status(hipGetDeviceCount(&count), "hipGetDeviceCount"); !s.ok()) return s;
  std::vector<int> ordinals = options.ordinals;
  if (ordinals.empty()) {
    for (int i = 0; i < count; ++i) ordinals.push_back(i);
  }
  std::shared_ptr<RocmSmi> smi;
  if (auto opened = RocmSmi::open(); opened.ok()) smi = std::move(*opened);
  auto topology = read_kfd_topology(options.kfd_topology_root);
  std::vector<std::unique_ptr<Device>> devices;
  for (int ordinal : ordinals) {
    if (ordinal < 0 || ordinal >= count) {
      return absl::InvalidArgumentError(
          absl::StrCat("hip backend: no GPU ", ordinal, " (HIP sees ", count, ")"));
    }
    auto device = HipDevice::open(ordinal, smi, topology.ok() ? &*topology : nullptr);
    if (!device.ok()) return device.status();
    devices.push_back(std::move(*device));
  }
  return devices;
}

}  // namespace tg
