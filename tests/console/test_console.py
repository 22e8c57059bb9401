#!/usr/bin/env python3
"""The operator web console (docs/console.md) in headless Chromium through Selenium, against a
real strop-node (tests/node/node_harness.py) with its admin listener on loopback port 0, the
accounts made with `strop-node console-user add` and a spam message reported with the real
`strop` CLI beforehand.

Checks: every page loads with no browser console error; the overview's figures equal /metrics;
uploading the reported spam shows "spam" with the matching engines; allow (and set-trust, when
the node has it) change the node's state, verified through the CLI; an action without a
session, or without the CSRF token, is refused; the read-only role cannot act; in a fleet of
two on a real 3-server JetStream cluster, the Network page lists both members. Writes a
1280x800 screenshot of each page and the page weights and paint timings to --out (default:
console-screenshots beside this build's strop-node).

usage: test_console.py --node PATH/strop-node --strop PATH/strop [--out DIR] [unittest args]
"""
import glob
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node"))
import node_harness as h  # noqa: E402

STROP = ""
OUT = ""
CORPUS = "/work/shared/corpus/spam"
CONFIG = ("[rate_limit]\nip_per_second = 0\nreporter_per_second = 0\n"
          "[api]\nopen_registration = true\n")
PASSWORD = "correct horse battery staple"


def take_args():
    global STROP, OUT
    args = []
    it = iter(sys.argv)
    for a in it:
        if a == "--strop":
            STROP = next(it)
        elif a == "--out":
            OUT = next(it)
        else:
            args.append(a)
    sys.argv = args
    if not STROP or not os.path.exists(STROP):
        sys.exit("usage: %s --node PATH/strop-node --strop PATH/strop [--out DIR]" % sys.argv[0])


def metrics_values(text):
    """name{labels} -> value of a Prometheus exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def p99_from_metrics(m):
    """The p99 bound of strop_request_duration_seconds{op="check"}, as the console bounds it."""
    buckets = []
    for k, v in m.items():
        mt = re.match(r'strop_request_duration_seconds_bucket\{op="check",le="([^"]+)"\}', k)
        if mt:
            buckets.append((float(mt.group(1)), v))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return 0.0
    import math
    rank = math.ceil(0.99 * total)
    finite = [b for b, _ in buckets if b != float("inf")]
    for bound, cumulative in buckets:
        if cumulative >= rank:
            return bound if bound != float("inf") else finite[-1]
    return finite[-1]


class Admin:
    """Plain HTTP to the admin listener (cookies and headers by hand)."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=b"", headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def login(self, name):
        status, hdrs, data = self.request("POST", "/ui/api/login", {"name": name, "password": PASSWORD})
        assert status == 200, (status, data)
        cookie = hdrs["set-cookie"].split(";")[0]
        return cookie, json.loads(data)["csrf"]


@unittest.skipUnless(shutil.which("chromedriver") and shutil.which("chromium"),
                     "needs Debian chromium and chromium-driver")
class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from selenium import webdriver
        cls.node = h.Node(CONFIG, listeners=("admin",))
        cls.out = OUT or os.path.join(os.path.dirname(os.path.abspath(h.NODE)), "..",
                                      "test", "console-screenshots")
        os.makedirs(cls.out, exist_ok=True)
        pw = os.path.join(cls.node.tmp, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        cls.node.cli("console-user", "add", "ann", "--password-file", pw)
        cls.node.cli("console-user", "add", "ro", "--read-only", "--password-file", pw)
        # The node's store must exist before the CLI adds reporters: start, then add.
        cls.node.start()
        cls.admin = Admin(cls.node.ports["admin"])
        cls.env = dict(os.environ, HOME=cls.node.tmp)
        # A spam message from the corpus, reported by three fully trusted reporters.
        cls.spam = sorted(glob.glob(os.path.join(CORPUS, "*.eml")))[0]
        for i in range(3):
            ident = cls.node.add_reporter("trusted%d" % i, trust=1.0)
            path = os.path.join(cls.node.tmp, "id%d.json" % i)
            with open(path, "w") as f:
                json.dump(ident, f)
            os.chmod(path, 0o600)
            r = subprocess.run([STROP, "--node", cls.node.url, "--identity", path, "report",
                                "--no-progress", cls.spam], capture_output=True, text=True,
                               timeout=60, env=cls.env)
            assert r.returncode == 0, r.stderr
        # One reporter that registered itself (open registration): a new registration.
        r = subprocess.run([STROP, "--node", cls.node.url, "register", "--user", "newcomer"],
                           capture_output=True, text=True, timeout=60, env=cls.env)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([STROP, "--node", cls.node.url, "check", "--json", cls.spam],
                           capture_output=True, text=True, timeout=60, env=cls.env)
        cls.cli_verdict = json.loads(r.stdout)
        assert cls.cli_verdict["spam"], r.stdout
        o = webdriver.ChromeOptions()
        cls.profile = tempfile.mkdtemp(prefix="strop-console-chromium-")
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,800", "--user-data-dir=" + cls.profile):
            o.add_argument(a)
        o.binary_location = shutil.which("chromium")
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        from selenium.webdriver.chrome.service import Service
        service = Service(executable_path=shutil.which("chromedriver"))
        cls.driver = webdriver.Chrome(options=o, service=service)
        cls.driver.set_window_size(1280, 800)
        cls.driver.set_page_load_timeout(30)
        cls.base = "http://127.0.0.1:%d/ui/" % cls.node.ports["admin"]
        cls.perf = {}

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            shutil.rmtree(cls.profile, ignore_errors=True)
            with open(os.path.join(cls.out, "perf.json"), "w") as f:
                json.dump(cls.perf, f, indent=1)
            cls.node.cleanup()

    # -- helpers

    def wait(self, cond, what, timeout=15):
        from selenium.webdriver.support.ui import WebDriverWait
        return WebDriverWait(self.driver, timeout).until(lambda d: cond(d), what)

    def by_id(self, i):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.ID, i)

    def console_errors(self):
        return [e for e in self.driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]

    def reporter(self, name):
        rows = json.loads(self.node.cli("reporter", "list", "--json").stdout)
        return next(r for r in rows if r["name"] == name)

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.out, name + ".png"))

    def login_browser(self, name):
        self.driver.delete_all_cookies()
        self.driver.get(self.base)
        self.wait(lambda d: self.by_id("view-login").is_displayed(), "login form")
        self.by_id("login-name").send_keys(name)
        self.by_id("login-password").send_keys(PASSWORD)
        self.by_id("login-submit").click()
        self.wait(lambda d: self.by_id("nav").is_displayed(), "logged in")

    def visit(self, view, ready_id):
        self.driver.get(self.base + "#" + view)
        self.driver.refresh()
        self.wait(lambda d: self.by_id("view-" + view).is_displayed(), view)
        self.wait(lambda d: self.by_id(ready_id).is_displayed(), view + " content")

    def record_perf(self, view):
        p = self.driver.execute_script("""
          const n = performance.getEntriesByType('navigation')[0];
          const paints = {};
          for (const e of performance.getEntriesByType('paint')) paints[e.name] = e.startTime;
          const res = performance.getEntriesByType('resource')
            .filter(r => !r.name.includes('/ui/api/'))
            .map(r => ({name: r.name, bytes: r.encodedBodySize}));
          return {doc_bytes: n.encodedBodySize, transfer: n.transferSize,
                  dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd,
                  first_paint_ms: paints['first-paint'] || null,
                  first_contentful_paint_ms: paints['first-contentful-paint'] || null,
                  assets: res};""")
        p["page_bytes"] = p["doc_bytes"] + sum(a["bytes"] for a in p["assets"])
        self.perf[view] = p

    # -- the cases (unittest runs them in name order)

    def test_1_login_page_and_overview_equal_metrics(self):
        self.driver.get(self.base)
        self.wait(lambda d: self.by_id("view-login").is_displayed(), "login form")
        self.record_perf("login")
        self.shot("login")
        self.login_browser("ann")
        self.wait(lambda d: self.by_id("fig-messages_checked").is_displayed(), "figures")
        # Cold cache, fresh navigation: the overview's weight and paint timings.
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        self.visit("overview", "fig-messages_checked")
        self.record_perf("overview")
        self.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
        # Nothing checks or reports now: /metrics and the page must agree.
        _, _, body = self.admin.request("GET", "/metrics")
        m = metrics_values(body.decode())
        self.driver.refresh()
        self.wait(lambda d: self.by_id("fig-messages_checked").is_displayed(), "figures")

        def shown(k):
            return float(self.by_id("fig-" + k).get_attribute("data-value"))
        self.assertEqual(shown("messages_checked"), m["strop_messages_checked_total"])
        self.assertEqual(shown("signatures_reported"), m["strop_signatures_reported_total"])
        self.assertEqual(shown("stored_signatures"), m["strop_stored_signatures"])
        self.assertEqual(shown("store_used_bytes"), m["strop_store_used_bytes"])
        self.assertEqual(shown("reporters"), m["strop_reporters"])
        self.assertAlmostEqual(shown("commit_seconds"), m["strop_writer_commit_latency_seconds"],
                               places=6)
        checked = m["strop_messages_checked_total"]
        rate = m["strop_messages_spam_total"] / checked if checked else 0
        self.assertAlmostEqual(shown("hit_rate"), rate, places=9)
        self.assertAlmostEqual(shown("p99_check_seconds"), p99_from_metrics(m), places=9)
        self.assertGreater(m["strop_signatures_reported_total"], 0)
        self.shot("overview")
        self.assertEqual(self.console_errors(), [])

    def test_2_check_page_shows_spam_with_engines(self):
        self.login_browser("ann")
        self.visit("check", "check-file")
        self.record_perf("check")
        self.by_id("check-file").send_keys(self.spam)
        self.by_id("check-submit").click()
        self.wait(lambda d: self.by_id("check-verdict").is_displayed(), "verdict")
        self.assertEqual(self.by_id("check-verdict").text, "spam")
        engines = {e.text for e in self.driver.find_elements("css selector", "#check-matches td.engine")}
        want = {m["engine"] for m in self.cli_verdict["matches"]}
        self.assertEqual(engines, want)
        shown = json.loads(self.by_id("check-json").text)
        cli = dict(self.cli_verdict)
        self.assertEqual(shown["matches"], cli["matches"])
        self.assertEqual((shown["verdict"], shown["confidence"]), (cli["verdict"], cli["confidence"]))
        self.shot("check")
        self.assertEqual(self.console_errors(), [])

    def test_3_signatures_page_allows_through_the_service(self):
        sig = next(m["id"] for m in self.cli_verdict["matches"] if m["engine"] == "body/1")
        self.login_browser("ann")
        self.visit("signatures", "sig-id")
        self.record_perf("signatures")
        self.wait(lambda d: "body/1:" in self.by_id("top-table").text or "fuzzy" in self.by_id("top-table").text,
                  "the top table lists the matched signatures")
        self.by_id("sig-id").send_keys(sig)
        self.by_id("sig-id").submit()
        self.wait(lambda d: self.by_id("sig-actions").is_displayed(), "signature shown")
        self.by_id("sig-allow").click()
        self.wait(lambda d: "done" in self.by_id("status").text, "allowed")
        p = self.node.cli("sig", "show", "--json", sig)
        self.assertTrue(json.loads(p.stdout.splitlines()[0])["allowed"], p.stdout)
        self.shot("signatures")
        self.by_id("sig-unallow").click()
        self.wait(lambda d: "unallow" in self.by_id("status").text, "unallowed")
        p = self.node.cli("sig", "show", "--json", sig)
        self.assertFalse(json.loads(p.stdout.splitlines()[0])["allowed"], p.stdout)
        self.assertEqual(self.console_errors(), [])

    def test_4_reporters_page(self):
        self.login_browser("ann")
        self.visit("reporters", "rep-table")
        self.record_perf("reporters")
        self.wait(lambda d: "trusted0" in self.by_id("rep-table").text, "reporters listed")
        # The self-registered reporter is listed as a new registration; the vouched ones not.
        regs = self.by_id("reg-table").text
        self.assertIn("newcomer", regs)
        self.assertNotIn("trusted0", regs)
        # Set trust, then disable, through the node's admin operations; verified by the CLI.
        self.by_id("trust-trusted1").clear()
        self.by_id("trust-trusted1").send_keys("0.25")
        row = "#rep-table tr[data-name='trusted1'] "
        self.driver.find_element("css selector", row + "button.set-trust").click()
        self.wait(lambda d: "reporter/trust trusted1: done" in self.by_id("status").text, "trust set")
        self.assertAlmostEqual(self.reporter("trusted1")["trust"], 0.25, places=6)
        self.wait(lambda d: d.find_elements("css selector", row + "button.toggle"), "table reloaded")
        self.driver.find_element("css selector", row + "button.toggle").click()
        self.wait(lambda d: "reporter/disable trusted1: done" in self.by_id("status").text, "disabled")
        self.assertTrue(self.reporter("trusted1")["disabled"])
        self.shot("reporters")
        self.assertEqual(self.console_errors(), [])

    def test_5_network_page_standalone(self):
        self.login_browser("ann")
        self.visit("network", "net-result")
        self.record_perf("network")
        self.wait(lambda d: "Standalone" in self.by_id("net-mode").text, "standalone")
        self.shot("network")
        self.assertEqual(self.console_errors(), [])

    def test_6_read_only_role_sees_but_cannot_act(self):
        self.login_browser("ro")
        self.visit("signatures", "sig-id")
        self.assertFalse(self.by_id("sig-allow").is_enabled())
        self.shot("signatures-read-only")
        self.assertEqual(self.console_errors(), [])
        cookie, csrf = self.admin.login("ro")
        sig = self.cli_verdict["matches"][0]["id"]
        status, _, _ = self.admin.request("POST", "/ui/api/sig/allow", {"id": sig},
                                          {"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(status, 403)
        status, _, _ = self.admin.request("POST", "/ui/api/reporter/trust",
                                          {"name": "trusted2", "trust": 0.1},
                                          {"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(status, 403)
        self.assertEqual(self.reporter("trusted2")["trust"], 1.0)
        status, _, _ = self.admin.request("GET", "/ui/api/overview", b"", {"Cookie": cookie})
        self.assertEqual(status, 200)

    def test_7_actions_need_session_and_csrf(self):
        sig = self.cli_verdict["matches"][0]["id"]
        cookie, csrf = self.admin.login("ann")
        status, _, _ = self.admin.request("POST", "/ui/api/sig/allow", {"id": sig})
        self.assertEqual(status, 401)
        status, _, _ = self.admin.request("POST", "/ui/api/sig/allow", {"id": sig}, {"Cookie": cookie})
        self.assertEqual(status, 403)
        status, _, _ = self.admin.request("POST", "/ui/api/sig/allow", {"id": sig},
                                          {"Cookie": cookie, "X-CSRF-Token": "0" * 64})
        self.assertEqual(status, 403)
        p = self.node.cli("sig", "show", "--json", sig)
        self.assertFalse(json.loads(p.stdout.splitlines()[0])["allowed"], "refused actions change nothing")
        status, _, _ = self.admin.request("GET", "/ui/api/overview")
        self.assertEqual(status, 401)
        status, _, _ = self.admin.request("POST", "/ui/api/login", {"name": "ann", "password": "wrong"})
        self.assertEqual(status, 401)
        # Never on the public API listener; security headers on every console response.
        c = self.node.client()
        self.assertEqual(c.request("GET", "/ui/").status, 404)
        c.close()
        status, hdrs, _ = self.admin.request("GET", "/ui/")
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["x-frame-options"], "DENY")
        self.assertIn("default-src 'self'", hdrs["content-security-policy"])
        self.assertEqual(hdrs["x-content-type-options"], "nosniff")
        self.assertEqual(hdrs["referrer-policy"], "no-referrer")
        status, _, _ = self.admin.request("GET", "/ui/", b"", {"If-None-Match": hdrs["etag"]})
        self.assertEqual(status, 304)

    def test_8_network_page_lists_fleet_members(self):
        # A fleet of two on a 3-server JetStream cluster (tests/fleet/fleet_harness.py): the Network page
        # at node A lists both members from their beats.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fleet"))
        import fleet_harness as fh
        if not os.path.exists(fh.NATS_SERVER):
            self.skipTest("nats-server is not installed")
        fleet = fh.Fleet(n=2, listeners=("admin",)).start()
        try:
            a = fleet.nodes[0]
            pw = os.path.join(fleet.tmp, "pw")
            with open(pw, "w") as f:
                f.write(PASSWORD + "\n")
            a.cli("console-user", "add", "ann", "--password-file", pw)
            self.base = "http://127.0.0.1:%d/ui/" % a.ports["admin"]
            self.login_browser("ann")
            self.visit("network", "net-result")
            self.wait(lambda d: d.find_elements("css selector", "#fleet-members tr[data-member='nodeb']"),
                      "both members listed", timeout=30)
            members = self.by_id("fleet-members").text
            self.assertIn("nodea (this node)", members)
            self.assertIn("nodeb", members)
            self.shot("network-fleet")
            self.assertEqual(self.console_errors(), [])
        finally:
            fleet.cleanup()


if __name__ == "__main__":
    take_args()
    sys.argv = h.parse_args()
    unittest.main(verbosity=2)
