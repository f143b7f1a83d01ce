#!/usr/bin/env bash
# Builds qemu-system-x86_64 with QEMU's vfio-user server (which Debian's binary package leaves out) from Debian's own
# source package of the QEMU version apt knows (the installed one, else the candidate), once per machine, into a cache
# outside the clone keyed by that version and by the patches in scripts/qemu-patches (fixes to QEMU's device models,
# each file saying why). Only that binary, with minimal features. Nothing is downloaded from anywhere but the
# configured Debian mirror.
#   scripts/build-qemu.sh               build if missing; print the binary's path on stdout
#   scripts/build-qemu.sh --print-path  print the path the binary has (or will have); build nothing
#   scripts/build-qemu.sh --check       exit 0 when the binary is built, 1 otherwise; build nothing
# Environment: SIDE_QEMU_CACHE overrides the cache root (default /var/cache/side as root, else
# ${XDG_CACHE_HOME:-~/.cache}/side). Messages go to stderr; the build log stays in the cache.
set -euo pipefail

say() { echo "build-qemu: $*" >&2; }
fail() {
  say "error: $*"
  exit 1
}

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

# The Debian source version of qemu-system-x86: installed, else the candidate (a binNMU suffix +bN is the binary's).
source_version() {
  local v
  v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
  [[ -n $v ]] || v=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
  [[ -n $v && $v != "(none)" ]] || fail "apt knows no qemu-system-x86 package (is the Debian mirror configured?)"
  echo "${v%+b[0-9]*}"
}

cache_root() {
  if [[ -n ${SIDE_QEMU_CACHE:-} ]]; then
    echo "$SIDE_QEMU_CACHE"
  elif [[ $(id -u) -eq 0 ]]; then
    echo /var/cache/side
  else
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/side"
  fi
}

patches_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/qemu-patches"
patches=()
for p in "$patches_dir"/*.patch; do [[ -f $p ]] && patches+=("$p"); done

# Eight hex digits naming the patch set: a changed patch is a different QEMU, built into a directory of its own.
patch_set_id() { cat "${patches[@]}" | sha256sum | cut -c1-8; }

version=$(source_version)
upstream=${version#*:}        # 1:7.2+dfsg-7+deb12u18 -> 7.2+dfsg-7+deb12u18
dir="$(cache_root)/qemu-${upstream}"
((${#patches[@]} == 0)) || dir+="+side.$(patch_set_id)"
binary="$dir/bin/qemu-system-x86_64"

has_server() { [[ -x $1 ]] && "$1" -object help 2>/dev/null | grep x-vfio-user-server >/dev/null; }

case "${1:-}" in
  --print-path)
    echo "$binary"
    exit 0
    ;;
  --check) has_server "$binary" && exit 0 || exit 1 ;;
  "") ;;
  *) fail "unknown option $1 (use --print-path or --check)" ;;
esac

if has_server "$binary"; then
  echo "$binary"
  exit 0
fi

# The mirrors that serve qemu-system-x86, as apt sees them (URIs without a trailing slash).
qemu_mirrors() {
  apt-cache policy qemu-system-x86 | awk '$2 ~ /^[a-z]+:\/\// && $NF == "Packages" {sub(/\/$/, "", $2); print $2}' | sort -u
}

# deb-src twins of the configured entries for those mirrors (same suites, components and keyring options), in
# deb822 form; one-line "deb" entries become "deb-src" lines. Nothing else is touched.
deb_src_stanzas() {
  local mirrors f
  mirrors=$(qemu_mirrors | paste -sd' ')
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v mirrors=" $mirrors " 'BEGIN {RS = ""; ORS = "\n\n"}
      { uri = ""; n = split($0, l, "\n")
        for (i = 1; i <= n; i++) if (l[i] ~ /^URIs:/) { uri = l[i]; sub(/^URIs:[ \t]*/, "", uri); sub(/\/$/, "", uri) }
        if (uri == "" || index(mirrors, " " uri " ") == 0 || $0 !~ /\nTypes:[ \t]*deb[ \t]*(\n|$)|^Types:[ \t]*deb[ \t]*(\n|$)/) next
        out = ""
        for (i = 1; i <= n; i++) { line = l[i]; if (line ~ /^Types:/) line = "Types: deb-src"; if (line !~ /^#/) out = out line "\n" }
        printf "%s\n", out }' "$f"
  done
}

deb_src_lines() {
  local mirrors f m
  mirrors=$(qemu_mirrors | paste -sd' ')
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    for m in $mirrors; do grep -E "^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?${m//./\\.}/?[[:space:]]" "$f" || true; done |
      sed 's/^deb\([[:space:]]\)/deb-src\1/'
  done
}

ensure_deb_src() {
  if apt-cache showsrc qemu 2>/dev/null | grep -x "Version: $version" >/dev/null; then return; fi
  local base=/etc/apt/sources.list.d/side-qemu-deb-src stanzas lines
  stanzas=$(deb_src_stanzas)
  lines=$(deb_src_lines)
  [[ -n $stanzas$lines ]] || fail "no Debian mirror entry for qemu-system-x86 found in apt's sources"
  say "adding deb-src entries for the configured Debian mirror in $base.*"
  [[ -z $stanzas ]] || echo "$stanzas" | $sudo tee "$base.sources" >/dev/null
  [[ -z $lines ]] || echo "$lines" | $sudo tee "$base.list" >/dev/null
  if ! $sudo apt-get update -qq; then
    $sudo rm -f "$base.sources" "$base.list" # never leave apt broken
    fail "apt rejected the deb-src entries; add a deb-src line for your mirror by hand"
  fi
  apt-cache showsrc qemu 2>/dev/null | grep -x "Version: $version" >/dev/null ||
    fail "the mirror has no source package qemu $version"
}

build_deps=(dpkg-dev patchelf meson ninja-build python3 libglib2.0-dev libpixman-1-dev libjson-c-dev libcmocka-dev
  libslirp-dev zlib1g-dev libfdt-dev)

install_build_deps() {
  local missing=() p
  for p in "${build_deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return
  say "installing build dependencies: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "could not install ${missing[*]}"
}

configure_flags=(--target-list=x86_64-softmmu --without-default-features --enable-kvm --enable-tcg
  --enable-multiprocess --enable-vfio-user-server --enable-slirp --enable-fdt=system --disable-docs
  --disable-werror --disable-install-blobs)

build() {
  local work="$dir/src" log="$dir/build.log"
  rm -rf "$work" && mkdir -p "$work" "$dir/bin"
  say "building QEMU $version with the vfio-user server into $dir (once per machine, 10-20 minutes; log: $log)"
  (cd "$work" && apt-get source -qq "qemu=$version") >"$log" 2>&1 || fail "apt-get source qemu=$version failed (see $log)"
  local tree
  tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -1)
  [[ -d $tree/subprojects/libvfio-user ]] || fail "the source package has no subprojects/libvfio-user"
  local p
  for p in "${patches[@]}"; do
    patch -d "$tree" -p1 --forward --quiet <"$p" >>"$log" 2>&1 || fail "$(basename "$p") does not apply (see $log)"
  done
  # The dfsg tarball ships no edk2 firmware blobs; the build would try to unpack them.
  sed -i 's/^unpack_edk2_blobs = .*/unpack_edk2_blobs = false/' "$tree/meson.build"
  mkdir -p "$tree/build"
  (cd "$tree/build" && ../configure "${configure_flags[@]}" && ninja qemu-system-x86_64) >>"$log" 2>&1 ||
    fail "the QEMU build failed (see $log)"
  install_built "$tree/build"
}

# The binary and the libvfio-user it links (a meson subproject, built shared), found through an rpath relative to
# the binary, so the cache directory is all it needs.
install_built() {
  local build=$1 log="$dir/build.log"
  mkdir -p "$dir/lib"
  cp -a "$build"/subprojects/libvfio-user/lib/libvfio-user.so* "$dir/lib/"
  install -m 0755 "$build/qemu-system-x86_64" "$binary.tmp"
  patchelf --set-rpath '$ORIGIN/../lib' "$binary.tmp"
  mv "$binary.tmp" "$binary"
  has_server "$binary" || fail "the built binary has no x-vfio-user-server object (see $log)"
  rm -rf "$dir/src"
  say "built $binary"
}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9 # one build per machine; a second caller waits, then finds the binary
if ! has_server "$binary"; then
  ensure_deb_src
  install_build_deps
  # A build that finished but was not installed (an older version of this script) is installed as it is.
  # (No src directory yet on a fresh machine: find fails, and under pipefail that must not end the script.)
  built=$(find "$dir/src" -mindepth 3 -maxdepth 3 -path '*/build/qemu-system-x86_64' 2>/dev/null | head -1 || true)
  if [[ -n $built ]]; then install_built "$(dirname "$built")"; else build; fi
fi
echo "$binary"
