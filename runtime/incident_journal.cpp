#include "runtime/incident_journal.h"

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/json_input.h"
#include "parallel/comm/broadcast_string.h"

namespace hllm::runtime {

const char* action_name(GuardAction action) {
  switch (action) {
    case GuardAction::kRollBack: return "rollback";
    case GuardAction::kSkipStep: return "skip_step";
    case GuardAction::kStop: return "stop";
  }
  return "stop";
}

nlohmann::json Incident::to_json() const {
  nlohmann::json out = {{"step", step},           {"guard", guard_name(trip.guard)}, {"metric", trip.metric},
                        {"value", trip.value},    {"threshold", trip.threshold},    {"action", action_name(action)},
                        {"lr_scale", lr_scale}};
  if (action == GuardAction::kRollBack) {
    out["rolled_back_to"] = rolled_back_to;
    out["checkpoint"] = checkpoint;
  }
  std::vector<std::string> names;
  for (const auto& at : windows) names.push_back(data::to_string(at));
  out["windows"] = names;
  return out;
}

void IncidentJournal::start(bool resumed, parallel::Communicator& world) {
  std::string text;
  if (writer_) {
    if (resumed) {
      std::ifstream in(path_);
      if (in) text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else {
      std::error_code ignored;
      std::filesystem::remove(path_, ignored);  // another run's, in a reused directory
    }
  }
  text = parallel::broadcast_string(world, text, 0);
  if (text.empty()) return;
  const nlohmann::json journal = parse_json(text, path_);
  try {
    for (const auto& incident : journal.at("incidents")) incidents_.push_back(incident);
    skipped_ = data::SkippedWindows::parse(journal.at("skip_windows").get<std::vector<std::string>>(), path_);
    lr_scale_ = journal.at("lr_scale").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path_ + ": not an incident journal (" + e.what() + "); move it away to resume without it");
  }
}

void IncidentJournal::record(const Incident& incident) {
  incidents_.push_back(incident.to_json());
  for (const auto& at : incident.windows) skipped_.add(at);
  if (writer_) write();
}

bool IncidentJournal::has_incident_from(int64_t step) const {
  for (const auto& incident : incidents_) {
    if (incident.at("step").get<int64_t>() >= step) return true;
  }
  return false;
}

nlohmann::json IncidentJournal::to_json() const {
  return {{"incidents", incidents_}, {"skip_windows", skipped_.to_strings()}, {"lr_scale", lr_scale_}};
}

void IncidentJournal::write() const {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  const std::string temporary = path_ + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << to_json().dump(2) << "\n";
    HLLM_CHECK(out.good(), "cannot write ", temporary);
  }
  std::filesystem::rename(temporary, path_);  // a reader never sees half a journal
}

}  // namespace hllm::runtime
