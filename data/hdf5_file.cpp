#include "data/hdf5_file.h"

#include <algorithm>
#include <functional>

#include "common/error.h"
#include "data/hdf5_internal.h"

namespace hllm::data {
namespace hdf5 {

std::recursive_mutex& library_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

hid_t untimed_creation_properties() {
  const hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(properties, false);
  return properties;
}

}  // namespace hdf5

namespace {
using hdf5::Handle;
using hdf5::kChunkElements;
using hdf5::untimed_creation_properties;

// HDF5 prints its own error stack to stderr by default; we report errors ourselves.
void silence_hdf5() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

constexpr size_t kChunkCacheBytes = 32 << 20;  // per open dataset

}  // namespace

Hdf5File::Hdf5File(const std::string& path, Mode mode) : path_(path) {
  HLLM_HDF5_LOCK;
  silence_hdf5();
  if (mode == Mode::kCreate) {
    const Handle creation(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
    H5Pset_obj_track_times(creation.get(), false);  // the root group's times too
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, creation.get(), H5P_DEFAULT);
    HLLM_CHECK(file_ >= 0, "cannot create HDF5 file '", path, "'");
  } else {
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file_ < 0) {
      throw InputError("cannot open '" + path + "' as HDF5 (missing, unreadable, truncated or not HDF5)");
    }
  }
}

Hdf5File::~Hdf5File() {
  HLLM_HDF5_LOCK;
  for (const auto& [name, dataset] : open_datasets_) H5Dclose(dataset);
  if (file_ >= 0) H5Fclose(file_);
}

int64_t Hdf5File::open_dataset(const std::string& name) const {
  // Datasets stay open: HDF5's chunk cache lives in the open dataset, so many small hyperslab reads of
  // one dataset decompress each chunk once instead of once per read.
  const auto found = open_datasets_.find(name);
  if (found != open_datasets_.end()) return found->second;
  if (!has(name)) throw InputError("'" + path_ + "' has no dataset '" + name + "'");
  const Handle access(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_chunk_cache(access.get(), 12421, kChunkCacheBytes, 1.0);
  const hid_t dataset = H5Dopen2(file_, name.c_str(), access.get());
  if (dataset < 0) throw InputError("cannot open dataset '" + name + "' in '" + path_ + "'");
  open_datasets_.emplace(name, dataset);
  return dataset;
}

template <typename T>
void Hdf5File::write_numeric(const std::string& name, const std::vector<T>& values, int64_t type) {
  HLLM_HDF5_LOCK;
  const hsize_t n = values.size();
  const Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  const Handle properties(untimed_creation_properties(), H5Pclose);
  if (n > 0) {
    const hsize_t chunk = std::min<hsize_t>(n, kChunkElements);
    H5Pset_chunk(properties.get(), 1, &chunk);
    H5Pset_shuffle(properties.get());
    H5Pset_deflate(properties.get(), hdf5::kDeflateLevel);
  }
  const Handle dataset(H5Dcreate2(file_, name.c_str(), type, space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
                       H5Dclose);
  HLLM_CHECK(dataset.valid(), "cannot create dataset '", name, "' in '", path_, "'");
  if (n > 0) {
    HLLM_CHECK(H5Dwrite(dataset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0,
               "cannot write dataset '", name, "' to '", path_, "'");
  }
}

void Hdf5File::write_int64(const std::string& name, const std::vector<int64_t>& values) {
  write_numeric(name, values, H5T_NATIVE_INT64);
}

void Hdf5File::write_int32(const std::string& name, const std::vector<int32_t>& values) {
  write_numeric(name, values, H5T_NATIVE_INT32);
}

void Hdf5File::write_strings(const std::string& name, const std::vector<std::string>& values) {
  HLLM_HDF5_LOCK;
  const hsize_t n = values.size();
  const Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  const Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  const Handle properties(untimed_creation_properties(), H5Pclose);
  const Handle dataset(
      H5Dcreate2(file_, name.c_str(), type.get(), space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT), H5Dclose);
  HLLM_CHECK(dataset.valid(), "cannot create dataset '", name, "' in '", path_, "'");
  std::vector<const char*> pointers;
  for (const auto& value : values) pointers.push_back(value.c_str());
  if (n > 0) {
    HLLM_CHECK(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) >= 0,
               "cannot write dataset '", name, "' to '", path_, "'");
  }
}

void Hdf5File::write_float32_matrix(const std::string& name, int64_t rows, int64_t cols, const float* values) {
  HLLM_HDF5_LOCK;
  const hsize_t shape[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  const Handle space(H5Screate_simple(2, shape, nullptr), H5Sclose);
  const Handle properties(untimed_creation_properties(), H5Pclose);
  if (rows > 0 && cols > 0) {
    const hsize_t chunk[2] = {std::max<hsize_t>(1, std::min<hsize_t>(shape[0], kChunkElements / shape[1])), shape[1]};
    H5Pset_chunk(properties.get(), 2, chunk);
    H5Pset_shuffle(properties.get());
    H5Pset_deflate(properties.get(), hdf5::kDeflateLevel);
  }
  const Handle dataset(
      H5Dcreate2(file_, name.c_str(), H5T_NATIVE_FLOAT, space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
      H5Dclose);
  HLLM_CHECK(dataset.valid(), "cannot create dataset '", name, "' in '", path_, "'");
  if (rows > 0 && cols > 0) {
    HLLM_CHECK(H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0,
               "cannot write dataset '", name, "' to '", path_, "'");
  }
}

void Hdf5File::write_attribute(const std::string& name, int64_t value) {
  HLLM_HDF5_LOCK;
  const Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  const Handle attribute(H5Acreate2(file_, name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                         H5Aclose);
  HLLM_CHECK(attribute.valid() && H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value) >= 0,
             "cannot write attribute '", name, "' to '", path_, "'");
}

bool Hdf5File::has(const std::string& name) const {
  HLLM_HDF5_LOCK;
  return H5Lexists(file_, name.c_str(), H5P_DEFAULT) > 0;
}

int64_t Hdf5File::length(const std::string& name) const {
  HLLM_HDF5_LOCK;
  if (!has(name)) throw InputError("'" + path_ + "' has no dataset '" + name + "'");
  const Handle space(H5Dget_space(open_dataset(name)), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) != 1) {
    throw InputError("dataset '" + name + "' in '" + path_ + "' is not one-dimensional");
  }
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space.get(), &n, nullptr);
  return static_cast<int64_t>(n);
}

template <typename T>
std::vector<T> Hdf5File::read_numeric(const std::string& name, int64_t offset, int64_t count, int64_t type) const {
  HLLM_HDF5_LOCK;
  const int64_t total = length(name);
  if (count < 0) count = total - offset;
  if (offset < 0 || count < 0 || offset + count > total) {
    throw InputError(detail::concat("'", path_, "': reading elements [", offset, ", ", offset + count, ") of dataset '",
                                    name, "', which has ", total));
  }
  std::vector<T> values(count);
  if (count == 0) return values;
  const hid_t dataset = open_dataset(name);
  const Handle file_space(H5Dget_space(dataset), H5Sclose);
  const hsize_t start = offset, size = count;
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &size, nullptr);
  const Handle memory_space(H5Screate_simple(1, &size, nullptr), H5Sclose);
  if (H5Dread(dataset, type, memory_space.get(), file_space.get(), H5P_DEFAULT, values.data()) < 0) {
    throw InputError("cannot read dataset '" + name + "' of '" + path_ + "' (the file is damaged or truncated)");
  }
  return values;
}

std::vector<int64_t> Hdf5File::read_int64(const std::string& name, int64_t offset, int64_t count) const {
  return read_numeric<int64_t>(name, offset, count, H5T_NATIVE_INT64);
}

std::vector<int32_t> Hdf5File::read_int32(const std::string& name, int64_t offset, int64_t count) const {
  return read_numeric<int32_t>(name, offset, count, H5T_NATIVE_INT32);
}

std::vector<std::string> Hdf5File::read_strings(const std::string& name, int64_t offset, int64_t count) const {
  HLLM_HDF5_LOCK;
  const int64_t total = length(name);
  if (count < 0) count = total - offset;
  if (offset < 0 || count < 0 || offset + count > total) {
    throw InputError(detail::concat("'", path_, "': reading strings [", offset, ", ", offset + count, ") of '", name,
                                    "', which has ", total));
  }
  std::vector<std::string> values;
  if (count == 0) return values;
  const hid_t dataset = open_dataset(name);
  const Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);  // as written; HDF5 does not convert between ASCII and UTF-8
  const Handle file_space(H5Dget_space(dataset), H5Sclose);
  const hsize_t start = offset, size = count;
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &size, nullptr);
  const Handle memory_space(H5Screate_simple(1, &size, nullptr), H5Sclose);
  std::vector<char*> pointers(count, nullptr);
  if (H5Dread(dataset, type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT, pointers.data()) < 0) {
    throw InputError("cannot read dataset '" + name + "' of '" + path_ + "' (the file is damaged or truncated)");
  }
  for (char* p : pointers) values.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type.get(), memory_space.get(), H5P_DEFAULT, pointers.data());
  return values;
}

std::pair<int64_t, int64_t> Hdf5File::matrix_shape(const std::string& name) const {
  HLLM_HDF5_LOCK;
  const Handle space(H5Dget_space(open_dataset(name)), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) != 2) {
    throw InputError("dataset '" + name + "' in '" + path_ + "' is not two-dimensional");
  }
  hsize_t shape[2] = {0, 0};
  H5Sget_simple_extent_dims(space.get(), shape, nullptr);
  return {static_cast<int64_t>(shape[0]), static_cast<int64_t>(shape[1])};
}

std::vector<float> Hdf5File::read_float32_rows(const std::string& name, int64_t first, int64_t count) const {
  HLLM_HDF5_LOCK;
  const auto [rows, cols] = matrix_shape(name);
  if (first < 0 || count < 0 || first + count > rows) {
    throw InputError(detail::concat("'", path_, "': reading rows [", first, ", ", first + count, ") of dataset '", name,
                                    "', which has ", rows));
  }
  std::vector<float> values(static_cast<size_t>(count * cols));
  if (values.empty()) return values;
  const hid_t dataset = open_dataset(name);
  const Handle file_space(H5Dget_space(dataset), H5Sclose);
  const hsize_t start[2] = {static_cast<hsize_t>(first), 0}, size[2] = {static_cast<hsize_t>(count),
                                                                       static_cast<hsize_t>(cols)};
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, size, nullptr);
  const Handle memory_space(H5Screate_simple(2, size, nullptr), H5Sclose);
  if (H5Dread(dataset, H5T_NATIVE_FLOAT, memory_space.get(), file_space.get(), H5P_DEFAULT, values.data()) < 0) {
    throw InputError("cannot read dataset '" + name + "' of '" + path_ + "' (the file is damaged or truncated)");
  }
  return values;
}

bool Hdf5File::has_attribute(const std::string& name) const {
  HLLM_HDF5_LOCK;
  return H5Aexists(file_, name.c_str()) > 0;
}

int64_t Hdf5File::read_attribute(const std::string& name) const {
  HLLM_HDF5_LOCK;
  if (H5Aexists(file_, name.c_str()) <= 0) throw InputError("'" + path_ + "' has no attribute '" + name + "'");
  const Handle attribute(H5Aopen(file_, name.c_str(), H5P_DEFAULT), H5Aclose);
  int64_t value = 0;
  if (!attribute.valid() || H5Aread(attribute.get(), H5T_NATIVE_INT64, &value) < 0) {
    throw InputError("cannot read attribute '" + name + "' of '" + path_ + "'");
  }
  return value;
}

}  // namespace hllm::data
