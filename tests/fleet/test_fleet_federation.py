"""Federation in a fleet end to end (docs/federation.md "In a fleet"): a 3-server JetStream
cluster, a fleet of two members (site "fleet") and a standalone node (site "solo"), peered both
ways at trust 1, all on loopback.

  test_fleet_site_peers_with_a_standalone_site
      - the fleet's peer is added through the admin API at member A (through the log); the
        `strop-node peer add` command on a member's store is refused and names the route
      - a report at solo is listed at both members (one pull, one log event, applied by both)
      - a report at A is listed at solo, which pulls from member B's URL (any member serves
        the fleet's feed, identical on both)
      - the pulling member (the lowest live id: nodea) is killed with -9; a new report at solo
        still reaches B (B takes over once A's beats stop)
      - A restarted converges: identical stats and peer cursor / entries applied on both
        members, and no entry applied twice (replaying the stream's peer batches with the
        cursor rule gives the same cursor, and the skipped ones are those B counted)
"""
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet_harness as fh  # noqa: E402
from fleet_harness import Fleet, wait_until  # noqa: E402
import node_harness as nh  # noqa: E402

FEDERATION = """
[federation]
poll_interval_ms = 100
long_poll_s = 2
"""
FLEET_FEDERATION = FEDERATION + 'site = "fleet"\n'


def metric_labelled(node, name, peer):
    """The value of `name{peer="PEER"}` in the node's /metrics (None when absent)."""
    cl = node.client(timeout=5)
    try:
        text = cl.get("/metrics").body.decode()
    finally:
        cl.close()
    m = re.search(r'^%s\{peer="%s"\} (\S+)$' % (re.escape(name), re.escape(peer)), text, re.M)
    return float(m.group(1)) if m else None


def random_sig():
    return "body/1:" + secrets.token_hex(16)


class FleetFederationTest(unittest.TestCase):
    def setUp(self):
        self.fleet = Fleet(n=2, config_extra=FLEET_FEDERATION)
        self.solo = None
        try:
            self.fleet.start()
            self.solo = nh.Node(FEDERATION, extra_args=["--federation-site", "solo"])
            self.moderator = self.solo.add_reporter("moderator", trust=1.0)
            self.solo.start()
        except Exception:
            self.tearDown()
            raise

    def tearDown(self):
        failed = any(e for t, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if t is self) if hasattr(self._outcome, "result") else False
        if failed:
            sys.stderr.write(self.fleet.logs())
            if self.solo:
                sys.stderr.write("---- solo\n" + "".join(self.solo.log_lines[-40:]))
        if self.solo:
            self.solo.cleanup()
        self.fleet.cleanup()

    def admin(self, node, method, target, body=b""):
        ident = self.fleet.identity
        cl = node.client()
        try:
            headers = nh.sign(ident["reporter"], ident["secret"], method, target, body)
            return cl.request(method, target, body, headers)
        finally:
            cl.close()

    @staticmethod
    def report(node, identity, sig):
        cl = node.client()
        try:
            r = cl.report(identity, [[sig]])
        finally:
            cl.close()
        assert r.status == 200, r

    @staticmethod
    def listed(node, sig):
        cl = node.client()
        try:
            r = cl.check([[sig]])
        finally:
            cl.close()
        return r.status == 200 and r.json()["results"][0]["verdict"] == "spam"

    @staticmethod
    def peer_list(node):
        return {p["name"]: p for p in json.loads(node.cli("peer", "list", "--json").stdout)}

    def test_fleet_site_peers_with_a_standalone_site(self):
        a, b = self.fleet.nodes
        solo = self.solo
        secret = secrets.token_hex(24)
        secret_path = os.path.join(self.fleet.tmp, "peering.secret")
        with open(secret_path, "w") as f:
            f.write(secret + "\n")

        # The fleet peers with solo through the log; solo with the fleet at B's URL.
        body = json.dumps({"name": "solo", "url": solo.url, "secret": secret,
                           "trust": 1.0}).encode()
        r = self.admin(a, "POST", "/admin/peers", body)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("secret", r.json())
        solo.cli("peer", "add", "fleet", "--url", b.url, "--trust", "1", "--secret-file",
                 secret_path)
        # A member's store refuses a local peer command, naming the admin route.
        p = a.cli("peer", "add", "other", "--url", solo.url, "--trust", "1", "--secret-file",
                  secret_path, check=False)
        self.assertEqual(p.returncode, 77, p.stderr)
        self.assertIn("POST /admin/peers", p.stderr)
        p = b.cli("peer", "set-trust", "solo", "0.5", check=False)
        self.assertEqual(p.returncode, 77, p.stderr)
        self.assertIn("POST /admin/peer/solo/trust", p.stderr)
        r = self.admin(b, "GET", "/admin/peers")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["name"] for x in r.json()["peers"]], ["solo"])

        # solo -> both members.
        s1 = random_sig()
        self.report(solo, self.moderator, s1)
        wait_until(lambda: self.listed(a, s1) and self.listed(b, s1), 30,
                   "a report at solo listed at both fleet members")

        # A -> solo, solo pulling from B.
        s2 = random_sig()
        self.report(a, self.fleet.identity, s2)
        wait_until(lambda: self.listed(solo, s2), 30, "a report at member A listed at solo")
        # Both members serve the same feed: compare what each serves, signed as solo pulls.
        feeds = [self.feed(n, secret) for n in (a, b)]
        self.assertEqual(feeds[0], feeds[1])

        # nodea (the lowest id) pulls; kill it, and B takes over.
        self.assertGreater(metric_labelled(a, "strop_peer_entries_applied_total", "solo") or 0, 0)
        a.kill()
        t0 = time.time()
        s3 = random_sig()
        self.report(solo, self.moderator, s3)
        wait_until(lambda: self.listed(b, s3), 45, "a report at solo listed at B after A was killed")
        sys.stderr.write("takeover: listed at B %.1f s after A was killed\n" % (time.time() - t0))

        # A restarted converges with B.
        a.start()
        self.fleet.wait_connected(a)
        wait_until(lambda: self.listed(a, s3), 30, "the restarted member lists s3")
        self.fleet.wait_converged()
        keys = ("signatures", "votes", "reporters", "applied_sequence")

        def same_stats():
            sa, sb = self.fleet.stats(a), self.fleet.stats(b)
            return all(sa[k] == sb[k] for k in keys)
        wait_until(same_stats, 15, "identical stats on both members")
        pa, pb = self.peer_list(a)["solo"], self.peer_list(b)["solo"]
        self.assertEqual(pa["cursor"], pb["cursor"])
        self.assertEqual(pa["applied"], pb["applied"])
        # solo served s1 and s3 as its own, and s2 back to the fleet (ignored there as the
        # fleet's own): two entries applied, each once, however many pulls were made.
        self.assertEqual(pa["applied"], 2, pa)
        self.assertEqual(self.feed(a, secret), self.feed(b, secret))

        # The log's own account: replaying its peer batches with the cursor rule gives the
        # members' cursor, and the batches it skips are the ones each member counted.
        reader = fh.StreamReader(self.fleet.nats.ports[0])
        try:
            events = reader.events()
        finally:
            reader.close()
        cursor, applied, skipped, entries = 0, 0, 0, 0
        for _, e in events:
            self.assertIsNotNone(e)
            if e["type"] != 7:
                continue
            self.assertEqual(e["peer"], "solo")
            if e["after"] == cursor:
                cursor, applied, entries = e["cursor"], applied + 1, entries + e["count"]
            else:
                skipped += 1
        self.assertGreaterEqual(applied, 2)
        self.assertEqual(cursor, pa["cursor"])
        self.assertEqual(entries, 3)  # s1, s2 (the fleet's own, come back: ignored), s3
        # (B ran throughout; A's counter started again at its restart.)
        self.assertEqual(fh.metric(b, "strop_fleet_peer_batches_skipped_total"), skipped)
        self.assertLessEqual(fh.metric(a, "strop_fleet_peer_batches_skipped_total"), skipped)

    def feed(self, node, secret):
        """The entries of `node`'s feed as solo would pull them (signed with the peering
        secret), without the header's head/oldest."""
        target = "/v1/peer/feed?after=0&limit=100"
        cl = node.client()
        try:
            headers = peer_sign("solo", secret, "GET", target)
            r = cl.request("GET", target, b"", headers)
        finally:
            cl.close()
        self.assertEqual(r.status, 200, r)
        return r.body[4 + 8 + 8:]  # magic, head, oldest; the count and entries follow


def peer_sign(peer, secret, method, target, body=b""):
    ts = str(int(time.time()))
    nonce = secrets.token_hex(16)
    canonical = "\n".join(["STROP-PEER-HMAC-SHA256", method, target, ts, nonce,
                           hashlib.sha256(body).hexdigest()])
    mac = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return {"X-Strop-Peer": peer, "X-Strop-Timestamp": ts, "X-Strop-Nonce": nonce,
            "X-Strop-Signature": mac}


if __name__ == "__main__":
    unittest.main(argv=fh.parse_args())
