#!/usr/bin/env bash
# The main job: installs what is missing, builds side, and runs Debian's unmodified e1000 driver in its own sandboxed
# domain process, on an emulated Intel 82540EM whose cable leads into a fresh peer network namespace; the host's
# side0 interface is the driver's net_device, and ping goes through it to the peer. Needs root (CAP_NET_ADMIN).
# Extra arguments go to `side run` (default: e1000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target side
scripts/install.sh   # side, man side and bash completion from any directory
if (($#)); then
  exec ./build/side run "$@"
fi
# The demo pings the peer ten times and ends; without --exec (or --duration) side would run as a service until
# Ctrl-C (README, "Running as a service").
exec ./build/side run e1000 --exec 'ping -c 10 -i 0.2 -w 10 10.77.0.2'
