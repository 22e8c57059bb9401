#!/usr/bin/python3
"""crosscheck.py: byte-for-byte cross-check of Strop's legacy signatures against the real
clients on every message of the corpus.

  crosscheck.py razor     LEGACY_DUMP CORPUS_DIR   razor-agents Perl modules (razor_ref.pl)
  crosscheck.py pyzor     LEGACY_DUMP CORPUS_DIR   pyzor's digest module, one process
  crosscheck.py pyzor-cli LEGACY_DUMP CORPUS_DIR   the real `pyzor digest` CLI on a sample,
                                                   against the batch driver and against us
  crosscheck.py razor-cli LEGACY_DUMP CORPUS_DIR   the real `razor-check -H` on a sample,
                                                   pointed with -rs at a stub server on
                                                   127.0.0.1 that only sends the greeting and
                                                   the state line (razor-check -H needs them)

The reference processes run inside a network namespace with only loopback (`unshare -n`)
when the kernel allows it; they never open a socket either way. Prints the figures and
exits 1 on the first differing file (100% equality is the only pass).
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def corpus_files(corpus):
    files = []
    for d in ("spam", "ham", "hard-ham"):
        p = os.path.join(corpus, d)
        files += sorted(os.path.join(p, f) for f in os.listdir(p))
    if not files:
        sys.exit("no corpus files under %s" % corpus)
    return files


def netns_prefix():
    try:
        if subprocess.run(["unshare", "-n", "true"], stderr=subprocess.DEVNULL).returncode == 0:
            return ["unshare", "-n"]
    except FileNotFoundError:
        pass
    print("note: unshare -n unavailable; the reference drivers open no sockets anyway")
    return []


def run(cmd, stdin_bytes, env=None):
    p = subprocess.run(cmd, input=stdin_bytes, stdout=subprocess.PIPE, env=env)
    if p.returncode != 0:
        sys.exit("command failed (%d): %s" % (p.returncode, " ".join(cmd)))
    return p.stdout


def blocks(out):
    """'== FILE' blocks -> {file: [lines]} (order kept)."""
    res = {}
    cur = None
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        if line.startswith("== "):
            cur = line[3:]
            res[cur] = []
        else:
            res[cur].append(line)
    return res


def compare(name, ref, ours, files):
    r, o = blocks(ref), blocks(ours)
    bad = [f for f in files if r.get(f) != o.get(f)]
    for f in bad[:10]:
        print("DIFFERS %s\n  reference: %s\n  strop:     %s" % (f, r.get(f), o.get(f)))
    return bad, r


def razor(dump, corpus):
    files = corpus_files(corpus)
    listing = "".join(f + "\n" for f in files).encode()
    env = dict(os.environ, LC_ALL="C")
    ref = run(netns_prefix() + ["perl", os.path.join(HERE, "razor_ref.pl"), "-v", "-"], listing, env)
    ours = run([dump, "razor", "-v", "-"], listing)
    bad, r = compare("razor", ref, ours, files)
    parts = sum(1 for v in r.values() for l in v if l.startswith("# "))
    e4 = sum(1 for v in r.values() for l in v if " e4: " in l)
    e8 = sum(1 for v in r.values() for l in v if " e8: " in l)
    died = sum(1 for v in r.values() if v == ["DIED"])
    print("razor: %d files, %d parts compared (signed text, cleaned, cleaned_vr8), "
          "%d e4 and %d e8 signatures, %d where Perl dies; %d differ"
          % (len(files), parts, e4, e8, died, len(bad)))
    return not bad


def pyzor(dump, corpus):
    files = corpus_files(corpus)
    listing = "".join(f + "\n" for f in files).encode()
    ref = run(netns_prefix() + ["/usr/bin/python3", os.path.join(HERE, "pyzor_ref.py"), "-"], listing)
    ours = run([dump, "pyzor", "-"], listing)
    bad, r = compare("pyzor", ref, ours, files)
    none = sum(1 for v in r.values() if v == ["NONE"])
    distinct = len(set(v[0] for v in r.values() if v))
    print("pyzor: %d files, %d digests (%d distinct, %d where pyzor raises); %d differ"
          % (len(files), len(files) - none, distinct, none, len(bad)))
    return not bad


def sample_files(files, sample, unusual=12):
    """A deterministic spread over the corpus plus messages with unusual charsets."""
    pick = files[:: max(1, len(files) // sample)]
    odd = []
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read().lower()
        if any(c in head for c in (b"charset=iso-2022-jp", b"charset=big5", b"charset=gb2312",
                                   b"charset=ks_c_5601", b"charset=koi8-r", b"charset=\"big5",
                                   b"charset=\"gb2312", b"charset=\"iso-2022-jp")):
            odd.append(f)
    pick += odd[:: max(1, len(odd) // unusual)]
    return sorted(set(pick))


def razor_cli(dump, corpus, sample=20):
    import socket
    import threading
    if os.environ.get("STROP_LEGACY_NETNS") is None:
        prefix = netns_prefix()
        env = dict(os.environ, STROP_LEGACY_NETNS="1" if prefix else "0")
        return subprocess.run(prefix + [sys.executable] + sys.argv, env=env).returncode == 0
    if os.environ["STROP_LEGACY_NETNS"] == "1":  # a fresh namespace has lo down
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]

    def serve(c):
        with c, c.makefile("rb") as f:
            c.sendall(b"sn=C&srl=1&a=l&a=cg&ep4=7542-10\r\n")
            for line in f:
                if line.startswith(b"a=g&pm=state"):
                    c.sendall(b"ac=50&bql=4&bqs=128&dre=4&ep4=7542-10&se=88&sn=C&srl=1\r\n")
                elif line.startswith(b"a=q"):
                    break

    def accept_loop():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    files = sample_files(corpus_files(corpus), sample)
    ours = blocks(run([dump, "razor", "-"], "".join(f + "\n" for f in files).encode()))
    bad = 0
    sigs = 0
    with tempfile.TemporaryDirectory() as home:
        for f in files:
            p = subprocess.run(["razor-check", "-home=" + home, "-rs=127.0.0.1:%d" % port, "-H", f],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ, LC_ALL="C"))
            cli = [l for l in p.stdout.decode("utf-8", "replace").splitlines()
                   if " e4: " in l or " e8: " in l]
            sigs += len(cli)
            if p.returncode != 1 or cli != ours[f]:
                bad += 1
                print("DIFFERS %s (rc %d): razor-check -H=%s strop=%s %s"
                      % (f, p.returncode, cli, ours[f], p.stderr.decode()[-300:]))
    print("razor-cli: %d files through the real `razor-check -H` (%d signatures, network "
          "namespace: %s); %d differ from Strop"
          % (len(files), sigs, os.environ["STROP_LEGACY_NETNS"] == "1", bad))
    return bad == 0


def pyzor_cli(dump, corpus, sample=20):
    files = corpus_files(corpus)
    pick = sample_files(files, sample)
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read().lower()
        if any(c in head for c in (b"iso-2022-jp", b"big5", b"gb2312", b"ks_c_5601", b"koi8-r")):
            pick.append(f)
    listing = "".join(f + "\n" for f in pick).encode()
    batch = blocks(run(["/usr/bin/python3", os.path.join(HERE, "pyzor_ref.py"), "-"], listing))
    ours = blocks(run([dump, "pyzor", "-"], listing))
    prefix = netns_prefix()
    bad = 0
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HOME=home)
        for f in pick:
            with open(f, "rb") as fh:
                p = subprocess.run(prefix + ["pyzor", "--homedir", home, "digest"], stdin=fh,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            cli = p.stdout.decode().split() or ["NONE"]
            if cli != batch[f] or cli != ours[f]:
                bad += 1
                print("DIFFERS %s: pyzor digest=%s batch=%s strop=%s" % (f, cli, batch[f], ours[f]))
    print("pyzor-cli: %d files through the real `pyzor digest`; %d differ from the batch "
          "driver or from Strop" % (len(pick), bad))
    return bad == 0


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    mode, dump, corpus = sys.argv[1:]
    ok = {"razor": razor, "pyzor": pyzor, "pyzor-cli": pyzor_cli,
          "razor-cli": razor_cli}[mode](dump, corpus)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
