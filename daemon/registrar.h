// Registrar: keeps one daemon registered with the controller.
//
// A background thread registers the node, then heartbeats at the interval the controller
// asked for, sending fresh device state. A heartbeat answered NOT_FOUND (the controller
// restarted or forgot the node) leads straight to a new registration; while the controller
// is unreachable the thread keeps retrying at the same interval. Every RPC has a deadline,
// so stop() returns within about one RPC deadline. Thread-safe.
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

#include "tgrack/v1/controller.grpc.pb.h"

namespace tg {

class Registrar {
 public:
  // `describe` is called from the registrar thread for every register and heartbeat; it
  // must return the node as it is now and be safe to call concurrently with the caller.
  using Describe = std::function<tgrack::v1::NodeInfo()>;

  Registrar(std::string controller_address, Describe describe);
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
  const Describe describe_;
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
