#!/usr/bin/env python3
"""Backfill between two real nodes over HTTP (docs/federation.md "Measured",
docs/performance.md "Federation backfill"). A benchmark, not a test.

Site A's store gets N signatures listed (federation_backfill_bench --prepare: one trusted
reporter's reports of 1,000, the fastest honest way); A is then served by a strop-node, and
for each of gzip on / off a fresh node B is peered with A (trust 1.0, `peer add` while both
run) and timed from its start to the moment its puller has applied all N entries (its
/metrics: strop_peer_entries_applied_total = N, strop_peer_lag_entries = 0). Printed per run:
seconds, entries/s, response bytes received by B (strop_peer_bytes_received_total, as sent),
bytes per entry, and peak RSS (VmHWM) of A and B.

  tests/bench/federation_backfill_http.py --build build/release [--signatures N] [--batch B]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "node"))
import node_harness as nh  # noqa: E402


def metrics(node):
    out = {}
    for line in node.client().get("/metrics").body.decode().splitlines():
        m = re.match(r"(strop_peer_[a-z_]+)\{peer=\"a.bench\"\} (\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def hwm_kib(node):
    with open("/proc/%d/status" % node.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--signatures", type=int, default=1000000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    node_bin = os.path.abspath(os.path.join(args.build, "node", "strop-node"))
    bench = os.path.abspath(os.path.join(args.build, "tests", "bench", "federation_backfill_bench"))
    root = tempfile.mkdtemp(prefix="strop-fed-http-bench-")
    try:
        t0 = time.time()
        subprocess.run([bench, "--signatures", str(args.signatures), "--prepare",
                        os.path.join(root, "a")], check=True)
        print("prepared A in %.1f s" % (time.time() - t0))
        secret = os.path.join(root, "peering.secret")
        with open(secret, "w") as f:
            f.write("bench-peering-secret-0123456789\n")
        a = nh.Node("", data_dir=os.path.join(root, "a"), binary=node_bin,
                    extra_args=["--federation-site", "a.bench"])
        a.start()
        for gzip in (True, False):
            cfg = "[federation]\npoll_interval_ms = 100\nbatch = %d\ngzip = %s\n" % (
                args.batch, "true" if gzip else "false")
            b = nh.Node(cfg, binary=node_bin, extra_args=["--federation-site", "b.bench"])
            b.start()
            a.cli("peer", "add", "b.bench", "--url", b.url, "--trust", "1.0", "--secret-file",
                  secret, check=False)  # present already on the second run
            t1 = time.time()
            b.cli("peer", "add", "a.bench", "--url", a.url, "--trust", "1.0", "--secret-file",
                  secret)
            m = {}
            while time.time() - t1 < args.timeout:
                m = metrics(b)
                if (m.get("strop_peer_entries_applied_total", 0) >= args.signatures
                        and m.get("strop_peer_lag_entries", 1) == 0):
                    break
                time.sleep(0.2)
            else:
                raise SystemExit("backfill did not complete: %r" % m)
            dt = time.time() - t1
            n = m["strop_peer_entries_applied_total"]
            nbytes = m["strop_peer_bytes_received_total"]
            print("gzip=%s: %d entries in %.1f s (%.0f entries/s), %.1f MiB received "
                  "(%.1f bytes/entry), %d pull errors; peak RSS A %.0f MiB, B %.0f MiB"
                  % (gzip, n, dt, n / dt, nbytes / 1048576.0, nbytes / n,
                     m.get("strop_peer_errors_total", 0), hwm_kib(a) / 1024.0,
                     hwm_kib(b) / 1024.0), flush=True)
            b.stop()
            b.cleanup()
        a.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
