// hllm_plot RUN_DIR: the training curves of a run as PNG — loss, learning rate and gradient norm against the
// step (training.png), the validation metrics against the step (metrics.png) and the loss's health (health.png:
// cosines, negatives kept, logit scale; README "Training health") — drawn by gnuplot from
// RUN_DIR/metrics.jsonl. Prints the paths of the images.
// hllm_plot --sweep DIR: the table and scaling curves of an hllm_sweep directory (tools/sweep_report.h).
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>
#include <string>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/json_input.h"
#include "common/tool_main.h"
#include "tools/sweep_report.h"

namespace {

// A word from the file made safe inside a gnuplot string: letters, digits and '_' only.
std::string plain_word(const std::string& text) {
  std::string word;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') word += c;
  }
  return word.substr(0, 20);
}

int plot(const std::string& run_dir) {
  namespace fs = std::filesystem;
  const fs::path metrics = fs::path(run_dir) / "metrics.jsonl";
  std::ifstream in(metrics);
  if (!in) {
    std::cerr << "hllm_plot: cannot open " << metrics.string() << " (is '" << run_dir << "' a run directory?)\n";
    return hllm::kExitBadInput;
  }
  const fs::path train_data = fs::path(run_dir) / "plot_training.dat";
  const fs::path eval_data = fs::path(run_dir) / "plot_metrics.dat";
  const fs::path health_data = fs::path(run_dir) / "plot_health.dat";
  const fs::path balance_data = fs::path(run_dir) / "plot_balance.dat";
  std::ofstream train(train_data), eval(eval_data), health(health_data), balance(balance_data);
  int train_rows = 0, eval_rows = 0, health_rows = 0, balance_rows = 0, line_number = 0;
  std::ostringstream incident_marks;  // a red line at each guard incident's step (README "Training health")
  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const std::string where = metrics.string() + ":" + std::to_string(line_number);
    const nlohmann::json record = hllm::parse_json(line, where);
    if (!record.is_object()) throw hllm::InputError(where + ": expected a JSON object, got " + hllm::json_excerpt(record));
    try {
      if (record.contains("loss")) {
        train << record.value("step", 0) << " " << record.value("loss", 0.0) << " " << record.value("lr", 0.0) << " "
              << record.value("grad_norm", 0.0) << "\n";
        ++train_rows;
        if (record.contains("negatives_kept")) {
          health << record.value("step", 0) << " " << record.value("positive_cosine", 0.0) << " "
                 << record.value("negative_cosine", 0.0) << " " << record.value("item_cosine", 0.0) << " "
                 << record.value("filtered_share", 0.0) << " " << record.value("negatives_kept", 0.0) << " "
                 << record.value("negatives_kept_min", 0.0) << " " << record.value("logit_scale", 0.0) << "\n";
          ++health_rows;
        }
        if (record.contains("flops_max_over_mean")) {
          balance << record.value("step", 0) << " " << record.value("flops_max_over_mean", 0.0) << " "
                  << record.value("wait_share", 0.0) << "\n";
          ++balance_rows;
        }
      } else if (record.value("split", "") == "incident") {
        const int step = record.value("step", 0) + 1;  // the step's own line is logged as step + 1
        incident_marks << "set arrow from " << step << ", graph 0 to " << step << ", graph 1 nohead lc rgb 'red' dt 2\n"
                       << "set label '" << plain_word(record.value("guard", std::string())) << ": "
                       << plain_word(record.value("action", std::string()))
                       << "' at " << step << ", graph 0.95 tc rgb 'red'\n";
      } else if (record.value("split", "") == "valid") {
        eval << record.value("step", 0) << " " << record.value("recall@10", 0.0) << " " << record.value("ndcg@10", 0.0)
             << " " << record.value("recall@200", 0.0) << " " << record.value("ndcg@200", 0.0) << "\n";
        ++eval_rows;
      }
    } catch (const nlohmann::json::type_error& e) {  // a field of the wrong type
      throw hllm::InputError(where + ": " + e.what());
    }
  }
  train.close();
  eval.close();
  health.close();
  balance.close();
  if (train_rows == 0) {
    std::cerr << "hllm_plot: " << metrics.string() << " holds no training records yet\n";
    return hllm::kExitBadInput;
  }
  const fs::path script = fs::path(run_dir) / "plot.gp";
  const std::string training_png = (fs::path(run_dir) / "training.png").string();
  const std::string metrics_png = (fs::path(run_dir) / "metrics.png").string();
  const std::string health_png = (fs::path(run_dir) / "health.png").string();
  const std::string balance_png = (fs::path(run_dir) / "balance.png").string();
  {
    std::ofstream gp(script);
    gp << "set terminal pngcairo size 1200,900 font ',11' noenhanced\n"
       << "set output '" << training_png << "'\n"
       << "set multiplot layout 3,1 title '" << run_dir << "'\n"
       << "set grid\nset xlabel 'step'\n" << incident_marks.str()
       << "set ylabel 'loss'\nplot '" << train_data.string() << "' using 1:2 with linespoints title 'loss'\n"
       << "set ylabel 'learning rate'\nplot '" << train_data.string() << "' using 1:3 with lines title 'lr'\n"
       << "set ylabel 'gradient norm'\nplot '" << train_data.string() << "' using 1:4 with lines title 'grad norm'\n"
       << "unset multiplot\nunset arrow\nunset label\n";
    if (eval_rows > 0) {
      gp << "set terminal pngcairo size 1200,600 font ',11' noenhanced\nset output '" << metrics_png << "'\n"
         << "set title 'validation'\nset ylabel 'metric'\nset key left top\n"
         << "plot '" << eval_data.string() << "' using 1:2 with linespoints title 'R@10', '' using 1:3 with linespoints "
         << "title 'N@10', '' using 1:4 with linespoints title 'R@200', '' using 1:5 with linespoints title 'N@200'\n";
    }
    if (health_rows > 0) {  // README "Training health"
      gp << "set terminal pngcairo size 1200,900 font ',11' noenhanced\nset output '" << health_png << "'\n"
         << "set multiplot layout 3,1 title 'training health'\nset key left top\nset title ''\n"
         << "set ylabel 'cosine'\nplot '" << health_data.string() << "' using 1:2 with lines title 'positive pairs', "
         << "'' using 1:3 with lines title 'negatives', '' using 1:4 with lines title 'items (pairwise)', "
         << "'' using 1:5 with lines title 'share filtered'\n"
         << "set ylabel 'negatives kept'\nplot '" << health_data.string() << "' using 1:6 with lines title 'mean', "
         << "'' using 1:7 with lines title 'min'\n"
         << "set ylabel 'logit scale'\nplot '" << health_data.string() << "' using 1:8 with lines title 'scale'\n"
         << "unset multiplot\n";
    }
    if (balance_rows > 0) {  // README "Balance of work across ranks"
      gp << "set terminal pngcairo size 1200,600 font ',11' noenhanced\nset output '" << balance_png << "'\n"
         << "set multiplot layout 2,1 title 'balance of work across ranks'\nset key left top\nset title ''\n"
         << "set ylabel 'busiest / mean FLOPs'\nplot '" << balance_data.string()
         << "' using 1:2 with lines title 'per step, interval mean'\n"
         << "set ylabel 'share waiting'\nset yrange [0:1]\nplot '" << balance_data.string()
         << "' using 1:3 with lines title 'step time blocked in communication'\nset autoscale y\n"
         << "unset multiplot\n";
    }
  }
  const std::string command = "gnuplot '" + script.string() + "'";
  if (std::system(command.c_str()) != 0) {
    std::cerr << "hllm_plot: gnuplot failed (is it installed? scripts/setup.sh installs gnuplot-nox)\n";
    return hllm::kExitFailure;
  }
  std::cout << training_png << "\n";
  if (eval_rows > 0) std::cout << metrics_png << "\n";
  if (health_rows > 0) std::cout << health_png << "\n";
  if (balance_rows > 0) std::cout << balance_png << "\n";
  return hllm::kExitOk;
}

}  // namespace

int plot_sweep(const std::string& dir) {
  for (const auto& path : hllm::tools::write_sweep_report(dir)) std::cout << path << "\n";
  std::ifstream table(std::filesystem::path(dir) / "sweep.md");
  std::cout << table.rdbuf();
  return hllm::kExitOk;
}

int main(int argc, char** argv) {
  const std::string usage =
      "usage: hllm_plot RUN_DIR        (draws RUN_DIR/metrics.jsonl into RUN_DIR/training.png and metrics.png)\n"
      "       hllm_plot --sweep DIR    (an hllm_sweep directory: DIR/sweep.csv, sweep.md and scaling.png)\n";
  if (argc == 2 && std::string(argv[1]) == "--help") {
    std::cout << usage;
    return hllm::kExitOk;
  }
  if (argc == 3 && std::string(argv[1]) == "--sweep") {
    return hllm::guarded_tool_main("hllm_plot", [&] { return plot_sweep(argv[2]); });
  }
  if (argc != 2 || std::string(argv[1]).rfind("--", 0) == 0) {
    std::cerr << usage;
    return hllm::kExitBadInput;
  }
  return hllm::guarded_tool_main("hllm_plot", [&] { return plot(argv[1]); });
}
