#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Folds `perf script -F pid,ip,sym` output into one line per distinct stack ("pid;outer;...;inner count"), the
format flame-graph renderers read; the process id leads, so side and its domain are separate towers.
Used by scripts/profile-datapath.sh."""
import collections
import sys


def main():
    counts = collections.Counter()
    stack, pid = [], None
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        if not line.strip():
            if pid is not None and stack:
                counts[";".join([pid] + stack[::-1])] += 1
            stack, pid = [], None
            continue
        if not line.startswith((" ", "\t")):
            pid = "pid " + line.split()[0]  # the sample's header: the process id
            continue
        fields = line.split(None, 1)
        sym = fields[1] if len(fields) > 1 else "[unknown]"
        stack.append(sym.split("+0x")[0].replace(";", ":"))
    if pid is not None and stack:
        counts[";".join([pid] + stack[::-1])] += 1
    for s, n in counts.most_common():
        print(s, n)


if __name__ == "__main__":
    main()
