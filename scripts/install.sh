#!/usr/bin/env bash
# Installs the built side, its manual page and its bash completion under /usr/local (as root, or with sudo), so
# that `side`, `man side` and completion work from any directory. Run after the build (run-demo.sh and run-tests.sh
# do).   scripts/install.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target side side_manpage >/dev/null
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo cmake --install "$build" --prefix /usr/local >/dev/null
echo "install: side $(/usr/local/bin/side --version | head -1 | cut -d' ' -f2-) in /usr/local (man side, bash completion)"
