#!/usr/bin/env bash
# Installs the Debian packages the HLLM trainer needs. Idempotent: silent when everything is present.
# As root it installs what is missing with apt-get; otherwise it prints the exact command and exits 1.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU)
  libopenblas0-openmp     # without it LibTorch falls back to the reference BLAS (~7x slower)
  libopenmpi-dev openmpi-bin
  libhdf5-dev zlib1g-dev
  libgflags-dev libgoogle-glog-dev
  libgtest-dev libgmock-dev
  nlohmann-json3-dev
  libsentencepiece-dev
  libpcre2-dev libicu-dev # tokenizer.json: Unicode patterns (PCRE2) and NFC (ICU)
  python3-h5py            # tests check that h5py reads the datasets hllm_prepare writes
  gnuplot-nox             # hllm_plot draws the training curves
  slurmctld slurmd slurm-client munge  # a local Slurm cluster for the job scripts (scripts/slurm/local_cluster.sh)
  iproute2 util-linux     # its network namespaces (ip), nsenter and unshare
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/setup.sh: missing Debian packages. Install them as root with:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "scripts/setup.sh: installing ${missing[*]}"
log=$(mktemp /tmp/hllm-setup.XXXXXX.log)
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } > "$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "scripts/setup.sh: apt-get failed; full log in $log" >&2
  exit 1
fi
rm -f "$log"
