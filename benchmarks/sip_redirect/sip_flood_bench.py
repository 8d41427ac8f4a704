#!/usr/bin/python3
"""Held-call flood benchmark (issue 19, item 10): the SIP front under a flood
of INVITEs from unknown callers for a user who decides such calls by hand
("ask"), beside legitimate calls from a contact (answered 300 at once).

Runs the harness (tests/sip_harness) on a throwaway store, then two phases
of --seconds each, both with the legitimate sipp load (--legit-rate calls/s):
without the flood, and with sipp flooding at --flood-rate INVITEs/s. Prints
name=value lines: the front's CPU (utime+stime of its process, ms per
second of wall time), the legitimate calls that succeeded and failed, and
the held-call counters. CPU is measured from /proc, never asserted.

  sip_flood_bench.py --harness build/ci/tests/sip_harness
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sip_redirect_bench as rb  # noqa: E402

PROV = """user fran region=DE voicemail=sip:vm-fran@vm.tsps.test
number fran +4930700700
contact fran v VIP Vip +4930222222
rule fran VIP any ring
rule fran UNKNOWN any ask timeout=30 then voicemail
reg fran sip:fran-desk@127.0.0.1:5094 desk 1.0 86400
reg fran sip:fran-mob@127.0.0.1:5095 mobile 0.5 86400
"""


def sipp_run(sipp, scen, work, tag, port, keys, rate, secs):
    d = os.path.join(work, tag)
    os.makedirs(d)
    args = [sipp, "-sf", scen, "127.0.0.1:%d" % port, "-i", "127.0.0.1",
            "-p", str(rb.free_port()), "-m", str(int(rate * secs)), "-r", str(rate),
            "-l", str(max(1000, rate * 40)), "-nostdin", "-trace_screen",
            "-timeout", str(secs + 60), "-recv_timeout", "10000"]
    for k, v in keys.items():
        args += ["-key", k, v]
    return subprocess.Popen(args, cwd=d, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL), d


def calls(d):
    ok = failed = 0
    for f in os.listdir(d):
        if f.endswith("_screen.log"):
            text = open(os.path.join(d, f), errors="replace").read()
            m = re.search(r"Successful call\s*\|[^|]*\|\s*(\d+)", text)
            n = re.search(r"Failed call\s*\|[^|]*\|\s*(\d+)", text)
            ok += int(m.group(1)) if m else 0
            failed += int(n.group(1)) if n else 0
    return ok, failed


def stats(p):
    p.stdin.write("stats\n")
    p.stdin.flush()
    line = p.stdout.readline()
    if not line.startswith("err"):
        p.stdout.readline()  # ok
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def phase(a, work, scen, p, port, tag, flood):
    c0, t0 = rb.tree_cpu_ms(p.pid), time.time()
    procs = [sipp_run(a.sipp, os.path.join(scen, "invite_legit.xml"), work,
                      tag + "-legit", port,
                      {"called": "+4930700700", "caller": "+4930222222"},
                      a.legit_rate, a.seconds)]
    if flood:
        procs.append(sipp_run(a.sipp, os.path.join(scen, "invite_flood.xml"), work,
                              tag + "-flood", port, {"called": "+4930700700"},
                              a.flood_rate, a.seconds))
    for q, _ in procs:
        try:
            q.wait(timeout=a.seconds + 120)
        except subprocess.TimeoutExpired:
            q.kill()
            q.wait()
    cpu, wall = rb.tree_cpu_ms(p.pid) - c0, time.time() - t0
    ok, failed = calls(procs[0][1])
    print("%s_cpu_ms_per_s=%.1f" % (tag, cpu / wall))
    print("%s_legit_ok=%d" % (tag, ok))
    print("%s_legit_failed=%d" % (tag, failed))
    if flood:
        fok, ffail = calls(procs[1][1])
        print("%s_flood_invites=%d" % (tag, fok + ffail))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True)
    ap.add_argument("--sipp", default=shutil.which("sipp") or "sipp")
    ap.add_argument("--scenarios", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "sip",
        "scenarios"))
    ap.add_argument("--flood-rate", type=int, default=500)
    ap.add_argument("--legit-rate", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tsps-flood-")
    try:
        os.makedirs(os.path.join(work, "db"))
        script = os.path.join(work, "prov.txt")
        with open(script, "w") as f:
            f.write(PROV)
        port = rb.free_port()
        p = subprocess.Popen([a.harness, "--db", os.path.join(work, "db"), "--script",
                              script, "--port", str(port), "--quiet"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, bufsize=1)
        p.stdout.readline()  # ready
        print("flood_rate=%d" % a.flood_rate)
        print("legit_rate=%d" % a.legit_rate)
        print("seconds=%d" % a.seconds)
        phase(a, work, a.scenarios, p, port, "baseline", False)
        phase(a, work, a.scenarios, p, port, "flood", True)
        st = stats(p)
        print("held_now=%d" % st.get("held", 0))
        print("held_refused=%d" % st.get("held_refused", 0))
        p.stdin.write("quit\n")
        p.stdin.flush()
        p.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
