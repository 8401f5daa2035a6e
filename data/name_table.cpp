#include "data/name_table.h"

#include <limits>

#include "common/error.h"

namespace hllm::data {

int32_t NameTable::intern(std::string_view name) {
  const auto found = index_.find(name);  // most names are seen before: no string is made for them
  if (found != index_.end()) return found->second;
  HLLM_CHECK(names_.size() < static_cast<size_t>(std::numeric_limits<int32_t>::max()), "more than 2^31 - 1 distinct ids");
  const auto number = static_cast<int32_t>(names_.size());
  names_.emplace_back(name);
  index_.emplace(names_.back(), number);
  return number;
}

int32_t NameTable::find(std::string_view name) const {
  const auto found = index_.find(name);
  return found == index_.end() ? -1 : found->second;
}

NameTable::NameTable(const NameTable& other) : names_(other.names_) {
  index_.reserve(names_.size());
  for (size_t i = 0; i < names_.size(); ++i) index_.emplace(names_[i], static_cast<int32_t>(i));
}

NameTable& NameTable::operator=(const NameTable& other) {
  if (this != &other) *this = NameTable(other);
  return *this;
}

}  // namespace hllm::data
