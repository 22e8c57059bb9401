#!/usr/bin/env python3
"""strop-node's lifecycle (docs/operations.md "Signals, reload and readiness"): SIGHUP under
load reloads the configuration file (log level and format take effect, rate limits change at
once, a broken file is
logged and the running configuration kept) and never stops the node or fails a request;
sd_notify READY=1 / RELOADING=1 / STOPPING=1 on a NOTIFY_SOCKET the test binds; /readyz;
/metrics with strop_build_info, the process_* series and histograms; the admin listener
serves /metrics and the API listener then does not; udp.listen = "auto" by default."""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import node_harness as h

BASE = """
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
register_per_second = 0
"""


def config(level="info", fmt="text"):
    return '[node]\nlog_level = "%s"\nlog_format = "%s"\n%s' % (level, fmt, BASE)


def wait_for(pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def http_get(port, target):
    c = h.Client(port, timeout=10)
    try:
        return c.get(target)
    finally:
        c.close()


class Load:
    """Keep-alive checks and trusted reports from a few threads until stop(); every failure
    (exception or status other than 200) is kept."""

    def __init__(self, node, identity, threads=3):
        self.node, self.identity = node, identity
        self.stopping = threading.Event()
        self.failures, self.done = [], [0]
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, i):
        c = self.node.client()
        n = 0
        while not self.stopping.is_set():
            try:
                if n % 4 == 3:
                    r = c.report(self.identity, [[h.body_sig()]])
                else:
                    r = c.check([[h.body_sig(), h.fuzzy_sig()]])
                if r.status != 200:
                    with self.lock:
                        self.failures.append(repr(r))
            except Exception as e:  # noqa: BLE001 - any failure counts
                with self.lock:
                    self.failures.append("thread %d: %r" % (i, e))
                c.close()
                c = self.node.client()
            n += 1
            with self.lock:
                self.done[0] += 1
        c.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        return self.done[0]


class Lifecycle(unittest.TestCase):
    def test_sighup_under_load_reloads_and_never_stops(self):
        node = h.Node(config("info"))
        identity = node.add_reporter("loader", trust=1)
        node.start()
        try:
            load = Load(node, identity)
            count = lambda s: sum(1 for l in node.log_lines if s in l)  # noqa: E731
            # 1. Repeated SIGHUPs with the same file: each is a reload, none stops the node.
            for i in range(1, 11):
                node.proc.send_signal(signal.SIGHUP)
                wait_for(lambda: count("reloaded configuration from") >= i, "reload %d" % i)
            self.assertTrue(node.alive())
            hups_seen = count("received SIGHUP: reloading")
            self.assertEqual(hups_seen, 10)
            # 2. log_level = "warn": later info lines are gone. A broken file next is an
            #    error (shown at warn) and the running configuration stays.
            with open(node.config_path, "w") as f:
                f.write(config("warn"))
            node.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: count("received SIGHUP: reloading") == 11, "the warn reload's SIGHUP line")
            with open(node.config_path, "w") as f:
                f.write(config("info") + "\n[api]\nmax_messages = 0\n")
            node.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: count("keeping the running configuration") == 1, "the broken-file error")
            self.assertEqual(count("received SIGHUP: reloading"), 11, "info lines after warn")
            broken = [l for l in node.log_lines if "keeping the running configuration" in l][0]
            self.assertRegex(broken, r" error strop-node: reload: .*api\.max_messages: 0 is outside")
            # 3. log_format = "json" at info: one JSON object per line from now on.
            with open(node.config_path, "w") as f:
                f.write(config("info", "json"))
            node.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: any(l.startswith("{") and "reloaded configuration" in l for l in node.log_lines),
                     "a JSON reload line")
            line = [l for l in node.log_lines if l.startswith("{") and "reloaded configuration" in l][0]
            obj = json.loads(line)
            self.assertEqual((obj["level"], obj["program"]), ("info", "strop-node"))
            self.assertRegex(obj["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
            done = load.stop()
            print("SIGHUP under load: %d requests, %d failures, 13 SIGHUPs" % (done, len(load.failures)))
            self.assertEqual(load.failures, [])
            self.assertGreater(done, 0)
            self.assertTrue(node.alive())
            self.assertEqual(node.stop(), 0)
        finally:
            node.cleanup()

    def test_sighup_reloads_rate_limits(self):
        node = h.Node(config("info"))
        node.start()
        try:
            count = lambda s: sum(1 for l in node.log_lines if s in l)  # noqa: E731
            c = node.client()

            def statuses(n):
                return [c.check([[h.body_sig()]]).status for _ in range(n)]

            # Off at start: nothing is refused.
            self.assertEqual(set(statuses(20)), {200})
            # 1 request/s per client address, bucket 2: a burst of ten is refused after two.
            with open(node.config_path, "w") as f:
                f.write(config("info").replace("ip_per_second = 0", "ip_per_second = 1\nip_burst = 2"))
            node.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: count("reloaded configuration from") >= 1, "the first reload")
            got = statuses(10)
            self.assertIn(429, got)
            self.assertLessEqual(got.count(200), 3)  # the bucket, plus at most one refill
            self.assertEqual(count("take effect at the next restart"), 0, "rate limits are reloadable")
            # Off again: nothing is refused.
            with open(node.config_path, "w") as f:
                f.write(config("info"))
            node.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: count("reloaded configuration from") >= 2, "the second reload")
            self.assertEqual(set(statuses(20)), {200})
            c.close()
            self.assertEqual(node.stop(), 0)
        finally:
            node.cleanup()

    def test_sighup_reloads_the_tls_certificate(self):
        tmp = tempfile.mkdtemp(prefix="strop-tls-")
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")

        def make_cert(cn):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", cert, "-days", "1", "-subj", "/CN=" + cn],
                           check=True, capture_output=True)

        def served_cn(port):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with ctx.wrap_socket(raw) as s:
                    der = s.getpeercert(binary_form=True)
            pem = ssl.DER_cert_to_PEM_cert(der)
            out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem, text=True,
                                 capture_output=True, check=True).stdout
            return out.strip().split("CN", 1)[1].strip(" =")

        make_cert("first")
        node = h.Node(BASE + '\n[tls]\ncert = "%s"\nkey = "%s"\n' % (cert, key))
        try:
            node.start()
            self.assertEqual(served_cn(node.port), "first")
            make_cert("second")
            node.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: any("reloaded configuration" in l for l in node.log_lines), "the reload")
            self.assertEqual(served_cn(node.port), "second")
            # A key of another certificate (rotation half done): logged, the running one stays.
            subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
            node.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: any("keeping the running TLS certificate" in l for l in node.log_lines),
                     "the TLS reload error")
            self.assertEqual(served_cn(node.port), "second")
            self.assertTrue(node.alive())
        finally:
            node.cleanup()
            subprocess.run(["rm", "-rf", tmp])

    def test_text_layout_and_readyz(self):
        node = h.Node(BASE).start()
        try:
            ready = [l for l in node.log_lines if "ready: listening on" in l][0]
            self.assertRegex(ready, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d info strop-node: "
                                    r"strop-node \S+ ready: listening on ")
            # Without an admin listener the admin API stays on the API listener (signed).
            self.assertEqual(http_get(node.port, "/admin/sig/" + h.body_sig()).status, 401)
            r = http_get(node.port, "/readyz")
            self.assertEqual((r.status, r.json()["status"]), (200, "ready"))
            self.assertEqual(http_get(node.port, "/healthz").status, 200)
            # udp.listen = "auto": strop-udp/1 follows the API listener.
            self.assertIsNotNone(node.udp_port)
        finally:
            node.cleanup()

    def test_metrics_series(self):
        node = h.Node(BASE).start()
        try:
            c = node.client()
            self.assertEqual(c.check([[h.body_sig()]]).status, 200)
            m = c.get("/metrics").body.decode()
            c.close()
            self.assertRegex(m, r'strop_build_info\{version="[0-9.]+"\} 1\n')
            for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                         "process_start_time_seconds", "process_max_fds"):
                self.assertRegex(m, r"\n%s [0-9.e+]+\n" % name)
            start = float(re.search(r"\nprocess_start_time_seconds ([0-9.e+]+)", m).group(1))
            self.assertLess(abs(start - time.time()), 3600)
            self.assertIn("# TYPE strop_request_duration_seconds histogram", m)
            self.assertRegex(m, r'strop_request_duration_seconds_bucket\{op="check",le="\+Inf"\} [1-9]')
            self.assertIn('strop_request_duration_seconds_sum{op="check"}', m)
            self.assertIn("# TYPE strop_writer_commit_duration_seconds histogram", m)
            self.assertIn('strop_writer_commit_duration_seconds_bucket{le="+Inf"}', m)
            self.assertIn("strop_writer_commit_duration_seconds_count", m)
        finally:
            node.cleanup()

    def test_admin_listener_serves_metrics_and_api_listener_does_not(self):
        node = h.Node(BASE, listeners=("admin",)).start()
        try:
            admin = node.ports["admin"]
            r = http_get(admin, "/metrics")
            self.assertEqual(r.status, 200)
            self.assertIn(b"strop_build_info", r.body)
            self.assertEqual(http_get(node.port, "/metrics").status, 404)
            self.assertEqual(http_get(admin, "/readyz").status, 200)
            self.assertEqual(http_get(admin, "/healthz").status, 200)
            self.assertEqual(http_get(admin, "/v1/state").status, 404)
            # The admin API (signed by an admin reporter) moved to the admin listener.
            sig = "/admin/sig/" + h.body_sig()
            self.assertEqual(http_get(admin, sig).status, 401)
            self.assertEqual(http_get(node.port, sig).status, 404)
            self.assertEqual(http_get(node.port, "/v1/state").status, 200)
            self.assertEqual(node.stop(), 0)
        finally:
            node.cleanup()

    def test_sd_notify(self):
        tmp = tempfile.mkdtemp(prefix="strop-notify-")
        path = os.path.join(tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(60)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        node = h.Node(BASE, env=env)

        def expect(state):
            while True:
                msg = sock.recv(4096).decode()
                if state in msg.split("\n"):
                    return msg

        try:
            node.start()
            self.assertIn("READY=1", expect("READY=1"))
            node.proc.send_signal(signal.SIGHUP)
            self.assertRegex(expect("RELOADING=1"), r"MONOTONIC_USEC=\d+")
            expect("READY=1")
            self.assertTrue(node.alive())
            node.proc.send_signal(signal.SIGTERM)
            expect("STOPPING=1")
            self.assertEqual(node.proc.wait(timeout=60), 0)
        finally:
            node.cleanup()
            sock.close()
            os.unlink(path)
            os.rmdir(tmp)


if __name__ == "__main__":
    unittest.main(argv=h.parse_args())
