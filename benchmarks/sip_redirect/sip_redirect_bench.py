#!/usr/bin/python3
"""SIP redirect benchmark: tspsd's SIP front against Kamailio, same sipp load.

Kamailio (installed with apt-get if missing: kamailio, kamailio-sqlite-modules)
runs as a stateless redirect server (fast allocator, 2 workers) that looks the
caller up in a 1M-entry htable (loaded from SQLite at start)
and answers 302 with the Contact found. tspsd (the SIP harness, or tspsd
itself) holds the same 1M callers as contacts of one user, and runs its whole
pipeline per call: called number -> user, caller -> contact and code, status,
calendar, rule, registered devices -> 302, plus a history write.

The same sipp scenario (INVITE -> 302 -> ACK, callers from a CSV of numbers of
the 1M set) is run against each at increasing rates, each step at most
--step-seconds (<= 10) long, until a step fails. All servers run at once and
the ladders are interleaved (at each rate one step per server, in an order
that rotates), so machine noise falls on each alike. The round-trip ratio is
printed at the top common rate and at every rate both held without failure
(median and range). Prints name=value lines.

  sip_redirect_bench.py --harness build/tests/sip_harness [--rates ...]
"""
import argparse
import os
import random
import re
import shutil
import signal
import statistics
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
N_CALLERS = 1000000
CONTACT = "sip:alice-desk@127.0.0.1:5091"

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="INVITE 302 ACK">
  <send retrans="500" start_rtd="1">
    <![CDATA[
      INVITE sip:+4930111111@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:+4930111111@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="302" rtd="1"/>
  <send>
    <![CDATA[
      ACK sip:+4930111111@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""

KAMAILIO_CFG = """#!KAMAILIO
debug=0
log_stderror=yes
memdbg=5
memlog=5
children={children}
listen=udp:127.0.0.1:{port}
auto_aliases=no
dns=no
rev_dns=no
disable_tcp=yes
loadpath "{moddir}"
loadmodule "db_sqlite.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "htable.so"
modparam("htable", "db_url", "sqlite:///{dbfile}")
modparam("htable", "htable", "callers=>size=20;dbtable=callers;")
request_route {{
    if ($rm == "ACK") {{ exit; }}
    if ($rm != "INVITE") {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    $var(c) = $sht(callers=>$fU);
    if ($var(c) == $null || $var(c) == 0) {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    $ru = $var(c);
    sl_send_reply("302", "Moved Temporarily");
    exit;
}}
"""


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def free_port():
    while True:
        p = random.randint(20000, 60000)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", p))
            s.close()
            return p
        except OSError:
            pass


def ensure_kamailio():
    if shutil.which("kamailio") and kamailio_moddir() and os.path.exists(
            os.path.join(kamailio_moddir(), "db_sqlite.so")):
        return True
    log("installing kamailio (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    rc = subprocess.call(["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y",
                          "--no-install-recommends", "kamailio",
                          "kamailio-sqlite-modules"], env=env,
                         stdout=subprocess.DEVNULL)
    return rc == 0 and shutil.which("kamailio") is not None


def kamailio_moddir():
    for d in ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules",
              "/usr/lib64/kamailio/modules"):
        if os.path.exists(os.path.join(d, "htable.so")):
            return d
    out = subprocess.run(["sh", "-c", "dpkg -L kamailio | grep /htable.so$"],
                         capture_output=True, text=True).stdout.strip()
    return os.path.dirname(out) if out else None


def callers():
    return ["+1555%07d" % i for i in range(N_CALLERS)]


def tree_cpu_ms(pid):
    """utime+stime of pid and all its descendants, in ms."""
    total = 0
    todo = [pid]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(x) for x in f.read().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total * 1000.0 / TICK


def wait_udp(port, timeout=120, proc=None):
    """Wait until something answers OPTIONS on the port (or proc exits)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    lp = s.getsockname()[1]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKw%d\r\n"
               "From: <sip:w@127.0.0.1>;tag=w\r\nTo: <sip:127.0.0.1>\r\nCall-ID: w%d\r\n"
               "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
               % (port, lp, time.time_ns(), time.time_ns()))
        s.sendto(msg.encode(), ("127.0.0.1", port))
        s.settimeout(0.5)
        try:
            s.recv(4096)
            s.close()
            return True
        except socket.timeout:
            pass
    s.close()
    return False


def start_kamailio(work, children):
    moddir = kamailio_moddir()
    if moddir is None:
        raise RuntimeError("kamailio htable module not found")
    d = os.path.join(work, "kamailio")
    os.makedirs(d)
    dbfile = os.path.join(d, "htable.sqlite")
    db = sqlite3.connect(dbfile)
    db.execute("create table callers (id integer primary key, key_name varchar(64) not null, "
               "key_type integer not null default 0, value_type integer not null default 0, "
               "key_value varchar(128) not null, expires integer not null default 0)")
    db.executemany("insert into callers(key_name, key_type, value_type, key_value, expires) "
                   "values (?, 0, 0, ?, 0)", ((c, CONTACT) for c in callers()))
    db.commit()
    db.close()
    port = free_port()
    cfg = os.path.join(d, "kamailio.cfg")
    with open(cfg, "w") as f:
        f.write(KAMAILIO_CFG.format(children=children, port=port, moddir=moddir, dbfile=dbfile))
    run = os.path.join(d, "run")
    os.makedirs(run)
    err = open(os.path.join(d, "kamailio.log"), "w")
    p = subprocess.Popen(["kamailio", "-f", cfg, "-DD", "-E", "-Y", run, "-w", d,
                          "-m", "1024", "-M", "512", "-x", "fm", "-X", "fm", "-a", "no"],
                         stdout=err, stderr=subprocess.STDOUT, cwd=d)
    t0 = time.time()
    if not wait_udp(port, timeout=600, proc=p):
        p.kill()
        raise RuntimeError("kamailio did not start; see " + err.name)
    log("kamailio up with %d htable entries in %.1f s" % (N_CALLERS, time.time() - t0))
    return p, port


def start_tspsd(work, harness, commit="burst"):
    d = os.path.join(work, "tspsd-" + commit)
    os.makedirs(os.path.join(d, "db"))
    script = os.path.join(d, "prov.txt")
    with open(script, "w") as f:
        f.write("user alice region=DE\nnumber alice +4930111111\n"
                "rule alice VIP any ring\nrule alice UNKNOWN any voicemail sip:vm@127.0.0.1\n"
                "reg alice %s desk 1.0 86400\nbulk alice %d VIP\n" % (CONTACT, N_CALLERS))
    port = free_port()
    err = open(os.path.join(d, "harness.log"), "w")
    t0 = time.time()
    p = subprocess.Popen([harness, "--db", os.path.join(d, "db"), "--script", script,
                          "--port", str(port), "--quiet", "--commit", commit],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
    if not wait_udp(port, timeout=600, proc=p):
        p.kill()
        raise RuntimeError("harness did not start; see " + err.name)
    log("tspsd SIP front up with %d contacts in %.1f s" % (N_CALLERS, time.time() - t0))
    return p, port


def probe(port, stop, rtts, n_callers):
    """RTT under load: one INVITE every 10 ms from a separate socket, timed
    with a monotonic clock (sipp's own response times are whole ms)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    lp = s.getsockname()[1]
    s.settimeout(1.0)
    i = 0
    while not stop.is_set():
        i += 1
        caller = "+1555%07d" % random.randrange(n_callers)
        cid = "probe-%d-%d" % (lp, i)
        br = "z9hG4bKp%d" % i
        inv = ("INVITE sip:+4930111111@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
               "From: <sip:%s@127.0.0.1:%d>;tag=p%d\r\n"
               "To: <sip:+4930111111@127.0.0.1:%d>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
               "Contact: <sip:%s@127.0.0.1:%d>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
               % (port, lp, br, caller, lp, i, port, cid, caller, lp))
        t0 = time.perf_counter()
        s.sendto(inv.encode(), ("127.0.0.1", port))
        try:
            while True:
                r = s.recv(65535).decode(errors="replace")
                code = r[8:11]
                if code >= "200":
                    rtts.append((time.perf_counter() - t0) * 1000.0)
                    to = re.search(r"(?im)^To:[^\r\n]*", r).group(0)
                    s.sendto(("ACK sip:+4930111111@127.0.0.1:%d SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
                              "From: <sip:%s@127.0.0.1:%d>;tag=p%d\r\n%s\r\nCall-ID: %s\r\n"
                              "CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                              % (port, lp, br, caller, lp, i, to, cid)).encode(),
                             ("127.0.0.1", port))
                    break
        except socket.timeout:
            rtts.append(1000.0)
        stop.wait(0.01)
    s.close()


def run_step(sipp, work, name, pid, port, rate, secs):
    d = tempfile.mkdtemp(prefix="%s-%d-" % (name, rate), dir=work)
    scen = os.path.join(work, "bench.xml")
    calls = int(rate * secs)
    cpu0 = tree_cpu_ms(pid)
    t0 = time.time()
    args = [sipp, "-sf", scen, "127.0.0.1:%d" % port, "-i", "127.0.0.1",
            "-p", str(free_port()), "-inf", os.path.join(work, "callers.csv"),
            "-r", str(rate), "-rp", "1000", "-m", str(calls), "-l", str(max(rate, 1000)),
            "-nostdin", "-recv_timeout", "3000", "-timeout", str(secs + 8), "-timeout_error",
            "-buff_size", "8388608"]
    rtts = []
    stop = threading.Event()
    th = threading.Thread(target=probe, args=(port, stop, rtts, N_CALLERS))
    th.start()
    try:
        out = subprocess.run(args, cwd=d, capture_output=True, text=True,
                             timeout=secs + 30).stdout
    finally:
        stop.set()
        th.join()
    wall = time.time() - t0
    cpu = tree_cpu_ms(pid) - cpu0
    ok_probes = len(rtts)

    def last(label):
        m = re.findall(r"%s\s*\|\s*\d+\s*\|\s*(\d+)" % label, out)
        return int(m[-1]) if m else 0
    ok, failed = last("Successful call"), last("Failed call")
    rtts.sort()

    def pct(q):
        return rtts[min(len(rtts) - 1, int(q * len(rtts)))] if rtts else float("nan")
    shutil.rmtree(d, ignore_errors=True)
    res = {"rate": rate, "calls": calls, "ok": ok, "failed": failed + (calls - ok - failed),
           "cpu_ms_per_1k": cpu / (ok + ok_probes) * 1000 if ok else float("nan"),
           "p50": pct(0.50), "p99": pct(0.99), "wall": wall,
           "achieved": ok / max(wall, 0.001)}
    print("step server=%s cps=%d calls=%d ok=%d failed=%d cpu_ms_per_1k_calls=%.2f "
          "rtt_p50_ms=%.3f rtt_p99_ms=%.3f wall_s=%.1f" %
          (name, rate, calls, ok, res["failed"], res["cpu_ms_per_1k"], res["p50"],
           res["p99"], wall), flush=True)
    return res


def summary(name, steps):
    good = [s for s in steps if s["failed"] == 0]
    best = good[-1] if good else None
    print("%s_max_cps_zero_fail=%d" % (name, best["rate"] if best else 0))
    for k, f in (("cpu_ms_per_1k_calls", "cpu_ms_per_1k"), ("rtt_p50_ms", "p50"),
                 ("rtt_p99_ms", "p99")):
        print("%s_%s=%.3f" % (name, k, best[f] if best else float("nan")))
    return best


def main():
    global N_CALLERS
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True, help="sip_harness binary")
    ap.add_argument("--sipp", default=shutil.which("sipp") or "sipp")
    ap.add_argument("--rates", default="2000,5000,10000,15000,20000,25000,30000,35000")
    ap.add_argument("--step-seconds", type=int, default=5)
    ap.add_argument("--children", type=int, default=2)
    ap.add_argument("--skip-kamailio", action="store_true")
    ap.add_argument("--commit", default="both", choices=["both", "burst", "async"],
                    help="[history] commit mode(s) of tspsd to measure")
    ap.add_argument("--callers", type=int, default=N_CALLERS,
                    help="entries in the htable / contacts (default 1M)")
    a = ap.parse_args()
    N_CALLERS = a.callers
    secs = min(max(a.step_seconds, 1), 10)
    rates = [int(x) for x in a.rates.split(",")]
    work = tempfile.mkdtemp(prefix="tsps-sipbench-")
    procs = []
    try:
        with open(os.path.join(work, "bench.xml"), "w") as f:
            f.write(SCENARIO)
        rnd = random.Random(1)
        with open(os.path.join(work, "callers.csv"), "w") as f:
            f.write("RANDOM\n")
            for _ in range(200000):
                f.write("+1555%07d;\n" % rnd.randrange(N_CALLERS))
        # Every server is started first and the ladders are interleaved:
        # at each rate one step per server still climbing, in an order that
        # rotates from rate to rate (A/B/C, B/C/A, ...), so that a noisy
        # moment of the shared machine falls on all of them alike
        servers = []  # (name, process, port)
        if not a.skip_kamailio:
            if not ensure_kamailio():
                print("kamailio_error=not-installed")
            else:
                kp, kport = start_kamailio(work, a.children)
                procs.append(kp)
                servers.append(("kamailio", kp, kport))
        modes = ["burst", "async"] if a.commit == "both" else [a.commit]
        for mode in modes:
            tp, tport = start_tspsd(work, os.path.abspath(a.harness), mode)
            procs.append(tp)
            servers.append(("tspsd_" + mode, tp, tport))
        results = {n: [] for n, _, _ in servers}
        for i, r in enumerate(rates):
            climbing = [sv for sv in servers
                        if not results[sv[0]] or results[sv[0]][-1]["failed"] == 0]
            if not climbing:
                break
            k = i % len(climbing)
            for n, p, port in climbing[k:] + climbing[:k]:
                results[n].append(run_step(a.sipp, work, n, p.pid, port, r, secs))
        best = {n: summary(n, s) for n, s in results.items()}
        for mode in modes:
            k, t = best.get("kamailio"), best.get("tspsd_" + mode)
            if not (k and t):
                continue
            sfx = "" if len(modes) == 1 and mode == "burst" else "_" + mode
            print("cps_ratio_vs_kamailio%s=%.3f" % (sfx, t["rate"] / k["rate"]))
            # CPU and round trip compared at the same offered rate: the
            # highest rate both held without failures
            common = min(k["rate"], t["rate"])
            kc = [s for s in results["kamailio"] if s["rate"] == common][0]
            tc = [s for s in results["tspsd_" + mode] if s["rate"] == common][0]
            print("cpu_compare_rate_cps%s=%d" % (sfx, common))
            print("cpu_ratio_vs_kamailio%s=%.3f" % (sfx, tc["cpu_ms_per_1k"] / kc["cpu_ms_per_1k"]))
            print("rtt_p50_ratio_vs_kamailio%s=%.3f" % (sfx, tc["p50"] / kc["p50"]))
            print("rtt_p99_ratio_vs_kamailio%s=%.3f" % (sfx, tc["p99"] / kc["p99"]))
            # At its top rate a server is near saturation and its round
            # trip grows: compare at every rate both held without a
            # failure too, and give the median and range of those ratios
            ks = {s["rate"]: s for s in results["kamailio"] if s["failed"] == 0}
            per = []
            for s in results["tspsd_" + mode]:
                if s["failed"] == 0 and s["rate"] in ks and ks[s["rate"]]["p50"] > 0:
                    r = s["p50"] / ks[s["rate"]]["p50"]
                    per.append(r)
                    print("rtt_p50_ratio_vs_kamailio%s_at_%d=%.3f" % (sfx, s["rate"], r))
            if per:
                print("rtt_p50_ratio_vs_kamailio%s_median_over_rates=%.3f" %
                      (sfx, statistics.median(per)))
                print("rtt_p50_ratio_vs_kamailio%s_range_over_rates=%.3f-%.3f" %
                      (sfx, min(per), max(per)))
        for n, s in results.items():
            top = s[-1]
            if top["failed"] == 0:
                print("%s_limit=none-reached (sipp or the ladder's top rate)" % n)
            elif top["achieved"] < 0.9 * top["rate"]:
                print("%s_limit=sipp-or-server-cpu (achieved %.0f cps of %d)" %
                      (n, top["achieved"], top["rate"]))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
