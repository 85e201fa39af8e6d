// Cancellation of runs by job id. A CancelToken belongs to one run (a RunFragments call): it
// is cancelled once, with a status (CANCELLED, or DEADLINE_EXCEEDED when the caller's deadline
// passed), and wakes whoever waits on its behalf
// (mailbox receives, communicators) through callbacks. JobCancels maps job ids to the tokens
// of the runs going on this daemon, so CancelJob (and a drain) can stop them. Each run
// belongs to the tenant of its grant; a cancel on behalf of a tenant touches only that
// tenant's runs ("" = the daemon's own, every tenant's).
//
// Thread-safe. A job cancelled before its run starts here is remembered for a minute, so a
// run of that tenant that starts late fails at once instead of running unasked.
#pragma once

#include <absl/status/status.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace tg {

class CancelToken {
 public:
  // Cancels with `why` (not OK); the first call wins and runs every callback once.
  void cancel(absl::Status why);
  // OK until cancelled, then the cancelling status.
  absl::Status status() const;
  bool cancelled() const { return !status().ok(); }
  // True once cancelled; read without locking by code that polls (ExecuteOptions::stop).
  const std::atomic<bool>* stop_flag() const { return &stopped_; }

  // Runs `fn` when the token is cancelled (at once, on this thread, when it already is).
  // Returns a handle for remove().
  uint64_t on_cancel(std::function<void()> fn);
  // Forgets a callback; when remove() returns the callback is not running and never will.
  // Must not be called from inside a callback.
  void remove(uint64_t handle);

 private:
  mutable std::mutex mu_;
  absl::Status status_;                                  // Guarded by mu_.
  std::map<uint64_t, std::function<void()>> callbacks_;  // Guarded by mu_.
  uint64_t next_ = 1;                                    // Guarded by mu_.
  std::mutex running_;  // Held while callbacks run, so remove() can wait for them.
  std::atomic<bool> stopped_{false};
};

class JobCancels {
 public:
  // A run registered under a job id for as long as the Scope lives.
  class Scope {
   public:
    Scope(JobCancels* owner, std::string job_id, std::shared_ptr<CancelToken> token)
        : owner_(owner), job_id_(std::move(job_id)), token_(std::move(token)) {}
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    const std::shared_ptr<CancelToken>& token() const { return token_; }

   private:
    JobCancels* owner_;
    std::string job_id_;
    std::shared_ptr<CancelToken> token_;
  };

  // Registers a run of `job_id` for `tenant`; its token starts cancelled when the job was
  // cancelled for that tenant (or by the daemon) within the last minute.
  std::unique_ptr<Scope> enter(const std::string& job_id, const std::string& tenant = "");
  // Cancels every run of `job_id` of `tenant` ("" = any tenant's) going on here with
  // CANCELLED "cancelled: <reason>". Returns whether one was going.
  bool cancel(const std::string& job_id, const std::string& reason,
              const std::string& tenant = "");

 private:
  struct Run {
    std::shared_ptr<CancelToken> token;
    std::string tenant;
  };
  struct Cancelled {
    absl::Status why;
    std::string tenant;  // "" = every tenant's run.
    std::chrono::steady_clock::time_point when;
  };
  void leave(const std::string& job_id, const std::shared_ptr<CancelToken>& token);
  void forget_old(std::chrono::steady_clock::time_point now);  // Caller holds mu_.

  std::mutex mu_;
  std::multimap<std::string, Run> running_;  // By job id. Guarded by mu_.
  std::multimap<std::string, Cancelled> recent_;  // By job id. Guarded by mu_.
};

}  // namespace tg
