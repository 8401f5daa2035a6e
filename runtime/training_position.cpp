#include "runtime/training_position.h"

namespace hllm::runtime {

void TrainingPosition::save_state(std::vector<checkpoint::StatePiece>* /*pieces*/, nlohmann::json* scalars) {
  const data::LoaderState position = loader_.state();
  (*scalars)["step"] = steps_done;
  (*scalars)["loader"] = {{"epoch", position.epoch}, {"batch", position.batch}};
}

void TrainingPosition::load_state(const checkpoint::Checkpoint& /*checkpoint*/, const nlohmann::json& s) {
  steps_done = s.at("step").get<int64_t>();
  loader_.restore({s.at("loader").at("epoch").get<int64_t>(), s.at("loader").at("batch").get<int64_t>()});
}

}  // namespace hllm::runtime
