// NameTable: distinct names (the user or item ids of a source's interactions), each stored once and
// numbered in the order it first appears, so that 10 M interactions are held as 16-byte rows of numbers
// instead of two strings each, and filtering and grouping copy no strings.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hllm::data {

class NameTable {
 public:
  // The number of `name`, adding it when new.
  int32_t intern(std::string_view name);
  // The number of `name`, or -1 when it is not in the table.
  int32_t find(std::string_view name) const;
  const std::string& name(int32_t number) const { return names_[static_cast<size_t>(number)]; }
  size_t size() const { return names_.size(); }

  NameTable() = default;
  // Copies re-point the index at their own names.
  NameTable(const NameTable& other);
  NameTable& operator=(const NameTable& other);
  NameTable(NameTable&&) noexcept = default;
  NameTable& operator=(NameTable&&) noexcept = default;

 private:
  std::deque<std::string> names_;  // a deque: growing it moves no name, so the index's views stay valid
  std::unordered_map<std::string_view, int32_t> index_;
};

}  // namespace hllm::data
