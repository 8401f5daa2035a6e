#include "data/name_table.h"

#include <functional>
#include <limits>

#include "common/error.h"

namespace hllm::data {
namespace {

uint64_t hash_of(std::string_view name) { return std::hash<std::string_view>()(name); }

}  // namespace

size_t NameTable::slot_of(std::string_view name, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  const auto bits = static_cast<uint32_t>(hash >> 32);
  for (size_t at = hash & mask;; at = (at + 1) & mask) {
    const Slot& slot = slots_[at];
    if (slot.number < 0 || (slot.hash_bits == bits && this->name(slot.number) == name)) return at;
  }
}

int32_t NameTable::intern(std::string_view name) {
  if (slots_.empty() || 2 * (size() + 1) > slots_.size()) grow();
  const uint64_t hash = hash_of(name);
  Slot& slot = slots_[slot_of(name, hash)];
  if (slot.number >= 0) return slot.number;
  HLLM_CHECK(size() < static_cast<size_t>(std::numeric_limits<int32_t>::max()), "more than 2^31 - 1 distinct ids");
  slot.hash_bits = static_cast<uint32_t>(hash >> 32);
  slot.number = static_cast<int32_t>(size());
  chars_.append(name);
  starts_.push_back(chars_.size());
  return slot.number;
}

int32_t NameTable::find(std::string_view name) const {
  if (slots_.empty()) return -1;
  return slots_[slot_of(name, hash_of(name))].number;
}

void NameTable::grow() {
  slots_.assign(std::max<size_t>(64, 2 * slots_.size()), Slot{});
  for (size_t n = 0; n < size(); ++n) {
    const std::string_view existing = name(static_cast<int32_t>(n));
    const uint64_t hash = hash_of(existing);
    Slot& slot = slots_[slot_of(existing, hash)];
    slot.hash_bits = static_cast<uint32_t>(hash >> 32);
    slot.number = static_cast<int32_t>(n);
  }
}

}  // namespace hllm::data
