// checkpoint_bench: how fast checkpoints are written, beside how fast the same disk takes plain
// sequential writes in the same run, and how long an asynchronous save stalls training.
//   1. Throughput: each rank saves --mib MiB of float32 pieces with save_checkpoint (its file, fsync, the
//      commit), against each rank writing the same bytes with write() + fsync to a plain file in the same
//      directory, both timed from a barrier to a barrier, alternating, median of --repeats.
//   2. Stall: the HLLM training step (tiny towers, runtime/TrainingStep) timed alone, and with an
//      AsyncCheckpointer save of the step's own state started before it (the snapshot is on the step's
//      clock, the writing runs beside it); the stall is the difference as a fraction of a step.
//
//   mpirun -np 2 build/bin/checkpoint_bench [--dir /tmp/hllm_checkpoint_bench] [--mib 256] [--repeats 3]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <gflags/gflags.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "bench/barrier_timing.h"
#include "bench/mpi_bench_main.h"
#include "bench/synthetic_batch.h"
#include "bench/synthetic_model.h"
#include "checkpoint/async_checkpointer.h"
#include "checkpoint/checkpoint_writer.h"
#include "common/config/config_loader.h"
#include "common/error.h"
#include "runtime/model_placement.h"
#include "runtime/training_step.h"

DEFINE_string(dir, "/tmp/hllm_checkpoint_bench", "Directory on the disk to measure (emptied first and after).");
DEFINE_int32(mib, 256, "MiB each rank saves.");
DEFINE_int32(repeats, 3, "Saves and raw writes each (alternating); the median is reported.");
DEFINE_int32(steps, 6, "Training steps of each kind for the stall.");
DEFINE_int32(threads, 1, "LibTorch intra-op threads per rank.");

namespace hllm::bench {
namespace {

void raw_write(const std::string& path, const at::Tensor& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  HLLM_CHECK(fd >= 0, "cannot open ", path);
  const auto* data = static_cast<const char*>(bytes.data_ptr());
  size_t left = static_cast<size_t>(bytes.nbytes());
  while (left > 0) {
    const ssize_t n = ::write(fd, data, std::min<size_t>(left, 64 << 20));
    HLLM_CHECK(n > 0, "write failed on ", path);
    data += n;
    left -= static_cast<size_t>(n);
  }
  HLLM_CHECK(::fsync(fd) == 0 && ::close(fd) == 0, "fsync failed on ", path);
}

void run(parallel::Communicator& world) {
  at::set_num_threads(FLAGS_threads);
  const std::string root = FLAGS_dir + "/checkpoints";
  if (world.rank() == 0) {
    std::filesystem::remove_all(FLAGS_dir);
    std::filesystem::create_directories(FLAGS_dir);
  }
  world.barrier()->wait();

  // 1. Throughput.
  const int64_t elements = int64_t{FLAGS_mib} << 18;  // float32
  checkpoint::CheckpointContent content;
  content.pieces.push_back({"state", {elements * world.size()}, elements * world.rank(), at::randn({elements})});
  std::vector<double> saves, raws;
  for (int r = 0; r < FLAGS_repeats; ++r) {
    checkpoint::SaveOptions options;
    options.root = root;
    options.step = r + 1;
    options.keep_last = 1;
    saves.push_back(timed_between_barriers(world, [&] { checkpoint::save_checkpoint(content, options, world); }));
    const std::string raw = FLAGS_dir + "/raw_" + std::to_string(world.rank());
    raws.push_back(timed_between_barriers(world, [&] { raw_write(raw, content.pieces[0].values); }));
    std::filesystem::remove(raw);
  }
  const double bytes = static_cast<double>(elements) * 4 * world.size();

  // 2. Stall of an asynchronous save of the training state.
  const config::Config config = config::parse_config_text("{}", "checkpoint_bench", {"model.item=tiny", "model.user=tiny"});
  const SyntheticBatchShape shape{4, 11, 32, 64, 500, 1000};
  const parallel::Topology topology(world, 1, parallel::Placement{});
  runtime::ModelPlacement placement(config, topology, runtime::Purpose::kTraining,
                                    synthetic_model(config, shape, {2, 3, 4, 5}));
  runtime::TrainingStep step(config, placement);
  checkpoint::AsyncCheckpointer saver(topology.channel(parallel::Group::kWorld, "checkpoint", /*on_device=*/false));
  std::vector<double> plain, saving;
  int64_t state_bytes = 0;
  for (int s = 0; s < 2 * (FLAGS_steps + 1); ++s) {
    const bool save = s % 2 == 1;
    const data::Batch batch = synthetic_batch(shape, static_cast<uint64_t>(100 * world.rank() + s));
    saver.wait();  // the previous save is not part of this step
    const double t = timed_between_barriers(world, [&] {
      if (save) {
        const checkpoint::CheckpointContent state = checkpoint::save_parts({&step});
        state_bytes = 0;
        for (const auto& p : state.pieces) state_bytes += static_cast<int64_t>(p.values.nbytes());
        checkpoint::SaveOptions options;
        options.root = root;
        options.step = 100 + s;
        options.keep_last = 1;
        saver.save(state, options);
      }
      step.run([&] { return batch; }, 1, 1e-4);
    });
    if (s >= 2) (save ? saving : plain).push_back(t);
  }
  saver.wait();
  if (world.rank() == 0) {
    std::printf("%d ranks, %d MiB per rank, %s, median of %d\n", world.size(), FLAGS_mib, FLAGS_dir.c_str(), FLAGS_repeats);
    std::printf("  save_checkpoint (write, fsync, commit): %8.3f s  %8.1f MiB/s\n", median(saves),
                bytes / median(saves) / (1 << 20));
    std::printf("  raw write + fsync, same bytes:          %8.3f s  %8.1f MiB/s\n", median(raws),
                bytes / median(raws) / (1 << 20));
    std::printf("  save / raw throughput: %.3f\n", median(raws) / median(saves));
    const double a = median(plain), b = median(saving);
    std::printf("training step (tiny HLLM, %.1f MiB of state per rank), median of %d:\n", state_bytes / double(1 << 20),
                FLAGS_steps);
    std::printf("  without a save %.2f ms, with an asynchronous save started %.2f ms: stall %.3f of a step\n", a * 1e3,
                b * 1e3, (b - a) / a);
  }
  world.barrier()->wait();
  if (world.rank() == 0) std::filesystem::remove_all(FLAGS_dir);
}

}  // namespace
}  // namespace hllm::bench

int main(int argc, char** argv) { return hllm::bench::mpi_bench_main(argc, argv, hllm::bench::run); }
