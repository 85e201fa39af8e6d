// Registrar: keeps one daemon registered with the controller.
//
// A background thread registers the node, then heartbeats at the interval the controller
// asked for, sending fresh device state. A heartbeat answered NOT_FOUND (the controller
// restarted or forgot the node) leads straight to a new registration; while the controller
// is unreachable the thread keeps retrying at the same interval. Every RPC has a deadline,
// so stop() returns within about one RPC deadline. Every registration hands the controller's
// reply (its grant key) to the daemon; every heartbeat carries the runs clients drove
// directly (JobReports), and puts the finished ones back when it fails. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <absl/status/status.h>

#include "daemon/job_reports.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg {

class Registrar {
 public:
  struct Hooks {
    // Called from the registrar thread for every register and heartbeat; must return the
    // node as it is now and be safe to call concurrently with the caller.
    std::function<tgrack::v1::NodeInfo()> describe;
    // Called with every successful registration's reply; may be empty.
    std::function<void(const tgrack::v1::RegisterReply&)> registered;
    // Called with every successful heartbeat's reply; may be empty.
    std::function<void(const tgrack::v1::HeartbeatReply&)> heartbeat_answered;
    JobReports* reports = nullptr;  // Runs to report in heartbeats; may be null.
  };

  Registrar(std::string controller_address, Hooks hooks);
  ~Registrar();  // Calls stop().
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  void start();
  void stop();

  // True between a successful Register and the next failed heartbeat.
  bool registered() const;

 private:
  void loop();
  absl::Status register_once();
  absl::Status heartbeat_once();
  // Waits `delay` or until stop(); returns false when stopping.
  bool pause(std::chrono::milliseconds delay);

  const std::string controller_address_;
  const Hooks hooks_;
  std::unique_ptr<tgrack::v1::ControllerService::Stub> stub_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool registered_ = false;
  uint64_t incarnation_ = 0;
  std::chrono::milliseconds interval_{500};
  std::thread thread_;
};

}  // namespace tg
