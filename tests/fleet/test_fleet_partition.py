"""Fleet mode under network partitions (issue 15; docs/fleet.md "Failure modes" and "What the
partition tests check"): a 3-server NATS JetStream cluster (R3) and 3 strop-nodes on loopback,
with the links a partition cuts running through CutProxy, a small TCP proxy that can be cut
(every proxied connection reset, new ones refused or blackholed) and healed. Every cluster
route goes through a proxy of its own per ordered pair of servers (server i dials j through
proxy (i, j)); the servers advertise no address a route or client could use instead
(--cluster_advertise names a closed port, so no implicit route bypasses the proxies;
--no_advertise, so a client knows only the URLs it was given). A load of two clients (one at
A, one at B: reports of two fresh random signatures, body/1 and url/1, signed by the fleet's
admin reporter) runs through each partition.

  test_node_cut_off_from_nats        C reaches the three servers through one proxy each; all
                                     three are cut (connections reset, new ones refused) while
                                     A and B take reports. C answers checks from its own state
                                     (what it had, not what A and B take meanwhile), refuses
                                     every write at once with 503 + Retry-After (two clients
                                     at C, and `strop report` with its temporary-failure exit)
                                     and acknowledges none; healed, it reconnects and catches up
                                     without a restart and takes writes again
  test_server_isolated_from_peers    n2, a follower of the stream, loses its routes to n0 and
                                     n1 (connections reset, new ones refused) while C is
                                     connected to n2 only and A and B to n0 and n1: no write at
                                     C is acknowledged while n2 is in the minority (each gets
                                     503 + Retry-After), C answers checks, the majority takes
                                     writes; healed, C catches up and takes writes again
  test_blackholed_node_refuses_at_once
                                     as test_node_cut_off_from_nats, but C's links blackholed
                                     (new connections accepted and never answered, as most
                                     real partitions do): every write at C is still refused
                                     within a second and checks answer meanwhile (this found
                                     the bug described below, now fixed)
  test_known_bug_isolated_stream_leader_diverges
                                     as test_server_isolated_from_peers with n2 leading the
                                     stream: KNOWN BUG 2 below shows (printed, not asserted);
                                     asserted: the nodes that diverge detect it, no other

After each healed partition, with every node at the stream's head: identical `stats` counts;
every vote event in the log is a write some client sent (nothing invented), every
acknowledged write is in it, and every node's `sigs` database is exactly the fold of the log's
votes (every acknowledged write on every node, nothing else: no phantom); every nats-server's
replica of the stream holds every logged write; a write C refused at once while cut off (never
published) is nowhere; a check of every acknowledged write matches it at every node. Waits
are on conditions with deadlines; what the tests measure (detection, failover, catch-up,
latencies) is printed.

FIXED BUG 1 (strop-node with nats.c 3.4.1): when a node's NATS links were blackholed (packets
dropped: the reconnect attempts hang until connect_timeout_ms instead of being refused), its
writes were refused after up to ~6 s and its checks waited behind them: Fleet::submit asked
NatsFleetImpl::connected(), whose natsConnection_Status() waited for the connection's lock,
which nats.c's reconnect thread holds through each connection attempt (_doReconnect ->
_createConn/_processConnInit). connected() now reads a flag the connection callbacks keep.

KNOWN BUG 2 (nats-server 2.9.10): a stream leader cut off from its peers (the minority) keeps
taking publishes: it stores them in its replica of the stream without a quorum (never
acknowledged: the writer gets 503), and after the heal its replica keeps them and lacks the
writes the majority committed at the same sequences (in every run: 5-9 acknowledged writes
missing, every refused write present). A strop-node whose ordered consumer is placed on that
server (about half the runs) applies the replica's events: it ends at the same applied
sequence as the others with phantom writes and without acknowledged ones, with no gap and no
error in the events themselves. Such a node now detects it: every member checks the events it
applied against the stream leader's copy (Fleet::verify), and each event that differs is
counted in strop_fleet_divergence_total and logged as critical (docs/fleet.md). The test
asserts that detection (the nodes that diverged, and no other) and prints the bug's symptoms;
the bug itself stays until nats-server repairs the replica.
"""
import http.client
import json
import os
import socket
import struct
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet_harness as fh  # noqa: E402
import node_harness as nh  # noqa: E402


class _Conn:
    def __init__(self, client, upstream):
        self.client, self.upstream = client, upstream
        self.dead = False
        self.left = 2  # pumps running
        self.done = threading.Event()


class CutProxy:
    """A TCP proxy from 127.0.0.1:.port (its own) to 127.0.0.1:target that a test cuts and
    heals as a network partition would:
      cut(new="refuse")     resets every proxied connection (RST to both ends; returns when
                            done) and from then on resets each new connection once accepted;
      cut(new="blackhole")  the same for the proxied connections; new ones are accepted but
                            get no byte and reach nothing (the peer's timeout decides) until
                            heal() resets them;
      heal()                forwards new connections again.
    One thread accepts; each proxied connection has two pump threads, which look at the cut
    flag every 0.2 s."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.mode = None  # None: forwarding; "refuse" or "blackhole": cut
        self.conns = set()  # live proxied connections
        self.held = []  # blackholed connections
        self.accepted = 0  # connections forwarded, in all
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _reset(s):
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                mode = self.mode
                if mode == "blackhole":
                    self.held.append(c)
                    continue
            if mode == "refuse":
                self._reset(c)
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                self._reset(c)
                continue
            for s in (c, u):
                s.settimeout(0.2)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(c, u)
            with self.lock:
                if self.mode is not None:  # cut meanwhile
                    self._reset(c)
                    self._reset(u)
                    continue
                self.conns.add(conn)
                self.accepted += 1
            for src, dst in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(conn, src, dst), daemon=True).start()

    def _pump(self, conn, src, dst):
        try:
            while not conn.dead:
                try:
                    data = src.recv(1 << 16)
                except socket.timeout:
                    continue
                if not data:
                    break
                view = memoryview(data)
                while view and not conn.dead:
                    try:
                        view = view[dst.send(view):]
                    except socket.timeout:
                        continue
        except OSError:
            pass
        # One end gone, or cut: the other pump stops within its timeout; the last one out
        # resets both ends.
        conn.dead = True
        with self.lock:
            conn.left -= 1
            last = conn.left == 0
            if last:
                self.conns.discard(conn)
        if last:
            self._reset(conn.client)
            self._reset(conn.upstream)
            conn.done.set()

    def cut(self, new="refuse"):
        assert new in ("refuse", "blackhole"), new
        with self.lock:
            self.mode = new
            conns = list(self.conns)
        for conn in conns:
            conn.dead = True
        for conn in conns:
            if not conn.done.wait(10):
                raise AssertionError("a proxied connection to port %d outlived the cut" % self.target)

    def heal(self):
        with self.lock:
            self.mode = None
            held, self.held = self.held, []
        for s in held:
            self._reset(s)

    def close(self):
        self.cut()
        self.lsock.close()


class Writes:
    """Reports of fresh random signatures (one message: a body/1 and a url/1 signature) through
    the HTTP API, signed by the fleet's admin reporter. Every attempt is recorded as a dict:
    node (index), sigs (frozenset), status (None: no answer), retry_after, body (when not 200),
    t0, t1 (time.monotonic())."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.lock = threading.Lock()
        self.records = []

    def one(self, i, client=None):
        node = self.fleet.nodes[i]
        sigs = [nh.body_sig(), nh.url_sig()]
        cl = client or node.client(timeout=30)
        rec = {"node": i, "sigs": frozenset(sigs), "status": None, "retry_after": None,
               "t0": time.monotonic()}
        try:
            r = cl.report(self.fleet.identity, [sigs])
            rec["status"] = r.status
            rec["retry_after"] = r.headers.get("retry-after")
            if r.status == 200:
                rec["recorded"] = r.json()["results"][0].get("recorded")
            else:
                rec["body"] = r.body[:200]
        except (OSError, http.client.HTTPException) as e:
            rec["body"] = repr(e)
        finally:
            rec["t1"] = time.monotonic()
            if client is None:
                cl.close()
        with self.lock:
            self.records.append(rec)
        return rec

    def acked(self, nodes=None, after=None):
        with self.lock:
            return [r for r in self.records if r["status"] == 200 and
                    (nodes is None or r["node"] in nodes) and (after is None or r["t0"] >= after)]

    def at(self, i, after):
        with self.lock:
            return [r for r in self.records if r["node"] == i and r["t0"] >= after]


class Load:
    """One client thread per entry of `nodes`, each writing through Writes until stop()."""

    def __init__(self, writes, nodes, pause=0.05):
        self.writes = writes
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i, pause)) for i in nodes]
        for t in self.threads:
            t.start()

    def _run(self, i, pause):
        cl = self.writes.fleet.nodes[i].client(timeout=30)
        try:
            while not self.stopping.is_set():
                rec = self.writes.one(i, cl)
                if rec["status"] is None:  # a broken keep-alive connection: a new one
                    cl.close()
                    cl = self.writes.fleet.nodes[i].client(timeout=30)
                self.stopping.wait(pause if rec["status"] == 200 else 0.2)
        finally:
            cl.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a load client hangs"


def monitor(fleet, i, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (fleet.nats.monitors[i], path),
                                timeout=3) as r:
        return json.load(r)


def routes(fleet):
    """The number of routes of each server (/routez)."""
    return [monitor(fleet, i, "/routez")["num_routes"] for i in range(len(fleet.nats.ports))]


def leader_seen_by(fleet, i, stream="STROP"):
    """The stream leader's name as server i's /jsz shows it ("" when it knows none)."""
    j = monitor(fleet, i, "/jsz?accounts=true&streams=true")
    for acc in j.get("account_details") or []:
        for st in acc.get("stream_detail") or []:
            if st.get("name") == stream:
                return (st.get("cluster") or {}).get("leader", "")
    return ""


def replica_bytes(fleet, i, stream="STROP"):
    """The bytes of nats-server i's replica of the stream (its file store's message blocks,
    read beside the running server): an event's signature values appear in them verbatim."""
    d = os.path.join(fleet.nats.dir, "n%d" % i, "jetstream", "$G", "streams", stream, "msgs")
    out = []
    for f in sorted(os.listdir(d)):
        if f.endswith(".blk"):
            with open(os.path.join(d, f), "rb") as fh_:
                out.append(fh_.read())
    return b"".join(out)


def body_value(sigs):
    return next(s for s in sigs if s.startswith("body/1:")).split(":", 1)[1].encode()


def timed_check(node, sig_lists):
    """(seconds, for each list the set of its signatures that a check at `node` matches)."""
    cl = node.client(timeout=30)
    t0 = time.monotonic()
    try:
        r = cl.check([sorted(s) for s in sig_lists])
    finally:
        cl.close()
    assert r.status == 200, r
    return time.monotonic() - t0, [{m["id"] for m in res["matches"]} for res in r.json()["results"]]


def matched(node, sig_lists):
    return timed_check(node, sig_lists)[1]


def applied(node):
    return fh.metric(node, "strop_fleet_applied_sequence")


class FleetPartitionTest(unittest.TestCase):
    # test -> (servers C reaches through proxies, servers A and B connect to)
    TOPOLOGY = {
        "test_node_cut_off_from_nats": ((0, 1, 2), (0, 1, 2)),
        "test_blackholed_node_refuses_at_once": ((0, 1, 2), (0, 1, 2)),
        "test_server_isolated_from_peers": ((2,), (0, 1)),
        "test_known_bug_isolated_stream_leader_diverges": ((2,), (0, 1)),
    }

    def setUp(self):
        """A fleet whose every route runs through a proxy per ordered pair of servers, node C
        connected through a proxy per server it may use, A and B straight to theirs; every
        node takes a write and all have all of them."""
        self.fleet = fh.Fleet()
        self.proxies = []
        self.loads = []
        self.addCleanup(self.cleanup)  # also when setUp fails
        self.cli_reports = []
        self.writes = Writes(self.fleet)
        c_servers, ab_servers = self.TOPOLOGY[self._testMethodName]
        nats = self.fleet.nats
        n = len(nats.ports)
        self.route_proxy = {}
        for i in range(n):
            closed = fh.free_port()  # advertised; nobody listens there
            nats.server_args[i] = ["--no_advertise=true", "--cluster_advertise",
                                   "127.0.0.1:%d" % closed]
            for j in range(n):
                if i != j:
                    p = self.route_proxy[(i, j)] = CutProxy(nats.routes[j])
                    nats.route_ports[(i, j)] = p.port
        self.client_proxy = {i: CutProxy(nats.ports[i]) for i in c_servers}
        self.proxies = list(self.route_proxy.values()) + list(self.client_proxy.values())
        self.fleet.node_urls[2] = ",".join("nats://127.0.0.1:%d" % p.port
                                           for p in self.client_proxy.values())
        for k in (0, 1):
            self.fleet.node_urls[k] = ",".join("nats://127.0.0.1:%d" % nats.ports[i]
                                               for i in ab_servers)
        self.fleet.start()
        fh.wait_until(lambda: routes(self.fleet) == [n - 1] * n, 30, "a full mesh of routes")
        first = [self.writes.one(k) for k in range(3)]
        self.assertEqual([r["status"] for r in first], [200] * 3, first)
        self.fleet.wait_converged()

    def tearDown(self):
        sys.stderr.write("\n")
        failed = any(e for _, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if _ is self) if hasattr(self._outcome, "result") else False
        if failed:
            sys.stderr.write(self.fleet.logs())

    def cleanup(self):
        for load in self.loads:
            load.stop()
        self.fleet.cleanup()
        for p in self.proxies:
            p.close()

    def say(self, fmt, *args):
        sys.stderr.write("\n  " + (fmt % args))

    # ---- the guarantees after a healed partition
    def assert_converged_no_phantom(self, never=()):
        """Every node at the stream's head with identical counts; the log invents nothing and
        holds every acknowledged write; every store is the fold of the log's votes; every
        server's replica holds every logged write; the writes in `never` (refused before they
        were published) are nowhere. Returns the set of logged writes (their signatures)."""
        fleet = self.fleet
        for n in fleet.nodes:
            fleet.wait_connected(n, timeout=60)
        fleet.wait_converged(timeout=90)
        stats = [fleet.stats(n) for n in fleet.nodes]
        events = fh.stream_events(fleet.nats.ports[0])
        self.assertEqual([s for s, e in events if e is None], [], "events that do not decode")
        votes = [e for _, e in events if e["type"] == 1]
        self.assertFalse(any(e["revoke"] for e in votes), "a revoke nobody sent")
        self.assertEqual({e["reporter"] for e in votes}, {fleet.identity["reporter"]})
        records = list(self.writes.records)
        logged = [e["sigs"] for e in votes]
        logged_set = set(logged)
        submitted = {r["sigs"] for r in records} | set(self.cli_reports)
        invented = [s for s in logged if s not in submitted]
        self.assertEqual(invented[:3], [], "vote events in the log that no client sent")
        self.assertEqual(len(logged), len(logged_set), "a write logged twice")
        acked = [r["sigs"] for r in records if r["status"] == 200]
        self.assertEqual({r["recorded"] for r in records if r["status"] == 200}, {2})
        lost = [s for s in acked if s not in logged_set]
        self.assertEqual(lost[:3], [], "acknowledged writes missing from the log")
        expected = {}
        for s in logged:
            for sig in s:
                expected[sig] = expected.get(sig, 0) + 1
        rec_of = {sig: r for r in records for sig in r["sigs"]}
        seq_of = {sig: seq for seq, e in events if e and e["type"] == 1 for sig in e["sigs"]}
        problems = []
        for x, n in zip("ABC", fleet.nodes):
            stored = fh.stored_signatures(n)
            phantoms = {id(rec_of[s]): rec_of[s] for s in set(stored) - set(expected) if s in rec_of}
            missing = sorted({seq_of[s] for s in set(expected) - set(stored)})
            if phantoms or missing or stored != expected:
                problems.append("node %s: %d signatures, %d phantom writes (not in the log; %s), "
                                "missing the writes at log sequences %s" % (
                                    x, len(stored), len(phantoms),
                                    sorted({(r["node"], r["status"]) for r in phantoms.values()}),
                                    missing))
            nowhere = sorted(sig for s in never for sig in s if sig in stored)
            self.assertEqual(nowhere[:3], [], "a write refused before publishing is at node " + x)
        for p in problems:
            self.say("DIVERGED %s", p)
        # Every node checks what it applied against the stream leader's copy (Fleet::verify;
        # no node was restarted, so it remembers all of it): the nodes that report a
        # divergence are exactly those whose store is not the log's fold.
        def all_checked(n):
            done = sum(fh.metric(n, "strop_fleet_" + k) for k in
                       ("verified_total", "unverified_total", "divergence_total"))
            return done == fh.metric(n, "strop_fleet_applied_sequence")
        for n in fleet.nodes:
            fh.wait_until(lambda n=n: all_checked(n), 30, "every applied event checked")
        divergent = {x for x, n in zip("ABC", fleet.nodes)
                     if fh.metric(n, "strop_fleet_divergence_total") > 0}
        self.divergence_seen = (sorted(divergent), sorted(p.split(":")[0][5:] for p in problems))
        self.say("nodes reporting a divergence: %s; nodes whose store is not the log's fold: %s",
                 *self.divergence_seen)
        self.assertEqual(self.divergence_seen[0], self.divergence_seen[1],
                         "nodes reporting a divergence (strop_fleet_divergence_total) against "
                         "nodes whose store is not the log's fold")
        self.assertEqual(problems, [], "node stores that are not the fold of the log's votes")
        for k in ("signatures", "votes", "reporters", "applied_sequence"):
            self.assertEqual(len({s[k] for s in stats}), 1, (k, stats))
        self.assertEqual(stats[0]["signatures"], len(expected), stats[0])
        self.assertEqual(stats[0]["applied_sequence"], events[-1][0], stats[0])
        # Every replica of the stream holds every logged write (the file store flushes its
        # blocks shortly after a write).
        holder = {}
        for i in range(len(fleet.nats.ports)):
            def replica_complete(i=i):
                data = replica_bytes(fleet, i)
                holder["absent"] = [s for s in logged if body_value(s) not in data]
                return not holder["absent"]
            try:
                fh.wait_until(replica_complete, 10, "n%d's replica" % i)
            except AssertionError:
                absent = holder["absent"]
                self.fail("n%d's replica of the stream lacks %d logged writes (%d acknowledged)"
                          % (i, len(absent), sum(s in set(acked) for s in absent)))
        for x, n in zip("ABC", fleet.nodes):
            found = matched(n, acked)
            misses = [sorted(s) for s, f in zip(acked, found) if f != s]
            self.assertEqual(misses[:3], [], "acknowledged writes a check at %s misses" % x)
        failed = [r["sigs"] for r in records if r["status"] != 200]
        self.say("converged: %d events, %d acknowledged writes on every node and replica; "
                 "%d of %d failed writes in the log (published before their error)",
                 len(events), len(acked), len(set(failed) & logged_set), len(failed))
        return logged_set

    # ---- scenario 1: a node cut off from NATS
    def cut_off_c(self, new):
        """Cuts C's links to every server (new connections: `new`); returns when C noticed."""
        c = self.fleet.nodes[2]
        t_cut = time.monotonic()
        for p in self.client_proxy.values():
            p.cut(new)
        fh.wait_until(lambda: fh.metric(c, "strop_fleet_connected") == 0.0, 20,
                      "C to notice it is cut off")
        t = time.monotonic()
        self.say("cut (%s): C noticed after %.2f s", new, t - t_cut)
        return t

    def probe_c_while_cut(self, before, until, deadline_s=90):
        """Two clients write at C while the main thread checks `before` at C every 0.2 s,
        until until() or deadline_s; returns ([write records], [check seconds])."""
        c = self.fleet.nodes[2]
        t0 = time.monotonic()
        load = Load(self.writes, [2, 2])
        self.loads.append(load)
        checks = []
        try:
            while not until() or len(checks) < 5:
                dt, found = timed_check(c, before)
                self.assertEqual(found, before, "a check at C while it is cut off")
                checks.append(dt)
                self.assertLess(time.monotonic() - t0, deadline_s, "the cut-off phase ends")
                time.sleep(0.2)
        finally:
            load.stop()
            self.loads.remove(load)
        return self.writes.at(2, t0), checks

    def test_node_cut_off_from_nats(self):
        a, b, c = self.fleet.nodes
        w = self.writes
        self.loads.append(Load(w, [0, 1]))
        fh.wait_until(lambda: len(w.acked(nodes=(0, 1))) >= 10, 60, "writes at A and B")
        before = [r["sigs"] for r in w.acked()][:10]
        fh.wait_until(lambda: matched(c, before) == before, 20, "C to hold the first writes")
        pid = c.proc.pid

        t_noticed = self.cut_off_c("refuse")
        seq_cut = applied(c)
        at_c, checks = self.probe_c_while_cut(
            before, lambda: len(w.at(2, t_noticed)) >= 8 and len(w.acked(after=t_noticed)) >= 15)
        # Every write at C was refused at once, retryable, and none acknowledged.
        self.assertEqual(sorted({(r["status"], r["retry_after"]) for r in at_c}), [(503, "1")],
                         at_c[:3])
        slow = max(r["t1"] - r["t0"] for r in at_c)
        self.assertLess(slow, 1.0, "a write at C cut off was not refused at once")
        self.assertLess(max(checks), 1.0, "a check at C while cut off")
        spam = fh.corpus("spam", 1, start=7)
        self.cli_reports = [frozenset(s) for s in fh.signatures(spam).values()]
        p = self.fleet.strop(c, "report", "--no-progress", "--timeout", "8", *spam)
        self.assertIn(p.returncode, (69, 75), p.stderr)  # 503 after the CLI's failover: 69
        self.assertIn("503", p.stderr)
        # C answers from its own state: nothing A and B took meanwhile, no event applied.
        during = [r["sigs"] for r in w.acked(after=t_noticed)]
        self.assertEqual([x for x in matched(c, during) if x], [],
                         "C has writes that A and B took while it was cut off")
        self.assertEqual(applied(c), seq_cut, "C applied events while cut off")
        self.assertGreater(applied(a), seq_cut)
        self.assertEqual(len(w.acked(nodes=(2,), after=t_noticed)), 0)

        t_heal = time.monotonic()
        target = applied(a)
        for px in self.client_proxy.values():
            px.heal()
        self.fleet.wait_connected(c, timeout=60)
        t_conn = time.monotonic()
        t_caught, t_write = self.catch_up_and_write(c, target)
        self.say("cut off: %d writes at C refused (503 in %.3f s at most), %d checks at C "
                 "(%.3f s at most), %d writes taken by A and B meanwhile", len(at_c), slow,
                 len(checks), max(checks), len(during))
        self.say("healed: C connected after %.2f s, caught up %d events after %.2f s, took a "
                 "write after %.2f s", t_conn - t_heal, target - seq_cut, t_caught - t_heal,
                 t_write - t_heal)
        self.assertEqual(c.proc.pid, pid, "C was restarted")
        self.assertTrue(c.alive(), "C died")
        fh.wait_until(lambda: len(w.acked(nodes=(0, 1), after=t_write)) >= 4, 30,
                      "writes at A and B after the heal")
        self.loads.pop().stop()
        never = [r["sigs"] for r in at_c] + self.cli_reports
        self.assert_converged_no_phantom(never=never)

    def test_blackholed_node_refuses_at_once(self):
        """C's links blackholed instead of refused. Asserted: every write at C refused with
        503 + Retry-After and none acknowledged, checks answered (as in
        test_node_cut_off_from_nats), and the documented "refused at once" (< 1 s, against
        1.8-6.0 s while refusals waited for nats.c's reconnect attempts: FIXED BUG 1)."""
        c = self.fleet.nodes[2]
        before = [r["sigs"] for r in self.writes.records[:3]]
        t_noticed = self.cut_off_c("blackhole")
        at_c, checks = self.probe_c_while_cut(before, lambda: len(self.writes.at(2, t_noticed)) >= 8,
                                              deadline_s=60)
        self.assertEqual(sorted({(r["status"], r["retry_after"]) for r in at_c}), [(503, "1")],
                         at_c[:3])
        lat = sorted(r["t1"] - r["t0"] for r in at_c)
        self.say("%d writes at C refused after %s s; %d checks at C, %.3f s at most",
                 len(at_c), " ".join("%.2f" % x for x in lat), len(checks), max(checks))
        self.assertTrue(c.alive())
        self.assertLess(lat[-1], 1.0, "a write at C blackholed from NATS was not "
                        "refused at once")
        self.assertLess(max(checks), 1.0, "a check at C while its writes are refused")

    # ---- scenario 2: a nats-server isolated from its peers, a node connected only to it
    def catch_up_and_write(self, c, target):
        """After a heal: waits for node c to apply up to sequence target, then for a write at
        c to be acknowledged; returns when each happened (time.monotonic())."""
        fh.wait_until(lambda: applied(c) >= target, 60, "C to catch up after the heal")
        t_caught = time.monotonic()
        fh.wait_until(lambda: self.writes.one(2)["status"] == 200, 60,
                      "a write at C after the heal", step=0.3)
        return t_caught, time.monotonic()

    def move_stream_leader(self, want):
        """Steps the stream leader down until want(leader name) holds (each step elects
        another server), and every server agrees."""
        fleet = self.fleet
        deadline = time.monotonic() + 60
        while True:
            leader = leader_seen_by(fleet, 0)
            if leader and want(leader):
                break
            self.assertLess(time.monotonic(), deadline, "could not move the stream leader")
            if leader:
                reader = fh.StreamReader(fleet.nats.ports[0])
                try:
                    reader.request("$JS.API.STREAM.LEADER.STEPDOWN.STROP", {})
                finally:
                    reader.close()
            fh.wait_until(lambda: leader_seen_by(fleet, 0) not in ("", leader), 20,
                          "a new stream leader")
        fh.wait_until(lambda: len({leader_seen_by(fleet, i) for i in range(3)}) == 1, 20,
                      "every server to know the stream leader")
        fh.wait_until(lambda: self.writes.one(2)["status"] == 200, 30,
                      "a write at C with %s leading" % leader, step=0.3)
        return leader

    def isolate_n2(self, leader_in_minority):
        fleet = self.fleet
        a, b, c = fleet.nodes
        w = self.writes
        leader = self.move_stream_leader(lambda l: (l == "n2") == leader_in_minority)
        self.loads.append(Load(w, [0, 1]))
        fh.wait_until(lambda: len(w.acked(nodes=(0, 1))) >= 10, 60, "writes at A and B")
        before = [r["sigs"] for r in w.acked()][:10]
        fh.wait_until(lambda: matched(c, before) == before, 20, "C to hold the first writes")
        pid = c.proc.pid

        t_cut = time.monotonic()
        for (i, j), p in self.route_proxy.items():
            if 2 in (i, j):
                p.cut("refuse")
        fh.wait_until(lambda: routes(fleet) == [1, 1, 0], 30, "n2 cut off from n0 and n1")
        t_part = time.monotonic()

        # n2 in the minority: no write at C acknowledged; checks at C answer from its state;
        # the majority takes writes (after electing a stream leader if n2 led).
        at_c, checks = [], []
        cl = c.client(timeout=30)
        try:
            while len(at_c) < 4 or len(w.acked(after=t_part)) < 15:
                rec = w.one(2, cl)
                if rec["status"] is None:
                    cl.close()
                    cl = c.client(timeout=30)
                at_c.append(rec)
                self.assertNotEqual(rec["status"], 200,
                                    "C acknowledged a write while its server is in the minority")
                self.assertEqual((rec["status"], rec["retry_after"]), (503, "1"), rec)
                dt, found = timed_check(c, before)
                self.assertEqual(found, before, "a check at C in the minority")
                checks.append(dt)
                self.assertLess(time.monotonic() - t_part, 120, "the majority takes writes")
                time.sleep(0.1)
        finally:
            cl.close()
        t_heal = time.monotonic()
        majority = w.acked(after=t_part)
        new_leader = leader_seen_by(fleet, 0)
        self.assertIn(new_leader, ("n0", "n1"))
        self.assertEqual(leader_seen_by(fleet, 1), new_leader)
        during = [r["sigs"] for r in majority]
        self.assertEqual([x for x in matched(c, during) if x], [],
                         "C has writes the majority took while its server was cut off")
        lat = sorted(r["t1"] - r["t0"] for r in at_c)
        self.say("partition after %.2f s; stream leader %s, then %s on the majority side "
                 "(n2 itself shows %r); %d writes at C refused with 503 after %.2f-%.2f s; "
                 "%d checks at C, %.3f s at most; majority: first write acknowledged %.2f s "
                 "after the partition, %d in all", t_part - t_cut, leader, new_leader,
                 leader_seen_by(fleet, 2), len(at_c), lat[0], lat[-1], len(checks),
                 max(checks), min(r["t1"] for r in majority) - t_part, len(majority))
        self.assertLess(max(checks), 1.0, "a check at C in the minority")

        target = applied(a)
        for (i, j), p in self.route_proxy.items():
            if 2 in (i, j):
                p.heal()
        fh.wait_until(lambda: routes(fleet) == [2, 2, 2], 60, "the routes back")
        t_routes = time.monotonic()
        t_caught, t_write = self.catch_up_and_write(c, target)
        self.say("healed: routes back after %.2f s, C caught up after %.2f s, took a write "
                 "after %.2f s", t_routes - t_heal, t_caught - t_heal, t_write - t_heal)
        self.assertEqual(c.proc.pid, pid, "C was restarted")
        self.assertTrue(c.alive(), "C died")
        fh.wait_until(lambda: len(w.acked(nodes=(0, 1), after=t_write)) >= 4, 30,
                      "writes at A and B after the heal")
        self.loads.pop().stop()
        fleet.wait_converged(timeout=90)
        for i in range(3):
            data = replica_bytes(fleet, i)
            self.say("n%d's replica: %d of the %d writes the majority acknowledged while n2 "
                     "was cut off, %d of the %d writes refused at C", i,
                     sum(body_value(s) in data for s in during), len(during),
                     sum(body_value(r["sigs"]) in data for r in at_c), len(at_c))
        logged = self.assert_converged_no_phantom()
        self.say("%d of the %d writes refused at C in the minority are in the log",
                 sum(r["sigs"] in logged for r in at_c), len(at_c))

    def test_server_isolated_from_peers(self):
        self.isolate_n2(leader_in_minority=False)

    def test_known_bug_isolated_stream_leader_diverges(self):
        """KNOWN BUG 2 (module docstring): the same with n2 leading the stream when it is cut
        off. Holds: no write at C acknowledged in the minority, checks at C answered, the
        majority elects a leader and takes writes, C catches up and writes after the heal.
        Fails (nats-server 2.9.10; printed, not asserted): n2's replica lacks acknowledged
        writes and holds C's refused ones, and the nodes whose consumer n2 serves diverge.
        Asserted: the nodes that diverged, and only they, detect it (their applied events
        differ from the stream leader's: strop_fleet_divergence_total)."""
        self.divergence_seen = None
        try:
            self.isolate_n2(leader_in_minority=True)
        except AssertionError as e:
            if self.divergence_seen is None or self.divergence_seen[0] != self.divergence_seen[1]:
                raise
            self.say("KNOWN BUG 2 showed: %s", str(e).splitlines()[0])
        else:
            self.say("KNOWN BUG 2 did not show in this run")


if __name__ == "__main__":
    unittest.main(argv=fh.parse_args(), verbosity=2)
