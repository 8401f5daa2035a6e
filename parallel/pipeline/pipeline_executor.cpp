#include "parallel/pipeline/pipeline_executor.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <chrono>
#include <map>

#include "common/error.h"
#include "models/activation_keys.h"
#include "parallel/pipeline/activation_transfer.h"

namespace hllm::parallel {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// One micro-batch in flight on this stage.
struct InFlight {
  models::Activations received;  // from the previous stage: leaves whose gradients go back
  models::Activations outputs;   // after this stage's blocks (sent on; the last stage keeps "loss")
  std::vector<std::pair<at::Tensor, at::Tensor>> output_gradients;  // from the next stage
};

}  // namespace

PipelineExecutor::PipelineExecutor(Communicator& activations, Communicator& gradients, zero::BlockRunner& runner,
                                   ScheduleKind kind, c10::Device device)
    : activations_(activations),
      gradients_(gradients),
      runner_(runner),
      kind_(kind),
      device_(device),
      stage_(activations.rank()),
      stages_(activations.size()) {
  HLLM_CHECK(&activations != &gradients && gradients.rank() == stage_ && gradients.size() == stages_,
             "a pipeline needs two distinct communicators over its stages, in the same order");
}

std::vector<double> PipelineExecutor::run(int micro_batches, const MicroBatchHooks& hooks) {
  const auto start = Clock::now();
  timing_ = {};
  loss_health_.clear();
  const auto program = pipeline_schedule(stages_, micro_batches, kind_)[static_cast<size_t>(stage_)];
  int last_backward = -1;
  for (const auto& instruction : program) {
    if (instruction.op == PipeOp::kBackward) last_backward = instruction.micro;
  }
  const bool last_stage = stage_ + 1 == stages_;
  std::map<int, InFlight> live;
  std::vector<at::Tensor> losses;  // read once at the end: no device synchronisation per micro-batch
  PostedSends posted;
  for (const auto& [op, micro] : program) {
    posted.release_completed();  // a delivered micro-batch's boundary tensors go now, not at the step's end
    switch (op) {
      case PipeOp::kLoadMicroBatch:
        HLLM_ASSERT(hooks.load, "the first pipeline stage needs a loader");
        live[micro].received = hooks.load(micro);
        break;
      case PipeOp::kRecvActivation:
        live[micro].received = recv_activations(activations_, stage_ - 1, device_);
        break;
      case PipeOp::kForward: {
        const auto t0 = Clock::now();
        InFlight& f = live.at(micro);
        f.outputs = f.received;  // the same tensors: the leaves stay the received ones
        runner_.forward(f.outputs);
        if (last_stage) {
          const auto health = f.outputs.find(models::keys::kLossHealth);
          if (health != f.outputs.end()) loss_health_.push_back(health->second);
          const at::Tensor loss = f.outputs.at(models::keys::kLoss);
          f.outputs = {{models::keys::kLoss, loss}};  // the graph hangs off the loss
          losses.push_back(loss.detach());
        }
        timing_.compute_seconds += seconds_since(t0);
        break;
      }
      case PipeOp::kSendActivation:
        send_activations(activations_, stage_ + 1, live.at(micro).outputs, &posted);
        break;
      case PipeOp::kRecvGradient: {
        InFlight& f = live.at(micro);
        f.output_gradients = recv_gradients(gradients_, stage_ + 1, f.outputs);
        break;
      }
      case PipeOp::kBackward: {
        const auto t0 = Clock::now();
        InFlight& f = live.at(micro);
        const bool completes_step = micro == last_backward;
        if (hooks.before_backward) hooks.before_backward(micro, completes_step);
        runner_.begin_backward(completes_step);
        if (last_stage) {
          (f.outputs.at(models::keys::kLoss) / static_cast<double>(micro_batches)).backward();
        } else {
          std::vector<at::Tensor> tensors, gradients;
          for (auto& [t, g] : f.output_gradients) {
            tensors.push_back(t);
            gradients.push_back(g);
          }
          // A stage whose outputs carry no gradient (none require one) has nothing to run.
          if (!tensors.empty()) torch::autograd::backward(tensors, gradients);
        }
        runner_.end_backward(completes_step);
        if (hooks.after_backward) hooks.after_backward(micro, completes_step);
        f.outputs.clear();
        f.output_gradients.clear();
        timing_.compute_seconds += seconds_since(t0);
        if (stage_ == 0) live.erase(micro);
        break;
      }
      case PipeOp::kSendGradient:
        send_gradients(gradients_, stage_ - 1, live.at(micro).received, &posted);
        live.erase(micro);
        break;
      case PipeOp::kReduceGradients:
      case PipeOp::kOptimizerStep:
        break;  // the caller's
    }
  }
  posted.wait();
  HLLM_ASSERT(live.empty(), "pipeline stage ", stage_, ": ", live.size(), " micro-batches left unfinished");
  timing_.step_seconds = seconds_since(start);
  std::vector<double> values;
  if (!losses.empty()) {
    const at::Tensor host = at::stack(losses).to(at::kDouble).cpu();
    values.assign(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
  }
  return values;
}

}  // namespace hllm::parallel
