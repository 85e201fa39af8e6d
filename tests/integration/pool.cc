#include "pool.h"

#include <filesystem>
#include <fstream>

#include "net/bearer_token.h"
#include "test_security.h"

namespace tg::testing {

Pool::~Pool() {
  for (auto& [name, daemon] : daemons_) daemon->kill(9);
  if (controller_) controller_->kill(9);
}

absl::Status Pool::start_controller(const std::string& listen) {
  if (controller_) controller_->kill(9);
  const std::string stem = dir_.file("controller-" + std::to_string(spawned_++));
  std::vector<std::string> args = {"--listen", listen, "--port-file", stem + ".port",
                                   "--heartbeat-interval", std::to_string(kHeartbeat.count()) + "ms",
                                   "--down-after", std::to_string(kDownAfter.count()) + "ms",
                                   "--state-dir", state_dir("controller")};
  if (insecure) {
    use_plain_text();
    args.push_back("--insecure");
  } else {
    use_client_certificate();
    const std::vector<std::string> tls = tls_flags_for_controller();
    args.insert(args.end(), tls.begin(), tls.end());
  }
  args.insert(args.end(), controller_args.begin(), controller_args.end());
  auto process = Process::spawn(TGCONTROLLER_PATH, args, stem + ".out", stem + ".err");
  if (!process.ok()) return process.status();
  controller_ = std::move(*process);
  auto address = read_port_file(stem + ".port", *controller_);
  if (!address.ok()) return address.status();
  controller_address_ = *address;
  auto token = net::read_token_file(admin_token_file());
  if (!token.ok()) return token.status();
  admin_token_ = *token;
  net::set_bearer_token(admin_token_);
  ::setenv("TGRACK_TOKEN", admin_token_.c_str(), 1);
  client_ = std::make_unique<Client>(controller_address_, 10s);
  return absl::OkStatus();
}

std::unique_ptr<Process> Pool::spawn_daemon(const std::string& name, const std::string& state_dir) {
  const std::string stem = dir_.file(name + "-" + std::to_string(spawned_++));
  std::vector<std::string> args = {
      "--controller", controller_address_, "--listen", "127.0.0.1:0", "--cpu-devices",
      std::to_string(kDevicesPerDaemon), "--device-memory", "64M", "--state-dir", state_dir,
      "--name", name, "--port-file", stem + ".port"};
  if (insecure) {
    args.push_back("--insecure");
  } else {
    auto it = daemon_tls_args.find(name);
    const std::vector<std::string> tls =
        it != daemon_tls_args.end() ? it->second : tls_flags_for_node(name);
    args.insert(args.end(), tls.begin(), tls.end());
  }
  if (auto it = daemon_args.find(name); it != daemon_args.end()) {
    args.insert(args.end(), it->second.begin(), it->second.end());
  }
  std::map<std::string, std::string> env;
  if (auto it = hold_dirs_.find(name); it != hold_dirs_.end()) {
    args.insert(args.end(), {"--test-hold-dir", it->second});
    env["TGRACK_TEST_HOOKS"] = "1";
  }
  auto process = Process::spawn(TGD_PATH, args, stem + ".out", stem + ".err", env);
  return process.ok() ? std::move(*process) : nullptr;
}

void Pool::hold_kernels_on(const std::string& name) { hold_dirs_[name] = dir_.file("hold-" + name); }

bool Pool::wait_held(const std::string& name, const std::string& key,
                     std::chrono::milliseconds timeout) {
  const std::string held = hold_dirs_.at(name) + "/" + key + ".held";
  return wait_until([&] { return std::filesystem::exists(held); }, timeout);
}

void Pool::release(const std::string& name, const std::string& key) {
  std::ofstream(hold_dirs_.at(name) + "/" + key + ".release") << "released\n";
}

bool Pool::wait_stopped(const std::string& name, const std::string& key,
                        std::chrono::milliseconds timeout) {
  const std::string stopped = hold_dirs_.at(name) + "/" + key + ".stopped";
  return wait_until([&] { return std::filesystem::exists(stopped); }, timeout, 1ms);
}

absl::Status Pool::start_daemon(const std::string& name) {
  if (auto it = daemons_.find(name); it != daemons_.end()) it->second->kill(9);
  const std::string stem = dir_.file(name + "-" + std::to_string(spawned_));
  std::unique_ptr<Process> process = spawn_daemon(name, state_dir(name));
  if (!process) return absl::InternalError("cannot spawn tgd");
  auto address = read_port_file(stem + ".port", *process);
  daemons_[name] = std::move(process);
  if (!address.ok()) return address.status();
  daemon_addresses_[name] = *address;
  return absl::OkStatus();
}

absl::Status Pool::start_default() {
  if (absl::Status status = start_controller(); !status.ok()) return status;
  for (const char* name : {"node-a", "node-b"}) {
    if (absl::Status status = start_daemon(name); !status.ok()) return status;
  }
  for (const char* name : {"node-a", "node-b"}) {
    if (!wait_for_node(name, tgrack::v1::NODE_STATE_UP)) {
      return absl::DeadlineExceededError(std::string(name) + " did not come UP; its log:\n" +
                                         daemon(name).stderr_text());
    }
  }
  return absl::OkStatus();
}

bool Pool::node_is(const std::string& name, tgrack::v1::NodeState state) {
  auto nodes = client_->nodes();
  if (!nodes.ok()) return false;
  for (const auto& node : *nodes) {
    if (node.name() == name) return node.state() == state;
  }
  return false;
}

bool Pool::wait_for_node(const std::string& name, tgrack::v1::NodeState state,
                         std::chrono::milliseconds timeout) {
  if (!wait_until([&] { return node_is(name, state); }, timeout)) return false;
  if (state != tgrack::v1::NODE_STATE_UP || daemons_.count(name) == 0) return true;
  // The controller lists a node UP as it registers it, a moment before the daemon has read
  // the controller's grant key from the reply; the daemon logs when it has.
  const std::string registered = "registered as '" + name + "'";
  return wait_until([&] { return daemon(name).stdout_text().find(registered) != std::string::npos; }, timeout);
}

}  // namespace tg::testing
