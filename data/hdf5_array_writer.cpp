#include "data/hdf5_array_writer.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/worker_threads.h"
#include "data/hdf5_internal.h"

namespace hllm::data {
namespace {

using hdf5::Handle;
using hdf5::kChunkElements;

// Chunks compressed and written together: what the writer buffers (4 MB of int32), and the unit that keeps
// the file independent of the thread count.
constexpr size_t kBatchChunks = 16;

template <typename T>
hid_t native_type();
template <>
hid_t native_type<int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid_t native_type<int64_t>() {
  return H5T_NATIVE_INT64;
}

// One chunk as HDF5's shuffle then deflate filters make it: byte j of every value together, for each j,
// then zlib at the dataset's level.
template <typename T>
std::vector<unsigned char> compress_chunk(const T* values, std::vector<unsigned char>* shuffled) {
  const size_t count = kChunkElements;
  shuffled->resize(count * sizeof(T));
  const auto* bytes = reinterpret_cast<const unsigned char*>(values);
  for (size_t j = 0; j < sizeof(T); ++j) {
    unsigned char* plane = shuffled->data() + j * count;
    for (size_t i = 0; i < count; ++i) plane[i] = bytes[i * sizeof(T) + j];
  }
  uLongf size = compressBound(static_cast<uLong>(shuffled->size()));
  std::vector<unsigned char> compressed(size);
  const int status = compress2(compressed.data(), &size, shuffled->data(), static_cast<uLong>(shuffled->size()),
                               hdf5::kDeflateLevel);
  HLLM_CHECK(status == Z_OK, "zlib compress2 failed with status ", status);
  compressed.resize(size);
  return compressed;
}

}  // namespace

template <typename T>
Hdf5ArrayWriter<T>::Hdf5ArrayWriter(Hdf5File& file, const std::string& name, int threads)
    : file_(file), name_(name), threads_(std::max(1, threads)) {
  HLLM_HDF5_LOCK;
  const hsize_t initial = 0, unlimited = H5S_UNLIMITED, chunk = kChunkElements;
  const Handle space(H5Screate_simple(1, &initial, &unlimited), H5Sclose);
  const Handle properties(hdf5::untimed_creation_properties(), H5Pclose);
  H5Pset_chunk(properties.get(), 1, &chunk);
  H5Pset_shuffle(properties.get());
  H5Pset_deflate(properties.get(), hdf5::kDeflateLevel);
  dataset_ = H5Dcreate2(static_cast<hid_t>(file_.file_), name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT,
                        properties.get(), H5P_DEFAULT);
  HLLM_CHECK(dataset_ >= 0, "cannot create dataset '", name, "' in '", file_.path(), "'");
  buffer_.reserve(kBatchChunks * kChunkElements);
}

template <typename T>
Hdf5ArrayWriter<T>::~Hdf5ArrayWriter() {
  HLLM_HDF5_LOCK;
  if (dataset_ >= 0) H5Dclose(static_cast<hid_t>(dataset_));
}

template <typename T>
void Hdf5ArrayWriter<T>::append(const T* values, size_t count) {
  HLLM_CHECK(!finished_, "dataset '", name_, "' appended to after finish()");
  const size_t batch = kBatchChunks * kChunkElements;
  while (count > 0) {
    const size_t take = std::min(count, batch - buffer_.size());
    buffer_.insert(buffer_.end(), values, values + take);
    values += take;
    count -= take;
    if (buffer_.size() == batch) write_chunks(kBatchChunks, /*last=*/false);
  }
}

template <typename T>
void Hdf5ArrayWriter<T>::finish() {
  if (finished_) return;
  const size_t chunks = (buffer_.size() + kChunkElements - 1) / kChunkElements;
  if (chunks > 0) write_chunks(chunks, /*last=*/true);
  finished_ = true;
}

template <typename T>
void Hdf5ArrayWriter<T>::write_chunks(size_t chunks, bool last) {
  const auto values = static_cast<int64_t>(buffer_.size());
  buffer_.resize(chunks * kChunkElements, T{0});  // the last chunk padded, as HDF5 pads an edge chunk
  std::vector<std::vector<unsigned char>> compressed(chunks);
  const auto compress_share = [&](size_t worker) {
    std::vector<unsigned char> shuffled;
    for (size_t c = worker; c < chunks; c += static_cast<size_t>(threads_)) {
      compressed[c] = compress_chunk(buffer_.data() + c * kChunkElements, &shuffled);
    }
  };
  run_on_threads(std::min(chunks, static_cast<size_t>(threads_)), compress_share);

  HLLM_HDF5_LOCK;
  const auto dataset = static_cast<hid_t>(dataset_);
  const int64_t appended = last ? values : static_cast<int64_t>(chunks * kChunkElements);  // padding excluded
  const hsize_t extent = static_cast<hsize_t>(written_ + appended);
  HLLM_CHECK(H5Dset_extent(dataset, &extent) >= 0, "cannot extend dataset '", name_, "' in '", file_.path(), "'");
  for (size_t c = 0; c < chunks; ++c) {
    const hsize_t offset = static_cast<hsize_t>(written_) + c * kChunkElements;
    HLLM_CHECK(H5Dwrite_chunk(dataset, H5P_DEFAULT, 0, &offset, compressed[c].size(), compressed[c].data()) >= 0,
               "cannot write dataset '", name_, "' to '", file_.path(), "'");
  }
  written_ += appended;
  buffer_.clear();
}

template class Hdf5ArrayWriter<int32_t>;
template class Hdf5ArrayWriter<int64_t>;

}  // namespace hllm::data
