// RecordedCommunicator: a Communicator that enters every operation of the one it wraps in a FlightRecorder
// (group, sequence number, bytes, start, completion), for any backend. Communicators split from it are
// recorded too (label_records names them). A wait that times out (CommTimeoutError) is rethrown with what the records of every rank
// say about the stall (stall_report.h): which rank is silent or behind, and on which host.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "parallel/comm/communicator.h"
#include "parallel/comm/flight_recorder.h"

namespace hllm::parallel {

// Seconds this process has spent blocked in wait() on recorded operations, over every communicator and
// thread: the time its ranks' computations waited for communication (and for slower ranks), which a
// step's census reads before and after the step (runtime/step_census.h).
double seconds_waited();

// `world` (not owned, must outlive the result) recorded as group "world"; its ranks are world ranks.
std::unique_ptr<Communicator> record_world(Communicator& world, std::shared_ptr<FlightRecorder> recorder);

// Names the records of `comm` ("dp", "dp:zero_gather") and its members as world ranks, in its rank order;
// a no-op when `comm` is not recorded. A split's records are labelled "<parent>/split" until then.
void label_records(Communicator& comm, const std::string& label, std::vector<int> world_ranks);

// `comm`, made over the same ranks in the same order as `like` (a device communicator over a host group),
// recorded under `label` when `like` is recorded; else returned as it is.
std::unique_ptr<Communicator> record_like(const Communicator& like, std::unique_ptr<Communicator> comm,
                                          const std::string& label);

}  // namespace hllm::parallel
