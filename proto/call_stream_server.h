// CallStreamServer: the server side of CallStreams (call_streams.h). serve() runs one
// stream: it reads a request, answers it with handle(request) (an absl::StatusOr of the
// unary reply, wrapped with its status) and waits for the next, until the client closes the
// stream. stop() ends every stream so the server can shut down at once: idle streams are
// cancelled now, a stream busy with a call ends after writing that call's reply.
// Thread-safe; one CallStreamServer per service.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include <absl/status/statusor.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/sync_stream.h>

namespace tg {

class CallStreamServer {
 public:
  template <class Request, class StreamReply, class Handle>
  grpc::Status serve(grpc::ServerContext* context,
                     grpc::ServerReaderWriter<StreamReply, Request>* stream, Handle handle) {
    const uint64_t id = enter(context);
    Request request;
    while (idle(id) && stream->Read(&request)) {
      busy(id);
      StreamReply reply;
      auto result = handle(request);
      if (result.ok()) {
        *reply.mutable_reply() = std::move(*result);
      } else {
        reply.mutable_status()->set_code(static_cast<int32_t>(result.status().code()));
        reply.mutable_status()->set_message(std::string(result.status().message()));
      }
      if (!stream->Write(reply)) break;
    }
    leave(id);
    return grpc::Status::OK;
  }

  void stop();

 private:
  struct Served {
    grpc::ServerContext* context;
    bool busy = false;
  };

  uint64_t enter(grpc::ServerContext* context);
  // Marks the stream idle (waiting for a request); false when stopping.
  bool idle(uint64_t id);
  void busy(uint64_t id);
  void leave(uint64_t id);

  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Served> served_;
  bool stopping_ = false;
};

}  // namespace tg
