// SafetensorsFile: reading and writing the safetensors format (Hugging Face) without LibTorch, so the
// parser can be fuzzed on its own.
//
// Format: u64 little-endian N, then N bytes of JSON header, then the data section. The header maps each
// tensor name to {"dtype": "F32"|"F16"|"BF16"|..., "shape": [..], "data_offsets": [begin, end]} with offsets
// relative to the data section; an optional "__metadata__" maps strings to strings.
//
// A file is trusted only after validation: header size within the file and below 100 MiB, valid JSON
// object, known dtypes, non-negative shapes whose element count times the dtype size equals the byte range
// (computed without overflow), ranges inside the data section and not overlapping. Anything else is an
// InputError naming the file and the tensor — a hostile file gives an error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hllm::io {

enum class StDtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

size_t dtype_size(StDtype dtype);
const char* dtype_name(StDtype dtype);  // "F32"

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range in the data section
  uint64_t end = 0;
  int64_t numel() const;
};

struct StHeader {
  std::vector<StTensor> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // where the data section starts in the file
};

// Validates a whole file image (the fuzzer's entry point). `origin` names it in errors.
StHeader parse_safetensors(const uint8_t* bytes, size_t size, const std::string& origin);

// A read-only memory map of a validated safetensors file.
class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const StHeader& header() const { return header_; }
  const StTensor* find(const std::string& name) const;  // nullptr when absent
  const uint8_t* data(const StTensor& tensor) const { return bytes_ + header_.data_offset + tensor.begin; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  StHeader header_;
};

// One tensor to write: raw little-endian bytes of `numel(shape) * dtype_size(dtype)`.
struct StWriteTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

// Writes a safetensors file (tensors in name order, 8-byte aligned data), via a temporary file renamed
// into place.
void write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The same, with each tensor's bytes asked for when it is written (`data` is not read): fill(i, buffer,
// bytes) writes tensors[i]'s bytes, called once per tensor in the order given (which is also the order of
// the data in the file), so a caller can produce them one after another. Memory is bounded by the
// largest tensor, not the file.
void write_safetensors_streaming(const std::string& path, const std::vector<StWriteTensor>& tensors,
                                 const std::map<std::string, std::string>& metadata,
                                 const std::function<void(size_t, void*, size_t)>& fill);

}  // namespace hllm::io
