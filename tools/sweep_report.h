// The results of a sweep (hllm_sweep's DIR/sweep.json and each point's report.json) as a table and
// scaling curves: DIR/sweep.csv and DIR/sweep.md (every point's shapes, parameters, tokens, FLOPs, time and
// test metrics; the power-law fits), and DIR/scaling.png (log-log: test Recall@10 and NDCG@10 against the
// matmul parameters and against the training FLOPs, each with its fitted line), drawn by gnuplot.
#pragma once

#include <string>
#include <vector>

namespace hllm::tools {

// y = c x^slope fitted by least squares on log10 x, log10 y; stderr_slope is the slope's standard error
// (NaN below 3 points). Points with x <= 0 or y <= 0 are left out (`used` counts the rest); below 2 of them,
// or when they all have the same x, slope and log10_c are NaN.
struct PowerLaw {
  double slope = 0, log10_c = 0, stderr_slope = 0;
  int used = 0;
};
PowerLaw fit_power_law(const std::vector<double>& x, const std::vector<double>& y);

// Writes the table and plot of sweep directory `dir`; returns the paths written. Throws InputError when
// sweep.json is missing or no point has finished (a point without report.json is listed as pending).
std::vector<std::string> write_sweep_report(const std::string& dir);

}  // namespace hllm::tools
