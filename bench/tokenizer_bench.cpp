// tokenizer_bench: how fast item texts are tokenized, as hllm_prepare tokenizes a catalogue (each item's
// text in full, one thread), by every tokenizer given, side by side on the same texts in one run; the
// ratios are to the first SentencePiece model measured.
//
//   build/bin/tokenizer_bench --format amazon2018
//     --items ../shared/data/amazon-magazine-2018/meta_Magazine_Subscriptions.json.gz
//     --tokenizers ../shared/models/llama3-tokenizer,../shared/models/qwen3-tokenizer --train_sentencepiece 8000
//   build/bin/tokenizer_bench --tokenizers DIR[,DIR...]      (a synthetic catalogue of --synthetic_items items)
#include <gflags/gflags.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <unistd.h>

#include "bench/seconds_per_call.h"
#include "common/error.h"
#include "data/dataset_builder.h"
#include "data/input_formats.h"
#include "data/synthetic_catalog.h"
#include "data/tokenizer.h"

DEFINE_string(tokenizers, "", "Comma-separated tokenizers: model directories, .model files or tokenizer.json files.");
DEFINE_int32(train_sentencepiece, 0, "Also train a unigram SentencePiece of this many pieces on the texts and time it "
             "first (the reference of the ratios).");
DEFINE_string(format, "", "Items file format (hllm_csv, recbole, amazon2018); empty: a synthetic catalogue.");
DEFINE_string(items, "", "Items file of --format.");
DEFINE_int32(synthetic_items, 2000, "Items of the synthetic catalogue.");
DEFINE_double(seconds, 3.0, "Time each tokenizer runs.");

namespace hllm::bench {
namespace {

std::vector<std::string> item_texts() {
  data::RawCatalog catalog;
  if (FLAGS_format.empty()) {
    data::SyntheticOptions options;
    options.items = FLAGS_synthetic_items;
    options.users = 10;
    catalog = data::make_synthetic_catalog(options);
  } else if (!data::read_items_file(FLAGS_format, FLAGS_items, &catalog)) {
    throw InputError("--format: '" + FLAGS_format + "' is not hllm_csv, recbole or amazon2018");
  }
  std::vector<std::string> texts;
  for (const auto& item : catalog.items) texts.push_back(data::item_text(item, catalog.text_keys));
  return texts;
}

int run() {
  const std::vector<std::string> texts = item_texts();
  int64_t bytes = 0;
  for (const auto& text : texts) bytes += static_cast<int64_t>(text.size());
  std::vector<std::string> paths;
  std::stringstream list(FLAGS_tokenizers);
  for (std::string path; std::getline(list, path, ',');) {
    if (!path.empty()) paths.push_back(path);
  }
  const std::string trained = (std::filesystem::temp_directory_path() /
                               ("tokenizer-bench-" + std::to_string(::getpid()) + ".model")).string();
  if (FLAGS_train_sentencepiece > 0) {
    data::Tokenizer::train(texts, FLAGS_train_sentencepiece, trained);
    paths.insert(paths.begin(), trained);
  }
  if (paths.empty()) throw InputError("--tokenizers or --train_sentencepiece is required (tokenizer_bench --help)");
  std::printf("%zu item texts, %.2f MB, one thread, %.0f s per tokenizer\n", texts.size(), bytes / 1e6, FLAGS_seconds);
  std::printf("%-58s %8s %10s %10s %8s %9s %8s\n", "tokenizer", "vocab", "items/s", "tokens/s", "MB/s",
              "tok/item", "ratio");
  double reference = 0;
  for (const auto& path : paths) {
    const auto tokenizer = data::Tokenizer::load(path);
    int64_t tokens = 0;
    for (const auto& text : texts) tokens += static_cast<int64_t>(tokenizer.encode(text).size());
    const double seconds = seconds_per_call(
        [&] {
          for (const auto& text : texts) tokenizer.encode(text);
        },
        FLAGS_seconds);
    const double items_per_second = static_cast<double>(texts.size()) / seconds;
    const bool sentencepiece = tokenizer.kind() == "SentencePiece";
    if (reference == 0 && sentencepiece) reference = items_per_second;
    const std::string name = (path == trained ? "trained SentencePiece (unigram)" : path) + " [" +
                             (sentencepiece ? "SentencePiece" : "tokenizer.json") + "]";
    std::printf("%-58s %8d %10.0f %10.0f %8.2f %9.1f %8s\n", name.c_str(), tokenizer.vocab_size(), items_per_second,
                static_cast<double>(tokens) / seconds, static_cast<double>(bytes) / seconds / 1e6,
                static_cast<double>(tokens) / static_cast<double>(texts.size()),
                reference > 0 ? (std::to_string(items_per_second / reference).substr(0, 5) + "x").c_str() : "-");
  }
  if (FLAGS_train_sentencepiece > 0) std::filesystem::remove(trained);
  return 0;
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage("tokenizer_bench --tokenizers PATH[,PATH...] [--train_sentencepiece N] [--format F --items FILE]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    return hllm::bench::run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 2;
  }
}
