#!/usr/bin/env python3
"""Durability and shutdown of strop-node:
 - kill -9 in the middle of a report load, restart: every acknowledged report is there;
 - SIGTERM under load: stop accepting, finish in-flight requests, commit, exit 0, and every
   acknowledged report is there after a restart (the index loaded from the snapshot the stop
   saved);
 - kill -9 after a run that started from a snapshot: the stale snapshot is not used, the index
   is rebuilt and every acknowledged report is there."""
import http.client
import os
import signal
import threading
import time
import unittest

import node_harness as h

CONFIG = """
[rate_limit]
ip_per_second = 0
reporter_per_second = 0
"""

BATCH = 50          # messages per report request
WORKERS = 4         # concurrent reporting connections
TARGET_ACKS = 10000 # signatures acknowledged before the node is stopped


class Loader:
    """WORKERS threads reporting batches; records what the node acknowledged."""

    def __init__(self, node, identity):
        self.node = node
        self.identity = identity
        self.lock = threading.Lock()
        self.acked = []       # signatures in 200 responses
        self.errors = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(WORKERS)]

    def start(self):
        for t in self.threads:
            t.start()

    def run(self):
        c = None
        while not self.stop.is_set():
            try:
                if c is None:
                    c = self.node.client(timeout=30)
                batch = [[h.body_sig(), h.url_sig()] for _ in range(BATCH)]
                r = c.report(self.identity, batch)
                if r.status == 200:
                    res = r.json()["results"]
                    assert len(res) == BATCH and all(x["recorded"] == 2 for x in res), r
                    with self.lock:
                        for s in batch:
                            self.acked.extend(s)
                else:
                    with self.lock:
                        self.errors += 1
                if r.headers.get("connection", "").lower() == "close":
                    c.close()
                    c = None
            except (OSError, http.client.HTTPException):
                # The node died or closed the connection: that request is unacknowledged.
                if c is not None:
                    c.close()
                c = None
                if self.node.proc.poll() is not None:
                    return
                time.sleep(0.01)

    def wait_for(self, n, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.acked) >= n:
                    return
            time.sleep(0.01)
        raise AssertionError("only %d acknowledged signatures after %d s" % (len(self.acked), timeout))

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)


def assert_all_present(test, node, sigs):
    c = node.client(timeout=60)
    missing = []
    for i in range(0, len(sigs), 500):
        chunk = sigs[i:i + 500]
        r = c.check([[s] for s in chunk])
        test.assertEqual(r.status, 200, r)
        for s, res in zip(chunk, r.json()["results"]):
            if not any(m["id"] == s and m["reports"] >= 1 for m in res["matches"]):
                missing.append(s)
    c.close()
    test.assertEqual(missing, [], "%d of %d acknowledged signatures lost" % (len(missing), len(sigs)))


def log_since(node, mark, text, timeout=10):
    """True once `text` is in what the node logged after log line `mark` (the pump thread may
    still be reading the stderr of a process that just exited)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in "".join(node.log_lines[mark:]):
            return True
        time.sleep(0.05)
    return False


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.node = h.Node(CONFIG)
        self.identity = self.node.add_reporter("loader", trust=1.0)

    def tearDown(self):
        self.node.cleanup()

    def test_kill_9_mid_load_keeps_every_acknowledged_report(self):
        self.node.start()
        loader = Loader(self.node, self.identity)
        loader.start()
        loader.wait_for(TARGET_ACKS)
        os.kill(self.node.proc.pid, signal.SIGKILL)   # mid-load: requests are in flight
        self.node.proc.wait(timeout=30)
        loader.join()
        acked = list(loader.acked)
        self.assertGreaterEqual(len(acked), TARGET_ACKS)

        self.node.start()
        assert_all_present(self, self.node, acked)
        sc = self.node.client()
        stats = sc.get("/v1/state").json()
        sc.close()
        self.assertGreaterEqual(stats["signatures"], len(acked))
        self.assertEqual(self.node.terminate(), 0)

    def test_sigterm_under_load_exits_0_and_commits(self):
        self.node.start()
        idle = self.node.client()          # an idle keep-alive connection must not block exit
        self.assertEqual(idle.get("/healthz").status, 200)
        loader = Loader(self.node, self.identity)
        loader.start()
        loader.wait_for(TARGET_ACKS // 2)
        self.node.proc.send_signal(signal.SIGTERM)
        rc = self.node.proc.wait(timeout=60)
        loader.join()
        idle.close()
        self.assertEqual(rc, 0, self.node.log())
        log = self.node.log()
        self.assertIn("shutting down", log)
        self.assertIn("stopped", log)
        self.assertTrue(log_since(self.node, 0, "saved the index snapshot"), log)
        acked = list(loader.acked)

        mark = len(self.node.log_lines)
        self.node.start()
        # The index comes from the snapshot the clean stop saved, not from a rebuild.
        self.assertTrue(log_since(self.node, mark, "loaded the index snapshot"), self.node.log())
        assert_all_present(self, self.node, acked)
        self.assertEqual(self.node.terminate(), 0)

    def test_kill_9_after_a_snapshot_rebuilds_and_keeps_every_report(self):
        # A clean stop saves the index snapshot; the next run maps it, takes more reports and
        # dies: its commits make the snapshot stale, so the restart rebuilds the index from
        # LMDB and finds every acknowledged report, old and new.
        self.node.start()
        loader = Loader(self.node, self.identity)
        loader.start()
        loader.wait_for(TARGET_ACKS // 2)
        loader.join()
        first = list(loader.acked)
        self.assertEqual(self.node.terminate(), 0)
        mark = len(self.node.log_lines)
        self.node.start()
        self.assertTrue(log_since(self.node, mark, "loaded the index snapshot"), self.node.log())
        loader = Loader(self.node, self.identity)
        loader.start()
        loader.wait_for(TARGET_ACKS // 2)
        os.kill(self.node.proc.pid, signal.SIGKILL)
        self.node.proc.wait(timeout=30)
        loader.join()
        second = list(loader.acked)
        mark = len(self.node.log_lines)
        self.node.start()
        self.assertTrue(log_since(self.node, mark, "rebuilding the index from LMDB"),
                        self.node.log())
        assert_all_present(self, self.node, first + second)
        self.assertEqual(self.node.terminate(), 0)

    def test_sigterm_when_idle(self):
        self.node.start()
        c = self.node.client()
        self.assertEqual(c.get("/healthz").status, 200)
        self.assertEqual(self.node.terminate(), 0)
        c.close()


if __name__ == "__main__":
    unittest.main(argv=h.parse_args(), verbosity=2)
