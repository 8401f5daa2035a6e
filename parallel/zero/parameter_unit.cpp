#include "parallel/zero/parameter_unit.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/StorageImpl.h>

#include "common/error.h"

namespace hllm::parallel::zero {

const char* to_string(UnitState state) {
  switch (state) {
    case UnitState::kSharded:
      return "sharded";
    case UnitState::kGathering:
      return "gathering";
    case UnitState::kGathered:
      return "gathered";
  }
  return "?";
}

namespace {

std::vector<int64_t> numels_of(const std::vector<std::pair<std::string, at::Tensor>>& parameters) {
  std::vector<int64_t> out;
  for (const auto& [name, p] : parameters) out.push_back(p.numel());
  return out;
}

}  // namespace

ParameterUnit::ParameterUnit(std::string name, std::vector<std::pair<std::string, at::Tensor>> parameters, int dp,
                             int rank, bool partitioned, const models::ParameterFill& fill)
    : name_(std::move(name)),
      parameters_(std::move(parameters)),
      layout_(numels_of(parameters_), dp, kUnitAlignment),
      rank_(rank),
      partitioned_(partitioned) {
  HLLM_CHECK(!parameters_.empty(), "ZeRO unit '", name_, "' has no parameters");
  HLLM_CHECK(rank >= 0 && rank < dp, "ZeRO unit '", name_, "': rank ", rank, " outside dp ", dp);
  const at::Tensor& first = parameters_.front().second;
  c10::NoGradGuard no_grad;
  // A partitioned unit filled from `fill` never writes its full buffer: its pages are never touched.
  const bool shard_only = partitioned_ && fill;
  const auto options = first.options().requires_grad(false);
  full_ = shard_only ? at::empty({layout_.buffer_numel()}, options) : at::zeros({layout_.buffer_numel()}, options);
  // The values of parameter i, elements [offset, offset + out.numel()), into `out`: from `fill`, or the
  // tensor's own (read before it becomes a view of the buffer).
  std::vector<at::Tensor> own;
  for (const auto& [pname, p] : parameters_) own.push_back(p.detach());
  const auto values = [&](size_t i, int64_t offset, const at::Tensor& out) {
    const std::string& pname = parameters_[i].first;
    if (fill && fill(pname, offset, out)) return;
    HLLM_CHECK(own[i].storage().nbytes() > 0 || own[i].numel() == 0, "ZeRO unit '", name_, "': parameter '", pname,
               "' has no values and no source");
    out.copy_(own[i].reshape({-1}).narrow(0, offset, out.numel()));
  };
  for (size_t i = 0; i < parameters_.size(); ++i) {
    at::Tensor& p = parameters_[i].second;
    HLLM_CHECK(p.scalar_type() == first.scalar_type() && p.device() == first.device(), "ZeRO unit '", name_,
               "': parameter '", parameters_[i].first, "' is ", p.scalar_type(), " on ", p.device(), ", '",
               parameters_.front().first, "' ", first.scalar_type(), " on ", first.device(), "; a unit has one dtype");
    at::Tensor view = full_.narrow(0, layout_.offset(i), p.numel()).view(p.sizes());
    if (!shard_only) values(i, 0, view.view({-1}));
    p.set_data(view);  // the same tensor (autograd, hooks, the model's references), now inside the buffer
  }
  const auto [begin, end] = layout_.shard_range(rank);
  if (shard_only) {
    shard_ = at::zeros({end - begin}, options);  // the padding stays zero
    for (const auto& segment : layout_.segments_of(rank)) {
      values(segment.parameter, segment.parameter_offset,
             shard_.narrow(0, segment.buffer_offset - begin, segment.length));
    }
    free_full();
    state_ = UnitState::kSharded;
    return;  // `own` goes: the tensors' former storage is freed
  }
  shard_ = full_.narrow(0, begin, end - begin);
  if (partitioned_) {
    shard_ = shard_.clone();
    free_full();
    state_ = UnitState::kSharded;
  }
}

void ParameterUnit::expect(UnitState from, const char* transition) const {
  if (state_ != from) {
    throw Error(detail::concat("ZeRO unit '", name_, "': ", transition, " needs state ", to_string(from), ", but it is ",
                               to_string(state_), " (a bug in the ZeRO schedule)"));
  }
}

void ParameterUnit::free_full() {
  c10::StorageImpl* storage = full_.storage().unsafeGetStorageImpl();
  storage->set_data_ptr_noswap(at::DataPtr(nullptr, full_.device()));
  storage->set_nbytes(0);
}

void ParameterUnit::allocate_full() {
  c10::StorageImpl* storage = full_.storage().unsafeGetStorageImpl();
  const size_t bytes = static_cast<size_t>(full_bytes());
  storage->set_data_ptr_noswap(storage->allocator()->allocate(bytes));
  storage->set_nbytes(bytes);
}

void ParameterUnit::start_gather(Communicator& comm) {
  expect(UnitState::kSharded, "start_gather");
  HLLM_ASSERT(comm.size() == layout_.dp(), "ZeRO unit '", name_, "': gather over ", comm.size(), " ranks, laid out for ",
              layout_.dp());
  allocate_full();
  gather_ = comm.all_gather(shard_, full_);
  state_ = UnitState::kGathering;
}

void ParameterUnit::finish_gather() {
  expect(UnitState::kGathering, "finish_gather");
  gather_->wait();
  gather_.reset();
  state_ = UnitState::kGathered;
}

void ParameterUnit::release(bool keep_changes) {
  expect(UnitState::kGathered, "release");
  HLLM_ASSERT(partitioned_, "ZeRO unit '", name_, "': release of a unit that is never sharded (stage 1 or 2)");
  if (keep_changes) {
    c10::NoGradGuard no_grad;
    const auto [begin, end] = layout_.shard_range(rank_);
    shard_.copy_(full_.narrow(0, begin, end - begin));
  }
  free_full();
  state_ = UnitState::kSharded;
}

void ParameterUnit::refresh(Communicator& comm) {
  HLLM_ASSERT(!partitioned_, "ZeRO unit '", name_, "': refresh is for units that keep the full buffer");
  // The shard is a view of the output: gather from a copy (MPI forbids overlapping buffers).
  comm.all_gather(shard_.clone(), full_)->wait();
}

at::Tensor ParameterUnit::flat_gradient() const {
  c10::NoGradGuard no_grad;
  at::ScalarType dtype = full_.scalar_type();
  for (const auto& [name, p] : parameters_) {
    if (p.grad().defined()) dtype = p.grad().scalar_type();
  }
  at::Tensor flat = at::zeros({layout_.buffer_numel()}, full_.options().dtype(dtype));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const at::Tensor& grad = parameters_[i].second.grad();
    if (grad.defined()) flat.narrow(0, layout_.offset(i), grad.numel()).copy_(grad.reshape({-1}));
  }
  return flat;
}

void ParameterUnit::clear_gradients() {
  for (auto& [name, p] : parameters_) p.mutable_grad().reset();
}

int64_t ParameterUnit::full_bytes() const {
  return layout_.buffer_numel() * static_cast<int64_t>(full_.element_size());
}

int64_t ParameterUnit::parameter_bytes() const {
  if (!partitioned_) return full_bytes();
  const int64_t shard = shard_.numel() * static_cast<int64_t>(shard_.element_size());
  return shard + (state_ == UnitState::kSharded ? 0 : full_bytes());
}

}  // namespace hllm::parallel::zero
