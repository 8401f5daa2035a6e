// Errors: HLLM_CHECK for conditions that depend on input or the environment, HLLM_ASSERT for internal
// invariants. Both throw hllm::Error (never compiled out); only main() catches, logs and aborts the job.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace hllm {

// Something went wrong; the message says what, with the values involved.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The user's input (config file, command line, data file) is wrong. The message names the file, key or
// value; main() reports it without a stack of internal detail and exits with kExitBadInput.
class InputError : public Error {
 public:
  using Error::Error;
};

namespace detail {

template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  ((out << std::forward<Args>(args)), ...);
  return out.str();
}

[[noreturn]] void throw_check_failure(const char* file, int line, const char* condition,
                                      const std::string& message);
[[noreturn]] void throw_assert_failure(const char* file, int line, const char* condition,
                                       const std::string& message);

}  // namespace detail
}  // namespace hllm

// HLLM_CHECK(x > 0, "expected a positive batch size, got ", x);
#define HLLM_CHECK(cond, ...)                                                                   \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      ::hllm::detail::throw_check_failure(__FILE__, __LINE__, #cond,                            \
                                          ::hllm::detail::concat(__VA_ARGS__)); \
    }                                                                                           \
  } while (false)

// HLLM_ASSERT(state_ == State::kGathered, "block ", id, " used before its gather finished");
#define HLLM_ASSERT(cond, ...)                                                                   \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      ::hllm::detail::throw_assert_failure(__FILE__, __LINE__, #cond,                            \
                                           ::hllm::detail::concat(__VA_ARGS__)); \
    }                                                                                            \
  } while (false)
