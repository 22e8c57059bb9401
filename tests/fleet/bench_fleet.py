"""bench_fleet.py: the fleet benchmarks of docs/fleet.md and docs/performance.md ("Fleet"), in
one run on loopback. A benchmark, not a test: it prints figures and asserts nothing.

Starts a 3-server nats-server JetStream cluster (stream R3), 3 fleet strop-nodes (A, B, C)
and one standalone strop-node, then, every phase bounded in count and time:
  1. check CPU per message: node_bench_client --mode check against B and against the
     standalone node, alternating, the node's CPU from /proc over the run
  2. durable report throughput: node_bench_client --mode report (--messages signatures per
     request, as `strop report` batches them; --connections clients) through A and through
     the standalone node, alternating
  3. acknowledgement at A to visibility at B and C: one new signature reported at A, then
     polled by /v1/check at B and C (one thread each) until listed; --samples times
  4. catch-up: C stopped (SIGTERM), --catchup-sigs signatures reported through A (1,000 a
     request), C started again; the time until it has applied what B has
Prints the load average before every phase (the machine may be shared).

Usage: python3 tests/fleet/bench_fleet.py --node BUILD/node/strop-node --strop BUILD/agent/cli/strop
         --client BUILD/tests/bench/node_bench_client [--seconds 10] [--rounds 2]
         [--messages 500] [--connections 4] [--samples 200] [--catchup-sigs 1000000]
         [--catchup-max-seconds 150]
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet_harness as fh  # noqa: E402
import node_harness  # noqa: E402

OPTS = {"client": "", "seconds": 10.0, "rounds": 2, "messages": 500, "connections": 4,
        "samples": 200, "catchup-sigs": 1000000, "catchup-max-seconds": 150.0}


def take_options(argv):
    """This script's own options, from what the harness's parse_args left over."""
    it = iter(argv[1:])
    for a in it:
        key = a[2:] if a.startswith("--") else None
        if key in OPTS:
            v = next(it)
            OPTS[key] = type(OPTS[key])(v) if OPTS[key] != "" else v
        elif a:
            sys.exit("unknown option %s" % a)
    if not OPTS["client"] or not os.path.exists(OPTS["client"]):
        sys.exit("--client PATH/node_bench_client is required (a -DSTROP_BENCH=ON build)")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def say(*a):
    print(*a, flush=True)


def client(port, *args):
    """Runs node_bench_client; its stdout."""
    cmd = [OPTS["client"], "--port", str(port)] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return p.stdout


def figure(out, pattern):
    m = re.search(pattern, out)
    return float(m.group(1)) if m else float("nan")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def cpu_seconds(pids):
    """utime + stime of the processes, in seconds (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def applied(node):
    return fh.metric(node, "strop_fleet_applied_sequence")


def main():
    take_options(fh.parse_args())
    cfg_api = "[api]\nmax_messages = 1000\n"
    fleet = fh.Fleet(config_extra=cfg_api)
    standalone = None
    try:
        t0 = time.time()
        fleet.start()
        a, b, c = fleet.nodes
        standalone = node_harness.Node(
            cfg_api + "[rate_limit]\nreporter_per_second = 0\nip_per_second = 0\n",
            workdir=os.path.join(fleet.tmp, "standalone"))
        ident = standalone.add_reporter("bench", trust=1, admin=True)
        solo_id = os.path.join(fleet.tmp, "standalone-id.json")
        with open(solo_id, "w") as f:
            json.dump(ident, f)
        standalone.start()
        say("# machine: %s, %d cores, %s" % (
            open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t"),
            os.cpu_count(), os.uname().release))
        say("# fleet: 3 nats-server (%s), stream R3, 3 strop-nodes; started in %.1f s" % (
            subprocess.run([fh.NATS_SERVER, "--version"], capture_output=True, text=True)
            .stdout.strip(), time.time() - t0))
        say("# options: %s" % json.dumps(OPTS))

        # 1. Check CPU per message (fresh stores with the same preload).
        say("\n## 1. check CPU per message, full message (body + fuzzy + 3 url), 1 message/"
            "request, 2 connections, %.0f s, after a 20,000-signature preload; load %s" % (
                OPTS["seconds"], loadavg()))
        client(b.port, "--mode", "preload", "--identity", fleet.identity_path, "--preload", 20000,
               "--connections", 2)
        client(standalone.port, "--mode", "preload", "--identity", solo_id, "--preload", 20000,
               "--connections", 2)
        fleet.wait_converged()
        cpu = {"fleet B": [], "standalone": []}
        for r in range(OPTS["rounds"]):
            for name, node in (("standalone", standalone), ("fleet B", b)):
                out = client(node.port, "--mode", "check", "--connections", 2, "--seconds",
                             OPTS["seconds"], "--node-pid", node.proc.pid)
                us = figure(out, r"per message ([0-9.]+) us")
                rate = figure(out, r"check\s+requests \d+ \(([0-9.]+)/s\)")
                cpu[name].append(us)
                say("round %d %-10s cpu/message %.1f us  %.0f checks/s  load %s" % (
                    r + 1, name, us, rate, loadavg()))
        for name, xs in cpu.items():
            say("%-10s cpu/message: %s us (mean %.1f)" % (
                name, ", ".join("%.1f" % x for x in xs), sum(xs) / len(xs)))
        say("fleet/standalone: %.2f" % (sum(cpu["fleet B"]) / sum(cpu["standalone"])))

        # 2. Durable report throughput.
        say("\n## 2. durable reports, %d signatures/request, %d connections, %.0f s; load %s" % (
            OPTS["messages"], OPTS["connections"], OPTS["seconds"], loadavg()))
        thr = {"fleet A": [], "standalone": []}
        total_cpu = {"fleet A": [], "standalone": []}
        fleet_pids = [n.proc.pid for n in fleet.nodes] + [p.pid for p in fleet.nats.procs]
        for r in range(OPTS["rounds"]):
            for name, node, idp in (("standalone", standalone, solo_id),
                                    ("fleet A", a, fleet.identity_path)):
                pids = [standalone.proc.pid] if node is standalone else fleet_pids
                cpu0 = cpu_seconds(pids)
                each0 = [cpu_seconds([p]) for p in pids]
                out = client(node.port, "--mode", "report", "--identity", idp, "--messages",
                             OPTS["messages"], "--connections", OPTS["connections"], "--seconds",
                             OPTS["seconds"], "--node-pid", node.proc.pid)
                sps = figure(out, r"signatures ([0-9.]+)/s")
                p50 = figure(out, r"report\s+latency us: p50 ([0-9.]+)")
                p99 = figure(out, r"report\s+latency us: p50 [0-9.]+\s+p90 [0-9.]+\s+p99 ([0-9.]+)")
                errs = figure(out, r"errors (\d+)")
                thr[name].append(sps)
                say("round %d %-10s %.0f signatures/s  request p50 %.1f ms p99 %.1f ms  errors %d"
                    "  load %s" % (r + 1, name, sps, p50 / 1000, p99 / 1000, errs, loadavg()))
                if node is not standalone:
                    fleet.wait_converged(timeout=300)
                cpu = cpu_seconds(pids) - cpu0
                sigs = sps * OPTS["seconds"]
                total_cpu[name].append(1e6 * cpu / sigs)
                say("        %s CPU until applied everywhere: %.1f s, %.1f us per signature" % (
                    "standalone node" if node is standalone else "3 nodes + 3 nats-servers",
                    cpu, 1e6 * cpu / sigs))
                if node is not standalone:
                    each = [1e6 * (cpu_seconds([p]) - c0) / sigs for p, c0 in zip(pids, each0)]
                    say("        per process, us per signature: A %.1f, B %.1f, C %.1f; "
                        "nats-servers %s" % (each[0], each[1], each[2],
                                             ", ".join("%.1f" % x for x in each[3:])))
        for name, xs in thr.items():
            say("%-10s signatures/s: %s (mean %.0f)" % (
                name, ", ".join("%.0f" % x for x in xs), sum(xs) / len(xs)))
        for name, xs in total_cpu.items():
            say("%-10s CPU per signature (all its processes): %s us" % (
                name, ", ".join("%.1f" % x for x in xs)))
        fleet_rate = sum(thr["fleet A"]) / len(thr["fleet A"])
        say("fleet/standalone: %.2f" % (fleet_rate / (sum(thr["standalone"]) /
                                                      len(thr["standalone"]))))

        # 3. Acknowledgement at A to visibility at B and C.
        say("\n## 3. acknowledgement at A -> listed at B and C (/v1/check polled), %d samples;"
            " load %s" % (OPTS["samples"], loadavg()))
        with open(fleet.identity_path) as f:
            admin = json.load(f)
        ca = a.client()
        lat = {"B": [], "C": []}
        deadline = time.time() + 120
        for i in range(OPTS["samples"]):
            if time.time() > deadline:
                say("(stopped after %d samples: 120 s bound)" % i)
                break
            sig = node_harness.body_sig() if hasattr(node_harness, "body_sig") else \
                "body/1:" + node_harness.random_hex(32)
            start = threading.Event()
            acked = [0.0]
            got = {}

            def poll(name, node, sig=sig, start=start, acked=acked, got=got):
                cl = node.client()
                try:
                    start.wait()
                    until = time.monotonic() + 10
                    while time.monotonic() < until:
                        r = cl.check([[sig]])
                        if r.json()["results"][0]["verdict"] == "spam":
                            got[name] = time.monotonic() - acked[0]
                            return
                finally:
                    cl.close()

            ts = [threading.Thread(target=poll, args=(n, nd)) for n, nd in (("B", b), ("C", c))]
            for t in ts:
                t.start()
            r = ca.report(admin, [[sig]])
            acked[0] = time.monotonic()
            start.set()
            for t in ts:
                t.join()
            if r.status != 200:
                raise RuntimeError("report at A: %r" % r)
            for n in ("B", "C"):
                if n in got:
                    lat[n].append(got[n] * 1000)
            time.sleep(0.02)
        ca.close()
        for n, xs in lat.items():
            if xs:
                say("%s: %d samples, p50 %.2f ms, p99 %.2f ms, max %.2f ms (missed %d)" % (
                    n, len(xs), pct(xs, 0.5), pct(xs, 0.99), max(xs), OPTS["samples"] - len(xs)))

        # 4. Catch-up of a node that was down while many signatures were reported.
        fleet.wait_converged(timeout=300)
        n_sigs = int(min(OPTS["catchup-sigs"],
                         max(10000, fleet_rate * OPTS["catchup-max-seconds"]) // 10000 * 10000))
        say("\n## 4. catch-up: C stopped, %d signatures reported through A (1,000/request, "
            "2 connections), C started; load %s" % (n_sigs, loadavg()))
        c.stop()
        base = applied(b)
        t1 = time.time()
        out = client(a.port, "--mode", "preload", "--identity", fleet.identity_path, "--preload",
                     n_sigs, "--connections", 2)
        say("reporting: %.1f s (%s)" % (time.time() - t1, out.strip().splitlines()[0]))
        fh.wait_until(lambda: fh.metric(b, "strop_fleet_lag_events") == 0.0 and
                      applied(b) == applied(a), 600, "B to apply the load", step=0.5)
        target = applied(b)
        say("events to catch up: %d (sequence %d -> %d); load %s" % (
            target - base, base, target, loadavg()))
        t2 = time.monotonic()
        c.start()
        t_up = time.monotonic() - t2
        fleet.wait_connected(c)
        t_conn = time.monotonic() - t2
        fh.wait_until(lambda: applied(c) >= target, 900, "C to catch up", step=0.2)
        t_done = time.monotonic() - t2
        say("C: serving after %.2f s, connected after %.2f s, caught up after %.2f s" % (
            t_up, t_conn, t_done))
        say("catch-up rate: %.0f signatures/s, %.0f events/s (from process start)" % (
            n_sigs / t_done, (target - base) / t_done))
        fleet.wait_converged(timeout=300)
        counts = {json.dumps({k: v for k, v in fleet.stats(n).items()
                              if k not in ("used_bytes", "map_bytes")}, sort_keys=True)
                  for n in fleet.nodes}
        say("stats identical on A, B, C after catch-up: %s" % (len(counts) == 1))
        say("\n# done in %.0f s; load %s" % (time.time() - t0, loadavg()))
    finally:
        if standalone is not None:
            standalone.kill()
            standalone.cleanup()
        fleet.cleanup()


if __name__ == "__main__":
    main()
