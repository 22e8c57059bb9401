"""Fleet mode under faults (issue 15; docs/fleet.md "What the fault tests check"): a 3-server
NATS JetStream cluster and 3 strop-nodes on loopback, a report load from four clients (one per
node with its own reporter, and a fourth at the third node with the admin reporter), and faults.

  test_combined_faults_under_load   one run with every fault the issue names, overlapping:
                                    SIGSTOP of one node for 30 s, during which kill -9 of the
                                    JetStream stream leader (restarted 3 s later) and kill -9
                                    of another strop-node (restarted 2 s later)
  test_random_faults_loop           a small Jepsen-style loop: 3 rounds, each with 2-3 faults
                                    of random kinds (kill -9 of the stream leader or of any
                                    nats-server, kill -9 or SIGTERM and restart of a node,
                                    SIGSTOP of a node), targets, start times and lengths (seeded;
                                    the seed is printed, STROP_FLEET_SEED=N repeats the choices)

After each run (each round) every fault is healed and the invariants are checked:
  - every node applied the whole stream, and a report at every node is acknowledged again;
  - the log holds an event for every acknowledged report, and no vote event that is not a
    batch some client submitted (with that client's reporter): nothing is invented;
  - every node's `sigs` database is exactly the fold of the log's vote events: the same
    signatures, each with as many active reports as distinct reporters voted for it. So an
    acknowledged report is on every node, and a report whose client saw an error (timeout,
    503, connection refused) is on a node only if its publish made it into the log, and then
    on every node; anything else on a node would be a phantom;
  - `strop-node stats --json` counts are identical, and equal to what the log implies;
  - every acknowledged message is spam at every node, and all nodes give identical verdicts
    and confidences on a sample of 1,000 corpus messages (spam and ham, reported or not),
    checked through POST /v1/check with the signatures `strop check` would send (computed
    once with `strop sig --engines all`: 3x1,000 `strop check` runs cost ~13 s a round).
No assertion depends on timing: the faults' timings only shape which writes fail.
"""
import os
import random
import signal
import sys
import threading
import time
import unittest
import zlib
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet_harness as fh  # noqa: E402

SEED = int(os.environ.get("STROP_FLEET_SEED") or random.SystemRandom().randrange(1 << 31))
SAMPLE = 1000


class Load:
    """Clients reporting batches of corpus messages until stop(), each through one node with
    its own reporter identity; some batches acknowledged for one reporter are reported again
    by another client (so signatures gather several reporters). Every attempt is recorded as
    (reporter, batch, acknowledged, detail)."""

    def __init__(self, fleet, clients, pool, seed, batch=4, pause=0.4, again=0.2):
        self.fleet = fleet
        self.clients = clients  # [(node index, identity path, reporter name)]
        self.pool = pool
        self.rng = random.Random(seed)
        self.batch = batch
        self.pause = pause
        self.again_p = again
        self.again = []  # (batch, reporter that already has it)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.records = []
        self.threads = []

    def next_batch(self, reporter):
        with self.lock:
            for i, (b, who) in enumerate(self.again):
                if who != reporter:
                    del self.again[i]
                    return b
            if not self.pool:
                return None
            b, self.pool[:] = tuple(self.pool[:self.batch]), self.pool[self.batch:]
            return b

    def run(self, node_index, identity, reporter):
        while not self.stopping.is_set():
            b = self.next_batch(reporter)
            if b is None:
                return
            node = self.fleet.nodes[node_index]
            while node.port is None and not self.stopping.is_set():
                time.sleep(0.1)  # restarting: its new port is not known yet
            if node.port is None:
                return
            p = self.fleet.strop(node, "report", "--no-progress", "--timeout", "8", *b,
                                 identity=identity)
            ok = p.returncode == 0
            with self.lock:
                self.records.append((reporter, b, ok, "" if ok else "exit %d: %s" % (
                    p.returncode, p.stderr.strip()[-200:])))
                if ok and self.rng.random() < self.again_p:
                    self.again.append((b, reporter))
            time.sleep(self.pause if ok else 0.5)

    def start(self):
        self.stopping.clear()
        self.threads = [threading.Thread(target=self.run, args=c) for c in self.clients]
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in self.threads), "a load client hangs"

    def summary(self):
        ok = sum(1 for r in self.records if r[2])
        return "%d reports, %d acknowledged, %d failed" % (len(self.records), ok,
                                                           len(self.records) - ok)


class FleetFaultsTest(unittest.TestCase):
    def setUp(self):
        self.fleet = fh.Fleet().start()
        self.rng = random.Random(SEED ^ zlib.crc32(self._testMethodName.encode()))
        a, b, c = self.fleet.nodes
        # Three reporters registered through the log (pinned trust), one per node's client.
        self.clients = [(0, self.fleet.register(a, "r-a", 1.0), "r-a"),
                        (1, self.fleet.register(b, "r-b", 0.9), "r-b"),
                        (2, self.fleet.register(c, "r-c", 0.8), "r-c"),
                        (2, self.fleet.identity_path, "postmaster")]
        self.pool = fh.corpus("spam", 500) + fh.corpus("ham", 2500)
        self.rng.shuffle(self.pool)
        self.sigs = fh.signatures(self.pool)
        self.load = Load(self.fleet, self.clients, list(self.pool), self.rng.randrange(1 << 31))

    def tearDown(self):
        if self.load.threads:
            self.load.stop()
        failed = any(e for _, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if _ is self) if hasattr(self._outcome, "result") else False
        if failed:
            sys.stderr.write(self.fleet.logs())
        self.fleet.cleanup()

    # ---- faults: each returns a function that heals it
    def kill_stream_leader(self):
        fh.wait_until(lambda: self.fleet.nats.stream_leader() is not None, 30, "a stream leader")
        return self.kill_nats(self.fleet.nats.stream_leader())

    def kill_nats(self, i):
        self.fleet.nats.kill(i)
        return lambda: self.fleet.nats.start(i)

    def kill_node(self, i):
        node = self.fleet.nodes[i]
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(timeout=30)
        return lambda: self.fleet.restart(node)

    def sigterm_node(self, i):
        node = self.fleet.nodes[i]
        rc = node.stop(timeout=30)
        assert rc == 0, "node %d exited %s on SIGTERM" % (i, rc)
        return lambda: self.fleet.restart(node)

    def pause_node(self, i):
        proc = self.fleet.nodes[i].proc
        proc.send_signal(signal.SIGSTOP)
        return lambda: proc.send_signal(signal.SIGCONT)

    def heal(self):
        """Every NATS server and every node running (a no-op for those that are)."""
        for i, p in enumerate(self.fleet.nats.procs):
            if p is None or p.poll() is not None:
                self.fleet.nats.start(i)
        for n in self.fleet.nodes:
            if n.proc.poll() is None:
                n.proc.send_signal(signal.SIGCONT)
            else:
                self.fleet.restart(n)

    # ---- invariants
    def assert_invariants(self, label):
        fleet = self.fleet
        sys.stderr.write("%s: %s\n" % (label, self.load.summary()))
        for n in fleet.nodes:
            fleet.wait_connected(n, timeout=90)
        fleet.wait_converged(timeout=120)
        # With every fault healed, a report at each node is acknowledged again (a 503 while
        # the stream's leadership settles is retried for up to 30 s, each attempt recorded).
        for node_index, identity, reporter in self.load.clients:
            batch = self.load.next_batch(reporter)
            node = fleet.nodes[node_index]

            def attempt(node=node, identity=identity, reporter=reporter, batch=batch):
                p = fleet.strop(node, "report", "--no-progress", "--timeout", "8", *batch,
                                identity=identity)
                self.load.records.append((reporter, batch, p.returncode == 0, p.stderr))
                return p.returncode == 0
            fh.wait_until(attempt, 30, "a report at %s after the faults were healed" % node.url,
                          step=0.5)
        records = list(self.load.records)

        def key(reporter, batch):
            return reporter, frozenset(s for f in batch for s in self.sigs[f])

        submitted = {key(r, b) for r, b, _, _ in records}
        acked = {key(r, b) for r, b, ok, _ in records if ok}
        failed = {key(r, b) for r, b, ok, _ in records if not ok} - acked

        # The log: nothing malformed, no invented vote, every acknowledged report in it.
        live = [i for i, p in enumerate(fleet.nats.procs) if p is not None and p.poll() is None]
        events = fh.stream_events(fleet.nats.ports[live[0]])
        self.assertEqual([s for s, e in events if e is None], [], "events that do not decode")
        votes = [e for _, e in events if e["type"] == 1]
        self.assertFalse(any(e["revoke"] for e in votes), "a revoke nobody sent")
        logged = {(e["reporter"], e["sigs"]) for e in votes}
        invented = [k for k in logged if k not in submitted]
        self.assertEqual(invented, [], "vote events in the log that no client submitted")
        lost = [k for k in acked if k not in logged]
        self.assertEqual(lost, [], "acknowledged reports missing from the log")
        sys.stderr.write("%s: %d events in the log; %d of %d reports whose client saw an error "
                         "are in it (their publish made it)\n"
                         % (label, len(events), len(failed & logged), len(failed)))

        # Every node's store is the fold of the log's votes, exactly.
        reporters = defaultdict(set)
        for e in votes:
            for s in e["sigs"]:
                reporters[s].add(e["reporter"])
        expected = {s: len(r) for s, r in reporters.items()}
        for n in fleet.nodes:
            stored = fh.stored_signatures(n)
            phantoms = sorted(set(stored) - set(expected))[:5]
            self.assertEqual(phantoms, [], "signatures at %s that no logged vote carries" % n.url)
            missing = sorted(set(expected) - set(stored))[:5]
            self.assertEqual(missing, [], "logged signatures missing at %s" % n.url)
            wrong = sorted((s, stored[s], expected[s]) for s in expected if stored[s] != expected[s])
            self.assertEqual(wrong[:5], [], "report counts (stored, logged) at %s" % n.url)

        stats = [fleet.stats(n) for n in fleet.nodes]
        for k in ("signatures", "votes", "reporters", "applied_sequence"):
            self.assertEqual(len({s[k] for s in stats}), 1, (k, stats))
        self.assertEqual(stats[0]["signatures"], len(expected), stats[0])
        self.assertEqual(stats[0]["votes"], sum(expected.values()), stats[0])
        self.assertEqual(stats[0]["applied_sequence"], events[-1][0], stats[0])

        # Acknowledged messages are spam everywhere; a 1,000-message sample agrees everywhere.
        acked_files = sorted({f for r, b, ok, _ in records if ok for f in b})
        sample = self.rng.sample(self.pool, SAMPLE)
        verdicts = [fleet.check_api(n, acked_files + sample, self.sigs) for n in fleet.nodes]
        for n, v in zip(fleet.nodes, verdicts):
            not_spam = [f for f in acked_files if not v[f][0]]
            self.assertEqual(not_spam, [], "acknowledged reports not spam at %s" % n.url)
        for n, v in zip(fleet.nodes[1:], verdicts[1:]):
            diff = [(f, verdicts[0][f], v[f]) for f in sample if v[f] != verdicts[0][f]]
            self.assertEqual(diff[:5], [], "verdicts at %s differ from %s"
                             % (n.url, fleet.nodes[0].url))
        listed = sum(1 for f in sample if verdicts[0][f][0])
        sys.stderr.write("%s: %d signatures on every node; %d acknowledged messages spam "
                         "everywhere; sample of %d: %d spam, identical on the 3 nodes\n"
                         % (label, len(expected), len(acked_files), len(sample), listed))

    # ---- tests
    def test_combined_faults_under_load(self):
        sys.stderr.write("fleet faults seed: %d (STROP_FLEET_SEED)\n" % SEED)
        paused, killed = self.rng.sample(range(3), 2)
        self.load.start()
        time.sleep(1.5)
        resume = self.pause_node(paused)
        t_paused = time.time()
        sys.stderr.write("SIGSTOP node %d\n" % paused)
        time.sleep(1.5)
        leader = self.fleet.nats.stream_leader()
        restart_nats = self.kill_stream_leader()
        sys.stderr.write("kill -9 stream leader n%s\n" % leader)
        time.sleep(3)
        restart_nats()
        time.sleep(3)
        restart_node = self.kill_node(killed)
        sys.stderr.write("kill -9 node %d\n" % killed)
        time.sleep(2)
        restart_node()
        sys.stderr.write("node %d restarted; stream leader now n%s\n"
                         % (killed, self.fleet.nats.stream_leader()))
        time.sleep(max(0.0, 30 - (time.time() - t_paused)))
        resume()
        sys.stderr.write("SIGCONT node %d after %.1f s\n" % (paused, time.time() - t_paused))
        time.sleep(3)
        self.load.stop()
        self.assertTrue(any(ok for _, _, ok, _ in self.load.records), "nothing acknowledged")
        self.assert_invariants("combined faults")

    def test_random_faults_loop(self):
        sys.stderr.write("fleet faults seed: %d (STROP_FLEET_SEED)\n" % SEED)
        kinds = ("kill9-stream-leader", "kill9-nats", "kill9-node", "sigterm-node",
                 "sigstop-node")
        for rnd in range(3):
            self.load.start()
            faults, nats_used, nodes_used = [], set(), set()
            for _ in range(self.rng.randint(2, 3)):
                kind = self.rng.choice(kinds)
                if kind.endswith("node"):
                    target = self.rng.choice([i for i in range(3) if i not in nodes_used])
                    nodes_used.add(target)
                elif kind == "kill9-nats":
                    target = self.rng.choice([i for i in range(3) if i not in nats_used])
                    nats_used.add(target)
                else:
                    target = None
                faults.append((self.rng.uniform(0.5, 6.0), self.rng.uniform(1.0, 8.0), kind, target))
            faults.sort(key=lambda f: f[0])
            sys.stderr.write("round %d: %s\n" % (rnd, "; ".join(
                "%s %s at %.1f s for %.1f s" % (k, "" if t is None else t, s, d)
                for s, d, k, t in faults)))
            t0 = time.time()
            heals = []  # (when, heal)
            for start, length, kind, target in faults:
                time.sleep(max(0.0, t0 + start - time.time()))
                if kind == "kill9-stream-leader":
                    leader = self.fleet.nats.stream_leader()
                    if leader is None or leader in nats_used:
                        continue  # no leader known, or already down: skip
                    nats_used.add(leader)
                    heal = self.kill_nats(leader)
                elif kind == "kill9-nats":
                    heal = self.kill_nats(target)
                elif kind == "kill9-node":
                    heal = self.kill_node(target)
                elif kind == "sigterm-node":
                    heal = self.sigterm_node(target)
                else:
                    heal = self.pause_node(target)
                heals.append((t0 + start + length, heal))
            for when, heal in sorted(heals, key=lambda h: h[0]):
                time.sleep(max(0.0, when - time.time()))
                heal()
            time.sleep(2)
            self.load.stop()
            self.heal()
            self.assert_invariants("round %d" % rnd)


if __name__ == "__main__":
    unittest.main(argv=fh.parse_args(), verbosity=2)
