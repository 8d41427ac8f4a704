#!/usr/bin/python3
"""SIP front hardening suite (issue 19): a full store, digest replay and
password guessing, held-call caps under a flood, RFC 4475 torture messages.

Starts the SIP harness on free 127.0.0.1 ports with throwaway stores (the
helpers of run_sip_tests.py) and checks what a peer receives. Exit status 0 =
all passed.
"""
import argparse
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_sip_tests as base  # noqa: E402
from run_sip_tests import Harness, Udp, check, header, request, status  # noqa: E402


def invite(port, lport, k, caller="+4930%06d", callid="hd%d"):
    return ("INVITE sip:+4930111111@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
            "From: <sip:%s@127.0.0.1>;tag=a\r\n"
            "To: <sip:+4930111111@127.0.0.1>\r\n"
            "Call-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n" %
            (port, lport, callid % k, caller % k, callid % k))


def stats(h):
    st, out = h.cmd("stats")
    m = re.findall(r"(\w+)=(\d+)", out[0] if out else "")
    return {k: int(v) for k, v in m}


def t_full_store(binary, work):
    """A store that can take no more calls: every call is still answered,
    each with its own id; the failures are logged and counted."""
    h = Harness(binary, work, "full", ["--map-max", str(1 << 20)])
    try:
        u = Udp(h.port)
        ids, unanswered, noid = [], 0, 0
        for k in range(2500):
            u.send(invite(h.port, u.lport, k))
            r = u.recv(timeout=5)
            if r is None:
                unanswered += 1
                continue
            x = re.search(r"X-Tsps-Call-Id: (\d+)", r)
            if x:
                ids.append(int(x.group(1)))
            else:
                noid += 1
        st = stats(h)
        check("full store: every call answered, each with its own call id",
              unanswered == 0 and noid == 0 and len(set(ids)) == len(ids) == 2500,
              (unanswered, noid, len(ids), len(set(ids))))
        check("full store: unrecorded calls counted and logged",
              st.get("history_failed", 0) > 0 and "answered unrecorded" in h.log(),
              st)
        u.close()
    finally:
        h.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True)
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--sipp", default=shutil.which("sipp") or "sipp")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tsps-siph-")
    tests = [("full_store", lambda: t_full_store(a.harness, work))]
    try:
        for name, t in tests:
            if a.only and a.only not in name:
                continue
            try:
                t()
            except Exception as e:  # a broken test fails, the rest still run
                check("exception in %s" % name, False, repr(e))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)
    failed = [r for r in base.RESULTS if not r[1]]
    print("%d passed, %d failed" % (len(base.RESULTS) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
