#include "parallel/topology.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "common/error.h"
#include "parallel/comm/recorded_communicator.h"

namespace hllm::parallel {
namespace {

constexpr int64_t kTextBytes = 64;  // host and device names are gathered as fixed-width fields

void put_text(const std::string& text, uint8_t* out) {
  const size_t n = std::min<size_t>(text.size(), kTextBytes - 1);
  std::copy(text.begin(), text.begin() + n, out);
  std::fill(out + n, out + kTextBytes, 0);
}

std::string get_text(const uint8_t* in) {
  return std::string(reinterpret_cast<const char*>(in), strnlen(reinterpret_cast<const char*>(in), kTextBytes));
}

std::vector<Placement> gather_placements(Communicator& world, const Placement& mine) {
  const int n = world.size();
  at::Tensor texts = at::empty({2 * kTextBytes}, at::kByte);
  put_text(mine.hostname, texts.data_ptr<uint8_t>());
  put_text(mine.device, texts.data_ptr<uint8_t>() + kTextBytes);
  at::Tensor numbers = at::tensor(std::vector<int64_t>{mine.local_rank, mine.local_size}, at::kLong);
  at::Tensor all_texts = at::empty({n * 2 * kTextBytes}, at::kByte);
  at::Tensor all_numbers = at::empty({n * 2}, at::kLong);
  auto a = world.all_gather(texts, all_texts);
  auto b = world.all_gather(numbers, all_numbers);
  a->wait();
  b->wait();
  std::vector<Placement> placements(n);
  for (int r = 0; r < n; ++r) {
    const uint8_t* base = all_texts.data_ptr<uint8_t>() + r * 2 * kTextBytes;
    placements[r].hostname = get_text(base);
    placements[r].device = get_text(base + kTextBytes);
    placements[r].local_rank = static_cast<int>(all_numbers[2 * r].item<int64_t>());
    placements[r].local_size = static_cast<int>(all_numbers[2 * r + 1].item<int64_t>());
  }
  return placements;
}

std::string join_groups(const std::vector<std::vector<int>>& groups) {
  std::ostringstream out;
  for (const auto& group : groups) {
    out << " {";
    for (size_t i = 0; i < group.size(); ++i) out << (i ? "," : "") << group[i];
    out << "}";
  }
  return out.str();
}

}  // namespace

Topology::Topology(Communicator& world, int pp, const Placement& placement)
    : world_(world), layout_(GridLayout::make(world.size(), pp)) {
  const int me = world.rank();
  dp_group_ = world.split(layout_.stage_id(me), layout_.dp_index(me));
  pp_group_ = world.split(layout_.dp_index(me), layout_.stage_id(me));
  HLLM_ASSERT(dp_group_ && dp_group_->size() == layout_.dp && dp_group_->rank() == layout_.dp_index(me));
  HLLM_ASSERT(pp_group_ && pp_group_->size() == layout_.pp && pp_group_->rank() == layout_.stage_id(me));
  label_records(*dp_group_, "dp", group_ranks(Group::kDp));
  label_records(*pp_group_, "pp", group_ranks(Group::kPp));
  placements_ = gather_placements(world, placement);
}

std::vector<int> Topology::group_ranks(Group group) const {
  switch (group) {
    case Group::kWorld: {
      std::vector<int> all(world_size());
      for (int r = 0; r < world_size(); ++r) all[r] = r;
      return all;
    }
    case Group::kDp: return layout_.dp_group_ranks(stage_id());
    case Group::kPp: return layout_.pp_group_ranks(dp_index());
  }
  HLLM_ASSERT(false, "unknown group");
}

const char* group_name(Group group) {
  switch (group) {
    case Group::kWorld: return "world";
    case Group::kDp: return "dp";
    case Group::kPp: return "pp";
  }
  return "?";
}

Communicator& Topology::group(Group group) const {
  switch (group) {
    case Group::kWorld: return world_;
    case Group::kDp: return *dp_group_;
    case Group::kPp: return *pp_group_;
  }
  HLLM_ASSERT(false, "unknown group");
}

void Topology::use_device_communicators(std::unique_ptr<Communicator> world, std::unique_ptr<Communicator> dp,
                                        std::unique_ptr<Communicator> pp) {
  HLLM_ASSERT(!world || world->size() == world_size(), "a device world of ", world->size(), " ranks for ", world_size());
  HLLM_ASSERT(!dp || dp->size() == this->dp(), "a device dp group of ", dp->size(), " ranks for dp ", this->dp());
  HLLM_ASSERT(!pp || pp->size() == this->pp(), "a device pp group of ", pp->size(), " ranks for pp ", this->pp());
  device_world_ = std::move(world);
  device_dp_ = std::move(dp);
  device_pp_ = std::move(pp);
}

Communicator& Topology::device_group(Group group) const {
  const std::unique_ptr<Communicator>& device = group == Group::kWorld ? device_world_
                                                : group == Group::kDp  ? device_dp_
                                                                       : device_pp_;
  return device ? *device : this->group(group);
}

Communicator& Topology::channel(Group group, const std::string& name, bool on_device) const {
  std::lock_guard<std::mutex> lock(channels_mutex_);
  auto& kept = channels_[{group, name, on_device}];
  if (!kept) {
    Communicator& base = on_device ? device_group(group) : this->group(group);
    kept = base.split(0, base.rank());  // one colour: a duplicate, the ranks in their order
    label_records(*kept, std::string(group_name(group)) + ":" + name + (on_device ? "" : " (host)"), group_ranks(group));
  }
  return *kept;
}

std::string Topology::table() const {
  size_t host_width = 4;
  for (const auto& p : placements_) host_width = std::max(host_width, p.hostname.size());
  std::ostringstream out;
  out << "topology: world_size " << world_size() << " = pp " << pp() << " x dp " << dp() << "\n";
  out << "  rank  " << std::left << std::setw(static_cast<int>(host_width)) << "host"
      << "  local_rank  device    stage  dp_index\n";
  for (int r = 0; r < world_size(); ++r) {
    const auto& p = placements_[r];
    out << "  " << std::right << std::setw(4) << r << "  " << std::left << std::setw(static_cast<int>(host_width))
        << p.hostname << "  " << std::setw(10) << (std::to_string(p.local_rank) + "/" + std::to_string(p.local_size))
        << "  " << std::setw(8) << p.device << "  " << std::setw(5) << layout_.stage_id(r) << "  "
        << layout_.dp_index(r) << "\n";
  }
  std::vector<std::vector<int>> dp_groups;
  std::vector<std::vector<int>> pp_groups;
  for (int s = 0; s < pp(); ++s) dp_groups.push_back(layout_.dp_group_ranks(s));
  for (int i = 0; i < dp(); ++i) pp_groups.push_back(layout_.pp_group_ranks(i));
  out << "  dp groups:" << join_groups(dp_groups) << "\n";
  out << "  pp groups:" << join_groups(pp_groups);
  return out.str();
}

}  // namespace hllm::parallel
