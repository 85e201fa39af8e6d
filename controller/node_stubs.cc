#include "controller/node_stubs.h"

#include "net/rpc.h"

namespace tg {

tgrack::v1::NodeService::Stub& NodeStubs::at(const std::string& address) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[address];
  if (!stub) stub = tgrack::v1::NodeService::NewStub(make_channel(address));
  return *stub;
}

}  // namespace tg
