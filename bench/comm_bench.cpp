// comm_bench: bus bandwidth of all_reduce / all_gather / reduce_scatter over message sizes, the way
// nccl-tests reports it, beside this machine's memcpy bandwidth measured in the same run.
//
//   mpirun -np 2 build/bin/comm_bench [--min_bytes 4096] [--max_bytes 67108864]
//
// time   : slowest rank's mean time per operation
// algbw  : bytes / time, where bytes is the full buffer (all_reduce: the tensor; all_gather: the output;
//          reduce_scatter: the input), as nccl-tests
// busbw  : algbw x 2(n-1)/n for all_reduce, x (n-1)/n for all_gather and reduce_scatter: the rate each
//          rank's link must sustain, comparable across rank counts
// memcpy : single-threaded memcpy rate of one rank while every rank copies at once (min over ranks)
// whole  : for all_reduce, the same operation issued as one MPI request instead of pieces of
//          MpiOptions::all_reduce_piece_bytes; timed alternately with the default so both see the same machine
// --recorded: instead of `whole`, every operation also through a RecordedCommunicator whose flight
//          recorder writes its file every second (what hllm_launch does), timed alternately with the plain
//          one; the column is recorded time / plain time
#include <ATen/ATen.h>
#include <gflags/gflags.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "launcher/mpi_runtime.h"
#include "parallel/comm/broadcast_string.h"
#include "parallel/comm/flight_recorder.h"
#include "parallel/comm/mpi_communicator.h"
#include "parallel/comm/recorded_communicator.h"

DEFINE_int64(min_bytes, 4096, "Smallest message, bytes.");
DEFINE_int64(max_bytes, 64 << 20, "Largest message, bytes.");
DEFINE_double(seconds_per_size, 0.2, "Time spent timing each size and operation.");
DEFINE_bool(recorded, false, "Compare each operation with the same one entered in a flight recorder.");
DEFINE_string(ops, "all_reduce,all_gather,reduce_scatter", "Operations to time, comma-separated.");

namespace hllm::bench {
namespace {

using parallel::Communicator;
using parallel::ReduceOp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Largest value of `local` over ranks.
double max_over_ranks(Communicator& comm, double local) {
  at::Tensor t = at::full({1}, local, at::kDouble);
  comm.all_reduce(t, ReduceOp::kMax)->wait();
  return t.item<double>();
}

// Mean seconds per call of `op` on the slowest rank; the iteration count is agreed on by all ranks.
double time_operation(Communicator& comm, const std::function<void()>& op) {
  for (int i = 0; i < 2; ++i) op();  // warm-up: connections, page faults
  comm.barrier()->wait();
  auto start = Clock::now();
  op();
  const double once = max_over_ranks(comm, seconds_since(start));
  const int iterations = std::max(3, static_cast<int>(FLAGS_seconds_per_size / std::max(once, 1e-6)));
  comm.barrier()->wait();
  start = Clock::now();
  for (int i = 0; i < iterations; ++i) op();
  return max_over_ranks(comm, seconds_since(start)) / iterations;
}

// Bytes per second of memcpy on one rank while all ranks copy at once; the slowest rank's rate.
double memcpy_bandwidth(Communicator& comm, int64_t bytes) {
  std::vector<char> source(bytes, 1), target(bytes, 0);
  std::memcpy(target.data(), source.data(), bytes);
  comm.barrier()->wait();
  int iterations = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < 0.5 || iterations < 3) {
    std::memcpy(target.data(), source.data(), bytes);
    ++iterations;
  }
  const double rate = static_cast<double>(bytes) * iterations / seconds_since(start);
  at::Tensor t = at::full({1}, -rate, at::kDouble);  // min rate = -max(-rate)
  comm.all_reduce(t, ReduceOp::kMax)->wait();
  return -t.item<double>();
}

bool wanted(const std::string& op) { return ("," + FLAGS_ops + ",").find("," + op + ",") != std::string::npos; }

// Best of three alternating rounds of each: the machine's noise hits both alike.
std::pair<double, double> time_pair(Communicator& a, const std::function<void()>& op_a, Communicator& b,
                                    const std::function<void()>& op_b) {
  double best_a = 1e30, best_b = 1e30;
  for (int round = 0; round < 3; ++round) {
    best_a = std::min(best_a, time_operation(a, op_a));
    best_b = std::min(best_b, time_operation(b, op_b));
  }
  return {best_a, best_b};
}

// `whole`: the comparison column's communicator (whole messages, or the recorded world with --recorded).
void run(Communicator& comm, Communicator& whole) {
  const int n = comm.size();
  const bool print = comm.rank() == 0;
  const double memcpy_rate = memcpy_bandwidth(comm, FLAGS_max_bytes);
  if (print) {
    std::printf("comm_bench: %d ranks, backend %s, float32\n", n, comm.backend_name().c_str());
    std::printf("memcpy bandwidth (per rank, all ranks copying %lld MiB at once): %.2f GB/s\n\n",
                static_cast<long long>(FLAGS_max_bytes >> 20), memcpy_rate / 1e9);
    std::printf("%-15s %12s %12s %12s %12s %14s %14s %14s\n", "op", "bytes", "time(us)", "algbw(GB/s)",
                "busbw(GB/s)", "busbw/memcpy", FLAGS_recorded ? "recorded(GB/s)" : "whole(GB/s)",
                FLAGS_recorded ? "recorded/plain" : "pieces/whole");
  }
  for (const std::string op : {"all_reduce", "all_gather", "reduce_scatter"}) {
    if (!wanted(op)) continue;
    for (int64_t bytes = FLAGS_min_bytes; bytes <= FLAGS_max_bytes; bytes *= 4) {
      const int64_t elements = std::max<int64_t>(n, bytes / 4 / n * n);  // divisible by n
      // Zeros: repeated sums stay finite, so every iteration does the same arithmetic.
      const at::Tensor full = at::zeros({elements}, at::kFloat);
      const at::Tensor part = at::zeros({elements / n}, at::kFloat);
      auto make_call = [&](Communicator& c) -> std::function<void()> {
        if (op == "all_reduce") return [&c, full] { c.all_reduce(full, ReduceOp::kSum)->wait(); };
        if (op == "all_gather") return [&c, full, part] { c.all_gather(part, full)->wait(); };
        return [&c, full, part] { c.reduce_scatter(full, part, ReduceOp::kSum)->wait(); };
      };
      const double factor = op == "all_reduce" ? 2.0 * (n - 1) / n : static_cast<double>(n - 1) / n;
      const bool compare = op == "all_reduce" || FLAGS_recorded;
      double seconds = 0, whole_seconds = 0;
      if (compare) {
        std::tie(seconds, whole_seconds) = time_pair(comm, make_call(comm), whole, make_call(whole));
      } else {
        seconds = time_operation(comm, make_call(comm));
      }
      const double algbw = elements * 4.0 / seconds;
      const double busbw = algbw * factor;
      if (print) {
        std::printf("%-15s %12lld %12.1f %12.3f %12.3f %14.3f", op.c_str(), static_cast<long long>(elements * 4),
                    seconds * 1e6, algbw / 1e9, busbw / 1e9, busbw / memcpy_rate);
        if (compare) {
          std::printf(" %14.3f %14.2f", elements * 4.0 / whole_seconds * factor / 1e9, whole_seconds / seconds);
        }
        std::printf("\n");
      }
    }
  }
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage("mpirun -np N comm_bench [--min_bytes B] [--max_bytes B] [--ops all_reduce,...]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  hllm::launcher::MpiRuntime mpi(&argc, &argv);
  auto world = hllm::parallel::make_mpi_world_communicator();
  hllm::parallel::MpiOptions whole_messages;
  whole_messages.all_reduce_piece_bytes = 0;
  auto whole = hllm::parallel::make_mpi_world_communicator(whole_messages);
  std::shared_ptr<hllm::parallel::FlightRecorder> recorder;
  std::unique_ptr<hllm::parallel::Communicator> recorded;
  if (FLAGS_recorded) {
    recorder = std::make_shared<hllm::parallel::FlightRecorder>(world->rank(), world->size(), "bench", 2000);
    const auto dir = std::filesystem::temp_directory_path() / ("comm_bench_flight_" + std::to_string(::getpid()));
    recorder->start_writing(hllm::parallel::broadcast_string(*world, dir.string(), 0), 1.0);
    recorded = hllm::parallel::record_world(*world, recorder);
  }
  hllm::bench::run(*world, recorded ? *recorded : *whole);
  if (recorder) {
    const std::string dir = recorder->directory();
    recorded.reset();
    recorder.reset();  // its writer stops
    world->barrier()->wait();
    std::error_code ignored;
    if (world->rank() == 0) std::filesystem::remove_all(dir, ignored);
  }
  whole.reset();
  world.reset();
  return 0;
}
