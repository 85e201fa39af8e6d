// Daemon: everything one tgd owns — its devices and their locks, the NodeService server and
// the registration with the controller. Server wiring lives here, apart from main, so tests
// can run a daemon in-process.
//
// Lifecycle: create() takes every device's lock (FAILED_PRECONDITION naming the device and
// the holder's pid when another process owns one) and only then opens the devices; start()
// serves NodeService, writes the bound address to the port file and starts registering;
// stop() (also run by the destructor) stops registering, then serving, then releases the
// devices and their locks. All methods are thread-safe once start() has returned.
//
// Operations: start() also serves the metrics (DaemonMetrics) when an address is configured
// and starts the health probe; stop() kills and reaps a probe that is still running. A
// device's health is its backend's, unless a failed reset or a failed probe says otherwise.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <grpcpp/grpcpp.h>

#include "daemon/job_reports.h"
#include "daemon/kernel_stats.h"
#include "daemon/node_operations.h"
#include "net/grant.h"

#include "devices/device.h"
#include "devices/device_lock.h"
#include "devices/tensor.h"
#include "devices/topology/link_policy.h"
#include "tgrack/v1/node.pb.h"

namespace tg {
namespace coll {
class CollectiveRuntime;
}

class ChildProcess;
class DaemonMetrics;
class FragmentRunner;
class CallWatch;
class JobCancels;
class TensorStore;
class TransferMailbox;
class NodeServiceImpl;
class Registrar;

struct DaemonConfig {
  std::string controller_address;              // host:port of tgcontroller.
  std::string listen_address = "127.0.0.1:0";  // Port 0 = ephemeral.
  // Host peers dial for every port of this daemon; "" = daemon_addresses.h decides.
  std::string advertise;
  std::string rack;  // The rack the host stands in, reported in NodeInfo; "" = not told.
  int cpu_devices = 2;
  uint64_t device_memory = uint64_t{512} << 20;  // Per cpu device.
  int worker_threads = 1;                      // Per cpu device.
  std::string state_dir;                       // Holds locks/ for device locks.
  std::string name;                            // Node name; "" = the host name.
  std::string port_file;                       // Where the bound address goes; "" = nowhere.
  // host:port of this daemon's data plane, registered in NodeInfo.data_address. Empty until
  // a data-plane listener (collectives, transfers) exists; set it before start().
  std::string data_address;
  // Where the collectives data plane listens (port 0 = any); "" = the --listen host, port 0.
  // Its advertised address (daemon_addresses.h) becomes data_address unless that is set.
  std::string data_listen;
  // Connections the data port holds at once, handshaking or waiting for their rank; more
  // are closed at once (collectives/transport/tcp/listener.h).
  int max_data_connections = 4096;
  // Encrypt every data connection this daemon dials or accepts (tls_stream.h).
  bool data_tls = false;
  // Prometheus /metrics HOST:PORT (port 0 = any); "" = metrics kept but not served.
  std::string metrics_address;
  std::string metrics_port_file;               // Where the bound metrics HOST:PORT goes.
  std::string hive_id;                         // Hive of every cpu device; "" = none.
  // A command (run through /bin/sh -c, in its own process group) that checks the devices:
  // exit 0 = healthy; otherwise, or when it outlives the timeout, every device is Unhealthy
  // with the reason. Run at start and then every interval. "" = no probe.
  std::string health_probe;
  std::chrono::milliseconds health_probe_timeout{10000};
  std::chrono::milliseconds health_probe_interval{60000};
  // Collective failure detection: a waiting rank sends its peers keep-alives every
  // keepalive_interval; a wait for one peer past stall_after is reported with what the
  // peer's keep-alives say (log, flight recorder, tgrack_collective_stalls_total); an
  // operation past dead_after fails. A communicator made with its own timeout uses that
  // instead of dead_after.
  std::chrono::milliseconds collective_keepalive_interval{500};
  std::chrono::milliseconds collective_stall_after{2000};
  std::chrono::milliseconds collective_dead_after{10000};
  // Devices and their links (daemon/backend.h): "hip", "cpu" or "auto".
  std::string backend = "auto";
  std::string lock_dir;                        // "" = STATE_DIR/locks.
  std::string kfd_root = "/sys/class/kfd/kfd/topology";  // hip: the KFD topology.
  std::string topology_file;                   // cpu: link matrix JSON; "" = host-staged.
  std::string hip_plugin;  // hip: plugin path; "" = $TGRACK_HIP_PLUGIN, else the installed one.
  // Tests only (daemon/test_hold.h): where held kernels wait for release; "" = no hold.
  std::string test_hold_dir;
};

class Daemon final : public NodeOperations {
 public:
  static absl::StatusOr<std::unique_ptr<Daemon>> create(DaemonConfig config);
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  absl::Status start();
  void stop();

  // The NodeService address as registered (valid after start()).
  const std::string& address() const { return address_; }
  const std::string& name() const { return config_.name; }
  void set_data_address(std::string address) { config_.data_address = std::move(address); }

  // The NodeService handlers (valid after start()), for callers in the same process.
  NodeServiceImpl& service() const { return *service_; }

  // Collectives on this daemon's devices (valid after start()).
  coll::CollectiveRuntime& collectives() const { return *collectives_; }

  // The devices, by index. Owned by the daemon; valid until it is destroyed.
  std::vector<Device*> devices() const;

  // This node as it is now: addresses, pid, version and every device's live state.
  tgrack::v1::NodeInfo node_info() const override;

  // Collectives through the runtime, recorded in the metrics.
  absl::Status join_collective(const tgrack::v1::JoinCommunicatorRequest& request) override;
  absl::StatusOr<tgrack::v1::RunCollectiveReply> run_collective(
      const tgrack::v1::RunCollectiveRequest& request) override;

  // Warm reset of local devices together: refuses new graphs on them (UNAVAILABLE naming
  // the device and the reset), waits up to `drain_timeout` for running graphs (else
  // DEADLINE_EXCEEDED, nothing reset), resets them all at once (their buffers are dropped)
  // and returns them to service. A device whose reset fails stays Unhealthy with the
  // reason, and the first failure is returned. NOT_FOUND for an index the node lacks.
  absl::Status reset_devices(const std::vector<uint32_t>& indices,
                             std::chrono::milliseconds drain_timeout,
                             const std::string& reason) override;

  // The kernel scoreboard (tgctl top).
  const KernelStats& kernel_stats() const { return kernel_stats_; }
  // The metrics port, 0 when not serving.
  int metrics_port() const;

 private:
  explicit Daemon(DaemonConfig config);

  DaemonConfig config_;
  std::string address_;
  std::vector<DeviceLock> locks_;                 // Held for as long as devices_ exist.
  std::vector<std::unique_ptr<Device>> devices_;
  std::shared_ptr<const LinkPolicy> links_;       // Between devices_, reported in NodeInfo.
  std::string links_source_;
  std::string backend_name_;                      // "hip" or "cpu".
  std::unique_ptr<coll::CollectiveRuntime> collectives_;
  std::unique_ptr<TensorStore> tensors_;      // Before devices_ go: it releases into them.
  std::unique_ptr<TransferMailbox> mailbox_;
  std::unique_ptr<JobCancels> cancels_;
  std::unique_ptr<CallWatch> call_watch_;  // Outlives the server: its handlers use it.
  std::unique_ptr<FragmentRunner> fragments_;
  std::unique_ptr<NodeServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Registrar> registrar_;
  std::mutex stop_mutex_;

  // Refreshes the per-device gauges (memory, health, busy); called with every heartbeat.
  void sample_metrics();
  DeviceHealth health_of(size_t index) const;
  // Enters local device `index` for `job_id` of `tenant` (counted as running until the pointer is
  // dropped, so a reset drains it), seen through the kernel metrics. NOT_FOUND for an index
  // the node lacks; UNAVAILABLE while it is being reset.
  absl::StatusOr<std::shared_ptr<Device>> enter_device(uint32_t index, const std::string& job_id,
                                                       const std::string& tenant);
  void probe_loop();

  std::unique_ptr<DaemonMetrics> metrics_;
  KernelStats kernel_stats_;
  GrantVerifier grants_;     // The controller's keys, to check every run's grant (net/grant.h).
  JobReports job_reports_;   // Runs clients drove directly, reported in heartbeats.
  std::chrono::steady_clock::time_point last_sample_ = std::chrono::steady_clock::now();

  // Per device, guarded by state_mutex_: graphs running, reset in progress, why unhealthy.
  mutable std::mutex state_mutex_;
  std::condition_variable idle_;
  std::vector<int> running_;
  std::vector<bool> resetting_;
  std::vector<std::string> unhealthy_;
  std::map<std::string, int> world_sizes_;  // Ranks of each joined communicator.
  std::string probe_failure_;         // The last health probe's failure; "" = passed.
  bool stopping_ = false;
  ChildProcess* probe_child_ = nullptr;  // The probe running now, for stop() to kill.
  std::condition_variable probe_wake_;
  std::thread probe_thread_;
};

}  // namespace tg
