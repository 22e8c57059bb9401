#!/usr/bin/env python3
"""Signature administration against a real node (node_harness.py) and the real `strop` CLI:
`strop-node sig show|delete|allow|unallow` while the node serves the same data directory, the
admin API under /admin/, Pyzor `info` with the stored times, admin commands that never create
a store they were only asked to read, and `strop report|check` refusing inputs that are not
mail.

usage: test_sigadmin.py --node PATH/strop-node --strop PATH/strop [unittest args]
"""
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.parse

import node_harness as h

STROP = ""

CONFIG = "[rate_limit]\nip_per_second = 0\nreporter_per_second = 0\n"


def take_strop_arg():
    """Removes --strop PATH from argv (ctest passes it)."""
    global STROP
    args = []
    it = iter(sys.argv)
    for a in it:
        if a == "--strop":
            STROP = next(it)
        else:
            args.append(a)
    sys.argv = args
    if not STROP or not os.path.exists(STROP):
        sys.exit("usage: %s --node PATH/strop-node --strop PATH/strop" % sys.argv[0])


def message_text(tag):
    """A plain mail message with enough text for every native engine."""
    lines = [
        "From: Offers <offers@example.org>",
        "To: someone@example.net",
        "Subject: Limited offer %s on replica watches" % tag,
        "Date: Thu, 03 Dec 2026 10:00:00 +0000",
        "Message-ID: <%s@example.org>" % tag,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
    ]
    words = ("genuine replica watches shipped worldwide at a fraction of the price with free "
             "delivery and a money back guarantee order today while stocks last").split()
    for i in range(30):
        lines.append(" ".join(words[(i + k) % len(words)] for k in range(12)) + " %s %d." % (tag, i))
    lines.append("Visit http://offers.example.org/%s to order." % tag)
    return "\n".join(lines) + "\n"


class SigAdminTest(unittest.TestCase):
    def setUp(self):
        self.node = h.Node(CONFIG, listeners=("pyzor",))
        self.env = dict(os.environ, HOME=self.node.tmp)
        self.node.start()
        self.msg = os.path.join(self.node.tmp, "offer.eml")
        with open(self.msg, "w") as f:
            f.write(message_text(h.random_hex(16)))

    def tearDown(self):
        self.node.cleanup()

    # -- helpers

    def identity(self, name, trust=None, admin=False):
        ident = self.node.add_reporter(name, trust=trust, admin=admin)
        path = os.path.join(self.node.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(ident, f)
        os.chmod(path, 0o600)
        return ident, path

    def strop(self, *args):
        return subprocess.run([STROP, "--node", self.node.url] + list(args), capture_output=True,
                              text=True, timeout=120, env=self.env)

    def sig(self, *args):
        return self.node.cli("sig", *args, check=False)

    def show(self):
        p = self.sig("show", "--json", "--message", self.msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(line) for line in p.stdout.splitlines()]

    def check_rc(self):
        p = self.strop("check", self.msg)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return p.returncode

    # -- cases

    def test_allowlisted_message_stays_not_spam_after_ten_trusted_reports(self):
        # Allowed while the node serves, before anyone reported it.
        p = self.sig("allow", "--message", self.msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("allowed body/1:", p.stdout)
        for i in range(10):
            _, path = self.identity("trusted%d" % i, trust=1.0)
            r = self.strop("--identity", path, "report", "--no-progress", self.msg)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.check_rc(), 1, "an allowed message is not spam")
        views = {v["engine"]: v for v in self.show()}
        body = views["body/1"]
        self.assertTrue(body["stored"])
        self.assertTrue(body["allowed"])
        self.assertFalse(body["listed"])
        self.assertEqual(body["reports"], 10)
        self.assertEqual(len(body["reporters"]), 10)
        self.assertIsNotNone(body["first_seen"])
        self.assertTrue(all(v["allowed"] and not v["listed"] for v in views.values()))

        # Without the allowlist entry the same votes list it.
        p = self.sig("unallow", "--message", self.msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.check_rc(), 0, "ten trusted reports list it once unallowed")
        self.assertTrue({v["engine"]: v for v in self.show()}["body/1"]["listed"])

        # Delete removes the signatures entirely, while the node serves.
        p = self.sig("delete", "--message", self.msg)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("deleted body/1:", p.stdout)
        self.assertEqual(self.check_rc(), 1)
        self.assertTrue(all(not v["stored"] and not v["allowed"] for v in self.show()))
        r = self.strop("check", "--json", self.msg)
        self.assertEqual(json.loads(r.stdout)["matches"], [])

    def test_show_by_id_as_strop_sig_prints_it(self):
        _, path = self.identity("alice", trust=1.0)
        self.assertEqual(self.strop("--identity", path, "report", self.msg).returncode, 0)
        sigs = subprocess.run([STROP, "sig", self.msg], capture_output=True, text=True,
                              env=self.env).stdout.split()
        body = [s for s in sigs if s.startswith("body/1:")][0]
        p = self.sig("show", body)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("listed      yes", p.stdout)
        self.assertIn("alice", p.stdout)
        self.assertIn("first seen  20", p.stdout)
        bad = self.sig("show", "body/1:not-hex")
        self.assertEqual(bad.returncode, 65, bad.stderr)

    def test_admin_api(self):
        admin, _ = self.identity("root", trust=1.0, admin=True)
        alice, path = self.identity("alice", trust=1.0)
        self.assertEqual(self.strop("--identity", path, "report", self.msg).returncode, 0)
        body = [v for v in self.show() if v["engine"] == "body/1"][0]["id"]
        c = self.node.client()

        def call(method, target, who=admin):
            headers = h.sign(who["reporter"], who["secret"], method, target, b"")
            return c.request(method, target, b"", headers)

        target = "/admin/sig/" + body
        r = call("GET", target)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["listed"])
        self.assertEqual(r.json()["reporters"][0]["name"], "alice")
        self.assertEqual(call("POST", target + "/allow", alice).status, 403)
        self.assertEqual(c.request("GET", target).status, 401)
        r = call("POST", target + "/allow")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["changed"])
        # Only body/1 is allowed: a check of it alone is not spam (the message's other
        # signatures still list the message).
        verdict = c.check([[body]]).json()["results"][0]
        self.assertEqual(verdict["verdict"], "not_spam", verdict)
        r = call("GET", "/admin/sig/" + urllib.parse.quote(body, safe=""))
        self.assertTrue(r.json()["allowed"])
        r = call("DELETE", target)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["deleted"])
        self.assertFalse(call("GET", target).json()["stored"])
        c.close()

    def test_pyzor_info_has_the_stored_times(self):
        _, path = self.identity("alice", trust=1.0)
        digest = h.random_hex(40)
        c = self.node.client()
        with open(path) as f:
            ident = json.load(f)
        before = int(time.time())
        self.assertEqual(c.report(ident, [["pyzor:" + digest]]).status, 200)
        after = int(time.time())
        info = h.udp_exchange(self.node.pyzor_port, h.pyzor_packet("info", digest, "anonymous", "", 77))
        self.assertEqual(info.get("Code"), "200", info)
        self.assertTrue(before <= int(info["Entered"]) <= after, info)
        self.assertEqual(info["Updated"], info["Entered"])
        self.assertEqual(info["Count"], "1")
        self.assertEqual(info["WL-Entered"], "0")
        unknown = h.udp_exchange(self.node.pyzor_port,
                                 h.pyzor_packet("info", h.random_hex(40), "anonymous", "", 78))
        self.assertEqual(unknown["Entered"], "0")
        c.close()

    def test_read_only_admin_commands_create_nothing(self):
        missing = os.path.join(self.node.tmp, "nonexistent", "data")
        for args in (["stats"], ["reporter", "list"], ["sig", "show", "body/1:" + "0" * 32],
                     ["sig", "delete", "body/1:" + "0" * 32], ["backup", os.path.join(self.node.tmp, "b")],
                     ["expire"]):
            p = subprocess.run([h.NODE] + args + ["--data", missing], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, 66, "%s: %s" % (args, p.stderr))
            self.assertIn("no store in " + missing, p.stderr)
            self.assertFalse(os.path.exists(missing), args)
        empty = os.path.join(self.node.tmp, "empty")
        os.mkdir(empty)
        p = subprocess.run([h.NODE, "stats", "--data", empty], capture_output=True, text=True)
        self.assertEqual(p.returncode, 66, p.stderr)
        self.assertEqual(os.listdir(empty), [])
        p = subprocess.run([h.NODE, "stats", "--data", "/nonexistent"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 66, p.stderr)
        self.assertFalse(os.path.exists("/nonexistent"))

    def test_strop_refuses_files_that_are_not_mail(self):
        _, path = self.identity("alice", trust=1.0)
        for cmd in (["--identity", path, "report"], ["check"]):
            p = self.strop(*cmd, "/etc/passwd")
            self.assertEqual(p.returncode, 65, p.stderr)
            self.assertIn("/etc/passwd: not a mail message", p.stderr)
        p = self.sig("show", "--message", "/etc/passwd")
        self.assertEqual(p.returncode, 65, p.stderr)
        self.assertIn("/etc/passwd: not a mail message", p.stderr)
        # Real mail still passes.
        self.assertEqual(self.strop("--identity", path, "report", self.msg).returncode, 0)


if __name__ == "__main__":
    take_strop_arg()
    sys.argv = h.parse_args()
    unittest.main()
