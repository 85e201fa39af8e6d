// CallWatchdog: bounds calls that gRPC cannot bound by itself, such as one request and reply
// on a long-lived stream. arm() watches a call's ClientContext until its deadline; if the
// call is still armed then, the watchdog cancels the context (TryCancel), which ends the
// stream's pending Read or Write. One thread per watchdog; it wakes only when the earliest
// deadline it knows of passes, so calls that finish in time cost a map insert and erase.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <grpcpp/client_context.h>

namespace tg {

class CallWatchdog {
 public:
  using Clock = std::chrono::steady_clock;

  CallWatchdog();
  ~CallWatchdog();
  CallWatchdog(const CallWatchdog&) = delete;
  CallWatchdog& operator=(const CallWatchdog&) = delete;

  // Cancels `context` at `deadline` unless disarmed first; returns the ticket for disarm().
  // `context` must stay valid until disarm() returns.
  uint64_t arm(grpc::ClientContext* context, Clock::time_point deadline);
  // Stops watching; true when the watchdog had already cancelled the call.
  bool disarm(uint64_t ticket);

 private:
  struct Watched {
    grpc::ClientContext* context;
    Clock::time_point deadline;
  };

  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  uint64_t next_ticket_ = 1;
  std::map<uint64_t, Watched> watched_;
  std::set<uint64_t> fired_;
  Clock::time_point next_look_ = Clock::time_point::max();  // When run() looks next.
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tg
