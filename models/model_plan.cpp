#include "models/model_plan.h"

#include <algorithm>

namespace hllm::models {

int64_t decoder_layer_parameters(const LlamaConfig& c) {
  const int64_t D = c.hidden_size, F = c.intermediate_size, d = c.head_dim();
  const int64_t q = c.num_attention_heads * d, kv = c.num_key_value_heads * d;
  int64_t n = D * q + 2 * D * kv + q * D + 3 * D * F + 2 * D;  // q, k, v, o; gate, up, down; two norms
  if (c.attention_bias) n += q + 2 * kv;
  return n;
}

namespace {

// The most one call of decoder_layer_forward (models/llama_decoder.cpp) holds at once without autograd
// (evaluation) beside its input and mask, for `rows` of T tokens in values of v bytes (measured with the host
// allocator's count: tests/models/activation_memory_test.cpp). Each term is one moment of the forward, with
// the tensors alive then; c is float32's 4 bytes, in which the fused CPU kernels compute, and `copies` is 1
// where a bf16 input is first copied into it.
double decoder_layer_inference_work(const LlamaConfig& config, double rows, double T, double v, bool fused_ops) {
  const double n = rows * T, D = config.hidden_size, F = config.intermediate_size, d = config.head_dim();
  const double q = config.num_attention_heads * d, kv = config.num_key_value_heads * d;
  const double c = std::max(v, 4.0), copies = v < c ? 1 : 0;
  if (!fused_ops) {
    // A GPU's eager ops: the norm's three float32 tensors and its output; q, k, v and their rotations, k and
    // v repeated to q's heads when grouped, and the kernel's output; the SwiGLU's gate, silu(gate), up and
    // their product.
    const double norm = n * (3 * c + v) * D;
    const double attention = n * v * (3 * q + 2 * kv + (q > kv ? 2 * q : 0) + q);
    const double swiglu = n * v * (2 * D + 4 * F);
    return std::max({norm, attention, swiglu});
  }
  // The attention, in its own scope: the normed input h, the stacked q, k, v matrices (a parameter's
  // size) or v copied out, beside the stacked product P ...
  const double projecting = n * v * D + n * v * (q + 2 * kv) + std::max(v * D * (q + 2 * kv), n * v * kv);
  const double held = n * v * (q + 3 * kv);  // P and v's copy
  // ... each rotation (its input copied to c, its output in c, then in v) ...
  const double rotation = copies * c + c + copies * v;  // per element rotated
  const double rotating = held + std::max(n * q * rotation, n * v * q + n * kv * rotation);
  // ... and the attention kernel: q and k rotated, its inputs copied to c, its output and one log-sum-exp per
  // head in c, the output in v.
  const double attending = held + n * (q + kv) * v + copies * n * c * (q + 2 * kv) +
                           n * c * (q + config.num_attention_heads) + copies * n * v * q;
  // Then the heads merged, the output projection and the residual y.
  const double merging = n * v * q + 2 * n * v * D;
  // The MLP beside y and its normed input: the stacked gate and up matrices with their product GU, then the
  // gate (GU, copied to c, its output in c, then in v), the down product, and the layer's output.
  const double mlp = 2 * n * v * D + std::max({v * 2 * F * D + n * v * 2 * F,
                                              n * v * 2 * F + copies * n * c * 2 * F + n * c * F + copies * n * v * F,
                                              n * v * F + n * v * D, 2 * n * v * D});
  return std::max({projecting, rotating, attending, merging, mlp});
}

}  // namespace

BlockCost decoder_layer_cost(const LlamaConfig& c, double rows, double T, int64_t bytes_per_value, bool fused_ops,
                             double rows_per_call) {
  const double n = rows * T, D = c.hidden_size, F = c.intermediate_size;
  const double H = c.num_attention_heads, Hkv = c.num_key_value_heads, d = c.head_dim();
  BlockCost cost;
  // q, k, v, o projections, the three SwiGLU matrices, and scores + weighted sum of attention.
  cost.forward_flops = 2 * n * D * (H * d + 2 * Hkv * d) + 2 * n * H * d * D + 2 * n * 3 * D * F + 4 * rows * H * T * T * d;
  cost.parameters = decoder_layer_parameters(c);
  // What autograd keeps of decoder_layer_forward (models/llama_ops.cpp), v = bytes_per_value, per token
  // (measured with the host allocator's count: tests/models/activation_memory_test.cpp):
  //   each RMSNorm  fused (CPU): its input and output in v (the output is the products' input) and one
  //                 float32 statistic                                                        2 (2 v D + 4)
  //                 plain (GPU): three float32 tensors of its width (its input in float32, the normalised
  //                 input, one intermediate) and its output in v                              2 (12 + v) D
  //   attention     the fused CPU node's float32 q, k, v (kv heads not repeated), its float32 output and
  //                 one log-sum-exp per head; below float32 also the output in v    8 H d + 8 Hkv d + 4 H (+ v H d)
  //                 (a GPU's SDPA keeps its tensors in v, repeated kv heads included: less than this)
  //   SwiGLU        the gate and up products and the gated product (the down product's input); the
  //                 plain formula also silu(gate)                                    fused 3 v F, plain 4 v F
  // and per row the bool mask [T, T] the layer is given (and, fused, the stacked matrices below). No T x T
  // probabilities: the fused CPU node and the GPU's kernels recompute them in the backward.
  const double v = static_cast<double>(bytes_per_value);
  const double norms = fused_ops ? 2 * (2 * v * D + 4) : 2 * (12 + v) * D;
  const double attention = 8 * H * d + 8 * Hkv * d + 4 * H + (v < 4 ? v * H * d : 0);
  const double per_token = norms + attention + (fused_ops ? 3 : 4) * v * F;
  // On the CPU the q, k, v matrices and the gate and up matrices are stacked for one product each, and the
  // products keep the stacked copies for their backward.
  const double stacked_weights = fused_ops ? v * D * ((H + 2 * Hkv) * d + 2 * F) : 0;
  cost.activation_bytes = static_cast<int64_t>(n * per_token + rows * T * T + stacked_weights);
  cost.input_bytes = static_cast<int64_t>(n * D * bytes_per_value);
  // Without autograd: every row's input and mask (a call's output replaces its input), and one call's work.
  const double call_rows = rows_per_call > 0 ? std::min(rows, rows_per_call) : rows;
  cost.inference_bytes =
      static_cast<int64_t>(n * v * D + rows * T * T + decoder_layer_inference_work(c, call_rows, T, v, fused_ops));
  return cost;
}

int64_t tower_parameters(const LlamaConfig& c, bool with_token_table) {
  int64_t n = c.num_hidden_layers * decoder_layer_parameters(c) + c.hidden_size;  // layers + final norm
  if (with_token_table) n += c.vocab_size * c.hidden_size;
  return n;
}

int64_t hllm_parameters(const LlamaConfig& item, const LlamaConfig& user) {
  return tower_parameters(item, true) + tower_parameters(user, false) + item.hidden_size + 1;
}

std::vector<std::pair<std::string, BlockCost>> hllm_block_costs(const LlamaConfig& item, const LlamaConfig& user,
                                                                const ModelShapes& s) {
  const double D = static_cast<double>(user.hidden_size), M = static_cast<double>(s.sequences * s.sequence_length);
  const auto bytes = [&](double values) { return static_cast<int64_t>(values * static_cast<double>(s.bytes_per_value)); };
  std::vector<std::pair<std::string, BlockCost>> out;
  // The embedding's backward needs the token ids only; its output is the first layer's input, counted there.
  out.emplace_back("item_embedding", BlockCost{0.0, item.vocab_size * item.hidden_size + item.hidden_size, 0, 0});
  for (int64_t i = 0; i < item.num_hidden_layers; ++i) {
    out.emplace_back("item_layer." + std::to_string(i),
                     decoder_layer_cost(item, static_cast<double>(s.items), static_cast<double>(s.item_tokens), s.bytes_per_value,
                                        s.fused_layer_ops, kItemsPerBucket));
  }
  out.emplace_back("item_output", BlockCost{0.0, item.hidden_size, bytes(static_cast<double>(s.items * item.hidden_size)), 0});
  out.emplace_back("user_input", BlockCost{});
  for (int64_t i = 0; i < user.num_hidden_layers; ++i) {
    out.emplace_back("user_layer." + std::to_string(i),
                     decoder_layer_cost(user, static_cast<double>(s.sequences), static_cast<double>(s.sequence_length),
                                        s.bytes_per_value, s.fused_layer_ops));
  }
  out.emplace_back("user_output", BlockCost{0.0, user.hidden_size, bytes(M * D), 0});
  const double logits = M * static_cast<double>(s.negatives + 1);
  out.emplace_back("loss", BlockCost{2 * logits * D, 1, bytes(logits), 0});
  return out;
}

StageActivations stage_activation_bytes(const std::vector<BlockCost>& costs, size_t first, size_t end) {
  StageActivations a;
  double largest_layer = 0;
  for (size_t b = first; b < end; ++b) {
    const BlockCost& c = costs[b];
    a.stored += static_cast<double>(c.activation_bytes);
    const bool layer = c.input_bytes > 0;
    a.checkpointed += static_cast<double>(layer ? c.input_bytes : c.activation_bytes);
    if (layer) largest_layer = std::max(largest_layer, static_cast<double>(c.activation_bytes));
  }
  a.recomputing = largest_layer;
  return a;
}

}  // namespace hllm::models

namespace hllm::models {

ModelShapes hllm_micro_batch_shapes(const ShapeSettings& settings, int64_t micro_batch, int dp, int64_t prompt_tokens,
                                    int64_t text_tokens) {
  ModelShapes s;
  s.sequences = micro_batch;
  s.sequence_length = settings.max_item_list_len + 1;
  s.items = micro_batch * s.sequence_length + settings.num_negatives;
  s.item_tokens = prompt_tokens + text_tokens + 1;
  s.negatives = settings.num_negatives * dp;
  s.bytes_per_value = settings.bf16 ? 2 : 4;
  s.fused_layer_ops = settings.fused_layer_ops;
  return s;
}

ModelShapes hllm_evaluation_shapes(const ShapeSettings& settings, int64_t prompt_tokens, int64_t text_tokens,
                                   int64_t catalogue_items) {
  ModelShapes s = hllm_micro_batch_shapes(settings, settings.eval_batch_size, 1, prompt_tokens, text_tokens);
  s.items = catalogue_items > 0 ? std::min(kCatalogueChunkItems, catalogue_items) : kCatalogueChunkItems;
  s.negatives = 0;
  return s;
}

}  // namespace hllm::models
