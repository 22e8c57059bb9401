#!/usr/bin/env python3
"""Garbage, oversized and slow (slowloris) requests get clean errors or are cut off while
the node keeps serving a well-behaved client on another connection."""
import os
import socket
import threading
import time
import unittest

import node_harness as h

CONFIG = """
[api]
max_body_bytes = 65536
max_header_bytes = 4096
idle_timeout_ms = 2000
read_timeout_ms = 1000
write_timeout_ms = 2000
[rate_limit]
ip_per_second = 0
"""


def read_all(sock, limit=1 << 20):
    """Reads until the peer closes (or resets); returns the bytes."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


class AbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = h.Node(CONFIG)
        cls.node.start()

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def setUp(self):
        # The well-behaved client: one keep-alive connection used throughout each test.
        self.good = self.node.client(timeout=20)
        self.assertEqual(self.good.get("/healthz").status, 200)

    def tearDown(self):
        # It is still served after the abuse.
        r = self.good.check([[h.body_sig()]])
        self.assertEqual(r.status, 200, r)
        self.good.close()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.node.port))
        s.settimeout(30)
        return s

    def test_garbage_gets_400_and_close(self):
        s = self.connect()
        s.sendall(os.urandom(3000).replace(b"\r", b"x").replace(b"\n", b"y") + b"\r\n\r\n")
        data = read_all(s)
        s.close()
        # Either a clean 400 with the JSON error body, or cut off (never a hang or a crash).
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
            self.assertIn(b'"code":"malformed"', data)
        self.assertEqual(self.good.get("/healthz").status, 200)

    def test_bad_request_line_and_version(self):
        for raw in [b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST /v1/check HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64]:
            s = self.connect()
            s.sendall(raw)
            data = read_all(s)
            s.close()
            if data:
                self.assertTrue(data.startswith(b"HTTP/1.1 400"), (raw, data[:200]))
            self.assertEqual(self.good.get("/healthz").status, 200)

    def test_oversized_body_declared(self):
        s = self.connect()
        s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" + b"{" * 100000)
        data = read_all(s)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        self.assertIn(b'"code":"too_large"', data)

    def test_oversized_chunked_body(self):
        s = self.connect()
        s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"8000\r\n" + b"a" * 0x8000 + b"\r\n"
        try:
            for _ in range(4):
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = read_all(s)
        s.close()
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])

    def test_endless_header(self):
        s = self.connect()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nX-A: " + b"a" * 100000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = read_all(s)
        s.close()
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])

    def test_slowloris_is_cut_off_while_others_are_served(self):
        stop = threading.Event()
        closed_by_server = threading.Event()

        def slow():
            s = self.connect()
            try:
                for b in b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 100:
                    if stop.is_set():
                        return
                    s.sendall(bytes([b]))
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                closed_by_server.set()
                return
            finally:
                try:
                    if not closed_by_server.is_set() and s.recv(1) == b"":
                        closed_by_server.set()
                except OSError:
                    closed_by_server.set()
                s.close()

        slows = [threading.Thread(target=slow) for _ in range(10)]
        for t in slows:
            t.start()
        # While the slow clients dribble, the good client gets answers.
        served = 0
        for _ in range(20):
            r = self.good.check([[h.body_sig()]])
            self.assertEqual(r.status, 200)
            served += 1
        self.assertEqual(served, 20)
        for t in slows:
            t.join(timeout=60)
        stop.set()
        self.assertTrue(closed_by_server.is_set(), "slow requests were never cut off")
        m = self.good.get("/metrics").body.decode()
        timed_out = [l for l in m.splitlines() if l.startswith("strop_connections_timed_out_total")]
        self.assertTrue(timed_out and float(timed_out[0].split()[-1]) >= 1, timed_out)

    def test_idle_connection_is_closed(self):
        s = self.connect()
        # Send nothing: the idle timeout (2 s) closes it; recv returns b"" then.
        self.assertEqual(read_all(s), b"")
        s.close()
        # The good client idled just as long and was closed too: reconnect for tearDown.
        self.good.close()
        self.good = self.node.client(timeout=20)

    def test_half_request_then_close(self):
        for _ in range(20):
            s = self.connect()
            s.sendall(b"POST /v1/check HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"v\":")
            s.close()
        self.assertEqual(self.good.get("/healthz").status, 200)

    def test_pipelined_requests(self):
        s = self.connect()
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(req * 5 + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_all(s)
        s.close()
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 6, data)


if __name__ == "__main__":
    unittest.main(argv=h.parse_args(), verbosity=2)
