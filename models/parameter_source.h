// Building a model without its values, and producing them later by slices: what lets a rank of a large run
// materialise only what it keeps (its ZeRO-3 shards, its pipeline stage) instead of the whole model.
//
// A *placeholder* is a parameter tensor with its final shape, dtype and device but a storage of 0 bytes:
// code that reads only shapes works on it, nothing may read its values, and set_data() replaces it (the
// same state ParameterUnit leaves a freed parameter in). A *ParameterSource* writes any run of a
// parameter's flattened initial values on demand; the values do not depend on which slices are asked for
// or in which order, so every layout (dp, pp, ZeRO stage) starts from the same model.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/hf_weights.h"
#include "models/layered_model.h"

namespace hllm::models {

// A parameter of `shape` with `options` and no storage.
at::Tensor placeholder(at::IntArrayRef shape, const at::TensorOptions& options);
bool is_placeholder(const at::Tensor& t);

// Gives a placeholder `p` storage of its own and fills it whole from `fill` (no-op for a tensor that has
// values). Throws hllm::Error when `fill` has no values for `name`.
void materialize(const std::string& name, const at::Tensor& p, const ParameterFill& fill);

class ParameterSource {
 public:
  virtual ~ParameterSource() = default;
  // Elements [offset, offset + out.numel()) of parameter `name`, flattened, converted into `out` (1-D, any
  // dtype and device). False when `name` is not this source's.
  virtual bool fill(const std::string& name, int64_t offset, const at::Tensor& out) = 0;
};

// Parameters drawn one after another from one generator, as an eager constructor draws them (normal(0,
// 0.02) in float32; ones and zeros draw nothing). Asking for a parameter replays the stream up to it,
// discarding what comes before (asking for an earlier one restarts it), so its values are exactly those
// the eager construction gives, whatever is asked for; one drawn parameter is kept for its next slices.
class RandomStream : public ParameterSource {
 public:
  enum class Kind { kNormal, kOnes, kZeros };
  explicit RandomStream(uint64_t seed) : seed_(seed) {}
  // The next draw of the stream; a name nobody asks for is drawn and dropped in its turn.
  void add(const std::string& name, std::vector<int64_t> shape, Kind kind);
  bool fill(const std::string& name, int64_t offset, const at::Tensor& out) override;

 private:
  struct Entry {
    std::vector<int64_t> shape;
    Kind kind;
  };
  at::Tensor draw(size_t index);

  uint64_t seed_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
  at::Generator generator_;
  size_t next_ = 0;             // the stream's next draw
  size_t kept_ = SIZE_MAX;      // the entry whose values are kept
  at::Tensor kept_values_;
};

// Tensors of a Hugging Face directory under other names: `names` maps a parameter to the file's tensor
// and the shape it must have. Every mapping is checked against the headers when added (no values are
// read), so a missing or mis-shaped tensor fails on every rank before any rank reads; fill() reads only
// the requested elements' bytes.
class HfSource : public ParameterSource {
 public:
  explicit HfSource(const std::string& directory);
  void add(const std::string& name, const std::string& stored, std::vector<int64_t> shape);
  bool has(const std::string& stored) const { return weights_.has(stored); }
  const HfWeights& weights() const { return weights_; }
  bool fill(const std::string& name, int64_t offset, const at::Tensor& out) override;

 private:
  HfWeights weights_;
  std::map<std::string, std::pair<std::string, std::vector<int64_t>>> names_;
};

// Several sources: the first that has a parameter fills it.
class ParameterSources : public ParameterSource {
 public:
  void add(std::unique_ptr<ParameterSource> source) { sources_.push_back(std::move(source)); }
  bool fill(const std::string& name, int64_t offset, const at::Tensor& out) override;

 private:
  std::vector<std::unique_ptr<ParameterSource>> sources_;
};

}  // namespace hllm::models
