// Names that become files or directories, checked before any file-system call. A path part longer than
// NAME_MAX (255 bytes) or a path longer than PATH_MAX makes std::filesystem throw "File name too long" from
// deep inside whatever touched it first, with no key named; these checks say which key and why instead.
#pragma once

#include <string>

namespace hllm {

constexpr size_t kMaxPathPartBytes = 255;  // NAME_MAX on Linux file systems
constexpr size_t kMaxPathBytes = 4095;     // PATH_MAX less the terminating NUL

// "" when `path` can name a file here; else what is wrong with it, for a message that names the key.
std::string path_problem(const std::string& path);

// Throws InputError "<what> = '<path…>': <problem>" unless path_problem(path) is "", e.g.
// check_path(FLAGS_out, "--out").
void check_path(const std::string& path, const std::string& what);

}  // namespace hllm
