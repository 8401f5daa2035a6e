#include "models/parameter_source.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include "common/error.h"

namespace hllm::models {

at::Tensor placeholder(at::IntArrayRef shape, const at::TensorOptions& options) {
  at::Tensor t = at::empty({0}, options);
  t.unsafeGetTensorImpl()->set_sizes_contiguous(shape);  // the storage stays 0 bytes
  return t;
}

bool is_placeholder(const at::Tensor& t) {
  return t.defined() && t.numel() > 0 && t.storage().nbytes() == 0;
}

void materialize(const std::string& name, const at::Tensor& p, const ParameterFill& fill) {
  if (!is_placeholder(p)) return;
  c10::NoGradGuard no_grad;
  at::Tensor values = at::empty(p.sizes(), p.options().requires_grad(false));
  HLLM_CHECK(fill && fill(name, 0, values.view({-1})), "no initial values for parameter '", name, "'");
  at::Tensor(p).set_data(values);
}

void RandomStream::add(const std::string& name, std::vector<int64_t> shape, Kind kind) {
  if (!name.empty()) index_[name] = entries_.size();
  entries_.push_back({std::move(shape), kind});
}

at::Tensor RandomStream::draw(size_t index) {
  const Entry& e = entries_[index];
  const auto options = at::TensorOptions().dtype(at::kFloat);
  switch (e.kind) {
    case Kind::kNormal: return at::normal(0.0, 0.02, e.shape, generator_, options);
    case Kind::kOnes: return at::ones(e.shape, options);
    case Kind::kZeros: return at::zeros(e.shape, options);
  }
  return {};
}

bool RandomStream::fill(const std::string& name, int64_t offset, const at::Tensor& out) {
  const auto it = index_.find(name);
  if (it == index_.end()) return false;
  const size_t k = it->second;
  if (k != kept_) {
    if (!generator_.defined() || k < next_) {  // (re)start the stream
      generator_ = at::make_generator<at::CPUGeneratorImpl>(seed_);
      next_ = 0;
    }
    for (; next_ < k; ++next_) draw(next_);  // what comes before is drawn and dropped
    kept_values_ = draw(k).view({-1});
    kept_ = k;
    next_ = k + 1;
  }
  HLLM_ASSERT(offset >= 0 && offset + out.numel() <= kept_values_.numel(), "parameter '", name, "': elements [", offset,
              ", ", offset + out.numel(), ") of ", kept_values_.numel());
  c10::NoGradGuard no_grad;
  at::Tensor(out).copy_(kept_values_.narrow(0, offset, out.numel()));
  return true;
}

HfSource::HfSource(const std::string& directory) : weights_(directory) {}

void HfSource::add(const std::string& name, const std::string& stored, std::vector<int64_t> shape) {
  weights_.check(stored, shape);
  names_[name] = {stored, std::move(shape)};
}

bool HfSource::fill(const std::string& name, int64_t offset, const at::Tensor& out) {
  const auto it = names_.find(name);
  if (it == names_.end()) return false;
  const auto& [stored, shape] = it->second;
  c10::NoGradGuard no_grad;
  at::Tensor(out).copy_(weights_.load_range(stored, shape, offset, out.numel(), out.scalar_type()));
  return true;
}

bool ParameterSources::fill(const std::string& name, int64_t offset, const at::Tensor& out) {
  for (const auto& source : sources_) {
    if (source->fill(name, offset, out)) return true;
  }
  return false;
}

}  // namespace hllm::models
