// Daemon: everything one tgd owns — its devices and their locks, the NodeService server and
// the registration with the controller. Server wiring lives here, apart from main, so tests
// can run a daemon in-process.
//
// Lifecycle: create() takes every device's lock (FAILED_PRECONDITION naming the device and
// the holder's pid when another process owns one) and only then opens the devices; start()
// serves NodeService, writes the bound address to the port file and starts registering;
// stop() (also run by the destructor) stops registering, then serving, then releases the
// devices and their locks. All methods are thread-safe once start() has returned.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <grpcpp/grpcpp.h>

#include "devices/device.h"
#include "devices/device_lock.h"
#include "devices/tensor.h"
#include "tgrack/v1/node.pb.h"

namespace tg {
namespace coll {
class CollectiveRuntime;
}

class NodeServiceImpl;
class Registrar;

struct DaemonConfig {
  std::string controller_address;              // host:port of tgcontroller.
  std::string listen_address = "127.0.0.1:0";  // Port 0 = ephemeral.
  int cpu_devices = 2;
  uint64_t device_memory = uint64_t{512} << 20;  // Per cpu device.
  int worker_threads = 1;                      // Per cpu device.
  std::string state_dir;                       // Holds locks/ for device locks.
  std::string name;                            // Node name; "" = the host name.
  std::string port_file;                       // Where the bound address goes; "" = nowhere.
  // host:port of this daemon's data plane, registered in NodeInfo.data_address. Empty until
  // a data-plane listener (collectives, transfers) exists; set it before start().
  std::string data_address;
  // Where the collectives data plane listens (port 0 = any); its bound address becomes
  // data_address unless that is set.
  std::string data_listen = "127.0.0.1:0";
};

class Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<Daemon>> create(DaemonConfig config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  absl::Status start();
  void stop();

  // The NodeService address as registered (valid after start()).
  const std::string& address() const { return address_; }
  const std::string& name() const { return config_.name; }
  void set_data_address(std::string address) { config_.data_address = std::move(address); }

  // Collectives on this daemon's devices (valid after start()).
  coll::CollectiveRuntime& collectives() const { return *collectives_; }

  // The devices, by index. Owned by the daemon; valid until it is destroyed.
  std::vector<Device*> devices() const;

  // This node as it is now: addresses, pid, version and every device's live state.
  tgrack::v1::NodeInfo node_info() const;

  // Runs `graph` on local device `device_index`. NOT_FOUND for an index the node lacks;
  // INVALID_ARGUMENT from validation or feeds; the device's error otherwise.
  absl::StatusOr<std::vector<HostTensor>> run_graph(uint32_t device_index,
                                                    const tgrack::v1::Graph& graph,
                                                    const std::vector<HostTensor>& feeds,
                                                    const std::vector<std::string>& feed_names,
                                                    const std::string& job_id);

 private:
  explicit Daemon(DaemonConfig config);

  DaemonConfig config_;
  std::string address_;
  std::vector<DeviceLock> locks_;                 // Held for as long as devices_ exist.
  std::vector<std::unique_ptr<Device>> devices_;
  std::unique_ptr<coll::CollectiveRuntime> collectives_;
  std::unique_ptr<NodeServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Registrar> registrar_;
  std::mutex stop_mutex_;
};

}  // namespace tg
