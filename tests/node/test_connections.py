#!/usr/bin/env python3
"""Connection fairness and HTTP framing on strop-node's TCP listeners (security findings 4
and 5; docs/security.md "Resource exhaustion").

Finding 4: 2,000 silent connections from one address held every HTTP (and Razor) slot, and
1,000 connections each holding an unfinished 1 MiB body took the node to ~1 GiB RSS. Now:
a per-address connection cap (IPv4 address, IPv6 /64), slots kept for addresses not yet
connected, the read timeout running from accept, and a per-address budget for unfinished
bodies. Finding 5: request smuggling through Transfer-Encoding and obs-fold; now 400 and
the connection is closed, with no second response.

Every test uses its own loopback source address (127.0.x.y: all of 127/8 is on lo), so the
"attacker" and the normal client are different addresses, as they would be in the field.
The only timing assertion: the normal client gets each answer within 1 s.
"""
import http.client
import json
import os
import re
import resource
import select
import socket
import threading
import time
import unittest

import node_harness as h

NORMAL = "127.0.0.2"        # the well-behaved client
ANSWER_WITHIN = 1.0         # seconds: the bound for the normal client
FLOOD = 2000                # silent connections from one address
RAZOR_RE = re.compile(r"razor listener on ([0-9.]+):(\d+)")


def raise_nofile(want=8192):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def connect(port, source, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    s.settimeout(timeout)
    return s


def read_until_close(sock, limit=1 << 20):
    """Reads until the peer closes; returns (bytes, closed). closed is False on a timeout."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, True
        except socket.timeout:
            return data, False
        if not chunk:
            return data, True
        data += chunk
    return data, False


def read_response(sock):
    """Reads one HTTP response (status line, header, Content-Length body); returns bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def razor_port(node, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in node.log_lines:
            m = RAZOR_RE.search(line)
            if m:
                return int(m.group(2))
        time.sleep(0.05)
    raise AssertionError("no razor listener line in the log:\n" + node.log())


def readable(socks, timeout):
    """The sockets of `socks` with data or EOF pending (poll: fds may exceed FD_SETSIZE)."""
    p = select.poll()
    by_fd = {}
    for s in socks:
        p.register(s, select.POLLIN)
        by_fd[s.fileno()] = s
    return [by_fd[fd] for fd, _ in p.poll(int(timeout * 1000))]


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class Flood:
    """Opens `n` connections from `source` in a thread and holds them, sending nothing."""

    def __init__(self, port, source, n=FLOOD, payload=b""):
        self.port, self.source, self.n, self.payload = port, source, n, payload
        self.socks = []
        self.failed = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            for _ in range(self.n):
                try:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.bind((self.source, 0))
                    s.settimeout(10)
                    s.connect(("127.0.0.1", self.port))
                    if self.payload:
                        s.sendall(self.payload)
                    self.socks.append(s)
                except OSError:
                    self.failed += 1
        finally:
            self.done.set()

    def start(self):
        self.thread.start()
        return self

    def close(self):
        self.thread.join(timeout=120)
        for s in self.socks:
            s.close()


class NodeFixture:
    """One node (HTTP and Razor listeners) shared by the tests of a class."""

    @classmethod
    def start_node(cls, config):
        raise_nofile()
        cls.node = h.Node(config, extra_args=["--razor-listen", "127.0.0.1:0"])
        cls.node.start()
        cls.razor = razor_port(cls.node)

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()


def http_get(port, target="/healthz", conn=None):
    """One request from the normal address; returns (status, seconds)."""
    start = time.monotonic()
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_WITHIN * 5,
                                          source_address=(NORMAL, 0))
    try:
        conn.request("GET", target)
        r = conn.getresponse()
        r.read()
        return r.status, time.monotonic() - start
    finally:
        if own:
            conn.close()


def razor_state(port):
    """A razor-check style conversation from the normal address: greeting, a=g&pm=state,
    reply. Returns (greeting, reply, seconds)."""
    start = time.monotonic()
    with connect(port, NORMAL, timeout=ANSWER_WITHIN * 5) as s:
        f = s.makefile("rb")
        greeting = f.readline()
        s.sendall(b"a=g&pm=state\r\n")
        reply = f.readline()
        s.sendall(b"a=q\r\n")
        f.close()
    return greeting, reply, time.monotonic() - start


class FairnessTest(NodeFixture, unittest.TestCase):
    """Default connection limits (max_connections 1024 / razor 512, 64 per address)."""

    @classmethod
    def setUpClass(cls):
        cls.start_node("[rate_limit]\nip_per_second = 0\n")

    def serve_normal_client_during(self, flood, ask):
        """Asks `ask()` -> (ok, seconds) repeatedly while `flood` runs and once it holds
        everything it could open; every answer must come within ANSWER_WITHIN."""
        answers = 0
        slowest = 0.0
        while not flood.done.is_set() or answers < 10:
            ok, secs = ask()
            self.assertTrue(ok, "normal client refused during the flood (answer %d)" % answers)
            self.assertLess(secs, ANSWER_WITHIN, "answer %d took %.3f s" % (answers, secs))
            slowest = max(slowest, secs)
            answers += 1
            if flood.done.is_set():
                time.sleep(0.05)
        return answers, slowest

    def test_http_2000_silent_connections_from_one_address(self):
        keep = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=ANSWER_WITHIN * 5,
                                          source_address=(NORMAL, 0))
        flood = Flood(self.node.port, "127.0.1.1").start()
        try:
            def ask():
                # Alternately a new connection (the finding: every new client was refused)
                # and the kept-alive one.
                status, secs = http_get(self.node.port)
                status2, secs2 = http_get(self.node.port, conn=keep)
                return status == 200 and status2 == 200, max(secs, secs2)

            answers, slowest = self.serve_normal_client_during(flood, ask)
            held = len(flood.socks) - len(readable(flood.socks, 0))
            print("http: %d flood connections opened, %d still unanswered; %d answers, slowest %.3f s"
                  % (len(flood.socks), held, answers, slowest))
            # The flood's address holds at most its share; the rest got 503 and were closed.
            self.assertLessEqual(held, 64)
        finally:
            keep.close()
            flood.close()

    def test_razor_2000_silent_connections_from_one_address(self):
        flood = Flood(self.razor, "127.0.1.2").start()
        try:
            def ask():
                greeting, reply, secs = razor_state(self.razor)
                return greeting.startswith(b"sn=") and reply.startswith(b"ac="), secs

            answers, slowest = self.serve_normal_client_during(flood, ask)
            print("razor: %d flood connections opened; %d answers, slowest %.3f s"
                  % (len(flood.socks), answers, slowest))
        finally:
            flood.close()

    def test_http_unfinished_bodies_per_address_budget(self):
        # 40 connections from one address each declare a 1 MiB body (max_body_bytes) and
        # send 1 KiB of it. The address's budget (max_body_bytes_per_address, 8 MiB) holds
        # 8 of them; the other 32 get 503 and are closed. Before: all 40 held 1 MiB each.
        n, mib = 40, 1 << 20
        rss_before = rss_kib(self.node.proc.pid)
        socks = []
        try:
            for _ in range(n):
                s = connect(self.node.port, "127.0.2.1")
                s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % mib + b" " * 1024)
                socks.append(s)
            refused = []
            deadline = time.time() + 30
            pending = list(socks)
            while pending and len(refused) < n - 8 and time.time() < deadline:
                ready = readable(pending, 1)
                for s in ready:
                    data, closed = read_until_close(s)
                    pending.remove(s)
                    refused.append((data, closed))
            for data, closed in refused:
                self.assertTrue(data.startswith(b"HTTP/1.1 503"), data[:200])
                self.assertIn(b'"code":"overloaded"', data)
                self.assertTrue(closed)
            self.assertEqual(len(refused), n - 8)
            # The 8 within the budget are still being received (nothing was answered).
            self.assertEqual(readable(pending, 0), [])
            # Others are served meanwhile, bodies included.
            status, secs = http_get(self.node.port)
            self.assertEqual(status, 200)
            c = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=10, source_address=(NORMAL, 0))
            body = json.dumps({"v": 1, "messages": [{"id": "0", "sigs": [h.body_sig()]}]})
            c.request("POST", "/v1/check", body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            c.close()
            self.assertEqual(r.status, 200)
            # One held body finished: its share of the budget comes back.
            s = pending.pop()
            s.sendall(b" " * (mib - 1024 - 2) + b"{}")
            data = read_response(s)
            socks.remove(s)
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 "), data[:200])
            self.assertNotIn(b"overloaded", data)
            print("http: RSS %d KiB before, %d KiB with 8 bodies held (ASan build)"
                  % (rss_before, rss_kib(self.node.proc.pid)))
        finally:
            for s in socks:
                s.close()

    def test_razor_unfinished_requests_per_address_budget(self):
        # 20 connections from one address each send 200 KiB of an unfinished mail upload
        # (under razor.max_request_bytes, 256 KiB). The address's budget
        # (razor.max_request_bytes_per_address, 2 MiB) holds about 10; the others get
        # err=243 (limit) and are closed.
        n, part = 20, 200 * 1024
        line = b"x" * 98 + b"\r\n"
        upload = b"-a=r&message=*\r\n" + line * (part // len(line))
        socks = []
        try:
            for _ in range(n):
                s = connect(self.razor, "127.0.2.2")
                s.makefile("rb").readline()  # greeting
                s.sendall(upload)
                socks.append(s)
            limited = 0
            pending = list(socks)
            deadline = time.time() + 30
            while pending and limited < n - 11 and time.time() < deadline:
                ready = readable(pending, 1)
                for s in ready:
                    data, closed = read_until_close(s)
                    pending.remove(s)
                    self.assertTrue(closed)
                    self.assertEqual(data, b"err=243\r\n")
                    limited += 1
            self.assertGreaterEqual(limited, n - 11)
            self.assertGreaterEqual(len(pending), 1)
            greeting, reply, secs = razor_state(self.razor)
            self.assertTrue(reply.startswith(b"ac="), reply)
        finally:
            for s in socks:
                s.close()


class FramingTest(NodeFixture, unittest.TestCase):
    """RFC 9112 framing: each smuggling attempt gets one 400 and the connection closes;
    the smuggled second request is never answered."""

    SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    @classmethod
    def setUpClass(cls):
        cls.start_node("[rate_limit]\nip_per_second = 0\n")

    def exchange(self, raw):
        s = connect(self.node.port, "127.0.3.1", timeout=20)
        try:
            s.sendall(raw)
            return read_until_close(s)
        finally:
            s.close()

    def assert_refused_and_closed(self, head, body=b""):
        data, closed = self.exchange(head + body + self.SMUGGLED)
        self.assertTrue(closed, "connection left open: %r" % data[:300])
        self.assertRegex(data[:12], rb"^HTTP/1\.1 (400|501)", data[:300])
        self.assertEqual(data.count(b"HTTP/1.1 "), 1, "a second response: %r" % data)

    def test_te_gzip(self):
        self.assert_refused_and_closed(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")

    def test_te_gzip_then_chunked(self):
        self.assert_refused_and_closed(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                                       b"0\r\n\r\n")

    def test_te_chunked_chunked(self):
        self.assert_refused_and_closed(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                                       b"0\r\n\r\n")

    def test_te_chunked_twice_as_fields(self):
        self.assert_refused_and_closed(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n")

    def test_te_identity_with_content_length(self):
        self.assert_refused_and_closed(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n"
                                       b"Content-Length: 0\r\n\r\n")

    def test_te_chunked_then_content_length(self):
        self.assert_refused_and_closed(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                       b"Content-Length: 5\r\n\r\n", b"0\r\n\r\n")

    def test_content_length_then_te_chunked(self):
        self.assert_refused_and_closed(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n")

    def test_te_in_http10(self):
        self.assert_refused_and_closed(b"POST /v1/check HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                                       b"0\r\n\r\n")

    def test_obs_fold(self):
        self.assert_refused_and_closed(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n folded\r\n\r\n")

    def test_obs_fold_tab_on_first_field(self):
        self.assert_refused_and_closed(b"GET /healthz HTTP/1.1\r\n\tHost: x\r\n\r\n")

    def test_plain_chunked_and_content_length_still_work(self):
        body = json.dumps({"v": 1, "messages": [{"id": "0", "sigs": [h.body_sig()]}]}).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        data, closed = self.exchange(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n" + chunked +
                                     b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        self.assertTrue(closed)
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 2, data)


class TimeoutsAndReserveTest(NodeFixture, unittest.TestCase):
    """The read timeout runs from accept; slots are kept for addresses not yet connected."""

    @classmethod
    def setUpClass(cls):
        cls.start_node("[api]\nread_timeout_ms = 1000\nidle_timeout_ms = 60000\nmax_connections = 40\n"
                       "max_connections_per_address = 8\nreserved_connections = 10\n"
                       "[razor]\nrequest_timeout_ms = 1000\nidle_timeout_ms = 60000\n"
                       "[rate_limit]\nip_per_second = 0\n")

    def test_http_silent_connection_closed_by_read_timeout_not_idle_timeout(self):
        # Before: a connection that never sent a byte waited idle_timeout (60 s here).
        s = connect(self.node.port, "127.0.5.1", timeout=30)
        data, closed = read_until_close(s)
        s.close()
        self.assertTrue(closed, "a silent connection was held past read_timeout")
        self.assertEqual(data, b"")

    def test_razor_silent_connection_closed_by_request_timeout_not_idle_timeout(self):
        s = connect(self.razor, "127.0.5.2", timeout=30)
        data, closed = read_until_close(s)
        s.close()
        self.assertTrue(closed, "a silent connection was held past request_timeout")
        self.assertTrue(data.startswith(b"sn="), data)  # the greeting, then nothing

    def test_reserved_slots_for_new_addresses(self):
        # 10 attacker addresses each try to keep 8 idle keep-alive connections (one served
        # request each): they get the 30 unreserved slots and one reserved slot per new
        # address, and the normal client still finds a free slot.
        conns = []
        statuses = []
        try:
            for a in range(1, 11):
                for _ in range(8):
                    c = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=10,
                                                   source_address=("127.0.6.%d" % a, 0))
                    conns.append(c)
                    try:
                        statuses.append(http_get(self.node.port, conn=c)[0])
                    except (ConnectionError, http.client.HTTPException, OSError):
                        statuses.append(0)
            admitted = statuses.count(200)
            print("reserve: %d of %d attacker connections admitted" % (admitted, len(statuses)))
            self.assertEqual(admitted, 30 + 6)  # addresses 5..10 took one reserved slot each
            status, secs = http_get(self.node.port)
            self.assertEqual(status, 200)
            self.assertLess(secs, ANSWER_WITHIN)
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    unittest.main(argv=h.parse_args(), verbosity=2)
