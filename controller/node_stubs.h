// NodeStubs: one NodeService stub per daemon address, created on first use and shared by
// every caller (gRPC stubs are thread-safe). Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class NodeStubs {
 public:
  tgrack::v1::NodeService::Stub& at(const std::string& address);

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<tgrack::v1::NodeService::Stub>> stubs_;
};

}  // namespace tg
