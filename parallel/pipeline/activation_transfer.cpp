#include "parallel/pipeline/activation_transfer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "common/error.h"

namespace hllm::parallel {
namespace {

struct Entry {
  std::string name;
  at::ScalarType dtype;
  bool requires_grad;
  std::vector<int64_t> shape;
};

// The wire form of a tensor: contiguous, flat, booleans as uint8 (not every backend carries bool).
at::Tensor wire_form(const at::Tensor& t) {
  at::Tensor flat = t.detach().reshape({-1});
  if (flat.scalar_type() == at::kBool) flat = flat.to(at::kByte);
  return flat.contiguous();
}

void post_send(Communicator& comm, int peer, const at::Tensor& wire, PostedSends* posted) {
  if (wire.numel() == 0) return;  // the header says so; nothing to carry
  posted->add(comm.send(wire, peer), wire);
}

std::string header_text(const models::Activations& activations) {
  std::ostringstream out;
  for (const auto& [name, t] : activations) {
    HLLM_ASSERT(name.find_first_of(" \n") == std::string::npos, "activation name '", name, "' has a space");
    out << name << ' ' << static_cast<int>(t.scalar_type()) << ' ' << (t.requires_grad() ? 1 : 0) << ' ' << t.dim();
    for (const int64_t d : t.sizes()) out << ' ' << d;
    out << '\n';
  }
  return out.str();
}

std::vector<Entry> parse_header(const std::string& text) {
  std::vector<Entry> entries;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    Entry e;
    int dtype = 0, grad = 0, dims = 0;
    fields >> e.name >> dtype >> grad >> dims;
    e.dtype = static_cast<at::ScalarType>(dtype);
    e.requires_grad = grad != 0;
    e.shape.resize(static_cast<size_t>(dims));
    for (auto& d : e.shape) fields >> d;
    HLLM_CHECK(!fields.fail(), "pipeline: a malformed activation header line: '", line, "'");
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace

void PostedSends::add(WorkHandle work, at::Tensor buffer) { sends_.emplace_back(std::move(work), std::move(buffer)); }

void PostedSends::release_completed() {
  sends_.erase(std::remove_if(sends_.begin(), sends_.end(), [](const auto& send) { return send.first->is_completed(); }),
               sends_.end());
}

void PostedSends::wait() {
  for (auto& send : sends_) send.first->wait();
  sends_.clear();
}

void send_activations(Communicator& comm, int peer, const models::Activations& activations, PostedSends* posted) {
  const std::string text = header_text(activations);
  const c10::Device device = activations.empty() ? c10::Device(at::kCPU) : activations.begin()->second.device();
  const at::Tensor length = at::full({1}, static_cast<int64_t>(text.size()), at::TensorOptions(at::kLong).device(device));
  at::Tensor header = at::empty({static_cast<int64_t>(text.size())}, at::kByte);
  std::copy(text.begin(), text.end(), header.data_ptr<uint8_t>());
  post_send(comm, peer, length, posted);
  post_send(comm, peer, header.to(device), posted);
  for (const auto& [name, t] : activations) post_send(comm, peer, wire_form(t), posted);
}

models::Activations recv_activations(Communicator& comm, int peer, const c10::Device& device) {
  at::Tensor length = at::empty({1}, at::TensorOptions(at::kLong).device(device));
  comm.recv(length, peer)->wait();
  const int64_t bytes = length.cpu().item<int64_t>();
  at::Tensor header = at::empty({bytes}, at::TensorOptions(at::kByte).device(device));
  if (bytes > 0) comm.recv(header, peer)->wait();
  const at::Tensor host = header.cpu();
  const auto* chars = host.data_ptr<uint8_t>();
  models::Activations out;
  for (const Entry& e : parse_header(std::string(chars, chars + bytes))) {
    const bool boolean = e.dtype == at::kBool;
    at::Tensor t = at::empty(e.shape, at::TensorOptions(boolean ? at::kByte : e.dtype).device(device));
    if (t.numel() > 0) comm.recv(t.view({-1}), peer)->wait();
    if (boolean) t = t.to(at::kBool);
    if (e.requires_grad) t.requires_grad_(true);
    out.emplace(e.name, std::move(t));
  }
  return out;
}

void send_gradients(Communicator& comm, int peer, const models::Activations& received, PostedSends* posted) {
  for (const auto& [name, t] : received) {
    if (!t.requires_grad()) continue;
    post_send(comm, peer, wire_form(t.grad().defined() ? t.grad() : at::zeros_like(t)), posted);
  }
}

std::vector<std::pair<at::Tensor, at::Tensor>> recv_gradients(Communicator& comm, int peer,
                                                              const models::Activations& sent) {
  std::vector<std::pair<at::Tensor, at::Tensor>> out;
  for (const auto& [name, t] : sent) {
    if (!t.requires_grad()) continue;
    at::Tensor grad = at::empty(t.sizes(), t.options().requires_grad(false));
    if (grad.numel() > 0) comm.recv(grad.view({-1}), peer)->wait();
    out.emplace_back(t, std::move(grad));
  }
  return out;
}

}  // namespace hllm::parallel
