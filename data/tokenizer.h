// Tokenizer: what hllm_prepare tokenizes item texts with. Two kinds, chosen by the files:
// - SentencePiece: a .model file, or a model directory holding tokenizer.model (LLaMA-2, TinyLlama,
//   stories260K), or one trained on the item texts (hllm_prepare --train_tokenizer VOCAB);
// - Hugging Face byte-level BPE: a tokenizer.json, or a model directory holding it and no tokenizer.model
//   (Llama-3, Qwen2/3, SmolLM; data/hf_tokenizer.h), with BOS/EOS/PAD from tokenizer_config.json.
//
// Its own library (hllm_tokenizer): Debian's SentencePiece embeds protobuf 3.14, LibTorch loads protobuf
// 3.21, and the two crash in one process. Link it only into programs that do not load LibTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset_writer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace hllm::data {

class HfTokenizer;

class Tokenizer {
 public:
  // `path`: a SentencePiece .model file, a tokenizer.json, or a directory holding either (tokenizer.model
  // first). Throws InputError naming the file and what is wrong with it.
  static Tokenizer load(const std::string& path);

  // Trains a unigram SentencePiece model on `texts` and writes it to `model_path`. On one thread:
  // SentencePiece's threads sum its EM statistics in another order and learn another model, so the dataset
  // would depend on --threads (and they gave no speed-up, measured on 2 cores). Ids: 0 unk, 1 bos, 2 eos,
  // 3 pad. `vocab_size` is an upper bound: texts with fewer distinct pieces give a smaller vocabulary.
  // Throws InputError on failure.
  static void train(const std::vector<std::string>& texts, int vocab_size, const std::string& model_path);

  // The texts a tokenizer is trained on out of `texts` (those not `excluded`, e.g. cold items'): all of them
  // up to kMaxTrainingTexts, else that many, evenly spaced by index. Unigram training's time and memory
  // grow with its input (here about 5 s and 0.25 GB per 25,000 Amazon-like texts) while a vocabulary of a
  // few thousand to 32k pieces is learnt about as well from a sample of this size: on a Books-shaped
  // catalogue an 8,000-piece model from 50,000 texts spends 0.6% more tokens per item than one from
  // 100,000, which takes twice the time and memory. Deterministic: the same texts give the same sample.
  static constexpr size_t kMaxTrainingTexts = 50000;
  static std::vector<std::string> training_sample(const std::vector<std::string>& texts,
                                                  const std::vector<uint8_t>& excluded);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // The ids of `text`, without BOS/EOS. Thread-safe (SentencePiece's Encode is const and reentrant; the
  // tokenizer.json reader's is, see hf_tokenizer.h), so items are tokenized on several threads.
  std::vector<int32_t> encode(const std::string& text) const;
  int vocab_size() const;
  int bos_id() const;  // -1 where the tokenizer has none
  int eos_id() const;
  int pad_id() const;
  // "SentencePiece" or "tokenizer.json (byte-level BPE)".
  std::string kind() const;

  // What data::write_dataset needs (the encoder refers to this tokenizer, which must outlive it).
  TokenizerFiles files() const;

 private:
  Tokenizer() = default;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sentencepiece_;  // one of the two
  std::unique_ptr<HfTokenizer> hf_;
  std::vector<TokenizerFile> files_;
};

}  // namespace hllm::data
