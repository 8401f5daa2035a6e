#include "launcher/metrics_table.h"

#include <cstdio>

namespace hllm::launcher {
namespace {

std::string row(const std::string& name, const std::map<std::string, double>& metrics, const std::string& prefix,
                const std::vector<int>& ks) {
  char cell[64];
  std::snprintf(cell, sizeof cell, "%-36s", name.c_str());
  std::string line = cell;
  for (int k : ks) {
    for (const char* metric : {"recall@", "ndcg@"}) {
      std::snprintf(cell, sizeof cell, " %8.4f", metrics.at(prefix + metric + std::to_string(k)));
      line += cell;
    }
  }
  return line + "\n";
}

}  // namespace

std::string metrics_table(const std::vector<MetricsRow>& rows, const std::vector<int>& ks) {
  char cell[64];
  std::snprintf(cell, sizeof cell, "%-36s", "split");
  std::string out = cell;
  for (int k : ks) {
    std::snprintf(cell, sizeof cell, " %8s %8s", ("R@" + std::to_string(k)).c_str(), ("N@" + std::to_string(k)).c_str());
    out += cell;
  }
  out += "\n";
  for (const auto& [name, metrics] : rows) {
    out += row(name, *metrics, "", ks);
    for (const char* part : {"cold", "warm"}) {
      const auto users = metrics->find(std::string(part) + ".users");
      if (users == metrics->end()) continue;
      out += row("  " + std::string(part) + " targets (" + std::to_string(static_cast<long long>(users->second)) +
                     " users)",
                 *metrics, std::string(part) + ".", ks);
    }
  }
  return out;
}

}  // namespace hllm::launcher
