"""The one strop-node harness of the integration suites (Python 3 stdlib only).

Node starts `strop-node serve --listen 127.0.0.1:0` (and any other listener on port 0) on a
private data directory and reads the ports from its "ready: listening on HOST:PORT" and
"<name> listener on HOST:PORT" log lines. Client is a small keep-alive client that signs
requests exactly as docs/protocol.md describes (HMAC-SHA256 over method, target, timestamp,
nonce and the SHA-256 of the body); pyzor_packet and udp_exchange speak Pyzor.
Used by tests/node/test_*.py, tests/legacy_listeners/legacy_e2e.py and tests/cli/cli_test.py
(the latter two import it from this directory).
"""
import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

NODE = os.environ.get("STROP_NODE", "")
READY_RE = re.compile(r"ready: listening on ([0-9.]+):(\d+)")
LISTENER_RE = re.compile(r"(\w+) listener on ([0-9.]+):(\d+)")


def parse_args():
    """Takes --node PATH from argv (ctest passes it); leaves the rest for unittest."""
    global NODE
    args = [sys.argv[0]]
    it = iter(sys.argv[1:])
    for a in it:
        if a == "--node":
            NODE = next(it)
        else:
            args.append(a)
    if not NODE or not os.path.exists(NODE):
        sys.exit("usage: %s --node PATH/strop-node [unittest args]" % sys.argv[0])
    return args


def random_hex(n):
    return secrets.token_hex(n // 2)


def body_sig():
    return "body/1:" + random_hex(32)


def url_sig():
    return "url/1:" + random_hex(32)


def fuzzy_sig():
    return "fuzzy/1:" + random_hex(256)


def sign(reporter, secret, method, target, body, ts=None, nonce=None):
    ts = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_hex(16)
    body_hash = hashlib.sha256(body).hexdigest()
    canonical = "\n".join(["STROP-HMAC-SHA256", method, target, ts, nonce, body_hash])
    mac = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return {"X-Strop-Reporter": reporter, "X-Strop-Timestamp": ts, "X-Strop-Nonce": nonce,
            "X-Strop-Signature": mac}


def pyzor_packet(op, digest, user, key, thread, when=None):
    """A signed Pyzor request as the pyzor client builds it (docs/protocol.md "Pyzor")."""
    when = int(time.time()) if when is None else when
    fields = [("Op", op), ("Op-Digest", digest)]
    if op in ("report", "whitelist"):
        fields.append(("Op-Spec", "20,3,60,3"))
    fields += [("Thread", str(thread)), ("PV", "2.1"), ("User", user), ("Time", str(when))]
    text = "\n".join("%s: %s" % kv for kv in fields)
    hashed = hashlib.sha1(("%s:%s" % (user, key.lower())).encode()).hexdigest()
    inner = hashlib.sha1(text.encode()).digest()
    sig = hashlib.sha1(inner + (":%d:%s" % (when, hashed)).encode()).hexdigest()
    return (text + "\nSig: %s\n\n" % sig).encode()


def udp_exchange(port, packet, timeout=5):
    """Sends one datagram to 127.0.0.1:port; returns the reply's fields ({} without a reply)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        try:
            data = s.recv(65536).decode("utf-8", "replace")
        except socket.timeout:
            return {}
    out = {}
    for line in data.split("\n"):
        if ": " in line:
            k, v = line.split(": ", 1)
            out.setdefault(k, v)
    return out


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def error_code(self):
        return self.json()["error"]["code"]

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:300])


class Client:
    """One keep-alive HTTP/1.1 connection to the node."""

    def __init__(self, port, host="127.0.0.1", timeout=30, tls_context=None):
        if tls_context is not None:
            self.conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=tls_context)
        else:
            self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, method, target, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self.conn.request(method, target, body=body if (body or method == "POST") else None, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        return Response(r.status, dict((k.lower(), v) for k, v in r.getheaders()), data)

    def post(self, target, obj_or_bytes, identity=None, **sign_kw):
        body = obj_or_bytes if isinstance(obj_or_bytes, (bytes, str)) else json.dumps(obj_or_bytes)
        if isinstance(body, str):
            body = body.encode()
        headers = {}
        if identity is not None:
            headers.update(sign(identity["reporter"], identity["secret"], "POST", target, body, **sign_kw))
        return self.request("POST", target, body, headers)

    def get(self, target):
        return self.request("GET", target)

    def check(self, sig_lists):
        return self.post("/v1/check", {"v": 1, "messages": [{"id": str(i), "sigs": s} for i, s in enumerate(sig_lists)]})

    def report(self, identity, sig_lists, revoke=False):
        target = "/v1/revoke" if revoke else "/v1/report"
        return self.post(target, {"v": 1, "messages": [{"id": str(i), "sigs": s} for i, s in enumerate(sig_lists)]},
                         identity)

    def close(self):
        self.conn.close()


class Node:
    """A strop-node process on a private data directory, listening on loopback port 0.

    Every integration suite starts its nodes through this class (tests/node/test_*.py,
    tests/legacy_listeners/legacy_e2e.py, tests/cli/cli_test.py).
      config_text  the node.toml passed with --config; None passes no --config at all
      data_dir     the LMDB directory (default: "data" in the node's own directory)
      extra_args   more `serve` flags
      binary       the strop-node to run (default: --node from parse_args, or $STROP_NODE)
      parent_dir   where the node's own temporary directory is made (default: the system's)
      workdir      use this directory (created if missing) instead of a temporary one
      listeners    more listeners on port 0: any of "razor", "pyzor", "udp"; start() waits
                   for their "<name> listener on HOST:PORT" lines
      env          the environment of the node and of cli() (default: inherited)
    After start(): port (HTTP), url, ports (every "<name> listener on" port of this start),
    razor_port / pyzor_port / udp_port (None when not listening), log_lines (every stderr
    line of every start, newline included).
    """

    def __init__(self, config_text="", data_dir=None, extra_args=None, binary=None,
                 parent_dir=None, workdir=None, listeners=(), env=None):
        self.binary = binary or NODE
        if workdir:
            os.makedirs(workdir, exist_ok=True)
            self.tmp = workdir
        else:
            self.tmp = tempfile.mkdtemp(prefix="strop-node-test-", dir=parent_dir)
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.config_path = None
        if config_text is not None:
            self.config_path = os.path.join(self.tmp, "node.toml")
            with open(self.config_path, "w") as f:
                f.write(config_text)
        self.extra_args = list(extra_args or [])
        for name in listeners:
            self.extra_args += ["--%s-listen" % name, "127.0.0.1:0"]
        self.listeners = tuple(listeners)
        # The API listener's address; a test that restarts a node others know by its URL sets
        # it to "127.0.0.1:%d" % node.port before the restart.
        self.listen = "127.0.0.1:0"
        self.env = env
        self.proc = None
        self.port = None
        self.ports = {}
        self.log_lines = []
        self._lines = queue.Queue()

    def command(self, *args):
        """The argv of an admin command on this node's data directory (and config)."""
        cmd = [self.binary] + [str(a) for a in args] + ["--data", self.data_dir]
        if self.config_path:
            cmd += ["--config", self.config_path]
        return cmd

    def cli(self, *args, check=True, input_text=None):
        """Runs an admin command on this node's data directory."""
        cmd = self.command(*args)
        p = subprocess.run(cmd, capture_output=True, text=True, input=input_text, timeout=120,
                           env=self.env)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s %s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
        return p

    def add_reporter(self, name, trust=None, admin=False):
        args = ["reporter", "add", name]
        if trust is not None:
            args += ["--trust", str(trust)]
        if admin:
            args.append("--admin")
        out = self.cli(*args).stdout
        return json.loads(out)

    def start(self, timeout=60):
        cmd = [self.binary, "serve", "--data", self.data_dir]
        if self.config_path:
            cmd += ["--config", self.config_path]
        cmd += ["--listen", self.listen] + self.extra_args
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self._lines = queue.Queue()
        self.port = None
        self.ports = {}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     encoding="utf-8", errors="replace", env=self.env)
        threading.Thread(target=self._pump, args=(self.proc, self._lines), daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if line is None:
                break
            m = LISTENER_RE.search(line)
            if m:
                self.ports[m.group(1)] = int(m.group(3))
            m = READY_RE.search(line)
            if m:
                self.port = int(m.group(2))
            if self.port is not None and all(n in self.ports for n in self.listeners):
                return self
        self.kill()
        raise AssertionError("node did not become ready; log:\n" + "".join(self.log_lines))

    def _pump(self, proc, lines):
        try:
            for line in proc.stderr:
                self.log_lines.append(line)
                lines.put(line)
        except (OSError, ValueError):
            pass
        lines.put(None)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def razor_port(self):
        return self.ports.get("razor")

    @property
    def pyzor_port(self):
        return self.ports.get("pyzor")

    @property
    def udp_port(self):
        return self.ports.get("udp")

    def client(self, **kw):
        return Client(self.port, **kw)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def healthz(self):
        """GET /healthz on a fresh connection: True on a 200 within 5 seconds."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(100).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def terminate(self, timeout=60):
        """SIGTERM and wait; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout=60):
        """SIGTERM, SIGKILL after `timeout` seconds; returns the exit code (also when the
        process had already ended)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def cleanup(self):
        self.kill()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self):
        return "".join(self.log_lines)
