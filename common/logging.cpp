#include "common/logging.h"

#include <glog/logging.h>

#include <cstdio>
#include <iomanip>
#include <ostream>

namespace hllm {
namespace {

// Read by the prefix callback; written only by init_logging.
LoggingOptions g_options;

void rank_prefix(std::ostream& out, const google::LogMessageInfo& info, void*) {
  const auto& t = info.time;
  out << info.severity[0] << std::setfill('0') << std::setw(2) << 1 + t.month() << std::setw(2) << t.day()
      << ' ' << std::setw(2) << t.hour() << ':' << std::setw(2) << t.min() << ':' << std::setw(2) << t.sec()
      << " [rank " << g_options.rank << '/' << g_options.world_size << "] " << info.filename << ':'
      << info.line_number << ']';
}

}  // namespace

void init_logging(const char* argv0, const LoggingOptions& options) {
  g_options = options;
  static bool initialized = false;
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = (options.rank == 0 || options.all_ranks_info) ? google::GLOG_INFO : google::GLOG_WARNING;
  if (!initialized) {
    google::InitGoogleLogging(argv0, &rank_prefix, nullptr);
    initialized = true;
  }
}

}  // namespace hllm
