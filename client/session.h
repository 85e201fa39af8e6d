// Session: the owner of remote tensors and captured plans on the pool. Opening one asks the
// controller for a lease; a background thread renews it every lease/3 (each renewal bounded
// by lease/3), so the session lives while this object does. Destroying it stops the thread
// and closes the session, which frees its tensors on every daemon. If renewals stop (the
// process dies, or stop_renewing()), the controller frees everything when the lease runs out.
// Not copyable or movable (the thread refers to it); thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <absl/status/statusor.h>

#include "client/client.h"

namespace tg {

class Session {
 public:
  // Opens a session named for `client_name` in tgctl sessions; lease 0 = the controller's
  // default (30 s). Returns the controller's error when it refuses.
  static absl::StatusOr<std::unique_ptr<Session>> open(
      const Client& client, std::chrono::milliseconds lease = std::chrono::milliseconds(0),
      const std::string& client_name = "");
  ~Session();  // stop_renewing(), then close() (errors are dropped; the lease cleans up).
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& id() const { return id_; }
  std::chrono::milliseconds lease() const { return lease_; }
  // The result of the latest renewal (OK before the first).
  absl::Status last_renewal() const;
  // Options for runs owned by this session.
  RunOptions options() const;

  // Stops the renewal thread; the lease then runs out on its own. Idempotent.
  void stop_renewing();
  // Closes the session now (its tensors are freed); later calls return OK without an RPC.
  absl::Status close();

 private:
  Session(Client client, std::string id, std::chrono::milliseconds lease);
  void renew_loop();

  const Client client_;
  const std::string id_;
  const std::chrono::milliseconds lease_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool closed_ = false;
  absl::Status last_renewal_;
  std::once_flag joined_;
  std::thread renewer_;
};

}  // namespace tg
