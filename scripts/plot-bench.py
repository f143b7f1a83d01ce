#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Plots of `side bench` results: throughput and CPU per packet against frame size, in-process against isolated;
for `side bench --class block`, throughput and CPU per request against request size, one figure per queue depth.

usage: plot-bench.py RESULTS.json OUT_DIR   (writes OUT_DIR/throughput.png and OUT_DIR/cpu.png when the results
hold throughput points, block-throughput-qdN.png and block-cpu-qdN.png for a block document, and prints the name
of each file it wrote)
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"relay": ("relay (no driver)", "tab:gray"), "inproc": ("in-process", "tab:blue"),
         "process": ("isolated", "tab:orange")}
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


OP = {"read": ("read", "-"), "write": ("write", "--")}


def size_label(n):
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1024 and n % 1024 == 0:
        return f"{n >> 10}K"
    return str(n)


def plot_block_one(points, value, ylabel, title, path, machine, log_y=False):
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for iso, (iso_label, colour) in STYLE.items():
        for op, (op_label, line) in OP.items():
            pts = sorted((p["request_bytes"], value(p)) for p in points if p["isolation"] == iso and p["op"] == op)
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], line, marker="o", color=colour,
                        label=f"{iso_label}, {op_label}")
    ax.set_xscale("log", base=2)
    sizes = sorted({p["request_bytes"] for p in points})
    ax.set_xticks(sizes)
    ax.set_xticklabels([size_label(s) for s in sizes])
    if log_y:  # throughput spans three orders of magnitude from 512 B to 1 MiB
        ax.set_yscale("log")
    ax.set_xlabel("request size (bytes)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, machine, fontsize=6, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def plot_block(results, out_dir, machine):
    points = [p for p in results["points"] if p["ok"]]
    for depth in sorted({p["depth"] for p in points}):
        at = [p for p in points if p["depth"] == depth]
        name = f"block-throughput-qd{depth}.png"
        plot_block_one(at, lambda p: p["mb_per_s"], "MB/s (10^6 bytes)",
                       f"{results['module']} throughput, queue depth {depth}: in-process vs isolated",
                       f"{out_dir}/{name}", machine, log_y=True)
        print(name)
        name = f"block-cpu-qd{depth}.png"
        plot_block_one(at, lambda p: p["cpu_us_per_request"], "CPU us per request (side + domain + QEMU)",
                       f"CPU per request, queue depth {depth}: in-process vs isolated", f"{out_dir}/{name}", machine)
        print(name)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        results = json.load(f)
    m = results["machine"]
    machine = f'{m["cpu"]}, {m["cpus"]} CPUs, {m["os"]}, {m["date_utc"]}'
    if results.get("class") == "block":
        plot_block(results, sys.argv[2], machine)
        return
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
