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
#include "models/model_plan.h"

namespace hllm::models {

// The Item LLM's input for some items: embeddings of prompt + text + [ITEM], left-padded to the bucket's
// longest item, with each row's mask and positions.
struct ItemBucket {
  at::Tensor embeddings;  // [U_b, T_b, D]
  at::Tensor mask;        // [U_b, 1, T_b, T_b] bool; undefined when no row is padded (plain causal)
  at::Tensor positions;   // [U_b, T_b] int64; [T_b] (the same for every row) when the mask is undefined
};

// Items are sorted by length and cut into buckets of kItemsPerBucket (models/model_plan.h): each pads only
// to its own longest.

struct ItemInputs {
  std::vector<ItemBucket> buckets;
  at::Tensor inverse_order;  // [U]: row of item u in the concatenated bucket outputs
};

// The [U, D] item embeddings, in item order, from the buckets' [U_b, D] outputs.
at::Tensor item_rows(const std::vector<at::Tensor>& bucket_outputs, const at::Tensor& inverse_order, int64_t hidden,
                     const at::Tensor& like);

class ItemLlm {
 public:
  // `prompt_tokens`: the tokenized item prompt (prepended to every item). [ITEM] is drawn from `seed`
  // (normal(0, 0.02)), or given (`item_token`, [D]: a placeholder of a model built without values).
  ItemLlm(LlamaDecoder decoder, std::vector<int64_t> prompt_tokens, uint64_t seed);
  ItemLlm(LlamaDecoder decoder, std::vector<int64_t> prompt_tokens, at::Tensor item_token);

  // Item embeddings.   token_offsets: [U+1] int64 CSR over tokens: [T_total] int64. Returns [U, D].
  at::Tensor forward(const at::Tensor& token_offsets, const at::Tensor& tokens,
                     int64_t items_per_bucket = kItemsPerBucket) const;
  // The first step of forward(): the decoder's input, in length buckets.
  ItemInputs inputs(const at::Tensor& token_offsets, const at::Tensor& tokens,
                    int64_t items_per_bucket = kItemsPerBucket) const;

  const LlamaDecoder& decoder() const { return decoder_; }
  void to(const at::Device& device, at::ScalarType dtype);
  const at::Tensor& item_token() const { return item_token_; }  // [D], the learned [ITEM] embedding
  int64_t prompt_length() const { return static_cast<int64_t>(prompt_tokens_.size()); }
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;

 private:
  ItemBucket bucket(const int64_t* offsets, const int64_t* tokens, const std::vector<int64_t>& items) const;

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
  void to(const at::Device& device, at::ScalarType dtype) { decoder_.to(device, dtype); }
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;

 private:
  LlamaDecoder decoder_;
};

// Attention mask and positions for left-padded rows.   mask: [B, T] bool (real tokens).
// Returns {bool [B, 1, T, T] (causal, keys real), int64 [B, T] positions (0 at each row's first token)}.
std::pair<at::Tensor, at::Tensor> left_padded_mask_and_positions(const at::Tensor& mask);

}  // namespace hllm::models
