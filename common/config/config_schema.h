// The machinery that lets each config struct declare its fields once, in a visit() method, and get JSON
// reading (with unknown-key, type and range errors), JSON writing and the key list for "did you mean"
// from it. A struct declares:
//
//   template <typename V> void visit(V& v) {
//     v.field("stage", stage, "ZeRO stage 0-3", Limits::range(0, 3));
//     v.section("offload", offload, "CPU offload");
//   }
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/config/config_enums.h"
#include "common/json_input.h"

namespace hllm::config {

// Allowed values of one field; checked when the field is read.
struct Limits {
  std::optional<double> min;
  std::optional<double> max;
  std::vector<std::string> one_of;  // for strings

  static Limits none() { return {}; }
  static Limits at_least(double lo) { return {lo, std::nullopt, {}}; }
  static Limits range(double lo, double hi) { return {lo, hi, {}}; }
  static Limits choices(std::vector<std::string> values) { return {std::nullopt, std::nullopt, std::move(values)}; }
};

// One thing wrong with a config, with the dotted key it concerns.
struct ConfigProblem {
  std::string key;      // "zero_optimization.stage"
  std::string message;  // the whole sentence, naming the key and the bad value
};

// One documented key, as listed in the configuration reference.
struct KeyInfo {
  std::string path;  // "zero_optimization.stage"
  std::string type;  // "int", "float", "bool", "string", "list of string"
  std::string doc;
  std::string default_value;  // JSON text
};

struct TowerSpec;  // tower_spec.h: a string or an object

template <typename T>
std::string type_name();

// Check a value read from JSON against its limits; returns "" when fine, else what is wrong.
std::string limits_violation(const nlohmann::json& value, const Limits& limits);

// Converts `value` to T into *out, or returns a description of the type mismatch.
template <typename T>
std::string read_json_value(const nlohmann::json& value, T* out);

// Reads a JSON object into a struct; collects every problem instead of stopping at the first.
class JsonReader {
 public:
  JsonReader(const nlohmann::json& object, std::string prefix, std::vector<ConfigProblem>* problems)
      : object_(object), prefix_(std::move(prefix)), problems_(problems) {}

  template <typename T>
  void field(const char* name, T& value, const char* /*doc*/, const Limits& limits = Limits::none()) {
    known_.emplace_back(name);
    const auto it = object_.find(name);
    if (it == object_.end()) return;
    const std::string key = prefix_ + name;
    std::string problem;
    if constexpr (std::is_enum_v<T>) {
      problem = read_enum(*it, &value);
    } else {
      problem = read_json_value(*it, &value);
      if (problem.empty()) problem = limits_violation(*it, limits);
    }
    if (!problem.empty()) problems_->push_back({key, "key '" + key + "': " + problem + ", got " + json_excerpt(*it)});
  }

  // model.item / model.user: a name or a shape object, its sub-keys' problems named under the key.
  void field(const char* name, TowerSpec& value, const char* doc, const Limits& limits = Limits::none());

  template <typename S>
  void section(const char* name, S& value, const char* /*doc*/) {
    known_.emplace_back(name);
    const auto it = object_.find(name);
    if (it == object_.end()) return;
    const std::string key = prefix_ + name;
    if (!it->is_object()) {
      problems_->push_back({key, "key '" + key + "': expected an object, got " + json_excerpt(*it)});
      return;
    }
    JsonReader nested(*it, key + ".", problems_);
    value.visit(nested);
    nested.report_unknown_keys();
  }

  // Call after visit(): every key of the object that no field() or section() named is an error.
  void report_unknown_keys();

 private:
  const nlohmann::json& object_;
  std::string prefix_;
  std::vector<ConfigProblem>* problems_;
  std::vector<std::string> known_;
};

// Writes a struct as a JSON object (every field, defaults included).
class JsonWriter {
 public:
  explicit JsonWriter(nlohmann::ordered_json* object) : object_(object) {}

  template <typename T>
  void field(const char* name, const T& value, const char*, const Limits& = Limits::none()) {
    if constexpr (std::is_enum_v<T>) {
      (*object_)[name] = enum_name(value);
    } else {
      (*object_)[name] = value;
    }
  }
  template <typename S>
  void section(const char* name, S& value, const char*) {
    nlohmann::ordered_json nested = nlohmann::ordered_json::object();
    JsonWriter writer(&nested);
    value.visit(writer);
    (*object_)[name] = std::move(nested);
  }

 private:
  nlohmann::ordered_json* object_;
};

// Lists every key with its type, documentation and default.
class KeyCollector {
 public:
  explicit KeyCollector(std::vector<KeyInfo>* keys, std::string prefix = "")
      : keys_(keys), prefix_(std::move(prefix)) {}

  template <typename T>
  void field(const char* name, const T& value, const char* doc, const Limits& limits = Limits::none()) {
    std::string text = doc;
    if constexpr (std::is_enum_v<T>) {  // written as its spelling, a string
      text += " One of:";
      for (const auto& choice : enum_names<T>()) text += " `" + choice + "`";
      text += ".";
      keys_->push_back({prefix_ + name, type_name<std::string>(), text, nlohmann::json(enum_name(value)).dump()});
    } else {
      if (!limits.one_of.empty()) {
        text += " One of:";
        for (const auto& choice : limits.one_of) text += " `" + choice + "`";
        text += ".";
      }
      keys_->push_back({prefix_ + name, type_name<T>(), text, nlohmann::json(value).dump()});
    }
  }
  template <typename S>
  void section(const char* name, S& value, const char* doc) {
    keys_->push_back({prefix_ + name, "object", doc, ""});
    KeyCollector nested(keys_, prefix_ + name + ".");
    value.visit(nested);
  }

 private:
  std::vector<KeyInfo>* keys_;
  std::string prefix_;
};

}  // namespace hllm::config
