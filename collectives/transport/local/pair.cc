#include "collectives/transport/local/pair.h"

#include <chrono>
#include <cstring>

#include <absl/strings/str_cat.h>


namespace tg::coll::local {

LocalPair::LocalPair(uint32_t self, uint32_t peer, std::shared_ptr<LocalHub> hub,
                     std::string peer_address)
    : self_(self),
      peer_(peer),
      hub_(std::move(hub)),
      peer_address_(std::move(peer_address)),
      out_(hub_->channel(self, peer)),
      in_(hub_->channel(peer, self)),
      peer_doorbell_(hub_->doorbell(peer)) {}

void LocalPair::post(Op* op) {
  if (op->kind == Op::Kind::kSend) {
    count_sent(op->bytes);  // The peer's thread moves the bytes; they are due once posted.
    {
      std::lock_guard<std::mutex> lock(out_.mu);
      out_.sends.push_back(op);
    }
    peer_doorbell_->ring();
  } else {
    std::lock_guard<std::mutex> lock(in_.mu);
    in_.recvs.push_back(op);
  }
}

absl::StatusOr<bool> LocalPair::progress() {
  if (hub_->failed()) return hub_failure();
  bool moved = false;
  while (true) {
    Op* send;
    Op* recv;
    {
      std::lock_guard<std::mutex> lock(in_.mu);
      if (in_.sends.empty() || in_.recvs.empty()) break;
      send = in_.sends.front();
      recv = in_.recvs.front();
      in_.sends.pop_front();
      in_.recvs.pop_front();
    }
    if (send->bytes != recv->bytes) {
      count_error();
      hub_->fail(self_, self_);
      return absl::InternalError(absl::StrCat("peer rank ", peer_, " over local: sent ", send->bytes,
                                              " bytes where ", recv->bytes, " were expected"));
    }
    if (recv->kind == Op::Kind::kRecv) {
      std::memcpy(recv->data, send->data, recv->bytes);
    } else {
      (*recv->reducer)(recv->data, recv->a, send->data, recv->bytes / recv->reducer->elem_size);
    }
    count_received(recv->bytes);
    recv->complete();
    send->complete();
    peer_doorbell_->ring();
    moved = true;
  }
  return moved;
}

void LocalPair::close(bool orderly) {
  if (!orderly) hub_->fail(self_, self_);
}

void LocalPair::send_keepalive(uint64_t sequence, int32_t waiting_on) {
  Board& mine = hub_->board(self_);
  std::lock_guard<std::mutex> lock(mine.keepalive_mu);
  mine.keepalive = {.supported = true, .heard = std::chrono::steady_clock::now(), .sequence = sequence,
                    .waiting_on = waiting_on};
}

PeerLiveness LocalPair::liveness() {
  Board& theirs = hub_->board(peer_);
  std::lock_guard<std::mutex> lock(theirs.keepalive_mu);
  PeerLiveness heard = theirs.keepalive;
  heard.supported = true;  // A peer that never sent one is silent, not unknown.
  return heard;
}

uint32_t LocalPair::failed_rank() const { return hub_->failed() ? hub_->culprit() : peer_; }

absl::Status LocalPair::hub_failure() const {
  if (!hub_->failed()) return absl::OkStatus();
  if (hub_->culprit() == hub_->reporter()) {
    return absl::UnavailableError(absl::StrCat("peer rank ", hub_->culprit(), " over local failed"));
  }
  return absl::UnavailableError(absl::StrCat("peer rank ", hub_->culprit(), " failed (reported by rank ",
                                             hub_->reporter(), " over local)"));
}

}  // namespace tg::coll::local
