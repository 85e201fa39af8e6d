// Reads a communicator's flight records from all of its daemons as one picture: every rank's
// last operations, which ranks wait for which peer now, the rank that holds the others up
// (`behind`), and one sentence saying so. A daemon that does not answer (stopped, dead,
// partitioned) counts against its ranks: when others wait for one of them, that is the rank
// behind. Pure: the controller gathers the records (coordinator.h), this reads them.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "tgrack/v1/collectives.pb.h"

namespace tg::coll {

// What one daemon answered for one communicator: its ranks' records, or why there are none.
struct NodeRecords {
  std::string node;
  absl::StatusOr<tgrack::v1::CommunicatorFlight> flight;
};

tgrack::v1::TraceCommunicatorReply trace_communicator(const tgrack::v1::CommunicatorSpec& spec,
                                                      const std::vector<NodeRecords>& nodes,
                                                      std::chrono::system_clock::time_point now);

// The list entry of a traced communicator: devices, state, the newest operation.
tgrack::v1::CommunicatorSummary summarize(const tgrack::v1::CommunicatorSpec& spec,
                                          const tgrack::v1::TraceCommunicatorReply& trace);

}  // namespace tg::coll
