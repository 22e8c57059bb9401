#!/usr/bin/env python3
"""Which engines may decide a verdict: the measurement behind storage::kDefaultVerdictEngines
(docs/reputation.md "Which engines decide").

Computes every engine's signatures over ../shared/corpus with `strop sig --json --engines all`
and prints, per exact engine: how many ham / hard-ham messages share a value with some spam
message (each such ham would be listed once that spam is reported), and ham-ham collision
pairs (how much legitimate mail one mistaken report of a ham message takes down). Then it
asserts the decision the node's default rests on:
 - razor-e4 lists no ham when all spam is reported, and adds no ham-ham pair that the native
   engines (body/1, fuzzy/1 at >= 13 of 32 positions, url/1, attach/1) do not already give;
 - pyzor and razor-e8 would list ham (so they never decide).

  verdict_engines.py --strop PATH/strop --corpus DIR
"""
import argparse
import collections
import itertools
import json
import os
import subprocess
import sys

NATIVE_EXACT = ["body/1", "url/1", "attach/1"]
FUZZY_MATCH = 13  # equal positions of 32 at which the node counts a fuzzy/1 match


def signatures(strop, directory):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run([strop, "sig", "--json", "--engines", "all", directory], capture_output=True,
                       text=True, env=env, timeout=900)
    if p.returncode not in (0, 65):
        sys.exit("strop sig %s failed (%d): %s" % (directory, p.returncode, p.stderr[-2000:]))
    out = []
    for line in p.stdout.splitlines():
        m = json.loads(line)
        by_engine = collections.defaultdict(set)
        for s in m["signatures"]:
            by_engine[s["engine"]].add(s["value"])
        out.append((os.path.basename(m["name"]), by_engine))
    return out


def index(msgs, engine):
    idx = collections.defaultdict(set)
    for i, (_, sigs) in enumerate(msgs):
        for v in sigs.get(engine, ()):
            idx[v].add(i)
    return idx


def pairs(msgs, engine):
    out = set()
    for ids in index(msgs, engine).values():
        out.update(itertools.combinations(sorted(ids), 2))
    return out


def fuzzy_pairs(msgs):
    vals = [(i, next(iter(s["fuzzy/1"]))) for i, (_, s) in enumerate(msgs) if s.get("fuzzy/1")]
    out = set()
    for (a, fa), (b, fb) in itertools.combinations(vals, 2):
        if sum(fa[k:k + 8] == fb[k:k + 8] for k in range(0, 256, 8)) >= FUZZY_MATCH:
            out.add((a, b))
    return out


def listed_by_spam(ham, spam, engine):
    spam_values = set(index(spam, engine))
    return {ham[i][0] for v, ids in index(ham, engine).items() if v in spam_values for i in ids}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strop", required=True)
    ap.add_argument("--corpus", required=True)
    args = ap.parse_args()
    spam = signatures(args.strop, os.path.join(args.corpus, "spam"))
    sets = {k: signatures(args.strop, os.path.join(args.corpus, k)) for k in ("ham", "hard-ham")}
    failures = []
    print("%-9s %-8s %8s %10s %14s" % ("engine", "set", "signed", "ham-ham", "ham listed"))
    listed = {}
    for engine in ["body/1", "url/1", "attach/1", "razor-e4", "razor-e8", "pyzor"]:
        for name, ham in sets.items():
            signed = sum(1 for _, s in ham if s.get(engine))
            hits = listed_by_spam(ham, spam, engine)
            listed[(engine, name)] = hits
            print("%-9s %-8s %8d %10d %14d" % (engine, name, signed, len(pairs(ham, engine)), len(hits)))
    for name, ham in sets.items():
        native = fuzzy_pairs(ham).union(*[pairs(ham, e) for e in NATIVE_EXACT])
        extra = pairs(ham, "razor-e4") - native
        print("%s: native engines give %d ham-ham pairs; razor-e4 adds %d" % (name, len(native), len(extra)))
        if extra:
            failures.append("razor-e4 adds %d ham-ham pairs in %s, e.g. %s" % (
                len(extra), name, [(ham[a][0], ham[b][0]) for a, b in sorted(extra)[:3]]))
        if listed[("razor-e4", name)]:
            failures.append("razor-e4 lists %s ham: %s" % (name, sorted(listed[("razor-e4", name)])[:5]))
    if not (listed[("pyzor", "ham")] and listed[("razor-e8", "ham")]):
        failures.append("pyzor / razor-e8 no longer list ham on this corpus: revisit the default")
    textless = [n for n, s in spam if not (set(s) & {"body/1", "fuzzy/1", "url/1", "attach/1"})]
    print("spam without a native signature: %d (%s)" % (len(textless), ", ".join(textless)))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
