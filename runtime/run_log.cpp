#include "runtime/run_log.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>

#include "common/config/config_loader.h"
#include "common/json_input.h"

namespace hllm::runtime {

RunLog::RunLog(std::string run_dir, bool writer) : run_dir_(std::move(run_dir)), writes_(writer && !run_dir_.empty()) {}

void RunLog::write_config(const config::Config& config) const {
  if (!writes_) return;
  std::filesystem::create_directories(run_dir_);
  std::ofstream(run_dir_ + "/config.json") << config::config_to_json(config).dump(2) << "\n";
}

void RunLog::start(int64_t first_step) const {
  if (!writes_) return;
  std::vector<std::string> kept;
  if (first_step > 0) {
    std::ifstream in(run_dir_ + "/metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const nlohmann::json record = parse_json(line, run_dir_ + "/metrics.jsonl");
      // Incidents stay whatever their step: the journal that a resume continues holds them all.
      if (record.value("step", int64_t{0}) <= first_step || record.value("split", std::string()) == kIncidentSplit) {
        kept.push_back(line);
      }
    }
  }
  std::ofstream out(run_dir_ + "/metrics.jsonl", std::ios::trunc);
  for (const auto& line : kept) out << line << "\n";
}

void RunLog::record(const std::string& json_line) const {
  if (!writes_) return;
  std::ofstream(run_dir_ + "/metrics.jsonl", std::ios::app) << json_line << "\n";
}

void RunLog::metrics(const char* split, int64_t step, const std::map<std::string, double>& values) const {
  nlohmann::json line{{"step", step}, {"split", split}};
  for (const auto& [k, v] : values) line[k] = v;
  record(line.dump());
}

nlohmann::ordered_json accounting_json(const TrainReport& report) {
  nlohmann::ordered_json parameters, matmul_parameters, tokens, flops;
  int64_t all_parameters = 0, all_matmul = 0;
  double all_flops = 0;
  for (size_t t = 0; t < report.towers.size(); ++t) {
    const models::TowerSize& size = report.towers[t];
    const models::TowerWork work = t < report.totals.towers().size() ? report.totals.towers()[t] : models::TowerWork{};
    parameters[size.name] = size.parameters;
    matmul_parameters[size.name] = size.matmul_parameters;
    tokens[size.name] = work.tokens;
    flops[size.name] = models::training_flops(size, work);
    all_parameters += size.parameters;
    all_matmul += size.matmul_parameters;
    all_flops += models::training_flops(size, work);
  }
  parameters["total"] = all_parameters;
  matmul_parameters["total"] = all_matmul;
  flops["total"] = all_flops;
  nlohmann::ordered_json out;
  out["parameters"] = parameters;
  out["matmul_parameters"] = matmul_parameters;
  out["samples"] = report.totals.samples();
  out["tokens"] = tokens;
  out["flops"] = flops;
  out["train_seconds"] = report.totals.seconds();
  out["rank_hours"] = report.totals.rank_seconds() / 3600.0;
  out["dataset"] = {{"users", report.dataset_users},
                    {"items", report.dataset_items},
                    {"interactions", report.dataset_interactions},
                    {"training_windows", report.training_windows}};
  return out;
}

std::string accounting_line(const nlohmann::ordered_json& a) {
  const auto number = [](double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", value);
    return std::string(text);
  };
  std::string line = "training work: " + number(a.at("flops").at("total").get<double>()) + " FLOPs (";
  bool first = true;
  for (const auto& [tower, tokens] : a.at("tokens").items()) {
    line += (first ? "" : ", ") + tower + " " + number(a.at("flops").at(tower).get<double>()) + " over " +
            number(tokens.get<double>()) + " tokens";
    first = false;
  }
  line += "); parameters " + number(a.at("parameters").at("total").get<double>()) + " (matmul " +
          number(a.at("matmul_parameters").at("total").get<double>()) + "); " +
          number(a.at("train_seconds").get<double>()) + " s, " + number(a.at("rank_hours").get<double>()) + " rank-hours";
  return line;
}

void RunLog::write_report(const TrainReport& report, const config::Config& config,
                          const parallel::Topology& topology) const {
  if (!writes_) return;
  nlohmann::ordered_json out;
  out["model"] = config::enum_name(config.model.type);
  out["world_size"] = topology.world_size();
  out["pp"] = topology.pp();
  out["steps"] = report.steps;
  out["best_step"] = report.best_step;
  out["skipped_steps"] = report.skipped_steps;
  out["wall_seconds"] = report.seconds;
  out["samples_per_second"] = report.samples_per_second;
  out["valid"] = report.valid;
  out["test"] = report.test;
  out["popularity_test"] = report.popularity_test;
  if (report.cold_items > 0) out["cold_items"] = {{"count", report.cold_items}, {"note", report.cold_items_note}};
  out["memory_per_rank"] = {{"zero_stage", config.zero_optimization.stage},
                            {"activation_checkpointing", config::enum_name(config.activation_checkpointing.policy)},
                            {"parameter_bytes", report.memory.parameter_bytes},
                            {"gradient_bytes", report.memory.gradient_bytes},
                            {"optimizer_bytes", report.memory.optimizer_bytes},
                            {"activation_bytes", report.memory.activation_bytes},
                            {"zero_gathered_elements_first_step", report.memory.gathered_elements},
                            {"zero_reduced_elements_first_step", report.memory.reduced_elements}};
  // The whole run's peaks per rank beside the plan (RunMemory::gather).
  out["peak_memory_per_rank"] = {{"host_rss_peak_bytes", report.peak.peak_rss},
                                 {"host_rss_before_model_bytes", report.peak.baseline_rss},
                                 {"tensor_max_allocated_bytes", report.peak.peak_tensors},
                                 {"planned_bytes", report.peak.planned},
                                 {"planned_bytes_by_phase", report.peak.phase_planned},
                                 {"host_rss_peak_bytes_by_phase", report.peak.phase_rss},
                                 {"tensor_max_allocated_bytes_by_phase", report.peak.phase_tensors}};
  out["accounting"] = accounting_json(report);
  out["guard"] = report.guard;
  out["balance"] = report.balance;
  out["evaluation"] = report.evaluation;
  out["config"] = config::config_to_json(config);
  std::ofstream(run_dir_ + "/report.json") << out.dump(2) << "\n";
}

}  // namespace hllm::runtime
