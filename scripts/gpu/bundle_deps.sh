#!/usr/bin/env bash
# Packs the Debian packages the build needs besides LibTorch, CUDA and NCCL (MPI, HDF5, gflags, glog,
# GoogleTest, nlohmann-json, SentencePiece, PCRE2, ICU, zlib and the libraries they load) into one archive, for a GPU
# machine that has a compiler, CMake and a CUDA PyTorch but no package registry (docs/GPU.md).
# Run on a Debian 12 machine with apt; writes .gpu/deps.tar.xz (ignored by git through .git/info/exclude).
#
#   scripts/gpu/bundle_deps.sh            then carry .gpu to the GPU machine and run scripts/gpu/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude

# Runtime libraries with their dependency closure, minus what any Linux with a C++ compiler has (libc,
# libstdc++, zlib's runtime is kept: the unpacked libz.so points at it) and what only pulls in X11
# or PAM.
roots="libgflags2.2 libgoogle-glog0v6 libhdf5-103-1 libopenmpi3 openmpi-bin openmpi-common libsentencepiece0 libpmix2 zlib1g libpcre2-8-0 libicu72"
skip='^(adduser|cdebconf|debconf|dpkg|gcc-12-base|install-info|libc6|libgcc-s1|libstdc\+\+6|libcrypt1|libpam.*|passwd|tar|openssh-client|readline-common|libselinux1|libsemanage.*|libsepol2|libaudit.*|libacl1|libdebian-installer4|libnewt0.52|libslang2|libtextwrap1|libtinfo6|libreadline8|libxml2|libhwloc-plugins|ocl-icd-libopencl1|libx11.*|libxau6|libxcb1|libxdmcp6|libxext6|libmd0|libbsd0|libedit2|libfido2-1|libcbor0.8|libdb5.3|libcap-ng0|libuuid1|libudev1|libatomic1|libcom-err2|libkeyutils1)$'
runtime=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
            --no-enhances $roots | grep -v '^[ <]' | sort -u | grep -Ev "$skip")
# Headers, CMake files and link-time symlinks (their own dependencies are not wanted).
dev="libgflags-dev libgoogle-glog-dev libunwind-dev liblzma-dev libgtest-dev libgmock-dev nlohmann-json3-dev
     libhdf5-dev libopenmpi-dev libsentencepiece-dev zlib1g-dev libpcre2-dev libicu-dev"

work=$(mktemp -d)
chmod 755 "$work"  # apt downloads as its own user
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download $runtime $dev > /dev/null)
mkdir -p "$work/root"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
# Static archives are only needed for the CMake targets that name them (gflags, glog) and GoogleTest.
find "$work/root" -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' ! -name 'libgflags*' ! -name 'libglog*' -delete
find "$work/root" -name '*fortran*' -prune -exec rm -rf {} +
rm -rf "$work/root/usr/share/doc" "$work/root/usr/share/man" "$work/root/usr/share/lintian" "$work/root/usr/share/locale"
mkdir -p "$out"
tar -C "$work/root" -cJf "$out/deps.tar.xz" .
echo "wrote $out/deps.tar.xz ($(du -h "$out/deps.tar.xz" | cut -f1)); unpacked: $(du -sh "$work/root" | cut -f1)"
