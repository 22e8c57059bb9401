#!/usr/bin/env python3
"""Ham-ham collisions of rspamd's fuzzy storage, measured against a running rspamd.

Started by rspamd_fuzzy.sh (which brings up a private redis + rspamd on loopback and passes the
addresses); not meant to be run alone. A measurement: it prints figures and never fails on them.

What "a collision" means, as in Strop's false_positive_test: message b of a set is reported
(`fuzzy_add`, flag 1) and message a != b of the same set is checked; the pair {a, b} collides
when reporting either one makes the other match (the FUZZY_DENIED symbol). Counted: colliding
pairs and the messages in them, per set (ham, hard-ham).

Why pairwise: rspamd's storage answers a check with ONE stored digest per hashed part, and an
exact digest match wins over shingles. With the whole set learned, every message matches its
own digest and hides every other message it resembles; the digest prefix in the symbol's
options (`flag:digest10:prob:type`) attributes a match, but only to that one best stored digest.
So the measurement is made the way the question is asked, one reported message at a time:

 1. Hashes of each message, as the real server computes and stores them: FLUSHDB; fuzzy_add
    the message alone through the controller (its reply lists the digests sent); wait until the
    storage has applied it; read the redis keys it wrote: `fuzzy<digest>` per hashed part and
    `fuzzy_<pos>_<shingle>` per shingle (32 per text part with >= 64 words).
 2. Candidates: pairs sharing a digest, or sharing at least CANDIDATE_MIN shingle keys
    (position, value). The storage (fuzzy_backend_redis.c, 3.4) looks up the 32 shingle keys of
    a checked part and answers a fuzzy match only when more than 16 of them point to one stored
    digest, so a pair with fewer than 17 shared keys can never match through shingles; the
    candidate threshold (8) is far below that, and the printed histogram shows the margin.
 3. Verification with the real server, for each message b that has candidates: FLUSHDB;
    fuzzy_add b; wait; /checkv2 every candidate a; a FUZZY_DENIED result is a collision
    (b reported, a checked). Both directions are verified.
Result types (the 4th field of the options): txt = a text part with shingles (>= 64 words);
bin = an exact hash without shingles (a text part under 64 words, hashed with the subject, or
an attachment); img = an image.
Limits: digests and shingles are rspamd's own (nothing is recomputed here); a pair that is not a
candidate is counted as not colliding (safe by the server's >16/32 rule above, and
--verify-sample checks a sample of non-candidate pairs anyway). The storage keeps one digest per
shingle key (last writer wins), which matters in a store holding many messages but not here,
where it holds one.

Cross-checks printed as well:
 - incremental: the set learned message by message in file order, each message checked
   before it is learned; a match attributed (digest prefix in the options) to an earlier
   message. This is what a live store sees; it finds at most one partner per hashed part.
 - --spam-recall: all spam learned, all spam checked again (exact copies; a sanity check:
   everything rspamd can hash must match).

  rspamd_fuzzy.py --corpus DIR --redis H:P --normal H:P --controller H:P [--sets ham,hard-ham]
                  [--limit N] [--spam-recall] [--no-incremental] [--tsv FILE]
"""
import argparse
import collections
import http.client
import json
import os
import random
import re
import socket
import sys
import time

CANDIDATE_MIN = 8  # shared shingle keys that make a pair a candidate (a match needs > 16)
SYMBOL = "FUZZY_DENIED"
FLAG = "1"


# ---- minimal redis client (RESP)
class Redis:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("redis: bad reply %r" % line)

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def scan(self, pattern):
        cursor = b"0"
        keys = []
        while True:
            cursor, batch = self.cmd("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            keys.extend(batch)
            if cursor == b"0":
                return keys


# ---- rspamd HTTP
def http_post(addr, path, body, headers=None, timeout=60):
    host, port = addr.rsplit(":", 1)
    for attempt in range(5):
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=timeout)
            c.request("POST", path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            c.close()
            return r.status, data
        except (ConnectionError, OSError):
            if attempt == 4:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def wait_ready(args):
    deadline = time.time() + 60
    while True:
        try:
            Redis(args.redis).cmd("PING")
            for addr in (args.normal, args.controller):
                host, port = addr.rsplit(":", 1)
                c = http.client.HTTPConnection(host, int(port), timeout=2)
                c.request("GET", "/ping")
                if c.getresponse().status != 200:
                    raise ConnectionError(addr)
            return
        except (ConnectionError, OSError):
            if time.time() > deadline:
                sys.exit("rspamd_fuzzy: rspamd/redis did not come up (see the log)")
            time.sleep(0.3)


class Rspamd:
    def __init__(self, args):
        self.args = args
        self.redis = Redis(args.redis)
        self.learns = 0
        self.checks = 0

    def flush(self):
        self.redis.cmd("FLUSHDB")

    def learn(self, raw):
        """fuzzy_add; returns the hex digests sent (empty: nothing rspamd would hash)."""
        self.learns += 1
        status, data = http_post(self.args.controller, "/fuzzyadd", raw,
                                 {"Flag": FLAG, "Weight": "1"})
        if status != 200:
            return []
        try:
            return list(json.loads(data).get("hashes", []))
        except ValueError:
            return []

    def wait_stored(self, digests, timeout=10.0):
        deadline = time.time() + timeout
        for d in digests:
            key = b"fuzzy" + bytes.fromhex(d)
            while not self.redis.cmd("EXISTS", key):
                if time.time() > deadline:
                    raise RuntimeError("fuzzy storage did not apply a learn in %.0f s" % timeout)
                time.sleep(0.01)

    def shingle_keys(self):
        out = set()
        for k in self.redis.scan("fuzzy_*"):
            m = re.fullmatch(rb"fuzzy_(\d+)_(\d+)", k)
            if m:
                out.add((int(m.group(1)), int(m.group(2))))
        return out

    def check(self, raw):
        """/checkv2; returns [(flag, digest10, prob, type)] of the fuzzy symbol."""
        self.checks += 1
        status, data = http_post(self.args.normal, "/checkv2", raw, {"Pass": "all"})
        if status != 200:
            raise RuntimeError("checkv2: HTTP %d %r" % (status, data[:200]))
        sym = json.loads(data).get("symbols", {}).get(SYMBOL)
        out = []
        for opt in (sym or {}).get("options", []) or []:
            parts = opt.split(":")
            if len(parts) == 4:
                out.append((parts[0], parts[1], float(parts[2]), parts[3]))
        if sym and not out:
            out.append(("?", "?", 0.0, "?"))
        return out


def load_set(directory, limit):
    names = sorted(n for n in os.listdir(directory) if os.path.isfile(os.path.join(directory, n)))
    if limit:
        names = names[:limit]
    msgs = []
    for n in names:
        with open(os.path.join(directory, n), "rb") as f:
            msgs.append((n, f.read()))
    return msgs


def measure_set(rs, label, msgs, args, tsv):
    t0 = time.time()
    n = len(msgs)
    digests = []   # per message: list of hex digests
    keys = []      # per message: set of (pos, shingle)
    for i, (name, raw) in enumerate(msgs):
        rs.flush()
        ds = rs.learn(raw)
        rs.wait_stored(ds)
        digests.append(ds)
        keys.append(rs.shingle_keys() if ds else set())
        if args.verbose and i % 250 == 0:
            print("  %s: hashed %d/%d" % (label, i, n), file=sys.stderr)
    hashed = sum(1 for d in digests if d)
    with_shingles = sum(1 for k in keys if k)

    # candidates
    by_digest = collections.defaultdict(set)
    by_key = collections.defaultdict(set)
    for i in range(n):
        for d in digests[i]:
            by_digest[d].add(i)
        for k in keys[i]:
            by_key[k].add(i)
    shared = collections.Counter()
    for ids in by_key.values():
        if len(ids) > 1:
            s = sorted(ids)
            for x in range(len(s)):
                for y in range(x + 1, len(s)):
                    shared[(s[x], s[y])] += 1
    same_digest = set()
    for ids in by_digest.values():
        s = sorted(ids)
        for x in range(len(s)):
            for y in range(x + 1, len(s)):
                same_digest.add((s[x], s[y]))
    hist = collections.Counter(min(c, 32) for c in shared.values())
    cands = set(p for p, c in shared.items() if c >= CANDIDATE_MIN) | same_digest

    # verification, one reported message at a time
    by_reported = collections.defaultdict(set)
    for a, b in cands:
        by_reported[a].add(b)
        by_reported[b].add(a)
    hits = {}  # (reported, checked) -> results
    for b in sorted(by_reported):
        rs.flush()
        ds = rs.learn(msgs[b][1])
        rs.wait_stored(ds)
        for a in sorted(by_reported[b]):
            res = rs.check(msgs[a][1])
            if res:
                hits[(b, a)] = res
    pairs = {}
    for (b, a), res in hits.items():
        key = (min(a, b), max(a, b))
        pairs.setdefault(key, []).append((b, a, res))
    involved = set()
    for a, b in pairs:
        involved.update((a, b))

    kinds = collections.Counter()
    for (a, b), dirs in pairs.items():
        types = set()
        exact = False
        for _, _, res in dirs:
            for flag, d10, prob, typ in res:
                types.add(typ)
                exact = exact or prob >= 1.0
        if "txt" in types:
            kind = ("text shingles, identical digest" if exact and (a, b) in same_digest
                    else "text shingles, similar")
        elif "bin" in types:
            kind = "exact hash, no shingles"  # text < 64 words (+ subject), or an attachment
        else:
            kind = "+".join(sorted(types))
        kinds[kind] += 1

    # a sample of non-candidate pairs, verified anyway
    sample_fp = 0
    sample_n = 0
    if args.verify_sample:
        rnd = random.Random(13)
        hashed_ids = [i for i in range(n) if digests[i]]
        tried = 0
        while sample_n < args.verify_sample and tried < args.verify_sample * 20 and len(hashed_ids) > 1:
            tried += 1
            b, a = rnd.sample(hashed_ids, 2)
            if (min(a, b), max(a, b)) in cands:
                continue
            rs.flush()
            ds = rs.learn(msgs[b][1])
            rs.wait_stored(ds)
            sample_n += 1
            if rs.check(msgs[a][1]):
                sample_fp += 1

    print("\n%s: %d messages, %d hashed by rspamd (%d with text shingles, %d exact hashes only), "
          "%d not hashed" % (label, n, hashed, with_shingles, hashed - with_shingles, n - hashed))
    print("  shared shingle keys per pair (pairs sharing >= 1; 32 means 32 or more, a message with"
          " two text parts has 64 keys):", ", ".join(
        "%d:%d" % (c, hist[c]) for c in sorted(hist)))
    print("  candidates: %d pairs (%d share a digest, %d share >= %d shingle keys), verified "
          "both ways with %d reported messages" % (len(cands), len(same_digest),
                                                    sum(1 for c in shared.values() if c >= CANDIDATE_MIN),
                                                    CANDIDATE_MIN, len(by_reported)))
    print("  COLLISIONS: %d pairs, %d messages" % (len(pairs), len(involved)))
    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print("    %-32s %5d pairs" % (k, v))
    one_way = sum(1 for dirs in pairs.values() if len(dirs) == 1)
    print("  pairs matching in one direction only: %d" % one_way)
    if shared:
        matched_counts = collections.Counter(min(shared.get(p, 0), 32) for p in pairs)
        print("  shared shingle keys of colliding pairs:", ", ".join(
            "%d:%d" % (c, matched_counts[c]) for c in sorted(matched_counts)))
    if args.verify_sample:
        print("  non-candidate sample: %d pairs verified, %d collide" % (sample_n, sample_fp))
    print("  (%.0f s)" % (time.time() - t0))
    if tsv:
        for (a, b), dirs in sorted(pairs.items()):
            for rep, chk, res in dirs:
                tsv.write("%s\t%s\t%s\t%d\t%s\n" % (
                    label, msgs[rep][0], msgs[chk][0], shared.get((a, b), 0),
                    " ".join("%s:%s:%.2f:%s" % r for r in res)))
    return digests


def incremental(rs, label, msgs, digests):
    """Learn in file order, checking each message before it is learned."""
    owner = collections.defaultdict(set)  # digest prefix (10 hex) -> message ids learned
    rs.flush()
    matched = 0
    pairs = set()
    unattributed = 0
    for i, (name, raw) in enumerate(msgs):
        res = rs.check(raw)
        if res:
            matched += 1
            for flag, d10, prob, typ in res:
                if owner.get(d10):
                    for j in owner[d10]:
                        pairs.add((min(i, j), max(i, j)))
                else:
                    unattributed += 1
        ds = rs.learn(raw)
        rs.wait_stored(ds)
        for d in ds:
            owner[d[:10]].add(i)
    involved = set()
    for a, b in pairs:
        involved.update((a, b))
    print("  incremental cross-check (%s): %d of %d messages match an earlier one; %d pairs "
          "attributed, %d messages; %d results unattributed" % (
              label, matched, len(msgs), len(pairs), len(involved), unattributed))


def spam_recall(rs, msgs):
    rs.flush()
    hashed = 0
    for name, raw in msgs:
        ds = rs.learn(raw)
        rs.wait_stored(ds)
        hashed += bool(ds)
    found = 0
    for name, raw in msgs:
        found += bool(rs.check(raw))
    print("\nspam self-recall: %d spam learned (%d hashed by rspamd), the same files checked: "
          "%d matched (%.1f %% of all, %.1f %% of those hashed)" % (
              len(msgs), hashed, found, 100.0 * found / max(1, len(msgs)),
              100.0 * found / max(1, hashed)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--redis", required=True)
    ap.add_argument("--normal", required=True)
    ap.add_argument("--controller", required=True)
    ap.add_argument("--log", default="")
    ap.add_argument("--sets", default="ham,hard-ham")
    ap.add_argument("--limit", type=int, default=0, help="first N messages of each set")
    ap.add_argument("--spam-recall", action="store_true")
    ap.add_argument("--no-incremental", action="store_true")
    ap.add_argument("--verify-sample", type=int, default=200,
                    help="non-candidate pairs verified anyway (0: none)")
    ap.add_argument("--tsv", default="", help="colliding pairs, one line per direction")
    ap.add_argument("--keep", action="store_true", help="(rspamd_fuzzy.sh: keep the temp dir)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    wait_ready(args)
    rs = Rspamd(args)
    print("rspamd fuzzy storage (redis backend), fuzzy_check rule as Debian ships it for "
          "rspamd.com, local and writable; corpus %s" % args.corpus)
    tsv = open(args.tsv, "w") if args.tsv else None
    if tsv:
        tsv.write("set\treported\tchecked\tshared_shingle_keys\tresults\n")
    t0 = time.time()
    for label in [s for s in args.sets.split(",") if s]:
        msgs = load_set(os.path.join(args.corpus, label), args.limit)
        digests = measure_set(rs, label, msgs, args, tsv)
        if not args.no_incremental:
            incremental(rs, label, msgs, digests)
    if args.spam_recall:
        spam_recall(rs, load_set(os.path.join(args.corpus, "spam"), args.limit))
    if tsv:
        tsv.close()
    print("\n%d learns, %d checks, %.0f s" % (rs.learns, rs.checks, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
