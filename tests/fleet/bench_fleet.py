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

--spread 1 sends the durable reports of phase 2 through A, B and C at once (a third of the
connections each, e.g. --connections 12), as clients behind a load balancer would, instead of
all through A; the standalone node gets the same number of connections. Each round reports new
signatures (node_bench_client --seed), the same ones to the fleet and to the standalone node.

--machine-cpu F (e.g. 0.5) emulates a machine per fleet member on one box: strop-node i and
nats-server i share one CPU cgroup limited to F cores (CFS quota F x 10 ms per 10 ms period),
and the standalone node gets a cgroup of its own with the same limit, so the fleet of three
F-core machines is compared with one F-core machine. The clients stay unlimited. Needs root
and the cpu controller (cgroup v1 /sys/fs/cgroup/cpu, or v2 with cpu.max).

Usage: python3 tests/fleet/bench_fleet.py --node BUILD/node/strop-node --strop BUILD/agent/cli/strop
         --client BUILD/tests/bench/node_bench_client [--seconds 10] [--rounds 2]
         [--messages 500] [--connections 4] [--samples 200] [--catchup-sigs 1000000]
         [--catchup-max-seconds 150] [--machine-cpu F] [--spread 1]
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
        "samples": 200, "catchup-sigs": 1000000, "catchup-max-seconds": 150.0,
        "machine-cpu": 0.0, "spread": 0}
CFS_PERIOD_US = 10000


class CpuMachine:
    """One CPU cgroup standing for a machine of `cores` cores (see --machine-cpu)."""

    def __init__(self, name, cores):
        v1 = "/sys/fs/cgroup/cpu"
        if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
            self.path = os.path.join(v1, name)
            os.makedirs(self.path, exist_ok=True)
            with open(os.path.join(self.path, "cpu.cfs_period_us"), "w") as f:
                f.write(str(CFS_PERIOD_US))
            with open(os.path.join(self.path, "cpu.cfs_quota_us"), "w") as f:
                f.write(str(int(cores * CFS_PERIOD_US)))
        elif os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            self.path = os.path.join("/sys/fs/cgroup", name)
            with open("/sys/fs/cgroup/cgroup.subtree_control", "w") as f:
                f.write("+cpu")
            os.makedirs(self.path, exist_ok=True)
            with open(os.path.join(self.path, "cpu.max"), "w") as f:
                f.write("%d %d" % (int(cores * CFS_PERIOD_US), CFS_PERIOD_US))
        else:
            sys.exit("--machine-cpu: no cpu cgroup controller (/sys/fs/cgroup/cpu or cgroup v2)")

    def add(self, pid):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def throttled_seconds(self):
        """Time the group spent throttled (cpu.stat), in seconds."""
        with open(os.path.join(self.path, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "throttled_time":  # v1, ns
                    return int(v) / 1e9
                if k == "throttled_usec":  # v2
                    return int(v) / 1e6
        return 0.0

    def remove(self):
        """Moves what is left to the root group and removes the cgroup."""
        root = os.path.dirname(self.path)
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                pids = f.read().split()
            for pid in pids:
                try:
                    with open(os.path.join(root, "cgroup.procs"), "w") as f:
                        f.write(pid)
                except OSError:
                    pass
            os.rmdir(self.path)
        except OSError:
            pass


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


def clients(runs):
    """Runs node_bench_client once per (port, args) in runs, all at once; their stdouts."""
    procs = []
    for port, args in runs:
        cmd = [OPTS["client"], "--port", str(port)] + [str(a) for a in args]
        procs.append((cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True)))
    outs = []
    for cmd, p in procs:
        out, err = p.communicate(timeout=3600)
        if p.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, err))
        outs.append(out)
    return outs


def client(port, *args):
    """Runs node_bench_client once; its stdout."""
    return clients([(port, args)])[0]


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


def hist(node, name):
    """(sum, count) of one unlabelled histogram of the node's /metrics."""
    return (fh.metric(node, name + "_sum") or 0.0, fh.metric(node, name + "_count") or 0.0)


# Where a durable report's time goes, per histogram: (label, name); the fleet ones only at A.
LATENCY_PARTS = (("commit", "strop_writer_commit_duration_seconds"),
                 ("publish to JetStream ack", "strop_fleet_publish_duration_seconds"),
                 ("submit to acked and applied", "strop_fleet_write_duration_seconds"))


def applied(node):
    return fh.metric(node, "strop_fleet_applied_sequence")


def main():
    take_options(fh.parse_args())
    cfg_api = "[api]\nmax_messages = 1000\n"
    fleet = fh.Fleet(config_extra=cfg_api)
    standalone = None
    machines = []
    try:
        t0 = time.time()
        fleet.start()
        a, b, c = fleet.nodes
        if OPTS["machine-cpu"] > 0:
            for i, name in enumerate("ABC"):
                m = CpuMachine("strop-bench-%d-%s" % (os.getpid(), name), OPTS["machine-cpu"])
                machines.append(m)
                m.add(fleet.nodes[i].proc.pid)
                m.add(fleet.nats.procs[i].pid)
        standalone = node_harness.Node(
            cfg_api + "[rate_limit]\nreporter_per_second = 0\nip_per_second = 0\n",
            workdir=os.path.join(fleet.tmp, "standalone"))
        ident = standalone.add_reporter("bench", trust=1, admin=True)
        solo_id = os.path.join(fleet.tmp, "standalone-id.json")
        with open(solo_id, "w") as f:
            json.dump(ident, f)
        standalone.start()
        if OPTS["machine-cpu"] > 0:
            m = CpuMachine("strop-bench-%d-solo" % os.getpid(), OPTS["machine-cpu"])
            machines.append(m)
            m.add(standalone.proc.pid)
            say("# emulated machines: %.2f cores each (CFS quota per %d us period): A = node A +"
                " nats-server 1, B = node B + nats-server 2, C = node C + nats-server 3, and the"
                " standalone node alone" % (OPTS["machine-cpu"], CFS_PERIOD_US))
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
        spread = OPTS["spread"] != 0
        if spread and OPTS["connections"] % 3:
            sys.exit("--spread 1 needs --connections divisible by 3")
        fname = "fleet A+B+C" if spread else "fleet A"
        thr = {fname: [], "standalone": []}
        total_cpu = {fname: [], "standalone": []}
        fleet_pids = [n.proc.pid for n in fleet.nodes] + [p.pid for p in fleet.nats.procs]
        for r in range(OPTS["rounds"]):
            seed = 100000 + 1000 * r  # new signatures every round, the same for both
            for name, node, idp in (("standalone", standalone, solo_id),
                                    (fname, a, fleet.identity_path)):
                pids = [standalone.proc.pid] if node is standalone else fleet_pids
                cpu0 = cpu_seconds(pids)
                each0 = [cpu_seconds([p]) for p in pids]
                thr0 = [m.throttled_seconds() for m in machines]
                parts0 = [hist(node, n) for _, n in LATENCY_PARTS]
                if node is standalone or not spread:
                    targets = [(node, OPTS["connections"], seed)]
                else:
                    targets = [(n, OPTS["connections"] // 3, seed + 100 * k)
                               for k, n in enumerate(fleet.nodes)]
                outs = clients([(n.port, ["--mode", "report", "--identity", idp, "--messages",
                                          OPTS["messages"], "--connections", conns, "--seconds",
                                          OPTS["seconds"], "--seed", sd])
                                for n, conns, sd in targets])
                sps = sum(figure(o, r"signatures ([0-9.]+)/s") for o in outs)
                p50 = max(figure(o, r"report\s+latency us: p50 ([0-9.]+)") for o in outs)
                p99 = max(figure(o, r"report\s+latency us: p50 [0-9.]+\s+p90 [0-9.]+\s+p99 ([0-9.]+)")
                          for o in outs)
                errs = sum(figure(o, r"errors (\d+)") for o in outs)
                thr[name].append(sps)
                say("round %d %-10s %.0f signatures/s  request p50 %.1f ms p99 %.1f ms  errors %d"
                    "  load %s" % (r + 1, name, sps, p50 / 1000, p99 / 1000, errs, loadavg()))
                means = []
                for (label, n), (s0, c0) in zip(LATENCY_PARTS, parts0):
                    s1, c1 = hist(node, n)
                    if c1 > c0:
                        means.append("%s %.2f ms (%d)" % (label, 1000 * (s1 - s0) / (c1 - c0),
                                                          c1 - c0))
                say("        mean per operation at %s: %s" % (
                    "the node" if node is standalone else "A", "; ".join(means)))
                if machines:
                    say("        throttled during the run, s: %s" % ", ".join(
                        "%s %.1f" % (n, m.throttled_seconds() - t) for n, m, t in
                        zip(("A", "B", "C", "standalone"), machines, thr0)))
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
        fleet_rate = sum(thr[fname]) / len(thr[fname])
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
                     n_sigs, "--connections", 2, "--seed", 900000)
        say("reporting: %.1f s (%s)" % (time.time() - t1, out.strip().splitlines()[0]))
        fh.wait_until(lambda: fh.metric(b, "strop_fleet_lag_events") == 0.0 and
                      applied(b) == applied(a), 600, "B to apply the load", step=0.5)
        target = applied(b)
        say("events to catch up: %d (sequence %d -> %d); load %s" % (
            target - base, base, target, loadavg()))
        t2 = time.monotonic()
        c.start()
        if machines:
            machines[2].add(c.proc.pid)
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
        time.sleep(2)  # the supervisors' last checks against the stream leader
        for name, node in zip("ABC", fleet.nodes):
            say("%s: applied events checked against the stream leader: verified %d, unverified"
                " %d, divergent %d (events since %s's start)" % (
                    name, fh.metric(node, "strop_fleet_verified_total") or 0,
                    fh.metric(node, "strop_fleet_unverified_total") or 0,
                    fh.metric(node, "strop_fleet_divergence_total") or 0, name))
        say("\n# done in %.0f s; load %s" % (time.time() - t0, loadavg()))
    finally:
        if standalone is not None:
            standalone.kill()
            standalone.cleanup()
        fleet.cleanup()
        for m in machines:
            m.remove()


if __name__ == "__main__":
    main()
