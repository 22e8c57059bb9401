#!/usr/bin/env python3
"""strop-node's commands: serve with zero config / --print-config / config errors, reporter
add|list|set-trust|disable, stats, backup, expire; the identity file format."""
import json
import os
import stat
import subprocess
import unittest

import node_harness as h


def run(*args, **kw):
    return subprocess.run([h.NODE] + list(args), capture_output=True, text=True, timeout=120, **kw)


class CommandsTest(unittest.TestCase):
    def setUp(self):
        self.node = h.Node("[rate_limit]\nip_per_second = 0\nreporter_per_second = 0\n")

    def tearDown(self):
        self.node.cleanup()

    def test_zero_config_creates_nested_data_dir(self):
        data = os.path.join(self.node.tmp, "a", "b", "data")
        bare = h.Node(None, data_dir=data, parent_dir=self.node.tmp)  # no --config
        try:
            bare.start()
            self.assertTrue(os.path.isdir(data))
            self.assertEqual(stat.S_IMODE(os.stat(data).st_mode), 0o700)
        finally:
            self.assertEqual(bare.terminate(), 0)
            bare.cleanup()

    def test_print_config(self):
        p = run("serve", "--print-config", "--data", "/x/y", "--listen", "127.0.0.1:9")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('data_dir = "/x/y"', p.stdout)
        self.assertIn('listen = "127.0.0.1:9"', p.stdout)
        for section in ["[node]", "[tls]", "[api]", "[rate_limit]", "[storage]"]:
            self.assertIn(section, p.stdout)
        # The printed configuration is a valid configuration file.
        cfg = os.path.join(self.node.tmp, "printed.toml")
        with open(cfg, "w") as f:
            f.write(p.stdout)
        again = run("serve", "--print-config", "--config", cfg)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(again.stdout, p.stdout)

    def test_config_errors(self):
        bad = os.path.join(self.node.tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write("[api]\nmax_mesages = 3\n")
        p = run("serve", "--config", bad, "--print-config")
        self.assertEqual(p.returncode, 78)  # EX_CONFIG
        self.assertIn("max_mesages", p.stderr)
        p = run("serve", "--config", os.path.join(self.node.tmp, "missing.toml"))
        self.assertEqual(p.returncode, 66)  # EX_NOINPUT
        p = run("serve", "--listen", "nonsense", "--print-config")
        self.assertEqual(p.returncode, 78)

    def test_usage_errors(self):
        self.assertEqual(run().returncode, 64)
        self.assertEqual(run("bogus").returncode, 64)
        self.assertEqual(run("reporter", "add").returncode, 64)
        self.assertEqual(run("--help").returncode, 0)

    def test_reporter_lifecycle_and_identity_file(self):
        out = os.path.join(self.node.tmp, "alice.json")
        p = self.node.cli("reporter", "add", "alice", "--trust", "0.7", "--out", out)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out) as f:
            ident = json.load(f)
        self.assertEqual(ident["v"], 1)
        self.assertEqual(ident["reporter"], "alice")
        self.assertTrue(ident["node"].startswith("http://127.0.0.1:"))
        self.assertEqual(len(ident["secret"]), 43)
        self.node.cli("reporter", "add", "bob")
        dup = self.node.cli("reporter", "add", "bob", check=False)
        self.assertEqual(dup.returncode, 65)  # EX_DATAERR
        bad = self.node.cli("reporter", "add", "-bad", check=False)
        self.assertNotEqual(bad.returncode, 0)

        lst = json.loads(self.node.cli("reporter", "list", "--json").stdout)
        by = {r["name"]: r for r in lst}
        self.assertAlmostEqual(by["alice"]["trust"], 0.7, places=3)
        self.assertTrue(by["alice"]["pinned"])
        self.assertFalse(by["bob"]["pinned"])
        text = self.node.cli("reporter", "list").stdout
        self.assertIn("alice", text)
        self.assertIn("NAME", text)

        self.node.cli("reporter", "set-trust", "bob", "1.0")
        self.node.cli("reporter", "disable", "alice")
        by = {r["name"]: r for r in json.loads(self.node.cli("reporter", "list", "--json").stdout)}
        self.assertAlmostEqual(by["bob"]["trust"], 1.0, places=3)
        self.assertTrue(by["alice"]["disabled"])
        self.assertEqual(self.node.cli("reporter", "set-trust", "nobody", "0.5", check=False).returncode, 65)
        self.assertEqual(self.node.cli("reporter", "set-trust", "bob", "7", check=False).returncode, 64)
        self.assertEqual(self.node.cli("reporter", "disable", "nobody", check=False).returncode, 65)

        # The identity file works against the running node; the disabled reporter is refused.
        self.node.start()
        c = self.node.client()
        self.assertEqual(c.report(ident, [[h.body_sig()]]).status, 403)
        self.node.cli("reporter", "disable", "alice", "--enable")
        self.assertEqual(c.report(ident, [[h.body_sig()]]).status, 200)
        c.close()

    def test_stats_backup_expire_while_serving(self):
        ident = self.node.add_reporter("loader", trust=1.0)
        self.node.start()
        c = self.node.client()
        sigs = [[h.body_sig(), h.url_sig()] for _ in range(100)]
        self.assertEqual(c.report(ident, sigs).status, 200)
        c.close()

        st = json.loads(self.node.cli("stats", "--json").stdout)
        self.assertEqual(st["signatures"], 200)
        self.assertEqual(st["signatures_by_engine"]["body/1"], 100)
        self.assertEqual(st["reporters"], 1)
        self.assertIn("signatures", self.node.cli("stats").stdout)

        dest = os.path.join(self.node.tmp, "backup")
        self.node.cli("backup", dest)
        self.assertTrue(os.path.exists(os.path.join(dest, "data.mdb")))
        again = self.node.cli("backup", dest, check=False)
        self.assertNotEqual(again.returncode, 0)  # never overwrites a store

        ex = self.node.cli("expire")
        self.assertIn("expired 0 signatures", ex.stdout)  # everything is fresh
        self.assertEqual(self.node.terminate(), 0)

        # The backup is a working store.
        restored = h.Node(data_dir=dest)
        try:
            restored.start()
            rc = restored.client()
            res = rc.check([sigs[0]]).json()["results"][0]
            self.assertEqual(res["verdict"], "spam")
            rc.close()
            self.assertEqual(restored.terminate(), 0)
        finally:
            restored.cleanup()

    def test_expire_deletes_old_signatures(self):
        self.node.cleanup()  # setUp's node: this test needs its own config
        self.node = h.Node("[storage]\nexpire_after_seconds = 1\n")
        ident = self.node.add_reporter("loader", trust=1.0)
        self.node.start()
        c = self.node.client()
        self.assertEqual(c.report(ident, [[h.body_sig()]]).status, 200)
        c.close()
        self.assertEqual(self.node.terminate(), 0)
        import time
        time.sleep(2.2)  # older than expire_after (the outcome does not depend on speed)
        ex = self.node.cli("expire")
        self.assertIn("expired 1 signatures", ex.stdout)


if __name__ == "__main__":
    unittest.main(argv=h.parse_args(), verbosity=2)
