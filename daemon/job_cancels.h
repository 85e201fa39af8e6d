// Cancellation of runs by job id. A CancelToken belongs to one run (a RunFragments call): it
// is cancelled once, with a status (CANCELLED, or DEADLINE_EXCEEDED when the caller's deadline
// passed), and wakes whoever waits on its behalf
// (mailbox receives, communicators) through callbacks. JobCancels maps job ids to the tokens
// of the runs going on this daemon, so CancelJob (and a drain) can stop them.
//
// Thread-safe. A job cancelled before its run starts here is remembered for a minute, so a
// run that starts late fails at once instead of running unasked.
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

  // Registers a run of `job_id`; its token starts cancelled when the job was cancelled
  // within the last minute.
  std::unique_ptr<Scope> enter(const std::string& job_id);
  // Cancels every run of `job_id` going on here with CANCELLED "cancelled: <reason>".
  // Returns whether one was going.
  bool cancel(const std::string& job_id, const std::string& reason);

 private:
  void leave(const std::string& job_id, const std::shared_ptr<CancelToken>& token);

  std::mutex mu_;
  std::multimap<std::string, std::shared_ptr<CancelToken>> running_;  // Guarded by mu_.
  // Recently cancelled jobs: why and when. Guarded by mu_.
  std::map<std::string, std::pair<absl::Status, std::chrono::steady_clock::time_point>> recent_;
};

}  // namespace tg
