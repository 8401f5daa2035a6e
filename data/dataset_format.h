// The dataset directory written by hllm_prepare and read by the loader. Format version 1:
//
//   meta.json                 format, format_version, source, counts (every filtering step), num_users,
//                             num_items (without padding), num_interactions, text_keys, item_prompt,
//                             prompt_tokens, max_text_len, tokenizer {file, crc32, vocab_size, bos/eos/pad},
//                             split rule, filter rule, shards [{file, first_user, num_users}], and files
//                             {name: {bytes, crc32}} for every other file of the directory.
//   tokenizer.model           the tokenizer the tokens were made with (meta.json's tokenizer.file): a
//   or tokenizer.json         SentencePiece model, or a Hugging Face tokenizer.json with its
//      + tokenizer_config.json tokenizer_config.json (BOS/EOS/PAD) when the source had one.
//   items.h5                  offsets  int64 [num_items + 2]  item i's tokens are tokens[offsets[i]:offsets[i+1]]
//                             tokens   int32 [..]             item text tokens, truncated to max_text_len (no
//                                                             prompt, no BOS/EOS; the model adds those)
//                             ids      string [num_items + 1] raw item ids; item 0 is padding ("", no tokens)
//                             cold     int32 [num_items + 1]  optional: 1 for an item held out of training (only a
//                                                             valid/test target; meta.json "cold_items" has the rule)
//   users-SSSSS-of-NNNNN.h5   offsets  int64 [users + 1]      user u's items are items[offsets[u]:offsets[u+1]]
//                             items    int32 [..]             item indices (1..num_items) in time order
//                             timestamps int64 [..]           seconds, aligned with items (ties keep source order)
//                             ids      string [users]         raw user ids
//                             attribute first_user            global index of the shard's first user
//
// Every numeric dataset is chunked and gzip-compressed; h5py reads them all. Users are in sorted raw-id
// order and split into contiguous shards. The split is leave-one-out: train on all but the last two items
// of a user, validate on the second to last, test on the last.
#pragma once

#include <cstdint>

namespace hllm::data {

constexpr int kDatasetFormatVersion = 1;
constexpr const char* kDatasetFormatName = "hllm-dataset";
// Token ids lie in [0, vocab_size) with vocab_size at most this: a tokenizer naming a larger id is refused
// where it is read (the largest published vocabularies hold a few hundred thousand ids; a stray id of 2^31 - 1
// would size an embedding table of billions of rows, or overflow vocab_size to a negative number).
constexpr int64_t kMaxVocabularySize = int64_t{1} << 24;

}  // namespace hllm::data
