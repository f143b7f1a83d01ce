#!/usr/bin/env bash
# Generates side's manual page from its own help texts (help2man), one section per command, plus the sections in
# dist/man/side.h2m (exit statuses, environment).   scripts/make-manpage.sh SIDE OUTPUT
set -euo pipefail
side=$1 output=$2
root=$(cd "$(dirname "$0")/.." && pwd)
include=$(mktemp)
trap 'rm -f "$include"' EXIT
cat "$root/dist/man/side.h2m" >"$include"
# Each command's usage, preformatted as the terminal shows it.
echo "[COMMANDS]" >>"$include"
for command in $("$side" __complete commands); do
  case $command in version | help) continue ;; esac
  {
    echo ".SS side $command"
    echo ".nf"
    "$side" "$command" --help | sed 's/\\/\\e/g; s/^\./\\\&./'
    echo ".fi"
  } >>"$include"
done
# The version line only ("side 0.1 (git ...)"): help2man would add the rest of --version's output to DESCRIPTION.
version=$("$side" --version | head -n 1)
help2man --no-info --section=1 --version-string="$version" --name="run unmodified Linux kernel drivers in isolated user-space domains" \
  --include="$include" --output="$output" "$side"
