// CallStreams: unary-style calls carried over long-lived bidirectional gRPC streams, for
// small calls on a hot path. A stream carries one call at a time (a request, then its reply)
// and waits in a pool for the next one, so a call costs one message each way instead of a
// new HTTP/2 stream with its headers; concurrent calls use separate streams.
//
// The stream's reply message holds `status` (CallStatus) and `reply`; call() returns the
// reply, or the status with its code and message unchanged, exactly as the unary RPC would.
// Every call is bounded by its timeout (DEADLINE_EXCEEDED; the stream is dropped). A call on a
// pooled stream that broke while idle (UNAVAILABLE or CANCELLED before any reply, e.g. the
// server restarted) is retried once on a new stream. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include <absl/status/statusor.h>
#include <grpcpp/grpcpp.h>

#include "call_watchdog.h"
#include "rpc.h"

namespace tg {

template <class Request, class StreamReply>
class CallStreams {
 public:
  using Stream = grpc::ClientReaderWriter<Request, StreamReply>;
  using Reply = std::remove_cvref_t<decltype(std::declval<StreamReply>().reply())>;
  // Starts a new stream on `context`, e.g. a lambda calling stub->SubmitStream(context).
  using Open = std::function<std::unique_ptr<Stream>(grpc::ClientContext*)>;

  // `what` names the calls in errors, e.g. "Submit to 127.0.0.1:7070".
  CallStreams(Open open, std::string what) : open_(std::move(open)), what_(std::move(what)) {}
  ~CallStreams() {
    for (auto& pooled : idle_) close(*pooled);
  }
  CallStreams(const CallStreams&) = delete;
  CallStreams& operator=(const CallStreams&) = delete;

  absl::StatusOr<Reply> call(const Request& request, std::chrono::milliseconds timeout) {
    const auto deadline = CallWatchdog::Clock::now() + timeout;
    for (int attempt = 0;; ++attempt) {
      auto [pooled, reused] = take();
      const uint64_t ticket = watchdog_.arm(&pooled->context, deadline);
      StreamReply reply;
      const bool answered = pooled->stream->Write(request) && pooled->stream->Read(&reply);
      const bool timed_out = watchdog_.disarm(ticket);
      if (answered) {
        if (!timed_out) give_back(std::move(pooled));
        return unwrap(reply);
      }
      const grpc::Status status = pooled->stream->Finish();
      if (timed_out) {
        return absl::DeadlineExceededError(what_ + ": no reply within " +
                                           std::to_string(timeout.count()) + " ms");
      }
      const absl::Status failed =
          status.ok() ? absl::UnavailableError(what_ + ": the server ended the stream unanswered")
                      : from_grpc(status);
      const bool broke_while_idle =
          absl::IsUnavailable(failed) || absl::IsCancelled(failed);
      if (reused && broke_while_idle && attempt == 0) continue;
      return failed;
    }
  }

 private:
  struct Pooled {
    grpc::ClientContext context;  // Outlives the stream, which is destroyed first.
    std::unique_ptr<Stream> stream;
  };

  static absl::StatusOr<Reply> unwrap(StreamReply& reply) {
    if (reply.status().code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(reply.status().code()),
                          reply.status().message());
    }
    return std::move(*reply.mutable_reply());
  }

  // An idle stream (reused = true) or a new one.
  std::pair<std::unique_ptr<Pooled>, bool> take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto pooled = std::move(idle_.back());
        idle_.pop_back();
        return {std::move(pooled), true};
      }
    }
    auto pooled = std::make_unique<Pooled>();
    pooled->stream = open_(&pooled->context);
    return {std::move(pooled), false};
  }

  void give_back(std::unique_ptr<Pooled> pooled) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(pooled));
  }

  static void close(Pooled& pooled) {
    pooled.context.TryCancel();
    pooled.stream->Finish().ok();  // CANCELLED, as asked.
  }

  const Open open_;
  const std::string what_;
  CallWatchdog watchdog_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Pooled>> idle_;
};

}  // namespace tg
