#include "client/tgctl/comms_view.h"

#include "client/tgctl/job_view.h"
#include "devices/units.h"

namespace tg::tgctl {
namespace {

double unix_seconds(int64_t unix_ms) { return static_cast<double>(unix_ms) / 1000.0; }

// Seconds from start to end; 0 while running.
double duration_seconds(const tgrack::v1::FlightOp& op) {
  if (op.end_unix_ms() == 0) return 0.0;
  return static_cast<double>(op.end_unix_ms() - op.start_unix_ms()) / 1000.0;
}

nlohmann::json op_json(const tgrack::v1::FlightOp& op) {
  return {{"sequence", op.sequence()},
          {"collective", op.collective()},
          {"size_bytes", op.bytes()},
          {"algorithm", op.algorithm()},
          {"state", flight_state_name(op.state())},
          {"started_unix_seconds", unix_seconds(op.start_unix_ms())},
          {"ended_unix_seconds", unix_seconds(op.end_unix_ms())},
          {"duration_seconds", duration_seconds(op)},
          {"waiting_on_rank", op.sequence() == 0 ? -1 : op.waiting_on()},
          {"waiting_since_unix_seconds", unix_seconds(op.waiting_since_unix_ms())},
          {"stalled", op.stalled()},
          {"peer_state", op.peer_state()},
          {"peer_sequence", op.peer_sequence()},
          {"peer_waiting_on_rank", op.peer_state().empty() ? -1 : op.peer_waiting_on()},
          {"peer_silent_seconds", op.peer_silent_ms() / 1000.0},
          {"link", op.link()},
          {"error", op.error()}};
}

nlohmann::json devices_json(const google::protobuf::RepeatedPtrField<tgrack::v1::DeviceRef>& devices) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : devices) out.push_back(device_ref_name(d));
  return out;
}

std::string waiting_text(const tgrack::v1::FlightOp& op) {
  if (op.sequence() == 0 || op.waiting_on() < 0) return "-";
  std::string text = "rank " + std::to_string(op.waiting_on());
  if (!op.stalled()) return text;
  if (op.peer_state().empty() || op.peer_state() == "unknown") return text + " (stalled)";
  text += " (stalled, " + op.peer_state();
  if (op.peer_sequence() > 0) text += " at #" + std::to_string(op.peer_sequence());
  return text + ")";
}

}  // namespace

std::string flight_state_name(tgrack::v1::FlightOpState state) {
  switch (state) {
    case tgrack::v1::FLIGHT_OP_RUNNING: return "running";
    case tgrack::v1::FLIGHT_OP_DONE: return "done";
    case tgrack::v1::FLIGHT_OP_FAILED: return "failed";
    default: return "none";
  }
}

std::string describe_op(const tgrack::v1::FlightOp& op) {
  if (op.sequence() == 0) return "-";
  return op.collective() + " #" + std::to_string(op.sequence()) + " " + format_bytes(op.bytes()) + " " +
         op.algorithm() + " " + flight_state_name(op.state());
}

Table comms_table(const std::vector<tgrack::v1::CommunicatorSummary>& comms) {
  Table table({"COMMUNICATOR", "RANKS", "DEVICES", "STATE", "LAST OP"});
  for (const auto& comm : comms) {
    std::string devices;
    for (const auto& d : comm.devices()) devices += (devices.empty() ? "" : ",") + device_ref_name(d);
    table.add_row({comm.comm_id(), std::to_string(comm.devices_size()), devices.empty() ? "-" : devices,
                   comm.state(), describe_op(comm.last_op())});
  }
  return table;
}

nlohmann::json comms_json(const std::vector<tgrack::v1::CommunicatorSummary>& comms) {
  nlohmann::json out = {{"communicators", nlohmann::json::array()}};
  for (const auto& comm : comms) {
    out["communicators"].push_back({{"id", comm.comm_id()},
                                    {"rank_count", comm.devices_size()},
                                    {"device_ids", devices_json(comm.devices())},
                                    {"state", comm.state()},
                                    {"last_op", op_json(comm.last_op())}});
  }
  return out;
}

void print_trace(const tgrack::v1::TraceCommunicatorReply& trace, std::ostream& out) {
  out << "communicator " << trace.comm_id() << ": " << trace.state() << "\n" << trace.verdict() << "\n\n";
  Table ranks({"RANK", "DEVICE", "LAST OP", "WAITING FOR", "DAEMON"});
  for (const auto& rank : trace.ranks()) {
    const tgrack::v1::FlightOp none;
    const tgrack::v1::FlightOp& last = rank.ops().empty() ? none : rank.ops(rank.ops_size() - 1);
    ranks.add_row({std::to_string(rank.rank()), device_ref_name(rank.device()), describe_op(last),
                   waiting_text(last), rank.answered() ? "answers" : "no answer: " + rank.unreachable()});
  }
  ranks.print(out);
  for (const auto& rank : trace.ranks()) {
    if (rank.ops().empty()) continue;
    out << "\nrank " << rank.rank() << " (" << device_ref_name(rank.device()) << "), oldest first:\n";
    Table ops({"SEQ", "COLLECTIVE", "SIZE", "ALGORITHM", "STATE", "TIME", "WAITING FOR", "ERROR"});
    for (const auto& op : rank.ops()) {
      ops.add_row({std::to_string(op.sequence()), op.collective(), format_bytes(op.bytes()), op.algorithm(),
                   flight_state_name(op.state()), op.end_unix_ms() ? format_seconds(duration_seconds(op)) : "-",
                   waiting_text(op), op.error()});
    }
    ops.print(out);
  }
}

nlohmann::json trace_json(const tgrack::v1::TraceCommunicatorReply& trace) {
  nlohmann::json ranks = nlohmann::json::array(), waits = nlohmann::json::array();
  for (const auto& rank : trace.ranks()) {
    nlohmann::json ops = nlohmann::json::array();
    for (const auto& op : rank.ops()) ops.push_back(op_json(op));
    ranks.push_back({{"rank", rank.rank()},
                     {"device_id", device_ref_name(rank.device())},
                     {"answered", rank.answered()},
                     {"unreachable", rank.unreachable()},
                     {"ops", ops}});
  }
  for (const auto& wait : trace.waits()) {
    waits.push_back({{"rank", wait.waiting_rank()},
                     {"peer_rank", wait.peer_rank()},
                     {"peer_node_id", wait.peer_node()},
                     {"sequence", wait.sequence()},
                     {"stalled", wait.stalled()},
                     {"waiting_seconds", wait.waiting_seconds()},
                     {"peer_state", wait.peer_state()},
                     {"peer_sequence", wait.peer_sequence()},
                     {"peer_waiting_on_rank", wait.peer_state().empty() ? -1 : wait.peer_waiting_on()},
                     {"peer_silent_seconds", wait.peer_silent_seconds()},
                     {"link", wait.link()}});
  }
  const bool behind = trace.behind_rank() >= 0;
  return {{"id", trace.comm_id()},
          {"state", trace.state()},
          {"behind_rank", trace.behind_rank()},
          {"behind_device_id", behind ? device_ref_name(trace.behind_device()) : ""},
          {"behind_node_id", behind ? trace.behind_device().node() : ""},
          {"verdict", trace.verdict()},
          {"ranks", ranks},
          {"waits", waits}};
}

}  // namespace tg::tgctl
