// Sessions: client sessions and the remote tensors and captured plans they own.
//
// A session lives while it is renewed within its lease. close(), or a lease that runs out
// (checked by a background thread several times per lease), ends it: its tensors' pieces
// are freed on their daemons through `free_pieces` and its plans dropped through
// `drop_plans`, both called without the lock held. Tensor ids are unique in the pool.
// NOT_FOUND names an unknown or expired session or tensor; a tensor fed to another
// session's graph is PERMISSION_DENIED. Every session belongs to a tenant: calls given a
// tenant `scope` ("" = every tenant) answer for another tenant's session or tensor exactly
// as for one that does not exist. Session and tensor ids carry 128 random bits. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "tgrack/v1/controller.pb.h"

namespace tg {

class Sessions {
 public:
  using FreePieces = std::function<void(const std::vector<tgrack::v1::TensorPiece>&)>;
  using DropPlans = std::function<void(const std::vector<std::string>& plan_ids)>;

  Sessions(FreePieces free_pieces, DropPlans drop_plans);
  ~Sessions();
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  tgrack::v1::OpenSessionReply open(uint32_t lease_ms, const std::string& client,
                                    const std::string& tenant = "default");
  absl::Status renew(const std::string& session, const std::string& scope = "");
  absl::Status close(const std::string& session, const std::string& scope = "");
  // OK when the session exists in `scope` and its lease has not run out.
  absl::Status check(const std::string& session, const std::string& scope = "") const;

  // A fresh id for a tensor about to be kept.
  std::string new_tensor_id();
  absl::Status add_tensor(const tgrack::v1::RemoteTensor& tensor);
  absl::StatusOr<tgrack::v1::RemoteTensor> tensor(const std::string& session,
                                                  const std::string& id) const;
  // Tensor `id` while its session lives, when that session is in `scope`; NOT_FOUND otherwise,
  // the same for another tenant's tensor as for an unknown one.
  absl::StatusOr<tgrack::v1::RemoteTensor> owned_tensor(const std::string& id,
                                                        const std::string& scope) const;
  // Frees tensors by id (every id must be known, else nothing is freed) or, when `session`
  // is set, all of that session's tensors too. Returns how many were freed.
  absl::StatusOr<uint64_t> free(const std::vector<std::string>& ids, const std::string& session,
                                const std::string& scope = "");
  void add_plan(const std::string& session, const std::string& plan_id);

  std::vector<tgrack::v1::SessionInfo> list(const std::string& scope = "") const;
  // Bytes the remote tensors of `tenant`'s sessions hold, over all devices.
  uint64_t tenant_bytes(const std::string& tenant) const;

 private:
  struct Session {
    std::string client;
    std::string tenant;
    std::chrono::milliseconds lease;
    std::chrono::steady_clock::time_point expires;
    std::vector<std::string> tensors;
    std::vector<std::string> plans;
  };
  // Removes `session` and returns what must be released. Caller holds mu_.
  void end(std::map<std::string, Session>::iterator it,
           std::vector<tgrack::v1::TensorPiece>* pieces, std::vector<std::string>* plans);
  void reap_loop();
  // The tenant of the session owning tensor `t`; "" when that session is gone. Caller holds mu_.
  std::string tenant_of(const tgrack::v1::RemoteTensor& t) const;

  FreePieces free_pieces_;
  DropPlans drop_plans_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, Session> sessions_;
  std::map<std::string, tgrack::v1::RemoteTensor> tensors_;
  std::thread reaper_;
};

}  // namespace tg
