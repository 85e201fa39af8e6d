#!/usr/bin/env python3
"""Builds the side-by-side table from a bench/run.sh output directory: for each rank count and
size, tgrack's busbw across daemons (tcp) beside Gloo and OpenMPI-TCP, and within one daemon
(local) beside OpenMPI shared memory, with the ratio ours/theirs; then the cost of encrypting
the data plane (tgd --data-tls) beside plain tcp. busbw in GB/s (1e9 B/s), nccl-tests factor
2(n-1)/n."""
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
                                     "wrong": r["wrong_count"]}
    return rows


def load_peers(out):
    peers = {}  # (impl, n, bytes) -> (busbw, time_us)
    for path in glob.glob(os.path.join(out, "anchors", "gloo_w*.json")):
        with open(path) as f:
            for r in json.load(f):
                peers[("gloo", r["world"], r["bytes"])] = (r["busbw_GBps"], r["time_us_median"])
    for path in glob.glob(os.path.join(out, "anchors", "mpi_*_w*.log")):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 9 and p[0] in ("mpi_tcp", "mpi_shm"):
                    peers[(p[0], int(p[1]), int(p[2]))] = (float(p[8]), float(p[5]))
    return peers


def iperf(out):
    vals = []
    for path in glob.glob(os.path.join(out, "anchors", "iperf3_run*.txt")):
        with open(path) as f:
            for line in f:
                m = re.search(r"([\d.]+) Gbits/sec.*receiver", line)
                if m:
                    vals.append(float(m.group(1)) / 8)
    return statistics.median(vals) if vals else None


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def size_label(size):
    return f"{size // 1024} KiB" if size < (1 << 20) else f"{size >> 20} MiB"


def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}x"


def main(out):
    peers = load_peers(out)
    link = iperf(out)
    print(f"# tgrack all-reduce vs peers (sum f32, in place, busbw GB/s; same machine, same run)\n")
    if link:
        print(f"One loopback TCP stream (iperf3, median): {link:.2f} GB/s\n")
    for n in (2, 4):
        tcp, local = load_ours(out, f"tcp_w{n}"), load_ours(out, f"local_w{n}")
        if not tcp and not local:
            continue
        print(f"## {n} ranks\n")
        print("| size | ours tcp | time us | Gloo | OpenMPI-TCP | ours/best TCP peer | ours local | OpenMPI-shm | ours/shm | #wrong |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in sorted(set(tcp) | set(local)):
            t, l = tcp.get(size), local.get(size)
            g = peers.get(("gloo", n, size))
            mt = peers.get(("mpi_tcp", n, size))
            ms = peers.get(("mpi_shm", n, size))
            best = max([p[0] for p in (g, mt) if p] or [0]) or None
            ours_t = t["busbw"] if t else None
            ours_l = l["busbw"] if l else None
            wrong = sum(x["wrong"] for x in (t, l) if x and x["wrong"] is not None)
            print(f"| {size_label(size)} | {fmt(ours_t)} | {fmt(t['time_us'] if t else None, 1)} | {fmt(g[0] if g else None)} | "
                  f"{fmt(mt[0] if mt else None)} | {ratio(ours_t, best)} | {fmt(ours_l)} | "
                  f"{fmt(ms[0] if ms else None)} | {ratio(ours_l, ms[0] if ms else None)} | {wrong} |")
        print()
        tls = load_ours(out, f"tls_w{n}")
        if tls:
            print(f"### {n} ranks across daemons: data plane plain and encrypted (--data-tls)\n")
            print("| size | time us | busbw tcp | time us --data-tls | busbw --data-tls | tls/tcp | #wrong |")
            print("|---:|---:|---:|---:|---:|---:|---:|")
            for size in sorted(set(tcp) | set(tls)):
                t, e = tcp.get(size), tls.get(size)
                wrong = sum(x["wrong"] for x in (t, e) if x and x["wrong"] is not None)
                print(f"| {size_label(size)} | {fmt(t['time_us'] if t else None, 1)} | {fmt(t['busbw'] if t else None)} | "
                      f"{fmt(e['time_us'] if e else None, 1)} | {fmt(e['busbw'] if e else None)} | "
                      f"{ratio(e['busbw'] if e else None, t['busbw'] if t else None)} | {wrong} |")
            print()
        if link and n == 2:
            big = [tcp[s]["busbw"] for s in tcp if s >= (16 << 20)]
            if big:
                print(f"2 ranks >= 16 MiB: {min(big):.2f}..{max(big):.2f} GB/s = "
                      f"{min(big) / link:.0%}..{max(big) / link:.0%} of one iperf3 stream\n")


if __name__ == "__main__":
    main(sys.argv[1])
