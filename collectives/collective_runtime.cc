#include "collectives/collective_runtime.h"

#include "net/host_port.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include <absl/strings/str_cat.h>

#include "collectives/algorithms/algorithm.h"
#include "collectives/core_binding.h"
#include "collectives/pattern.h"
#include "devices/checked_size.h"
#include "devices/dtype.h"

namespace tg::coll {

using tgrack::v1::CollectiveKind;

struct CollectiveRuntime::Joined {
  tgrack::v1::CommunicatorSpec spec;
  std::vector<uint32_t> ranks;    // Local ranks.
  std::vector<uint32_t> devices;  // Their device indices.
  std::vector<std::shared_ptr<Communicator>> comms;  // Shared with communicator().
  std::mutex run_mu;
  int runs = 0;             // run() calls in progress or queued; guarded by the runtime's mu_.
  bool destroying = false;  // Guarded by the runtime's mu_.

  bool touches(const std::vector<uint32_t>& indices) const {
    return std::any_of(devices.begin(), devices.end(), [&](uint32_t d) {
      return std::find(indices.begin(), indices.end(), d) != indices.end();
    });
  }
};

namespace {

// One local rank's buffers: device memory, and the host view the transports use.
struct RankBuffers {
  Device* device = nullptr;
  Buffer in_buf, out_buf;
  std::vector<std::byte> in_stage, out_stage;  // Only for devices without host access.
  std::byte* in = nullptr;
  std::byte* out = nullptr;
  size_t bytes = 0;

  ~RankBuffers() {
    if (in_buf.id) device->release(in_buf);
    if (out_buf.id && out_buf.id != in_buf.id) device->release(out_buf);
  }
};

absl::Status allocate(RankBuffers& b, Device* device, size_t bytes, bool in_place) {
  b.device = device;
  b.bytes = bytes;
  const uint64_t alloc = std::max<uint64_t>(bytes, 1);
  auto in = device->allocate(alloc);
  if (!in.ok()) return in.status();
  b.in_buf = *in;
  if (in_place) {
    b.out_buf = b.in_buf;
  } else {
    auto out = device->allocate(alloc);
    if (!out.ok()) return out.status();
    b.out_buf = *out;
  }
  b.in = device->host_address(b.in_buf);
  b.out = device->host_address(b.out_buf);
  if (b.in == nullptr || b.out == nullptr) {  // GPU: stage through host memory.
    b.in_stage.resize(alloc);
    b.in = b.in_stage.data();
    if (in_place) {
      b.out = b.in;
    } else {
      b.out_stage.resize(alloc);
      b.out = b.out_stage.data();
    }
  }
  return absl::OkStatus();
}

bool staged(const RankBuffers& b) { return !b.in_stage.empty(); }

absl::Status stage_in(RankBuffers& b) {
  if (!staged(b)) return absl::OkStatus();
  if (auto s = b.device->download(b.in, b.in_buf, 0, b.bytes).wait(); !s.ok()) return s;
  if (b.out != b.in) return b.device->download(b.out, b.out_buf, 0, b.bytes).wait();
  return absl::OkStatus();
}

absl::Status stage_out(RankBuffers& b) {
  if (!staged(b)) return absl::OkStatus();
  return b.device->upload(b.out_buf, 0, b.out, b.bytes).wait();
}

struct Job {
  const tgrack::v1::RunCollectiveRequest* req;
  size_t es;
  uint64_t bytes;  // count * es, checked.
  uint32_t world;
};

absl::Status run_once(Communicator& comm, const Job& job, RankBuffers& b) {
  const auto& r = *job.req;
  if (auto s = stage_in(b); !s.ok()) return s;
  absl::Status s;
  const Blocks blocks{r.count(), job.world};
  switch (r.kind()) {
    case tgrack::v1::COLLECTIVE_ALL_REDUCE:
      s = comm.all_reduce(b.out, b.in, r.count(), r.dtype(), r.op(), r.algorithm());
      break;
    case tgrack::v1::COLLECTIVE_REDUCE_SCATTER:
      s = comm.reduce_scatter(b.out, b.in, r.count(), r.dtype(), r.op(), r.algorithm());
      break;
    case tgrack::v1::COLLECTIVE_ALL_GATHER: {
      const std::byte* own = (r.in_place() ? b.out : b.in) + blocks.offset(comm.rank()) * job.es;
      s = comm.all_gather(b.out, own, r.count(), r.dtype(), r.algorithm());
      break;
    }
    case tgrack::v1::COLLECTIVE_BROADCAST:
      if (!r.in_place() && comm.rank() == r.root()) std::memcpy(b.out, b.in, b.bytes);
      s = comm.broadcast(b.out, r.count(), r.dtype(), r.root(), r.algorithm());
      break;
    case tgrack::v1::COLLECTIVE_BARRIER:
      s = comm.barrier();
      break;
    default:
      s = absl::InvalidArgumentError("unknown collective kind");
  }
  if (!s.ok()) return s;
  return stage_out(b);
}

void fill(const Job& job, uint32_t rank, RankBuffers& b) {
  const auto& r = *job.req;
  const auto op = r.op() == tgrack::v1::REDUCE_OP_UNSPECIFIED ? tgrack::v1::REDUCE_OP_SUM : r.op();
  for (uint64_t i = 0; i < r.count(); ++i) {
    store_value(r.dtype(), b.in, i, pattern_value(op, rank, i));
    if (b.out != b.in) store_value(r.dtype(), b.out, i, -1);
  }
}

// Compares this rank's output with the reference: the elements compared and those wrong.
struct CheckCounts {
  uint64_t checked = 0;
  uint64_t wrong = 0;
};

CheckCounts check_output(const Job& job, uint32_t rank, const RankBuffers& b) {
  const auto& r = *job.req;
  const Blocks blocks{r.count(), job.world};
  CheckCounts counts;
  for (uint64_t i = 0; i < r.count(); ++i) {
    double want;
    switch (r.kind()) {
      case tgrack::v1::COLLECTIVE_ALL_REDUCE: want = pattern_reduced(r.op(), job.world, i); break;
      case tgrack::v1::COLLECTIVE_REDUCE_SCATTER:
        if (i < blocks.offset(rank) || i >= blocks.end(rank)) continue;
        want = pattern_reduced(r.op(), job.world, i);
        break;
      case tgrack::v1::COLLECTIVE_ALL_GATHER: {
        uint32_t owner = 0;
        while (i >= blocks.end(owner)) ++owner;
        want = pattern_value(tgrack::v1::REDUCE_OP_SUM, owner, i);
        break;
      }
      case tgrack::v1::COLLECTIVE_BROADCAST:
        want = pattern_value(tgrack::v1::REDUCE_OP_SUM, r.root(), i);
        break;
      default: return counts;
    }
    ++counts.checked;
    if (!holds_value(r.dtype(), b.out, i, want)) ++counts.wrong;
  }
  return counts;
}

// One local rank's share of a RunCollective.
absl::Status run_rank(Communicator& comm, Device* device, const Job& job, tgrack::v1::RankResult* result) {
  const auto& r = *job.req;
  RankBuffers b;
  if (auto s = allocate(b, device, job.bytes, r.in_place()); !s.ok()) return s;
  fill(job, comm.rank(), b);
  if (auto s = stage_out(b); !s.ok()) return s;
  for (uint32_t i = 0; i < r.warmup_iters(); ++i) {
    if (auto s = run_once(comm, job, b); !s.ok()) return s;
  }
  if (auto s = comm.barrier(); !s.ok()) return s;
  const uint32_t iters = std::max<uint32_t>(1, r.iters());
  const auto t0 = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < iters; ++i) {
    if (auto s = run_once(comm, job, b); !s.ok()) return s;
  }
  const auto t1 = std::chrono::steady_clock::now();
  result->set_rank(comm.rank());
  result->set_seconds_per_iter(std::chrono::duration<double>(t1 - t0).count() / iters);
  if (r.check()) {
    fill(job, comm.rank(), b);
    if (auto s = run_once(comm, job, b); !s.ok()) return s;
    const CheckCounts counts = check_output(job, comm.rank(), b);
    result->set_checked(counts.checked);
    result->set_wrong(counts.wrong);
  }
  return absl::OkStatus();
}

}  // namespace

CollectiveRuntime::CollectiveRuntime(std::string node_name, std::vector<Device*> local_devices,
                                     CommOptions options)
    : node_name_(std::move(node_name)),
      devices_(std::move(local_devices)),
      options_(options),
      listener_(options.tcp.listener) {}

CollectiveRuntime::~CollectiveRuntime() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (idle_keepalives_.joinable()) idle_keepalives_.join();
}

absl::Status CollectiveRuntime::start(const std::string& listen_host, int port,
                                      const std::string& advertised_host) {
  advertised_host_ = advertised_host;
  if (absl::Status s = listener_.start(listen_host, port, options_.tcp.socket_buffer_bytes); !s.ok()) return s;
  if (options_.keepalive_interval.count() > 0 && !idle_keepalives_.joinable()) {
    idle_keepalives_ = std::thread([this] { keep_idle_ranks_alive(); });
  }
  return absl::OkStatus();
}

void CollectiveRuntime::keep_idle_ranks_alive() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_.wait_for(lock, options_.keepalive_interval, [&] { return stopping_; })) {
    // Copied under mu_: destroy() empties a communicator's list only once it is out of comms_.
    std::vector<std::shared_ptr<Communicator>> ranks;
    for (const auto& [id, joined] : comms_) {
      if (joined) ranks.insert(ranks.end(), joined->comms.begin(), joined->comms.end());  // Null: connecting.
    }
    lock.unlock();
    for (const auto& comm : ranks) comm->keep_alive_if_idle();
    ranks.clear();
    lock.lock();
  }
}

std::string CollectiveRuntime::data_address() const {
  const std::string bound = listener_.address();
  absl::StatusOr<net::HostPort> parsed = net::parse_host_port(bound);
  if (advertised_host_.empty() || !parsed.ok()) return bound;
  return net::join_host_port(advertised_host_, parsed->port);
}

absl::Status CollectiveRuntime::join(const tgrack::v1::JoinCommunicatorRequest& request) {
  const auto& spec = request.spec();
  auto joined = std::make_shared<Joined>();
  joined->spec = spec;
  for (const auto& info : spec.ranks()) {
    if (info.device().node() != node_name_) continue;
    if (info.device().index() >= devices_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("communicator ", spec.comm_id(), ": rank ", info.rank(),
                                                     " names device ", info.device().index(), " but node ",
                                                     node_name_, " has ", devices_.size()));
    }
    if (info.data_address() != data_address()) {
      return absl::InvalidArgumentError(absl::StrCat("communicator ", spec.comm_id(), ": rank ", info.rank(),
                                                     " lists data address ", info.data_address(), " but node ",
                                                     node_name_, " listens on ", data_address()));
    }
    joined->ranks.push_back(info.rank());
    joined->devices.push_back(info.device().index());
  }
  if (joined->ranks.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("communicator ", spec.comm_id(), " has no rank on node ", node_name_));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (comms_.count(spec.comm_id())) {
      return absl::AlreadyExistsError(absl::StrCat("communicator ", spec.comm_id(), " already joined"));
    }
    comms_[spec.comm_id()] = nullptr;  // Reserve the id while connecting.
  }
  auto hub = std::make_shared<local::LocalHub>(joined->ranks);
  const size_t n = joined->ranks.size();
  std::vector<absl::StatusOr<std::unique_ptr<Communicator>>> made;
  for (size_t i = 0; i < n; ++i) made.emplace_back(absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      made[i] = Communicator::create(spec, joined->ranks[i], &listener_, hub, options_);
    });
  }
  for (auto& t : threads) t.join();
  absl::Status first;
  for (auto& m : made) {
    if (!m.ok() && first.ok()) first = m.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!first.ok()) {
    for (auto& m : made) {
      if (m.ok()) (*m)->abort("creation failed on another local rank");
    }
    comms_.erase(spec.comm_id());
    listener_.forget(spec.comm_id());
    return first;
  }
  for (auto& m : made) joined->comms.push_back(std::move(*m));
  comms_[spec.comm_id()] = joined;
  return absl::OkStatus();
}

absl::StatusOr<tgrack::v1::RunCollectiveReply> CollectiveRuntime::run(
    const tgrack::v1::RunCollectiveRequest& request) {
  std::shared_ptr<Joined> joined;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = comms_.find(request.comm_id());
    if (it == comms_.end() || it->second == nullptr || it->second->destroying) {
      return absl::NotFoundError(absl::StrCat("no communicator ", request.comm_id(), " on node ", node_name_));
    }
    if (on_fenced_device(*it->second)) {
      return absl::UnavailableError(absl::StrCat("communicator ", request.comm_id(), " has a rank on a device of node ",
                                                 node_name_, " that takes no collectives now: ", fence_why_));
    }
    joined = it->second;
    ++joined->runs;
  }
  struct RunEnds {
    CollectiveRuntime* rt;
    Joined* joined;
    ~RunEnds() {
      std::lock_guard<std::mutex> lock(rt->mu_);
      --joined->runs;
      rt->runs_done_.notify_all();
    }
  } run_ends{this, joined.get()};
  const bool reduces = request.kind() == tgrack::v1::COLLECTIVE_ALL_REDUCE ||
                       request.kind() == tgrack::v1::COLLECTIVE_REDUCE_SCATTER;
  if (reduces) {
    if (auto r = make_reducer(request.dtype(), request.op()); !r.ok()) return r.status();
  }
  const size_t es = dtype_size(request.dtype());
  if (es == 0 && request.kind() != tgrack::v1::COLLECTIVE_BARRIER) {
    return absl::InvalidArgumentError("RunCollective needs a dtype");
  }
  auto bytes = checked_bytes(request.count(), es, "RunCollective count");
  if (!bytes.ok()) return bytes.status();
  std::lock_guard<std::mutex> run_lock(joined->run_mu);
  if (joined->comms.empty()) {
    return absl::NotFoundError(absl::StrCat("communicator ", request.comm_id(), " on node ", node_name_,
                                            " was destroyed"));
  }
  Communicator& first = *joined->comms.front();
  tgrack::v1::RunCollectiveReply reply;
  auto choice = first.choose(request.kind(), *bytes, request.algorithm());
  if (!choice.ok()) return choice.status();
  reply.set_algorithm(choice->algorithm);
  reply.set_reason(choice->reason);
  reply.set_transport(first.transports());

  const size_t n = joined->comms.size();
  std::vector<tgrack::v1::RankResult> results(n);
  std::vector<absl::Status> statuses(n);
  std::vector<std::thread> threads;
  Job job{&request, es, *bytes, static_cast<uint32_t>(joined->spec.ranks_size())};
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      Communicator& comm = *joined->comms[i];
      comm.set_own_core(bind_to_core(host_slot(joined->spec, comm.rank())) >= 0);
      Device* device = devices_[joined->spec.ranks(comm.rank()).device().index()];
      statuses[i] = run_rank(comm, device, job, &results[i]);
      comm.set_own_core(false);
    });
  }
  for (auto& t : threads) t.join();
  for (auto& s : statuses) {
    if (!s.ok()) return s;
  }
  for (auto& r : results) *reply.add_results() = r;
  return reply;
}

absl::StatusOr<std::shared_ptr<Communicator>> CollectiveRuntime::communicator(
    const std::string& comm_id, uint32_t device_index) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = comms_.find(comm_id);
  if (it == comms_.end() || it->second == nullptr || it->second->destroying) {
    return absl::NotFoundError(absl::StrCat("no communicator ", comm_id, " on node ", node_name_,
                                            " (asked for device ", node_name_, "/", device_index,
                                            ")"));
  }
  const Joined& joined = *it->second;
  for (const auto& comm : joined.comms) {
    if (joined.spec.ranks(comm->rank()).device().index() == device_index) return comm;
  }
  return absl::NotFoundError(absl::StrCat("communicator ", comm_id, " has no rank on device ",
                                          node_name_, "/", device_index));
}

absl::Status CollectiveRuntime::destroy(const std::string& comm_id) {
  std::shared_ptr<Joined> joined;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = comms_.find(comm_id);
    if (it == comms_.end() || it->second == nullptr || it->second->destroying) {
      return absl::NotFoundError(absl::StrCat("no communicator ", comm_id, " on node ", node_name_));
    }
    joined = it->second;
    joined->destroying = true;  // No new runs; the one in progress ends first.
  }
  std::lock_guard<std::mutex> run_lock(joined->run_mu);
  {
    std::lock_guard<std::mutex> lock(mu_);
    add_links(*joined, retired_links_);
    comms_.erase(comm_id);
  }
  listener_.forget(comm_id);
  joined->comms.clear();
  return absl::OkStatus();
}

void CollectiveRuntime::add_links(const Joined& joined, std::map<LinkKey, LinkCounters>& totals) {
  for (const auto& comm : joined.comms) {
    const uint32_t device = joined.spec.ranks(comm->rank()).device().index();
    for (const PeerLink& link : comm->links()) {
      const auto& peer = joined.spec.ranks(link.peer);
      LinkCounters& t = totals[LinkKey{device, absl::StrCat(peer.device().node(), "/", peer.device().index()),
                                       link.address, link.transport}];
      t.sent_bytes += link.counters.sent_bytes;
      t.received_bytes += link.counters.received_bytes;
      t.errors += link.counters.errors;
    }
  }
}

std::vector<CollectiveRuntime::LinkStats> CollectiveRuntime::link_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<LinkKey, LinkCounters> totals = retired_links_;
  for (const auto& [id, joined] : comms_) {
    if (joined != nullptr) add_links(*joined, totals);
  }
  std::vector<LinkStats> out;
  for (const auto& [key, counters] : totals) {
    const auto& [device, peer_device, address, transport] = key;
    out.push_back(LinkStats{device, peer_device, address, transport, counters});
  }
  return out;
}

bool CollectiveRuntime::on_fenced_device(const Joined& joined) const {
  return std::any_of(joined.devices.begin(), joined.devices.end(),
                     [&](uint32_t d) { return fenced_.count(d) > 0; });
}

absl::StatusOr<tgrack::v1::GetFlightRecordsReply> CollectiveRuntime::flight_records(
    const std::string& comm_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  tgrack::v1::GetFlightRecordsReply reply;
  for (const auto& [id, joined] : comms_) {
    if (joined == nullptr || (!comm_id.empty() && id != comm_id)) continue;
    tgrack::v1::CommunicatorFlight* flight = reply.add_communicators();
    flight->set_comm_id(id);
    flight->set_world_size(joined->spec.ranks_size());
    for (const auto& comm : joined->comms) {
      tgrack::v1::RankFlight* rank = flight->add_ranks();
      rank->set_rank(comm->rank());
      *rank->mutable_device() = joined->spec.ranks(comm->rank()).device();
      for (auto& op : comm->recorder().ops()) *rank->add_ops() = std::move(op);
    }
  }
  if (!comm_id.empty() && reply.communicators().empty()) {
    return absl::NotFoundError(absl::StrCat("no communicator ", comm_id, " on node ", node_name_));
  }
  return reply;
}

int CollectiveRuntime::runs_in_progress(const std::string& comm_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = comms_.find(comm_id);
  return it == comms_.end() || it->second == nullptr ? 0 : it->second->runs;
}

std::unique_ptr<CollectiveRuntime::Fence> CollectiveRuntime::fence(
    const std::vector<uint32_t>& devices, std::chrono::steady_clock::time_point deadline,
    const std::string& why) {
  std::unique_ptr<Fence> fence(new Fence(this, devices));
  std::unique_lock<std::mutex> lock(mu_);
  fenced_.insert(devices.begin(), devices.end());
  fence_why_ = why;
  const auto busy = [&] {
    std::vector<std::shared_ptr<Joined>> out;
    for (const auto& [id, joined] : comms_) {
      if (joined != nullptr && joined->runs > 0 && joined->touches(devices)) out.push_back(joined);
    }
    return out;
  };
  runs_done_.wait_until(lock, deadline, [&] { return busy().empty(); });
  const std::vector<std::shared_ptr<Joined>> late = busy();
  if (late.empty()) return fence;
  auto longest = std::chrono::milliseconds(0);
  for (const auto& joined : late) {
    fence->cancelled_.push_back(joined->spec.comm_id());
    for (const auto& comm : joined->comms) comm->cancel(why);
    const auto timeout = joined->spec.timeout_ms() ? std::chrono::milliseconds(joined->spec.timeout_ms())
                                                   : options_.dead_after;
    longest = std::max(longest, timeout);
  }
  runs_done_.wait_for(lock, longest, [&] {
    return std::all_of(late.begin(), late.end(), [](const auto& j) { return j->runs == 0; });
  });
  return fence;
}

CollectiveRuntime::Fence::~Fence() {
  std::lock_guard<std::mutex> lock(runtime_->mu_);
  for (uint32_t d : devices_) runtime_->fenced_.erase(runtime_->fenced_.find(d));
}

}  // namespace tg::coll
