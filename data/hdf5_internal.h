// What hdf5_file.cpp and hdf5_array_writer.cpp share of HDF5: RAII handles, the library's lock and the
// creation properties every dataset is made with. Not for other files: only these two call HDF5.
#pragma once

#include <hdf5.h>

#include <mutex>

namespace hllm::data::hdf5 {

// Closes an HDF5 id with its own close function when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Elements per chunk of a 1-D dataset, and the deflate level of every compressed dataset.
constexpr hsize_t kChunkElements = 1 << 16;
constexpr int kDeflateLevel = 4;

// Debian's HDF5 is the serial build, which is not thread-safe: every call into the library holds this lock
// (loaders read from their prefetch threads).
std::recursive_mutex& library_mutex();

// A dataset's creation properties, without the modification times HDF5 records by default: the same data
// then gives the same bytes (a dataset written on 1 or 2 threads, today or tomorrow, is the same file).
hid_t untimed_creation_properties();

}  // namespace hllm::data::hdf5

#define HLLM_HDF5_LOCK const std::lock_guard<std::recursive_mutex> hdf5_lock(::hllm::data::hdf5::library_mutex())
