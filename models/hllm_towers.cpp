#include "models/hllm_towers.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/error.h"
#include "models/llama_ops.h"

namespace hllm::models {

std::pair<at::Tensor, at::Tensor> left_padded_mask_and_positions(const at::Tensor& mask) {
  const int64_t T = mask.size(1);
  const at::Tensor causal = causal_mask(T, mask.device());                      // [1, 1, T, T]
  const at::Tensor attend = causal.logical_and(mask.view({mask.size(0), 1, 1, T}));  // keys must be real
  const at::Tensor positions = (mask.to(at::kLong).cumsum(1) - 1).clamp_min(0);
  return {attend, positions};
}

ItemLlm::ItemLlm(LlamaDecoder decoder, std::vector<int64_t> prompt_tokens, uint64_t seed)
    : decoder_(std::move(decoder)), prompt_tokens_(std::move(prompt_tokens)) {
  decoder_.drop_heads(/*keep_token_embedding=*/true);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto dtype = decoder_.named_parameters().front().second.scalar_type();
  item_token_ = at::normal(0.0, 0.02, {decoder_.config().hidden_size}, generator, at::TensorOptions().dtype(at::kFloat))
                    .to(dtype);
}

ItemLlm::ItemLlm(LlamaDecoder decoder, std::vector<int64_t> prompt_tokens, at::Tensor item_token)
    : decoder_(std::move(decoder)), prompt_tokens_(std::move(prompt_tokens)), item_token_(std::move(item_token)) {
  decoder_.drop_heads(/*keep_token_embedding=*/true);
  HLLM_CHECK(item_token_.dim() == 1 && item_token_.size(0) == decoder_.config().hidden_size,
             "[ITEM] must be [", decoder_.config().hidden_size, "], got ", item_token_.sizes());
}

std::vector<std::pair<std::string, at::Tensor>> ItemLlm::named_parameters() const {
  auto out = decoder_.named_parameters();
  out.emplace_back("item_token", item_token_);
  return out;
}

void ItemLlm::to(const at::Device& device, at::ScalarType dtype) {
  decoder_.to(device, dtype);
  item_token_ = moved_parameter(item_token_, device, dtype);
}

at::Tensor ItemLlm::forward(const at::Tensor& token_offsets, const at::Tensor& tokens, int64_t items_per_bucket) const {
  const ItemInputs in = inputs(token_offsets, tokens, items_per_bucket);
  std::vector<at::Tensor> outputs;
  for (const auto& b : in.buckets) {
    outputs.push_back(decoder_.hidden_from_embeddings(b.embeddings, b.mask, b.positions).select(1, b.embeddings.size(1) - 1));
  }
  return item_rows(outputs, in.inverse_order, decoder_.config().hidden_size, item_token_);
}

at::Tensor item_rows(const std::vector<at::Tensor>& bucket_outputs, const at::Tensor& inverse_order, int64_t hidden,
                     const at::Tensor& like) {
  if (bucket_outputs.empty()) return at::zeros({0, hidden}, like.options());
  return at::cat(bucket_outputs, 0).index_select(0, inverse_order);
}

ItemBucket ItemLlm::bucket(const int64_t* o, const int64_t* t, const std::vector<int64_t>& items) const {
  const int64_t U = static_cast<int64_t>(items.size());
  const int64_t P = static_cast<int64_t>(prompt_tokens_.size());
  int64_t longest = 0;
  for (const auto u : items) longest = std::max(longest, o[u + 1] - o[u]);
  const int64_t T = P + longest + 1;  // prompt + text + [ITEM]

  // Left-padded token ids (padding id 0, masked out) and the real-token mask; [ITEM] is the last column.
  at::Tensor ids = at::zeros({U, T - 1}, at::kLong);
  at::Tensor real = at::zeros({U, T}, at::kBool);
  int64_t* id = ids.data_ptr<int64_t>();
  bool* r = real.data_ptr<bool>();
  for (int64_t row = 0; row < U; ++row) {
    const int64_t u = items[row];
    const int64_t length = P + (o[u + 1] - o[u]);
    const int64_t start = (T - 1) - length;
    for (int64_t k = 0; k < P; ++k) id[row * (T - 1) + start + k] = prompt_tokens_[k];
    for (int64_t k = 0; k < o[u + 1] - o[u]; ++k) id[row * (T - 1) + start + P + k] = t[o[u] + k];
    for (int64_t k = start; k < T; ++k) r[row * T + k] = true;
  }
  const at::Device device = item_token_.device();
  const at::Tensor token_embeddings = decoder_.hidden_embeddings_of(ids.to(device));  // [U, T-1, D]
  const at::Tensor item = item_token_.view({1, 1, -1}).expand({U, 1, item_token_.size(0)});
  const at::Tensor embeddings = at::cat({token_embeddings, item.to(token_embeddings.scalar_type())}, 1);  // [U, T, D]
  bool padded = false;
  for (const auto u : items) padded = padded || o[u + 1] - o[u] != longest;
  if (!padded) {  // every row full: plain causal, no mask to build (the fused kernels' fast path), shared positions
    return {embeddings, at::Tensor(), at::arange(T, at::TensorOptions().dtype(at::kLong).device(device))};
  }
  const auto [mask, positions] = left_padded_mask_and_positions(real.to(device));
  return {embeddings, mask, positions};
}

ItemInputs ItemLlm::inputs(const at::Tensor& token_offsets, const at::Tensor& tokens, int64_t items_per_bucket) const {
  HLLM_CHECK(items_per_bucket >= 1, "ItemLlm: items per bucket must be positive, got ", items_per_bucket);
  HLLM_CHECK(token_offsets.dim() == 1 && token_offsets.size(0) >= 1, "ItemLlm: token_offsets must be [U+1]");
  const int64_t U = token_offsets.size(0) - 1;
  const at::Tensor offsets = token_offsets.to(at::kCPU);
  const at::Tensor all_tokens = tokens.to(at::kCPU).to(at::kLong);
  const int64_t* o = offsets.data_ptr<int64_t>();
  // Items sorted by length (ties by index), cut into buckets: each bucket pads only to its own longest.
  std::vector<int64_t> order(U);
  for (int64_t u = 0; u < U; ++u) order[u] = u;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return o[a + 1] - o[a] < o[b + 1] - o[b]; });
  ItemInputs in;
  for (int64_t first = 0; first < U; first += items_per_bucket) {
    const std::vector<int64_t> items(order.begin() + first, order.begin() + std::min(U, first + items_per_bucket));
    in.buckets.push_back(bucket(o, all_tokens.data_ptr<int64_t>(), items));
  }
  std::vector<int64_t> inverse(U);
  for (int64_t row = 0; row < U; ++row) inverse[order[row]] = row;
  in.inverse_order = at::tensor(inverse, at::kLong).to(item_token_.device());
  return in;
}

UserLlm::UserLlm(LlamaDecoder decoder) : decoder_(std::move(decoder)) {
  decoder_.drop_heads(/*keep_token_embedding=*/false);
}

std::vector<std::pair<std::string, at::Tensor>> UserLlm::named_parameters() const { return decoder_.named_parameters(); }

at::Tensor UserLlm::forward(const at::Tensor& items, const at::Tensor& mask) const {
  const auto [attend, positions] = left_padded_mask_and_positions(mask);
  return decoder_.hidden_from_embeddings(items, attend, positions);
}

}  // namespace hllm::models
