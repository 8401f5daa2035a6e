// The two towers of HLLM (DESIGN.md "What it is").
//
// ItemLlm reads, for each item, prompt tokens + text tokens followed by one learned [ITEM] embedding, and
// returns the final-norm hidden state at [ITEM] as the item's embedding. Items of different lengths are
// left-padded into one [U, T] batch; each row has its own positions (0 at its first token) and its own
// causal mask that never reaches into padding, so no item attends to another.
//
// UserLlm reads a user's sequence of item embeddings (inputs_embeds: no token table) causally and returns
// the final-norm state at every position, the prediction of the next item. Neither tower keeps an LM head.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/llama_decoder.h"

namespace hllm::models {

// The Item LLM's input for a set of items: embeddings of prompt + text + [ITEM], left-padded, with each
// row's mask and positions.
struct ItemInputs {
  at::Tensor embeddings;  // [U, T, D]
  at::Tensor mask;        // [U, 1, T, T] bool
  at::Tensor positions;   // [U, T] int64
};

class ItemLlm {
 public:
  // `prompt_tokens`: the tokenized item prompt (prepended to every item).
  ItemLlm(LlamaDecoder decoder, std::vector<int64_t> prompt_tokens, uint64_t seed);

  // Item embeddings.   token_offsets: [U+1] int64 CSR over tokens: [T_total] int64. Returns [U, D].
  at::Tensor forward(const at::Tensor& token_offsets, const at::Tensor& tokens) const;
  // The first step of forward(): the decoder's input.
  ItemInputs inputs(const at::Tensor& token_offsets, const at::Tensor& tokens) const;

  const LlamaDecoder& decoder() const { return decoder_; }
  const at::Tensor& item_token() const { return item_token_; }  // [D], the learned [ITEM] embedding
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;

 private:
  LlamaDecoder decoder_;
  std::vector<int64_t> prompt_tokens_;
  at::Tensor item_token_;
};

class UserLlm {
 public:
  explicit UserLlm(LlamaDecoder decoder);

  // States.   items: [B, S] item embeddings (left-padded rows); mask: [B, S] bool, true for real items.
  // Returns [B, S, D]; padded positions are garbage and must be masked by the caller.
  at::Tensor forward(const at::Tensor& items, const at::Tensor& mask) const;

  const LlamaDecoder& decoder() const { return decoder_; }
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;

 private:
  LlamaDecoder decoder_;
};

// Attention mask and positions for left-padded rows.   mask: [B, T] bool (real tokens).
// Returns {bool [B, 1, T, T] (causal, keys real), int64 [B, T] positions (0 at each row's first token)}.
std::pair<at::Tensor, at::Tensor> left_padded_mask_and_positions(const at::Tensor& mask);

}  // namespace hllm::models
