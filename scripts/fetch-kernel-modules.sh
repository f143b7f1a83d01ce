#!/usr/bin/env bash
# Downloads Debian's linux-image package for one kernel ABI and extracts its modules into a cache the build owns.
# usage: fetch-kernel-modules.sh ABI PACKAGE_VERSION DEST
#   ABI              e.g. 6.1.0-56-amd64 (the release linux-headers-amd64 depends on; never hard-coded)
#   PACKAGE_VERSION  the Debian version of linux-image-ABI that matches the installed headers
#   DEST             directory that receives lib/modules/ABI/...
set -euo pipefail
abi=$1 version=$2 dest=$3
stamp="$dest/.complete-$abi-$version"
[[ -f $stamp ]] && exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fetch() { apt-get download -q -o APT::Sandbox::User=root "linux-image-$abi=$version" >/dev/null 2>&1; }
if ! fetch; then
  # The package lists may be stale or missing on a fresh machine.
  [[ $(id -u) -eq 0 ]] && apt-get update -qq
  fetch || { echo "fetch-kernel-modules: cannot download linux-image-$abi=$version" >&2; exit 1; }
fi
rm -rf "$dest/lib/modules/$abi"
mkdir -p "$dest"
dpkg-deb --fsys-tarfile ./*.deb | tar -x -C "$dest" --wildcards "./lib/modules/$abi/*"
test -d "$dest/lib/modules/$abi/kernel" || { echo "fetch-kernel-modules: no modules in package" >&2; exit 1; }
touch "$stamp"
