#include "collectives/transport/ibverbs/pair.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include <absl/strings/str_cat.h>

namespace tg::coll::ibverbs {
namespace {

constexpr int kSlots = 64;        // Credit receives kept posted.
constexpr int kQueueDepth = 256;
constexpr uint8_t kPort = 1;
constexpr uint64_t kCreditTag = 1ull << 62;
constexpr uint64_t kWriteTag = 2ull << 62;

struct Address {  // What each side sends the other to connect the queue pairs.
  uint32_t qpn;
  uint32_t psn;
  uint16_t lid;
  uint8_t gid[16];
};

bool receive_address(int fd, Address* theirs, std::chrono::steady_clock::time_point deadline) {
  auto left = [&] {
    return static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     deadline - std::chrono::steady_clock::now()).count()));
  };
  size_t got = 0;
  while (got < sizeof(*theirs)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left()) != 1) return false;
    ssize_t n = ::recv(fd, reinterpret_cast<char*>(theirs) + got, sizeof(*theirs) - got, 0);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

IbvPair::IbvPair(uint32_t peer, int ctrl_fd, std::shared_ptr<const std::vector<std::string>> addresses)
    : peer_(peer), control_(ctrl_fd), addresses_(std::move(addresses)) {}

absl::StatusOr<std::unique_ptr<IbvPair>> IbvPair::create(
    uint32_t peer, int ctrl_fd, std::shared_ptr<const std::vector<std::string>> addresses) {
  std::unique_ptr<IbvPair> pair(new IbvPair(peer, ctrl_fd, std::move(addresses)));
  if (absl::Status s = pair->open(); !s.ok()) return s;
  return pair;
}

absl::Status IbvPair::open() {
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list == nullptr || n == 0) {
    if (list) ibv_free_device_list(list);
    return error("no RDMA device");
  }
  ctx_ = ibv_open_device(list[0]);
  ibv_free_device_list(list);
  if (ctx_ == nullptr) return error("ibv_open_device failed");
  pd_ = ibv_alloc_pd(ctx_);
  channel_ = ibv_create_comp_channel(ctx_);
  cq_ = pd_ && channel_ ? ibv_create_cq(ctx_, 2 * kQueueDepth, nullptr, channel_, 0) : nullptr;
  if (cq_ == nullptr) return error("cannot create protection domain, channel or completion queue");
  ibv_qp_init_attr init{};
  init.send_cq = cq_;
  init.recv_cq = cq_;
  init.qp_type = IBV_QPT_RC;
  init.cap.max_send_wr = kQueueDepth;
  init.cap.max_recv_wr = kQueueDepth;
  init.cap.max_send_sge = 1;
  init.cap.max_recv_sge = 1;
  qp_ = ibv_create_qp(pd_, &init);
  if (qp_ == nullptr) return error("ibv_create_qp failed");

  ibv_port_attr port{};
  if (ibv_query_port(ctx_, kPort, &port) != 0) return error("ibv_query_port failed");
  Address mine{};
  mine.qpn = qp_->qp_num;
  mine.psn = psn_ = std::random_device{}() & 0xffffff;
  mine.lid = port.lid;
  ibv_gid gid{};
  ibv_query_gid(ctx_, kPort, 0, &gid);
  std::memcpy(mine.gid, gid.raw, 16);
  if (::send(control_.fd(), &mine, sizeof(mine), MSG_NOSIGNAL) != sizeof(mine)) return error("cannot send queue-pair address");
  return absl::OkStatus();
}

absl::Status IbvPair::connect(std::chrono::steady_clock::time_point deadline) {
  Address theirs{};
  if (!receive_address(control_.fd(), &theirs, deadline)) return error("queue-pair address exchange failed or timed out");
  ibv_port_attr port{};
  if (ibv_query_port(ctx_, kPort, &port) != 0) return error("ibv_query_port failed");

  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_INIT;
  a.port_num = kPort;
  a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
  if (ibv_modify_qp(qp_, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS) != 0) {
    return error("queue pair to INIT failed");
  }
  a = {};
  a.qp_state = IBV_QPS_RTR;
  a.path_mtu = port.active_mtu;
  a.dest_qp_num = theirs.qpn;
  a.rq_psn = theirs.psn;
  a.max_dest_rd_atomic = 1;
  a.min_rnr_timer = 12;
  a.ah_attr.dlid = theirs.lid;
  a.ah_attr.port_num = kPort;
  static const uint8_t zero[16] = {};
  if (std::memcmp(theirs.gid, zero, 16) != 0) {  // RoCE: route by GID.
    a.ah_attr.is_global = 1;
    std::memcpy(a.ah_attr.grh.dgid.raw, theirs.gid, 16);
    a.ah_attr.grh.hop_limit = 1;
  }
  if (ibv_modify_qp(qp_, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                 IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER) != 0) {
    return error("queue pair to RTR failed");
  }
  a = {};
  a.qp_state = IBV_QPS_RTS;
  a.timeout = 14;
  a.retry_cnt = 7;
  a.rnr_retry = 7;
  a.sq_psn = psn_;
  a.max_rd_atomic = 1;
  if (ibv_modify_qp(qp_, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                                 IBV_QP_MAX_QP_RD_ATOMIC) != 0) {
    return error("queue pair to RTS failed");
  }
  credit_slots_.resize(kSlots);
  credit_out_.resize(kSlots);
  credit_mr_ = ibv_reg_mr(pd_, credit_slots_.data(), kSlots * sizeof(Credit), IBV_ACCESS_LOCAL_WRITE);
  credit_out_mr_ = ibv_reg_mr(pd_, credit_out_.data(), kSlots * sizeof(Credit), IBV_ACCESS_LOCAL_WRITE);
  if (credit_mr_ == nullptr || credit_out_mr_ == nullptr) return error("cannot register credit slots");
  for (int i = 0; i < kSlots; ++i) {
    ibv_sge sge{reinterpret_cast<uint64_t>(&credit_slots_[i]), sizeof(Credit), credit_mr_->lkey};
    ibv_recv_wr wr{}, *bad = nullptr;
    wr.wr_id = kCreditTag | i;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    if (ibv_post_recv(qp_, &wr, &bad) != 0) return error("ibv_post_recv failed");
  }
  return absl::OkStatus();
}

IbvPair::~IbvPair() {
  close(true);
  for (auto* q : {&sends_, &writing_, &recvs_}) {
    for (Pending& p : *q) {
      if (p.mr) ibv_dereg_mr(p.mr);
    }
  }
  if (qp_) ibv_destroy_qp(qp_);
  if (credit_mr_) ibv_dereg_mr(credit_mr_);
  if (credit_out_mr_) ibv_dereg_mr(credit_out_mr_);
  if (cq_) ibv_destroy_cq(cq_);
  if (channel_) ibv_destroy_comp_channel(channel_);
  if (pd_) ibv_dealloc_pd(pd_);
  if (ctx_) ibv_close_device(ctx_);
}

absl::Status IbvPair::error(const std::string& what) {
  if (failed_.ok()) {
    count_error();
    failed_ = absl::UnavailableError(absl::StrCat("peer rank ", peer_, " at ", peer_address(), " over ibverbs: ", what));
  }
  return failed_;
}

void IbvPair::post(Op* op) {
  if (!failed_.ok()) return;
  if (op->kind == Op::Kind::kSend) {
    sends_.push_back(Pending{op, nullptr, {}});
    return;
  }
  Pending p{op, nullptr, {}};
  std::byte* target = op->data;
  if (op->kind == Op::Kind::kRecvReduce) {
    p.scratch.resize(op->bytes);
    target = p.scratch.data();
  }
  p.mr = ibv_reg_mr(pd_, target, op->bytes, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
  if (p.mr == nullptr || op->bytes > UINT32_MAX) {
    error("cannot register receive memory").IgnoreError();  // progress() reports it.
    return;
  }
  Credit& c = credit_out_[credit_out_next_++ % kSlots];
  c = {reinterpret_cast<uint64_t>(target), p.mr->rkey, static_cast<uint32_t>(op->bytes)};
  ibv_sge sge{reinterpret_cast<uint64_t>(&c), sizeof(Credit), credit_out_mr_->lkey};
  ibv_send_wr wr{}, *bad = nullptr;
  wr.wr_id = kCreditTag;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_SEND;
  wr.send_flags = IBV_SEND_SIGNALED;
  if (ibv_post_send(qp_, &wr, &bad) != 0) error("posting a credit failed").IgnoreError();
  recvs_.push_back(std::move(p));
}

absl::Status IbvPair::try_send() {
  while (!sends_.empty() && !credits_.empty()) {
    Pending p = std::move(sends_.front());
    sends_.pop_front();
    const Credit c = credits_.front();
    credits_.pop_front();
    if (c.bytes != p.op->bytes) {
      return error(absl::StrCat("peer expects ", c.bytes, " bytes where ", p.op->bytes, " are sent"));
    }
    p.mr = ibv_reg_mr(pd_, p.op->data, p.op->bytes, IBV_ACCESS_LOCAL_WRITE);
    if (p.mr == nullptr) return error("cannot register send memory");
    ibv_sge sge{reinterpret_cast<uint64_t>(p.op->data), static_cast<uint32_t>(p.op->bytes), p.mr->lkey};
    ibv_send_wr wr{}, *bad = nullptr;
    wr.wr_id = kWriteTag;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
    wr.send_flags = IBV_SEND_SIGNALED;
    wr.imm_data = 0;
    wr.wr.rdma.remote_addr = c.addr;
    wr.wr.rdma.rkey = c.rkey;
    if (ibv_post_send(qp_, &wr, &bad) != 0) return error("posting an RDMA write failed");
    writing_.push_back(std::move(p));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> IbvPair::progress() {
  if (!failed_.ok()) return failed_;
  if (closed_) return error("link already closed");
  bool moved = false;
  ibv_wc wc[16];
  int n;
  while ((n = ibv_poll_cq(cq_, 16, wc)) > 0) {
    moved = true;
    for (int i = 0; i < n; ++i) {
      if (wc[i].status != IBV_WC_SUCCESS) return error(ibv_wc_status_str(wc[i].status));
      if (wc[i].opcode == IBV_WC_RDMA_WRITE) {
        Pending& p = writing_.front();
        ibv_dereg_mr(p.mr);
        count_sent(p.op->bytes);
        p.op->complete();
        writing_.pop_front();
      } else if (wc[i].opcode == IBV_WC_RECV || wc[i].opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
        const int slot = static_cast<int>(wc[i].wr_id & 0xffff);
        if (wc[i].opcode == IBV_WC_RECV) {
          credits_.push_back(credit_slots_[slot]);
        } else {
          Pending& p = recvs_.front();
          if (p.op->kind == Op::Kind::kRecvReduce) {
            (*p.op->reducer)(p.op->data, p.op->a, p.scratch.data(), p.op->bytes / p.op->reducer->elem_size);
          }
          ibv_dereg_mr(p.mr);
          count_received(p.op->bytes);
          p.op->complete();
          recvs_.pop_front();
        }
        ibv_sge sge{reinterpret_cast<uint64_t>(&credit_slots_[slot]), sizeof(Credit), credit_mr_->lkey};
        ibv_recv_wr wr{}, *bad = nullptr;
        wr.wr_id = kCreditTag | slot;
        wr.sg_list = &sge;
        wr.num_sge = 1;
        if (ibv_post_recv(qp_, &wr, &bad) != 0) return error("reposting a receive failed");
      }
    }
  }
  if (n < 0) return error("ibv_poll_cq failed");
  if (absl::Status s = try_send(); !s.ok()) return s;
  return moved;
}

size_t IbvPair::poll_fds(std::vector<pollfd>& fds) {
  if (closed_) return 0;
  ibv_req_notify_cq(cq_, 0);
  fds.push_back({control_.fd(), static_cast<short>(control_.ended() ? 0 : POLLIN), 0});
  fds.push_back({channel_->fd, POLLIN, 0});
  return 2;
}

absl::Status IbvPair::check_events(const pollfd* fds, size_t count) {
  if (!failed_.ok()) return failed_;
  if (count >= 2 && fds[1].revents) {
    ibv_cq* cq;
    void* context;
    if (ibv_get_cq_event(channel_, &cq, &context) == 0) ibv_ack_cq_events(cq, 1);
  }
  if (count >= 1 && fds[0].revents) return read_control();
  return absl::OkStatus();
}

absl::Status IbvPair::read_control() {
  const ControlChannel::Reading r = control_.read();
  if (r.kind == ControlChannel::Reading::Kind::kNothing) return absl::OkStatus();
  return error(r.problem());
}

void IbvPair::send_keepalive(uint64_t sequence, int32_t waiting_on) {
  if (closed_ || !failed_.ok()) return;
  control_.send_keepalive(sequence, waiting_on);
}

PeerLiveness IbvPair::liveness() {
  if (!closed_ && failed_.ok() && !control_.ended()) read_control().IgnoreError();
  return control_.heard();
}

void IbvPair::abort(uint32_t culprit) {
  if (closed_) return;
  control_.send_abort(culprit);
  close(false);
}

void IbvPair::close(bool orderly) {
  if (closed_) return;
  closed_ = true;
  if (orderly && failed_.ok()) control_.say_goodbye();
  control_.close();
}

}  // namespace tg::coll::ibverbs
