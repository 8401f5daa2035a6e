#include "runtime/state_key.h"

#include <utility>

namespace hllm::runtime {
namespace {

constexpr std::pair<StateKind, const char*> kPrefixes[] = {{StateKind::kParameter, "param."},
                                                           {StateKind::kMaster, "master."},
                                                           {StateKind::kAdamFirstMoment, "adam.m."},
                                                           {StateKind::kAdamSecondMoment, "adam.v."},
                                                           {StateKind::kBestParameter, "best."}};

}  // namespace

std::string StateKey::name() const {
  for (const auto& [k, prefix] : kPrefixes) {
    if (k == kind) return prefix + parameter;
  }
  return parameter;  // unreachable: every kind has its prefix
}

std::optional<StateKey> StateKey::parse(const std::string& name) {
  for (const auto& [kind, prefix] : kPrefixes) {
    const std::string p = prefix;
    if (name.size() > p.size() && name.compare(0, p.size(), p) == 0) return StateKey{kind, name.substr(p.size())};
  }
  return std::nullopt;
}

}  // namespace hllm::runtime
