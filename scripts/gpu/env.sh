# Source this on the GPU machine (docs/GPU.md): unpacks .gpu/deps.tar.xz once and exports where the
# unpacked Debian packages, the CUDA LibTorch of python3's torch and NCCL are.
#
#   source scripts/gpu/env.sh
# Exports HLLM_DEPS_ROOT, TORCH_PREFIX, NCCL_ROOT, OPAL_PREFIX, PATH and HLLM_GPU_LIBS. Programs of this
# build need `LD_LIBRARY_PATH=$HLLM_GPU_LIBS` (the unpacked libraries load each other by name); it is not
# exported, so that python3 keeps its own system libraries.
_hllm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export HLLM_DEPS_ROOT=$_hllm_root/.gpu/root
if [ ! -d "$HLLM_DEPS_ROOT/usr" ]; then
  mkdir -p "$HLLM_DEPS_ROOT" && tar -C "$HLLM_DEPS_ROOT" -xJf "$_hllm_root/.gpu/deps.tar.xz"
fi
export TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
export NCCL_ROOT=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])')
export OPAL_PREFIX=$HLLM_DEPS_ROOT/usr        # Open MPI finds its components and help files here
export PATH=$HLLM_DEPS_ROOT/usr/bin:$PATH
export HLLM_GPU_LIBS=$HLLM_DEPS_ROOT/usr/lib/x86_64-linux-gnu:$HLLM_DEPS_ROOT/usr/lib/x86_64-linux-gnu/openmpi/lib:$(dirname "$TORCH_PREFIX")/../lib:$NCCL_ROOT/lib
# mpirun is Debian's orterun under its Debian name.
[ -e "$HLLM_DEPS_ROOT/usr/bin/mpirun" ] || ln -s mpirun.openmpi "$HLLM_DEPS_ROOT/usr/bin/mpirun"
unset _hllm_root
