// The config's choices as types. A key whose value is one of a few words is read once, when the config is
// parsed, into an enum class, so that nothing downstream compares strings to decide behaviour. Each enum's
// JSON spellings are listed once, in its EnumSpellings table: JsonReader refuses any other word naming the key
// and the choices (config_schema.h), JsonWriter writes the spelling back (a run's config.json reads as
// before), KeyCollector lists the choices in the reference (configs/README.md).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/json_input.h"

namespace hllm::config {

enum class DeviceKind { kAuto, kCpu, kCuda };                       // parallel.device
enum class PipelineSchedule { kOneFOneB, kGPipe };                  // parallel.pipeline_schedule
enum class RecomputePolicy { kNone, kEveryBlock, kEveryKthBlock };  // activation_checkpointing.policy
enum class OptimizerType { kAdamW };                                // optimizer.type
enum class LrScheduleType { kWarmupLR, kWarmupDecayLR, kWarmupCosineLR };  // scheduler.type
enum class ModelType { kHllm, kSasrec, kHstu };                     // model.type
enum class AsyncSave { kAuto, kOn, kOff };                          // checkpoint.async_save
enum class InjectedFault { kNone, kNan, kSpike, kCollapse };         // debug.inject
enum class BalanceMode { kNone, kFlops };                           // data.balance
enum class CatalogueHolding { kSharded, kReplicated };              // train.eval_catalogue

template <typename E>
struct EnumSpellings;

template <>
struct EnumSpellings<DeviceKind> {
  static constexpr std::pair<DeviceKind, const char*> kValues[] = {
      {DeviceKind::kAuto, "auto"}, {DeviceKind::kCpu, "cpu"}, {DeviceKind::kCuda, "cuda"}};
};
template <>
struct EnumSpellings<PipelineSchedule> {
  static constexpr std::pair<PipelineSchedule, const char*> kValues[] = {{PipelineSchedule::kOneFOneB, "1f1b"},
                                                                         {PipelineSchedule::kGPipe, "gpipe"}};
};
template <>
struct EnumSpellings<RecomputePolicy> {
  static constexpr std::pair<RecomputePolicy, const char*> kValues[] = {{RecomputePolicy::kNone, "none"},
                                                                        {RecomputePolicy::kEveryBlock, "every_block"},
                                                                        {RecomputePolicy::kEveryKthBlock, "every_kth_block"}};
};
template <>
struct EnumSpellings<OptimizerType> {
  static constexpr std::pair<OptimizerType, const char*> kValues[] = {{OptimizerType::kAdamW, "AdamW"}};
};
template <>
struct EnumSpellings<LrScheduleType> {
  static constexpr std::pair<LrScheduleType, const char*> kValues[] = {{LrScheduleType::kWarmupLR, "WarmupLR"},
                                                                       {LrScheduleType::kWarmupDecayLR, "WarmupDecayLR"},
                                                                       {LrScheduleType::kWarmupCosineLR, "WarmupCosineLR"}};
};
template <>
struct EnumSpellings<BalanceMode> {
  static constexpr std::pair<BalanceMode, const char*> kValues[] = {{BalanceMode::kNone, "none"},
                                                                    {BalanceMode::kFlops, "flops"}};
};
template <>
struct EnumSpellings<CatalogueHolding> {
  static constexpr std::pair<CatalogueHolding, const char*> kValues[] = {{CatalogueHolding::kSharded, "sharded"},
                                                                         {CatalogueHolding::kReplicated, "replicated"}};
};
template <>
struct EnumSpellings<InjectedFault> {
  static constexpr std::pair<InjectedFault, const char*> kValues[] = {{InjectedFault::kNone, "none"},
                                                                      {InjectedFault::kNan, "nan"},
                                                                      {InjectedFault::kSpike, "spike"},
                                                                      {InjectedFault::kCollapse, "collapse"}};
};
template <>
struct EnumSpellings<ModelType> {
  static constexpr std::pair<ModelType, const char*> kValues[] = {
      {ModelType::kHllm, "hllm"}, {ModelType::kSasrec, "sasrec"}, {ModelType::kHstu, "hstu"}};
};
template <>
struct EnumSpellings<AsyncSave> {
  static constexpr std::pair<AsyncSave, const char*> kValues[] = {
      {AsyncSave::kAuto, "auto"}, {AsyncSave::kOn, "on"}, {AsyncSave::kOff, "off"}};
};

// The value's JSON spelling ("every_block"), for messages, logs and the written config.
template <typename E>
const char* enum_name(E value) {
  for (const auto& [v, name] : EnumSpellings<E>::kValues) {
    if (v == value) return name;
  }
  return "?";
}

template <typename E>
std::vector<std::string> enum_names() {
  std::vector<std::string> names;
  for (const auto& [v, name] : EnumSpellings<E>::kValues) names.emplace_back(name);
  return names;
}

// "" and *out set when `value` is one of E's spellings; else what is wrong ("expected one of 'a' 'b'").
template <typename E>
std::string read_enum(const nlohmann::json& value, E* out) {
  if (value.is_string()) {
    for (const auto& [v, name] : EnumSpellings<E>::kValues) {
      if (value.get<std::string>() == name) {
        *out = v;
        return "";
      }
    }
  }
  std::string expected = "expected one of";
  for (const auto& name : enum_names<E>()) expected += " '" + name + "'";
  return expected;
}

}  // namespace hllm::config
