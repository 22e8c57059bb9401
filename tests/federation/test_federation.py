"""Federation end to end (docs/federation.md): strop-nodes on loopback, each its own site,
peered with `strop-node peer add` while they run, pulling each other's feeds.

  test_chain_lists_and_unlists_five_hops_out   A-B-C-D-E: a report at A is listed at E within
                                               5 s, a revoke at A unlists it at E within 5 s
  test_ring_does_not_echo                      the same five in a ring: entries applied per
                                               node stay bounded and feeds stand still
  test_low_trust_peer_cannot_list_alone        a peer at 0.2 cannot list at its neighbour, a
                                               peer at 1.0 can
  test_partition_and_kill9_lose_and_repeat_nothing
                                               C stopped for 30 s while A takes reports, then
                                               E killed -9 mid-stream: everything arrives,
                                               nothing is applied twice
  test_strangers_disabled_peers_and_tampering  401 without or with a wrong signature, 403 for
                                               a disabled peer; a response whose body was
                                               changed fails its signature
  test_gzip_and_long_poll                      a large batch comes gzip-compressed, signed as
                                               sent; a pull with wait= is answered by the next
                                               listing; a long-polling puller makes a handful
                                               of requests where polling would make dozens
"""
import gzip
import struct
import threading
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node"))
import node_harness as nh  # noqa: E402

POLL_MS = 100
CONFIG = """
[federation]
poll_interval_ms = %d
batch = 1000
""" % POLL_MS


def peer_sign(peer, secret, method, target, body=b"", ts=None, nonce=None):
    ts = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_hex(16)
    canonical = "\n".join(["STROP-PEER-HMAC-SHA256", method, target, ts, nonce,
                           hashlib.sha256(body).hexdigest()])
    mac = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return {"X-Strop-Peer": peer, "X-Strop-Timestamp": ts, "X-Strop-Nonce": nonce,
            "X-Strop-Signature": mac}


class Site:
    def __init__(self, name):
        self.name = name
        self.node = nh.Node(CONFIG, extra_args=["--federation-site", name])
        self.moderator = self.node.add_reporter("moderator", trust=1.0)

    def start(self):
        if self.node.port:  # a restart: on the same port, the URL its peers know
            self.node.listen = "127.0.0.1:%d" % self.node.port
        self.node.start()
        self.client = self.node.client()
        return self

    def listed(self, sig):
        r = self.client.check([[sig]])
        assert r.status == 200, r
        return r.json()["results"][0]["verdict"] == "spam"

    def report(self, sigs, revoke=False):
        r = self.client.report(self.moderator, [sigs], revoke=revoke)
        assert r.status == 200, r

    def metric_sum(self, name):
        r = self.node.client().get("/metrics")
        total = 0
        for line in r.body.decode().splitlines():
            m = re.match(r"%s\{[^}]*\} (\d+)" % re.escape(name), line)
            if m:
                total += int(m.group(1))
        return total


def peer(a, b, secret_dir, trust=1.0):
    """Peers a and b both ways, at `trust` on each side."""
    path = os.path.join(secret_dir, "%s-%s.secret" % tuple(sorted((a.name, b.name))))
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    a.node.cli("peer", "add", b.name, "--url", b.node.url, "--trust", str(trust),
               "--secret-file", path)
    b.node.cli("peer", "add", a.name, "--url", a.node.url, "--trust", str(trust),
               "--secret-file", path)
    return path


def wait_until(pred, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return time.time() - t0
        time.sleep(0.05)
    raise AssertionError("not within %.1f s: %s" % (timeout, what))


class FederationTest(unittest.TestCase):
    def setUp(self):
        self.sites = []
        self.secrets = tempfile.mkdtemp(prefix="strop-fed-secrets-")

    def tearDown(self):
        failed = any(e for t, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if t is self) if hasattr(self._outcome, "result") else False
        for s in self.sites:
            if failed:
                sys.stderr.write("---- %s\n%s" % (s.name, "".join(s.node.log_lines[-40:])))
            s.node.cleanup()
        shutil.rmtree(self.secrets, ignore_errors=True)

    def make(self, *names):
        out = [Site(n) for n in names]
        self.sites += out
        return [s.start() for s in out]

    def test_chain_lists_and_unlists_five_hops_out(self):
        a, b, c, d, e = self.make("a.test", "b.test", "c.test", "d.test", "e.test")
        for x, y in ((a, b), (b, c), (c, d), (d, e)):
            peer(x, y, self.secrets)
        sig = nh.body_sig()
        a.report([sig])
        t = wait_until(lambda: e.listed(sig), 5.0, "listed at E")
        sys.stderr.write("chain: listed at E %.2f s after the report at A\n" % t)
        for s in (b, c, d):
            self.assertTrue(s.listed(sig), s.name)
        a.report([sig], revoke=True)  # the only reporter withdraws: unlisted at the origin
        self.assertFalse(a.listed(sig))
        t = wait_until(lambda: not e.listed(sig), 5.0, "unlisted at E")
        sys.stderr.write("chain: unlisted at E %.2f s after the revoke at A\n" % t)
        for s in (b, c, d):
            self.assertFalse(s.listed(sig), s.name)

    def test_ring_does_not_echo(self):
        sites = self.make("r1.test", "r2.test", "r3.test", "r4.test", "r5.test")
        for i in range(5):
            peer(sites[i], sites[(i + 1) % 5], self.secrets)
        sig = nh.body_sig()
        sites[0].report([sig])
        wait_until(lambda: all(s.listed(sig) for s in sites), 5.0, "listed everywhere")
        time.sleep(20 * POLL_MS / 1000.0)  # twenty more pull rounds: nothing new may appear
        applied = [s.metric_sum("strop_peer_entries_applied_total") for s in sites]
        # Each site hears the listing from each of its two neighbours, plus at most one update
        # per neighbour when a shorter path arrives: never more than 4 entries.
        for s, n in zip(sites, applied):
            self.assertLessEqual(n, 4, "%s applied %d entries for one listing" % (s.name, n))
        time.sleep(20 * POLL_MS / 1000.0)
        self.assertEqual(applied, [s.metric_sum("strop_peer_entries_applied_total") for s in sites])
        sites[0].report([sig], revoke=True)
        wait_until(lambda: not any(s.listed(sig) for s in sites), 5.0, "unlisted everywhere")
        time.sleep(20 * POLL_MS / 1000.0)
        after = [s.metric_sum("strop_peer_entries_applied_total") for s in sites]
        for s, n, m in zip(sites, applied, after):
            self.assertLessEqual(m - n, 4, "%s applied %d entries for one withdrawal" % (s.name, m - n))

    def test_low_trust_peer_cannot_list_alone(self):
        a, low, full = self.make("origin.test", "low.test", "full.test")
        peer(a, low, self.secrets, trust=0.2)
        peer(a, full, self.secrets, trust=1.0)
        sig = nh.body_sig()
        a.report([sig])
        wait_until(lambda: full.listed(sig), 5.0, "listed at the fully trusting neighbour")
        # The low-trust neighbour has pulled the same entry (its puller runs just as often).
        wait_until(lambda: low.metric_sum("strop_peer_entries_applied_total") >= 1, 5.0,
                   "the low-trust neighbour applied the entry")
        self.assertFalse(low.listed(sig))
        r = low.client.check([[sig]]).json()["results"][0]
        self.assertLess(r["confidence"], 50)
        self.assertEqual(r["matches"][0]["reports"], 1)  # the peer's vote is there, weighed low

    def test_partition_and_kill9_lose_and_repeat_nothing(self):
        a, b, c, d, e = self.make("pa.test", "pb.test", "pc.test", "pd.test", "pe.test")
        for x, y in ((a, b), (b, c), (c, d), (d, e)):
            peer(x, y, self.secrets)
        c.node.stop()
        stopped = time.time()
        sigs = [nh.body_sig() for _ in range(40)]
        for s in sigs[:20]:
            a.report([s])
        wait_until(lambda: all(b.listed(s) for s in sigs[:20]), 5.0, "B has A's reports")
        time.sleep(max(0.0, 30.0 - (time.time() - stopped)))  # C stays away for 30 s
        c.start()
        wait_until(lambda: all(e.listed(s) for s in sigs[:20]), 15.0, "E has them after C's return")
        # kill -9 E while A takes more reports, restart it: nothing lost, nothing twice.
        for s in sigs[20:30]:
            a.report([s])
        e.node.kill()
        for s in sigs[30:]:
            a.report([s])
        e.start()
        wait_until(lambda: all(e.listed(s) for s in sigs), 15.0, "E has all 40 after its restart")
        # Exactly once: D served one entry per signature (a chain has one path), and E's
        # durable count of entries applied from D (kept with the cursor, in the same
        # transaction) is exactly 40: a batch applied twice, or lost, would show here.
        for s in sigs:
            r = e.client.check([[s]]).json()["results"][0]
            self.assertEqual(r["matches"][0]["reports"], 1, s)
        (from_d,) = json.loads(e.node.cli("peer", "list", "--json").stdout)
        self.assertEqual(from_d["name"], "pd.test")
        self.assertEqual(from_d["applied"], 40)
        self.assertEqual(json.loads(e.node.cli("stats", "--json").stdout)["signatures"], 40)

    def test_strangers_disabled_peers_and_tampering(self):
        a, b = self.make("ta.test", "tb.test")
        path = peer(a, b, self.secrets)
        with open(path) as f:
            secret = f.read().strip()
        a.report([nh.body_sig()])
        target = "/v1/peer/feed?after=0&limit=10"
        cl = a.node.client()
        self.assertEqual(cl.request("GET", target).status, 401)
        self.assertEqual(cl.request("GET", target, headers=peer_sign("tb.test", "wrong", "GET", target)).status, 401)
        self.assertEqual(cl.request("GET", target, headers=peer_sign("zz.test", secret, "GET", target)).status, 401)
        # The moderator's identity is a reporter, not a peer.
        self.assertEqual(cl.request("GET", target, headers=peer_sign(
            "moderator", a.moderator["secret"], "GET", target)).status, 401)
        h = peer_sign("tb.test", secret, "GET", target)
        r = cl.request("GET", target, headers=h)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "application/x-strop-feed")
        self.assertTrue(r.body.startswith(b"SFD1"))

        def response_mac(body):
            canonical = "\n".join(["STROP-PEER-RESPONSE-HMAC-SHA256", "200", h["X-Strop-Nonce"],
                                   hashlib.sha256(body).hexdigest()])
            return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
        self.assertEqual(r.headers["x-strop-signature"], response_mac(r.body))
        tampered = bytearray(r.body)
        tampered[-1] ^= 1
        self.assertNotEqual(r.headers["x-strop-signature"], response_mac(bytes(tampered)))
        # The same request again: its nonce was used.
        self.assertEqual(cl.request("GET", target, headers=h).status, 401)
        a.node.cli("peer", "disable", "tb.test")
        self.assertEqual(cl.request("GET", target, headers=peer_sign("tb.test", secret, "GET", target)).status, 403)


    def test_gzip_and_long_poll(self):
        a, b = self.make("ga.test", "gb.test")
        path = peer(a, b, self.secrets)
        with open(path) as f:
            secret = f.read().strip()
        sigs = [nh.body_sig() for _ in range(30)]
        for s in sigs:
            a.report([s])
        wait_until(lambda: all(b.listed(s) for s in sigs), 5.0, "B has A's 30 listings")

        def response_mac(nonce, body):
            canonical = "\n".join(["STROP-PEER-RESPONSE-HMAC-SHA256", "200", nonce,
                                   hashlib.sha256(body).hexdigest()])
            return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
        # 30 entries (over 1 KiB) with Accept-Encoding: gzip: compressed, signed as sent.
        target = "/v1/peer/feed?after=0&limit=100"
        h = peer_sign("gb.test", secret, "GET", target)
        h["Accept-Encoding"] = "gzip"
        r = a.node.client().request("GET", target, headers=h)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("content-encoding"), "gzip")
        self.assertEqual(r.headers["x-strop-signature"], response_mac(h["X-Strop-Nonce"], r.body))
        plain = gzip.decompress(r.body)
        self.assertTrue(plain.startswith(b"SFD1"))
        self.assertLess(len(r.body), len(plain))
        (head,) = struct.unpack(">Q", plain[4:12])
        self.assertEqual(struct.unpack(">I", plain[20:24])[0], 30)
        # Without Accept-Encoding: as is.
        h = peer_sign("gb.test", secret, "GET", target)
        r = a.node.client().request("GET", target, headers=h)
        self.assertIsNone(r.headers.get("content-encoding"))
        self.assertEqual(r.body, plain)

        # Long poll: a pull after the head parks until the next listing arrives. Signed as C,
        # a peer of A whose node is stopped: B's own puller has its one parked pull at A.
        c = self.make("gc.test")[0]
        with open(peer(a, c, self.secrets)) as f:
            secret = f.read().strip()
        c.node.stop()
        target = "/v1/peer/feed?after=%d&limit=100&wait=30" % head
        h = peer_sign("gc.test", secret, "GET", target)
        got = {}

        def pull():
            got["r"] = a.node.client(timeout=60).request("GET", target, headers=h)
        t = threading.Thread(target=pull)
        t.start()
        time.sleep(0.5)
        self.assertTrue(t.is_alive())  # parked: nothing after the head yet
        late = nh.body_sig()
        a.report([late])
        t.join(40)
        r = got["r"]
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["x-strop-signature"], response_mac(h["X-Strop-Nonce"], r.body))
        self.assertEqual(struct.unpack(">I", r.body[20:24])[0], 1)  # the new listing, not empty
        self.assertIn(late[len("body/1:"):].encode(), r.body)
        # B's puller long-polls (federation.long_poll_s, default 10): while nothing happens it
        # makes a handful of pulls, where polling every 100 ms would make about 30 in 3 s.
        wait_until(lambda: b.listed(late), 5.0, "B has the late listing")

        def feed_requests():
            total = 0
            for line in a.node.client().get("/metrics").body.decode().splitlines():
                m = re.match(r'strop_requests_total\{[^}]*op="peer_feed"[^}]*\} (\d+)', line)
                if m:
                    total += int(m.group(1))
            return total
        before = feed_requests()
        time.sleep(3.0)
        self.assertLessEqual(feed_requests() - before, 3)

if __name__ == "__main__":
    unittest.main(argv=nh.parse_args())
