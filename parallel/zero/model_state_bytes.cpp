#include "parallel/zero/model_state_bytes.h"

#include "common/error.h"

namespace hllm::parallel::zero {

ModelStateBytes model_state_bytes(int stage, double parameters, int dp, bool bf16) {
  HLLM_CHECK(stage >= 0 && stage <= 3 && dp >= 1, "model_state_bytes: stage ", stage, ", dp ", dp);
  const double v = bf16 ? 2 : 4, optimizer = bf16 ? 12 : 8, n = dp;
  ModelStateBytes b;
  switch (stage) {
    case 0:
      b = {v, 4, optimizer};
      break;
    case 1:
      b = {v, v + 4 / n, optimizer / n};
      break;
    case 2:
      b = {v, 4 / n, optimizer / n};
      break;
    default:
      b = {v / n, 4 / n, optimizer / n};
  }
  b.parameters *= parameters;
  b.gradients *= parameters;
  b.optimizer *= parameters;
  return b;
}

}  // namespace hllm::parallel::zero
