#include "data/byte_level_bpe.h"

#include <functional>
#include <limits>
#include <queue>

#include "common/error.h"

namespace hllm::data {
namespace {

// GPT-2's alphabet: printable Latin-1 bytes stand for themselves; the others (controls, space, 0x7F-0xA0,
// the soft hyphen) take the code points from 256 on, in byte order. Indexed by code point, -1 outside.
std::vector<int> byte_of_code_point() {
  std::vector<int> table(512, -1);
  int next = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
    table[printable ? byte : next++] = byte;
  }
  return table;
}

}  // namespace

std::optional<std::string> bytes_of_byte_level(std::string_view spelling) {
  static const std::vector<int> table = byte_of_code_point();
  std::string bytes;
  for (size_t i = 0; i < spelling.size();) {
    const auto lead = static_cast<unsigned char>(spelling[i]);
    int code_point;
    if (lead < 0x80) {
      code_point = lead;
      i += 1;
    } else if ((lead >> 5) == 0x6 && i + 1 < spelling.size()) {  // the alphabet ends below U+0800
      code_point = ((lead & 0x1F) << 6) | (static_cast<unsigned char>(spelling[i + 1]) & 0x3F);
      i += 2;
    } else {
      return std::nullopt;
    }
    if (code_point >= static_cast<int>(table.size()) || table[code_point] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(table[code_point]));
  }
  return bytes;
}

ByteLevelBpe::ByteLevelBpe(std::unordered_map<std::string, int32_t> vocab,
                           const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
                           const std::string& where)
    : vocab_(std::move(vocab)), ignore_merges_(ignore_merges) {
  for (int byte = 0; byte < 256; ++byte) {
    const auto found = vocab_.find(std::string(1, static_cast<char>(byte)));
    if (found == vocab_.end()) {
      throw InputError(detail::concat(where, ": the vocabulary has no piece for byte 0x", std::hex, byte,
                                      "; a byte-level BPE needs all 256"));
    }
    byte_ids_[byte] = found->second;
  }
  merges_.reserve(merges.size());
  const auto id_of = [&](const std::string& piece, size_t rank) {
    const auto found = vocab_.find(piece);
    if (found == vocab_.end()) {
      throw InputError(detail::concat(where, ": merge ", rank, " uses or makes a piece that is not in the vocabulary"));
    }
    return found->second;
  };
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    // A repeated pair takes its last rank, as Hugging Face's and transformers.js's maps do.
    merges_[pair_key(id_of(left, rank), id_of(right, rank))] = Merge{static_cast<int32_t>(rank), id_of(left + right, rank)};
  }
}

void ByteLevelBpe::encode(std::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.empty()) return;
  if (ignore_merges_ || piece.size() == 1) {
    const auto whole = vocab_.find(std::string(piece));
    if (whole != vocab_.end()) {
      ids->push_back(whole->second);
      return;
    }
  }
  if (piece.size() <= kShortPiece) {
    encode_short(piece, ids);
    return;
  }
  // Symbols live at their first byte's position, linked left to right; a heap holds the candidate merges by
  // (rank, position), and an entry whose symbols have changed since it was pushed is skipped. O(n log n),
  // so a long piece without spaces (a URL, a run of one letter) costs no more than its length suggests.
  const auto n = static_cast<int32_t>(piece.size());
  std::vector<int32_t> symbol(n), next(n), prev(n);
  for (int32_t i = 0; i < n; ++i) {
    symbol[i] = byte_ids_[static_cast<unsigned char>(piece[i])];
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  struct Candidate {
    int32_t rank, left, left_symbol, right_symbol, merged;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> candidates;
  const auto consider = [&](int32_t left) {
    const int32_t right = next[left];
    if (right >= n) return;
    const auto found = merges_.find(pair_key(symbol[left], symbol[right]));
    if (found != merges_.end()) {
      candidates.push({found->second.rank, left, symbol[left], symbol[right], found->second.merged_id});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!candidates.empty()) {
    const Candidate c = candidates.top();
    candidates.pop();
    const int32_t right = next[c.left];
    if (right >= n || symbol[c.left] != c.left_symbol || symbol[right] != c.right_symbol) continue;  // stale
    symbol[c.left] = c.merged;
    symbol[right] = -1;
    next[c.left] = next[right];
    if (next[right] < n) prev[next[right]] = c.left;
    if (prev[c.left] >= 0) consider(prev[c.left]);
    consider(c.left);
  }
  for (int32_t i = 0; i < n; i = next[i]) ids->push_back(symbol[i]);
}

void ByteLevelBpe::encode_short(std::string_view piece, std::vector<int32_t>* ids) const {
  // The same merges as the heap, by scanning every adjacent pair for the lowest (rank, position): cheaper for
  // the few bytes of most words than the heap's bookkeeping.
  std::vector<int32_t> symbols;
  symbols.reserve(piece.size());
  for (const char c : piece) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
  while (symbols.size() > 1) {
    int32_t best_rank = std::numeric_limits<int32_t>::max();
    size_t best = 0;
    int32_t best_merged = -1;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto found = merges_.find(pair_key(symbols[i], symbols[i + 1]));
      if (found != merges_.end() && found->second.rank < best_rank) {
        best_rank = found->second.rank;
        best = i;
        best_merged = found->second.merged_id;
      }
    }
    if (best_merged < 0) break;
    symbols[best] = best_merged;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  ids->insert(ids->end(), symbols.begin(), symbols.end());
}

}  // namespace hllm::data
