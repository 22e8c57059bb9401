#!/usr/bin/env python3
"""Strop's ham-ham collision pairs from `strop sig --json`, side by side with rspamd's.

A measurement helper (never pass/fail). From the signatures `strop sig` prints it recomputes
the pairs false_positive_test counts ("collisions now": body/1 or attach/1 shared, fuzzy/1 at
>= 10 of 32 equal positions, or url/1 shared while one of the two has no fuzzy/1 --
sigs::compare's rule), then
 - with --rspamd-tsv (the --tsv of rspamd_fuzzy.sh): pairs both give, and each one alone;
 - with --fuzzy-only: the pairs joined by fuzzy/1 alone, each with a class. The class comes
   from headers and text (same author and different subjects: signature-dominated posts; a
   bug tracker's notices; one sender domain and different subjects: newsletter issues; same
   thread: a reply quoting the other, by the quote marks found) plus the few pairs judged by
   reading them (MANUAL below). Docs: docs/signatures.md
   "fuzzy/1 specificity".

  strop sig --json --engines native ../shared/corpus/ham > ham.jsonl
  tests/quality/peers/ham_pairs.py --set ham --corpus ../shared/corpus ham.jsonl \
      [--rspamd-tsv pairs.tsv] [--fuzzy-only]
"""
import argparse
import collections
import email
import email.policy
import itertools
import json
import os
import re

FUZZY_MATCH = 10  # sigs::kFuzzyMatchMin

# Pairs classified by reading them (file-name prefixes).
MANUAL = {
    ("00700", "00718"): "same: one article forwarded twice to the list",
    ("01351", "01366"): "same: one question re-sent from a second address",
    ("01448", "01449"): "same: a list reply the bug tracker echoes as a comment",
    ("01513", "01515"): "same: CVS commit notices of one change on two branches",
    ("01514", "01517"): "same: CVS commit notices of one change on two branches",
    ("01425", "01575"): "different: the same error output in independent reports",
    ("01351", "01362"): "different: the same error output in independent reports",
    ("01362", "01366"): "different: the same error output in independent reports",
    ("00749", "00750"): "different: short posts of one author, signature dominates",
    ("00545", "00546"): "different: reply quoting the other, '--]' marks",
    ("00062", "00063"): "different: reply quoting the other, marks lost on part of the quote",
}


def load_sigs(path):
    msgs = []
    for line in open(path):
        o = json.loads(line)
        exact = collections.defaultdict(set)
        fz = None
        for g in o["signatures"]:
            if g["engine"] == "fuzzy/1":
                fz = tuple(g["value"][i * 8:(i + 1) * 8] for i in range(32))
            else:
                exact[g["engine"]].add(g["value"])
        msgs.append((os.path.basename(o["name"]), fz, exact))
    return msgs


def strop_pairs(msgs):
    """{(name_a, name_b): (body, fuzzy_equal, attach, url_decides)} for colliding pairs."""
    fidx = collections.defaultdict(list)
    eidx = collections.defaultdict(list)
    for i, (_, fz, ex) in enumerate(msgs):
        if fz:
            for p, v in enumerate(fz):
                fidx[(p, v)].append(i)
        for e, vals in ex.items():
            for v in vals:
                eidx[(e, v)].append(i)
    equal = collections.Counter()
    for ids in fidx.values():
        for a, b in itertools.combinations(sorted(set(ids)), 2):
            equal[(a, b)] += 1
    shared = set()
    for ids in eidx.values():
        shared.update(itertools.combinations(sorted(set(ids)), 2))
    out = {}
    for a, b in set(equal) | shared:
        A, B = msgs[a], msgs[b]
        eq = equal.get((a, b), 0)
        body = bool(A[2]["body/1"] & B[2]["body/1"])
        attach = bool(A[2]["attach/1"] & B[2]["attach/1"])
        url = bool(A[2]["url/1"] & B[2]["url/1"]) and (A[1] is None or B[1] is None)
        if body or attach or eq >= FUZZY_MATCH or url:
            out[tuple(sorted((A[0], B[0])))] = (body, eq, attach, url)
    return out


def message_info(path):
    m = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
    text = ""
    for part in m.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            try:
                text = part.get_content()
            except Exception:  # broken charset or encoding: the raw bytes will do
                text = (part.get_payload(decode=True) or b"").decode("latin-1")
            break
    sender = re.sub(r".*<|>.*", "", str(m["From"] or "")).lower().strip()
    subject = re.sub(r"^((re|fw|fwd|aw)(\[\d+\])?:\s*|\[[^\]]+\]\s*)+", "",
                     str(m["Subject"] or ""), flags=re.I).strip().lower()
    return sender, subject, text


def quote_marks(text):
    if re.search(r"-----\s*original message\s*-----", text, re.I):
        return "Outlook '-----Original Message-----', unmarked"
    if re.search(r"^--\]", text, re.M):
        return "'--]' marks"
    if re.search(r"^\s*# ", text, re.M):
        return "'# ' marks"
    if re.search(r"^\s+[A-Za-z]{1,10}> ", text, re.M) or re.search(r"^[A-Z]> ", text, re.M):
        return "supercite 'Name>' indented"
    if re.search(r"^\|", text, re.M):
        return "'| ' marks"
    return "marks lost on part of the quote"


def classify(directory, a, b):
    key = (a[:5], b[:5])
    if key in MANUAL:
        return MANUAL[key]
    A = message_info(os.path.join(directory, a))
    B = message_info(os.path.join(directory, b))
    if A[0] == B[0] and A[0].startswith("bugzilla-daemon@"):
        return "different: bug-tracker notices (one template, different bugs)"
    if A[0] == B[0] and A[1] != B[1]:
        return "different: short posts of one author, signature dominates"
    if A[1] != B[1] and A[0].rpartition("@")[2] == B[0].rpartition("@")[2] != "":
        return "different: issues of one sender's newsletters (template text)"
    marks = quote_marks(A[2])
    if marks.startswith("marks lost"):
        marks = quote_marks(B[2])
    return "different: reply quoting the other, " + marks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sigs", help="output of strop sig --json for one set")
    ap.add_argument("--set", required=True, help="set name as in the rspamd tsv (ham, hard-ham)")
    ap.add_argument("--corpus", default="")
    ap.add_argument("--rspamd-tsv", default="")
    ap.add_argument("--fuzzy-only", action="store_true")
    args = ap.parse_args()

    msgs = load_sigs(args.sigs)
    pairs = strop_pairs(msgs)
    involved = set(x for p in pairs for x in p)
    print("%s: Strop collisions %d pairs, %d messages" % (args.set, len(pairs), len(involved)))
    if args.rspamd_tsv:
        rs = set()
        for line in open(args.rspamd_tsv).read().splitlines()[1:]:
            s, reported, checked = line.split("\t")[:3]
            if s == args.set:
                rs.add(tuple(sorted((reported, checked))))
        st = set(pairs)
        print("  rspamd %d pairs; both %d; rspamd only %d; Strop only %d" % (
            len(rs), len(rs & st), len(rs - st), len(st - rs)))
        why = collections.Counter()
        for p in st - rs:
            body, eq, attach, url = pairs[p]
            why["body/1" if body else "attach/1" if attach else
                "url/1 (no fuzzy/1)" if eq < FUZZY_MATCH else
                "fuzzy/1 10-16/32" if eq < 17 else "fuzzy/1 >= 17/32"] += 1
        print("  Strop only, by engine:", ", ".join("%s %d" % kv for kv in why.most_common()))
    if args.fuzzy_only:
        directory = os.path.join(args.corpus, args.set)
        only = sorted((p, v[1]) for p, v in pairs.items()
                      if v[1] >= FUZZY_MATCH and not (v[0] or v[2] or v[3]))
        # fuzzy/1 alone: the fuzzy match, and no body/1, attach/1 or url/1 value shared at all
        by_name = {m[0]: m for m in msgs}
        only = [(p, eq) for p, eq in only
                if not any(by_name[p[0]][2][e] & by_name[p[1]][2][e]
                           for e in ("body/1", "url/1", "attach/1"))]
        classes = collections.defaultdict(list)
        for (a, b), eq in only:
            cls = classify(directory, a, b)
            classes[cls].append((a, b))
            print("  %s %s %2d/32  %s" % (a[:5], b[:5], eq, cls))
        inv = set(x for p, _ in only for x in p)
        print("  fuzzy/1 alone: %d pairs, %d messages" % (len(only), len(inv)))
        for cls, ps in sorted(classes.items(), key=lambda kv: -len(kv[1])):
            print("  %4d pairs %4d messages  %s" % (len(ps), len(set(x for p in ps for x in p)), cls))


if __name__ == "__main__":
    main()
