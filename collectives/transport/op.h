// One posted transfer between this rank and one peer: a send, a receive, or a receive that
// combines the incoming bytes with local data as they arrive (dst = a op incoming).
//
// The caller owns the memory an Op points at and keeps it valid until the Op is done. A
// transport marks `done` exactly once, possibly from another rank's thread (local transport),
// with release ordering; waiters read it with acquire ordering.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "collectives/reduce.h"

namespace tg::coll {

struct Op {
  enum class Kind { kSend, kRecv, kRecvReduce };

  Kind kind = Kind::kSend;
  uint32_t peer = 0;               // Global rank of the other side.
  std::byte* data = nullptr;       // Send source, or receive destination.
  const std::byte* a = nullptr;    // kRecvReduce: the local operand (may equal data).
  size_t bytes = 0;
  const Reducer* reducer = nullptr;  // kRecvReduce only.

  std::atomic<bool> done{true};    // An Op never posted counts as done.
  int parts_left = 0;              // Transport bookkeeping (tcp stripes).

  bool is_done() const { return done.load(std::memory_order_acquire); }
  void complete() { done.store(true, std::memory_order_release); }
};

}  // namespace tg::coll
