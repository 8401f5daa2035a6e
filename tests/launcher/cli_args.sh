# Sourced by the mpirun command-line tests (after `set -u`, with their arguments BUILD_BIN_DIR SOURCE_DIR
# "MPIEXEC FLAGS" DATASET_DIR): sets bin, src, the mpi_flags array and dataset, and a scratch directory
# $tmp that is removed on exit.
bin=$1
src=$2
read -r -a mpi_flags <<< "$3"
dataset=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
