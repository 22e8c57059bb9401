#!/usr/bin/python3
"""legacy_diff.py: differential tests of the legacy models against the real implementations
on generated and mutated inputs (beyond what the corpus contains).

  legacy_diff.py LEGACY_DUMP MODE [--count N] [--seed S] [--corpus DIR]

MODE:
  codecs  bytes.decode(charset, errors) for every modelled codec vs this Python
  html    pyzor's HTML stripper (DataDigester.normalize_html_part) vs html.parser
  pyzor   whole messages (generated MIME + mutated corpus mails) vs pyzor's DataDigester
  razor   whole messages vs the razor-agents Perl modules (tests/legacy/razor_ref.pl,
          run under `unshare -n` when available)

Exits 1 and prints the first mismatches when any output differs. Deterministic for a seed.
Must run under /usr/bin/python3 (the interpreter pyzor is installed for).
"""
import argparse
import codecs as pycodecs
import email
import os
import random
import shutil
import subprocess
import sys
import tempfile

import pyzor.digest

HERE = os.path.dirname(os.path.abspath(__file__))

CODECS = [
    "ascii", "latin-1", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
    "utf-32-le", "utf-32-be", "cp1252", "iso-8859-2", "iso-8859-7", "koi8-r", "cp437",
    "cp037", "mac-roman", "cp864", "gb2312", "gbk", "gb18030", "big5", "cp950", "euc-kr",
    "ks_c_5601-1987", "shift_jis", "cp932", "euc-jp", "iso-2022-jp", "undefined",
    "no-such-codec", "base64", "x-unknown", "Windows_1252", " UTF8 ", "latin1.x",
]


def run(cmd, data):
    p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True)
    return p.stdout.decode("utf-8", "surrogateescape").splitlines()


def rand_bytes(rng, codec):
    """Mostly-valid text in `codec`, with corruption."""
    pool = "aZ09 \n<>&;é€中文日本語한국어ａ\u00a0\u2028\U0001f600ÿ"
    s = "".join(rng.choice(pool) for _ in range(rng.randint(0, 8)))
    try:
        b = s.encode(codec, "ignore")
    except (LookupError, UnicodeError, TypeError):
        b = s.encode("utf-8")
    b = bytearray(b)
    for _ in range(rng.randint(0, 3)):
        op = rng.random()
        if op < 0.4 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op < 0.7:
            b.insert(rng.randint(0, len(b)), rng.randrange(256))
        elif b:
            del b[rng.randrange(len(b))]
    if rng.random() < 0.2:
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    if codec.startswith("iso-2022") and rng.random() < 0.5:
        b = bytearray(rng.choice([b"\x1b$B", b"\x1b(J", b"\x1b(B", b"\x1b$@", b"\x1b(", b"\x1b$(D",
                                  b"\x1bx", b"\x1b&@\x1b$B"])) + b
    return bytes(b)


def py_decode(b, codec, errors):
    try:
        s = b.decode(codec, errors)
    except LookupError:
        return "LookupError"
    except UnicodeError:
        return "UnicodeError"
    except ValueError:
        return "ValueError"
    return "ok " + "".join("%x," % ord(c) for c in s)


def mode_codecs(args, rng):
    bad = 0
    total = 0
    for codec in CODECS:
        for errors in ("strict", "ignore", "replace"):
            samples = [rand_bytes(rng, codec) for _ in range(args.count)]
            if codec in ("gb2312", "big5", "euc-kr", "shift_jis", "euc-jp", "gb18030", "cp932"):
                samples += [bytes([a, b]) for a in range(0x80, 0x100, 7) for b in range(256)]
            if codec == "euc-jp":  # JIS X 0212 three-byte sequences
                samples += [bytes([0x8F, b, c]) for b in range(0x80, 0x100, 3) for c in range(0, 256, 5)]
            if codec == "euc-kr":  # KS X 1001:1998 make-up sequences
                samples += [bytes([0xA4, 0xD4, 0xA4, x, 0xA4, y, 0xA4, z]) for x in range(0xA0, 0xC0, 2)
                            for y in range(0xBE, 0xD5, 2) for z in range(0xA0, 0xD6, 3)]
                samples += [bytes([0xA4, 0xD4, 0xA4, 0xA1, 0xA3, 0xBF, 0xA4, 0xD4]), b"\xa4\xd4\xa4"]
            if codec == "gb18030":  # four-byte sequences around every range edge
                samples += [bytes([a, b, c, d]) for a in range(0x80, 0x100) for b in (0x30, 0x35, 0x39)
                            for c in (0x80, 0x81, 0xA0, 0xFE, 0xFF) for d in (0x2F, 0x30, 0x39, 0x3A)]
            ours = run([args.dump, "decode", codec, errors],
                       "".join(s.hex() + "\n" for s in samples).encode())
            for s, o in zip(samples, ours):
                total += 1
                ref = py_decode(s, codec, errors)
                if ref == "LookupError" and o == "LookupError":
                    continue
                if ref != o:
                    bad += 1
                    if bad <= 10:
                        print("MISMATCH %s/%s %s: python=%s ours=%s" % (codec, errors, s.hex(), ref, o))
    print("codecs: %d cases, %d mismatches" % (total, bad))
    return bad == 0


HTML_TOKENS = [
    "<", ">", "/", "!", "-", "--", "<!--", "-->", "--!>", "<script>", "</script>", "</SCRIPT >",
    "<script/>", "<style>", "</style>", "</ſcript>", "<br/>", "<p>", "</p>", "<a href=x>",
    "<a href='x>", '<a href="x">', "<a b=c d>", "<a ==x>", "<a = 'q>", "<img src=x/>",
    "<a/b>", "< a>", "<a", "</a", "</ a>", "</>", "<?php ?>", "<!doctype html>", "<!DOCTYPE",
    "<![CDATA[x]]>", "<![if !mso]>", "<![endif]>", "<![ foo", "<![bad[", "<!x>", "&", "&amp;",
    "&amp", "&lt", "&notin;", "&notit;", "&#65;", "&#x41;", "&#0;", "&#128;", "&#x110000;",
    "&#55296;", "&zz;", "&#;", "'", '"', "=", " ", "  ", "\n", "\t", "\r\n", "\x0b", "\x1c",
    "a", "text", "Hello world", "é", "\u00a0", "\u2028", "ſ", "İ", "K", "\u3000", "x" * 12,
    "http://x.y/z", "me@here.com",
]


def py_html(s):
    try:
        return pyzor.digest.DataDigester.normalize_html_part(s).encode("utf-8", "surrogatepass").hex()
    except Exception:
        return "CRASH"


def mode_html(args, rng):
    samples = []
    for _ in range(args.count):
        samples.append("".join(rng.choice(HTML_TOKENS) for _ in range(rng.randint(0, 25))))
    ours = run([args.dump, "html"], "".join(s.encode().hex() + "\n" for s in samples).encode())
    bad = 0
    for s, o in zip(samples, ours):
        ref = py_html(s)
        if ref != o:
            bad += 1
            if bad <= 10:
                print("MISMATCH %r: python=%s ours=%s" % (s, bytes.fromhex(ref) if ref != "CRASH" else ref,
                                                         bytes.fromhex(o) if o != "CRASH" else o))
    print("html: %d cases, %d mismatches" % (len(samples), bad))
    return bad == 0


# ---- whole messages ----------------------------------------------------------------------

WORDS = ("free money offer click here now unsubscribe viagra meeting tomorrow lunch report "
         "http://www.example.com/x?a=b mailto:me@example.org www.spam.biz <b>bold</b> "
         "&amp; &nbsp; =3D =\n caf\xe9 \u4e2d\u6587 " + "x" * 14).split(" ")


def para(rng, lines=None):
    out = []
    for _ in range(lines or rng.randint(1, 12)):
        out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 10))))
    return "\n".join(out) + "\n"


def enc_body(rng, text, cte, charset):
    import base64
    import quopri
    try:
        raw = text.encode(charset or "ascii", "replace")
    except LookupError:
        raw = text.encode("utf-8")
    if cte == "base64":
        b = base64.encodebytes(raw)
        if rng.random() < 0.2:
            b = b[: rng.randint(0, len(b))] + b"=junk=\n"
        return b
    if cte == "quoted-printable":
        b = quopri.encodestring(raw)
        if rng.random() < 0.2:
            b += b"=4\n=\r\nx=ZZ=\n"
        return b
    if cte == "x-uuencode":
        import binascii
        lines = [b"begin 644 f.txt\n"]
        for i in range(0, len(raw), 45):
            lines.append(binascii.b2a_uu(raw[i:i + 45]))
        lines.append(b"`\nend\n")
        return b"".join(lines)
    return raw


def leaf(rng, depth):
    ctype = rng.choice(["text/plain", "text/html", "text/plain", "application/octet-stream",
                        "image/gif", "text/enriched", "text", "TEXT/HTML", "text/plain; format=flowed"])
    charset = rng.choice([None, "us-ascii", "iso-8859-1", "utf-8", "windows-1252", "koi8-r",
                          "gb2312", "big5", "euc-kr", "iso-2022-jp", "shift_jis", "x-bogus",
                          "UTF8", "default", '"utf-8"'])
    cte = rng.choice([None, "7bit", "8bit", "base64", "quoted-printable", "x-uuencode",
                      "BASE64", "base64 ", "binary"])
    text = para(rng)
    if "html" in ctype.lower():
        text = "<html><body>" + text.replace("\n", "<br>\n") + rng.choice(
            ["", "<script>var x='<b>';</script>", "<style>p{}</style>", "<!-- c -->", "<p"]) + "</body></html>\n"
    h = "Content-Type: %s" % ctype
    if charset:
        h += rng.choice(["; charset=%s", ";\n\tcharset=%s", "; CHARSET=%s", "; charset*=%s''"]) % charset
    h += "\n"
    if cte:
        h += "Content-Transfer-Encoding: %s\n" % cte
    body = enc_body(rng, text, (cte or "").strip().lower(), (charset or "ascii").strip('"'))
    return h.encode("latin-1", "replace") + b"\n" + body


def entity(rng, depth=0):
    r = rng.random()
    if depth < 3 and r < 0.35:
        b = rng.choice(["b%d" % rng.randrange(100), '"quoted b"', "=_part_x", "a'b", ""])
        sub = rng.choice(["mixed", "alternative", "related", "digest"])
        h = 'Content-Type: multipart/%s; boundary=%s\n' % (sub, b if " " not in b else '"%s"' % b)
        if b.startswith('"'):
            h = 'Content-Type: multipart/%s; boundary=%s\n' % (sub, b)
        extra = rng.random()
        if extra < 0.1:  # parameters with quotes and ';', duplicates, RFC 2231 pieces
            h = h.rstrip("\n") + rng.choice(['; x="a;b"', '; boundary=other', ';; y=\\"z',
                                             '; boundary*0=ab; boundary*1=cd', '; q="unterminated']) + "\n"
        elif extra < 0.15:  # razor looks at the last boundary= on the line
            h = 'Content-Type: multipart/%s; foo=1 boundary=%s x boundary=\n' % (sub, b)
        delim = "--" + b.strip('"')
        parts = [h.encode(), b"\n", para(rng, 2).encode() if rng.random() < 0.5 else b""]
        for _ in range(rng.randint(0, 4)):
            parts.append(b"\n" + delim.encode() + rng.choice([b"\n", b"  \n", b"\r\n", b"\n\n"]))
            parts.append(entity(rng, depth + 1))
        if rng.random() < 0.8:
            parts.append(b"\n" + delim.encode() + b"--\n")
        if rng.random() < 0.3:
            parts.append(para(rng, 2).encode())
        return b"".join(parts)
    if depth < 3 and r < 0.42:
        return b"Content-Type: message/rfc822\n\n" + message(rng, depth + 1)
    if depth < 3 and r < 0.45:
        return (b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
                b"Action: failed\nStatus: 5.0.0\n\n")
    return leaf(rng, depth)


def message(rng, depth=0):
    hdr = b""
    if rng.random() < 0.5:
        hdr += b"From sender@example.com  Mon Jan  1 00:00:00 2024\n"
    hdr += b"From: a@b.c\nSubject: " + para(rng, 1).encode("utf-8") + b"To: x@y.z\n"
    if rng.random() < 0.1:
        hdr += b"X-Broken header line\n"
    body = entity(rng, depth)
    return hdr + body


def mutate(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randint(0, len(b))
        if op < 0.3 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op < 0.5:
            b[pos:pos] = rng.choice([b"\r", b"\n", b"\r\n", b"\n\n", b"--", b"=", b"<", b">", b"&#9;",
                                     b"Content-Type: text/html\n", b"\nFrom x\n", b"%41", b"&#300;",
                                     b"base64", b"boundary=", b"http://x.com/", b" www.y.org "])
        elif op < 0.7 and b:
            del b[pos:pos + rng.randint(1, 20)]
        else:
            k = rng.randint(0, max(0, len(b) - 1))
            b[pos:pos] = b[k:k + rng.randint(1, 40)]
    return bytes(b)


def gen_messages(args, rng):
    msgs = []
    corpus = []
    if args.corpus:
        for d in ("spam", "ham", "hard-ham"):
            p = os.path.join(args.corpus, d)
            if os.path.isdir(p):
                corpus += [os.path.join(p, f) for f in sorted(os.listdir(p))]
    for i in range(args.count):
        if corpus and i % 2 == 1:
            with open(rng.choice(corpus), "rb") as f:
                msgs.append(mutate(rng, f.read()))
        else:
            m = message(rng)
            if rng.random() < 0.3:
                m = mutate(rng, m)
            if rng.random() < 0.2:
                m = m.replace(b"\n", rng.choice([b"\r\n", b"\r"]))
            msgs.append(m)
    return msgs


def compare_files(tag, ref_lines, our_lines):
    def split(lines):
        out, cur = {}, None
        for l in lines:
            if l.startswith("== "):
                cur = l[3:]
                out[cur] = []
            else:
                out[cur].append(l)
        return out
    r, o = split(ref_lines), split(our_lines)
    bad = [k for k in r if r[k] != o.get(k)]
    for k in bad[:5]:
        print("MISMATCH %s %s\n  reference: %s\n  ours:      %s" % (tag, k, r[k][:6], o.get(k, [])[:6]))
    print("%s: %d messages, %d mismatches" % (tag, len(r), len(bad)))
    return not bad


def mode_messages(args, rng, which):
    msgs = gen_messages(args, rng)
    tmp = tempfile.mkdtemp(prefix="legacy_diff_")
    try:
        names = []
        for i, m in enumerate(msgs):
            n = os.path.join(tmp, "m%05d.eml" % i)
            with open(n, "wb") as f:
                f.write(m)
            names.append(n)
        listing = "".join(n + "\n" for n in names).encode()
        if which == "pyzor":
            ref = run([sys.executable, os.path.join(HERE, "pyzor_ref.py"), "-"], listing)
            ours = run([args.dump, "pyzor", "-"], listing)
        else:
            cmd = ["perl", os.path.join(HERE, "razor_ref.pl"), "-"]
            if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"]).returncode == 0:
                cmd = ["unshare", "-n"] + cmd
            env = dict(os.environ, LC_ALL="C")
            p = subprocess.run(cmd, input=listing, stdout=subprocess.PIPE, check=True, env=env)
            ref = p.stdout.decode("utf-8", "surrogateescape").splitlines()
            ours = run([args.dump, "razor", "-"], listing)
        ok = compare_files(which, ref, ours)
        if not ok and args.keep:
            print("inputs kept in", tmp)
            return False
        return ok
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("mode", choices=["codecs", "html", "pyzor", "razor"])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    if args.mode == "codecs":
        ok = mode_codecs(args, rng)
    elif args.mode == "html":
        ok = mode_html(args, rng)
    else:
        ok = mode_messages(args, rng, args.mode)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
