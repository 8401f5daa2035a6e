#include "common/config/config_schema.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/closest_match.h"

namespace hllm::config {

template <>
std::string type_name<int>() { return "int"; }
template <>
std::string type_name<int64_t>() { return "int"; }
template <>
std::string type_name<double>() { return "float"; }
template <>
std::string type_name<bool>() { return "bool"; }
template <>
std::string type_name<std::string>() { return "string"; }
template <>
std::string type_name<std::vector<std::string>>() { return "list of string"; }
template <>
std::string type_name<std::vector<double>>() { return "list of float"; }
template <>
std::string type_name<std::vector<int64_t>>() { return "list of int"; }

namespace {
std::string format_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  return nlohmann::json(v).dump();
}

template <typename Int>
std::string read_integer(const nlohmann::json& value, Int* out) {
  if (!value.is_number_integer()) return "expected an integer";
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<Int>::max())) return "integer out of range";
    *out = static_cast<Int>(v);
    return "";
  }
  const auto v = value.get<int64_t>();
  if (v < std::numeric_limits<Int>::min() || v > std::numeric_limits<Int>::max()) return "integer out of range";
  *out = static_cast<Int>(v);
  return "";
}
}  // namespace

template <>
std::string read_json_value<int>(const nlohmann::json& value, int* out) { return read_integer(value, out); }
template <>
std::string read_json_value<int64_t>(const nlohmann::json& value, int64_t* out) { return read_integer(value, out); }

template <>
std::string read_json_value<double>(const nlohmann::json& value, double* out) {
  if (!value.is_number()) return "expected a number";
  *out = value.get<double>();
  if (!std::isfinite(*out)) return "expected a finite number";
  return "";
}

template <>
std::string read_json_value<bool>(const nlohmann::json& value, bool* out) {
  if (!value.is_boolean()) return "expected true or false";
  *out = value.get<bool>();
  return "";
}

template <>
std::string read_json_value<std::string>(const nlohmann::json& value, std::string* out) {
  if (!value.is_string()) return "expected a string";
  *out = value.get<std::string>();
  return "";
}

template <>
std::string read_json_value<std::vector<std::string>>(const nlohmann::json& value, std::vector<std::string>* out) {
  if (!value.is_array()) return "expected a list of strings";
  std::vector<std::string> result;
  for (const auto& item : value) {
    if (!item.is_string()) return "expected a list of strings";
    result.push_back(item.get<std::string>());
  }
  *out = std::move(result);
  return "";
}

template <>
std::string read_json_value<std::vector<double>>(const nlohmann::json& value, std::vector<double>* out) {
  if (!value.is_array()) return "expected a list of numbers";
  std::vector<double> result;
  for (const auto& item : value) {
    if (!item.is_number()) return "expected a list of numbers";
    result.push_back(item.get<double>());
  }
  *out = std::move(result);
  return "";
}

template <>
std::string read_json_value<std::vector<int64_t>>(const nlohmann::json& value, std::vector<int64_t>* out) {
  if (!value.is_array()) return "expected a list of integers";
  std::vector<int64_t> result;
  for (const auto& item : value) {
    int64_t v = 0;
    if (!read_integer(item, &v).empty()) return "expected a list of integers";
    result.push_back(v);
  }
  *out = std::move(result);
  return "";
}

std::string limits_violation(const nlohmann::json& value, const Limits& limits) {
  if (value.is_number()) {
    const double v = value.get<double>();
    if (limits.min && limits.max && (v < *limits.min || v > *limits.max)) {
      return "expected a value in [" + format_number(*limits.min) + ", " + format_number(*limits.max) + "]";
    }
    if (limits.min && v < *limits.min) return "expected a value >= " + format_number(*limits.min);
    if (limits.max && v > *limits.max) return "expected a value <= " + format_number(*limits.max);
  }
  if (value.is_string() && !limits.one_of.empty()) {
    const auto text = value.get<std::string>();
    for (const auto& choice : limits.one_of) {
      if (choice == text) return "";
    }
    std::string expected = "expected one of";
    for (const auto& choice : limits.one_of) expected += " '" + choice + "'";
    return expected;
  }
  return "";
}

void JsonReader::report_unknown_keys() {
  for (const auto& item : object_.items()) {
    bool known = false;
    for (const auto& name : known_) known = known || name == item.key();
    if (known) continue;
    std::string message = "unknown key '" + prefix_ + item.key() + "'";
    const std::string suggestion = closest_match(item.key(), known_);
    if (!suggestion.empty()) message += "; did you mean '" + prefix_ + suggestion + "'?";
    problems_->push_back({prefix_ + item.key(), message});
  }
}

}  // namespace hllm::config
