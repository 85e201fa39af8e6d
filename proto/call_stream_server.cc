#include "call_stream_server.h"

namespace tg {

void CallStreamServer::stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  for (auto& [id, served] : served_) {
    if (!served.busy) served.context->TryCancel();
  }
}

uint64_t CallStreamServer::enter(grpc::ServerContext* context) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  served_.emplace(id, Served{context});
  return id;
}

bool CallStreamServer::idle(uint64_t id) {
  std::lock_guard lock(mu_);
  served_.at(id).busy = false;
  return !stopping_;
}

void CallStreamServer::busy(uint64_t id) {
  std::lock_guard lock(mu_);
  served_.at(id).busy = true;
}

void CallStreamServer::leave(uint64_t id) {
  std::lock_guard lock(mu_);
  served_.erase(id);
}

}  // namespace tg
