#include "collectives/transport/doorbell.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace tg::coll {

Doorbell::Doorbell() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Doorbell::~Doorbell() {
  if (fd_ >= 0) ::close(fd_);
}

void Doorbell::ring() {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // The news before the look at armed_.
  if (!armed_.load(std::memory_order_relaxed)) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof(one));
}

void Doorbell::arm() {
  armed_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // armed_ before the owner's last look.
}

void Doorbell::drain() {
  uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(fd_, &v, sizeof(v));
}

}  // namespace tg::coll
