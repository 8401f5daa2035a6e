// Where a step's time goes, operator by operator: runs a function under LibTorch's profiler and prints the
// operators with the most self time (their own time, less the operators they called), so a benchmark can say
// which parts of a step are products and which are the elementwise work and overhead around them.
#pragma once

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hllm::bench {

struct OpTime {
  std::string name;
  double self_us = 0;
  int64_t calls = 0;
};

// "[720, 128] [128, 344]": an operator's input shapes, so that one product can be told from another.
inline std::string shapes_text(const torch::autograd::profiler::KinetoEvent& event) {
  std::string text;
  if (!event.hasShapes()) return text;
  for (const auto& shape : event.shapes()) {
    if (shape.empty()) continue;
    text += " [";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    text += "]";
  }
  return text;
}

// Self time per operator over one call of `fn`, most first; with `by_shapes`, per operator and input shapes.
inline std::vector<OpTime> profile_ops(const std::function<void()>& fn, bool by_shapes = false) {
  namespace prof = torch::autograd::profiler;
  const prof::ProfilerConfig config(prof::ProfilerState::KINETO, /*report_input_shapes=*/by_shapes);
  prof::prepareProfiler(config, {prof::ActivityType::CPU});
  prof::enableProfiler(config, {prof::ActivityType::CPU});
  fn();
  const auto result = prof::disableProfiler();

  struct Span {
    std::string name;
    uint64_t start, end, thread;
  };
  std::vector<Span> spans;
  for (const auto& event : result->events()) {
    spans.push_back({event.name() + (by_shapes ? shapes_text(event) : std::string()), event.startUs(), event.startUs() + event.durationUs(), event.startThreadId()});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.thread != b.thread ? a.thread < b.thread : a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  std::map<std::string, OpTime> by_name;
  std::vector<const Span*> open;  // enclosing spans on the current thread
  for (const auto& span : spans) {
    while (!open.empty() && (open.back()->thread != span.thread || open.back()->end <= span.start)) open.pop_back();
    auto& mine = by_name[span.name];
    mine.name = span.name;
    mine.self_us += static_cast<double>(span.end - span.start);
    ++mine.calls;
    if (!open.empty()) by_name[open.back()->name].self_us -= static_cast<double>(span.end - span.start);
    open.push_back(&span);
  }
  std::vector<OpTime> ops;
  for (auto& [name, op] : by_name) ops.push_back(op);
  std::sort(ops.begin(), ops.end(), [](const OpTime& a, const OpTime& b) { return a.self_us > b.self_us; });
  return ops;
}

inline void print_op_profile(const std::vector<OpTime>& ops, int top) {
  double total = 0;
  for (const auto& op : ops) total += op.self_us;
  std::printf("  operators by self time (%.1f ms profiled in all):\n", total / 1e3);
  for (int i = 0; i < top && i < static_cast<int>(ops.size()); ++i) {
    std::printf("    %8.2f ms %5.1f %%  %6lld calls  %s\n", ops[i].self_us / 1e3, 100 * ops[i].self_us / total,
                static_cast<long long>(ops[i].calls), ops[i].name.c_str());
  }
}

}  // namespace hllm::bench
