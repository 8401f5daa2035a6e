// Hdf5ArrayWriter: a 1-D int32 or int64 dataset written while it is produced, so that a large array (a
// catalogue's tokens, every user's items) is never held whole in memory, and compressed on several
// threads. The values are cut into chunks of hdf5::kChunkElements, each shuffled and deflated as HDF5's own
// filters would (any HDF5 reader decompresses them) by `threads` threads, and written in order. A batch of
// chunks is compressed and written once that many values are buffered, whatever the thread count, so the
// file is the same bytes for any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/hdf5_file.h"

namespace hllm::data {

template <typename T>
class Hdf5ArrayWriter {
 public:
  // Creates dataset `name` in `file` (which must outlive the writer), empty and growing.
  Hdf5ArrayWriter(Hdf5File& file, const std::string& name, int threads);
  ~Hdf5ArrayWriter();
  Hdf5ArrayWriter(const Hdf5ArrayWriter&) = delete;
  Hdf5ArrayWriter& operator=(const Hdf5ArrayWriter&) = delete;

  void append(const T* values, size_t count);
  void append(const std::vector<T>& values) { append(values.data(), values.size()); }
  // Writes what is buffered (the last chunk padded with zeros, as HDF5 pads it): the dataset's length is
  // every value appended. A writer destroyed unfinished (an error) leaves its file to be thrown away.
  void finish();
  int64_t size() const { return written_ + static_cast<int64_t>(buffer_.size()); }

 private:
  void write_chunks(size_t chunks, bool last);

  Hdf5File& file_;
  std::string name_;
  int threads_;
  int64_t dataset_ = -1;  // hid_t
  std::vector<T> buffer_;
  int64_t written_ = 0;  // values in chunks already written
  bool finished_ = false;
};

extern template class Hdf5ArrayWriter<int32_t>;
extern template class Hdf5ArrayWriter<int64_t>;

}  // namespace hllm::data
