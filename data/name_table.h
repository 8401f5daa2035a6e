// NameTable: distinct names (the user or item ids of a source's interactions), each stored once and
// numbered in the order it first appears, so that 10 M interactions are held as 16-byte rows of numbers
// instead of two strings each, and filtering and grouping copy no strings.
//
// Looking names up is most of the time spent reading a large input, so the table is flat: the names'
// characters in one array, and an open-addressing index of (hash bits, number) pairs, 8 bytes a slot and
// at most half full, where a lookup usually touches one slot and the name it finds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hllm::data {

class NameTable {
 public:
  // The number of `name`, adding it when new.
  int32_t intern(std::string_view name);
  // The number of `name`, or -1 when it is not in the table.
  int32_t find(std::string_view name) const;
  // Valid until the next intern().
  std::string_view name(int32_t number) const {
    const auto n = static_cast<size_t>(number);
    return std::string_view(chars_.data() + starts_[n], starts_[n + 1] - starts_[n]);
  }
  size_t size() const { return starts_.size() - 1; }

 private:
  struct Slot {
    uint32_t hash_bits = 0;  // the hash's high half, compared before the name
    int32_t number = -1;     // -1: empty
  };
  // The slot holding `name`, or the empty slot where it would go.
  size_t slot_of(std::string_view name, uint64_t hash) const;
  void grow();

  std::string chars_;                  // every name, one after another
  std::vector<uint64_t> starts_{0};    // name i is chars_[starts_[i], starts_[i + 1])
  std::vector<Slot> slots_;            // a power of two in size
};

}  // namespace hllm::data
