#!/usr/bin/env python3
"""Builds the side-by-side table from one or more bench/run.sh output directories: for each rank
count and size, tgrack's busbw across daemons (tcp) beside Gloo and OpenMPI-TCP, and within one
daemon (local) beside OpenMPI shared memory, with the ratio ours/theirs; then the cost of
encrypting the data plane (tgd --data-tls) beside plain tcp, and how close 2 ranks come to the
loopback bound. With several directories every cell is the median over the runs (the range
beside ours). busbw in GB/s (1e9 B/s), nccl-tests factor 2(n-1)/n.

The loopback bound for 2 ranks is what two concurrent iperf3 client/server pairs with 1 MiB
writes carry, halved per direction: a 2-rank all-reduce moves its bytes both ways at once."""
import glob
import json
import os
import re
import statistics
import sys


def load_ours(out, name):
    rows = {}
    for path in sorted(glob.glob(os.path.join(out, f"{name}.*.json"))):
        with open(path) as f:
            data = json.load(f)
        for r in data["results"]:  # tgctl bench --json (docs/cli-json.md): base units.
            rows[r["size_bytes"]] = {"busbw": r["busbw_bytes_per_second"] / 1e9,
                                     "time_us": r["time_seconds"] * 1e6,
                                     "wrong": r["wrong_count"] or 0}
    return rows


def load_peers(out):
    peers = {}  # (impl, n, bytes) -> busbw
    for path in glob.glob(os.path.join(out, "anchors", "gloo_w*.json")):
        with open(path) as f:
            for r in json.load(f):
                peers[("gloo", r["world"], r["bytes"])] = r["busbw_GBps"]
    for path in glob.glob(os.path.join(out, "anchors", "mpi_*_w*.log")):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 9 and p[0] in ("mpi_tcp", "mpi_shm"):
                    peers[(p[0], int(p[1]), int(p[2]))] = float(p[8])
    return peers


def one_stream(out):
    """Median GB/s of the single-stream iperf3 runs."""
    vals = []
    for path in glob.glob(os.path.join(out, "anchors", "iperf3_run*.txt")):
        with open(path) as f:
            vals += [float(m) / 8 for m in re.findall(r"([\d.]+) Gbits/sec.*receiver", f.read())]
    return statistics.median(vals) if vals else None


def pair_bound(out):
    """GB/s per direction that two concurrent iperf3 pairs with 1 MiB writes carry."""
    path = os.path.join(out, "anchors", "iperf3_extra.txt")
    if not os.path.exists(path):
        return None
    section, rates = None, []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                section = line
            elif section and "two independent pairs" in section and "-l 1M" in section:
                m = re.search(r"([\d.]+) Gbits/sec.*receiver", line)
                if m:
                    rates.append(float(m.group(1)))
    return sum(rates) / 8 / 2 if len(rates) == 2 else None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def spread(values):
    values = [v for v in values if v is not None]
    return f"{min(values):.2f}..{max(values):.2f}" if len(values) > 1 else "-"


def size_label(size):
    return f"{size // 1024} KiB" if size < (1 << 20) else f"{size >> 20} MiB"


def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}x"


class Runs:
    """The same measurements from several output directories, combined by median."""

    def __init__(self, outs):
        self.peers = [load_peers(o) for o in outs]
        self.ours = lambda name: [load_ours(o, name) for o in outs]
        self.bounds = [pair_bound(o) for o in outs]
        self.streams = [one_stream(o) for o in outs]

    def peer(self, impl, n, size):
        return median([p.get((impl, n, size)) for p in self.peers])


def cells(runs, size, key):
    return [r[size][key] for r in runs if size in r]


def main(outs):
    runs = Runs(outs)
    bound, stream = median(runs.bounds), median(runs.streams)
    print(f"# tgrack all-reduce vs peers (sum f32, in place, busbw GB/s; same machine, same runs)\n")
    print(f"Runs: {len(outs)}; each cell the median over them.\n")
    if bound:
        print(f"Loopback bound for 2 ranks (two iperf3 pairs, 1 MiB writes, halved per direction): "
              f"{bound:.2f} GB/s (runs: {' '.join(fmt(b, 2) for b in runs.bounds)})\n")
    if stream:
        print(f"One loopback TCP stream (iperf3, median): {stream:.2f} GB/s\n")
    for n in (2, 4):
        tcp, local = runs.ours(f"tcp_w{n}"), runs.ours(f"local_w{n}")
        sizes = sorted({s for r in tcp + local for s in r})
        if not sizes:
            continue
        print(f"## {n} ranks\n")
        print("| size | ours tcp | range | Gloo | OpenMPI-TCP | ours/best TCP peer | ours local | range | "
              "OpenMPI-shm | ours/shm | #wrong |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            t, l = cells(tcp, size, "busbw"), cells(local, size, "busbw")
            g, mt, ms = (runs.peer(impl, n, size) for impl in ("gloo", "mpi_tcp", "mpi_shm"))
            best = max([p for p in (g, mt) if p] or [0]) or None
            wrong = sum(cells(tcp, size, "wrong") + cells(local, size, "wrong"))
            print(f"| {size_label(size)} | {fmt(median(t))} | {spread(t)} | {fmt(g)} | {fmt(mt)} | "
                  f"{ratio(median(t), best)} | {fmt(median(l))} | {spread(l)} | {fmt(ms)} | "
                  f"{ratio(median(l), ms)} | {wrong} |")
        print()
        tls = runs.ours(f"tls_w{n}")
        tls_sizes = sorted({s for r in tls for s in r})
        if tls_sizes:
            print(f"### {n} ranks across daemons: data plane plain and encrypted (--data-tls)\n")
            print("| size | time us | busbw tcp | time us --data-tls | busbw --data-tls | tls/tcp | #wrong |")
            print("|---:|---:|---:|---:|---:|---:|---:|")
            for size in tls_sizes:
                tb, eb = median(cells(tcp, size, "busbw")), median(cells(tls, size, "busbw"))
                wrong = sum(cells(tcp, size, "wrong") + cells(tls, size, "wrong"))
                print(f"| {size_label(size)} | {fmt(median(cells(tcp, size, 'time_us')), 1)} | {fmt(tb)} | "
                      f"{fmt(median(cells(tls, size, 'time_us')), 1)} | {fmt(eb)} | {ratio(eb, tb)} | {wrong} |")
            print()
        if bound and n == 2:
            for size in (s for s in sizes if s >= (16 << 20)):
                ours = median(cells(tcp, size, "busbw"))
                theirs = ", ".join(f"{name} {fmt(runs.peer(impl, 2, size) / bound if runs.peer(impl, 2, size) else None, 2)}"
                                   for name, impl in (("Gloo", "gloo"), ("OpenMPI-TCP", "mpi_tcp")))
                print(f"2 ranks, {size_label(size)}: ours {fmt(ours / bound if ours else None, 2)} of the "
                      f"loopback bound ({theirs})\n")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench/table.py OUTDIR [OUTDIR ...]  (bench/run.sh output directories)")
    main(sys.argv[1:])
