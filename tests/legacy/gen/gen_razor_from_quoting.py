#!/usr/bin/python3
"""gen_razor_from_quoting.py: `From `-quoting cases for razor-e4/e8, signed by the real client.

razor-agents reads a file in Agent.pm `parse_mbox`: when its first line starts with `From ` the
file is an mbox cut before every `^From ` line; otherwise every line matching `^>*From ` gets
one more `>` (`s/^(>*From )/>$1/`), which changes the text that e4 and e8 sign. These cases put
`From `, `>From `, `>>From `, `>>>From ` (and near misses) at the start of the body, after a
blank line, mid-paragraph, in quoted blocks, at the start of a MIME part and on the last line,
in plain, multipart and mbox files, with LF and CRLF line ends (and two with bare CR).

  gen_razor_from_quoting.py write [OUT.json]
      runs the real `razor-check -H` on every case and writes the vectors file (default
      sigs/testdata/razor_from_quoting.json); run it once when the cases change, commit both.
      Each case also records `e4_direct`/`e8_direct`: the same razor-agents modules called
      the way SpamAssassin's Razor2 plugin calls them, prepare_objects() on the text as given
      (no parse_mbox: no `>` added, no mbox cut); that is razor::sign_mail() on the file.
  gen_razor_from_quoting.py check LEGACY_DUMP STROP [VECTORS.json]
      the ctest case: runs `razor-check -H` (and prepare_objects()) again on the cases of the
      vectors file and checks that razor-agents still gives the recorded signatures and that
      Strop gives the same, through `legacy_dump razor` and `strop sig --engines
      razor-e4,razor-e8`. Exits 1 on any difference. Files that `strop sig` refuses as "not
      a mail message" (no header field on the first line, which razor-check does not require)
      are listed, not failed.

razor-check -H needs a server greeting and state line before it prints signatures: it is
pointed with -rs at a stub on 127.0.0.1 that sends only those (ep4 7542-10, razor-check's
default). Everything runs in a loopback-only network namespace (`unshare -n`) when the kernel
allows it; razor-check never does DNS discovery here.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DEFAULT_OUT = os.path.join(ROOT, "sigs", "testdata", "razor_from_quoting.json")
EP4 = "7542-10"

# ---- the cases -------------------------------------------------------------------------------

HEADERS = [
    "Return-Path: <list-bounces@lists.example.org>",
    "From: Alice Example <alice@example.org>",
    "To: discuss@lists.example.org",
    "Subject: Re: [discuss] the website",
    "Date: Mon, 1 Jan 2024 10:00:00 +0000",
    "Message-ID: <20240101100000.abc@example.org>",
    "List-Id: Discussion <discuss.lists.example.org>",
]
MBOX_LINE = "From discuss-bounces@lists.example.org Mon Jan  1 10:00:01 2024"

# A list post long enough for e4 to sample sections of it, and a short one (under 128 bytes of
# cleaned text, where e4 hashes the whole text, so any changed byte changes it).
LONG = [
    "Bob Builder wrote on the list yesterday about the new release notes:",
    "> I looked at the pages again and found the download links were broken for",
    "> the older versions, which several people asked about last week as well.",
    "",
    "Thanks for the pointer; the mirrors are fixed now and the checksums match.",
    "Please tell us on the list if anything else looks wrong after the update.",
    "The next release is planned for the end of the month, with the usual notes.",
    "",
    "Regards, Alice",
    "--",
    "discuss mailing list",
    "https://lists.example.org/mailman/listinfo/discuss",
]
SHORT = ["See below.", "", "Alice"]

# The quoted line: what follows the `>`s. `From the website:` is the observed case.
QUOTED = "From the website: http://www.example.com/releases is where the notes live"

VARIANTS = {
    "from": "",            # an mbox-style `From ` line in the body (gains a `>`)
    "gt1": ">",            # mboxrd-quoted once
    "gt2": ">>",           # the observed `>>From ` line
    "gt3": ">>>",
    "gt2sp": "> >",        # a space between the `>`s: not `^>*From `, left alone
    "spgt2": " >>",        # indented: not at the start of the line, left alone
}
NEAR_MISSES = {               # lines that are NOT `^>*From `, left alone by razor-agents
    "fromcolon": ">>From: the website",
    "fromtab": ">>From\tthe website",
    "lower": ">>from the website",
    "upper": ">>FROM the website",
    "fromonly": ">>From",
}


def body_lines(base, where, line):
    """`line` placed in the body `base` at `where`."""
    b = list(base)
    if where == "first":        # first line of the body
        return [line] + b
    if where == "afterblank":   # first line of a paragraph after a blank line
        i = b.index("") + 1
        return b[:i] + [line] + b[i:]
    if where == "midpara":      # inside a paragraph
        return b[:1] + [line] + b[1:]
    if where == "quoted":       # inside a quoted block (the observed list post)
        i = next((k for k, l in enumerate(b) if l.startswith("> ")), 0) + 1
        return b[:i] + [line] + b[i:]
    if where == "last":         # last line (the file ends without a line end)
        return b + [line]
    raise ValueError(where)


def message(headers, body, eol, final_eol=True):
    text = eol.join(headers) + eol + eol + eol.join(body)
    return text + (eol if final_eol else "")


def plain(body, eol, final_eol=True):
    return message(HEADERS + ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"],
                   body, eol, final_eol)


def multipart(first, second, eol, html=False):
    """multipart/mixed with two text parts, or multipart/alternative with `second` as html."""
    kind = "alternative" if html else "mixed"
    ctype = "text/html" if html else "text/plain"
    if html:
        second = ["<html><body><p>"] + second + ["</p></body></html>"]
    body = (["This is a multi-part message in MIME format.", "",
             "--=_b0undary", "Content-Type: text/plain; charset=us-ascii", ""] + first +
            ["", "--=_b0undary", "Content-Type: %s; charset=us-ascii" % ctype, ""] + second +
            ["", "--=_b0undary--", ""])
    return message(HEADERS + ["MIME-Version: 1.0",
                              'Content-Type: multipart/%s; boundary="=_b0undary"' % kind],
                   body, eol)


def cases():
    out = []

    def add(name, text):
        out.append((name, text))

    for eol_name, eol in (("lf", "\n"), ("crlf", "\r\n")):
        for vname, prefix in VARIANTS.items():
            line = prefix + QUOTED
            for where in ("first", "afterblank", "midpara", "quoted"):
                add("plain-long-%s-%s-%s" % (vname, where, eol_name),
                    plain(body_lines(LONG, where, line), eol))
            for where in ("first", "afterblank", "midpara"):
                add("plain-short-%s-%s-%s" % (vname, where, eol_name),
                    plain(body_lines(SHORT, where, line), eol))
            add("plain-short-%s-last-noeol-%s" % (vname, eol_name),
                plain(body_lines(SHORT, "last", line), eol, final_eol=False))
            # at the start of a MIME part (first and second part), text and html
            add("mixed-%s-part1-%s" % (vname, eol_name),
                multipart([line] + SHORT, LONG, eol))
            add("mixed-%s-part2-%s" % (vname, eol_name),
                multipart(SHORT, [line] + LONG, eol))
            add("alt-%s-html-%s" % (vname, eol_name),
                multipart(LONG, [line] + SHORT, eol, html=True))
            # the whole file is an mbox (first line `From `): no quoting, a body `From ` line
            # starts a new mail
            add("mbox-long-%s-afterblank-%s" % (vname, eol_name),
                MBOX_LINE + eol + plain(body_lines(LONG, "afterblank", line), eol))
            add("mbox-mixed-%s-part2-%s" % (vname, eol_name),
                MBOX_LINE + eol + multipart(SHORT, [line] + LONG, eol))
        # several quoting depths in one quoted block (the observed list post, fuller)
        block = ["> " + l for l in LONG[:3]] + [">>From the website:", ">> " + LONG[4],
                                                  ">>>From an older post:", ">From me:"]
        add("plain-quoted-block-%s" % eol_name, plain(block + LONG[3:], eol))
        add("mbox-two-mails-%s" % eol_name,
            MBOX_LINE + eol + plain(body_lines(LONG, "quoted", ">>" + QUOTED), eol) +
            MBOX_LINE + eol + plain(body_lines(SHORT, "first", ">From" + QUOTED[4:]), eol))
        # a file with no headers whose first line is a quoted `From ` line, or `From` text
        add("headless-gt1-%s" % eol_name, eol.join([">" + QUOTED] + LONG) + eol)
        add("headless-gt2-%s" % eol_name, eol.join([">>" + QUOTED] + LONG) + eol)
        for nname, line in NEAR_MISSES.items():
            add("plain-short-%s-first-%s" % (nname, eol_name),
                plain(body_lines(SHORT, "first", line), eol))
            add("plain-long-%s-quoted-%s" % (nname, eol_name),
                plain(body_lines(LONG, "quoted", line), eol))
        # the quoting works on the raw lines, before any transfer decoding: a quoted-printable
        # soft line break puts `>>From ` at a raw line start in the middle of a decoded line,
        # and an encoded `=3E=3EFrom ` is left alone
        qp_headers = HEADERS + ["MIME-Version: 1.0",
                                "Content-Type: text/plain; charset=us-ascii",
                                "Content-Transfer-Encoding: quoted-printable"]
        add("qp-softbreak-gt2-%s" % eol_name,
            message(qp_headers, [LONG[0] + " =", ">>" + QUOTED] + LONG[1:], eol))
        add("qp-softbreak-from-%s" % eol_name,
            message(qp_headers, [LONG[0] + " =", QUOTED] + LONG[1:], eol))
        add("qp-encoded-gt2-%s" % eol_name,
            message(qp_headers, ["=3E=3E" + QUOTED] + LONG, eol))
        # a forwarded message (message/rfc822 part) whose own mbox `From ` line and quoted
        # body lines come along
        fwd = ([MBOX_LINE] + HEADERS[1:] + ["", ">>" + QUOTED] + LONG[:6])
        add("rfc822-attached-%s" % eol_name,
            message(HEADERS + ["MIME-Version: 1.0",
                               'Content-Type: multipart/mixed; boundary="=_b0undary"'],
                    ["--=_b0undary", "Content-Type: text/plain; charset=us-ascii", ""] + SHORT +
                    ["", "--=_b0undary", "Content-Type: message/rfc822", ""] + fwd +
                    ["", "--=_b0undary--", ""], eol))
        # a list digest: several posts, each quoting others, `>>From ` and `>From ` lines
        digest = []
        for k in range(3):
            digest += ["Message: %d" % (k + 1), "Date: Mon, 1 Jan 2024 1%d:00:00 +0000" % k,
                       "From: poster%d@example.org" % k, "Subject: Re: the website", "",
                       ">" * (k + 1) + QUOTED, LONG[k], LONG[k + 4], "", "-" * 30, ""]
        add("digest-%s" % eol_name, plain(digest, eol))
        # the observed held-out shape: an mbox file (SpamAssassin corpus style, mbox line first,
        # body `>From`-escaped by the mbox writer) with `>>From the website:` in a quoted reply
        add("mbox-listpost-gt2-quoted-%s" % eol_name,
            MBOX_LINE + eol + plain(body_lines(LONG, "quoted", ">>" + QUOTED) +
                                    [">From me: the mirrors"], eol))
    # a line `0` (false in Perl) right before and after the quoted line
    add("plain-long-zero-lines-lf", plain(["0", ">>" + QUOTED, "0"] + LONG, "\n"))
    # bare CR line ends: one line for Perl's readline, only the file's first line can be quoted
    add("plain-short-gt2-first-cr", plain(body_lines(SHORT, "first", ">>" + QUOTED), "\r"))
    add("headless-gt2-cr", "\r".join([">>" + QUOTED] + SHORT + [">From x"]) + "\r")
    return out


# ---- running razor-check ---------------------------------------------------------------------

def in_netns():
    """Re-run this script in a loopback-only network namespace when possible."""
    if os.environ.get("STROP_LEGACY_NETNS") is not None:
        if os.environ["STROP_LEGACY_NETNS"] == "1":  # a fresh namespace has lo down
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return None
    ok = False
    try:
        ok = subprocess.run(["unshare", "-n", "true"], stderr=subprocess.DEVNULL).returncode == 0
    except FileNotFoundError:
        pass
    env = dict(os.environ, STROP_LEGACY_NETNS="1" if ok else "0")
    if not ok:
        print("note: unshare -n unavailable; razor-check is pointed at 127.0.0.1 only")
    return subprocess.run((["unshare", "-n"] if ok else []) + [sys.executable] + sys.argv,
                          env=env).returncode


def stub_server():
    """A Razor2 server that sends only the greeting and the state line (razor-check -H)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve(c):
        with c, c.makefile("rb") as f:
            c.sendall(b"sn=C&srl=1&a=l&a=cg&ep4=%s\r\n" % EP4.encode())
            for line in f:
                if line.startswith(b"a=g&pm=state"):
                    c.sendall(b"ac=50&bql=4&bqs=128&dre=4&ep4=%s&se=88&sn=C&srl=1\r\n"
                              % EP4.encode())
                elif line.startswith(b"a=q"):
                    break

    def loop():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1]


def razor_check_all(files, tmp):
    """{file: [e4/e8 lines]} from the real razor-check -H (4 at a time)."""
    port = stub_server()
    home = os.path.join(tmp, "rh")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=tmp, LC_ALL="C")
    res = {}

    def one(f):
        p = subprocess.run(["razor-check", "-home=" + home, "-rs=127.0.0.1:%d" % port, "-H", f],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        lines = [l for l in p.stdout.decode("latin-1").splitlines() if " e4: " in l or " e8: " in l]
        if p.returncode != 1:
            lines.append("RC %d %s" % (p.returncode, p.stderr.decode("latin-1")[-200:]))
        res[f] = lines

    pending = list(files)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                f = pending.pop(0)
            one(f)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return res


# SpamAssassin's Razor2 plugin (Mail::SpamAssassin::Plugin::Razor2::razor2_access) hands the
# whole message to prepare_objects() without parse_mbox(); the rest is razor-check's path.
DIRECT_DRIVER = r"""
use strict; no warnings;
use Razor2::Client::Agent;
binmode STDOUT;
while (my $file = <STDIN>) {
    chomp $file;
    print "== $file\n";
    open my $fh, "<", $file or die; binmode $fh; local $/; my $text = <$fh>; close $fh;
    my $agent = Razor2::Client::Agent->new('razor-check');
    $agent->{conf} = { report_headers => 1, debuglevel => 0 };
    $agent->{opt} = {};
    $agent->{s} = { engines => { 4 => 1, 8 => 1 }, conf => { ep4 => $ARGV[0] } };
    my $objects = $agent->prepare_objects([\$text]);
    my $sigs = $objects ? $agent->compute_sigs($objects) : undef;
    print map { "$_\n" } @{ $sigs || [] };
}
"""


def direct_all(files):
    """{file: [e4/e8 lines]} from prepare_objects() on the file as given (SpamAssassin's call)."""
    p = subprocess.run(["perl", "-e", DIRECT_DRIVER, EP4],
                       input="".join(f + "\n" for f in files).encode(), stdout=subprocess.PIPE,
                       check=True, env=dict(os.environ, LC_ALL="C"))
    res = {}
    cur = None
    for line in p.stdout.decode("latin-1").splitlines():
        if line.startswith("== "):
            cur = line[3:]
            res[cur] = []
        elif " e4: " in line or " e8: " in line:
            res[cur].append(line)
    return res


def razor_version():
    v = subprocess.run(["perl", "-MRazor2::Client::Version", "-e",
                        "print $Razor2::Client::Version::VERSION"],
                       stdout=subprocess.PIPE).stdout.decode()
    deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "razor"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    return ("razor-agents 2.85 (Debian razor %s; Razor2::Client::Version %s), razor-check -H, "
            "ep4 %s" % (deb or "?", v, EP4))


def write_cases(tmp, named):
    files = {}
    for name, text in named:
        f = os.path.join(tmp, name + ".eml")
        with open(f, "wb") as fh:
            fh.write(text.encode("latin-1"))
        files[name] = f
    return files


def signatures(lines):
    e4 = [l.split(" e4: ")[1].split(",")[0] for l in lines if " e4: " in l]
    e8 = [l.split(" e8: ")[1] for l in lines if " e8: " in l]
    return e4, e8


def cmd_write(out_path):
    named = cases()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_cases(tmp, named)
        ref = razor_check_all(files.values(), tmp)
        direct = direct_all(list(files.values()))
    vec = {"source": razor_version(),
           "generator": "tests/legacy/gen/gen_razor_from_quoting.py write",
           "rule": "parse_mbox: first line ^From  -> mbox cut at ^From ; "
                   "else s/^(>*From )/>$1/ on every line",
           "cases": []}
    for name, text in named:
        lines = ref[files[name]]
        if any(l.startswith("RC ") for l in lines):
            sys.exit("razor-check failed on %s: %s" % (name, lines))
        e4, e8 = signatures(lines)
        e4_direct, e8_direct = signatures(direct[files[name]])
        vec["cases"].append({"name": name, "message": text, "e4": e4, "e8": e8,
                             "e4_direct": e4_direct, "e8_direct": e8_direct})
    with open(out_path, "w") as fh:
        json.dump(vec, fh, indent=1, ensure_ascii=True)
        fh.write("\n")
    print("wrote %d cases (%d e4, %d e8; %d cases where prepare_objects() alone gives another e4) "
          "to %s" % (len(vec["cases"]), sum(len(c["e4"]) for c in vec["cases"]),
                     sum(len(c["e8"]) for c in vec["cases"]),
                     sum(1 for c in vec["cases"] if c["e4"] != c["e4_direct"]), out_path))


def blocks(text):
    """'== FILE' blocks -> {file: [lines]}."""
    res = {}
    cur = None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            res[cur] = []
        else:
            res[cur].append(line)
    return res


def strop_sig(strop, f):
    """(e4s, e8s) from `strop sig --engines razor-e4,razor-e8 --json`, or None when strop sig
    refuses the file or one of its mbox messages as "not a mail message" (its own input check,
    which razor-check does not make)."""
    p = subprocess.run([strop, "sig", "--engines", "razor-e4,razor-e8", "--json", f],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0 and b"not a mail message" in p.stderr:
        return None
    if p.returncode != 0:
        return ("exit %d: %s" % (p.returncode, p.stderr.decode("latin-1")[-200:]), [])
    e4, e8 = [], []
    for line in p.stdout.decode("latin-1").splitlines():
        for sig in json.loads(line)["signatures"]:
            (e4 if sig["engine"] == "razor-e4" else e8).append(sig["value"])
    return e4, e8


def cmd_check(dump, strop, vec_path):
    with open(vec_path) as fh:
        vec = json.load(fh)
    named = [(c["name"], c["message"]) for c in vec["cases"]]
    with tempfile.TemporaryDirectory() as tmp:
        files = write_cases(tmp, named)
        ref = razor_check_all(files.values(), tmp)
        direct = direct_all([files[n] for n, _ in named])
        listing = "".join(files[n] + "\n" for n, _ in named).encode()
        p = subprocess.run([dump, "razor", "-"], input=listing, stdout=subprocess.PIPE, check=True)
        ours = blocks(p.stdout.decode("latin-1"))
        cli = {n: strop_sig(strop, files[n]) for n, _ in named} if strop else {}
    bad = 0
    refused = []
    for c in vec["cases"]:
        f = files[c["name"]]
        recorded = (c["e4"], c["e8"])
        got = {"razor-check -H": signatures(ref[f]), "legacy_dump": signatures(ours.get(f, [])),
               "prepare_objects": signatures(direct[f])}
        want = {"razor-check -H": recorded, "legacy_dump": recorded,
                "prepare_objects": (c["e4_direct"], c["e8_direct"])}
        if strop:
            if cli[c["name"]] is None:
                refused.append(c["name"])
            else:
                got["strop sig"] = cli[c["name"]]
                want["strop sig"] = recorded
        wrong = [k for k in got if got[k] != want[k]]
        if wrong or any(l.startswith("RC ") for l in ref[f]):
            bad += 1
            print("DIFFERS %s: %s\n  recorded: %s\n  razor-check: %s\n  got: %s"
                  % (c["name"], wrong, recorded, ref[f], {k: got[k] for k in wrong}))
    e4 = sum(len(c["e4"]) for c in vec["cases"])
    print("razor from-quoting: %d cases (%d e4 signatures) through the real razor-check -H "
          "(network namespace: %s) and prepare_objects(); %d differ from the recorded vectors "
          "or from Strop (legacy_dump%s)"
          % (len(named), e4, os.environ.get("STROP_LEGACY_NETNS") == "1", bad,
             ", strop sig" if strop else ""))
    if refused:
        print("strop sig refuses %d cases as not a mail message (its input check; razor-check "
              "signs them): %s" % (len(refused), " ".join(refused)))
    return bad == 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    rc = in_netns()
    if rc is not None:
        sys.exit(rc)
    if sys.argv[1] == "write":
        cmd_write(sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT)
    else:
        if len(sys.argv) < 4:
            sys.exit(__doc__)
        ok = cmd_check(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else DEFAULT_OUT)
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
