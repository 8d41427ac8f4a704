#!/usr/bin/python3
"""SIP front suite: real SIP over loopback against the SIP harness (or tspsd).

Starts the harness on a free 127.0.0.1 port with a throwaway store, drives it
with sipp scenarios (tests/sip/scenarios) and raw UDP/TCP messages, and checks
the responses, the call events and the history. Exit status 0 = all passed.
"""
import argparse
import hashlib
import os
import queue
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

PROVISION = """
user alice region=DE voicemail=sip:vm-alice@vm.tsps.test attendant=sip:att-alice@tsps.test
number alice +4930111111
contact alice anna VIP Anna +4930222222
contact alice spam BLOCK Spammer +4930999999
contact alice mum FAMILY Mum +4930333333
contact alice boss ASKME Boss +4930444444
contact alice boss2 ASKTO Boss2 +4930444445
contact alice fwd FWD Forwarded +4930444446
rule alice VIP any ring
rule alice FAMILY any ring sequential
rule alice BLOCK any reject decline
rule alice FWD any forward +4930777777
rule alice UNKNOWN any voicemail
rule alice ASKME any ask timeout=30 then voicemail
rule alice ASKTO any ask timeout=2 then forward +4930777777
rule alice * dnd voicemail
rule alice VIP dnd voicemail
reg alice sip:alice-desk@127.0.0.1:5091 desk 1.0 3600
reg alice sip:alice-mob@127.0.0.1:5092 mobile 0.5 3600
user bob region=DE
number bob +4930600600
contact bob vip VIP Vip +4930222222
rule bob VIP meeting ring
rule bob * meeting voicemail sip:vm-bob@vm.tsps.test
rule bob * any ring
event bob standup -600 3600 tel:+4930666666,bob@example.org
reg bob sip:bob-desk@127.0.0.1:5093 desk 1.0 3600
user erin region=DE
number erin +4930500500
rule erin * any forward sip:+4930500500@tsps.test
user carol region=DE
device tsps.test carol-desk carol desk secret
device tsps.test carol-mob carol mobile secret2
device tsps.test dave-desk dave desk secret3
user dave region=DE
"""

RESULTS = []


def free_port():
    for _ in range(100):
        p = random.randint(20000, 60000)
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", p))
            u.close()
            return p
        except OSError:
            continue
    raise RuntimeError("no free port")


class Harness:
    def __init__(self, binary, workdir, name, args):
        self.dir = os.path.join(workdir, name)
        os.makedirs(os.path.join(self.dir, "db"))
        script = os.path.join(self.dir, "prov.txt")
        with open(script, "w") as f:
            f.write(PROVISION)
        self.errpath = os.path.join(self.dir, "stderr.log")
        self.err = open(self.errpath, "w")
        self.p = subprocess.Popen(
            [binary, "--db", os.path.join(self.dir, "db"), "--script", script,
             "-v"] + args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
            text=True, bufsize=1)
        self.events = []
        self.cond = threading.Condition()
        self.replies = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        line = self.replies.get(timeout=20)
        m = re.match(r"ready udp=(\d+) tcp=(\d+)", line)
        if not m:
            raise RuntimeError("harness did not start: " + line)
        self.port = int(m.group(1))

    def _read(self):
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line.startswith("event "):
                with self.cond:
                    self.events.append(line)
                    self.cond.notify_all()
            else:
                self.replies.put(line)
        self.replies.put("eof")

    def cmd(self, line, timeout=10):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = []
        while True:
            r = self.replies.get(timeout=timeout)
            if r == "ok" or r.startswith("err") or r == "eof":
                return r, out
            out.append(r)

    def wait_event(self, pattern, start=0, timeout=10):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for e in self.events[start:]:
                    if re.search(pattern, e):
                        return e
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def sync(self):
        """Barrier: every line the harness wrote so far has been read."""
        self.cmd("# sync")

    def history(self, call_id):
        st, out = self.cmd("history %s" % call_id)
        return out[0] if st == "ok" and out else ""

    def regs(self, user):
        return self.cmd("regs " + user)[1]

    def log(self):
        self.err.flush()
        with open(self.errpath) as f:
            return f.read()

    def stop(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=10)
        except Exception:
            self.p.kill()
            self.p.wait()


# ---- raw SIP ---------------------------------------------------------------

class Udp:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.lport = self.s.getsockname()[1]
        self.dst = ("127.0.0.1", port)

    def send(self, msg):
        self.s.sendto(msg if isinstance(msg, bytes) else msg.encode(), self.dst)

    def recv(self, timeout=5.0):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(70000).decode(errors="replace")
        except socket.timeout:
            return None

    def recv_all(self, timeout=1.0):
        out = []
        while True:
            m = self.recv(timeout)
            if m is None:
                return out
            out.append(m)

    def close(self):
        self.s.close()


def request(method, ruri, lport, call_id, cseq=1, branch=None, caller="+4930222222",
            to=None, extra="", body="", mf=70, transport="UDP"):
    branch = branch or "z9hG4bK" + call_id + str(cseq)
    to = to or ruri
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/%s 127.0.0.1:%d;branch=%s;rport\r\n"
            "From: \"Test\" <sip:%s@127.0.0.1>;tag=t%s\r\n"
            "To: <%s>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d %s\r\n"
            "Max-Forwards: %d\r\n"
            "%s"
            "Content-Length: %d\r\n\r\n%s" %
            (method, ruri, transport, lport, branch, caller, call_id, to,
             call_id, cseq, method, mf, extra, len(body), body))


def status(msg):
    m = re.match(r"SIP/2.0 (\d+)", msg or "")
    return int(m.group(1)) if m else None


def header(msg, name):
    return re.findall(r"(?im)^%s:\s*(.*?)\r?$" % re.escape(name), msg or "")


def call_id_of(msg):
    h = header(msg, "X-Tsps-Call-Id")
    return h[0] if h else None


# ---- sipp ------------------------------------------------------------------

class Sipp:
    def __init__(self, binary, scen_dir, workdir):
        self.binary = binary
        self.scen = scen_dir
        self.work = workdir
        self.n = 0

    def start(self, scenario, port, keys, extra=()):
        self.n += 1
        d = os.path.join(self.work, "sipp%d" % self.n)
        os.makedirs(d)
        args = [self.binary, "-sf", os.path.join(self.scen, scenario),
                "127.0.0.1:%d" % port, "-i", "127.0.0.1", "-p",
                str(free_port()), "-m", "1", "-nostdin", "-timeout", "30",
                "-timeout_error", "-trace_msg", "-trace_err"]
        for k, v in keys.items():
            args += ["-key", k, v]
        args += list(extra)
        out = open(os.path.join(d, "out.txt"), "w")
        p = subprocess.Popen(args, cwd=d, stdout=out, stderr=subprocess.STDOUT)
        return p, d

    def run(self, scenario, port, keys, extra=()):
        p, d = self.start(scenario, port, keys, extra)
        return self.finish(p, d)

    def finish(self, p, d, timeout=40):
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = -1
        return rc, self.received(d)

    @staticmethod
    def received(d):
        msgs = []
        for f in os.listdir(d):
            if f.endswith("_messages.log"):
                text = open(os.path.join(d, f), errors="replace").read()
                for part in re.split(r"\n-{10,} [^\n]*\n", text):
                    m = re.match(r"\s*(UDP|TCP) message received \[\d+\] bytes :\n\n(.*)",
                                 part, re.S)
                    if m:
                        msgs.append(m.group(2).replace("\n", "\r\n"))
        return msgs


# ---- tests -----------------------------------------------------------------

def check(name, cond, detail=""):
    RESULTS.append((name, bool(cond), detail))
    print("%s %s%s" % ("PASS" if cond else "FAIL", name,
                       "" if cond else "  -- " + str(detail)[:3000]), flush=True)
    return cond


def finals(msgs):
    return [m for m in msgs if status(m) and status(m) >= 200]


def t_invites(h, sipp):
    called = "+4930111111"

    def call(caller, name="Caller", to=called):
        rc, msgs = sipp.run("invite_final.xml", h.port,
                            {"called": to, "caller": caller, "caller_name": name})
        f = finals(msgs)
        return rc, (f[-1] if f else "")

    rc, m = call("+4930222222", "Anna")
    cts = header(m, "Contact")
    check("invite VIP ring parallel -> 300 with both devices, equal q",
          rc == 0 and status(m) == 300 and len(cts) == 2 and
          all(";q=1.000" in c and ";expires=" in c for c in cts) and
          "alice-desk" in cts[0] + cts[1] and "alice-mob" in cts[0] + cts[1], m)
    cid = call_id_of(m)
    check("invite VIP: X-Tsps-Call-Id names a redirected call in history",
          cid and "outcome=redirected" in h.history(cid), h.history(cid or 0))

    rc, m = call("+4930333333", "Mum")
    cts = header(m, "Contact")
    check("invite FAMILY ring sequential -> 300 with descending q",
          rc == 0 and status(m) == 300 and len(cts) == 2 and
          "q=1.000" in cts[0] and "q=0.900" in cts[1] and
          all(";tsps-timeout=20" in c for c in cts), m)

    rc, m = call("+4930444446")
    cts = header(m, "Contact")
    div = header(m, "Diversion")
    check("invite FWD forward -> 302 to sip:+E164;user=phone with Diversion",
          rc == 0 and status(m) == 302 and len(cts) == 1 and
          "sip:+4930777777@tsps.test;user=phone" in cts[0] and div and
          "reason=unconditional" in div[0] and "+4930111111" in div[0], m)

    rc, m = call("+4930555555", "Stranger")
    cts = header(m, "Contact")
    div = header(m, "Diversion")
    check("invite unknown caller -> 302 voicemail with Diversion",
          rc == 0 and status(m) == 302 and "vm-alice@vm.tsps.test" in cts[0]
          and div and "tsps-method=voicemail" in div[0], m)

    rc, m = call("+4930999999", "Spammer")
    cid = call_id_of(m)
    check("invite blocked caller -> 603 Decline, history rejected",
          rc == 0 and status(m) == 603 and not header(m, "Contact") and cid and
          "outcome=rejected" in h.history(cid), m)

    rc, m = call("+4930222222", "Anna", to="+4930123123")
    check("invite unknown called number -> 404", rc == 0 and status(m) == 404, m)

    st, _ = h.cmd("status alice dnd")
    rc, m = call("+4930222222", "Anna")
    div = header(m, "Diversion")
    check("invite VIP while status dnd (rule VIP/dnd) -> 302 voicemail reason=do-not-disturb",
          st == "ok" and rc == 0 and status(m) == 302 and div and
          "reason=do-not-disturb" in div[0], m)
    h.cmd("status alice any")

    rc, m = call("+4930222222", "Vip", to="+4930600600")
    check("meeting: VIP caller rings through -> 302 to bob's desk",
          rc == 0 and status(m) == 302 and "bob-desk" in "".join(header(m, "Contact")), m)
    rc, m = call("+4930666666", "Attendee", to="+4930600600")
    check("meeting: an attendee of the meeting rings through -> 302 to desk",
          rc == 0 and status(m) == 302 and "bob-desk" in "".join(header(m, "Contact")), m)
    rc, m = call("+4930555555", "Other", to="+4930600600")
    div = header(m, "Diversion")
    check("meeting: anyone else -> 302 voicemail, Diversion reason=unavailable",
          rc == 0 and status(m) == 302 and "vm-bob" in "".join(header(m, "Contact"))
          and div and "reason=unavailable" in div[0], m)


def t_held(h, sipp):
    h.sync()  # earlier calls' events are all read: they are not counted
    start = len(h.events)
    p, d = sipp.start("invite_held.xml", h.port,
                      {"called": "+4930111111", "caller": "+4930444444",
                       "caller_name": "Boss"})
    ev = h.wait_event(r"event offered id=(\d+) outcome=pending method=ask", start)
    cid = re.search(r"id=(\d+)", ev).group(1) if ev else None
    time.sleep(0.5)  # sipp sits in 180 meanwhile
    st = h.cmd("override %s forward +4930888888" % cid)[0] if cid else "none"
    rc, msgs = sipp.finish(p, d)
    f = finals(msgs)
    m = f[-1] if f else ""
    ringing = [x for x in msgs if status(x) == 180]
    check("hold: 180 Ringing with the call id while held",
          ringing and call_id_of(ringing[0]) == cid, msgs[:2])
    check("hold: override while sipp waits in 180 -> 302 with Diversion deflection",
          st == "ok" and rc == 0 and status(m) == 302 and
          "+4930888888" in "".join(header(m, "Contact")) and
          "reason=deflection" in "".join(header(m, "Diversion")), (st, rc, m))
    hist = h.history(cid)
    check("hold: history redirected and overridden",
          "outcome=redirected" in hist and "overridden=1" in hist, hist)
    check("hold: events offered(pending) -> updated -> ended",
          h.wait_event(r"event updated id=%s outcome=redirected" % cid, start) and
          h.wait_event(r"event ended id=%s" % cid, start), h.events[start:])
    check("hold: a second override of a finished call is refused",
          h.cmd("override %s voicemail" % cid)[0].startswith("err"), "")

    h.sync()  # earlier calls' events are all read: they are not counted
    start = len(h.events)
    t0 = time.time()
    rc, msgs = sipp.run("invite_held.xml", h.port,
                        {"called": "+4930111111", "caller": "+4930444445",
                         "caller_name": "Boss2"})
    took = time.time() - t0
    f = finals(msgs)
    m = f[-1] if f else ""
    cid = call_id_of(m)
    check("hold timeout: fallback forward after ~2 s -> 302 reason=no-answer",
          rc == 0 and status(m) == 302 and 1.5 <= took <= 6 and
          "+4930777777" in "".join(header(m, "Contact")) and
          "reason=no-answer" in "".join(header(m, "Diversion")), (rc, took, m))
    check("hold timeout: history outcome timeout",
          cid and "outcome=timeout" in h.history(cid), h.history(cid or 0))

    h.sync()  # earlier calls' events are all read: they are not counted
    start = len(h.events)
    rc, msgs = sipp.run("invite_cancel.xml", h.port,
                        {"called": "+4930111111", "caller": "+4930444444",
                         "caller_name": "Boss"})
    ev = h.wait_event(r"event ended id=(\d+) outcome=missed", start, timeout=3)
    cid = re.search(r"id=(\d+)", ev).group(1) if ev else None
    check("cancel while held: 200 for CANCEL, 487 for INVITE, sipp ok",
          rc == 0 and any(status(x) == 487 for x in msgs) and
          any(status(x) == 200 for x in msgs), msgs)
    check("cancel while held: history outcome missed",
          cid and "outcome=missed" in h.history(cid), h.history(cid or 0))


def t_raw(h):
    u = Udp(h.port)
    ruri = "sip:+4930111111@127.0.0.1:%d" % h.port
    u.send(request("OPTIONS", ruri, u.lport, "opt1"))
    m = u.recv()
    check("OPTIONS -> 200 with Allow", status(m) == 200 and header(m, "Allow"), m)
    u.send(request("BYE", ruri, u.lport, "bye1"))
    m = u.recv()
    check("BYE -> 405 with Allow", status(m) == 405 and header(m, "Allow"), m)
    u.send(request("FROBNICATE", ruri, u.lport, "frob1"))
    m = u.recv()
    check("unknown method -> 501", status(m) == 501, m)
    u.send(request("INVITE", ruri, u.lport, "mf0", mf=0))
    m = u.recv()
    check("INVITE with Max-Forwards 0 -> 483", status(m) == 483, m)
    u.send(request("INVITE", "sip:+4930500500@tsps.test", u.lport, "loop1"))
    m = u.recv()
    check("forward to the Request-URI itself -> 482, never a redirect to it",
          status(m) == 482 and not header(m, "Contact"), m)
    u.send(request("INVITE", ruri, u.lport, "pai1", caller="anonymous",
                   extra='P-Asserted-Identity: "Anna" <sip:+4930222222@carrier.test>\r\n'))
    m = u.recv()
    check("caller taken from P-Asserted-Identity (VIP -> 300)", status(m) == 300, m)
    u.send(request("INVITE", "tel:+4930111111", u.lport, "tel1"))
    m = u.recv()
    check("tel: Request-URI routed (VIP -> 300)", status(m) == 300, m)
    u.send(request("INVITE", ruri, u.lport, "odd1").replace(
        'From: "Test" <sip:+4930222222@127.0.0.1>', "From: sip:+4930222222@127.0.0.1"))
    m = u.recv()
    check("addr-spec From without angle brackets (VIP -> 300)", status(m) == 300, m)
    u.send(request("CANCEL", ruri, u.lport, "nosuch"))
    m = u.recv()
    check("CANCEL for no transaction -> 481", status(m) == 481, m)

    # retransmission of an INVITE answered at once: same response, one call
    h.sync()  # earlier calls' events are all read: they are not counted
    start = len(h.events)
    inv = request("INVITE", ruri, u.lport, "rtx1")
    u.send(inv)
    a = u.recv(timeout=10)
    u.send(inv)
    b = u.recv(timeout=10)
    # The harness writes a call's event before the response leaves; a
    # command's reply comes after every event line written before it, so
    # once it is read every event of both INVITEs has been read too (a
    # fixed sleep here lost the race on a loaded machine under ASan).
    h.sync()
    offered = [e for e in h.events[start:] if e.startswith("event offered")]
    check("retransmitted INVITE gets the same response, routed once",
          status(a) == 300 and a == b and len(offered) == 1, (a, b, offered))
    u.send(request("ACK", ruri, u.lport, "rtx1").replace("CSeq: 1 ACK", "CSeq: 1 ACK"))

    # held call: retransmissions absorbed, final retransmitted until ACK
    h.sync()  # earlier calls' events are all read: they are not counted
    start = len(h.events)
    inv = request("INVITE", ruri, u.lport, "rtx2", caller="+4930444444")
    u.send(inv)
    got = [u.recv(), u.recv()]
    u.send(inv)
    again = u.recv()
    ev = h.wait_event(r"event offered id=(\d+) outcome=pending", start)
    h.sync()
    cid = re.search(r"id=(\d+)", ev).group(1) if ev else "0"
    check("held INVITE: 100 then 180; a retransmission gets the 180 again",
          [status(x) for x in got] == [100, 180] and status(again) == 180 and
          len([e for e in h.events[start:] if "offered" in e]) == 1, (got, again))
    h.cmd("override %s voicemail" % cid)
    first = u.recv()
    rtx = u.recv_all(timeout=1.3)
    check("held call final response retransmitted over UDP until ACK (Timer G)",
          status(first) == 302 and len(rtx) >= 1 and all(x == first for x in rtx),
          (first, rtx))
    ack = request("ACK", ruri, u.lport, "rtx2", caller="+4930444444")
    u.send(ack)
    time.sleep(0.1)
    u.recv_all(timeout=0.3)
    late = u.recv_all(timeout=2.5)
    check("ACK stops the retransmissions", late == [], late)
    u.close()


def t_malformed(h):
    u = Udp(h.port)
    ruri = "sip:+4930111111@127.0.0.1:%d" % h.port
    before = h.log().count("malformed")
    good = request("INVITE", ruri, u.lport, "good1")
    trunc = request("INVITE", ruri, u.lport, "trunc1", body="v=0\r\n" * 20)
    trunc = trunc[:len(trunc) - 40]
    nocid = re.sub(r"Call-ID: [^\r]*\r\n", "", request("INVITE", ruri, u.lport, "nocid"))
    badcseq = request("INVITE", ruri, u.lport, "badcseq").replace("CSeq: 1 INVITE", "CSeq: x1 INVITE")
    mismatch = request("INVITE", ruri, u.lport, "mism").replace("CSeq: 1 INVITE", "CSeq: 1 BYE")
    huge = request("INVITE", ruri, u.lport, "huge", extra="X-Junk: " + "A" * 20000 + "\r\n")
    junk = bytes(random.Random(7).getrandbits(8) for _ in range(700))
    nohdrend = "INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n" % ruri

    def one(msg):
        u.send(msg)
        return u.recv(timeout=1.5)

    r = {k: one(v) for k, v in [("trunc", trunc), ("nocid", nocid), ("badcseq", badcseq),
                                ("mismatch", mismatch), ("huge", huge), ("junk", junk),
                                ("nohdrend", nohdrend), ("empty", b"\r\n\r\n")]}
    u.send(good)
    ok = u.recv()
    check("malformed: truncated body -> 400", status(r["trunc"]) == 400, r["trunc"])
    check("malformed: no Call-ID -> dropped", r["nocid"] is None, r["nocid"])
    check("malformed: bad CSeq -> 400", status(r["badcseq"]) == 400, r["badcseq"])
    check("malformed: CSeq method mismatch -> 400", status(r["mismatch"]) == 400, r["mismatch"])
    check("malformed: huge header -> 400", status(r["huge"]) == 400, r["huge"])
    check("malformed: binary junk -> dropped", r["junk"] is None, r["junk"])
    check("malformed: unterminated headers -> dropped", r["nohdrend"] is None, r["nohdrend"])
    check("keep-alive CRLF -> ignored", r["empty"] is None, r["empty"])
    check("malformed: a well-formed call beside them succeeds", status(ok) == 300, ok)
    time.sleep(0.2)
    n = h.log().count("malformed") - before
    check("malformed: each bad message logged", n >= 7, n)
    u.close()


def t_tcp(h):
    s = socket.create_connection(("127.0.0.1", h.port), timeout=3)
    lport = s.getsockname()[1]
    ruri = "sip:+4930111111@127.0.0.1:%d" % h.port
    a = request("INVITE", ruri, lport, "tcp1", transport="TCP")
    b = request("OPTIONS", ruri, lport, "tcp2", transport="TCP")
    s.sendall((a + b).encode())
    data = b""
    deadline = time.time() + 3
    while data.count(b"Content-Length: 0\r\n\r\n") < 2 and time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    text = data.decode(errors="replace")
    codes = re.findall(r"SIP/2.0 (\d+)", text)
    check("TCP: two pipelined requests answered on the connection (300, 200)",
          codes == ["300", "200"], text)
    s.close()


def digest(alg, user, realm, pw, method, uri, nonce, nc="00000001", cnonce="abc", qop="auth"):
    H = (lambda x: hashlib.sha256(x.encode()).hexdigest()) if alg == "SHA-256" else \
        (lambda x: hashlib.md5(x.encode()).hexdigest())
    ha1 = H("%s:%s:%s" % (user, realm, pw))
    ha2 = H("%s:%s" % (method, uri))
    return H("%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))


def t_registrar(h):
    u = Udp(h.port)
    ruri = "sip:tsps.test"
    cseq = [0]

    def reg(aor, contact, expires=None, call_id="reg-a", user=None, pw="secret",
            alg="SHA-256", cs=None, extra=""):
        cs_given = cs
        if cs is None:
            cseq[0] += 1
            cs = cseq[0]
        hdr = "Contact: %s\r\n" % contact + extra
        if expires is not None:
            hdr += "Expires: %d\r\n" % expires
        u.send(request("REGISTER", ruri, u.lport, call_id, cseq=cs, to="sip:%s@tsps.test" % aor,
                       caller=aor, extra=hdr))
        m = u.recv()
        if status(m) != 401 or user is None:
            return m
        chal = [c for c in header(m, "WWW-Authenticate") if "algorithm=" + alg in c][0]
        nonce = re.search(r'nonce="([^"]+)"', chal).group(1)
        resp = digest(alg, user, "tsps.test", pw, "REGISTER", ruri, nonce)
        auth = ('Authorization: Digest username="%s", realm="tsps.test", nonce="%s", uri="%s", '
                'response="%s", algorithm=%s, qop=auth, nc=00000001, cnonce="abc"\r\n'
                % (user, nonce, ruri, resp, alg))
        if cs_given is None:
            cseq[0] += 1
            cs = cseq[0]
        u.send(request("REGISTER", ruri, u.lport, call_id, cseq=cs,
                       to="sip:%s@tsps.test" % aor, caller=aor, extra=hdr + auth))
        return u.recv()

    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>", 600)
    ch = header(m, "WWW-Authenticate")
    check("register: 401 challenges SHA-256 first, then MD5",
          status(m) == 401 and len(ch) == 2 and "SHA-256" in ch[0] and "MD5" in ch[1], m)
    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>", 600, user="carol-desk")
    check("register: SHA-256 digest -> 200 listing the binding with expires",
          status(m) == 200 and re.search(r"Contact: <sip:carol@127.0.0.1:5070>;expires=(59\d|600);q=1.000.*label=desk",
                                         m), m)
    m = reg("carol-mob", "<sip:carolm@127.0.0.1:5071>;q=0.5", 600, call_id="reg-b",
            user="carol-mob", pw="secret2", alg="MD5")
    check("register: MD5 digest, second device -> 200 lists both bindings",
          status(m) == 200 and len(header(m, "Contact")) == 2 and "q=0.500" in m, m)
    regs = h.regs("carol")
    check("register: bindings stored with labels desk and mobile",
          len(regs) == 2 and any("label=desk" in r for r in regs) and
          any("label=mobile" in r for r in regs), regs)
    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>", 600, user="carol-desk", pw="wrong")
    check("register: wrong password -> 403", status(m) == 403, m)
    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>", 600, user="dave-desk", pw="secret3")
    check("register: another user's device cannot bind this AOR -> 403", status(m) == 403, m)
    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>", 1, user="carol-desk")
    check("register: expires below minimum -> 423 with Min-Expires",
          status(m) == 423 and header(m, "Min-Expires") == ["2"], m)
    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>", 999999, user="carol-desk")
    check("register: expires above maximum is clamped",
          status(m) == 200 and re.search(r"carol@127.0.0.1:5070>;expires=(3600|359\d);", m), m)
    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>", 600, user="carol-desk", cs=1)
    check("register: same Call-ID with a lower CSeq -> 500 (RFC 3261 10.3 step 7)",
          status(m) == 500, m)
    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>;expires=0", 600, user="carol-desk")
    check("register: contact expires=0 removes that binding only",
          status(m) == 200 and len(header(m, "Contact")) == 1 and "carolm" in m, m)
    m = reg("carol-desk", "<sip:carol@127.0.0.1:5070>;expires=2", None, user="carol-desk")
    check("register: contact expires param wins over default", status(m) == 200 and
          re.search(r"carol@127.0.0.1:5070>;expires=[12];", m), m)
    time.sleep(3.2)
    regs = h.regs("carol")
    check("register: expired binding vanishes", len(regs) == 1 and "carolm" in regs[0], regs)
    m = reg("carol-desk", "*", 5, user="carol-desk")
    check("register: Contact * with Expires != 0 -> 400", status(m) == 400, m)
    m = reg("carol-desk", "*", 0, user="carol-desk")
    check("register: Contact * with Expires 0 removes all",
          status(m) == 200 and not header(m, "Contact") and h.regs("carol") == [], m)
    m = reg("nobody", "<sip:x@127.0.0.1:5070>", 600, user="carol-desk")
    check("register: unknown AOR -> 404", status(m) == 404, m)
    u.close()


def t_sipp_register(h, sipp):
    keys = {"aor": "carol-desk", "expires": "600"}
    auth = ["-au", "carol-desk", "-ap", "secret"]
    rc, msgs = sipp.run("register_auth.xml", h.port, keys, auth)
    regs = h.regs("carol")
    check("sipp register + refresh with MD5 digest",
          rc == 0 and len(regs) == 1 and "cseq=3" in regs[0] and "label=desk" in regs[0]
          and "urn:uuid:carol-desk-0001" in regs[0], (rc, regs))
    rc, _ = sipp.run("register_once.xml", h.port,
                     dict(keys, cparams=';+sip.instance="<urn:uuid:carol-desk-0001>";expires=0'),
                     auth)
    check("sipp unregister one binding (expires=0)", rc == 0 and h.regs("carol") == [],
          (rc, h.regs("carol")))
    rc1, _ = sipp.run("register_once.xml", h.port, dict(keys, cparams=""), auth)
    rc2, _ = sipp.run("register_once.xml", h.port,
                      {"aor": "carol-mob", "expires": "600", "cparams": ";q=0.5"},
                      ["-au", "carol-mob", "-ap", "secret2"])
    n = len(h.regs("carol"))
    rc3, _ = sipp.run("unregister_all.xml", h.port, {"aor": "carol-desk"}, auth)
    check("sipp register two devices, then Contact: * removes all",
          rc1 == 0 and rc2 == 0 and n == 2 and rc3 == 0 and h.regs("carol") == [],
          (rc1, rc2, n, rc3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True)
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--sipp", default=shutil.which("sipp") or "sipp")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tsps-sip-")
    scen = os.path.abspath(os.path.join(a.scenarios, "scenarios"))
    hs = []
    try:
        main_h = Harness(a.harness, work, "main",
                         ["--tcp", "--auth", "--domain", "tsps.test", "--ask-timeout", "3",
                          "--min-expires", "2", "--max-expires", "3600",
                          "--default-expires", "1800"])
        hs.append(main_h)
        md5_h = Harness(a.harness, work, "md5",
                        ["--auth", "--domain", "tsps.test", "--digest", "MD5,SHA-256"])
        hs.append(md5_h)
        sipp = Sipp(a.sipp, scen, work)
        for t in (lambda: t_raw(main_h), lambda: t_malformed(main_h), lambda: t_tcp(main_h),
                  lambda: t_invites(main_h, sipp), lambda: t_held(main_h, sipp),
                  lambda: t_registrar(main_h), lambda: t_sipp_register(md5_h, sipp)):
            try:
                t()
            except Exception as e:  # a broken test fails, the rest still run
                check("exception", False, repr(e))
        alive = all(x.p.poll() is None for x in hs)
        check("harness survived everything", alive, "")
    finally:
        for x in hs:
            x.stop()
        for x in hs:
            log = x.log()
            check("harness %s exited cleanly (no sanitizer report)" % os.path.basename(x.dir),
                  x.p.returncode == 0 and "Sanitizer" not in log,
                  (x.p.returncode, log[-2000:]))
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)
    failed = [r for r in RESULTS if not r[1]]
    print("%d passed, %d failed" % (len(RESULTS) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
