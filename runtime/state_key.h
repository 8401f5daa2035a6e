// The names of the training state's pieces in a checkpoint, as a type: what a tensor is (a parameter, its
// float32 master, Adam's moments, the best model's copy) and of which parameter. On disk a piece is named
// "<kind>.<parameter>" ("param.item.model.norm.weight", "adam.m.item.model.norm.weight"), as in every
// checkpoint so far; code makes and reads these names only through StateKey, never by slicing strings.
#pragma once

#include <optional>
#include <string>

namespace hllm::runtime {

enum class StateKind {
  kParameter,         // "param.": the parameter in its compute dtype
  kMaster,            // "master.": its float32 master (bf16 runs)
  kAdamFirstMoment,   // "adam.m."
  kAdamSecondMoment,  // "adam.v."
  kBestParameter,     // "best.": the best validated model's copy of the parameter
};

struct StateKey {
  StateKind kind;
  std::string parameter;  // the model's name for it, "item.model.norm.weight"

  // The piece's name on disk.
  std::string name() const;
  // The key of a piece's name; nullopt for a name of no StateKind (e.g. "log.rank_sums").
  static std::optional<StateKey> parse(const std::string& name);
};

}  // namespace hllm::runtime
