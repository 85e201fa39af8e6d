// A rank's doorbell: an eventfd other threads (local peers, a cancelling thread) write to
// wake the rank from poll(). Shared by the rank's Context and the local hub, so a late ring
// never reaches a closed or reused descriptor. Thread-safe.
#pragma once

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
  // The owning rank, after poll() reported fd() readable.
  void drain();

 private:
  int fd_ = -1;
};

}  // namespace tg::coll
