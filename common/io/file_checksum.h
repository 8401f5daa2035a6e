// CRC-32 (zlib) of a whole file, and fsync of files and directories: what makes a written dataset or
// checkpoint verifiable and durable.
#pragma once

#include <cstdint>
#include <string>

namespace hllm::io {

// CRC-32 of the file's bytes, as 8 lowercase hex digits. Throws InputError when it cannot be read.
std::string file_crc32(const std::string& path);

// Flushes a file's or directory's data to stable storage. Throws Error on failure.
void fsync_path(const std::string& path);

}  // namespace hllm::io
