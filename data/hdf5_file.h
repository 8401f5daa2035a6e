// Hdf5File: the little of HDF5 the datasets need, with RAII handles and every return code checked.
// Errors name the file and the dataset. Datasets are 1-D, plus 2-D float32 matrices (embedding tables);
// numeric ones are written chunked and gzip-compressed (whole, or while produced by data/hdf5_array_writer.h),
// and read whole or by hyperslab (a range of elements or rows), never more than asked for.
// Thread-safe: calls into the (serial, non-thread-safe) HDF5 library are serialised by one lock.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hllm::data {

class Hdf5File {
 public:
  enum class Mode { kRead, kCreate };

  // kCreate truncates an existing file. Throws InputError when the file cannot be opened as HDF5.
  Hdf5File(const std::string& path, Mode mode);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  const std::string& path() const { return path_; }

  void write_int64(const std::string& name, const std::vector<int64_t>& values);
  void write_int32(const std::string& name, const std::vector<int32_t>& values);
  void write_strings(const std::string& name, const std::vector<std::string>& values);
  // rows x cols float32, row-major, chunked by whole rows (so reading a range of rows decompresses no more).
  void write_float32_matrix(const std::string& name, int64_t rows, int64_t cols, const float* values);
  void write_attribute(const std::string& name, int64_t value);  // on the file's root group

  bool has(const std::string& name) const;
  int64_t length(const std::string& name) const;  // elements of a 1-D dataset

  // Elements [offset, offset + count) of a 1-D dataset; count < 0 = to the end.
  std::vector<int64_t> read_int64(const std::string& name, int64_t offset = 0, int64_t count = -1) const;
  std::vector<int32_t> read_int32(const std::string& name, int64_t offset = 0, int64_t count = -1) const;
  std::vector<std::string> read_strings(const std::string& name, int64_t offset = 0, int64_t count = -1) const;
  // The shape of a 2-D dataset (throws InputError naming the file when it is not 2-D).
  std::pair<int64_t, int64_t> matrix_shape(const std::string& name) const;
  // Rows [first, first + count) of a 2-D float32 dataset, row-major.
  std::vector<float> read_float32_rows(const std::string& name, int64_t first, int64_t count) const;
  int64_t read_attribute(const std::string& name) const;
  bool has_attribute(const std::string& name) const;

 private:
  template <typename T>
  friend class Hdf5ArrayWriter;
  template <typename T>
  void write_numeric(const std::string& name, const std::vector<T>& values, int64_t type);
  template <typename T>
  std::vector<T> read_numeric(const std::string& name, int64_t offset, int64_t count, int64_t type) const;

  int64_t open_dataset(const std::string& name) const;  // cached; returns an hid_t

  std::string path_;
  int64_t file_ = -1;  // hid_t
  mutable std::map<std::string, int64_t> open_datasets_;
};

}  // namespace hllm::data
