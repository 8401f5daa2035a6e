#include "data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "common/error.h"
#include "data/hf_tokenizer.h"

namespace hllm::data {
namespace {

class VectorSentences : public sentencepiece::SentenceIterator {
 public:
  explicit VectorSentences(const std::vector<std::string>& texts) : texts_(texts) { skip_empty(); }
  bool done() const override { return index_ >= texts_.size(); }
  void Next() override {
    ++index_;
    skip_empty();
  }
  const std::string& value() const override { return texts_[index_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  void skip_empty() {
    while (index_ < texts_.size() && texts_[index_].empty()) ++index_;
  }
  const std::vector<std::string>& texts_;
  size_t index_ = 0;
};

}  // namespace

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::string file = path;
  if (fs::is_directory(path)) {
    const fs::path sentencepiece = fs::path(path) / "tokenizer.model", hf = fs::path(path) / "tokenizer.json";
    if (fs::exists(sentencepiece)) {
      file = sentencepiece.string();
    } else if (fs::exists(hf)) {
      file = hf.string();
    } else {
      throw InputError("tokenizer: '" + path + "' is a directory with neither tokenizer.model (SentencePiece) nor "
                       "tokenizer.json (Hugging Face)");
    }
  } else if (!fs::exists(path)) {
    throw InputError("tokenizer: '" + path + "' does not exist");
  }
  Tokenizer tokenizer;
  if (fs::path(file).extension() == ".json") {
    tokenizer.hf_ = std::make_unique<HfTokenizer>(HfTokenizer::load(file));
    tokenizer.files_.push_back({file, "tokenizer.json"});
    const fs::path config = fs::path(file).parent_path() / "tokenizer_config.json";
    if (fs::exists(config)) tokenizer.files_.push_back({config.string(), "tokenizer_config.json"});
    return tokenizer;
  }
  tokenizer.sentencepiece_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = tokenizer.sentencepiece_->Load(file);
  if (!status.ok()) throw InputError("tokenizer: cannot load SentencePiece model '" + file + "': " + status.ToString());
  tokenizer.files_.push_back({file, "tokenizer.model"});
  return tokenizer;
}

std::vector<std::string> Tokenizer::training_sample(const std::vector<std::string>& texts,
                                                   const std::vector<uint8_t>& excluded) {
  std::vector<size_t> eligible;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (excluded.empty() || !excluded[i]) eligible.push_back(i);
  }
  const size_t keep = std::min(eligible.size(), kMaxTrainingTexts);
  std::vector<std::string> sample;
  sample.reserve(keep);
  for (size_t k = 0; k < keep; ++k) sample.push_back(texts[eligible[k * eligible.size() / keep]]);
  return sample;
}

void Tokenizer::train(const std::vector<std::string>& texts, int vocab_size, const std::string& model_path) {
  HLLM_CHECK(vocab_size >= 8, "tokenizer: vocabulary size must be at least 8, got ", vocab_size);
  VectorSentences sentences(texts);
  const std::unordered_map<std::string, std::string> arguments = {
      {"vocab_size", std::to_string(vocab_size)},
      {"model_type", "unigram"},
      {"character_coverage", "1.0"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "3"},
      {"num_threads", "1"},
      {"hard_vocab_limit", "false"},  // a small catalog may not support the full size: take what it does
      {"minloglevel", "2"},
      {"max_sentence_length", "16384"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
  };
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(arguments, &sentences, &model);
  if (!status.ok()) {
    throw InputError("tokenizer: training a " + std::to_string(vocab_size) + "-piece SentencePiece model failed: " +
                     status.ToString() + " (a smaller --train_tokenizer vocabulary may fit the item texts)");
  }
  std::ofstream out(model_path, std::ios::binary);
  out.write(model.data(), static_cast<std::streamsize>(model.size()));
  HLLM_CHECK(out.good(), "tokenizer: cannot write '", model_path, "'");
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  if (hf_) return hf_->encode(text);
  std::vector<int> ids;
  const auto status = sentencepiece_->Encode(text, &ids);
  HLLM_CHECK(status.ok(), "tokenizer: encoding failed: ", status.ToString());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

TokenizerFiles Tokenizer::files() const {
  return TokenizerFiles{[this](const std::string& text) { return encode(text); }, files_, vocab_size(), bos_id(),
                        eos_id(), pad_id()};
}

int Tokenizer::vocab_size() const { return hf_ ? hf_->vocab_size() : sentencepiece_->GetPieceSize(); }
int Tokenizer::bos_id() const { return hf_ ? hf_->bos_id() : sentencepiece_->bos_id(); }
int Tokenizer::eos_id() const { return hf_ ? hf_->eos_id() : sentencepiece_->eos_id(); }
int Tokenizer::pad_id() const { return hf_ ? hf_->pad_id() : sentencepiece_->pad_id(); }
std::string Tokenizer::kind() const { return hf_ ? "tokenizer.json (byte-level BPE)" : "SentencePiece"; }

}  // namespace hllm::data
