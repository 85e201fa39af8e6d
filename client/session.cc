#include "client/session.h"

namespace tg {

absl::StatusOr<std::unique_ptr<Session>> Session::open(const Client& client,
                                                       std::chrono::milliseconds lease,
                                                       const std::string& client_name) {
  auto opened = client.open_session(lease, client_name);
  if (!opened.ok()) return opened.status();
  if (opened->session().empty() || opened->lease_ms() == 0) {
    return absl::InternalError("controller at " + client.address() +
                               " opened a session without an id or a lease");
  }
  return std::unique_ptr<Session>(
      new Session(client, opened->session(), std::chrono::milliseconds(opened->lease_ms())));
}

Session::Session(Client client, std::string id, std::chrono::milliseconds lease)
    : client_(std::move(client)), id_(std::move(id)), lease_(lease) {
  renewer_ = std::thread([this] { renew_loop(); });
}

Session::~Session() {
  stop_renewing();
  close().IgnoreError();
}

absl::Status Session::last_renewal() const {
  std::lock_guard lock(mutex_);
  return last_renewal_;
}

RunOptions Session::options() const {
  RunOptions options;
  options.session = id_;
  return options;
}

void Session::renew_loop() {
  const auto period = std::max(lease_ / 3, std::chrono::milliseconds(1));
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    absl::Status status = client_.renew_session(id_, period);
    lock.lock();
    last_renewal_ = status;
  }
}

void Session::stop_renewing() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  std::call_once(joined_, [this] {
    if (renewer_.joinable()) renewer_.join();
  });
}

absl::Status Session::close() {
  stop_renewing();
  {
    std::lock_guard lock(mutex_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
  }
  return client_.close_session(id_);
}

}  // namespace tg
