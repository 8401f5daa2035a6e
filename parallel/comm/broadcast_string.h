// Broadcasting a string (a config file, a manifest) from one rank to all: length first, then bytes.
#pragma once

#include <string>

#include "parallel/comm/communicator.h"

namespace hllm::parallel {

// Collective. Returns the root's `text` on every rank (the argument is ignored on other ranks).
std::string broadcast_string(Communicator& comm, const std::string& text, int root);

}  // namespace hllm::parallel
