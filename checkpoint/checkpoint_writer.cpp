#include "checkpoint/checkpoint_writer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint_format.h"
#include "checkpoint/committed_steps.h"
#include "common/error.h"
#include "common/io/file_checksum.h"
#include "common/io/safetensors_file.h"
#include "parallel/comm/gather_uneven.h"

namespace hllm::checkpoint {
namespace fs = std::filesystem;
namespace {

io::StDtype st_dtype(at::ScalarType t) {
  if (t == at::kFloat) return io::StDtype::kF32;
  if (t == at::kBFloat16) return io::StDtype::kBF16;
  if (t == at::kDouble) return io::StDtype::kF64;
  throw Error(detail::concat("checkpoint: pieces are float32, bfloat16 or float64, not ", t));
}

// Throws on every rank when `failed` holds on any (so no rank waits for a commit that will not come).
void agree(parallel::Communicator& world, bool failed, const std::string& what, const std::string& error) {
  at::Tensor flag = at::full({1}, failed ? 1.0f : 0.0f);
  world.all_reduce(flag, parallel::ReduceOp::kMax)->wait();
  if (flag.item<float>() > 0) {
    throw Error(what + (failed ? ": " + error : ": failed on another rank (its log says why)"));
  }
}

void write_text_durably(const std::string& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    HLLM_CHECK(out.good(), "cannot write '", path, "'");
  }
  io::fsync_path(path);
}

}  // namespace

std::string save_checkpoint(const CheckpointContent& content, const SaveOptions& options,
                            parallel::Communicator& world) {
  const std::string name = step_directory_name(options.step);
  const fs::path root(options.root), final_dir = root / name, temp_dir = root / (name + ".tmp");
  const std::string what = "saving checkpoint " + final_dir.string();
  std::string error;
  if (world.rank() == 0) {
    try {
      fs::create_directories(root);
      fs::remove_all(temp_dir);  // a save that died before its commit
      fs::create_directories(temp_dir);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  agree(world, !error.empty(), what, error);

  // This rank's file.
  const std::string file = "rank_" + std::to_string(world.rank()) + ".safetensors";
  nlohmann::json index;
  try {
    std::vector<at::Tensor> host;  // keeps the bytes alive until written
    std::vector<io::StWriteTensor> tensors;
    nlohmann::json pieces = nlohmann::json::array();
    for (const auto& piece : content.pieces) {
      HLLM_CHECK(piece.values.dim() == 1, "checkpoint piece '", piece.name, "' is not 1-D");
      host.push_back(piece.values.detach().to(at::kCPU).contiguous());
      const std::string key = piece.name + "@" + std::to_string(piece.offset);
      tensors.push_back({key, st_dtype(host.back().scalar_type()), {host.back().numel()}, host.back().data_ptr()});
      pieces.push_back({{"name", piece.name}, {"shape", piece.shape}, {"dtype", io::dtype_name(tensors.back().dtype)},
                        {"offset", piece.offset}, {"length", host.back().numel()}, {"key", key}});
    }
    const std::string path = (temp_dir / file).string();
    io::write_safetensors(path, tensors, {{"format", kFormatName}});
    io::fsync_path(path);
    index = {{"file", file}, {"bytes", fs::file_size(path)}, {"crc32", io::file_crc32(path)}, {"pieces", pieces}};
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree(world, !error.empty(), what, error);
  const std::vector<std::string> indexes = parallel::all_gather_strings(world, index.dump());

  if (world.rank() == 0) {
    try {
      nlohmann::ordered_json manifest;
      manifest["format"] = kFormatName;
      manifest["version"] = kFormatVersion;
      manifest["step"] = options.step;
      manifest["scalars"] = content.scalars;
      manifest["info"] = options.info;
      manifest["files"] = nlohmann::json::array();
      nlohmann::json tensors = nlohmann::json::object();
      for (const auto& text : indexes) {
        const auto rank_index = nlohmann::json::parse(text);
        manifest["files"].push_back(
            {{"name", rank_index["file"]}, {"bytes", rank_index["bytes"]}, {"crc32", rank_index["crc32"]}});
        for (const auto& p : rank_index["pieces"]) {
          auto& t = tensors[p["name"].get<std::string>()];
          if (t.is_null()) t = {{"shape", p["shape"]}, {"dtype", p["dtype"]}, {"chunks", nlohmann::json::array()}};
          t["chunks"].push_back({{"file", rank_index["file"]}, {"key", p["key"]}, {"offset", p["offset"]},
                                 {"length", p["length"]}});
        }
      }
      manifest["tensors"] = tensors;
      write_text_durably((temp_dir / kManifest).string(), manifest.dump(1));
      fs::remove_all(final_dir);  // the same step saved again (a resumed run)
      fs::rename(temp_dir, final_dir);
      io::fsync_path(root.string());
      // Retention: the newest keep_last committed checkpoints stay (never the one just written).
      if (options.keep_last > 0) {
        auto steps = committed_steps(options.root);
        for (size_t i = 0; i + static_cast<size_t>(options.keep_last) < steps.size(); ++i) {
          if (steps[i] != options.step) fs::remove_all(root / step_directory_name(steps[i]));
        }
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  agree(world, !error.empty(), what, error);
  return final_dir.string();
}

}  // namespace hllm::checkpoint
