// Tokenizer: SentencePiece, loaded from a .model file or a Hugging Face model directory holding
// tokenizer.model, or trained on item texts (hllm_prepare --train_tokenizer VOCAB).
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

class Tokenizer {
 public:
  // `path`: a SentencePiece .model file, or a directory containing tokenizer.model. Throws InputError.
  static Tokenizer load(const std::string& path);

  // Trains a unigram SentencePiece model on `texts` (single-threaded, so the same texts give the same
  // model) and writes it to `model_path`. Ids: 0 unk, 1 bos, 2 eos, 3 pad. `vocab_size` is an upper
  // bound: texts with fewer distinct pieces give a smaller vocabulary. Throws InputError on failure.
  static void train(const std::vector<std::string>& texts, int vocab_size, const std::string& model_path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> encode(const std::string& text) const;
  int vocab_size() const;
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  const std::string& model_path() const { return model_path_; }

  // What data::write_dataset needs (the encoder refers to this tokenizer, which must outlive it).
  TokenizerFiles files() const;

 private:
  Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor, std::string model_path);

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string model_path_;
};

}  // namespace hllm::data
