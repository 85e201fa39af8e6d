// CallWatch: stops a run when the gRPC call that asked for it ends first. A watched call is
// looked at every kPollInterval by one thread of the watch: when its deadline has passed, the
// run's token is cancelled with DEADLINE_EXCEEDED; when its caller cancelled it (or the
// connection broke), with CANCELLED. So a caller that gives up stops the daemon's work within
// about kPollInterval plus the time to the run's next check (executor.h).
//
// Thread-safe. The thread sleeps once nothing has been watched for kIdleGrace, so calls that
// follow each other closely do not each have to wake it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/server_context.h>

#include "daemon/job_cancels.h"

namespace tg {

class CallWatch {
 public:
  static constexpr std::chrono::milliseconds kPollInterval{10};
  static constexpr std::chrono::milliseconds kIdleGrace{1000};

  // Watching one call, until destroyed.
  class Scope {
   public:
    Scope(CallWatch* owner, uint64_t id) : owner_(owner), id_(id) {}
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    CallWatch* owner_;
    uint64_t id_;
  };

  CallWatch();
  ~CallWatch();
  CallWatch(const CallWatch&) = delete;
  CallWatch& operator=(const CallWatch&) = delete;

  // Cancels `token` when `call` ends early, as the header says; `what` names the work in the
  // status ("job job-7"). Null `call` (a call from inside the process) watches nothing.
  std::unique_ptr<Scope> watch(const grpc::ServerContextBase* call,
                               std::shared_ptr<CancelToken> token, std::string what);

 private:
  struct Watched {
    const grpc::ServerContextBase* call;
    std::shared_ptr<CancelToken> token;
    std::string what;
  };
  void unwatch(uint64_t id);
  void poll();

  std::mutex mu_;
  std::condition_variable wake_;
  std::map<uint64_t, Watched> watched_;  // Guarded by mu_.
  uint64_t next_ = 1;                    // Guarded by mu_.
  bool stopping_ = false;                // Guarded by mu_.
  bool sleeping_ = false;                // Waiting for a call to watch; guarded by mu_.
  std::chrono::steady_clock::time_point last_watch_;  // Guarded by mu_.
  std::thread poller_;
};

}  // namespace tg
