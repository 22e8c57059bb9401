#!/usr/bin/python3
"""pyzor_ref.py: the reference side of the Pyzor cross-check.

For each file, computes exactly what `pyzor digest < FILE` prints, with the installed pyzor
package, in one Python process: the CLI's _get_input_msg() does
email.message_from_bytes(stdin bytes) and DataDigester(msg).value, and so does this script
(pyzor_cli_check.sh proves the equivalence on sample files with the real CLI).

usage: pyzor_ref.py [-v] FILE...   (or - to read file names from stdin)
Output per file: "== FILE", then the digest, or NONE when pyzor raises on the message.
-v prints the hashed lines (what `pyzor predigest` prints) instead of the digest.
Must run under /usr/bin/python3 (the interpreter the pyzor package is installed for).
"""
import email
import sys

import pyzor.digest

verbose = False
files = []
for a in sys.argv[1:]:
    if a == "-v":
        verbose = True
    elif a == "-":
        files.extend(l.rstrip("\n") for l in sys.stdin if l.strip())
    else:
        files.append(a)


class Capturing(pyzor.digest.DataDigester):
    """DataDigester that also records the lines it hashes (like PrintingDataDigester)."""
    __slots__ = ["hashed"]

    def handle_line(self, line):
        self.hashed.append(line.decode("utf8"))
        super().handle_line(line)

    def __init__(self, msg):
        self.hashed = []
        super().__init__(msg)


out = sys.stdout
for f in files:
    with open(f, "rb") as fh:
        data = fh.read()
    out.write("== %s\n" % f)
    try:
        msg = email.message_from_bytes(data)
        if verbose:
            d = Capturing(msg)
            for l in d.hashed:
                out.write(l + "\n")
        else:
            out.write(pyzor.digest.DataDigester(msg).value + "\n")
    except Exception:  # pyzor itself would die with a traceback
        out.write("NONE\n")
