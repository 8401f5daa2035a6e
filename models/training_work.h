// What training computes, counted for report.json and scaling curves: each tower's size (its parameters,
// and those multiplied once per token: the layers' weight matrices) and a batch's work per tower (the
// tokens it reads and the sum of its sequences' squared lengths, which attention costs). Only real tokens
// count, not padding: the work a perfect packing would do, as MFU counts it.
//
// Training FLOPs of a tower = 3 x its forward's (the backward's two products per forward product):
//   6 x matmul parameters x tokens  +  12 x attention width x sum of L^2
// where the forward's attention is 4 L^2 x heads x head size per layer and sequence (scores and the
// weighted sum, 2 L^2 H d each, the causal mask's half not subtracted: the kernels compute it), and the
// attention width is layers x heads x head size. Norms, softmax, the token table and the loss's products are
// left out; they are small beside these at every shape the presets and ladders use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/llama_config.h"

namespace hllm::models {

struct TowerSize {
  std::string name;               // "item", "user" (HLLM); "sequence" (SASRec, HSTU)
  int64_t parameters = 0;         // all of the tower's
  int64_t matmul_parameters = 0;  // multiplied once per token in the forward
  int64_t attention_width = 0;    // layers x heads x head size
};

// The towers' names, in order.
std::vector<std::string> tower_names(const std::vector<TowerSize>& towers);

struct TowerWork {
  int64_t tokens = 0;
  int64_t squared_lengths = 0;  // sum over the sequences read of their length squared
  TowerWork& operator+=(const TowerWork& other) {
    tokens += other.tokens;
    squared_lengths += other.squared_lengths;
    return *this;
  }
};

// The training FLOPs of `work` on a tower of `size` (the formula above).
double training_flops(const TowerSize& size, const TowerWork& work);

// A LLaMA decoder tower's size; `with_token_table`: the Item LLM's table counts in its parameters.
// `extra_parameters`: trained tensors outside the decoder ([ITEM]).
TowerSize llama_tower_size(std::string name, const LlamaConfig& config, bool with_token_table,
                           int64_t extra_parameters = 0);

// Adds one sequence of `length` real tokens.
void add_sequence(int64_t length, TowerWork* work);

}  // namespace hllm::models
