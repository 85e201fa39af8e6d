#include "client/submitter.h"

#include "call_methods.h"
#include "rpc.h"

namespace tg {

Submitter::Submitter(std::string controller_address,
                     std::shared_ptr<tgrack::v1::ControllerService::Stub> stub)
    : address_(std::move(controller_address)), stub_(std::move(stub)) {}

absl::StatusOr<std::shared_ptr<SocketCalls>> Submitter::socket_calls(
    std::chrono::milliseconds timeout, bool ask_again) {
  std::lock_guard lock(mu_);
  if (known_ && !ask_again) return calls_;
  tgrack::v1::GetCallPortReply reply;
  auto context = context_with_deadline(timeout);
  const absl::Status status =
      from_grpc(stub_->GetCallPort(context.get(), tgrack::v1::GetCallPortRequest(), &reply));
  if (!status.ok() && !absl::IsUnimplemented(status)) return status;
  known_ = true;
  if (reply.port() == 0) {
    calls_ = nullptr;
    return calls_;
  }
  const std::string call_address =
      address_.substr(0, address_.rfind(':')) + ":" + std::to_string(reply.port());
  if (calls_ == nullptr || calls_->address() != call_address) {
    calls_ = std::make_shared<SocketCalls>(call_address, "Submit to " + address_);
  }
  return calls_;
}

absl::StatusOr<tgrack::v1::SubmitReply> Submitter::submit(
    const tgrack::v1::SubmitRequest& request, std::chrono::milliseconds timeout) {
  auto calls = socket_calls(timeout, /*ask_again=*/false);
  if (!calls.ok()) return calls.status();
  if (*calls == nullptr) {
    tgrack::v1::SubmitReply reply;
    auto context = context_with_deadline(timeout);
    const absl::Status status = from_grpc(stub_->Submit(context.get(), request, &reply));
    if (!status.ok()) return status;
    return reply;
  }
  auto reply = (*calls)->call<tgrack::v1::SubmitReply>(kCallSubmit, request, timeout);
  if (!absl::IsUnavailable(reply.status())) return reply;
  auto moved = socket_calls(timeout, /*ask_again=*/true);
  if (!moved.ok() || *moved == nullptr || *moved == *calls) return reply;
  return (*moved)->call<tgrack::v1::SubmitReply>(kCallSubmit, request, timeout);
}

}  // namespace tg
