#!/usr/bin/env python3
"""Integration tests of strop-node's native API over loopback: every endpoint and every
error code (400, 401, 403, 404, 405, 409, 413, 429, 503), TLS, and the admin commands."""
import json
import os
import socket
import ssl
import subprocess
import shutil
import time
import unittest
import warnings

import node_harness as h

BASE_CONFIG = """
[api]
max_body_bytes = 65536
max_messages = 50
max_header_bytes = 4096
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
register_per_second = 0
"""


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = h.Node(BASE_CONFIG)
        # Admin-created reporters before start (the CLI works on the same data directory).
        cls.trusted = cls.node.add_reporter("trusted", trust=1.0)
        cls.root = cls.node.add_reporter("root", trust=1.0, admin=True)
        cls.node.start()
        cls.c = cls.node.client()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.node.cleanup()

    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("content-type"), "application/json")
        self.assertEqual(r.error_code(), code, r)
        self.assertIsInstance(r.json()["error"]["message"], str)

    # ---- endpoints

    def test_healthz(self):
        r = self.c.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["status"], "ok")

    def test_state(self):
        r = self.c.get("/v1/state")
        self.assertEqual(r.status, 200)
        s = r.json()
        self.assertEqual(s["v"], 1)
        self.assertEqual(s["api_version"], 1)
        self.assertIn("fuzzy/1", s["engines"])
        self.assertEqual(s["limits"]["max_messages"], 50)
        self.assertEqual(s["limits"]["max_body_bytes"], 65536)
        self.assertTrue(s["anonymous_check"])
        self.assertGreaterEqual(s["reporters"], 2)
        self.assertTrue(1 <= s["threshold"] <= 100)

    def test_metrics(self):
        self.c.check([[h.body_sig()]])
        r = self.c.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        text = r.body.decode()
        for name in ["strop_requests_total{op=\"check\",result=\"ok\"}", "strop_request_duration_seconds_bucket",
                     "strop_stored_signatures", "strop_writer_queue_depth", "strop_writer_commit_latency_seconds",
                     "strop_reporters", "strop_connections_active"]:
            self.assertIn(name, text)

    def test_check_batch_anonymous(self):
        r = self.c.check([[h.body_sig(), h.fuzzy_sig(), h.url_sig()], [h.body_sig()], []])
        self.assertEqual(r.status, 200, r)
        res = r.json()["results"]
        self.assertEqual([x["id"] for x in res], ["0", "1", "2"])
        for x in res:
            self.assertEqual(x["verdict"], "not_spam")
            self.assertEqual(x["confidence"], 0)
            self.assertEqual(x["matches"], [])

    def test_report_check_revoke_by_trusted(self):
        body, url = h.body_sig(), h.url_sig()
        r = self.c.report(self.trusted, [[body, url]])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["results"][0]["recorded"], 2)
        # Idempotent.
        r = self.c.report(self.trusted, [[body, url]])
        self.assertEqual(r.json()["results"][0]["unchanged"], 2)
        c = self.c.check([[body, h.fuzzy_sig()]]).json()["results"][0]
        self.assertEqual(c["verdict"], "spam", c)
        self.assertGreaterEqual(c["confidence"], 50)
        m = [x for x in c["matches"] if x["id"] == body]
        self.assertEqual(len(m), 1, c)
        self.assertEqual(m[0]["engine"], "body/1")
        self.assertEqual(m[0]["similarity"], 1)
        self.assertEqual(m[0]["reports"], 1)
        # Withdraw the own report.
        r = self.c.report(self.trusted, [[body]], revoke=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["results"][0]["withdrawn"], 1)
        c = self.c.check([[body]]).json()["results"][0]
        self.assertEqual(c["verdict"], "not_spam", c)

    def test_register_and_report(self):
        r = self.c.post("/v1/register", {"v": 1, "name": "newcomer", "trust": 1.0, "admin": True})
        self.assertEqual(r.status, 200, r)
        reg = r.json()
        self.assertEqual(reg["reporter"], "newcomer")
        self.assertLess(reg["trust"], 0.5)  # unsigned: requested trust ignored
        ident = {"reporter": "newcomer", "secret": reg["secret"]}
        sig = h.body_sig()
        r = self.c.report(ident, [[sig]])
        self.assertEqual(r.status, 200, r)
        # One low-trust report does not list a signature.
        c = self.c.check([[sig]]).json()["results"][0]
        self.assertEqual(c["verdict"], "not_spam")
        self.assertEqual(c["matches"][0]["reports"], 1)
        # 409 for the same name.
        self.assertError(self.c.post("/v1/register", {"name": "newcomer"}), 409, "name_taken")

    def test_admin_signed_register(self):
        r = self.c.post("/v1/register", {"v": 1, "name": "delegate", "trust": 0.8}, self.root)
        self.assertEqual(r.status, 200, r)
        self.assertAlmostEqual(r.json()["trust"], 0.8, places=3)
        # A non-admin may not sign a registration.
        self.assertError(self.c.post("/v1/register", {"name": "other"}, self.trusted), 403, "forbidden")

    def test_expect_100_continue(self):
        body = json.dumps({"v": 1, "messages": [{"sigs": [h.body_sig()]}]}).encode()
        s = socket.create_connection(("127.0.0.1", self.node.port))
        s.settimeout(20)
        s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        interim = s.recv(4096)
        self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim)
        s.sendall(body)
        data = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
        self.assertIn(b'"verdict":"not_spam"', data)

    # ---- 400

    def test_400_malformed(self):
        self.assertError(self.c.post("/v1/check", b"{not json"), 400, "malformed")
        self.assertError(self.c.post("/v1/check", b'{"messages":[{"sigs":"x"}]}'), 400, "malformed")
        self.assertError(self.c.post("/v1/report", b"[]", self.trusted), 400, "malformed")

    def test_400_invalid(self):
        self.assertError(self.c.check([["body/1:nothex"]]), 400, "invalid")
        self.assertError(self.c.post("/v1/register", {"name": "white space"}), 400, "invalid")
        self.assertError(self.c.report(self.trusted, [[]]), 400, "invalid")

    def test_400_unsupported_version(self):
        self.assertError(self.c.post("/v1/check", {"v": 2, "messages": [{"sigs": []}]}), 400, "unsupported_version")

    # ---- 401 / 403

    def test_401_auth_required(self):
        self.assertError(self.c.post("/v1/report", {"messages": [{"sigs": [h.body_sig()]}]}), 401, "auth_required")

    def test_401_bad_signature(self):
        wrong = {"reporter": "trusted", "secret": "not-the-secret"}
        self.assertError(self.c.report(wrong, [[h.body_sig()]]), 401, "bad_signature")
        nobody = {"reporter": "nobody", "secret": "x"}
        self.assertError(self.c.report(nobody, [[h.body_sig()]]), 401, "bad_signature")

    def test_401_stale_request(self):
        body = json.dumps({"messages": [{"sigs": [h.body_sig()]}]})
        r = self.c.post("/v1/report", body, self.trusted, ts=int(time.time()) - 3600)
        self.assertError(r, 401, "stale_request")

    def test_401_replayed_nonce(self):
        body = json.dumps({"messages": [{"sigs": [h.body_sig()]}]}).encode()
        headers = h.sign("trusted", self.trusted["secret"], "POST", "/v1/report", body)
        self.assertEqual(self.c.request("POST", "/v1/report", body, headers).status, 200)
        self.assertError(self.c.request("POST", "/v1/report", body, headers), 401, "replayed_nonce")

    def test_403_disabled_reporter(self):
        ident = self.node.add_reporter("soon-disabled", trust=0.5)
        self.assertEqual(self.c.report(ident, [[h.body_sig()]]).status, 200)
        self.node.cli("reporter", "disable", "soon-disabled")
        self.assertError(self.c.report(ident, [[h.body_sig()]]), 403, "forbidden")

    # ---- 404 / 405

    def test_404(self):
        self.assertError(self.c.get("/v2/check"), 404, "not_found")
        self.assertError(self.c.post("/nope", b"{}"), 404, "not_found")

    def test_405(self):
        r = self.c.get("/v1/check")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("allow"), "POST")
        r = self.c.post("/healthz", b"")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("allow"), "GET")

    # ---- 413

    def test_413_body_too_large(self):
        c = self.node.client()
        try:
            big = b'{"messages":[{"id":"' + b"x" * 70000 + b'"}]}'
            self.assertError(c.post("/v1/check", big), 413, "too_large")
        finally:
            c.close()
        # The node still serves.
        self.assertEqual(self.c.get("/healthz").status, 200)

    def test_413_header_too_large(self):
        c = self.node.client()
        try:
            r = c.request("GET", "/healthz", headers={"X-Filler": "a" * 8000})
            self.assertError(r, 413, "too_large")
        finally:
            c.close()

    def test_413_limit_exceeded(self):
        r = self.c.check([[h.body_sig()] for _ in range(51)])
        self.assertError(r, 413, "limit_exceeded")


class RestrictedNodeTest(unittest.TestCase):
    """Closed registration, signed checks only, per-reporter rate limit."""

    @classmethod
    def setUpClass(cls):
        cls.node = h.Node("""
[api]
anonymous_check = false
open_registration = false
[rate_limit]
ip_per_second = 0
reporter_per_second = 0.01
reporter_burst = 2
""")
        cls.alice = cls.node.add_reporter("alice")
        cls.node.start()
        cls.c = cls.node.client()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.node.cleanup()

    def test_403_registration_closed(self):
        r = self.c.post("/v1/register", {"name": "eve"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.error_code(), "registration_closed")

    def test_401_anonymous_check_refused(self):
        r = self.c.check([[h.body_sig()]])
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.error_code(), "auth_required")
        body = {"messages": [{"sigs": [h.body_sig()]}]}
        self.assertEqual(self.c.post("/v1/check", body, self.alice).status, 200)
        state = self.c.get("/v1/state").json()
        self.assertFalse(state["anonymous_check"])
        self.assertFalse(state["open_registration"])

    def test_429_reporter_rate_limit(self):
        statuses = [self.c.report(self.alice, [[h.body_sig()]]).status for _ in range(3)]
        self.assertEqual(statuses[:2], [200, 200])
        r = self.c.report(self.alice, [[h.body_sig()]])
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.error_code(), "rate_limited")
        self.assertGreaterEqual(int(r.headers["retry-after"]), 1)


class OverloadTest(unittest.TestCase):
    """Per-IP rate limit and the connection limit."""

    @classmethod
    def setUpClass(cls):
        cls.node = h.Node("""
[api]
max_connections = 3
[rate_limit]
ip_per_second = 0.01
ip_burst = 5
""")
        cls.node.start()

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def test_429_ip_rate_limit_and_503_connection_limit(self):
        c = self.node.client()
        statuses = [c.get("/v1/state").status for _ in range(6)]
        self.assertEqual(statuses[:5], [200] * 5)
        self.assertEqual(statuses[5], 429)
        # Health checks are not rate limited.
        self.assertEqual(c.get("/healthz").status, 200)
        # Fill the connection limit (c is one), then one more is refused with 503.
        idle = [socket.create_connection(("127.0.0.1", self.node.port)) for _ in range(2)]
        try:
            time.sleep(0.3)  # let the node accept them (not a pass/fail timing)
            extra = socket.create_connection(("127.0.0.1", self.node.port))
            extra.settimeout(20)
            data = b""
            while True:
                chunk = extra.recv(4096)
                if not chunk:
                    break
                data += chunk
            extra.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 503"), data)
            self.assertIn(b'"code":"overloaded"', data)
        finally:
            for s in idle:
                s.close()
        # The kept-alive client is still served.
        self.assertEqual(c.get("/healthz").status, 200)
        c.close()
        mc = self.node.client()
        metrics = mc.get("/metrics").body.decode()
        mc.close()
        self.assertIn("strop_connections_rejected_total 1", metrics)


@unittest.skipUnless(shutil.which("openssl"), "openssl command needed to make a test certificate")
class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = h.Node()
        cert = os.path.join(cls.node.tmp, "cert.pem")
        key = os.path.join(cls.node.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        with open(cls.node.config_path, "w") as f:
            f.write('[tls]\ncert = "%s"\nkey = "%s"\n' % (cert, key))
        cls.cert = cert
        cls.node.start()

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def test_https_check(self):
        self.assertIn("(https,", self.node.log())
        ctx = ssl.create_default_context(cafile=self.cert)
        c = self.node.client(tls_context=ctx)
        r = c.check([[h.body_sig()]])
        self.assertEqual(r.status, 200, r)
        r = c.get("/healthz")  # keep-alive over TLS
        self.assertEqual(r.status, 200)
        c.close()

    def test_old_tls_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, AttributeError):
            self.skipTest("this Python cannot offer TLS 1.1")
        c = self.node.client(tls_context=ctx)
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            c.get("/healthz")
        c.close()

    def test_plain_http_on_tls_port_is_cut(self):
        c = self.node.client(timeout=20)
        with self.assertRaises((ConnectionError, OSError, Exception)):
            c.get("/healthz")
        c.close()
        # Still serving TLS.
        ctx = ssl.create_default_context(cafile=self.cert)
        tc = self.node.client(tls_context=ctx)
        self.assertEqual(tc.get("/healthz").status, 200)
        tc.close()


if __name__ == "__main__":
    unittest.main(argv=h.parse_args(), verbosity=2)
