#include "common/io/file_checksum.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <vector>

#include "common/error.h"

namespace hllm::io {

std::string file_crc32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read '" + path + "'");
  uLong crc = crc32(0L, Z_NULL, 0);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = in.gcount();
    if (n > 0) crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(n));
  }
  char text[9];
  std::snprintf(text, sizeof(text), "%08lx", static_cast<unsigned long>(crc));
  return text;
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  HLLM_CHECK(fd >= 0, "cannot open '", path, "' to flush it to disk");
  const int rc = ::fsync(fd);
  ::close(fd);
  HLLM_CHECK(rc == 0, "fsync of '", path, "' failed");
}

}  // namespace hllm::io
