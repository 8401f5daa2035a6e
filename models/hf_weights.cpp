#include "models/hf_weights.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/json_input.h"

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
    nlohmann::json json = read_json_file(index.string());
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
    files_.push_back(io::SafetensorsFile::open((fs::path(directory) / name).string()));
    for (const auto& tensor : files_.back()->header().tensors) {
      if (!owner_.emplace(tensor.name, files_.back().get()).second) {
        throw InputError(directory + ": tensor '" + tensor.name + "' appears in two shards");
      }
    }
  }
}

bool HfWeights::has(const std::string& name) const { return owner_.count(name) > 0; }

std::vector<std::string> HfWeights::names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : owner_) out.push_back(name);
  return out;
}

namespace {

at::ScalarType torch_dtype(const io::SafetensorsFile& file, const io::StTensor& info) {
  switch (info.dtype) {
    case io::StDtype::kF32: return at::kFloat;
    case io::StDtype::kBF16: return at::kBFloat16;
    case io::StDtype::kF16: return at::kHalf;
    default:
      throw InputError(file.path() + ": tensor '" + info.name + "' has dtype " + io::dtype_name(info.dtype) +
                       " (F32, BF16 and F16 are supported)");
  }
}

}  // namespace

void HfWeights::check(const std::string& name, const std::vector<int64_t>& shape) const {
  const auto it = owner_.find(name);
  if (it == owner_.end()) throw InputError(directory_ + ": missing tensor '" + name + "'");
  const io::SafetensorsFile& file = *it->second;
  const io::StTensor& info = *file.find(name);
  if (info.shape != shape) {
    throw InputError(file.path() + ": tensor '" + name + "' has shape " + shape_text(info.shape) + ", expected " +
                     shape_text(shape));
  }
  torch_dtype(file, info);
}

at::Tensor HfWeights::load(const std::string& name, const std::vector<int64_t>& shape, at::ScalarType dtype) const {
  int64_t numel = 1;
  for (const auto d : shape) numel *= d;
  return load_range(name, shape, 0, numel, dtype).view(shape);
}

at::Tensor HfWeights::load_range(const std::string& name, const std::vector<int64_t>& shape, int64_t offset,
                                 int64_t count, at::ScalarType dtype) const {
  check(name, shape);
  const io::SafetensorsFile& file = *owner_.at(name);
  const io::StTensor& info = *file.find(name);
  HLLM_CHECK(offset >= 0 && count >= 0 && offset + count <= info.numel(), file.path(), ": elements [", offset, ", ",
             offset + count, ") of tensor '", name, "' with ", info.numel());
  const at::ScalarType stored = torch_dtype(file, info);
  at::Tensor raw = at::empty({count}, at::TensorOptions().dtype(stored));
  const size_t size = io::dtype_size(info.dtype);
  std::memcpy(raw.data_ptr(), file.data(info) + static_cast<size_t>(offset) * size, static_cast<size_t>(count) * size);
  return raw.to(dtype);
}

namespace {

io::StDtype stored_dtype(at::ScalarType type, const std::string& name) {
  switch (type) {
    case at::kFloat: return io::StDtype::kF32;
    case at::kBFloat16: return io::StDtype::kBF16;
    case at::kHalf: return io::StDtype::kF16;
    default: throw Error(detail::concat("save_safetensors: tensor '", name, "' has dtype ", type));
  }
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<at::Tensor> keep;
  std::vector<io::StWriteTensor> out;
  for (const auto& [name, tensor] : tensors) {
    keep.push_back(tensor.detach().to(at::kCPU).contiguous());
    out.push_back({name, stored_dtype(keep.back().scalar_type(), name), keep.back().sizes().vec(), keep.back().data_ptr()});
  }
  io::write_safetensors(path, out, {{"format", "pt"}});
}

void save_safetensors_streaming(const std::string& path, const std::vector<TensorSpec>& specs,
                                const std::function<at::Tensor(size_t)>& produce) {
  std::vector<io::StWriteTensor> out;
  for (const auto& spec : specs) out.push_back({spec.name, stored_dtype(spec.dtype, spec.name), spec.shape, nullptr});
  io::write_safetensors_streaming(path, out, {{"format", "pt"}}, [&](size_t i, void* destination, size_t bytes) {
    const at::Tensor values = produce(i).detach().to(at::kCPU).contiguous();
    HLLM_ASSERT(values.sizes().vec() == specs[i].shape && values.scalar_type() == specs[i].dtype &&
                    static_cast<size_t>(values.nbytes()) == bytes,
                "save_safetensors_streaming: tensor '", specs[i].name, "' came as ", values.sizes(), " ",
                values.scalar_type());
    std::memcpy(destination, values.data_ptr(), bytes);
  });
}

}  // namespace hllm::models
