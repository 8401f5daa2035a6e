#include "runtime/training_position.h"

namespace hllm::runtime {

void TrainingPosition::save_state(std::vector<checkpoint::StatePiece>* /*pieces*/, nlohmann::json* scalars) {
  const data::LoaderState position = loader_.state();
  (*scalars)["step"] = steps_done;
  (*scalars)["loader"] = {{"epoch", position.epoch}, {"batch", position.batch}};
  (*scalars)["skip_windows"] = loader_.skipped().to_strings();  // in force when this step was reached
}

void TrainingPosition::load_state(const checkpoint::Checkpoint& /*checkpoint*/, const nlohmann::json& s) {
  steps_done = s.at("step").get<int64_t>();
  // The checkpoint's windows stay skipped, beside those this run skips already (a rollback's are newer).
  data::SkippedWindows skipped = loader_.skipped();
  skipped.add(data::SkippedWindows::parse(s.value("skip_windows", std::vector<std::string>{}),
                                          "the checkpoint's position.skip_windows"));
  if (!(skipped == loader_.skipped())) loader_.skip(skipped);
  loader_.restore({s.at("loader").at("epoch").get<int64_t>(), s.at("loader").at("batch").get<int64_t>()});
}

}  // namespace hllm::runtime
