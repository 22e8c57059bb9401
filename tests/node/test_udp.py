#!/usr/bin/env python3
"""Integration tests of strop-node's native binary UDP check listener (strop-udp/1,
docs/protocol.md "Native UDP check"): datagrams are encoded by hand with struct, checked
against the HTTP API's answers for the same signatures; malformed datagrams get no reply
and do not stop the listener; the per-address rate limit answers rate_limited."""
import re
import tomllib
import socket
import struct
import unittest

import node_harness as h

CONFIG = """
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
register_per_second = 0
"""

UDP_RE = re.compile(r"udp listener on ([0-9.]+):(\d+)")
ENGINES = {"body/1": 1, "fuzzy/1": 2, "url/1": 3, "attach/1": 4, "razor-e4": 5, "razor-e8": 6, "pyzor": 7}
HEX_ENGINES = {"body/1", "fuzzy/1", "url/1", "attach/1", "pyzor"}
STATUS_OK, STATUS_RATE_LIMITED = 0, 1


def sig_bytes(text):
    engine, value = text.rsplit(":", 1)
    raw = bytes.fromhex(value) if engine in HEX_ENGINES else value.encode()
    return bytes([ENGINES[engine]]) + raw


def request(rid, messages):
    """A check request: magic "ST", version 1, op 1, id, message count, then per message
    its signature count and signatures (engine byte + binary value)."""
    out = b"ST" + bytes([1, 1]) + struct.pack(">IH", rid, len(messages))
    for sigs in messages:
        out += bytes([len(sigs)]) + b"".join(sig_bytes(s) for s in sigs)
    return out


def parse_reply(data):
    magic, version, op, rid, status, flags, count = struct.unpack(">2sBBIBBH", data[:12])
    assert (magic, version, op) == (b"ST", 1, 0x81), data[:4]
    pos, results = 12, []
    for _ in range(count):
        verdict, confidence, nrec = data[pos], data[pos + 1], data[pos + 2]
        pos += 3
        recs = []
        for _ in range(nrec):
            engine, sim, reports, revokes = struct.unpack(">BBHH", data[pos:pos + 6])
            recs.append({"engine": engine, "similarity": sim, "reports": reports, "revokes": revokes})
            pos += 6
        results.append({"spam": verdict == 1, "confidence": confidence, "matches": recs})
    assert pos == len(data), "trailing bytes"
    return {"id": rid, "status": status, "flags": flags, "results": results}


def udp_port(node):
    for line in node.log_lines:
        m = UDP_RE.search(line)
        if m:
            return int(m.group(2))
    raise AssertionError("no udp listener line in the log:\n" + node.log())


class UdpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = h.Node(CONFIG, extra_args=["--udp-listen", "127.0.0.1:0"])
        cls.trusted = cls.node.add_reporter("trusted", trust=1.0)
        cls.node.start()
        cls.c = cls.node.client()
        cls.port = udp_port(cls.node)
        cls.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cls.sock.connect(("127.0.0.1", cls.port))

    @classmethod
    def tearDownClass(cls):
        cls.sock.close()
        cls.c.close()
        cls.node.cleanup()

    def exchange(self, data, timeout=2.0):
        self.sock.settimeout(timeout)
        self.sock.send(data)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None

    def check(self, rid, messages):
        data = request(rid, messages)
        reply = self.exchange(data)
        self.assertIsNotNone(reply, "no reply")
        self.assertLessEqual(len(reply), len(data), "reply larger than its request")
        return parse_reply(reply)

    def full_message(self):
        return [h.body_sig(), h.fuzzy_sig(), h.url_sig(), h.url_sig(), h.url_sig()]

    def test_reported_message_is_spam_as_over_http(self):
        spam = self.full_message()
        r = self.c.report(self.trusted, [spam])
        self.assertEqual(r.status, 200, r)
        http = self.c.check([spam]).json()["results"][0]
        self.assertEqual(http["verdict"], "spam", http)
        rep = self.check(0x12345678, [spam, self.full_message()])
        self.assertEqual(rep["id"], 0x12345678)
        self.assertEqual(rep["status"], STATUS_OK)
        self.assertEqual(rep["flags"], 0)
        self.assertEqual(len(rep["results"]), 2)
        got = rep["results"][0]
        self.assertTrue(got["spam"])
        self.assertEqual(got["confidence"], http["confidence"])
        # One record per matched engine, as the HTTP matches grouped by engine.
        http_engines = sorted({ENGINES[m["engine"]] for m in http["matches"]})
        self.assertEqual(sorted(m["engine"] for m in got["matches"]), http_engines)
        for m in got["matches"]:
            self.assertEqual(m["similarity"], 100)
            self.assertEqual(m["reports"], 1)
            self.assertEqual(m["revokes"], 0)
        unknown = rep["results"][1]
        self.assertEqual(unknown, {"spam": False, "confidence": 0, "matches": []})

    def test_exact_only_and_legacy_engines(self):
        body = h.body_sig()
        pyzor = "pyzor:" + h.random_hex(40)
        e8 = "razor-e8:abcdefghij_9"
        self.assertEqual(self.c.report(self.trusted, [[body, pyzor]]).status, 200)
        http = self.c.check([[body], [pyzor, e8]]).json()["results"]
        rep = self.check(7, [[body], [pyzor, e8]])
        self.assertEqual(rep["id"], 7)
        for got, want in zip(rep["results"], http):
            self.assertEqual(got["spam"], want["verdict"] == "spam")
            self.assertEqual(got["confidence"], want["confidence"])
        self.assertTrue(rep["results"][0]["spam"])

    def test_unknown_message_is_not_spam(self):
        rep = self.check(0xffffffff, [self.full_message()])
        self.assertEqual(rep["id"], 0xffffffff)
        self.assertEqual(rep["results"], [{"spam": False, "confidence": 0, "matches": []}])

    def test_request_ids_are_echoed(self):
        msg = [[h.body_sig()]]
        for rid in (0, 1, 0x80000000, 424242):
            self.assertEqual(self.check(rid, msg)["id"], rid)

    def test_bad_datagrams_get_no_reply(self):
        good = request(99, [self.full_message()])
        bad = [
            b"",
            b"garbage",
            b"\x00" * 64,
            good[:-1],                          # truncated
            good + b"x",                        # trailing byte
            b"XX" + good[2:],                   # magic
            good[:2] + b"\x02" + good[3:],      # version
            good[:3] + b"\x81" + good[4:],      # a reply is never a request
            good[:8] + b"\x00\x00" + good[10:], # no messages
            good[:10] + b"\x00" + good[11:],    # a message without signatures
            good[:11] + b"\x09" + good[12:],    # unknown engine
            request(5, [["razor-e8:abcdefghij_9"]])[:-1] + b"!",  # bad razor value
            request(6, [[h.body_sig()]] * 65),  # over max_messages
            b"ST\x01\x01" + b"\x00" * 9000,    # oversized
        ]
        for d in bad:
            self.assertIsNone(self.exchange(d, timeout=0.3), d[:16])
        # Still serving, and the drops were counted.
        self.assertEqual(self.check(100, [[h.body_sig()]])["id"], 100)
        metrics = self.c.get("/metrics").body.decode()
        self.assertRegex(metrics, r'strop_requests_total\{op="udp_check",result="malformed"\} [1-9]')
        self.assertRegex(metrics, r'strop_requests_total\{op="udp_check",result="too_large"\} 1')
        self.assertRegex(metrics, r'strop_requests_total\{op="udp_check",result="limit_exceeded"\} 1')
        self.assertRegex(metrics, r'strop_requests_total\{op="udp_check",result="ok"\} [1-9]')
        self.assertIn('strop_request_duration_seconds_count{op="udp_check"}', metrics)


class UdpRateLimitTest(unittest.TestCase):
    def test_rate_limited_replies(self):
        node = h.Node("[rate_limit]\nip_per_second = 0.001\nip_burst = 2\n",
                      extra_args=["--udp-listen", "127.0.0.1:0"])
        try:
            node.start()
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.connect(("127.0.0.1", udp_port(node)))
            statuses = []
            for rid in range(4):
                data = request(rid, [[h.body_sig()]])
                s.send(data)
                reply = s.recv(65536)
                self.assertLessEqual(len(reply), len(data))
                rep = parse_reply(reply)
                self.assertEqual(rep["id"], rid)
                statuses.append(rep["status"])
            self.assertEqual(statuses, [STATUS_OK, STATUS_OK, STATUS_RATE_LIMITED, STATUS_RATE_LIMITED])
            s.close()
            self.assertEqual(node.terminate(), 0)
            self.assertIn("udp: 4 datagrams", node.log())
        finally:
            node.cleanup()


class UdpOffTest(unittest.TestCase):
    def test_off_by_default_and_print_config(self):
        node = h.Node("")
        try:
            p = node.cli("serve", "--print-config")
            # The printed configuration is TOML with a comment above each key.
            self.assertEqual(tomllib.loads(p.stdout)["udp"], {"listen": "auto", "threads": 1})
            p = node.cli("serve", "--print-config", "--udp-listen", "0.0.0.0:7421")
            self.assertEqual(tomllib.loads(p.stdout)["udp"]["listen"], "0.0.0.0:7421")
            p = node.cli("serve", "--print-config", "--udp-listen", "nonsense", check=False)
            self.assertNotEqual(p.returncode, 0)
        finally:
            node.cleanup()

    def test_refused_when_checks_must_be_signed(self):
        node = h.Node("[api]\nanonymous_check = false\n")
        try:
            p = node.cli("serve", "--print-config", "--udp-listen", "127.0.0.1:0", check=False)
            self.assertEqual(p.returncode, 78, p.stderr)
            self.assertIn("anonymous", p.stderr)
        finally:
            node.cleanup()


if __name__ == "__main__":
    unittest.main(argv=h.parse_args())
