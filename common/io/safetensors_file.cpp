#include "common/io/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "common/error.h"
#include "common/json_input.h"

namespace hllm::io {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

const std::pair<const char*, StDtype> kDtypes[] = {
    {"F64", StDtype::kF64}, {"F32", StDtype::kF32}, {"F16", StDtype::kF16}, {"BF16", StDtype::kBF16},
    {"I64", StDtype::kI64}, {"I32", StDtype::kI32}, {"I16", StDtype::kI16}, {"I8", StDtype::kI8},
    {"U8", StDtype::kU8},   {"BOOL", StDtype::kBool}};

[[noreturn]] void bad(const std::string& origin, const std::string& what) {
  throw InputError(origin + ": not a valid safetensors file: " + what);
}

}  // namespace

size_t dtype_size(StDtype dtype) {
  switch (dtype) {
    case StDtype::kF64:
    case StDtype::kI64: return 8;
    case StDtype::kF32:
    case StDtype::kI32: return 4;
    case StDtype::kF16:
    case StDtype::kBF16:
    case StDtype::kI16: return 2;
    case StDtype::kI8:
    case StDtype::kU8:
    case StDtype::kBool: return 1;
  }
  return 1;
}

const char* dtype_name(StDtype dtype) {
  for (const auto& [name, value] : kDtypes) {
    if (value == dtype) return name;
  }
  return "?";
}

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (const auto d : shape) n *= d;
  return n;
}

StHeader parse_safetensors(const uint8_t* bytes, size_t size, const std::string& origin) {
  if (size < 8) bad(origin, detail::concat("only ", size, " bytes (the header length alone takes 8)"));
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > kMaxHeaderBytes) bad(origin, detail::concat("header of ", header_size, " bytes (limit 100 MiB)"));
  if (header_size > size - 8) {
    bad(origin, detail::concat("header of ", header_size, " bytes but the file has ", size - 8, " after the length"));
  }
  const nlohmann::json json =
      parse_json(std::string_view(reinterpret_cast<const char*>(bytes) + 8, header_size), origin + ": header");
  if (!json.is_object()) bad(origin, "header is not a JSON object");

  StHeader header;
  header.data_offset = 8 + header_size;
  const uint64_t data_size = size - header.data_offset;
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) bad(origin, "__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) bad(origin, "__metadata__ value of '" + key + "' is not a string");
        header.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!entry.is_object()) bad(origin, where + " is not an object");
    StTensor tensor;
    tensor.name = name;
    const auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string()) bad(origin, where + " has no dtype string");
    bool known = false;
    for (const auto& [dtype_text, value] : kDtypes) {
      if (dtype->get<std::string>() == dtype_text) {
        tensor.dtype = value;
        known = true;
      }
    }
    if (!known) bad(origin, where + " has unsupported dtype '" + dtype->get<std::string>() + "'");
    const auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) bad(origin, where + " has no shape list");
    // Element count without overflow: every dimension and the running product stay below 2^62.
    uint64_t numel = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
        bad(origin, where + " has a shape entry that is not a non-negative integer");
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (1ull << 62) || (dim != 0 && numel > (1ull << 62) / dim)) bad(origin, where + " has a shape too large");
      numel *= dim;
      tensor.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned()) {
      bad(origin, where + " has no data_offsets [begin, end] of non-negative integers");
    }
    tensor.begin = (*offsets)[0].get<uint64_t>();
    tensor.end = (*offsets)[1].get<uint64_t>();
    if (tensor.begin > tensor.end || tensor.end > data_size) {
      bad(origin, detail::concat(where, " has bytes [", tensor.begin, ", ", tensor.end, ") outside the ", data_size,
                                 "-byte data section"));
    }
    const uint64_t item = dtype_size(tensor.dtype);
    if (numel > std::numeric_limits<uint64_t>::max() / item || numel * item != tensor.end - tensor.begin) {
      bad(origin, detail::concat(where, " has ", tensor.end - tensor.begin, " bytes but shape and dtype need ",
                                 numel, " x ", item));
    }
    header.tensors.push_back(std::move(tensor));
  }
  std::vector<const StTensor*> by_offset;
  for (const auto& t : header.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const StTensor* a, const StTensor* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      bad(origin, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
    }
  }
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const StTensor& a, const StTensor& b) { return a.name < b.name; });
  return header;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw InputError("cannot open '" + path + "'");
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    ::close(fd);
    throw InputError("cannot stat '" + path + "'");
  }
  file->size_ = static_cast<size_t>(info.st_size);
  if (file->size_ > 0) {
    void* map = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      throw InputError("cannot map '" + path + "'");
    }
    file->bytes_ = static_cast<const uint8_t*>(map);
  }
  ::close(fd);
  static const uint8_t kEmpty[1] = {0};
  file->header_ = parse_safetensors(file->bytes_ ? file->bytes_ : kEmpty, file->size_, path);
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (bytes_ != nullptr) ::munmap(const_cast<uint8_t*>(bytes_), size_);
}

const StTensor* SafetensorsFile::find(const std::string& name) const {
  const auto it = std::lower_bound(header_.tensors.begin(), header_.tensors.end(), name,
                                   [](const StTensor& t, const std::string& n) { return t.name < n; });
  return it != header_.tensors.end() && it->name == name ? &*it : nullptr;
}

void write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<StWriteTensor> sorted = tensors;
  std::sort(sorted.begin(), sorted.end(), [](const StWriteTensor& a, const StWriteTensor& b) { return a.name < b.name; });
  write_safetensors_streaming(path, sorted, metadata, [&](size_t i, void* destination, size_t bytes) {
    std::memcpy(destination, sorted[i].data, bytes);
  });
}

void write_safetensors_streaming(const std::string& path, const std::vector<StWriteTensor>& tensors,
                                 const std::map<std::string, std::string>& metadata,
                                 const std::function<void(size_t, void*, size_t)>& fill) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0, largest = 0;
  std::vector<uint64_t> sizes(tensors.size());
  for (const size_t i : order) {
    const StWriteTensor& t = tensors[i];
    HLLM_CHECK(t.name != "__metadata__", "a tensor cannot be named __metadata__");
    int64_t numel = 1;
    for (const auto d : t.shape) numel *= d;
    sizes[i] = static_cast<uint64_t>(numel) * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + sizes[i]}}};
    offset += sizes[i];
    largest = std::max(largest, sizes[i]);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data section 8-byte aligned
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary);
    HLLM_CHECK(out.good(), "cannot write '", temp, "'");
    uint8_t length[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    std::vector<uint8_t> buffer(largest);  // one tensor at a time
    for (const size_t i : order) {
      fill(i, buffer.data(), sizes[i]);
      out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(sizes[i]));
    }
    HLLM_CHECK(out.good(), "cannot write '", temp, "'");
  }
  HLLM_CHECK(std::rename(temp.c_str(), path.c_str()) == 0, "cannot rename '", temp, "' to '", path, "'");
}

}  // namespace hllm::io
