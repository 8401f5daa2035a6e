#include "launcher/stop_signals.h"

#include <csignal>
#include <unistd.h>

namespace hllm::launcher {
namespace {

std::atomic<int> requested{0};

void on_signal(int signal) {
  if (requested.exchange(signal) != 0) _exit(128 + signal);  // the second one: now
  static const char message[] = "hllm: stop requested; saving a checkpoint at the next step boundary\n";
  [[maybe_unused]] const auto written = write(STDERR_FILENO, message, sizeof(message) - 1);
}

}  // namespace

const std::atomic<int>& install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
  return requested;
}

}  // namespace hllm::launcher
