// hllm_prepare: raw interaction and item files -> a dataset directory (data/dataset_format.h).
//
//   hllm_prepare --format recbole --interactions ml-100k.inter --items ml-100k.item --out data/ml-100k
//                --train_tokenizer 2000   (one command)
//   hllm_prepare --synthetic users=1000,items=500,seed=1 --out data/demo --train_tokenizer 1000
//   hllm_prepare --verify data/ml-100k
//   hllm_prepare --new_items more.csv --like data/demo --out new_items.h5   (items given by text, for hllm_embed)
#include <gflags/gflags.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <iostream>
#include <sstream>
#include <sched.h>
#include <unistd.h>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/path_names.h"
#include "common/progress_meter.h"
#include "common/tool_main.h"
#include "data/dataset.h"
#include "data/dataset_builder.h"
#include "data/dataset_writer.h"
#include "data/input_formats.h"
#include "data/new_items_file.h"
#include "data/synthetic_catalog.h"
#include "data/tokenizer.h"

DEFINE_string(format, "", "Input format: hllm_csv, recbole or amazon2018.");
DEFINE_string(interactions, "", "Interactions file (CSV, RecBole .inter, or Amazon *_5.json.gz reviews).");
DEFINE_string(items, "", "Items file (CSV, RecBole .item, or Amazon meta_*.json.gz).");
DEFINE_string(synthetic, "", "Generate a synthetic catalog instead: users=N,items=M,seed=S[,min_history=..,max_history=..].");
DEFINE_string(out, "", "Dataset directory to write.");
DEFINE_bool(overwrite, false, "Replace --out if it exists (only once the new dataset is complete).");
DEFINE_string(verify, "", "Check a dataset directory (checksums, every array readable and consistent) and exit.");
DEFINE_string(text_keys, "", "Comma-separated item text fields, in order; default: every text field.");
DEFINE_int32(min_user_inter, 0, "k-core: drop users with fewer interactions (0 = no filter).");
DEFINE_int32(min_item_inter, 0, "k-core: drop items with fewer interactions (0 = no filter).");
DEFINE_string(kcore, "single_pass", "k-core rule: single_pass (HLLM's process_books.py: rows whose user and item counts, taken once, meet the thresholds; then users left with fewer than --min_user_inter dropped) or iterative (until stable).");
DEFINE_string(items_without_metadata, "drop", "Interactions with items missing from the items file: drop or empty_text.");
DEFINE_bool(allow_empty_text, false, "Keep items whose metadata has no text under --text_keys (else an error).");
DEFINE_double(cold_items, 0, "Hold out this share of the items (chosen by a hash of their id) as cold: removed from "
              "every user's training part, they are only valid/test targets (cold-start evaluation).");
DEFINE_int64(cold_after, -1, "Hold out as cold the items first seen at or after this time (seconds; -1 = none).");
DEFINE_int32(max_text_len, 256, "Keep at most this many text tokens per item.");
DEFINE_int32(num_shards, 1, "Number of user shard files.");
DEFINE_string(item_prompt, "Compress the following sentence into embedding: ", "Prompt placed before every item text.");
DEFINE_string(tokenizer, "", "A model directory (its tokenizer.model, else its tokenizer.json), a SentencePiece .model or a tokenizer.json.");
DEFINE_string(new_items, "", "Tokenize new items (an items file of --format, default the dataset's) as the dataset "
              "--like's items, into --out (a file for hllm_embed --items).");
DEFINE_string(like, "", "With --new_items: the dataset whose tokenizer, text keys and max_text_len to use.");
DEFINE_int32(train_tokenizer, 0, "Train a SentencePiece model of this vocabulary size on the item texts instead.");
DEFINE_int32(threads, 0, "Threads for tokenizing the items and compressing the files; 0 = the cores this process may "
             "use. The dataset is the same for any number.");
DEFINE_double(progress_every, 10, "When stderr is not a terminal (a log, a Slurm output file): a progress line every "
              "this many seconds. On a terminal, one line is redrawn in place.");

namespace hllm::tools {
namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

int threads() {
  constexpr int kMaxThreads = 1024;
  if (FLAGS_threads < 0 || FLAGS_threads > kMaxThreads) {
    throw InputError("--threads must be 0 (the cores) to " + std::to_string(kMaxThreads) + ", got " +
                     std::to_string(FLAGS_threads));
  }
  if (FLAGS_threads > 0) return FLAGS_threads;
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof(set), &set) == 0 ? std::max(1, CPU_COUNT(&set)) : 1;
}

// A file's size for the reading progress; 0 (an unknown total) where it cannot be had: the reader then
// says what is wrong with the file.
int64_t file_bytes(const std::string& path) {
  std::error_code error;
  const auto bytes = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<int64_t>(bytes);
}

void require(bool ok, const std::string& message) {
  if (!ok) throw InputError(message + " (hllm_prepare --help)");
}

int verify(const std::string& directory) {
  const auto dataset = data::Dataset::open(directory);
  dataset.verify();
  std::cout << directory << ": ok (" << dataset.num_users() << " users, " << dataset.num_items() << " items, "
            << dataset.meta().at("num_interactions") << " interactions, " << dataset.num_shards() << " shards)\n";
  return kExitOk;
}

// New items: their text as the dataset's items' (its text keys, its tokenizer, cut to its max_text_len).
int prepare_new_items() {
  require(!FLAGS_like.empty() && !FLAGS_out.empty(), "--new_items needs --like DATASET and --out FILE");
  check_path(FLAGS_out, "--out");
  const auto dataset = data::Dataset::open(FLAGS_like);
  const auto& meta = dataset.meta();
  const std::string format =
      FLAGS_format.empty() ? meta.at("source").at("format").get<std::string>() : FLAGS_format;
  data::RawCatalog catalog;
  require(data::read_items_file(format, FLAGS_new_items, &catalog),
          "--format of the new items must be hllm_csv, recbole or amazon2018 (the dataset's is '" +
              meta.at("source").at("format").get<std::string>() + "')");
  const auto text_keys = meta.at("text_keys").get<std::vector<std::string>>();
  for (const auto& key : text_keys) {
    if (std::find(catalog.text_keys.begin(), catalog.text_keys.end(), key) == catalog.text_keys.end()) {
      throw InputError("'" + FLAGS_new_items + "' has no text field '" + key + "', one of the dataset's text keys");
    }
  }
  std::vector<std::string> ids{""}, texts{""};
  const std::vector<std::string> known = dataset.read_item_ids();
  std::set<std::string> seen(known.begin() + 1, known.end());
  for (const auto& item : catalog.items) {
    if (!seen.insert(item.id).second) {
      throw InputError("'" + FLAGS_new_items + "': item '" + item.id + "' is " +
                       (std::find(known.begin(), known.end(), item.id) != known.end() ? "already an item of " + FLAGS_like
                                                                                   : "listed twice"));
    }
    ids.push_back(item.id);
    texts.push_back(data::item_text(item, text_keys));
    if (texts.back().empty() && !FLAGS_allow_empty_text) {
      throw InputError("'" + FLAGS_new_items + "': item '" + item.id + "' has no text under the dataset's text keys "
                       "(--allow_empty_text keeps it)");
    }
  }
  require(ids.size() > 1, "'" + FLAGS_new_items + "' holds no items");
  const auto tokenizer = data::Tokenizer::load(dataset.tokenizer_path());
  const std::string temporary = FLAGS_out + ".tmp-" + std::to_string(::getpid());
  const int64_t max_text_len = meta.at("max_text_len").get<int64_t>();
  try {
    data::write_item_tokens(temporary, ids, texts, tokenizer.files(), static_cast<int>(max_text_len),
                            {{"new_items_format_version", data::kNewItemsFormatVersion},
                             {"tokenizer_crc32", data::tokenizer_crc32(dataset)},
                             {"max_text_len", max_text_len}});
    std::filesystem::rename(temporary, FLAGS_out);
  } catch (...) {
    std::filesystem::remove(temporary);  // never a half-written file
    throw;
  }
  std::cout << "wrote " << FLAGS_out << ": " << ids.size() - 1 << " new items, tokenized as " << FLAGS_like
            << "'s (hllm_embed RUN_DIR --items " << FLAGS_out << ")\n";
  return kExitOk;
}

int prepare() {
  require(!FLAGS_out.empty(), "--out is required");
  check_path(FLAGS_out, "--out");
  require(FLAGS_synthetic.empty() != FLAGS_format.empty(), "pass either --format with input files, or --synthetic");
  require(FLAGS_tokenizer.empty() != (FLAGS_train_tokenizer == 0),
          "pass either --tokenizer PATH or --train_tokenizer VOCAB_SIZE");
  require(FLAGS_kcore == "single_pass" || FLAGS_kcore == "iterative",
          "--kcore must be single_pass or iterative, got '" + FLAGS_kcore + "'");
  require(FLAGS_items_without_metadata == "drop" || FLAGS_items_without_metadata == "empty_text",
          "--items_without_metadata must be drop or empty_text, got '" + FLAGS_items_without_metadata + "'");

  // Every option checked before the input is read: a mistake costs no minutes of reading.
  data::BuildOptions build;
  build.text_keys = split_commas(FLAGS_text_keys);
  build.min_user_inter = FLAGS_min_user_inter;
  build.min_item_inter = FLAGS_min_item_inter;
  build.iterative_kcore = FLAGS_kcore == "iterative";
  build.keep_items_without_metadata = FLAGS_items_without_metadata == "empty_text";
  build.allow_empty_text = FLAGS_allow_empty_text;
  require(FLAGS_cold_items >= 0 && FLAGS_cold_items < 1,
          "--cold_items is a share of the items in [0, 1), got " + std::to_string(FLAGS_cold_items));
  require(FLAGS_cold_after >= -1, "--cold_after is a time in seconds, or -1 for none");
  build.cold_fraction = FLAGS_cold_items;
  if (FLAGS_cold_after >= 0) build.cold_after = FLAGS_cold_after;
  const int thread_count = threads();
  require(FLAGS_progress_every > 0 && FLAGS_progress_every <= 86400,
          "--progress_every must be a number of seconds in (0, 86400], got " + std::to_string(FLAGS_progress_every));

  ProgressMeter progress(stderr, is_terminal(stderr), FLAGS_progress_every);
  data::RawCatalog catalog;
  nlohmann::json source;
  if (!FLAGS_synthetic.empty()) {
    progress.begin("generating", 0, "");
    catalog = data::make_synthetic_catalog(data::parse_synthetic_options(FLAGS_synthetic));
    source = {{"format", "synthetic"}, {"options", FLAGS_synthetic}};
  } else {
    require(!FLAGS_interactions.empty() && !FLAGS_items.empty(), "--interactions and --items are required with --format");
    require(FLAGS_format == "hllm_csv" || FLAGS_format == "recbole" || FLAGS_format == "amazon2018",
            "--format must be hllm_csv, recbole or amazon2018, got '" + FLAGS_format + "'");
    progress.begin_bytes("reading", file_bytes(FLAGS_interactions) + file_bytes(FLAGS_items));
    if (FLAGS_format == "hllm_csv") {
      catalog = data::read_hllm_csv(FLAGS_interactions, FLAGS_items, &progress);
    } else if (FLAGS_format == "recbole") {
      catalog = data::read_recbole(FLAGS_interactions, FLAGS_items, &progress);
    } else {
      catalog = data::read_amazon2018(FLAGS_interactions, FLAGS_items, &progress);
    }
    source = {{"format", FLAGS_format}, {"interactions", FLAGS_interactions}, {"items", FLAGS_items}};
  }

  progress.begin("filtering", static_cast<int64_t>(catalog.interactions.size()), "interactions");
  const auto dataset = data::build_dataset(std::move(catalog), build, &progress);

  std::string tokenizer_path = FLAGS_tokenizer;
  const std::string trained = std::filesystem::temp_directory_path() /
                              ("hllm-tokenizer-" + std::to_string(::getpid()) + ".model");
  // The trained model is copied into the dataset; the temporary file goes in any case.
  struct RemoveOnExit {
    std::string path;
    ~RemoveOnExit() { std::filesystem::remove(path); }
  } remove_trained{trained};
  if (FLAGS_train_tokenizer > 0) {
    // Trained on the texts training may see (a cold item's text stays unseen until it is evaluated), a
    // sample of them on a large catalogue (Tokenizer::training_sample).
    std::vector<std::string> texts = data::Tokenizer::training_sample(dataset.item_texts, dataset.item_cold);
    texts.push_back(FLAGS_item_prompt);
    progress.begin("training the tokenizer", 0, "");
    data::Tokenizer::train(texts, FLAGS_train_tokenizer, trained);
    tokenizer_path = trained;
  }
  progress.begin("loading the tokenizer", 0, "");
  const auto tokenizer = data::Tokenizer::load(tokenizer_path);

  data::WriteOptions write;
  write.num_shards = FLAGS_num_shards;
  write.max_text_len = FLAGS_max_text_len;
  write.item_prompt = FLAGS_item_prompt;
  write.overwrite = FLAGS_overwrite;
  write.source = source;
  write.filter = {{"min_user_inter", FLAGS_min_user_inter},
                  {"min_item_inter", FLAGS_min_item_inter},
                  {"kcore", FLAGS_kcore},
                  {"items_without_metadata", FLAGS_items_without_metadata},
                  {"allow_empty_text", FLAGS_allow_empty_text},
                  {"min_user_interactions_for_split", data::kMinUserInteractions}};
  if (FLAGS_cold_items > 0) write.cold["fraction"] = FLAGS_cold_items;
  if (FLAGS_cold_after >= 0) write.cold["first_seen_at_or_after"] = FLAGS_cold_after;
  write.threads = thread_count;
  write.progress = &progress;
  data::write_dataset(FLAGS_out, dataset, tokenizer.files(), write);
  progress.end();

  const auto& c = dataset.counts;
  std::cout << "wrote " << FLAGS_out << ": " << c.users << " users, " << c.items << " items, " << c.interactions
            << " interactions, " << FLAGS_num_shards << " shard(s), tokenizer " << tokenizer.kind() << ", vocabulary "
            << tokenizer.vocab_size()
            << "\n  input: " << c.input_interactions << " interactions, " << c.input_users << " users, "
            << c.input_items_with_metadata << " items with metadata\n  interactions with items without metadata: "
            << c.interactions_without_metadata << " (" << FLAGS_items_without_metadata << ")\n  removed by k-core ("
            << FLAGS_kcore << ", " << c.kcore_rounds << " round(s)): " << c.interactions_removed_by_kcore
            << " interactions\n  users with fewer than " << data::kMinUserInteractions
            << " interactions (dropped): " << c.users_too_short << "\n  time: " << progress.summary() << "\n";
  if (!dataset.item_cold.empty()) {
    std::cout << "  cold items (held out of training, only valid/test targets): " << c.cold_items << ", their "
              << c.interactions_removed_as_cold << " interactions in training parts removed\n";
  }
  return kExitOk;
}

}  // namespace
}  // namespace hllm::tools

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "hllm_prepare --format {hllm_csv,recbole,amazon2018} --interactions FILE --items FILE --out DIR [options]\n"
      "       hllm_prepare --synthetic users=N,items=M,seed=S --out DIR --train_tokenizer VOCAB\n"
      "       hllm_prepare --verify DIR\n"
      "       hllm_prepare --new_items FILE --like DATASET --out NEW_ITEMS.h5 [--format F]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return hllm::guarded_tool_main("hllm_prepare", [&] {
    if (argc > 1) throw hllm::InputError(std::string("unexpected argument '") + argv[1] + "' (hllm_prepare --help)");
    if (!FLAGS_verify.empty()) return hllm::tools::verify(FLAGS_verify);
    if (!FLAGS_new_items.empty()) return hllm::tools::prepare_new_items();
    return hllm::tools::prepare();
  });
}
