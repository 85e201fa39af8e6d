// Test harness: the ranks of a communicator as threads of this process, spread over
// simulated daemons, each with its own data-plane listener (real loopback TCP between
// daemons) and its own local hub (direct copies inside a daemon).
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/status.h>

#include "collectives/communicator.h"
#include "collectives/transport/tcp/handshake.h"

namespace tg::coll::testing {

class World {
 public:
  // daemon_of[rank] is the simulated daemon of each rank.
  explicit World(std::vector<uint32_t> daemon_of, uint32_t timeout_ms = 5000)
      : daemon_of_(std::move(daemon_of)), timeout_ms_(timeout_ms) {
    uint32_t daemons = 0;
    for (uint32_t d : daemon_of_) daemons = std::max(daemons, d + 1);
    for (uint32_t d = 0; d < daemons; ++d) {
      listeners_.push_back(std::make_unique<tcp::Listener>());
      absl::Status s = listeners_.back()->start("127.0.0.1", 0, 4 << 20);
      if (!s.ok()) abort();
    }
  }

  // Every rank on its own daemon / all on one daemon / two daemons, ranks split in halves.
  static std::vector<uint32_t> spread(uint32_t n) {
    std::vector<uint32_t> v(n);
    for (uint32_t i = 0; i < n; ++i) v[i] = i;
    return v;
  }
  static std::vector<uint32_t> together(uint32_t n) { return std::vector<uint32_t>(n, 0); }
  static std::vector<uint32_t> halves(uint32_t n) {
    std::vector<uint32_t> v(n);
    for (uint32_t i = 0; i < n; ++i) v[i] = i < (n + 1) / 2 ? 0 : 1;
    return v;
  }

  uint32_t size() const { return daemon_of_.size(); }

  tgrack::v1::CommunicatorSpec spec(const std::string& id, const std::string& transport = "") const {
    tgrack::v1::CommunicatorSpec spec;
    spec.set_comm_id(id);
    spec.set_timeout_ms(timeout_ms_);
    spec.set_secret(tcp::new_secret().value());
    spec.set_transport(transport);
    for (uint32_t r = 0; r < size(); ++r) {
      auto* info = spec.add_ranks();
      info->set_rank(r);
      info->mutable_device()->set_node("daemon" + std::to_string(daemon_of_[r]));
      info->mutable_device()->set_index(r);
      info->set_data_address(listeners_[daemon_of_[r]]->address());
    }
    return spec;
  }

  using RankFn = std::function<absl::Status(uint32_t rank, Communicator& comm)>;

  // Creates `spec` in one thread per rank (ranks in `absent` never join), runs `fn` on
  // each created rank, and returns every rank's status: creation's if it failed, else fn's.
  std::vector<absl::Status> run(const tgrack::v1::CommunicatorSpec& spec, const RankFn& fn,
                                const std::set<uint32_t>& absent = {}) {
    std::vector<std::shared_ptr<local::LocalHub>> hubs(listeners_.size());
    for (uint32_t d = 0; d < hubs.size(); ++d) {
      std::vector<uint32_t> ranks;
      for (uint32_t r = 0; r < size(); ++r) {
        if (daemon_of_[r] == d) ranks.push_back(r);
      }
      hubs[d] = std::make_shared<local::LocalHub>(ranks);
    }
    std::vector<absl::Status> out(size());
    std::vector<std::thread> threads;
    for (uint32_t r = 0; r < size(); ++r) {
      if (absent.count(r)) continue;
      threads.emplace_back([&, r] {
        auto comm = Communicator::create(spec, r, listeners_[daemon_of_[r]].get(), hubs[daemon_of_[r]]);
        out[r] = comm.ok() ? fn(r, **comm) : comm.status();
      });
    }
    for (auto& t : threads) t.join();
    for (auto& l : listeners_) l->forget(spec.comm_id());
    return out;
  }

 private:
  std::vector<uint32_t> daemon_of_;
  uint32_t timeout_ms_;
  std::vector<std::unique_ptr<tcp::Listener>> listeners_;
};

}  // namespace tg::coll::testing
