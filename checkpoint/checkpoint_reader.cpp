#include "checkpoint/checkpoint_reader.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint_format.h"
#include "checkpoint/committed_steps.h"
#include "common/error.h"
#include "common/json_input.h"
#include "common/io/file_checksum.h"
#include "common/io/safetensors_file.h"

namespace hllm::checkpoint {
namespace fs = std::filesystem;
namespace {

at::ScalarType scalar_type(const std::string& dtype, const std::string& origin) {
  if (dtype == "F32") return at::kFloat;
  if (dtype == "BF16") return at::kBFloat16;
  if (dtype == "F64") return at::kDouble;
  throw InputError(origin + ": checkpoint tensor of dtype " + dtype + " (expected F32, BF16 or F64)");
}

}  // namespace

Checkpoint::Checkpoint(std::string directory) : directory_(std::move(directory)) {
  const std::string path = directory_ + "/" + kManifest;
  if (!std::ifstream(path)) throw InputError("checkpoint " + directory_ + ": no " + kManifest + " (not a committed checkpoint)");
  manifest_ = read_json_file(path);
  const int version = manifest_.value("version", 0);
  if (manifest_.value("format", "") != kFormatName || version < kOldestReadableVersion || version > kFormatVersion) {
    throw InputError(detail::concat(path, ": format '", manifest_.value("format", ""), "' version ", version,
                                    ", this build reads '", kFormatName, "' versions ", kOldestReadableVersion, " to ",
                                    kFormatVersion));
  }
  if (!manifest_.contains("scalars") || !manifest_.at("scalars").is_object()) {
    throw InputError(path + ": no \"scalars\" object");
  }
}

const nlohmann::json& Checkpoint::scalars_of(const std::string& part) const {
  const nlohmann::json& scalars = manifest_.at("scalars");
  if (version() == 1) return scalars;
  if (!scalars.contains(part) || !scalars.at(part).is_object()) {
    throw InputError(directory_ + "/" + kManifest + ": no state of the run's part '" + part + "'");
  }
  return scalars.at(part);
}

Checkpoint::~Checkpoint() = default;

void Checkpoint::verify() const {
  for (const auto& f : manifest_.at("files")) {
    const std::string path = directory_ + "/" + f.at("name").get<std::string>();
    std::error_code ec;
    const auto bytes = fs::file_size(path, ec);
    if (ec) throw InputError(path + ": missing (" + ec.message() + ")");
    if (bytes != f.at("bytes").get<uint64_t>()) {
      throw InputError(detail::concat(path, ": ", bytes, " bytes, the manifest says ", f.at("bytes").get<uint64_t>(),
                                      " (truncated or overwritten)"));
    }
    const std::string crc = io::file_crc32(path);
    if (crc != f.at("crc32").get<std::string>()) {
      throw InputError(path + ": CRC-32 " + crc + ", the manifest says " + f.at("crc32").get<std::string>() +
                       " (damaged)");
    }
  }
}

const io::SafetensorsFile& Checkpoint::file(const std::string& name) const {
  auto& slot = files_[name];
  if (!slot) slot = io::SafetensorsFile::open(directory_ + "/" + name);
  return *slot;
}

void Checkpoint::read(const StatePiece& piece, const std::string& from) const {
  const std::string& name = from.empty() ? piece.name : from;
  const auto& tensors = manifest_.at("tensors");
  if (!tensors.contains(name)) throw InputError("checkpoint " + directory_ + " has no tensor '" + name + "'");
  const auto& t = tensors.at(name);
  const auto shape = t.at("shape").get<std::vector<int64_t>>();
  if (shape != piece.shape) {
    throw InputError(detail::concat("checkpoint ", directory_, ": tensor '", name, "' has shape ",
                                    at::IntArrayRef(shape), ", this run's has ", at::IntArrayRef(piece.shape)));
  }
  const at::ScalarType dtype = scalar_type(t.at("dtype").get<std::string>(), directory_);
  const int64_t begin = piece.offset, end = piece.offset + piece.values.numel();
  int64_t covered = 0;
  for (const auto& chunk : t.at("chunks")) {
    const int64_t c_begin = chunk.at("offset").get<int64_t>(), c_end = c_begin + chunk.at("length").get<int64_t>();
    const int64_t lo = std::max(begin, c_begin), hi = std::min(end, c_end);
    if (lo >= hi) continue;
    const auto& f = file(chunk.at("file").get<std::string>());
    const io::StTensor* stored = f.find(chunk.at("key").get<std::string>());
    if (!stored || stored->numel() != c_end - c_begin) {
      throw InputError(detail::concat(f.path(), ": no piece '", chunk.at("key").get<std::string>(), "' of ",
                                      c_end - c_begin, " elements, as the manifest says"));
    }
    const at::Tensor source = at::from_blob(const_cast<uint8_t*>(f.data(*stored)), {c_end - c_begin},
                                            at::TensorOptions().dtype(dtype));
    piece.values.narrow(0, lo - begin, hi - lo).copy_(source.narrow(0, lo - c_begin, hi - lo));
    covered += hi - lo;
  }
  if (covered != end - begin) {
    throw InputError(detail::concat("checkpoint ", directory_, ": tensor '", name, "' elements [", begin, ", ", end,
                                    ") are not all stored (", covered, " found)"));
  }
}

std::string latest_valid_checkpoint(const std::string& root, std::vector<std::string>* skipped) {
  const auto steps = committed_steps(root);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    const std::string directory = (fs::path(root) / step_directory_name(*it)).string();
    try {
      Checkpoint(directory).verify();
      return directory;
    } catch (const InputError& e) {
      if (skipped) skipped->push_back(e.what());
    }
  }
  return "";
}

}  // namespace hllm::checkpoint
