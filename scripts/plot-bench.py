#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Plots of `side bench` results: throughput and CPU per packet against frame size, in-process against isolated.

usage: plot-bench.py RESULTS.json OUT_DIR   (writes OUT_DIR/throughput.png and OUT_DIR/cpu.png when the results
hold throughput points, and prints the name of each file it wrote)
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"inproc": ("in-process", "tab:blue"), "process": ("isolated", "tab:orange")}
DIRECTION = {"tx": ("transmit", "-"), "rx": ("receive", "--")}


def series(points, isolation, direction, value):
    pts = sorted((p["frame_size"], value(p)) for p in points
                 if p["ok"] and p["isolation"] == isolation and p["direction"] == direction and not p["disabled"])
    return [x for x, _ in pts], [y for _, y in pts]


def plot(points, value, ylabel, title, path, machine):
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for iso, (iso_label, colour) in STYLE.items():
        for direction, (dir_label, line) in DIRECTION.items():
            xs, ys = series(points, iso, direction, value)
            if xs:
                ax.plot(xs, ys, line, marker="o", color=colour, label=f"{iso_label}, {dir_label}")
    ax.set_xscale("log", base=2)
    sizes = sorted({p["frame_size"] for p in points})
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.set_xlabel("frame size with FCS (bytes)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, machine, fontsize=6, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        results = json.load(f)
    m = results["machine"]
    machine = f'{m["cpu"]}, {m["cpus"]} CPUs, {m["os"]}, {m["date_utc"]}'
    points = [p for p in results["throughput"] if p["ok"]]
    if not points:
        return
    plot(points, lambda p: p["pps"] / 1e6, "million packets per second",
         "e1000 throughput: in-process vs isolated", f"{sys.argv[2]}/throughput.png", machine)
    plot(points, lambda p: p["cpu_ns_per_packet"], "CPU ns per packet (all processes)",
         "CPU per packet: in-process vs isolated", f"{sys.argv[2]}/cpu.png", machine)
    print("throughput.png")
    print("cpu.png")


if __name__ == "__main__":
    main()
