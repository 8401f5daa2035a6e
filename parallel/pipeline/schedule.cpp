#include "parallel/pipeline/schedule.h"

#include <algorithm>

#include "common/error.h"

namespace hllm::parallel {

const char* to_string(PipeOp op) {
  switch (op) {
    case PipeOp::kLoadMicroBatch: return "load";
    case PipeOp::kForward: return "forward";
    case PipeOp::kBackward: return "backward";
    case PipeOp::kSendActivation: return "send_activation";
    case PipeOp::kRecvActivation: return "recv_activation";
    case PipeOp::kSendGradient: return "send_gradient";
    case PipeOp::kRecvGradient: return "recv_gradient";
    case PipeOp::kReduceGradients: return "reduce_gradients";
    case PipeOp::kOptimizerStep: return "optimizer_step";
  }
  return "?";
}

namespace {

// One micro-batch's forward on stage s of p, with its input and output transfers.
void forward(std::vector<PipeInstruction>& out, int s, int p, int m) {
  out.push_back({s == 0 ? PipeOp::kLoadMicroBatch : PipeOp::kRecvActivation, m});
  out.push_back({PipeOp::kForward, m});
  if (s + 1 < p) out.push_back({PipeOp::kSendActivation, m});
}

void backward(std::vector<PipeInstruction>& out, int s, int p, int m) {
  if (s + 1 < p) out.push_back({PipeOp::kRecvGradient, m});
  out.push_back({PipeOp::kBackward, m});
  if (s > 0) out.push_back({PipeOp::kSendGradient, m});
}

}  // namespace

std::vector<std::vector<PipeInstruction>> pipeline_schedule(int stages, int micro_batches, ScheduleKind kind) {
  if (stages < 1 || micro_batches < 1) {
    throw InputError(detail::concat("a pipeline schedule needs at least one stage and one micro-batch (got ", stages,
                                    " stages, ", micro_batches, " micro-batches)"));
  }
  std::vector<std::vector<PipeInstruction>> streams(static_cast<size_t>(stages));
  for (int s = 0; s < stages; ++s) {
    auto& out = streams[static_cast<size_t>(s)];
    if (kind == ScheduleKind::kGPipe) {
      for (int m = 0; m < micro_batches; ++m) forward(out, s, stages, m);
      for (int m = 0; m < micro_batches; ++m) backward(out, s, stages, m);
    } else {
      const int warmup = std::min(stages - s - 1, micro_batches);
      int next_forward = 0, next_backward = 0;
      for (; next_forward < warmup; ++next_forward) forward(out, s, stages, next_forward);
      while (next_forward < micro_batches) {  // steady state: one forward, one backward
        forward(out, s, stages, next_forward++);
        backward(out, s, stages, next_backward++);
      }
      while (next_backward < micro_batches) backward(out, s, stages, next_backward++);
    }
    out.push_back({PipeOp::kReduceGradients, -1});
    out.push_back({PipeOp::kOptimizerStep, -1});
  }
  return streams;
}

int peak_live_micro_batches(const std::vector<PipeInstruction>& stage) {
  int live = 0, peak = 0;
  for (const auto& i : stage) {
    if (i.op == PipeOp::kForward) peak = std::max(peak, ++live);
    if (i.op == PipeOp::kBackward) --live;
  }
  return peak;
}

}  // namespace hllm::parallel
