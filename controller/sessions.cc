#include "controller/sessions.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "controller/placement.h"
#include "devices/dtype.h"
#include "net/random_id.h"

namespace tg {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kDefaultLeaseMs = 30000;

// Bytes one piece holds: a shard's share of the whole, or the whole for a copy.
uint64_t piece_bytes(const tgrack::v1::RemoteTensor& tensor) {
  uint64_t bytes = dtype_size(tensor.dtype());
  for (int64_t d : tensor.shape()) bytes *= static_cast<uint64_t>(d);
  const bool sharded = !tensor.layout().replicated() && tensor.pieces_size() > 0;
  return sharded ? bytes / static_cast<uint64_t>(tensor.pieces_size()) : bytes;
}

absl::Status unknown_session(const std::string& session) {
  return absl::NotFoundError("session '" + session + "' is unknown or its lease ran out");
}
absl::Status unknown_tensor(const std::string& id) {
  return absl::NotFoundError("remote tensor '" + id + "' is unknown (freed, or its session ended)");
}

bool in_scope(const std::string& scope, const std::string& tenant) {
  return scope.empty() || scope == tenant;
}

}  // namespace

Sessions::Sessions(FreePieces free_pieces, DropPlans drop_plans)
    : free_pieces_(std::move(free_pieces)), drop_plans_(std::move(drop_plans)) {
  reaper_ = std::thread([this] { reap_loop(); });
}

Sessions::~Sessions() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  reaper_.join();
}

tgrack::v1::OpenSessionReply Sessions::open(uint32_t lease_ms, const std::string& client,
                                            const std::string& tenant) {
  const uint32_t lease = lease_ms == 0 ? kDefaultLeaseMs : lease_ms;
  const std::string id = random_id("s-");
  std::lock_guard lock(mu_);
  sessions_[id] = Session{client, tenant, std::chrono::milliseconds(lease),
                          Clock::now() + std::chrono::milliseconds(lease), {}, {}};
  tgrack::v1::OpenSessionReply reply;
  reply.set_session(id);
  reply.set_lease_ms(lease);
  wake_.notify_all();  // The reaper may need to look sooner.
  return reply;
}

absl::Status Sessions::check(const std::string& session, const std::string& scope) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.expires < Clock::now() ||
      !in_scope(scope, it->second.tenant)) {
    return unknown_session(session);
  }
  return absl::OkStatus();
}

absl::Status Sessions::renew(const std::string& session, const std::string& scope) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.expires < Clock::now() ||
      !in_scope(scope, it->second.tenant)) {
    return unknown_session(session);
  }
  it->second.expires = Clock::now() + it->second.lease;
  return absl::OkStatus();
}

void Sessions::end(std::map<std::string, Session>::iterator it,
                   std::vector<tgrack::v1::TensorPiece>* pieces, std::vector<std::string>* plans) {
  for (const std::string& id : it->second.tensors) {
    auto t = tensors_.find(id);
    if (t == tensors_.end()) continue;
    pieces->insert(pieces->end(), t->second.pieces().begin(), t->second.pieces().end());
    tensors_.erase(t);
  }
  plans->insert(plans->end(), it->second.plans.begin(), it->second.plans.end());
  sessions_.erase(it);
}

absl::Status Sessions::close(const std::string& session, const std::string& scope) {
  std::vector<tgrack::v1::TensorPiece> pieces;
  std::vector<std::string> plans;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end() || !in_scope(scope, it->second.tenant)) {
      return unknown_session(session);
    }
    end(it, &pieces, &plans);
  }
  if (!pieces.empty()) free_pieces_(pieces);
  if (!plans.empty()) drop_plans_(plans);
  return absl::OkStatus();
}

std::string Sessions::new_tensor_id() { return random_id("t-"); }

std::string Sessions::tenant_of(const tgrack::v1::RemoteTensor& t) const {
  auto it = sessions_.find(t.session());
  return it == sessions_.end() ? std::string() : it->second.tenant;
}

absl::Status Sessions::add_tensor(const tgrack::v1::RemoteTensor& tensor) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(tensor.session());
  if (it == sessions_.end()) {
    return absl::NotFoundError("session '" + tensor.session() + "' is unknown or its lease ran out");
  }
  it->second.tensors.push_back(tensor.id());
  tensors_[tensor.id()] = tensor;
  return absl::OkStatus();
}

absl::StatusOr<tgrack::v1::RemoteTensor> Sessions::tensor(const std::string& session,
                                                          const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = tensors_.find(id);
  auto owner = sessions_.find(session);
  if (it == tensors_.end() || owner == sessions_.end() ||
      tenant_of(it->second) != owner->second.tenant) {
    return unknown_tensor(id);
  }
  if (it->second.session() != session) {
    return absl::PermissionDeniedError("remote tensor '" + id + "' belongs to session '" +
                                       it->second.session() + "', not '" + session + "'");
  }
  return it->second;
}

absl::StatusOr<tgrack::v1::RemoteTensor> Sessions::owned_tensor(const std::string& id,
                                                                const std::string& scope) const {
  std::lock_guard lock(mu_);
  auto it = tensors_.find(id);
  if (it == tensors_.end()) return unknown_tensor(id);
  auto owner = sessions_.find(it->second.session());
  if (owner == sessions_.end() || owner->second.expires < Clock::now() ||
      !in_scope(scope, owner->second.tenant)) {
    return unknown_tensor(id);
  }
  return it->second;
}

absl::StatusOr<uint64_t> Sessions::free(const std::vector<std::string>& ids,
                                        const std::string& session, const std::string& scope) {
  std::vector<tgrack::v1::TensorPiece> pieces;
  uint64_t freed = 0;
  {
    std::lock_guard lock(mu_);
    for (const std::string& id : ids) {
      auto t = tensors_.find(id);
      if (t == tensors_.end() || !in_scope(scope, tenant_of(t->second))) {
        return unknown_tensor(id);
      }
    }
    std::vector<std::string> all = ids;
    if (!session.empty()) {
      auto it = sessions_.find(session);
      if (it == sessions_.end() || !in_scope(scope, it->second.tenant)) {
        return unknown_session(session);
      }
      all.insert(all.end(), it->second.tensors.begin(), it->second.tensors.end());
    }
    for (const std::string& id : all) {
      auto t = tensors_.find(id);
      if (t == tensors_.end()) continue;
      pieces.insert(pieces.end(), t->second.pieces().begin(), t->second.pieces().end());
      if (auto s = sessions_.find(t->second.session()); s != sessions_.end()) {
        std::erase(s->second.tensors, id);
      }
      tensors_.erase(t);
      ++freed;
    }
  }
  if (!pieces.empty()) free_pieces_(pieces);
  return freed;
}

void Sessions::add_plan(const std::string& session, const std::string& plan_id) {
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(session); it != sessions_.end()) it->second.plans.push_back(plan_id);
}

uint64_t Sessions::tenant_bytes(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  uint64_t bytes = 0;
  for (const auto& [id, tensor] : tensors_) {
    if (tenant_of(tensor) == tenant) bytes += piece_bytes(tensor) * tensor.pieces_size();
  }
  return bytes;
}

std::vector<tgrack::v1::SessionInfo> Sessions::list(const std::string& scope) const {
  std::lock_guard lock(mu_);
  std::vector<tgrack::v1::SessionInfo> out;
  const auto now = Clock::now();
  for (const auto& [id, session] : sessions_) {
    if (!in_scope(scope, session.tenant)) continue;
    tgrack::v1::SessionInfo info;
    info.set_session(id);
    info.set_client(session.client);
    info.set_tenant(session.tenant);
    info.set_seconds_left(std::max(0.0, std::chrono::duration<double>(session.expires - now).count()));
    info.set_tensors(static_cast<uint32_t>(session.tensors.size()));
    info.set_plans(static_cast<uint32_t>(session.plans.size()));
    std::map<std::string, tgrack::v1::SessionInfo::DeviceMemory> memory;
    for (const std::string& tensor_id : session.tensors) {
      const tgrack::v1::RemoteTensor& tensor = tensors_.at(tensor_id);
      for (const tgrack::v1::TensorPiece& piece : tensor.pieces()) {
        auto& row = memory[device_name(piece.device().node(), piece.device().index())];
        *row.mutable_device() = piece.device();
        row.set_bytes(row.bytes() + piece_bytes(tensor));
      }
    }
    for (auto& [name, row] : memory) *info.add_memory() = std::move(row);
    out.push_back(std::move(info));
  }
  return out;
}

void Sessions::reap_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto shortest = std::chrono::milliseconds(1000);
    for (const auto& [id, s] : sessions_) shortest = std::min(shortest, s.lease / 4);
    wake_.wait_for(lock, shortest);
    std::vector<tgrack::v1::TensorPiece> pieces;
    std::vector<std::string> plans;
    const auto now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      auto next = std::next(it);
      if (it->second.expires < now) {
        spdlog::info("session {} ({}): lease ran out; freeing {} tensor(s)", it->first,
                     it->second.client, it->second.tensors.size());
        end(it, &pieces, &plans);
      }
      it = next;
    }
    if (pieces.empty() && plans.empty()) continue;
    lock.unlock();
    if (!pieces.empty()) free_pieces_(pieces);
    if (!plans.empty()) drop_plans_(plans);
    lock.lock();
  }
}

}  // namespace tg
