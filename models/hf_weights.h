// HfWeights: the tensors of a Hugging Face model directory — model.safetensors, or the shards listed by
// model.safetensors.index.json — by name, as LibTorch tensors.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/io/safetensors_file.h"

namespace hllm::models {

class HfWeights {
 public:
  // Throws InputError when the directory has neither file, or a file fails validation.
  explicit HfWeights(const std::string& directory);

  bool has(const std::string& name) const;
  // Every tensor the files hold, by name.
  std::vector<std::string> names() const;
  const std::string& directory() const { return directory_; }
  // A copy of the tensor in `dtype` (F32/BF16/F16 stored; others are refused). Throws InputError naming the
  // file and tensor when it is missing, of another shape than `shape`, or of an unsupported dtype.
  at::Tensor load(const std::string& name, const std::vector<int64_t>& shape, at::ScalarType dtype) const;
  // Elements [offset, offset + count) of the flattened tensor, as load() checks it; only their bytes of the
  // memory-mapped file are read (a rank loading its shard touches its share of the file). [count]
  at::Tensor load_range(const std::string& name, const std::vector<int64_t>& shape, int64_t offset, int64_t count,
                        at::ScalarType dtype) const;
  // The checks of load() without reading anything.
  void check(const std::string& name, const std::vector<int64_t>& shape) const;

 private:
  std::string directory_;
  std::vector<std::unique_ptr<io::SafetensorsFile>> files_;
  std::map<std::string, const io::SafetensorsFile*> owner_;  // tensor name -> file
};

// Writes named tensors (any float dtype; contiguous CPU copies are made) as a safetensors file.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors);

// A tensor of a file written by save_safetensors_streaming: what the header says before any value exists.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  at::ScalarType dtype;  // float32, bfloat16 or float16
};
// Writes `specs` in the order given, asking produce(i) for tensor i's values (any device, that shape and
// dtype) just before writing them, so only one tensor is held at a time beside the model: a model gathered
// block by block can be saved without ever being whole.
void save_safetensors_streaming(const std::string& path, const std::vector<TensorSpec>& specs,
                                const std::function<at::Tensor(size_t)>& produce);

}  // namespace hllm::models
