#include "models/hf_weights.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/error.h"

namespace hllm::models {
namespace fs = std::filesystem;

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

}  // namespace

HfWeights::HfWeights(const std::string& directory) : directory_(directory) {
  const fs::path single = fs::path(directory) / "model.safetensors";
  const fs::path index = fs::path(directory) / "model.safetensors.index.json";
  std::vector<std::string> names;
  if (fs::exists(index)) {
    std::ifstream in(index);
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(index.string() + ": not valid JSON: " + e.what());
    }
    if (!json.contains("weight_map") || !json["weight_map"].is_object()) {
      throw InputError(index.string() + ": no 'weight_map' object");
    }
    std::set<std::string> shards;
    for (const auto& [tensor, file] : json["weight_map"].items()) {
      if (!file.is_string()) throw InputError(index.string() + ": weight_map entry '" + tensor + "' is not a file name");
      shards.insert(file.get<std::string>());
    }
    names.assign(shards.begin(), shards.end());
  } else if (fs::exists(single)) {
    names = {"model.safetensors"};
  } else {
    throw InputError("'" + directory + "' holds neither model.safetensors nor model.safetensors.index.json");
  }
  for (const auto& name : names) {
    files_.push_back(SafetensorsFile::open((fs::path(directory) / name).string()));
    for (const auto& tensor : files_.back()->header().tensors) {
      if (!owner_.emplace(tensor.name, files_.back().get()).second) {
        throw InputError(directory + ": tensor '" + tensor.name + "' appears in two shards");
      }
    }
  }
}

bool HfWeights::has(const std::string& name) const { return owner_.count(name) > 0; }

at::Tensor HfWeights::load(const std::string& name, const std::vector<int64_t>& shape, at::ScalarType dtype) const {
  const auto it = owner_.find(name);
  if (it == owner_.end()) throw InputError(directory_ + ": missing tensor '" + name + "'");
  const SafetensorsFile& file = *it->second;
  const StTensor& info = *file.find(name);
  if (info.shape != shape) {
    throw InputError(file.path() + ": tensor '" + name + "' has shape " + shape_text(info.shape) + ", expected " +
                     shape_text(shape));
  }
  at::ScalarType stored;
  switch (info.dtype) {
    case StDtype::kF32: stored = at::kFloat; break;
    case StDtype::kBF16: stored = at::kBFloat16; break;
    case StDtype::kF16: stored = at::kHalf; break;
    default:
      throw InputError(file.path() + ": tensor '" + name + "' has dtype " + dtype_name(info.dtype) +
                       " (F32, BF16 and F16 are supported)");
  }
  at::Tensor raw = at::empty(info.shape, at::TensorOptions().dtype(stored));
  std::memcpy(raw.data_ptr(), file.data(info), info.end - info.begin);
  return raw.to(dtype);
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<at::Tensor> keep;
  std::vector<StWriteTensor> out;
  for (const auto& [name, tensor] : tensors) {
    keep.push_back(tensor.detach().to(at::kCPU).contiguous());
    StDtype dtype;
    switch (keep.back().scalar_type()) {
      case at::kFloat: dtype = StDtype::kF32; break;
      case at::kBFloat16: dtype = StDtype::kBF16; break;
      case at::kHalf: dtype = StDtype::kF16; break;
      default: throw Error(detail::concat("save_safetensors: tensor '", name, "' has dtype ", keep.back().scalar_type()));
    }
    out.push_back({name, dtype, keep.back().sizes().vec(), keep.back().data_ptr()});
  }
  write_safetensors(path, out, {{"format", "pt"}});
}

}  // namespace hllm::models
