#!/usr/bin/python3
"""The media front inside tspsd: [media] enabled starts it with tspsd's own
host (token key in the data folder, the user's registered devices).

Starts the real tspsd on free 127.0.0.1 ports with a throwaway config and
drives its media front with sipp, reusing the helpers (audio, sipp runner,
scenarios) of run_media_tests.py. Tokens are signed here with the key tspsd
made in its data folder, as the SIP front's 302 will carry them.
Exit status 0 = passed.
"""
import argparse
import hashlib
import hmac
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_media_tests as M  # noqa: E402


def token(key, user="alice", caller="+4930222222", contact="Anna",
          code="FAMILY", history="17", lang="en", ttl=60):
    payload = "|".join([user, caller, contact, code, history, lang,
                        str(int(time.time()) + ttl)]).encode()
    mac = hmac.new(key, payload, hashlib.sha256).hexdigest()
    return "vm." + payload.hex() + "." + mac


class Tspsd:
    """tspsd with [media] enabled in a temp folder."""

    def __init__(self, name, extra="", greetings=None, sip=False):
        self.name = name
        self.dir = os.path.join(M.WORK, name)
        self.datadir = os.path.join(self.dir, "data")
        self.data = os.path.join(self.datadir, "media")  # the front's folder
        os.makedirs(self.dir)
        for user, files in (greetings or {}).items():
            gd = os.path.join(self.data, "greetings", user)
            os.makedirs(gd)
            for fname, src in files.items():
                shutil.copy(src, os.path.join(gd, fname))
        rtp = M.free_port(64)
        self.sip_port = M.free_port() if sip else 0
        self.conf = os.path.join(self.dir, "tspsd.conf")
        with open(self.conf, "w") as f:
            f.write("[tspsd]\ndata_dir = %s\ndemo = %s\n[control]\nport = 0\n"
                    "[metrics]\nport = -1\n[sip]\nenabled = %s\n"
                    "udp_port = %d\ntcp_port = 0\n"
                    "[web]\nport = -1\n[media]\nenabled = true\n"
                    "sip_port = %d\nrtp_port_min = %d\nrtp_port_max = %d\n%s"
                    % (self.datadir, "true" if sip else "false",
                       "true" if sip else "false", self.sip_port,
                       M.free_port(), rtp, rtp + 63, extra))
        self.err_path = os.path.join(self.dir, "tspsd.log")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([ARGS.tspsd, "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        m = M.wait_for(lambda: re.search(
            r'msg="media front listening" sip_addr=\S+ sip_port=(\d+)',
            self.log()), 30)
        if not m:
            self.proc.kill()
            raise RuntimeError("media front did not start: %s"
                               % self.log()[-1500:])
        self.port = int(m.group(1))
        self.keypath = os.path.join(self.datadir, "media-token.key")
        with open(self.keypath, "rb") as f:
            self.key = f.read()

    def log(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def wavs(self, user="alice"):
        d = os.path.join(self.data, "voicemail", user)
        if not os.path.isdir(d):
            return []
        return sorted(os.path.join(d, f) for f in os.listdir(d))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        log = self.log()
        self.err.close()
        M.check("%s: tspsd stops cleanly" % self.name, rc == 0 and
                "Sanitizer" not in log and "runtime error" not in log,
                "rc=%s %s" % (rc, log[-1500:]))


def t_key_and_refusals(A):
    t = Tspsd("refuse")
    try:
        st = os.stat(t.keypath)
        M.check("token key is 32 bytes, mode 0600",
                len(t.key) == 32 and stat.S_IMODE(st.st_mode) == 0o600,
                "len=%d mode=%o" % (len(t.key), stat.S_IMODE(st.st_mode)))
        rc, err = M.sipp(t, "vm_badtoken.xml", token(b"x" * 32))
        M.check("tspsd media: forged token -> 403", rc == 0, err[-300:])
        rc, err = M.sipp(t, "vm_badtoken.xml", token(t.key, ttl=-10))
        M.check("tspsd media: expired token -> 403", rc == 0, err[-300:])
        M.check("tspsd media: token never logged", "vm." not in t.log())
        M.check("tspsd media: no message from refused calls", t.wavs() == [])
    finally:
        t.stop()
    # The key is made once: a restart keeps it (tokens in flight stay good).
    t = Tspsd("refuse2")
    try:
        with open(os.path.join(M.WORK, "refuse", "data",
                               "media-token.key"), "rb") as f:
            first = f.read()
        M.check("token key differs between data folders", first != t.key)
    finally:
        t.stop()


def t_leave_message(A):
    t = Tspsd("leave", greetings={"alice": {"FAMILY.wav": A["greet"]}})
    try:
        rc, err = M.sipp(t, "vm_leave.xml", token(t.key),
                         {"VOICE": A["voice_ulaw"],
                          "WAIT": int(A["voice_s"] * 1000) + 800})
        M.check("tspsd media: sipp call completes", rc == 0, err[-500:])
        wavs = M.wait_for(lambda: t.wavs(), 10)
        M.check("tspsd media: one WAV in data/media/voicemail/alice",
                wavs and len(wavs) == 1, str(wavs))
        if wavs:
            dur, rms = M.sox_stats(wavs[0])
            M.check("tspsd media: duration matches the voice (+-100 ms)",
                    abs(dur - A["voice_s"]) <= 0.1,
                    "recorded %.3f s, sent %.3f s" % (dur, A["voice_s"]))
            M.check("tspsd media: message is not silence", rms > 0.02,
                    "rms %.4f" % rms)
        M.check("tspsd media: the FAMILY greeting of the token's code played",
                "greeting=user:FAMILY" in t.log(), t.log()[-800:])
        M.check("tspsd media: voicemail.new reaches the host",
                M.wait_for(lambda: "kind=voicemail.new" in t.log(), 10),
                t.log()[-800:])
    finally:
        t.stop()


def invite_302(port, called="+12125550100"):
    """A withheld caller's INVITE to tspsd's SIP front; returns the final
    response (ACKed) as text."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(2)
    lp = u.getsockname()[1]
    branch = "z9hG4bK-vm%d" % random.randint(0, 1 << 30)
    callid = "vmwire-%d@127.0.0.1" % random.randint(0, 1 << 30)
    ruri = "sip:%s@127.0.0.1:%d" % (called, port)
    inv = ("INVITE %s SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
           "From: <sip:anonymous@anonymous.invalid>;tag=vm1\r\n"
           "To: <%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
           "Contact: <sip:caller@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n" % (ruri, lp, branch, ruri, callid,
                                             lp))
    final = None
    end = time.monotonic() + 30
    while final is None and time.monotonic() < end:
        u.sendto(inv.encode(), ("127.0.0.1", port))
        try:
            while True:
                data = u.recv(65535).decode(errors="replace")
                code = int(data.split(" ", 2)[1])
                if code >= 200:
                    final = data
                    break
        except socket.timeout:
            continue
    if final is not None:
        to = re.search(r"^To:\s*(.*?)\r$", final, re.M | re.I).group(1)
        ack = ("ACK %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
               "From: <sip:anonymous@anonymous.invalid>;tag=vm1\r\n"
               "To: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\n"
               "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
               % (ruri, lp, branch, to, callid))
        u.sendto(ack.encode(), ("127.0.0.1", port))
    u.close()
    return final or ""


def t_redirect_flow(A):
    """Flow 1 end to end: the SIP front answers a voicemail call with a 302
    to the media front; the caller follows it and leaves a message."""
    t = Tspsd("redirect", sip=True,
              greetings={"demo": {"default.wav": A["greet"]}})
    try:
        resp = invite_302(t.sip_port)
        M.check("redirect: withheld caller -> 302", resp.startswith(
            "SIP/2.0 302"), resp[:300])
        m = re.search(r"^Contact:\s*<sip:(vm\.[0-9a-f]+\.[0-9a-f]{64})"
                      r"@127\.0\.0\.1:(\d+)>", resp, re.M)
        M.check("redirect: Contact is the media front with a token",
                m is not None and int(m.group(2)) == t.port, resp[:600])
        hid = re.search(r"^X-Tsps-Call-Id:\s*(\d+)", resp, re.M)
        if m is None or hid is None:
            return
        payload = bytes.fromhex(m.group(1)[3:].split(".")[0]).decode()
        M.check("redirect: token names the mailbox, code and call",
                payload.startswith("demo||") and
                "|WITHHELD|%s|" % hid.group(1) in payload, payload)
        rc, err = M.sipp(t, "vm_leave.xml", m.group(1),
                         {"VOICE": A["voice_ulaw"],
                          "WAIT": int(A["voice_s"] * 1000) + 800})
        M.check("redirect: sipp follows the 302 and leaves a message",
                rc == 0, err[-500:])
        wavs = M.wait_for(lambda: t.wavs("demo"), 10)
        M.check("redirect: one WAV in the demo user's mailbox",
                wavs and len(wavs) == 1, str(wavs))
        M.check("redirect: message stored with code and history id",
                M.wait_for(lambda: re.search(
                    r"kind=voicemail\.new id=\S+ code=WITHHELD history=%s "
                    r"new=1 old=0" % hid.group(1), t.log()), 10),
                t.log()[-800:])
    finally:
        t.stop()


def ctl(t, *args, token=None, check_rc=None):
    """tspsctl against t (admin certificate, or a token); (rc, out, err)."""
    cmd = [ARGS.tspsctl, "--data", t.datadir]
    if token:
        cmd += ["--token", token]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True,
                       timeout=30)
    if check_rc is not None and r.returncode != check_rc:
        raise RuntimeError("tspsctl %s: rc=%d %s %s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr))
    return r.returncode, r.stdout, r.stderr


def vm_list(t, token=None, user=None):
    import json
    args = ["--json", "voicemail", "list"] + (["--user", user] if user else [])
    rc, out, err = ctl(t, *args, token=token)
    j = json.loads(out) if out.strip().startswith("{") else {}
    return rc, j


class Device:
    """A phone registered to tspsd's SIP front (no digest auth): answers
    every NOTIFY with 200 and keeps the message-summary bodies."""

    def __init__(self, sip_port, aor):
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.bodies = []
        self.reg = None
        self.stop = False
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()
        callid = "reg-%d@127.0.0.1" % random.randint(0, 1 << 30)
        msg = ("REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-r%d;rport\r\n"
               "From: <sip:%s@127.0.0.1>;tag=r1\r\nTo: <sip:%s@127.0.0.1>\r\n"
               "Call-ID: %s\r\nCSeq: 1 REGISTER\r\n"
               "Contact: <sip:%s@127.0.0.1:%d>\r\nExpires: 600\r\n"
               "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
               % (sip_port, self.port, random.randint(0, 1 << 30), aor, aor,
                  callid, aor, self.port))
        for _ in range(20):
            self.sock.sendto(msg.encode(), ("127.0.0.1", sip_port))
            if M.wait_for(lambda: self.reg is not None, 1):
                break

    def run(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode(errors="replace")
            if text.startswith("SIP/2.0 "):
                if "REGISTER" in text:
                    self.reg = int(text.split(" ", 2)[1])
                continue
            if not text.startswith("NOTIFY "):
                continue
            head, _, body = text.partition("\r\n\r\n")
            self.bodies.append(body)
            keep = [l for l in head.split("\r\n")[1:] if l.split(":")[0].lower()
                    in ("via", "from", "to", "call-id", "cseq")]
            resp = ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
                    "\r\nContent-Length: 0\r\n\r\n")
            self.sock.sendto(resp.encode(), peer)

    def saw(self, counts):
        return any("Voice-Message: %s" % counts in b for b in self.bodies)

    def close(self):
        self.stop = True
        self.th.join(2)
        self.sock.close()


def t_inbox(A):
    """The inbox through the control protocol: a real message left with
    sipp, then list / play / heard / delete with tspsctl, rights, events."""
    import json
    t = Tspsd("inbox", sip=True,
              extra="[sip]\nauth_register = false\n"
                    "[admin]\nidentities = admin\n",
              greetings={"alice": {"FAMILY.wav": A["greet"]}})
    watch = None
    dev = None
    try:
        ctl(t, "user", "add", "alice", "--region", "DE", "--number",
            "+4930111111", check_rc=0)
        ctl(t, "user", "add", "bob", "--region", "DE", "--number",
            "+4930600600", check_rc=0)
        tok = {}
        for ident in ("alice", "bob", "carol", "dave", "erin"):
            tok[ident] = ctl(t, "token", "issue", ident, check_rc=0)[1].strip()
        ctl(t, "delegate", "alice", "carol", "--monitor", "--act", check_rc=0)
        ctl(t, "delegate", "alice", "dave", "--related", check_rc=0)
        ctl(t, "delegate", "alice", "erin", "--related", "--codes", "VIP",
            check_rc=0)
        dev = Device(t.sip_port, "alice")
        M.check("inbox: alice's phone registers (200)", dev.reg == 200,
                str(dev.reg))
        wpath = os.path.join(t.dir, "watch.jsonl")
        wf = open(wpath, "w")
        watch = subprocess.Popen([ARGS.tspsctl, "--data", t.datadir, "--token",
                                  tok["alice"], "--json", "watch", "alice"],
                                 stdout=wf, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

        def events():
            with open(wpath) as f:
                return [json.loads(x) for x in f if x.strip()]

        rc, err = M.sipp(t, "vm_leave.xml", token(t.key),
                         {"VOICE": A["voice_ulaw"],
                          "WAIT": int(A["voice_s"] * 1000) + 800})
        M.check("inbox: sipp leaves a message", rc == 0, err[-500:])
        M.wait_for(lambda: t.wavs(), 10)
        rc, j = vm_list(t, tok["alice"])
        msgs = j.get("voicemail", [])
        M.check("inbox: alice lists one new message", rc == 0 and
                len(msgs) == 1 and not msgs[0].get("heard") and
                msgs[0]["caller"] == "+4930222222" and
                msgs[0]["contact_name"] == "Anna" and
                msgs[0]["code"] == "FAMILY" and
                msgs[0]["history_id"] == 17 and msgs[0]["new_count"] == 1,
                json.dumps(j))
        if len(msgs) != 1:
            return
        mid = msgs[0]["id"]
        M.check("inbox: the phone's lamp: NOTIFY Voice-Message 1/0",
                M.wait_for(lambda: dev.saw("1/0"), 10), str(dev.bodies))
        M.check("inbox: the listed duration matches the voice (+-100 ms)",
                abs(msgs[0]["duration_ms"] / 1000.0 - A["voice_s"]) <= 0.1,
                str(msgs[0]["duration_ms"]))
        ev = M.wait_for(lambda: [e for e in events()
                                 if e.get("event", {}).get("kind") ==
                                 "voicemail.new"], 10)
        M.check("inbox: watch sees voicemail.new with new=1 old=0",
                ev and ev[0]["voicemail"][0]["id"] == mid and
                ev[0]["voicemail"][0]["new_count"] == 1 and
                ev[0]["voicemail"][0]["old_count"] == 0, json.dumps(events()))

        # Another user and an attendant without the right are refused; the
        # message stays private.
        rc, j = vm_list(t, tok["bob"], "alice")
        M.check("inbox: bob may not list alice's mailbox (exit 2)", rc == 2,
                json.dumps(j))
        rc, j = vm_list(t, tok["bob"])
        M.check("inbox: bob's own mailbox is empty",
                rc == 0 and not j.get("voicemail"), json.dumps(j))
        rc, j = vm_list(t, tok["carol"], "alice")
        M.check("inbox: attendant with monitor+act only is refused (exit 2)",
                rc == 2, json.dumps(j))
        out = os.path.join(t.dir, "carol.wav")
        rc, _, err = ctl(t, "voicemail", "play", mid, "--user", "alice",
                         "--out", out, token=tok["carol"])
        M.check("inbox: carol may not play it either (no file)",
                rc == 2 and not os.path.exists(out), err)
        rc, _, err = ctl(t, "voicemail", "delete", mid, "--user", "alice",
                         token=tok["carol"])
        M.check("inbox: carol may not delete it", rc == 2, err)
        M.check("inbox: refusals are audited",
                "request=voicemail.list" in t.log() and
                "request=voicemail.act" in t.log(), t.log()[-600:])
        rc, j = vm_list(t, tok["erin"], "alice")
        M.check("inbox: related for VIP only: the FAMILY message is not listed",
                rc == 0 and not j.get("voicemail"), json.dumps(j))
        rc, _, err = ctl(t, "voicemail", "play", mid, "--user", "alice",
                         "--out", os.path.join(t.dir, "erin.wav"),
                         token=tok["erin"])
        M.check("inbox: ... nor found to play (exit 3), and audited",
                rc == 3 and "code FAMILY not delegated by alice" in t.log(),
                err)
        rc, j = vm_list(t, tok["dave"], "alice")
        M.check("inbox: attendant granted related lists it",
                rc == 0 and len(j.get("voicemail", [])) == 1, json.dumps(j))

        # play: the WAV, RIFF, right length
        out = os.path.join(t.dir, "msg.wav")
        rc, so, err = ctl(t, "voicemail", "play", mid, "--out", out,
                          token=tok["alice"])
        ok = rc == 0 and os.path.exists(out)
        head = open(out, "rb").read(4) if ok else b""
        M.check("inbox: play writes a RIFF WAV", ok and head == b"RIFF",
                "%s %s %r" % (so, err, head))
        if ok:
            with wave.open(out) as w:
                dur = w.getnframes() / float(w.getframerate())
                M.check("inbox: played WAV is 8 kHz mono and lasts the "
                        "voice (+-100 ms)", w.getframerate() == 8000 and
                        w.getnchannels() == 1 and
                        abs(dur - A["voice_s"]) <= 0.1,
                        "%.3f s vs %.3f s" % (dur, A["voice_s"]))
            with open(t.wavs()[0], "rb") as a, open(out, "rb") as b:
                M.check("inbox: played bytes equal the stored file",
                        a.read() == b.read())
            small = os.path.join(t.dir, "msg-small.wav")
            rc, so, err = ctl(t, "voicemail", "play", mid, "--out", small,
                              "--chunk", "7000", token=tok["alice"])
            with open(out, "rb") as a:
                M.check("inbox: played in 7000-byte pieces, the same bytes",
                        rc == 0 and open(small, "rb").read() == a.read(),
                        so + err)
        rc, _, err = ctl(t, "voicemail", "play", "no-such-id", "--out",
                         out + "x", token=tok["alice"])
        M.check("inbox: play of an unknown id: exit 3", rc == 3, err)
        rc, _, err = ctl(t, "voicemail", "play", "../../etc", "--out",
                         out + "x", token=tok["alice"])
        M.check("inbox: a bad id is refused (exit 5)", rc == 5, err)

        # heard: counts move, the event says so
        rc, so, err = ctl(t, "voicemail", "heard", mid, token=tok["alice"])
        M.check("inbox: mark heard", rc == 0, so + err)
        rc, j = vm_list(t, tok["alice"])
        M.check("inbox: listed as heard, 0 new 1 heard",
                rc == 0 and j["voicemail"][0]["heard"] and
                j.get("message") == "0 new, 1 heard", json.dumps(j))
        ev = M.wait_for(lambda: [e for e in events()
                                 if e.get("voicemail", [{}])[0].get("change")
                                 == "heard"], 10)
        M.check("inbox: voicemail.changed (heard) with new=0 old=1",
                ev and ev[0]["event"]["kind"] == "voicemail.changed" and
                ev[0]["voicemail"][0]["new_count"] == 0 and
                ev[0]["voicemail"][0]["old_count"] == 1, json.dumps(events()))
        M.check("inbox: heard from tspsctl: NOTIFY Voice-Message 0/1",
                M.wait_for(lambda: dev.saw("0/1"), 10), str(dev.bodies))
        M.check("inbox: MWI counts follow (log: heard new=0 old=1)",
                M.wait_for(lambda: re.search(
                    r"kind=voicemail\.heard id=%s .*new=0 old=1" % mid,
                    t.log()), 5), t.log()[-800:])

        # delete: gone from list and disk; event with counts 0/0
        rc, so, err = ctl(t, "voicemail", "delete", mid, "--user", "alice",
                          token=tok["dave"])
        M.check("inbox: the attendant with the right deletes it", rc == 0,
                so + err)
        rc, j = vm_list(t, tok["alice"])
        M.check("inbox: the mailbox is empty after delete",
                rc == 0 and not j.get("voicemail") and t.wavs() == [],
                json.dumps(j) + str(t.wavs()))
        ev = M.wait_for(lambda: [e for e in events()
                                 if e.get("voicemail", [{}])[0].get("change")
                                 == "deleted"], 10)
        M.check("inbox: voicemail.changed (deleted) with new=0 old=0",
                ev and ev[0]["voicemail"][0]["id"] == mid and
                ev[0]["voicemail"][0]["new_count"] == 0 and
                ev[0]["voicemail"][0]["old_count"] == 0, json.dumps(events()))
        M.check("inbox: deleted: NOTIFY Voice-Message 0/0",
                M.wait_for(lambda: dev.saw("0/0"), 10), str(dev.bodies))
        rc, _, err = ctl(t, "voicemail", "delete", mid, token=tok["alice"])
        M.check("inbox: deleting it again: exit 3", rc == 3, err)
        M.check("inbox: the caller's number is not logged with the events",
                "+4930222222" not in "\n".join(
                    l for l in t.log().splitlines() if "voicemail" in l))
    finally:
        if watch is not None:
            watch.kill()
            watch.wait()
        if dev is not None:
            dev.close()
        t.stop()


class _At:
    """M.sipp's target: tspsd's SIP front instead of the media front."""

    def __init__(self, port):
        self.port = port


def t_mwi_subscribe(A):
    """RFC 3842 SUBSCRIBE at tspsd's SIP front, driven by sipp: a registered
    phone subscribes, gets 200 and NOTIFY 0/0 at once, NOTIFY 1/0 when a
    message is left, and a terminated NOTIFY after Expires: 0; another
    event package gets 489; a device that did not register gets 403."""
    import threading
    t = Tspsd("mwisub", sip=True,
              extra="[sip]\nauth_register = false\n"
                    "[admin]\nidentities = admin\n",
              greetings={"alice": {"FAMILY.wav": A["greet"]}})
    try:
        ctl(t, "user", "add", "alice", "--region", "DE", "--number",
            "+4930111111", check_rc=0)
        at = _At(t.sip_port)
        res = {}

        def phone():
            res["sub"] = M.sipp(at, "mwi_subscribe.xml", "alice", timeout=60,
                                name="mwi_subscribe")
        th = threading.Thread(target=phone)
        th.start()
        started = M.wait_for(
            lambda: "mwi subscription started" in t.log(), 15)
        M.check("mwi subscribe: the registered phone's SUBSCRIBE is taken",
                started, t.log()[-800:])
        rc, err = M.sipp(t, "vm_leave.xml", token(t.key),
                         {"VOICE": A["voice_ulaw"],
                          "WAIT": int(A["voice_s"] * 1000) + 800})
        M.check("mwi subscribe: a message is left meanwhile", rc == 0,
                err[-300:])
        th.join(90)
        rc, err = res.get("sub", (-1, "no result"))
        M.check("mwi subscribe: 200 + NOTIFY 0/0 at once, NOTIFY 1/0 on the "
                "new message, terminated after Expires: 0", rc == 0,
                err[-800:])
        M.check("mwi subscribe: the end is logged",
                "mwi subscription ended" in t.log(), t.log()[-600:])
        rc, err = M.sipp(at, "mwi_badevent.xml", "alice", name="mwi_bad")
        M.check("mwi subscribe: Event presence -> 489 with Allow-Events",
                rc == 0, err[-500:])
        rc, err = M.sipp(at, "mwi_unregistered.xml", "alice", name="mwi_unreg")
        M.check("mwi subscribe: a device not registered to alice -> 403",
                rc == 0, err[-500:])
        rc, err = M.sipp(at, "mwi_badevent.xml", "nobody-here", name="mwi_nob")
        M.check("mwi subscribe: another event for an unknown user still 489",
                rc == 0, err[-500:])
    finally:
        t.stop()


TESTS = [t_key_and_refusals, t_leave_message, t_redirect_flow, t_inbox,
         t_mwi_subscribe]


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--tspsd", required=True)
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--tspsctl", required=True)
    ap.add_argument("--only", default="")
    ARGS = ap.parse_args()
    M.ARGS = ARGS
    M.WORK = tempfile.mkdtemp(prefix="tsps-tspsd-media-")
    try:
        A = M.make_audio()
        for t in TESTS:
            if ARGS.only and t.__name__ != ARGS.only:
                continue
            try:
                t(A)
            except Exception as e:
                import traceback
                traceback.print_exc()
                M.check(t.__name__, False, "exception: %r" % e)
    finally:
        if os.environ.get("MEDIA_KEEP"):
            print("kept", M.WORK)
        else:
            shutil.rmtree(M.WORK, ignore_errors=True)
    failed = [r for r in M.RESULTS if not r[1]]
    print("%d checks, %d failed" % (len(M.RESULTS), len(failed)))
    return 1 if failed or not M.RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
