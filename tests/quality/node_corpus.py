#!/usr/bin/env python3
"""The shared corpus through a real strop-node (a measurement, not a ctest test).

Starts a node (tests/node/node_harness.py) on a private data directory, registers one reporter
at trust 1.0, reports every message of CORPUS/spam with `POST /v1/report` (the signatures
`strop sig --json --engines native` computes), then checks every message of CORPUS/ham and
CORPUS/hard-ham with `POST /v1/check` and prints how many the node calls spam, how many
checks carry a weak fuzzy/1 match (7-9 of 32 positions, docs/reputation.md), and how many
reported spam come back as spam. Exit status 1 when any ham is flagged.

  node_corpus.py --node build/test/node/strop-node --strop build/test/agent/cli/strop \\
                 [--corpus ../shared/corpus]
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node"))
import node_harness as nh  # noqa: E402

ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")


def signatures(strop, directory):
    out = subprocess.run([strop, "sig", "--json", "--engines", "native", directory],
                         capture_output=True, text=True, env=ENV, check=True).stdout
    return [(os.path.basename(j["name"]), [s["id"] for s in j["signatures"]])
            for j in map(json.loads, out.splitlines())]


def check_all(client, messages):
    """Results of /v1/check for every message, in order, 100 per request."""
    results = []
    for i in range(0, len(messages), 100):
        batch = messages[i:i + 100]
        r = client.check([s for _, s in batch])
        if r.status != 200:
            sys.exit("check failed: %r" % r)
        results.extend(r.json()["results"])
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--node", required=True)
    ap.add_argument("--strop", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--corpus", default=os.path.join(here, "..", "..", "..", "shared", "corpus"))
    a = ap.parse_args()
    nh.NODE = a.node
    spam = signatures(a.strop, os.path.join(a.corpus, "spam"))
    ham = signatures(a.strop, os.path.join(a.corpus, "ham"))
    hard = signatures(a.strop, os.path.join(a.corpus, "hard-ham"))
    node = nh.Node()
    node.start()
    try:
        identity = node.add_reporter("trusted", trust=1.0)
        client = node.client()
        for i in range(0, len(spam), 50):
            r = client.report(identity, [s for _, s in spam[i:i + 50] if s])
            if r.status != 200:
                sys.exit("report failed: %r" % r)
        flagged = []
        weak = 0
        for name, messages in (("ham", ham), ("hard-ham", hard)):
            for (file, _), res in zip(messages, check_all(client, messages)):
                weak += any(m.get("engine") == "fuzzy/1" and m.get("similarity", 1) < 10 / 32
                            for m in res.get("matches", []))
                if res.get("verdict") == "spam":
                    flagged.append((name + "/" + file, res))
        back = sum(r.get("verdict") == "spam" for r in check_all(client, spam))
    finally:
        node.stop()
        node.cleanup()
    print("spam reported: %d; checked again, called spam: %d" % (len(spam), back))
    print("ham flagged: %d of %d (ham %d, hard ham %d); checks with a weak fuzzy/1 match: %d"
          % (len(flagged), len(ham) + len(hard), len(ham), len(hard), weak))
    for file, res in flagged:
        print("  FLAGGED", file, json.dumps(res)[:300])
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
