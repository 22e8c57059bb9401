"""Fleet test harness: a 3-server NATS JetStream cluster and strop-nodes in fleet mode, all on
loopback with free ports, started and killed by the tests (Python 3 stdlib only).

NatsCluster starts `nats-server` processes with JetStream on, each with its own store
directory (-sd), joined by cluster routes; each server can be killed and restarted on the same
ports and store. Fleet makes the first node's store (with a fully trusted admin reporter),
copies it to the other nodes, so every member starts from the same state at applied sequence
0, and starts each `strop-node serve --cluster-nats URL,URL,URL` through tests/node's Node.

What the fault tests (test_fleet_faults.py) read back to judge a run:
  signatures(files)      what `strop report` sends for each file (`strop sig --engines all`)
  stored_signatures(n)   every signature record in node n's LMDB (`mdb_dump -s sigs`, a
                         read-only transaction beside the running node)
  StreamReader           the events of the JetStream stream, read over the NATS protocol with
                         the JetStream API ($JS.API.STREAM.MSG.GET), decoded as docs/fleet.md
                         "Event format" describes
parse_args() re-runs the script inside a loopback-only network namespace (`unshare -n`) when
the machine allows it, as tests/legacy_listeners does, so no client (razor-agents above all)
can reach anything but 127.0.0.1.
"""
import base64
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
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
    in_namespace()
    return args


def in_namespace():
    """Re-runs this script in a loopback-only network namespace when possible."""
    state = os.environ.get("STROP_FLEET_NETNS")
    if state is None:
        ok = shutil.which("unshare") and subprocess.run(
            ["unshare", "-n", "true"], stderr=subprocess.DEVNULL).returncode == 0
        if ok:
            env = dict(os.environ, STROP_FLEET_NETNS="1")
            sys.exit(subprocess.run(["unshare", "-n", sys.executable] + sys.argv, env=env).returncode)
        os.environ["STROP_FLEET_NETNS"] = "0"
        sys.stderr.write("note: unshare -n unavailable: running on the host loopback\n")
    elif state == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


_handed_out = set()


def free_port():
    """A loopback port free now, for a server started later: below the kernel's ephemeral
    range and never handed out twice by this process. (A port from bind(0) is an ephemeral
    one: until its server binds it, the local end of any connection, such as a route one
    nats-server dials to another, or the next bind(0) may take it, and the server then fails
    to start. A test command saw a nats-server of a fleet not listen within 20 s; such a
    collision is the likely cause, and start_all() now prints the server's log when it
    happens.)"""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo = int(f.read().split()[0])
    first = max(1024, lo - 16000)
    while True:
        if lo - first >= 1000:
            port = random.randrange(first, lo)
        else:  # no room below the ephemeral range: take one from it
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


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
        # Hooks for tests that put proxies between the servers (test_fleet_partition.py),
        # set before start(): route_ports[(i, j)] is the port server i dials to route to server
        # j (default: j's own cluster port), server_args[i] more nats-server flags for server i.
        self.route_ports = {}
        self.server_args = {}

    @property
    def urls(self):
        return ",".join("nats://127.0.0.1:%d" % p for p in self.ports)

    def start(self, i):
        store = os.path.join(self.dir, "n%d" % i)
        os.makedirs(store, exist_ok=True)
        routes = ",".join("nats://127.0.0.1:%d" % self.route_ports.get((i, j), r)
                          for j, r in enumerate(self.routes) if j != i)
        cmd = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.ports[i]), "-n", "n%d" % i,
               "-m", str(self.monitors[i]),
               "-js", "-sd", store, "--cluster_name", "strop-test",
               "--cluster", "nats://127.0.0.1:%d" % self.routes[i], "--routes", routes]
        cmd += self.server_args.get(i, [])
        log = open(os.path.join(self.dir, "n%d.log" % i), "ab")
        self.procs[i] = subprocess.Popen(cmd, stdout=log, stderr=log)
        log.close()

    def start_all(self):
        for i in range(len(self.ports)):
            self.start(i)
        for i, p in enumerate(self.ports):
            try:
                wait_until(lambda p=p: socket.create_connection(("127.0.0.1", p),
                                                                timeout=1).close() or True,
                           20, "nats-server n%d" % i)
            except AssertionError as e:
                code = self.procs[i].poll()
                raise AssertionError("%s (%s); its log ends:\n%s" % (
                    e, "running" if code is None else "exited %d" % code,
                    self.log_tail(i))) from None

    def log_tail(self, i, lines=20):
        try:
            with open(os.path.join(self.dir, "n%d.log" % i), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return "(no log: %s)" % e

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
    """The value of one unlabelled series of the node's /metrics (None when absent). /metrics
    is on the admin listener when the node has one."""
    port = getattr(node, "ports", {}).get("admin")
    c = node_harness.Client(port, timeout=5) if port else node.client(timeout=5)
    try:
        r = c.get("/metrics")
    finally:
        c.close()
    m = re.search(r"^%s (\S+)$" % re.escape(name), r.body.decode(), re.M)
    return float(m.group(1)) if m else None


class Fleet:
    """n strop-nodes in fleet mode over one NatsCluster, from one initial store."""

    def __init__(self, n=3, nats_n=3, config_extra="", listeners=()):
        self.tmp = tempfile.mkdtemp(prefix="strop-fleet-test-")
        self.nats = NatsCluster(self.tmp, nats_n)
        self.nodes = []
        self.config_extra = config_extra
        self.listeners = tuple(listeners)
        self.n = n
        # node index -> its --cluster-nats URLs (default: every server), set before start()
        self.node_urls = {}

    def start(self):
        self.nats.start_all()
        first = None
        for i in range(self.n):
            name = "node%s" % "abc"[i]
            config = ("[cluster]\nnode_id = \"%s\"\npublish_timeout_ms = 3000\n"
                      "replicas = %d\n%s\n[rate_limit]\nreporter_per_second = 0\nip_per_second = 0\n"
                      % (name, min(3, len(self.nats.ports)), self.config_extra))
            node = Node(config, workdir=os.path.join(self.tmp, name),
                        extra_args=["--cluster-nats", self.node_urls.get(i, self.nats.urls)],
                        listeners=self.listeners)
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

    def register(self, node, name, trust):
        """A reporter registered at `node` through the log, with pinned `trust` (signed by the
        admin identity); returns its identity file's path."""
        path = os.path.join(self.tmp, "identity-%s.json" % name)
        self.strop(node, "register", "--user", name, "--trust", str(trust), "--out", path, check=0)
        return path

    def restart(self, node):
        """Starts a killed node again on its store and waits until it is connected."""
        node.start()
        self.wait_connected(node)

    def strop(self, node, *args, check=None, identity=None):
        cmd = [STROP, "--node", node.url, "--identity", identity or self.identity_path] + list(args)
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

    def check_api(self, node, files, sigs, chunk=200):
        """{file: (spam, confidence)} from the node's POST /v1/check, each file checked with
        its signatures `sigs[file]` (from signatures(): what `strop check` sends), in
        requests of `chunk` messages (the node's body limit is 1 MiB)."""
        out = {}
        cl = node.client(timeout=60)
        try:
            for i in range(0, len(files), chunk):
                part = files[i:i + chunk]
                r = cl.check([sorted(sigs[f]) for f in part])
                if r.status != 200:
                    raise AssertionError("check at %s: %r" % (node.url, r))
                for f, res in zip(part, r.json()["results"]):
                    out[f] = (res["verdict"] == "spam", res["confidence"])
        finally:
            cl.close()
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


ENGINES = {1: "body/1", 2: "fuzzy/1", 3: "url/1", 4: "attach/1", 5: "razor-e4", 6: "razor-e8",
           7: "pyzor"}


def signatures(files):
    """{file: set of "engine:value"} as `strop report` sends them (its default engines: all)."""
    out = {}
    for i in range(0, len(files), 500):
        p = subprocess.run([STROP, "sig", "--json", "--engines", "all"] + files[i:i + 500],
                           capture_output=True, text=True, timeout=300, check=True)
        for line in p.stdout.splitlines():
            j = json.loads(line)
            out[j["name"]] = {s["id"] for s in j["signatures"]}
    return out


def stored_signatures(node, times=False):
    """{"engine:value": active reports} of every record in the node's `sigs` database
    (docs/storage-format.md "sigs"), read with mdb_dump in a read-only transaction; with
    times, {"engine:value": (reports, first_seen, last_vote, last_hit)}."""
    p = subprocess.run(["mdb_dump", "-s", "sigs", node.data_dir], capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise AssertionError("mdb_dump %s: %s" % (node.data_dir, p.stderr))
    lines = p.stdout.splitlines()
    body = lines[lines.index("HEADER=END") + 1:lines.index("DATA=END")]
    out = {}
    for value in body[1::2]:
        v = bytes.fromhex(value.strip())
        if v[0] != 1:
            raise AssertionError("sigs record of version %d" % v[0])
        sig = "%s:%s" % (ENGINES[v[1]], v[36:].decode())
        reports = struct.unpack(">I", v[28:32])[0]
        out[sig] = (reports,) + struct.unpack(">QQQ", v[4:28]) if times else reports
    return out


class StreamReader:
    """Reads a JetStream stream's messages over the NATS client protocol (stdlib sockets):
    $JS.API.STREAM.INFO.<stream> for its bounds, $JS.API.STREAM.MSG.GET.<stream> per
    sequence. Any live server of the cluster answers (the API is forwarded to the leader)."""

    def __init__(self, port, stream="STROP"):
        self.stream = stream
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self._line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                          b'"no_responders":true,"protocol":1}\r\nSUB _INBOX.strop-test 1\r\n')

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise AssertionError("NATS connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def _take(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, obj):
        body = json.dumps(obj).encode()
        self.sock.sendall(b"PUB %s _INBOX.strop-test %d\r\n%s\r\n" % (subject.encode(), len(body), body))
        while True:
            line = self._line()
            if line == "PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith("MSG "):
                return json.loads(self._take(int(line.split()[-1])))
            elif line.startswith("HMSG "):
                parts = line.split()
                data = self._take(int(parts[-1]))
                hdr = data[:int(parts[-2])]
                if b"503" in hdr.split(b"\r\n")[0]:
                    raise AssertionError("no responders for %s" % subject)
                return json.loads(data[int(parts[-2]):])
            elif line.startswith("-ERR"):
                raise AssertionError("NATS: %s" % line)

    def bounds(self):
        j = self.request("$JS.API.STREAM.INFO." + self.stream, {})
        if "error" in j:
            raise AssertionError("stream info: %s" % j["error"])
        return j["state"]["first_seq"], j["state"]["last_seq"]

    def events(self):
        """[(seq, decoded event or None when it does not decode)] of the whole stream."""
        first, last = self.bounds()
        out = []
        for seq in range(first, last + 1):
            j = self.request("$JS.API.STREAM.MSG.GET." + self.stream, {"seq": seq})
            if "error" in j:
                raise AssertionError("stream message %d: %s" % (seq, j["error"]))
            out.append((seq, decode_event(base64.b64decode(j["message"].get("data", "")))))
        return out


def stream_events(port, timeout=60):
    """Every event of the stream, read over the JetStream API of the server at port (retried
    while the cluster settles): StreamReader.events()."""
    holder = {}

    def read():
        reader = StreamReader(port)
        try:
            holder["events"] = reader.events()
        finally:
            reader.close()
        return True
    wait_until(read, timeout, "the stream's events over the JetStream API", step=1)
    return holder["events"]


def read_sigs(b, pos):
    """The event's `sigs` list at pos (docs/fleet.md "Event format") as a frozenset of
    "engine:value", and the position after it."""
    count = struct.unpack(">H", b[pos:pos + 2])[0]
    pos += 2
    sigs = set()
    for _ in range(count):
        engine = b[pos]
        n = struct.unpack(">H", b[pos + 1:pos + 3])[0]
        sigs.add("%s:%s" % (ENGINES[engine], b[pos + 3:pos + 3 + n].decode()))
        pos += 3 + n
    return frozenset(sigs), pos


def decode_event(b):
    """The fields of an event the tests judge by (docs/fleet.md "Event format"): type, origin,
    request, time; for a vote, revoke, reporter and the set of signatures; for a peer batch
    (version 2), peer, after, cursor and count; for a touch (version 3) the set of signatures,
    for an expire step cutoff and limit. None when it does not decode."""
    try:
        if b[:2] != b"SF" or b[2] != (3 if b[3] >= 10 else 2 if b[3] >= 7 else 1):
            return None
        pos = 4
        e = {"type": b[3]}
        n = b[pos]
        e["origin"] = b[pos + 1:pos + 1 + n].decode()
        pos += 1 + n
        e["request"], e["time"] = struct.unpack(">QQ", b[pos:pos + 16])
        pos += 16
        if e["type"] == 1:
            flags = b[pos]
            e["revoke"] = bool(flags & 1)
            n = b[pos + 1]
            e["reporter"] = b[pos + 2:pos + 2 + n].decode()
            pos += 2 + n
            e["sigs"], pos = read_sigs(b, pos)
        elif e["type"] == 10:
            e["sigs"], pos = read_sigs(b, pos)
        elif e["type"] == 11:
            e["cutoff"], e["limit"] = struct.unpack(">QI", b[pos:pos + 12])
        elif e["type"] == 7:
            n = b[pos]
            e["peer"] = b[pos + 1:pos + 1 + n].decode()
            pos += 1 + n
            e["after"], e["cursor"], e["count"] = struct.unpack(">QQH", b[pos:pos + 18])
        return e
    except (IndexError, KeyError, UnicodeDecodeError, struct.error):
        return None


def corpus(kind, n, start=0):
    d = os.path.join(CORPUS, kind)
    files = sorted(os.listdir(d))[start:start + n]
    return [os.path.join(d, f) for f in files]
