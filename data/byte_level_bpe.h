// Byte-level BPE, the model of GPT-2, Llama-3 and Qwen tokenizers: a pre-token's UTF-8 bytes start as one
// symbol each and the adjacent pair of lowest merge rank is merged until none is left (ties: leftmost).
//
// Hugging Face's tokenizer.json spells every piece through GPT-2's byte-to-character map (byte 0x20 as
// "Ġ", ...); the spelling is undone once when loading, so pieces here are raw bytes and encoding needs no
// mapping.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hllm::data {

// The raw bytes a byte-level spelling stands for; nullopt when a character is outside GPT-2's alphabet.
std::optional<std::string> bytes_of_byte_level(std::string_view spelling);

class ByteLevelBpe {
 public:
  // `vocab`: piece bytes → id; it must hold all 256 single bytes. `merges`: pairs of pieces in rank order,
  // each piece and its concatenation in `vocab`. `ignore_merges`: a pre-token that is itself in the
  // vocabulary is one id, whatever the merges would give (Llama-3). `where` names the file for errors.
  ByteLevelBpe(std::unordered_map<std::string, int32_t> vocab,
               const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
               const std::string& where);

  // Appends the ids of one pre-token.
  void encode(std::string_view piece, std::vector<int32_t>* ids) const;

  // Pieces up to this many bytes are merged by scanning the pairs, longer ones through a heap (O(n log n)).
  static constexpr size_t kShortPiece = 64;

 private:
  void encode_short(std::string_view piece, std::vector<int32_t>* ids) const;

  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

  std::unordered_map<std::string, int32_t> vocab_;
  std::array<int32_t, 256> byte_ids_{};
  std::unordered_map<uint64_t, Merge> merges_;
  bool ignore_merges_;
};

}  // namespace hllm::data
