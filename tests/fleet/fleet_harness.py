"""Fleet test harness: a 3-server NATS JetStream cluster and strop-nodes in fleet mode, all on
loopback with free ports, started and killed by the tests (Python 3 stdlib only).

NatsCluster starts `nats-server` processes with JetStream on, each with its own store
directory (-sd), joined by cluster routes; each server can be killed and restarted on the same
ports and store. Fleet makes the first node's store (with a fully trusted admin reporter),
copies it to the other nodes, so every member starts from the same state at applied sequence
0, and starts each `strop-node serve --cluster-nats URL,URL,URL` through tests/node's Node.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node"))
import node_harness  # noqa: E402
from node_harness import Node  # noqa: E402

NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"
STROP = os.environ.get("STROP_CLI", "")
CORPUS = os.environ.get("STROP_CORPUS", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "..", "..", "shared", "corpus"))


def parse_args():
    """Takes --node PATH and --strop PATH (ctest passes both); the rest is for unittest."""
    global STROP
    args = [sys.argv[0]]
    it = iter(sys.argv[1:])
    for a in it:
        if a == "--node":
            node_harness.NODE = next(it)
        elif a == "--strop":
            STROP = next(it)
        else:
            args.append(a)
    if not node_harness.NODE or not os.path.exists(node_harness.NODE) or not STROP:
        sys.exit("usage: %s --node PATH/strop-node --strop PATH/strop [unittest args]" % sys.argv[0])
    if not os.path.exists(NATS_SERVER):
        sys.exit("nats-server is not installed (scripts/setup.sh installs it)")
    return args


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if pred():
                return
        except Exception:  # noqa: BLE001 - a node restarting refuses connections
            pass
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class NatsCluster:
    def __init__(self, workdir, n=3):
        self.dir = os.path.join(workdir, "nats")
        self.ports = [free_port() for _ in range(n)]
        self.routes = [free_port() for _ in range(n)]
        self.monitors = [free_port() for _ in range(n)]
        self.procs = [None] * n

    @property
    def urls(self):
        return ",".join("nats://127.0.0.1:%d" % p for p in self.ports)

    def start(self, i):
        store = os.path.join(self.dir, "n%d" % i)
        os.makedirs(store, exist_ok=True)
        routes = ",".join("nats://127.0.0.1:%d" % r for j, r in enumerate(self.routes) if j != i)
        cmd = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.ports[i]), "-n", "n%d" % i,
               "-m", str(self.monitors[i]),
               "-js", "-sd", store, "--cluster_name", "strop-test",
               "--cluster", "nats://127.0.0.1:%d" % self.routes[i], "--routes", routes]
        log = open(os.path.join(self.dir, "n%d.log" % i), "ab")
        self.procs[i] = subprocess.Popen(cmd, stdout=log, stderr=log)
        log.close()

    def start_all(self):
        for i in range(len(self.ports)):
            self.start(i)
        for i, p in enumerate(self.ports):
            wait_until(lambda p=p: socket.create_connection(("127.0.0.1", p), timeout=1).close() or True,
                       20, "nats-server n%d" % i)

    def stream_leader(self, stream="STROP"):
        """The index of the server leading the stream's Raft group (None when unknown)."""
        for i, p in enumerate(self.procs):
            if p is None or p.poll() is not None:
                continue
            try:
                url = "http://127.0.0.1:%d/jsz?accounts=true&streams=true" % self.monitors[i]
                with urllib.request.urlopen(url, timeout=2) as r:
                    j = json.load(r)
            except OSError:
                continue
            for acc in j.get("account_details") or []:
                for st in acc.get("stream_detail") or []:
                    if st.get("name") == stream:
                        leader = (st.get("cluster") or {}).get("leader", "")
                        if leader.startswith("n") and leader[1:].isdigit():
                            return int(leader[1:])
        return None

    def kill(self, i, sig=signal.SIGKILL):
        p = self.procs[i]
        if p is not None and p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=30)
        self.procs[i] = None

    def kill_all(self, sig=signal.SIGKILL):
        for i in range(len(self.procs)):
            self.kill(i, sig)

    def log(self):
        out = []
        for i in range(len(self.ports)):
            path = os.path.join(self.dir, "n%d.log" % i)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append("--- n%d\n%s" % (i, f.read()[-4000:]))
        return "\n".join(out)


def metric(node, name):
    """The value of one unlabelled series of the node's /metrics (None when absent)."""
    c = node.client(timeout=5)
    try:
        r = c.get("/metrics")
    finally:
        c.close()
    m = re.search(r"^%s (\S+)$" % re.escape(name), r.body.decode(), re.M)
    return float(m.group(1)) if m else None


class Fleet:
    """n strop-nodes in fleet mode over one NatsCluster, from one initial store."""

    def __init__(self, n=3, nats_n=3, config_extra=""):
        self.tmp = tempfile.mkdtemp(prefix="strop-fleet-test-")
        self.nats = NatsCluster(self.tmp, nats_n)
        self.nodes = []
        self.config_extra = config_extra
        self.n = n

    def start(self):
        self.nats.start_all()
        first = None
        for i in range(self.n):
            name = "node%s" % "abc"[i]
            config = ("[cluster]\nnode_id = \"%s\"\npublish_timeout_ms = 3000\n"
                      "replicas = %d\n%s\n[rate_limit]\nreporter_per_second = 0\nip_per_second = 0\n"
                      % (name, min(3, len(self.nats.ports)), self.config_extra))
            node = Node(config, workdir=os.path.join(self.tmp, name),
                        extra_args=["--cluster-nats", self.nats.urls])
            if first is None:
                self.identity = node.add_reporter("postmaster", trust=1, admin=True)
                self.identity_path = os.path.join(self.tmp, "identity.json")
                with open(self.identity_path, "w") as f:
                    json.dump(self.identity, f)
                first = node
            else:
                shutil.copytree(first.data_dir, node.data_dir)
            self.nodes.append(node)
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            self.wait_connected(node)
        return self

    def add_node(self, name, data_dir):
        """Starts one more member on data_dir (e.g. a `strop-node backup` of a member)."""
        config = ("[cluster]\nnode_id = \"%s\"\npublish_timeout_ms = 3000\n"
                  "[rate_limit]\nreporter_per_second = 0\nip_per_second = 0\n" % name)
        node = Node(config, workdir=os.path.join(self.tmp, name), data_dir=data_dir,
                    extra_args=["--cluster-nats", self.nats.urls])
        self.nodes.append(node)
        node.start()
        self.wait_connected(node)
        return node

    def wait_connected(self, node, timeout=60):
        wait_until(lambda: metric(node, "strop_fleet_connected") == 1.0, timeout,
                   "%s connected to the fleet log" % node.tmp)

    def wait_converged(self, timeout=60):
        """Until every node has applied the stream's head (per /metrics) and they agree."""
        def done():
            heads = [metric(n, "strop_fleet_head_sequence") for n in self.nodes]
            applied = [metric(n, "strop_fleet_applied_sequence") for n in self.nodes]
            return (None not in applied and len(set(applied)) == 1 and
                    all(h is not None and h <= applied[0] for h in heads))
        # The head is sampled once a second: hold until the same answer twice, 1.5 s apart.
        last = []

        def stable():
            if not done():
                return False
            now = [metric(n, "strop_fleet_applied_sequence") for n in self.nodes]
            if last == now:
                return True
            last[:] = now
            time.sleep(1.5)
            return False
        wait_until(stable, timeout, "the nodes to apply the whole stream")

    def stats(self, node):
        p = node.cli("stats", "--json")
        return json.loads(p.stdout)

    def strop(self, node, *args, check=None):
        cmd = [STROP, "--node", node.url, "--identity", self.identity_path] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check is not None and p.returncode != check:
            raise AssertionError("%s: exit %d: %s %s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
        return p

    def check_json(self, node, files):
        p = self.strop(node, "check", "--json", *files)
        if p.returncode not in (0, 1):
            raise AssertionError("strop check at %s: exit %d: %s" % (node.url, p.returncode, p.stderr))
        out = {}
        for line in p.stdout.splitlines():
            j = json.loads(line)
            out[j["name"]] = (j["spam"], j["confidence"])
        return out

    def cleanup(self):
        for n in self.nodes:
            n.kill()
        self.nats.kill_all()
        for n in self.nodes:
            n.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self):
        return "\n".join("=== %s\n%s" % (n.tmp, n.log()[-6000:]) for n in self.nodes) + "\n" + self.nats.log()


def corpus(kind, n, start=0):
    d = os.path.join(CORPUS, kind)
    files = sorted(os.listdir(d))[start:start + n]
    return [os.path.join(d, f) for f in files]
