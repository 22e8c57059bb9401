"""Fleet mode end to end (docs/fleet.md): a 3-server NATS JetStream cluster and 3 strop-nodes
on loopback, started and killed by the tests.

  test_report_and_revoke_reach_every_node   a report at A is found by `strop check` at B and C;
                                            a revoke at C unlists everywhere
  test_reporter_trust_and_disable_reach_every_node
                                            the admin API's set-trust and disable at A (through
                                            the log) are seen at B and C (GET /admin/reporter,
                                            identical confidences, a disabled reporter's report
                                            refused at C); enable at B; GET /admin/reporters
  test_razor_report_at_a_found_by_pyzor_at_b  `razor-report` at A's Razor2 listener is found by
                                            `pyzor check` at B's Pyzor listener (and by
                                            `razor-check` at C)
  test_nats_down_checks_work_writes_503     NATS fully down: checks answer, writes get a fast
                                            retryable 503; NATS back: writes succeed, no restart
  test_kill9_node_during_load_converges     kill -9 one node during a report load and restart
                                            it: it takes a report at once (same node_id, new
                                            request ids), every acknowledged report is on every
                                            node, identical stats counts and verdicts
  test_kill9_stream_leader_during_load      kill -9 the JetStream stream leader during a report
                                            load: the same, after it restarts
  test_node_joins_from_a_backup             a node started on a member's `strop-node backup`
                                            catches up and agrees with the others
  FleetExpiryTest                           hits and expiry through the log (docs/fleet.md
                                            "Activity and expiry"): with a 20 s expiry, what
                                            checks at B keep hitting stays on every member,
                                            the rest expires on every member, swept by the
                                            elected member only; identical records after
"""
import os
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet_harness as fh  # noqa: E402
import node_harness  # noqa: E402


class FleetTest(unittest.TestCase):
    def setUp(self):
        self.fleet = fh.Fleet(listeners=("razor", "pyzor")).start()

    def tearDown(self):
        failed = any(e for _, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if _ is self) if hasattr(self._outcome, "result") else False
        if failed:
            sys.stderr.write(self.fleet.logs())
        self.fleet.cleanup()

    def test_report_and_revoke_reach_every_node(self):
        a, b, c = self.fleet.nodes
        msgs = fh.corpus("spam", 3)
        for n in (a, b, c):
            self.assertFalse(any(s for s, _ in self.fleet.check_json(n, msgs).values()))
        self.fleet.strop(a, "report", "--no-progress", *msgs, check=0)
        # Read-your-writes at A: visible at once.
        at_a = self.fleet.check_json(a, msgs)
        self.assertTrue(all(s for s, _ in at_a.values()), at_a)
        for n in (b, c):
            fh.wait_until(lambda n=n: all(s for s, _ in self.fleet.check_json(n, msgs).values()), 10,
                          "the report at B and C")
            self.assertEqual(self.fleet.check_json(n, msgs), at_a)
        # Revoke at C (the same reporter withdraws its report): unlisted everywhere.
        self.fleet.strop(c, "revoke", "--no-progress", msgs[0], check=0)
        self.assertFalse(self.fleet.check_json(c, [msgs[0]])[msgs[0]][0])
        for n in (a, b):
            fh.wait_until(lambda n=n: not self.fleet.check_json(n, [msgs[0]])[msgs[0]][0], 10,
                          "the revoke at A and B")
        self.fleet.wait_converged()
        counts = {self.fleet.stats(n)["signatures"] for n in self.fleet.nodes}
        self.assertEqual(len(counts), 1, counts)
        # Every member checks what it applied against the stream leader's copy (Fleet::verify):
        # all of it, identical.
        for n in self.fleet.nodes:
            fh.wait_until(lambda n=n: fh.metric(n, "strop_fleet_verified_total") ==
                          fh.metric(n, "strop_fleet_applied_sequence"), 10,
                          "every applied event verified at the stream leader")
            self.assertEqual(fh.metric(n, "strop_fleet_divergence_total"), 0.0)
        # Every member lists every other from their beats, with the applied sequence each one
        # reports and no lag once converged (strop_fleet_member_*; the console's Network page).
        applied = {"node" + x: int(fh.metric(n, "strop_fleet_applied_sequence"))
                   for x, n in zip("abc", self.fleet.nodes)}

        def members(n):
            cl = n.client(timeout=5)
            try:
                body = cl.get("/metrics").body.decode()
            finally:
                cl.close()
            seen = dict(re.findall(r'^strop_fleet_member_applied_sequence\{member="([^"]+)"\} (\d+)$',
                                   body, re.M))
            lag = dict(re.findall(r'^strop_fleet_member_lag_events\{member="([^"]+)"\} (\d+)$',
                                  body, re.M))
            return {k: int(v) for k, v in seen.items()}, {k: int(v) for k, v in lag.items()}
        for x, n in zip("abc", self.fleet.nodes):
            fh.wait_until(lambda n=n: members(n) == (applied, dict.fromkeys(applied, 0)), 10,
                          "every member's beat at node" + x)
        # A member's store refuses local admin writes (they would diverge): exit 77.
        p = b.cli("reporter", "set-trust", "postmaster", "0.5", check=False)
        self.assertEqual(p.returncode, 77, p.stderr)
        self.assertIn("fleet member", p.stderr)

    def admin(self, node, method, target, body=b""):
        """One admin API request at `node`, signed by the fleet's admin identity."""
        ident = self.fleet.identity
        cl = node.client()
        try:
            headers = node_harness.sign(ident["reporter"], ident["secret"], method, target, body)
            return cl.request(method, target, body, headers)
        finally:
            cl.close()

    def test_reporter_trust_and_disable_reach_every_node(self):
        a, b, c = self.fleet.nodes
        alice = self.fleet.register(a, "alice", 1.0)

        def shown(node):
            r = self.admin(node, "GET", "/admin/reporter/alice")
            return r.json() if r.status == 200 else None

        for n in (b, c):
            fh.wait_until(lambda n=n: shown(n) is not None, 10, "alice's registration at B and C")
        # Set trust at A: answered once the log acknowledged it and A applied it.
        r = self.admin(a, "POST", "/admin/reporter/alice/trust", b'{"trust":0.25}')
        self.assertEqual(r.status, 200, r)
        self.assertAlmostEqual(r.json()["trust"], 0.25, places=2)
        self.assertAlmostEqual(shown(a)["trust"], 0.25, places=2)
        for n in (b, c):
            fh.wait_until(lambda n=n: abs(shown(n)["trust"] - 0.25) < 0.01, 10,
                          "the trust change at B and C")
        # Its effect: alice's report at B weighs the same everywhere.
        msgs = fh.corpus("spam", 2)
        self.fleet.strop(b, "report", "--no-progress", msgs[0], identity=alice, check=0)
        self.fleet.wait_converged()
        verdicts = [self.fleet.check_json(n, [msgs[0]]) for n in (a, b, c)]
        self.assertEqual(verdicts[0], verdicts[1])
        self.assertEqual(verdicts[0], verdicts[2])

        # Disable at A: B and C refuse alice's reports.
        r = self.admin(a, "POST", "/admin/reporter/alice/disable")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["disabled"])
        for n in (b, c):
            fh.wait_until(lambda n=n: shown(n)["disabled"], 10, "the disable at B and C")
        p = self.fleet.strop(c, "report", "--no-progress", msgs[1], identity=alice)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        # Enable at B: C takes alice's report again.
        r = self.admin(b, "POST", "/admin/reporter/alice/enable")
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json()["disabled"])
        fh.wait_until(lambda: not shown(c)["disabled"], 10, "the enable at C")
        self.fleet.strop(c, "report", "--no-progress", msgs[1], identity=alice, check=0)

        # Unknown reporters are 404 at every node; the list pages by name.
        self.assertEqual(self.admin(c, "GET", "/admin/reporter/nobody").status, 404)
        r = self.admin(c, "GET", "/admin/reporters?limit=1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["name"] for x in r.json()["reporters"]], ["alice"])
        r = self.admin(c, "GET", "/admin/reporters?after=" + r.json()["next"])
        self.assertEqual([x["name"] for x in r.json()["reporters"]], ["postmaster"])
        self.fleet.wait_converged()
        counts = {json.dumps({k: v for k, v in self.fleet.stats(n).items()
                              if k not in ("used_bytes", "map_bytes")}, sort_keys=True)
                  for n in self.fleet.nodes}
        self.assertEqual(len(counts), 1, counts)

    @unittest.skipUnless(shutil.which("razor-report") and shutil.which("razor-check") and
                         shutil.which("pyzor"), "razor-agents and pyzor (scripts/setup.sh)")
    def test_razor_report_at_a_found_by_pyzor_at_b(self):
        """razor-report (Razor2, engines razor-e4/e8) at A; pyzor check (the pyzor digest, a
        different engine) at B. The razor client sends no pyzor digest: what makes this work is
        that A's Razor2 listener answers the report with "send the mail" (err=230), takes the
        upload, and computes from it, besides razor-e4 and razor-e8, the native engines and
        the pyzor digest (docs/protocol.md "Reports"), all in the one vote event it publishes.
        B applies that event, and its Pyzor listener finds the digest the pyzor client computes
        from the same file. Everything stays on loopback: the razor clients are pinned with
        -rs=127.0.0.1:PORT (and razordiscovery) inside the harness's `unshare -n` namespace."""
        a, b, c = self.fleet.nodes
        tmp = os.path.join(self.fleet.tmp, "clients")
        os.makedirs(tmp)
        env = dict(os.environ, HOME=tmp, LC_ALL="C")

        def run(cmd, mail):
            with open(mail, "rb") as f:
                p = subprocess.run(cmd, stdin=f, capture_output=True, env=env, timeout=120)
            return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")

        def razor(tool, node, *args):
            home = os.path.join(tmp, "razor")
            return run([tool, "-home=" + home, "-rs=127.0.0.1:%d" % node.razor_port] + list(args),
                       args[-1])

        def pyzor(node, mail):
            home = os.path.join(tmp, "pyzor-%d" % node.pyzor_port)
            os.makedirs(home, exist_ok=True)
            with open(os.path.join(home, "servers"), "w") as f:
                f.write("127.0.0.1:%d\n" % node.pyzor_port)
            return run(["pyzor", "--homedir", home, "check"], mail)

        # The Razor account is the fleet's trusted admin reporter (a native reporter's
        # secret is its Razor password): a razor-admin -register would create a reporter
        # with the new-reporter trust, which cannot list anything alone.
        home = os.path.join(tmp, "razor")
        os.makedirs(home)
        with open(os.path.join(home, "razor-agent.conf"), "w") as f:
            f.write("razorhome = %s\nlogfile = %s/razor-agent.log\ndebuglevel = 3\n"
                    "razordiscovery = 127.0.0.1:%d\n" % (home, home, a.razor_port))
        with open(os.path.join(home, "identity-postmaster"), "w") as f:
            f.write("user = %s\npass = %s\n" % (self.fleet.identity["reporter"],
                                                  self.fleet.identity["secret"]))
        os.chmod(os.path.join(home, "identity-postmaster"), 0o600)
        os.symlink("identity-postmaster", os.path.join(home, "identity"))

        # A corpus spam both clients sign (razor-check -H prints its e4; pyzor digests it).
        spam = None
        for f in fh.corpus("spam", 12, start=400):
            rc, text = razor("razor-check", a, "-H", f)
            rc2, digest = run(["pyzor", "--homedir", tmp, "digest"], f)
            if " e4: " in text and re.fullmatch(r"[0-9a-f]{40}\s*", digest):
                spam = f
                break
        self.assertIsNotNone(spam, "no corpus spam both clients sign")
        ham = fh.corpus("ham", 1, start=400)[0]

        self.assertEqual(pyzor(b, spam)[0], 1, "pyzor check at B before the report")
        rc, out = razor("razor-report", a, "-f", spam)
        self.assertEqual(rc, 0, out)
        fh.wait_until(lambda: pyzor(b, spam)[0] == 0, 20, "pyzor check at B to find the "
                      "razor-reported spam")
        self.assertEqual(pyzor(c, spam)[0], 0, "pyzor check at C")
        self.assertEqual(pyzor(b, ham)[0], 1, "pyzor check of a ham at B")
        rc, out = razor("razor-check", c, spam)
        self.assertEqual(rc, 0, "razor-check at C: " + out)
        self.fleet.wait_converged()
        counts = {self.fleet.stats(n)["signatures"] for n in self.fleet.nodes}
        self.assertEqual(len(counts), 1, counts)

    def test_nats_down_checks_work_writes_503(self):
        a, b, c = self.fleet.nodes
        msgs = fh.corpus("spam", 4, start=10)
        self.fleet.strop(a, "report", "--no-progress", msgs[0], check=0)
        self.fleet.wait_converged()
        self.fleet.nats.kill_all()
        fh.wait_until(lambda: all(fh.metric(n, "strop_fleet_connected") == 0.0 for n in (a, b, c)),
                      20, "the nodes to see NATS gone")
        # Checks answer from local state.
        for n in (a, b, c):
            self.assertTrue(self.fleet.check_json(n, [msgs[0]])[msgs[0]][0])
        # Writes fail fast with a retryable 503 + Retry-After.
        sigs = [[fh.node_harness.body_sig()]]
        cl = a.client()
        t0 = time.time()
        r = cl.report(self.fleet.identity, sigs)
        elapsed = time.time() - t0
        cl.close()
        self.assertEqual(r.status, 503, r.body)
        self.assertIn("retry-after", r.headers)
        self.assertLess(elapsed, 1.0)
        p = self.fleet.strop(b, "report", "--no-progress", msgs[1])
        # The CLI reports a 503 after failover as 69 (node unavailable; 75 would be EX_TEMPFAIL).
        self.assertIn(p.returncode, (69, 75), p.stderr)
        self.assertIn("503", p.stderr)
        # NATS back on the same stores: writes resume, no node restarted.
        self.fleet.nats.start_all()
        for n in (a, b, c):
            self.fleet.wait_connected(n, timeout=60)
        fh.wait_until(lambda: self.fleet.strop(c, "report", "--no-progress", msgs[2]).returncode == 0,
                      30, "a report after NATS returned")
        for n in (a, b):
            fh.wait_until(lambda n=n: self.fleet.check_json(n, [msgs[2]])[msgs[2]][0], 20,
                          "the report at C seen at A and B after NATS returned")
        self.assertTrue(all(n.alive() for n in (a, b, c)))

    def load(self, nodes, msgs, kill, settle=None):
        """Reports msgs in batches of 4 from one client per node in `nodes`; calls kill() once
        a random 25-50% of the messages are acknowledged (not after a fixed time: a fast machine
        would finish first), then settle() after the load; returns the acknowledged messages.
        After the fault a client retries a failed batch, 0.5 s apart, as a client told to retry
        (503 + Retry-After) would, until 60 s after the fault; so the load outlasts the
        cluster's failover and the writes after it show that the fleet recovered."""
        batches = [msgs[i:i + 4] for i in range(0, len(msgs), 4)]
        acked = []
        retry_until = None  # set at the fault

        def client(node, mine):
            for batch in mine:
                while True:
                    p = self.fleet.strop(node, "report", "--no-progress", "--timeout", "10", *batch)
                    if p.returncode == 0:
                        acked.extend(batch)
                        break
                    if retry_until is None or time.time() > retry_until:
                        break
                    time.sleep(0.5)

        threads = [threading.Thread(target=client, args=(n, batches[i::len(nodes)]))
                   for i, n in enumerate(nodes)]
        for t in threads:
            t.start()
        self.wait_for_a_share_acknowledged(acked, len(msgs))
        self.assertTrue(all(t.is_alive() for t in threads), "the load ended before the fault")
        before = len(acked)
        retry_until = time.time() + 60
        kill()
        for t in threads:
            t.join(timeout=150)
        sys.stderr.write("fault after %d acknowledged messages; %d of %d acknowledged in all\n"
                         % (before, len(acked), len(msgs)))
        self.assertGreater(len(acked), before)
        if settle:
            settle()
        return acked

    def wait_for_a_share_acknowledged(self, acked, total):
        """Returns once a random 25-50% of `total` messages are in `acked`: the moment to
        fault (a fixed delay let a fast machine finish the load first)."""
        at = int(total * random.uniform(0.25, 0.5))
        fh.wait_until(lambda: len(acked) >= at, 60, "%d acknowledged messages" % at, step=0.02)

    def assert_converged(self, acked):
        self.fleet.wait_converged(timeout=90)
        nodes = self.fleet.nodes
        # The counts first: the checks below record hits, which the nodes publish as touch
        # events within a second, so the applied sequences may differ for a moment after them.
        stats = [self.fleet.stats(n) for n in nodes]
        for key in ("signatures", "votes", "reporters", "applied_sequence"):
            self.assertEqual(len({s[key] for s in stats}), 1, (key, stats))
        for n in nodes:
            seen = self.fleet.check_json(n, acked)
            missing = [f for f in acked if not seen[f][0]]
            self.assertEqual(missing, [], "acknowledged reports missing at %s" % n.url)
        sample = fh.corpus("spam", 120, start=80) + fh.corpus("ham", 80)
        verdicts = [self.fleet.check_json(n, sample) for n in nodes]
        for v in verdicts[1:]:
            self.assertEqual(verdicts[0], v)

    def test_kill9_stream_leader_during_load(self):
        a, b, c = self.fleet.nodes
        fh.wait_until(lambda: self.fleet.nats.stream_leader() is not None, 20, "a stream leader")
        leader = self.fleet.nats.stream_leader()
        acked = self.load([a, b], fh.corpus("spam", 240, start=200),
                          kill=lambda: self.fleet.nats.kill(leader),
                          settle=lambda: self.fleet.nats.start(leader))
        new_leader = self.fleet.nats.stream_leader()
        sys.stderr.write("stream leader n%d killed; now n%s\n" % (leader, new_leader))
        self.assert_converged(acked)

    def test_node_joins_from_a_backup(self):
        a, b, c = self.fleet.nodes
        first = fh.corpus("spam", 12, start=300)
        self.fleet.strop(a, "report", "--no-progress", *first, check=0)
        self.fleet.wait_converged()
        backup = os.path.join(self.fleet.tmp, "backup-of-b")
        b.cli("backup", backup)
        # Writes after the backup: the new node must take them from the log.
        later = fh.corpus("spam", 12, start=320)
        self.fleet.strop(c, "report", "--no-progress", *later, check=0)
        self.fleet.strop(b, "revoke", "--no-progress", first[0], check=0)
        d = self.fleet.add_node("noded", backup)
        self.assert_converged(first[1:] + later)
        self.assertFalse(self.fleet.check_json(d, [first[0]])[first[0]][0])

    def test_kill9_node_during_load_converges(self):
        a, b, c = self.fleet.nodes
        msgs = fh.corpus("spam", 320, start=100)
        batches = [msgs[i:i + 4] for i in range(0, len(msgs), 4)]
        acked = []
        stop = threading.Event()

        def load(node, mine):
            for batch in mine:
                if stop.is_set():
                    return
                p = self.fleet.strop(node, "report", "--no-progress", "--timeout", "10", *batch)
                if p.returncode == 0:
                    acked.extend(batch)

        # Two clients: one at A (killed midway), one at B.
        ta = threading.Thread(target=load, args=(a, batches[0::2]))
        tb = threading.Thread(target=load, args=(b, batches[1::2]))
        ta.start()
        tb.start()
        self.wait_for_a_share_acknowledged(acked, len(msgs))
        self.assertTrue(ta.is_alive(), "the load at A ended before the kill")
        acked_before_kill = len(acked)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=30)
        ta.join(timeout=120)
        tb.join(timeout=120)
        stop.set()
        self.assertGreater(len(acked), 0)
        sys.stderr.write("kill -9 after %d acknowledged messages; %d of %d acknowledged in all\n"
                         % (acked_before_kill, len(acked), len(msgs)))
        a.start()
        self.fleet.wait_connected(a)
        self.fleet.wait_converged(timeout=90)
        # The restarted node (same node_id) takes writes again at once: its new request ids
        # must not repeat its earlier incarnation's, which JetStream would drop as duplicates.
        fresh = fh.corpus("spam", 2, start=90)
        self.fleet.strop(a, "report", "--no-progress", *fresh, check=0)
        acked += fresh
        # Identical counts, read before the checks below: their hits are published as touch
        # events within a second, so the applied sequences may differ for a moment after them.
        self.fleet.wait_converged()
        stats = [self.fleet.stats(n) for n in (a, b, c)]
        self.assertEqual(len({s["signatures"] for s in stats}), 1, stats)
        self.assertEqual(len({s["votes"] for s in stats}), 1, stats)
        self.assertEqual(len({s["applied_sequence"] for s in stats}), 1, stats)
        # Every acknowledged report is present on every node.
        for n in (a, b, c):
            seen = self.fleet.check_json(n, acked)
            missing = [f for f in acked if not seen[f][0]]
            self.assertEqual(missing, [], "acknowledged reports missing at %s" % n.url)
        # Identical verdicts on a sample of spam and ham.
        sample = fh.corpus("spam", 150, start=60) + fh.corpus("ham", 100)
        verdicts = [self.fleet.check_json(n, sample) for n in (a, b, c)]
        self.assertEqual(verdicts[0], verdicts[1])
        self.assertEqual(verdicts[0], verdicts[2])



class FleetExpiryTest(unittest.TestCase):
    """Activity and expiry in a fleet: a short expiry, a sweep every second in steps of two
    signatures, every hit written (resolution 0)."""

    EXPIRE_S = 20

    def setUp(self):
        extra = ("[storage]\nexpire_after_seconds = %d\nsweep_interval_seconds = 1\n"
                 "sweep_batch = 2\nhit_resolution_seconds = 0\n" % self.EXPIRE_S)
        self.fleet = fh.Fleet(config_extra=extra).start()

    def tearDown(self):
        FleetTest.tearDown(self)  # the logs when the test failed, then the cleanup

    def test_hits_at_one_member_keep_signatures_and_the_rest_expire_everywhere(self):
        a, b, c = self.fleet.nodes
        # Two messages to keep checking, and up to four that share no signature with them.
        pool = fh.corpus("spam", 16)
        sigs = fh.signatures(pool)
        kept = pool[:2]
        kept_sigs = set().union(*(sigs[m] for m in kept))
        dropped = [m for m in pool[2:] if not sigs[m] & kept_sigs][:4]
        self.assertGreaterEqual(len(dropped), 2)
        msgs = kept + dropped
        self.fleet.strop(a, "report", "--no-progress", *msgs, check=0)
        reported = time.time()
        self.fleet.wait_converged()
        # Checks at B hit the first two every 2 s; the other four are never checked again.
        while time.time() < reported + self.EXPIRE_S + 6:
            verdicts = self.fleet.check_json(b, kept)
            self.assertTrue(all(s for s, _ in verdicts.values()), verdicts)
            time.sleep(2)
        for n in self.fleet.nodes:
            fh.wait_until(lambda n=n: not any(s for s, _ in self.fleet.check_json(n, dropped).values()),
                          20, "the unchecked reports to expire at %s" % n.url)
        self.fleet.wait_converged()
        # Every member holds the same records with the same times (last_hit included), and the
        # same counts; compared before the checks below, whose hits publish touch events.
        records = [fh.stored_signatures(n, times=True) for n in self.fleet.nodes]
        self.assertTrue(records[0])
        self.assertEqual(records[1], records[0])
        self.assertEqual(records[2], records[0])
        self.assertTrue(any(r[3] > 0 for r in records[0].values()), "no hit was written")
        self.assertTrue(set(records[0]) <= kept_sigs, set(records[0]) - kept_sigs)
        stats = [self.fleet.stats(n) for n in self.fleet.nodes]
        self.assertEqual(len({s["signatures"] for s in stats}), 1, stats)
        expired = [fh.metric(n, "strop_expired_signatures_total") for n in self.fleet.nodes]
        self.assertEqual(len(set(expired)), 1, expired)
        self.assertGreater(expired[0], 2)  # more than one step of two
        for n in self.fleet.nodes:
            self.assertTrue(all(s for s, _ in self.fleet.check_json(n, kept).values()))
        # Only the elected member (the lowest id, nodea) swept; B published the hits.
        steps = [fh.metric(n, "strop_fleet_expire_steps_total") for n in self.fleet.nodes]
        self.assertGreater(steps[0], 0, steps)
        self.assertEqual(steps[1:], [0, 0], steps)
        self.assertGreater(fh.metric(b, "strop_fleet_touch_events_total"), 0)
        # A local expire on a member's store is refused (it would diverge).
        p = c.cli("expire", check=False)
        self.assertEqual(p.returncode, 77, p.stderr)


if __name__ == "__main__":
    unittest.main(argv=fh.parse_args(), verbosity=2)
