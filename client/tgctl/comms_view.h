// What tgctl shows of communicators: the table `tgctl comms` prints, the trace
// `tgctl comms trace ID` prints, and the JSON of both (docs/cli-json.md). Pure functions of
// the controller's replies, so the output is tested without a pool.
#pragma once

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/tgctl/table.h"
#include "tgrack/v1/controller.pb.h"

namespace tg::tgctl {

std::string flight_state_name(tgrack::v1::FlightOpState state);  // "running", "done", "failed"
// "all_reduce #3 4.0 KiB ring done" or "-" when there is none.
std::string describe_op(const tgrack::v1::FlightOp& op);

// COMMUNICATOR, RANKS, DEVICES, STATE, LAST OP.
Table comms_table(const std::vector<tgrack::v1::CommunicatorSummary>& comms);
nlohmann::json comms_json(const std::vector<tgrack::v1::CommunicatorSummary>& comms);

// The verdict, every rank's newest operation and what it waits for, then each rank's
// recorded operations, oldest first.
void print_trace(const tgrack::v1::TraceCommunicatorReply& trace, std::ostream& out);
nlohmann::json trace_json(const tgrack::v1::TraceCommunicatorReply& trace);

}  // namespace tg::tgctl
