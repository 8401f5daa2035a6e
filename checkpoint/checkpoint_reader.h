// Reading a committed checkpoint (checkpoint_format.h): verification, scalars, and any run of any tensor's
// elements, from whichever ranks' files hold them — so a run resumes on another data-parallel size, ZeRO
// stage or pipeline layout than the one that saved.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint/state.h"

namespace hllm::io {
class SafetensorsFile;
}

namespace hllm::checkpoint {

class Checkpoint {
 public:
  // Reads the manifest. Throws InputError naming the directory when it has none, or one of another
  // format or of a version this build does not read (1 and 2: checkpoint_format.h).
  explicit Checkpoint(std::string directory);
  ~Checkpoint();

  // Every file's size and CRC-32 against the manifest. Throws InputError naming the first file that is
  // missing, truncated or damaged.
  void verify() const;

  const std::string& directory() const { return directory_; }
  int64_t step() const { return manifest_.at("step").get<int64_t>(); }
  int version() const { return manifest_.at("version").get<int>(); }
  // The scalars of the run's part `part` (stateful.h). Version 1 stored every part's scalars in one object
  // (their keys never clashed), which each part is given whole. Throws InputError when the part is absent.
  const nlohmann::json& scalars_of(const std::string& part) const;
  const nlohmann::json& info() const { return manifest_.at("info"); }
  bool has(const std::string& name) const { return manifest_.at("tensors").contains(name); }
  // Every tensor: name -> {"shape", "dtype", "chunks"}.
  const nlohmann::json& tensors() const { return manifest_.at("tensors"); }

  // Fills `piece.values` with elements [offset, offset + numel) of tensor `from` (default: piece.name),
  // converted to the piece's dtype and device. Throws InputError when the tensor is absent, has another
  // shape than piece.shape, or its chunks do not cover the range.
  void read(const StatePiece& piece, const std::string& from = "") const;

 private:
  const io::SafetensorsFile& file(const std::string& name) const;

  std::string directory_;
  nlohmann::json manifest_;
  mutable std::map<std::string, std::unique_ptr<io::SafetensorsFile>> files_;
};

// The newest committed checkpoint under `root` whose files verify, or "" when there is none. Each newer
// one that fails verification is skipped with a line in `skipped` saying why.
std::string latest_valid_checkpoint(const std::string& root, std::vector<std::string>* skipped);

}  // namespace hllm::checkpoint
