// A rank's doorbell: an eventfd other threads (local peers, a cancelling thread) write to
// wake the rank from poll(). Shared by the rank's Context and the local hub, so a late ring
// never reaches a closed or reused descriptor. Thread-safe.
//
// Ringing costs a system call only while the owner is armed (about to sleep or asleep in
// poll()); a rank that is spinning sees the news itself. The owner arms, looks for news one
// last time, then polls; a ring after the news is published either sees the arm or the
// owner's last look sees the news (both sides order through a full fence).
#pragma once

#include <atomic>

namespace tg::coll {

class Doorbell {
 public:
  Doorbell();
  ~Doorbell();
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  int fd() const { return fd_; }  // Readable after a ring; poll() watches it.
  // From any thread, after publishing the news.
  void ring();
  // The owning rank: arm() before its last look for news ahead of poll(); disarm() once it
  // is awake again (poll() returned, or the last look found news).
  void arm();
  void disarm() { armed_.store(false, std::memory_order_relaxed); }
  // The owning rank, after poll() reported fd() readable.
  void drain();

 private:
  int fd_ = -1;
  std::atomic<bool> armed_{false};
};

}  // namespace tg::coll
