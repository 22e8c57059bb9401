#!/usr/bin/env python3
"""Trust that holds across restarts and under abuse (docs/security.md):
 - a captured signed revoke (native API) or whitelist (Pyzor) is refused when replayed after
   the node restarts, after kill -9 and after SIGTERM;
 - the Pyzor listener does not reflect: garbage and over-budget datagrams get no reply, and
   no error reply is larger than its request;
 - one reporter that fills its replay-cache partition does not refuse another reporter."""
import hashlib
import json
import re
import socket
import time
import unittest

import node_harness as h

CONFIG = """
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
register_per_second = 0
"""

PYZOR_RE = re.compile(r"pyzor listener on ([0-9.]+):(\d+)")


def pyzor_port(node):
    """The Pyzor port of the node's latest start (log_lines keeps earlier runs' lines)."""
    ports = [int(m.group(2)) for m in map(PYZOR_RE.search, node.log_lines) if m]
    if not ports:
        raise AssertionError("no pyzor listener line in the log:\n" + node.log())
    return ports[-1]


def confidence(client, sigs):
    """The message confidence /v1/check gives for these signatures."""
    r = client.check([sigs])
    assert r.status == 200, r
    return r.json()["results"][0]["confidence"]


def match_confidence(client, sig):
    """The confidence of the stored signature `sig` (0 when it does not match): for engines
    that do not decide a verdict (pyzor), whose matches still carry a confidence."""
    r = client.check([[sig]])
    assert r.status == 200, r
    return max([m["confidence"] for m in r.json()["results"][0]["matches"]] or [0])


class ReplayAfterRestart(unittest.TestCase):
    """The observed hole: the nonce cache lived only in memory, so after a restart a captured
    signed revoke was accepted again and unlisted a re-reported spam (confidence 80 -> 0)."""

    def native_case(self, stop):
        node = h.Node(CONFIG)
        try:
            admin = node.add_reporter("postmaster", trust=1.0)
            node.start()
            c = node.client()
            spam = [h.body_sig(), h.fuzzy_sig()]
            self.assertEqual(c.report(admin, [spam]).status, 200)
            self.assertEqual(confidence(c, spam), 80)
            # A signed revoke, captured on the wire by an attacker.
            body = json.dumps({"v": 1, "messages": [{"id": "0", "sigs": spam}]}).encode()
            captured = h.sign(admin["reporter"], admin["secret"], "POST", "/v1/revoke", body)
            r = c.request("POST", "/v1/revoke", body, captured)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(confidence(c, spam), 0)
            # The spam is reported again (a fresh request) and listed again.
            self.assertEqual(c.report(admin, [spam]).status, 200)
            self.assertEqual(confidence(c, spam), 80)
            # Replay before the restart: refused by the in-memory cache.
            r = c.request("POST", "/v1/revoke", body, captured)
            self.assertEqual((r.status, r.error_code()), (401, "replayed_nonce"), r)
            c.close()
            stop(node)
            node.start()
            c = node.client()
            r = c.request("POST", "/v1/revoke", body, captured)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.error_code(), "replayed_nonce")
            self.assertEqual(confidence(c, spam), 80)
            c.close()
        finally:
            node.cleanup()

    def test_native_replay_after_kill9(self):
        self.native_case(lambda n: n.kill())

    def test_native_replay_after_sigterm(self):
        self.native_case(lambda n: self.assertEqual(n.terminate(), 0))

    def pyzor_case(self, stop):
        node = h.Node(CONFIG, extra_args=["--pyzor-listen", "127.0.0.1:0"])
        try:
            node.add_reporter("postmaster", trust=1.0)
            account = node.cli("pyzor-account", "postmaster").stdout.strip()
            key = account.rsplit(",", 1)[1]
            node.start()
            port = pyzor_port(node)
            digest = hashlib.sha1(h.random_hex(16).encode()).hexdigest()
            sig = "pyzor:" + digest
            c = node.client()
            self.assertEqual(h.udp_exchange(port, h.pyzor_packet("report", digest, "postmaster", key, 1))["Code"], "200")
            self.assertEqual(match_confidence(c, sig), 80)
            captured = h.pyzor_packet("whitelist", digest, "postmaster", key, 2)
            self.assertEqual(h.udp_exchange(port, captured)["Code"], "200")
            self.assertEqual(match_confidence(c, sig), 0)
            self.assertEqual(h.udp_exchange(port, h.pyzor_packet("report", digest, "postmaster", key, 3))["Code"], "200")
            self.assertEqual(match_confidence(c, sig), 80)
            c.close()
            stop(node)
            node.start()
            port = pyzor_port(node)
            again = h.udp_exchange(port, captured)
            self.assertEqual(again.get("Code"), "401", again)
            self.assertIn("Replayed", again.get("Diag", ""))
            c = node.client()
            self.assertEqual(match_confidence(c, sig), 80)
            c.close()
        finally:
            node.cleanup()

    def test_pyzor_replay_after_kill9(self):
        self.pyzor_case(lambda n: n.kill())

    def test_pyzor_replay_after_sigterm(self):
        self.pyzor_case(lambda n: self.assertEqual(n.terminate(), 0))


class PyzorReflection(unittest.TestCase):
    """The observed reflection: the 8-byte datagram `Thread:1` earned a 90-byte reply, and a
    flood over the per-address budget got a 503 for every datagram."""

    @classmethod
    def setUpClass(cls):
        cls.node = h.Node("[rate_limit]\nip_per_second = 50\nip_burst = 100\n",
                          extra_args=["--pyzor-listen", "127.0.0.1:0"])
        cls.node.start()
        cls.port = pyzor_port(cls.node)

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def flood(self, datagrams, seconds=3.0):
        """Sends the datagrams from one socket for at most `seconds`; returns (requests sent,
        request bytes, replies, reply bytes)."""
        sent = sent_bytes = replies = reply_bytes = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            deadline = time.time() + seconds
            i = 0
            while time.time() < deadline and i < len(datagrams):
                try:
                    s.sendto(datagrams[i], ("127.0.0.1", self.port))
                    sent += 1
                    sent_bytes += len(datagrams[i])
                    i += 1
                except BlockingIOError:
                    time.sleep(0.001)
                while True:
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        break
                    replies += 1
                    reply_bytes += len(data)
            s.settimeout(1.0)
            while True:
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    break
                replies += 1
                reply_bytes += len(data)
        return sent, sent_bytes, replies, reply_bytes

    def test_eight_byte_datagram_gets_nothing(self):
        self.assertEqual(h.udp_exchange(self.port, b"Thread:1", timeout=1), {})

    def test_garbage_flood_is_not_reflected(self):
        sent, sent_bytes, replies, reply_bytes = self.flood([b"Thread:%d" % (i % 10) for i in range(20000)])
        self.assertGreater(sent, 1000)
        self.assertEqual(replies, 0, (sent, replies, reply_bytes))

    def test_valid_flood_is_budgeted(self):
        # Valid pings are answered within the per-address budget (burst 100, 50/s) and the
        # rest dropped: far fewer replies than requests, never a 503 per datagram.
        ping = b"Op: ping\nThread: 7\nPV: 2.1\nUser: anonymous\n\n"
        sent, sent_bytes, replies, reply_bytes = self.flood([ping] * 3000, seconds=2.0)
        self.assertGreater(sent, 1000)
        self.assertLessEqual(replies, 100 + 50 * 4)
        self.assertLess(reply_bytes, sent_bytes)
        # And a client within budget is answered again once the bucket refills.
        time.sleep(1.0)
        self.assertEqual(h.udp_exchange(self.port, ping).get("Code"), "200")


class TrustFarmingThroughTheNode(unittest.TestCase):
    """The observed farming, end to end: openly registered identities report real spam first,
    a trusted reporter confirms it, and each then lists a ham message alone (50 of 50 at
    confidence 71). The full strategies are played against the store in
    storage/src/reputation_attack_test.cpp; this runs the first one through the API."""

    def test_open_registrations_never_list_ham(self):
        node = h.Node(CONFIG)
        try:
            admin = node.add_reporter("postmaster", trust=1.0)
            node.start()
            c = node.client()
            sybils = []
            for i in range(10):
                r = c.post("/v1/register", {"v": 1, "name": "sybil%d" % i})
                self.assertEqual(r.status, 200, r)
                sybils.append(r.json())
            spam = [[h.body_sig(), h.fuzzy_sig(), h.url_sig()] for _ in range(20)]
            for i, s in enumerate(sybils):  # each is first on two messages
                self.assertEqual(c.report(s, spam[2 * i:2 * i + 2]).status, 200)
            self.assertEqual(c.report(admin, spam).status, 200)
            for i, s in enumerate(sybils):
                ham = [h.body_sig()]
                self.assertEqual(c.report(s, [ham]).status, 200)
                self.assertLess(confidence(c, ham), 50)
            shared_ham = [h.body_sig()]
            for s in sybils:
                self.assertEqual(c.report(s, [shared_ham]).status, 200)
            self.assertLess(confidence(c, shared_ham), 50)
            listed = json.loads(node.cli("reporter", "list", "--json").stdout)
            by = {r["name"]: r for r in listed}
            self.assertTrue(by["postmaster"]["vouched"])
            for s in sybils:
                rec = by[s["reporter"]]
                self.assertFalse(rec["vouched"], rec)
                self.assertLess(rec["trust"], 0.5, rec)
            c.close()
        finally:
            node.cleanup()


class ReplayCachePartition(unittest.TestCase):
    """The observed exhaustion: one replay cache for all reporters, which a few identities
    could fill so that every reporter got 503."""

    def test_full_partition_of_one_reporter_leaves_another_served(self):
        node = h.Node(CONFIG + "[api]\nnonce_cache_per_reporter = 100\n")
        try:
            flooder = node.add_reporter("flooder")
            honest = node.add_reporter("honest", trust=1.0)
            node.start()
            c = node.client()
            statuses = []
            for _ in range(130):
                statuses.append(c.report(flooder, [[h.body_sig()]]).status)
            self.assertEqual(statuses.count(200), 100, statuses)
            self.assertEqual(statuses.count(503), 30, statuses)
            spam = [h.body_sig()]
            r = c.report(honest, [spam])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(confidence(c, spam), 80)
            c.close()
        finally:
            node.cleanup()


if __name__ == "__main__":
    unittest.main(argv=h.parse_args(), verbosity=2)
