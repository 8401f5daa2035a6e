#include "tools/sweep_report.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/error.h"
#include "common/json_input.h"

namespace hllm::tools {
namespace fs = std::filesystem;
namespace {

struct PointResult {
  std::string name;
  bool finished = false;
  std::string item, user;  // the towers, as the config names them
  double parameters = 0, matmul_parameters = 0, item_tokens = 0, user_tokens = 0, flops = 0;
  double seconds = 0, rank_hours = 0;
  int64_t steps = 0, best_step = 0;
  double recall10 = 0, ndcg10 = 0, recall200 = 0, ndcg200 = 0;
};

// "tiny", or "64x2 (2 heads)" for a shape object.
std::string tower_name(const nlohmann::json& spec) {
  if (spec.is_string()) return spec.get<std::string>();
  std::ostringstream out;
  out << spec.at("hidden_size").get<int64_t>() << "x" << spec.at("num_layers").get<int64_t>() << " ("
      << spec.at("num_heads").get<int64_t>() << " heads)";
  return out.str();
}

PointResult read_point(const nlohmann::json& entry) {
  PointResult p;
  p.name = entry.at("name").get<std::string>();
  const fs::path report_path = fs::path(entry.at("run_dir").get<std::string>()) / "report.json";
  if (!fs::exists(report_path)) return p;
  const nlohmann::json report = read_json_file(report_path.string());
  if (!report.contains("accounting")) {
    throw InputError(report_path.string() + " has no \"accounting\" (written by an older hllm_launch); train the point again");
  }
  const auto& a = report.at("accounting");
  const auto& model = report.at("config").at("model");
  p.finished = true;
  if (model.at("type") == "hllm") {
    p.item = tower_name(model.at("item"));
    p.user = tower_name(model.at("user"));
  } else {
    p.item = model.at("type").get<std::string>();
    p.user = std::to_string(model.at("hidden_size").get<int64_t>()) + "x" + std::to_string(model.at("num_layers").get<int64_t>());
  }
  p.parameters = a.at("parameters").at("total").get<double>();
  p.matmul_parameters = a.at("matmul_parameters").at("total").get<double>();
  const auto& tokens = a.at("tokens");
  p.item_tokens = tokens.contains("item") ? tokens.at("item").get<double>() : 0;
  p.user_tokens = tokens.contains("user") ? tokens.at("user").get<double>() : tokens.begin()->get<double>();
  p.flops = a.at("flops").at("total").get<double>();
  p.seconds = a.at("train_seconds").get<double>();
  p.rank_hours = a.at("rank_hours").get<double>();
  p.steps = report.at("steps").get<int64_t>();
  p.best_step = report.at("best_step").get<int64_t>();
  const auto& test = report.at("test");
  p.recall10 = test.at("recall@10").get<double>();
  p.ndcg10 = test.at("ndcg@10").get<double>();
  p.recall200 = test.at("recall@200").get<double>();
  p.ndcg200 = test.at("ndcg@200").get<double>();
  return p;
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string describe_fit(const PowerLaw& fit) {
  if (std::isnan(fit.slope)) return "no fit (fewer than 2 points with different sizes and a metric above 0)";
  std::string text = "slope " + format("%.3f", fit.slope);
  text += std::isnan(fit.stderr_slope) ? " (2 points: no uncertainty)" : " ± " + format("%.3f", fit.stderr_slope);
  return text + " over " + std::to_string(fit.used) + " points";
}

}  // namespace

PowerLaw fit_power_law(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> lx, ly;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (x[i] > 0 && y[i] > 0) {
      lx.push_back(std::log10(x[i]));
      ly.push_back(std::log10(y[i]));
    }
  }
  PowerLaw fit;
  fit.used = static_cast<int>(lx.size());
  fit.slope = fit.log10_c = fit.stderr_slope = std::numeric_limits<double>::quiet_NaN();
  if (fit.used < 2) return fit;
  double mx = 0, my = 0;
  for (int i = 0; i < fit.used; ++i) {
    mx += lx[i] / fit.used;
    my += ly[i] / fit.used;
  }
  double sxx = 0, sxy = 0;
  for (int i = 0; i < fit.used; ++i) {
    sxx += (lx[i] - mx) * (lx[i] - mx);
    sxy += (lx[i] - mx) * (ly[i] - my);
  }
  if (sxx <= 0) return fit;  // every x the same: no slope
  fit.slope = sxy / sxx;
  fit.log10_c = my - fit.slope * mx;
  if (fit.used > 2) {
    double residuals = 0;
    for (int i = 0; i < fit.used; ++i) {
      const double r = ly[i] - fit.log10_c - fit.slope * lx[i];
      residuals += r * r;
    }
    fit.stderr_slope = std::sqrt(residuals / (fit.used - 2) / sxx);
  }
  return fit;
}

std::vector<std::string> write_sweep_report(const std::string& dir) {
  const fs::path root(dir);
  const fs::path list_path = root / "sweep.json";
  if (!std::ifstream(list_path)) {
    throw InputError("cannot open " + list_path.string() + " (is '" + dir + "' a directory hllm_sweep wrote?)");
  }
  const nlohmann::json list = read_json_file(list_path.string());
  std::vector<PointResult> points;
  for (const auto& entry : list.at("points")) points.push_back(read_point(entry));
  std::vector<double> n, flops, recall, ndcg;
  for (const auto& p : points) {
    if (!p.finished) continue;
    n.push_back(p.matmul_parameters);
    flops.push_back(p.flops);
    recall.push_back(p.recall10);
    ndcg.push_back(p.ndcg10);
  }
  if (n.empty()) throw InputError("no point of " + list_path.string() + " has finished (no runs/<name>/report.json yet)");

  const fs::path csv = root / "sweep.csv", markdown = root / "sweep.md", data = root / "sweep.dat";
  const fs::path script = root / "sweep.gp", png = root / "scaling.png";
  {
    std::ofstream out(csv);
    out << "point,item,user,parameters,matmul_parameters,item_tokens,user_tokens,train_flops,train_seconds,rank_hours,"
           "steps,best_step,test_recall@10,test_ndcg@10,test_recall@200,test_ndcg@200\n";
    for (const auto& p : points) {
      if (!p.finished) {
        out << p.name << ",pending\n";
        continue;
      }
      out << p.name << ",\"" << p.item << "\",\"" << p.user << "\"," << format("%.0f", p.parameters) << ","
          << format("%.0f", p.matmul_parameters) << "," << format("%.0f", p.item_tokens) << ","
          << format("%.0f", p.user_tokens) << "," << format("%.6g", p.flops) << "," << format("%.1f", p.seconds) << ","
          << format("%.4g", p.rank_hours) << "," << p.steps << "," << p.best_step << "," << format("%.4f", p.recall10)
          << "," << format("%.4f", p.ndcg10) << "," << format("%.4f", p.recall200) << "," << format("%.4f", p.ndcg200)
          << "\n";
    }
  }
  const PowerLaw recall_n = fit_power_law(n, recall), ndcg_n = fit_power_law(n, ndcg);
  const PowerLaw recall_c = fit_power_law(flops, recall), ndcg_c = fit_power_law(flops, ndcg);
  {
    std::ofstream out(markdown);
    out << "| point | Item LLM | User LLM | parameters | matmul N | item tokens | train FLOPs | time (s) | rank-hours | "
           "test R@10 | test N@10 | test R@200 | test N@200 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& p : points) {
      if (!p.finished) {
        out << "| " << p.name << " | pending | | | | | | | | | | | |\n";
        continue;
      }
      out << "| " << p.name << " | " << p.item << " | " << p.user << " | " << format("%.3g", p.parameters) << " | "
          << format("%.3g", p.matmul_parameters) << " | " << format("%.3g", p.item_tokens) << " | "
          << format("%.3g", p.flops) << " | " << format("%.0f", p.seconds) << " | " << format("%.3g", p.rank_hours)
          << " | " << format("%.4f", p.recall10) << " | " << format("%.4f", p.ndcg10) << " | "
          << format("%.4f", p.recall200) << " | " << format("%.4f", p.ndcg200) << " |\n";
    }
    out << "\nPower laws (least squares on log10; ± is the slope's standard error):\n\n"
        << "- test Recall@10 ∝ N^slope: " << describe_fit(recall_n) << "\n"
        << "- test NDCG@10 ∝ N^slope: " << describe_fit(ndcg_n) << "\n"
        << "- test Recall@10 ∝ C^slope (training FLOPs): " << describe_fit(recall_c) << "\n"
        << "- test NDCG@10 ∝ C^slope: " << describe_fit(ndcg_c) << "\n";
  }
  {
    std::ofstream out(data);
    for (const auto& p : points) {
      if (p.finished) {
        out << format("%.9g", p.matmul_parameters) << " " << format("%.9g", p.flops) << " " << format("%.9g", p.recall10)
            << " " << format("%.9g", p.ndcg10) << " " << p.name << "\n";
      }
    }
  }
  {
    const auto line = [](const PowerLaw& fit) {
      return !std::isnan(fit.slope) ? "10**(" + format("%.9g", fit.log10_c) + ") * x**(" + format("%.9g", fit.slope) + ")"
                           : std::string("NaN");
    };
    const auto title = [](const char* metric, const char* against, const PowerLaw& fit) {
      std::string text = std::string(metric) + " vs " + against;
      if (!std::isnan(fit.slope)) {
        text += ": slope " + format("%.3f", fit.slope);
        if (!std::isnan(fit.stderr_slope)) text += " +/- " + format("%.3f", fit.stderr_slope);
      }
      return text;
    };
    std::ofstream gp(script);
    const std::string d = "'" + data.string() + "'";
    gp << "set terminal pngcairo size 1400,1000 font ',11' noenhanced\n"
       << "set output '" << png.string() << "'\n"
       << "set multiplot layout 2,2 title '" << dir << ": test metrics against size and compute (log-log)'\n"
       << "set logscale xy\nset grid\nset key left top\n"
       << "set xlabel 'matmul parameters N (both towers)'\n"
       << "set ylabel 'test Recall@10'\nset title '" << title("Recall@10", "N", recall_n) << "'\n"
       << "plot " << d << " using 1:3 with points pt 7 ps 1.5 title 'points', " << line(recall_n) << " title 'fit'\n"
       << "set ylabel 'test NDCG@10'\nset title '" << title("NDCG@10", "N", ndcg_n) << "'\n"
       << "plot " << d << " using 1:4 with points pt 7 ps 1.5 title 'points', " << line(ndcg_n) << " title 'fit'\n"
       << "set xlabel 'training FLOPs C'\n"
       << "set ylabel 'test Recall@10'\nset title '" << title("Recall@10", "C", recall_c) << "'\n"
       << "plot " << d << " using 2:3 with points pt 7 ps 1.5 title 'points', " << line(recall_c) << " title 'fit'\n"
       << "set ylabel 'test NDCG@10'\nset title '" << title("NDCG@10", "C", ndcg_c) << "'\n"
       << "plot " << d << " using 2:4 with points pt 7 ps 1.5 title 'points', " << line(ndcg_c) << " title 'fit'\n"
       << "unset multiplot\n";
  }
  std::vector<std::string> written = {csv.string(), markdown.string()};
  const std::string command = "gnuplot '" + script.string() + "' 2> '" + (root / "gnuplot.log").string() + "'";
  if (std::system(command.c_str()) != 0) {
    throw Error("gnuplot failed drawing " + png.string() + " (see " + (root / "gnuplot.log").string() +
                "; scripts/setup.sh installs gnuplot-nox); the table is in " + markdown.string());
  }
  written.push_back(png.string());
  return written;
}

}  // namespace hllm::tools
