#!/usr/bin/env bash
# Installs every Debian package side needs to build, test and run. Quick when nothing is missing.
# The kernel ABI (headers + the matching Debian module binaries) is resolved by CMake at configure time.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git   # build
  ccache                                              # compiler cache: CI's three builds and fresh clones reuse it
  clang lld llvm libclang-rt-14-dev                   # libFuzzer and sanitizers
  clang-format                                        # style check
  libgtest-dev libgmock-dev                           # unit tests
  libzydis-dev                                        # x86 decoding for MMIO/port-I/O emulation
  zlib1g-dev                                          # CRC-32 of the emulated NIC's frame check sequences
  libseccomp-dev libcap-dev                           # domain sandbox
  libsystemd-dev                                      # service mode: sd_notify (readiness for systemd)
  linux-headers-amd64                                 # kbuild + Module.symvers of Debian's kernel ABI
  kmod bc flex bison libelf-dev dwarves               # what kbuild may call
  iproute2 iputils-ping iperf3 tcpdump tshark         # host-side networking tests
  python3-matplotlib nlohmann-json3-dev               # benchmark: plots, reading iperf3's JSON
  linux-perf                                          # scripts/profile-datapath.sh: perf stat/record
  help2man man-db bash-completion                     # manual page and shell completion
  python3-jsonschema                                  # the --json documents checked against docs/schemas
  libfuse3-dev fuse3                                  # the disk as a file (FUSE export; fusermount3)
  libnbd-bin qemu-utils nbd-client                    # NBD export tests: nbdinfo/nbdcopy, qemu-img/qemu-io
  e2fsprogs fio                                       # block tests: mkfs.ext4/fsck.ext4 on the exported disk
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # tshark asks whether non-root users may capture; the default answer is fine.
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
