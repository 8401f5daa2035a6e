// "Did you mean …?" for unknown names: Levenshtein distance over a list of known names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hllm {

// Edit distance (insertions, deletions, substitutions, each costing 1).
int edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `name`, or "" when none is near enough to be a plausible typo
// (distance above max(2, |name| / 3)).
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace hllm
