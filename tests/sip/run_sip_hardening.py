#!/usr/bin/python3
"""SIP front hardening suite (issue 19): a full store, digest replay and
password guessing, held-call caps under a flood, RFC 4475 torture messages.

Starts the SIP harness on free 127.0.0.1 ports with throwaway stores (the
helpers of run_sip_tests.py) and checks what a peer receives. Exit status 0 =
all passed.
"""
import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_sip_tests as base  # noqa: E402
from run_sip_tests import Harness, Udp, check, header, request, status  # noqa: E402


def invite(port, lport, k, caller="+4930%06d", callid="hd%d", called="+4930111111"):
    return ("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
            "From: <sip:%s@127.0.0.1>;tag=a\r\n"
            "To: <sip:%s@127.0.0.1>\r\n"
            "Call-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n" %
            (called, port, lport, callid % k, caller % k, called, callid % k))


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


class Src(Udp):
    """A UDP peer bound to a chosen loopback address (127.0.0.x)."""

    def __init__(self, port, addr="127.0.0.1"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((addr, 0))
        self.addr = addr
        self.lport = self.s.getsockname()[1]
        self.dst = ("127.0.0.1", port)


def register(u, port, aor, cseq, contact, auth="", call_id="hreg"):
    msg = ("REGISTER sip:tsps.test SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKr%s%d;rport\r\n"
           "From: <sip:%s@tsps.test>;tag=r1\r\n"
           "To: <sip:%s@tsps.test>\r\n"
           "Call-ID: %s\r\nCSeq: %d REGISTER\r\nMax-Forwards: 70\r\n"
           "Contact: %s\r\nExpires: 600\r\n%s"
           "Content-Length: 0\r\n\r\n" %
           (u.addr, u.lport, call_id, cseq, aor, aor, call_id, cseq, contact, auth))
    u.send(msg)
    return u.recv()


def authz(m, user, pw, nc="00000001", alg="SHA-256", qop=True):
    chal = [c for c in header(m, "WWW-Authenticate") if "algorithm=" + alg in c][0]
    nonce = re.search(r'nonce="([^"]+)"', chal).group(1)
    if qop:
        resp = base.digest(alg, user, "tsps.test", pw, "REGISTER", "sip:tsps.test", nonce, nc=nc)
        return ('Authorization: Digest username="%s", realm="tsps.test", nonce="%s", '
                'uri="sip:tsps.test", response="%s", algorithm=%s, qop=auth, nc=%s, '
                'cnonce="abc"\r\n' % (user, nonce, resp, alg, nc))
    H = (lambda x: hashlib.sha256(x.encode()).hexdigest()) if alg == "SHA-256" else \
        (lambda x: hashlib.md5(x.encode()).hexdigest())
    resp = H("%s:%s:%s" % (H("%s:tsps.test:%s" % (user, pw)), nonce,
                           H("REGISTER:sip:tsps.test")))
    return ('Authorization: Digest username="%s", realm="tsps.test", nonce="%s", '
            'uri="sip:tsps.test", response="%s", algorithm=%s\r\n' % (user, nonce, resp, alg))


def t_digest_replay(binary, work):
    """A captured REGISTER Authorization cannot be used again."""
    h = Harness(binary, work, "replay", ["--auth", "--domain", "tsps.test"])
    try:
        u = Src(h.port)
        m = register(u, h.port, "carol-desk", 1, "<sip:carol@127.0.0.1:5070>")
        a = authz(m, "carol-desk", "secret")
        ok = register(u, h.port, "carol-desk", 2, "<sip:carol@127.0.0.1:5070>", a)
        # the attacker replays the same Authorization, own Contact, new CSeq
        rep = register(u, h.port, "carol-desk", 3, "<sip:evil@127.0.0.1:6666>", a)
        regs = h.regs("carol")
        check("digest replay: same nonce and nc with another Contact is refused",
              status(ok) == 200 and status(rep) == 401 and
              not any("evil" in r for r in regs), (status(ok), rep, regs))
        # the accepted request retransmitted (a lost 200 over UDP) is no
        # replay: the registrar's CSeq rule answers it, and it does not
        # count towards a lockout
        replays = h.log().count("reason=replay")
        rtx = [register(u, h.port, "carol-desk", 2, "<sip:carol@127.0.0.1:5070>", a)
               for _ in range(12)]
        check("digest: retransmissions of the accepted REGISTER are not replays",
              all(status(x) == 500 for x in rtx) and
              h.log().count("reason=replay") == replays, [status(x) for x in rtx])
        # a client counting nc up on the same nonce is fine
        a2 = authz(m, "carol-desk", "secret", nc="00000002")
        m2 = register(u, h.port, "carol-desk", 4, "<sip:carol@127.0.0.1:5070>", a2)
        check("digest: the next nc on the same nonce is accepted", status(m2) == 200, m2)
        # without qop a nonce is good once
        m = register(u, h.port, "carol-desk", 5, "<sip:carol@127.0.0.1:5070>",
                     call_id="hreg2")
        a3 = authz(m, "carol-desk", "secret", qop=False)
        r1 = register(u, h.port, "carol-desk", 6, "<sip:carol@127.0.0.1:5070>", a3,
                      call_id="hreg2")
        r2 = register(u, h.port, "carol-desk", 7, "<sip:evil@127.0.0.1:6666>", a3,
                      call_id="hreg2")
        check("digest without qop: a nonce is single-use",
              status(r1) == 200 and status(r2) == 401, (r1, r2))
        # a nonce issued to one address is no good from another
        m = register(u, h.port, "carol-desk", 8, "<sip:carol@127.0.0.1:5070>", call_id="hreg3")
        other = Src(h.port, "127.0.0.2")
        a4 = authz(m, "carol-desk", "secret")
        r3 = register(other, h.port, "carol-desk", 9, "<sip:evil@127.0.0.1:6666>", a4,
                      call_id="hreg3")
        check("digest: a nonce is bound to the address it was issued to",
              status(r3) == 401, r3)
        other.close()
        u.close()
    finally:
        h.stop()


def t_auth_lockout(binary, work):
    """Password guessing: locked out per address, then per device name."""
    h = Harness(binary, work, "lockout", ["--auth", "--domain", "tsps.test"])
    try:
        u = Src(h.port)
        codes = []
        for i in range(10):
            m = register(u, h.port, "carol-desk", 2 * i + 1, "<sip:c@127.0.0.1:5070>",
                         call_id="g%d" % i)
            m = register(u, h.port, "carol-desk", 2 * i + 2, "<sip:c@127.0.0.1:5070>",
                         authz(m, "carol-desk", "guess%d" % i), call_id="g%d" % i)
            codes.append(status(m))
        m = register(u, h.port, "carol-desk", 99, "<sip:c@127.0.0.1:5070>", call_id="g99")
        right = register(u, h.port, "carol-desk", 100, "<sip:c@127.0.0.1:5070>",
                         authz(m, "carol-desk", "secret") if status(m) == 401 else "",
                         call_id="g99")
        log = h.log()
        check("guessing: 10 wrong passwords from one address lock it out",
              codes == [403] * 10 and status(right) == 403 and
              "too many failures" in (right or "") and header(right, "Retry-After"),
              (codes, right))
        check("guessing: one fail2ban-friendly log line per lockout",
              log.count("sip auth lockout") == 1 and
              re.search(r'sip auth lockout" by=address src=127\.0\.0\.1 ', log) and
              "guess" not in log, log[-600:])
        # another device from another address still registers
        v = Src(h.port, "127.0.0.9")
        m = register(v, h.port, "dave-desk", 1, "<sip:d@127.0.0.9:5070>", call_id="d1")
        m = register(v, h.port, "dave-desk", 2, "<sip:d@127.0.0.9:5070>",
                     authz(m, "dave-desk", "secret3"), call_id="d1")
        check("guessing: other addresses and devices are not affected", status(m) == 200, m)
        # many addresses against one device name: the name is locked
        for a in range(2, 8):
            w = Src(h.port, "127.0.0.%d" % a)
            for i in range(4):
                m = register(w, h.port, "carol-mob", 1, "<sip:c@127.0.0.1:5070>",
                             call_id="w%d-%d" % (a, i))
                if status(m) == 401:
                    register(w, h.port, "carol-mob", 2, "<sip:c@127.0.0.1:5070>",
                             authz(m, "carol-mob", "nope%d" % i), call_id="w%d-%d" % (a, i))
            w.close()
        w = Src(h.port, "127.0.0.20")
        m = register(w, h.port, "carol-mob", 1, "<sip:c@127.0.0.1:5070>", call_id="wz")
        m = register(w, h.port, "carol-mob", 2, "<sip:c@127.0.0.1:5070>",
                     authz(m, "carol-mob", "secret2") if status(m) == 401 else "",
                     call_id="wz")
        st = stats(h)
        check("guessing from many addresses locks the device name",
              status(m) == 403 and "too many failures" in (m or "") and
              'by=user src=' in h.log(), m)
        check("guessing: failures and lockouts counted",
              st.get("auth_failed", 0) >= 30 and st.get("auth_locked", 0) >= 2, st)
        u.close()
        v.close()
        w.close()
    finally:
        h.stop()


FRAN = """user fran region=DE voicemail=sip:vm-fran@vm.tsps.test
number fran +4930700700
contact fran v VIP Vip +4930222222
contact fran boss ASKME Boss +4930444444
rule fran VIP any ring
rule fran ASKME any ask timeout=30 then voicemail
rule fran UNKNOWN any ask timeout=30 then voicemail
reg fran sip:fran-desk@127.0.0.1:5094 desk 1.0 3600
reg fran sip:fran-mob@127.0.0.1:5095 mobile 0.5 3600"""


def run_sipp(sipp, scen, work, name, port, keys, calls, rate):
    d = os.path.join(work, name)
    os.makedirs(d)
    args = [sipp, "-sf", os.path.join(scen, name + ".xml"), "127.0.0.1:%d" % port,
            "-i", "127.0.0.1", "-p", str(base.free_port()), "-m", str(calls),
            "-r", str(rate), "-l", "2000", "-nostdin", "-timeout", "120",
            "-timeout_error", "-recv_timeout", "10000"]
    for k, v in keys.items():
        args += ["-key", k, v]
    out = open(os.path.join(d, "out.txt"), "w")
    return subprocess.Popen(args, cwd=d, stdout=out, stderr=subprocess.STDOUT), d


def t_held_flood(binary, sipp, scen, work):
    """A flood of unknown callers for a user who decides by hand: held
    calls stay within the caps, the rest get 486 with Retry-After, and
    every legitimate call is answered."""
    h = Harness(binary, work, "flood", ["--max-held", "200", "--max-held-per-user", "40"])
    try:
        for line in FRAN.splitlines():
            st, _ = h.cmd(line)
            assert st == "ok", (line, st)
        flood, fd = run_sipp(sipp, scen, work, "invite_flood", h.port,
                             {"called": "+4930700700"}, 2500, 500)
        legit, ld = run_sipp(sipp, scen, work, "invite_legit", h.port,
                             {"called": "+4930700700", "caller": "+4930222222"}, 300, 50)
        try:
            lrc = legit.wait(timeout=150)
        except subprocess.TimeoutExpired:
            legit.kill()
            lrc = -1
        # a contact who is decided by hand still finds room while the
        # flood holds the unknown callers' share
        u = Udp(h.port)
        u.send(request("INVITE", "sip:+4930700700@127.0.0.1:%d" % h.port, u.lport,
                       "boss-in-flood", caller="+4930444444"))
        got = [u.recv(timeout=10), u.recv(timeout=10)]
        try:
            frc = flood.wait(timeout=150)
        except subprocess.TimeoutExpired:
            flood.kill()
            frc = -1
        st = stats(h)
        check("held flood: every legitimate call answered 300 (sipp rc 0)",
              lrc == 0, (lrc, open(os.path.join(ld, "out.txt")).read()[-800:]))
        check("held flood: the held calls stay within the per-user cap",
              0 < st.get("held", 0) <= 40 + 1 and st.get("held_refused", 0) > 2000, st)
        check("held flood: a known contact's ask call is still held (180)",
              [status(x) for x in got] == [100, 180], got)
        fl = open(os.path.join(fd, "out.txt")).read()
        check("held flood: the flood ran to its end (sipp finished)", frc in (0, 1), (frc, fl[-500:]))
        u.send(invite(h.port, u.lport, 1, caller="+1888%d", callid="cap%d",
                      called="+4930700700"))
        m = u.recv(timeout=10)
        while m is not None and status(m) < 200:
            m = u.recv(timeout=10)
        check("held flood: beyond the cap -> 486 with Retry-After",
              status(m) == 486 and header(m, "Retry-After"), m)
        u.close()
    finally:
        h.stop()


def t_bindings_limit(binary, work):
    """An address of record takes a bounded number of bindings."""
    h = Harness(binary, work, "bindings", ["--domain", "tsps.test", "--max-bindings", "4"])
    try:
        u = Src(h.port)
        codes = [status(register(u, h.port, "carol-desk", 1, "<sip:c%d@127.0.0.1:5070>" % i,
                                 call_id="b%d" % i)) for i in range(6)]
        refresh = register(u, h.port, "carol-desk", 2, "<sip:c0@127.0.0.1:5070>", call_id="b0")
        regs = h.regs("carol")
        check("bindings: past the limit per address of record -> 403, nothing added",
              codes == [200] * 4 + [403] * 2 and len(regs) == 4, (codes, regs))
        check("bindings: refreshing an existing binding still works at the limit",
              status(refresh) == 200, refresh)
        u.close()
    finally:
        h.stop()


def t_tcp_limits(binary, work):
    """SIP over TCP: a connection that sends no request is closed soon, and
    one address holds a bounded number of connections."""
    h = Harness(binary, work, "tcp", ["--tcp", "--tcp-per-address", "8",
                                      "--tcp-handshake", "1"])
    try:
        idle = socket.create_connection(("127.0.0.1", h.port), timeout=15)
        t0 = time.time()
        try:
            gone = idle.recv(100) == b""
        except socket.timeout:
            gone = False
        except OSError:  # reset by the server
            gone = True
        waited = time.time() - t0
        check("tcp: a connection without a request is closed after the handshake timeout",
              gone and waited < 14, waited)
        idle.close()
        conns = []
        for i in range(8):
            c = socket.create_connection(("127.0.0.1", h.port), timeout=5)
            conns.append(c)
        # the ninth from the same address is closed at once
        extra = socket.create_connection(("127.0.0.1", h.port), timeout=5)
        try:
            refused = extra.recv(100) == b""
        except socket.timeout:
            refused = False
        except OSError:
            refused = True
        extra.close()
        # another address is not affected, and a connection that sent a
        # request outlives the handshake timeout
        other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        other.bind(("127.0.0.3", 0))
        other.settimeout(5)
        other.connect(("127.0.0.1", h.port))
        lport = other.getsockname()[1]
        other.sendall(request("OPTIONS", "sip:127.0.0.1:%d" % h.port, lport, "tcpo",
                              transport="TCP").replace("127.0.0.1:%d;" % lport,
                                                       "127.0.0.3:%d;" % lport).encode())
        first = other.recv(4000).decode(errors="replace")
        time.sleep(2.5)
        other.sendall(request("OPTIONS", "sip:127.0.0.1:%d" % h.port, lport, "tcpo2",
                              transport="TCP").encode())
        second = other.recv(4000).decode(errors="replace")
        check("tcp: per-address connection limit", refused, refused)
        check("tcp: other addresses connect; a greeted connection stays open",
              status(first) == 200 and status(second) == 200, (first, second))
        other.close()
        for c in conns:
            c.close()
    finally:
        h.stop()


def t_rfc4475(binary, work):
    """RFC 4475 torture messages get the answer the RFC expects."""
    import rfc4475
    h = Harness(binary, work, "rfc4475", [])
    try:
        for name, (msg, want, why) in rfc4475.MESSAGES.items():
            u = Udp(h.port)
            u.send(msg)
            m = u.recv(timeout=5)
            while m is not None and status(m) is not None and status(m) < 200:
                m = u.recv(timeout=5)
            ok = status(m) == want
            if name == "bext01":
                unsup = ",".join(header(m, "Unsupported"))
                ok = ok and "nothingSupportsThis" in unsup and \
                    "nothingSupportsThisEither" in unsup
            check("RFC 4475 %s: %d (%s)" % (name, want, why), ok,
                  (status(m), (m or "")[:300]))
            u.close()
        alive = h.p.poll() is None
        check("RFC 4475: the front survived every message", alive, "")
    finally:
        h.stop()


def t_kill_events(binary, work):
    """kill -9 of the front during UDP bursts: every call event it reported
    (what the daemon shows users and attendants) names a call that is in
    the history after the restart."""
    import signal
    import random as rnd
    kills = int(os.environ.get("TSPS_SIP_KILLS", "4"))
    d = os.path.join(work, "killev")
    db = os.path.join(d, "db")
    os.makedirs(db)
    script = os.path.join(d, "prov.txt")
    with open(script, "w") as f:
        f.write(base.PROVISION)
    seen, missing, calls = set(), [], 0

    def start(with_script):
        args = [binary, "--db", db] + (["--script", script] if with_script else [])
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, bufsize=1)
        line = p.stdout.readline()
        m = re.match(r"ready udp=(\d+)", line)
        assert m, line
        return p, int(m.group(1))

    p, port = start(True)
    for k in range(kills):
        u = Udp(port)
        os.kill(p.pid, signal.SIGSTOP)
        for i in range(rnd.randint(64, 400)):
            u.send(invite(port, u.lport, calls, callid="ke%d"))
            calls += 1
        os.kill(p.pid, signal.SIGCONT)
        # kill while it answers: after its first event, at a random point
        first = p.stdout.readline()
        time.sleep(rnd.random() * 0.02)
        p.kill()
        out = first + p.stdout.read()
        p.wait()
        seen |= set(int(x) for x in re.findall(r"event \w+ id=(\d+)", out))
        u.close()
        p, port = start(False)
        for cid in sorted(seen):
            p.stdin.write("history %d\n" % cid)
            p.stdin.flush()
            r = p.stdout.readline()
            if not r.startswith("history id=%d " % cid):
                missing.append(cid)
            else:
                p.stdout.readline()  # "ok"
    p.stdin.write("quit\n")
    p.stdin.flush()
    p.wait(timeout=10)
    check("kill -9: every call event names a call in history after restart "
          "(%d kills, %d calls, %d ids reported)" % (kills, calls, len(seen)),
          seen and not missing, missing[:10])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True)
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--sipp", default=shutil.which("sipp") or "sipp")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tsps-siph-")
    scen = os.path.abspath(os.path.join(a.scenarios, "scenarios"))
    tests = [("full_store", lambda: t_full_store(a.harness, work)),
             ("digest_replay", lambda: t_digest_replay(a.harness, work)),
             ("auth_lockout", lambda: t_auth_lockout(a.harness, work)),
             ("held_flood", lambda: t_held_flood(a.harness, a.sipp, scen, work)),
             ("bindings_limit", lambda: t_bindings_limit(a.harness, work)),
             ("tcp_limits", lambda: t_tcp_limits(a.harness, work)),
             ("rfc4475", lambda: t_rfc4475(a.harness, work)),
             ("kill_events", lambda: t_kill_events(a.harness, work))]
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
