# Third-party dependencies, all from Debian packages (scripts/setup.sh installs them).

# HLLM_DEPS_ROOT: a folder of Debian packages unpacked with `dpkg -x` (scripts/gpu/bundle_deps.sh), for a
# machine where they cannot be installed (the GPU machine, docs/GPU.md). Searched before the system.
set(HLLM_DEPS_ROOT "" CACHE PATH "Debian packages unpacked with dpkg -x (docs/GPU.md); empty: the system's")
if(HLLM_DEPS_ROOT)
  set(_hllm_usr ${HLLM_DEPS_ROOT}/usr)
  list(PREPEND CMAKE_PREFIX_PATH ${_hllm_usr})
  # glog's package file names its find modules by absolute path (/usr/share/glog/cmake).
  list(APPEND CMAKE_MODULE_PATH ${_hllm_usr}/share/glog/cmake)
  # Open MPI's wrappers are relocatable: OPAL_PREFIX makes mpicxx --showme name the unpacked folder.
  set(ENV{OPAL_PREFIX} ${_hllm_usr})
  set(MPI_C_COMPILER ${_hllm_usr}/bin/mpicc.openmpi)
  set(MPI_CXX_COMPILER ${_hllm_usr}/bin/mpicxx.openmpi)
  set(MPIEXEC_EXECUTABLE ${_hllm_usr}/bin/mpirun.openmpi)
  set(HDF5_ROOT ${_hllm_usr}/lib/${CMAKE_LIBRARY_ARCHITECTURE}/hdf5/serial)
  set(ZLIB_ROOT ${_hllm_usr})
endif()

find_package(Torch REQUIRED)
set(MPI_CXX_SKIP_MPICXX ON)  # the C API only; no deprecated C++ bindings
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(gflags REQUIRED)
find_package(glog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(GTest REQUIRED)
find_package(Threads REQUIRED)
# at::parallel_for is a header template whose threads come from an OpenMP pragma: code that calls it (the
# fused CPU ops) runs on one thread unless compiled with OpenMP, the runtime Debian's LibTorch uses too.
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(ZLIB REQUIRED)
find_library(HLLM_SENTENCEPIECE sentencepiece REQUIRED)
find_library(HLLM_SENTENCEPIECE_TRAIN sentencepiece_train REQUIRED)
# tokenizer.json: PCRE2 for the pre-tokenizers' Unicode patterns, ICU for NFC.
find_library(HLLM_PCRE2 pcre2-8 REQUIRED)
find_path(HLLM_PCRE2_INCLUDE_DIR pcre2.h REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc)

# Torch's exported flags carry -D_GLIBCXX_USE_CXX11_ABI and include paths; wrap them in one target.
add_library(hllm_torch INTERFACE)
# libstdc++ first: pip builds of LibTorch export copies of some std:: functions (std::filesystem::remove_all
# among them) that crash when called from outside; listed before libtorch, libstdc++ is the one that binds.
target_link_libraries(hllm_torch INTERFACE stdc++ ${TORCH_LIBRARIES})
target_include_directories(hllm_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})

# CUDA is used when the LibTorch found was built with it and NCCL is present.
set(_hllm_cuda_default OFF)
find_path(HLLM_NCCL_INCLUDE_DIR nccl.h HINTS ENV NCCL_ROOT PATH_SUFFIXES include)
find_library(HLLM_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ENV NCCL_ROOT PATH_SUFFIXES lib lib64)
if(TARGET torch_cuda OR TARGET c10_cuda OR CAFFE2_USE_CUDA)
  if(HLLM_NCCL_INCLUDE_DIR AND HLLM_NCCL_LIBRARY)
    set(_hllm_cuda_default ON)
  endif()
endif()
option(HLLM_WITH_CUDA "Build the CUDA/NCCL paths" ${_hllm_cuda_default})
if(HLLM_WITH_CUDA AND NOT (HLLM_NCCL_INCLUDE_DIR AND HLLM_NCCL_LIBRARY))
  message(FATAL_ERROR "HLLM_WITH_CUDA=ON but NCCL was not found; set NCCL_ROOT to the folder holding include/nccl.h and lib/libnccl.so")
endif()
if(HLLM_WITH_CUDA)
  find_package(CUDAToolkit REQUIRED)
  target_link_libraries(hllm_torch INTERFACE CUDA::cudart)
endif()
message(STATUS "HLLM_WITH_CUDA: ${HLLM_WITH_CUDA}")

# Multi-rank tests: mpirun needs --allow-run-as-root when run by root (CI is root).
execute_process(COMMAND id -u OUTPUT_VARIABLE HLLM_UID OUTPUT_STRIP_TRAILING_WHITESPACE)
set(HLLM_MPIEXEC_FLAGS --oversubscribe)
if(HLLM_UID STREQUAL "0")
  list(APPEND HLLM_MPIEXEC_FLAGS --allow-run-as-root)
endif()
