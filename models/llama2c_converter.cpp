#include "models/llama2c_converter.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/error.h"
#include "models/hf_weights.h"

namespace hllm::models {
namespace {

// Reads consecutive float32 arrays from the checkpoint, checking each fits in the file.
class FloatCursor {
 public:
  FloatCursor(const std::vector<char>& bytes, size_t offset, const std::string& path)
      : bytes_(bytes), offset_(offset), path_(path) {}
  at::Tensor next(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (const auto s : shape) n *= s;
    const size_t size = static_cast<size_t>(n) * 4;
    if (offset_ + size > bytes_.size()) {
      throw InputError(detail::concat(path_, ": ends at byte ", bytes_.size(), " but the header's shapes need ",
                                      offset_ + size, " (truncated, or not a llama2.c checkpoint)"));
    }
    at::Tensor t = at::empty(shape, at::kFloat);
    std::memcpy(t.data_ptr(), bytes_.data() + offset_, size);
    offset_ += size;
    return t;
  }

 private:
  const std::vector<char>& bytes_;
  size_t offset_;
  std::string path_;
};

// Interleaved-pair RoPE rows -> rotate-half rows, per head.
at::Tensor permute_rope_rows(const at::Tensor& w, int64_t heads) {
  const int64_t out = w.size(0), in = w.size(1), d = out / heads;
  return w.view({heads, d / 2, 2, in}).transpose(1, 2).reshape({out, in}).contiguous();
}

}  // namespace

LlamaConfig convert_llama2c(const std::string& checkpoint, const std::string& out_directory) {
  std::ifstream in(checkpoint, std::ios::binary);
  if (!in) throw InputError("cannot open '" + checkpoint + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 28) throw InputError(checkpoint + ": too short for a llama2.c header (28 bytes)");
  int32_t header[7];
  std::memcpy(header, bytes.data(), sizeof(header));
  LlamaConfig c;
  c.hidden_size = header[0];
  c.intermediate_size = header[1];
  c.num_hidden_layers = header[2];
  c.num_attention_heads = header[3];
  c.num_key_value_heads = header[4];
  c.tie_word_embeddings = header[5] > 0;
  c.vocab_size = header[5] > 0 ? header[5] : -static_cast<int64_t>(header[5]);
  c.max_position_embeddings = header[6];
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.validate(checkpoint);
  if (c.max_position_embeddings <= 0) throw InputError(checkpoint + ": seq_len must be positive");

  const int64_t D = c.hidden_size, F = c.intermediate_size, L = c.num_hidden_layers, d = c.head_dim();
  const int64_t KV = c.num_key_value_heads * d;
  FloatCursor cursor(bytes, sizeof(header), checkpoint);
  const at::Tensor embedding = cursor.next({c.vocab_size, D});
  const at::Tensor rms_att = cursor.next({L, D});
  const at::Tensor wq = cursor.next({L, D, D});
  const at::Tensor wk = cursor.next({L, KV, D});
  const at::Tensor wv = cursor.next({L, KV, D});
  const at::Tensor wo = cursor.next({L, D, D});
  const at::Tensor rms_ffn = cursor.next({L, D});
  const at::Tensor w1 = cursor.next({L, F, D});
  const at::Tensor w2 = cursor.next({L, D, F});
  const at::Tensor w3 = cursor.next({L, F, D});
  const at::Tensor rms_final = cursor.next({D});
  cursor.next({c.max_position_embeddings, d / 2});  // freq_cis_real, unused
  cursor.next({c.max_position_embeddings, d / 2});  // freq_cis_imag, unused
  at::Tensor classifier;
  if (!c.tie_word_embeddings) classifier = cursor.next({c.vocab_size, D});

  std::vector<std::pair<std::string, at::Tensor>> tensors = {{"model.embed_tokens.weight", embedding}};
  for (int64_t i = 0; i < L; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    tensors.emplace_back(p + "input_layernorm.weight", rms_att[i]);
    tensors.emplace_back(p + "self_attn.q_proj.weight", permute_rope_rows(wq[i], c.num_attention_heads));
    tensors.emplace_back(p + "self_attn.k_proj.weight", permute_rope_rows(wk[i], c.num_key_value_heads));
    tensors.emplace_back(p + "self_attn.v_proj.weight", wv[i]);
    tensors.emplace_back(p + "self_attn.o_proj.weight", wo[i]);
    tensors.emplace_back(p + "post_attention_layernorm.weight", rms_ffn[i]);
    tensors.emplace_back(p + "mlp.gate_proj.weight", w1[i]);
    tensors.emplace_back(p + "mlp.down_proj.weight", w2[i]);
    tensors.emplace_back(p + "mlp.up_proj.weight", w3[i]);
  }
  tensors.emplace_back("model.norm.weight", rms_final);
  if (!c.tie_word_embeddings) tensors.emplace_back("lm_head.weight", classifier);

  std::filesystem::create_directories(out_directory);
  save_safetensors((std::filesystem::path(out_directory) / "model.safetensors").string(), tensors);
  std::ofstream((std::filesystem::path(out_directory) / "config.json").string()) << hf_config_json(c);
  return c;
}

}  // namespace hllm::models
