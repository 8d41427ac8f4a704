#!/usr/bin/python3
"""Media front suite: real SIP + RTP peers against the media front.

Starts tests/media's host program (the media front with a host backed by a
temp folder) on free 127.0.0.1 ports, drives it with sipp (rtp_stream,
play_pcap_audio) and raw UDP, and checks what lands in the store with sox.
Audio is made with espeak-ng and sox at the start. Exit status 0 = passed.
"""
import argparse
import hashlib
import hmac
import json
import os
import queue
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

KEY = "media-test-key"
RESULTS = []
ARGS = None
WORK = None


PORT_LOCK = threading.Lock()
TAKEN = set()


def free_port(span=1):
    """A free run of `span` UDP ports, never handed out twice in this run
    (the tests run in parallel)."""
    for _ in range(200):
        p = random.randint(20000, 60000 - span) & ~1
        with PORT_LOCK:
            if any(q in TAKEN for q in range(p, p + span)):
                continue
            TAKEN.update(range(p, p + span))
        socks = []
        try:
            for i in range(span):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(u)
                u.bind(("127.0.0.1", p + i))
            return p
        except OSError:
            continue
        finally:
            for u in socks:
                u.close()
    raise RuntimeError("no free port")


def free_tcp_port():
    for _ in range(100):
        p = free_port()
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no free TCP port")


def token(user="alice", caller="+4930222222", contact="Anna", code="UNKNOWN",
          history="h-1", lang="en", ttl=600, key=KEY):
    payload = "|".join([user, caller, contact, code, history, lang,
                        str(int(time.time()) + ttl)]).encode()
    mac = hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()
    return "vm." + payload.hex() + "." + mac


def wait_for(cond, timeout=20.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class Host:
    """The media front in tests/media/media_host, with a throwaway folder."""

    def __init__(self, name, extra=(), greetings=None):
        self.name = name
        self.dir = os.path.join(WORK, name)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        for user, files in (greetings or {}).items():
            gd = os.path.join(self.data, "greetings", user)
            os.makedirs(gd, exist_ok=True)
            for fname, src in files.items():
                shutil.copy(src, os.path.join(gd, fname))
        self.rtp = free_port(64)
        self.err_path = os.path.join(self.dir, "host.err")
        self.err = open(self.err_path, "w")
        self.lines = queue.Queue()
        self.events = []
        cmd = [ARGS.host, "--data", self.data, "--key", KEY, "--port", "0",
               "--rtp", "%d-%d" % (self.rtp, self.rtp + 63)] + list(extra)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err,
                                     text=True, bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = self.lines.get(timeout=20)
        m = re.match(r"READY port=(\d+)", line)
        if not m:
            raise RuntimeError("host did not start: %r" % line)
        self.port = int(m.group(1))

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("EVENT "):
                self.events.append(line)
            else:
                self.lines.put(line)

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        out = []
        while True:
            line = self.lines.get(timeout=20)
            out.append(line)
            if line.startswith("END"):
                return out

    def messages(self, user="alice"):
        return [l for l in self.cmd("list " + user) if l.startswith("MSG ")]

    def log(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def stop(self):
        rc = None
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            rc = self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        log = self.log()
        self.err.close()
        # a clean stop: exit 0, and no sanitizer report (leaks included)
        check("%s: host stops cleanly" % self.name, rc == 0 and
              "Sanitizer" not in log and "runtime error" not in log,
              "rc=%s %s" % (rc, log[-1500:]))

    def wavs(self, user="alice"):
        d = os.path.join(self.data, "voicemail", user)
        if not os.path.isdir(d):
            return []
        return sorted(os.path.join(d, f) for f in os.listdir(d))


def sipp(host, scenario, service, subs=None, pause_ms=2000, timeout=60,
         name=None, messages=False):
    """Run one sipp call; returns (rc, log text) (with `messages`, the log
    text ends with every SIP message sipp sent and received)."""
    with open(os.path.join(ARGS.scenarios, scenario)) as f:
        xml = f.read()
    for k, v in (subs or {}).items():
        xml = xml.replace("@%s@" % k, str(v))
    tag = name or scenario
    path = os.path.join(WORK, "%s-%d.xml" % (tag, random.randint(0, 1 << 30)))
    with open(path, "w") as f:
        f.write(xml)
    sp, mp = free_port(), free_port(4)
    errf = path + ".err"
    cmd = ["sipp", "-sf", path, "127.0.0.1:%d" % host.port, "-s", service,
           "-i", "127.0.0.1", "-p", str(sp), "-mp", str(mp), "-m", "1",
           "-d", str(pause_ms), "-timeout", str(timeout), "-timeout_error",
           "-bg", "-trace_err", "-error_file", errf, "-nostdin"]
    msgf = path + ".msg"
    if messages:
        cmd += ["-trace_msg", "-message_file", msgf]
    # -bg forks; run in the foreground instead (the PID must be sipp's own)
    cmd.remove("-bg")
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, timeout=timeout + 30, cwd=WORK)
    err = p.stderr
    for f in (errf, msgf):
        if os.path.exists(f):
            with open(f, errors="replace") as fh:
                err += fh.read()
    return p.returncode, err


def check(name, ok, detail=""):
    RESULTS.append((name, bool(ok), detail))
    print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail if not ok else ""),
          flush=True)
    return ok


def sox_stats(path):
    dur = float(subprocess.run(["soxi", "-D", path], capture_output=True,
                               text=True).stdout.strip() or "0")
    st = subprocess.run(["sox", path, "-n", "stat"], capture_output=True,
                        text=True).stderr
    m = re.search(r"RMS\s+amplitude:\s+([0-9.]+)", st)
    return dur, float(m.group(1)) if m else 0.0


# ---------------------------------------------------------------- audio ---

def make_audio():
    a = {}
    d = os.path.join(WORK, "audio")
    os.makedirs(d)

    def run(*cmd):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    run("espeak-ng", "-w", d + "/voice22.wav",
        "Hello, this is Anna. Please call me back about the contract "
        "tomorrow morning.")
    run("sox", d + "/voice22.wav", "-r", "8000", "-c", "1", d + "/voice.wav")
    run("sox", d + "/voice.wav", "-t", "ul", d + "/voice.ulaw")
    a["voice_wav"], a["voice_ulaw"] = d + "/voice.wav", d + "/voice.ulaw"
    a["voice_s"] = sox_stats(d + "/voice.wav")[0]
    # greetings of known length: 1.0 s default, 0.6 s for FAMILY callers
    run("sox", "-n", "-r", "8000", "-c", "1", d + "/greet.wav", "synth", "1.0",
        "sine", "600", "vol", "0.3")
    run("sox", "-n", "-r", "16000", "-c", "2", d + "/family.wav", "synth",
        "0.6", "sine", "500", "vol", "0.3")
    a["greet"], a["family"] = d + "/greet.wav", d + "/family.wav"
    # voice, then an in-band '#' (941 + 1477 Hz, 200 ms), then silence
    run("sox", "-n", "-r", "8000", "-c", "1", d + "/pound.wav", "synth", "0.2",
        "sine", "941", "synth", "0.2", "sine", "mix", "1477", "vol", "0.5")
    run("sox", "-n", "-r", "8000", "-c", "1", d + "/gap.wav", "trim", "0",
        "0.3")
    run("sox", d + "/voice.wav", d + "/gap.wav", d + "/pound.wav",
        d + "/gap.wav", d + "/gap.wav", "-t", "ul", d + "/voice_pound.ulaw")
    a["voice_pound"] = d + "/voice_pound.ulaw"
    run("sox", "-n", "-r", "8000", "-c", "1", d + "/silence4.wav", "trim", "0",
        "4.0")
    run("sox", d + "/voice.wav", d + "/silence4.wav", "-t", "ul",
        d + "/voice_silence.ulaw")
    a["voice_then_silence"] = d + "/voice_silence.ulaw"
    a["dtmf_pcap"] = "/usr/share/sip-tester/dtmf_2833_pound.pcap"
    # in-band '1' (697 + 1209 Hz, 200 ms) after a short gap, for the IVR
    run("sox", "-n", "-r", "8000", "-c", "1", d + "/one.wav", "synth", "0.2",
        "sine", "697", "synth", "0.2", "sine", "mix", "1209", "vol", "0.5")
    run("sox", d + "/gap.wav", d + "/one.wav", d + "/gap.wav", "-t", "ul",
        d + "/tone1.ulaw")
    a["tone1"] = d + "/tone1.ulaw"
    run("sox", "-n", "-r", "8000", "-c", "1", "-t", "ul",
        d + "/silence12.ulaw", "trim", "0", "12.0")
    a["silence_ulaw"] = d + "/silence12.ulaw"
    return a


# ---------------------------------------------------------------- tests ---

def t_leave_message(A):
    h = Host("leave", greetings={"alice": {"default.wav": A["greet"]}})
    try:
        rc, err = sipp(h, "vm_leave.xml", token(history="h-leave"),
                       {"VOICE": A["voice_ulaw"],
                        "WAIT": int(A["voice_s"] * 1000) + 800})
        check("leave: sipp call completes", rc == 0, err[-500:])
        msgs = wait_for(lambda: h.messages(), 10)
        check("leave: one message listed", len(msgs) == 1, str(msgs))
        wavs = h.wavs()
        check("leave: one WAV in the user's folder", len(wavs) == 1, str(wavs))
        if wavs:
            dur, rms = sox_stats(wavs[0])
            check("leave: duration matches the voice (+-100 ms)",
                  abs(dur - A["voice_s"]) <= 0.1,
                  "recorded %.3f s, sent %.3f s" % (dur, A["voice_s"]))
            check("leave: message is not silence", rms > 0.02, "rms %.4f" % rms)
        check("leave: metadata (caller, code, history)",
              msgs and "caller=+4930222222" in msgs[0] and "code=UNKNOWN" in
              msgs[0] and "history=h-leave" in msgs[0] and "heard=0" in msgs[0],
              str(msgs))
        check("leave: voicemail.new event",
              wait_for(lambda: any("voicemail.new alice" in e and
                                   '"history_id":"h-leave"' in e
                                   for e in h.events), 5), str(h.events))
        check("leave: user greeting played", "greeting=user:default" in h.log(),
              h.log()[-800:])
        tmp = os.path.join(h.data, "voicemail", ".tmp")
        check("leave: no temp file left", os.listdir(tmp) == [],
              str(os.listdir(tmp)))
    finally:
        h.stop()


def t_inbox(A):
    h = Host("inbox", greetings={"alice": {"default.wav": A["greet"]}})
    try:
        for i in range(2):
            rc, err = sipp(h, "vm_leave.xml", token(history="h-%d" % i),
                           {"VOICE": A["voice_ulaw"], "WAIT": 1500})
            check("inbox: call %d" % i, rc == 0, err[-300:])
        msgs = wait_for(lambda: len(h.messages()) == 2 and h.messages(), 10)
        check("inbox: two messages, newest first",
              msgs and "history=h-1" in msgs[0] and "history=h-0" in msgs[1],
              str(msgs))
        ids = [m.split()[1] for m in msgs or []]
        check("inbox: count 2 new", "new=2 old=0" in h.cmd("count alice")[-1])
        check("inbox: mark heard", "rc=0" in h.cmd("heard alice " + ids[0])[-1])
        check("inbox: count 1 new 1 old",
              "new=1 old=1" in h.cmd("count alice")[-1])
        check("inbox: delete", "rc=0" in h.cmd("delete alice " + ids[1])[-1])
        check("inbox: deleted WAV gone", len(h.wavs()) == 1, str(h.wavs()))
        check("inbox: delete unknown -> not found",
              "rc=-4" in h.cmd("delete alice 0000000000000000")[-1])
        check("inbox: bad user name refused",
              "rc=-1" in h.cmd("list ../etc")[-1])
        check("inbox: heard/deleted events",
              any("voicemail.heard" in e for e in h.events) and
              any("voicemail.deleted" in e for e in h.events), str(h.events))
    finally:
        h.stop()


def t_greetings(A):
    h = Host("greet", greetings={"alice": {"default.wav": A["greet"],
                                           "FAMILY.wav": A["family"]}})
    try:
        rc, _ = sipp(h, "vm_early_bye.xml", token(code="FAMILY"), pause_ms=300)
        check("greeting: FAMILY caller call", rc == 0)
        check("greeting: FAMILY caller hears the FAMILY greeting",
              wait_for(lambda: "greeting=user:FAMILY" in h.log(), 5),
              h.log()[-600:])
        rc, _ = sipp(h, "vm_early_bye.xml", token(code="VIP"), pause_ms=300)
        check("greeting: other code falls back to default.wav",
              rc == 0 and wait_for(lambda: "greeting=user:default" in h.log(), 5))
        rc, _ = sipp(h, "vm_early_bye.xml", token(user="bob", lang="de"),
                     pause_ms=300)
        check("greeting: no recording -> espeak-ng default in the user's "
              "language", rc == 0 and wait_for(
                  lambda: "greeting=tts:de" in h.log(), 10), h.log()[-600:])
        cache = os.path.join(h.data, "cache")
        check("greeting: rendered prompt cached",
              any(f.startswith("de-") for f in os.listdir(cache)),
              str(os.listdir(cache)))
    finally:
        h.stop()


def t_hangup_greeting(A):
    h = Host("early")  # the default espeak greeting lasts ~5 s
    try:
        rc, err = sipp(h, "vm_early_bye.xml", token(), pause_ms=1000)
        check("early bye: BYE answered 200", rc == 0, err[-300:])
        time.sleep(0.5)
        check("early bye: no message", h.messages() == [] and h.wavs() == [])
        check("early bye: logged", "hung up during greeting" in h.log())
    finally:
        h.stop()


def t_pound(A):
    h = Host("pound", greetings={"alice": {"default.wav": A["greet"]}})
    try:
        rc, err = sipp(h, "vm_pound.xml", token(history="h-2833"),
                       {"VOICE": A["voice_ulaw"], "DTMF": A["dtmf_pcap"],
                        "WAIT": int(A["voice_s"] * 1000) + 400})
        check("# rfc4733: the front stores and hangs up (BYE)", rc == 0,
              err[-400:])
        wavs = wait_for(lambda: h.wavs(), 5)
        check("# rfc4733: message stored", len(wavs) == 1)
        if wavs:
            dur, rms = sox_stats(wavs[0])
            # the recording ends at '#': voice plus at most the wait after it
            check("# rfc4733: message holds the voice",
                  A["voice_s"] - 0.1 <= dur <= A["voice_s"] + 0.6 and rms > 0.02,
                  "dur %.3f rms %.4f" % (dur, rms))
        check("# rfc4733: ended by pound", "why=pound" in h.log(),
              h.log()[-500:])
    finally:
        h.stop()


def t_pound_inband(A):
    h = Host("inband", greetings={"alice": {"default.wav": A["greet"]}})
    try:
        rc, err = sipp(h, "vm_inband.xml", token(history="h-inband"),
                       {"VOICE": A["voice_pound"]})
        check("# in-band: the front stores and hangs up (BYE)", rc == 0,
              err[-400:])
        wavs = wait_for(lambda: h.wavs(), 5)
        check("# in-band: message stored", len(wavs) == 1)
        if wavs:
            dur, rms = sox_stats(wavs[0])
            check("# in-band: message holds the voice",
                  A["voice_s"] - 0.1 <= dur <= A["voice_s"] + 0.8 and rms > 0.02,
                  "dur %.3f" % dur)
        check("# in-band: detected by spandsp", "why=pound" in h.log())
    finally:
        h.stop()


def t_refusals(A):
    h = Host("refuse")
    try:
        rc, err = sipp(h, "vm_nocodec.xml", token())
        check("no common codec -> 488", rc == 0, err[-300:])
        check("488 logged", "no common codec" in h.log())
        rc, err = sipp(h, "vm_badsdp.xml", token())
        check("malformed SDP -> 400", rc == 0, err[-300:])
        check("400 logged", "malformed SDP" in h.log())
        rc, err = sipp(h, "vm_badtoken.xml", token(key="wrong-key"))
        check("forged token -> 403", rc == 0, err[-300:])
        rc, err = sipp(h, "vm_badtoken.xml", token(ttl=-10))
        check("expired token -> 403", rc == 0, err[-300:])
        check("token never logged", "vm." not in h.log())
        check("no message from refused calls", h.wavs() == [])
    finally:
        h.stop()


def t_rtp_timeout(A):
    h = Host("timeout", ["--rtp-timeout-ms", "1500"])
    try:
        t0 = time.monotonic()
        rc, err = sipp(h, "vm_silent.xml", token(), timeout=40)
        check("rtp timeout: the front hangs up a silent caller", rc == 0,
              err[-300:])
        check("rtp timeout: logged", "no RTP from caller" in h.log())
        check("rtp timeout: no message", h.wavs() == [])
        check("rtp timeout: well before sipp's own timeout",
              time.monotonic() - t0 < 30)
    finally:
        h.stop()


def t_hold(A):
    h = Host("hold")
    try:
        rc, err = sipp(h, "vm_hold.xml", token(), pause_ms=300)
        check("re-INVITE sendonly answered recvonly, then BYE", rc == 0,
              err[-400:])
    finally:
        h.stop()


def t_quota(A):
    h = Host("quota", ["--quota", "1"],
             greetings={"alice": {"default.wav": A["greet"]}})
    try:
        rc, _ = sipp(h, "vm_leave.xml", token(), {"VOICE": A["voice_ulaw"],
                                                  "WAIT": 1500})
        check("quota: first message", rc == 0 and
              wait_for(lambda: len(h.wavs()) == 1, 5))
        rc, err = sipp(h, "vm_full.xml", token(), {"VOICE": A["voice_ulaw"]})
        check("quota: full mailbox plays the prompt and hangs up", rc == 0,
              err[-300:])
        check("quota: prompt was 'mailbox full'", "greeting=prompt:full" in
              h.log() and "full=1" in h.log())
        check("quota: still one message", len(h.wavs()) == 1)
    finally:
        h.stop()


def t_write_fails(A):
    # files may not grow past 20 kB: the WAV write fails as on a full disk
    h = Host("diskfull", ["--fsize-limit", "20000"],
             greetings={"alice": {"default.wav": A["greet"]}})
    try:
        rc, err = sipp(h, "vm_pound.xml", token(),
                       {"VOICE": A["voice_ulaw"], "DTMF": A["dtmf_pcap"],
                        "WAIT": int(A["voice_s"] * 1000) + 400}, timeout=60)
        check("write fails: caller hears 'unavailable', then BYE", rc == 0,
              err[-300:])
        check("write fails: logged", "voicemail not stored" in h.log(),
              h.log()[-500:])
        check("write fails: no file in the user's folder", h.wavs() == [],
              str(h.wavs()))
        tmp = os.path.join(h.data, "voicemail", ".tmp")
        check("write fails: no temp file left", os.listdir(tmp) == [])
        check("write fails: no metadata", h.messages() == [])
        check("write fails: prompt played before BYE",
              "why=prompt-done" in h.log())
    finally:
        h.stop()


def t_mwi(A):
    dev_port = free_port()
    h = Host("mwi", ["--device", "alice=sip:alice@127.0.0.1:%d" % dev_port],
             greetings={"alice": {"default.wav": A["greet"]}})
    try:
        def uas(counts, waiting, out):
            with open(os.path.join(ARGS.scenarios, "mwi_uas.xml")) as f:
                xml = f.read().replace("@COUNTS@", counts).replace(
                    "@WAITING@", waiting)
            path = os.path.join(WORK, "mwi-%s.xml" % counts.replace("/", "_"))
            with open(path, "w") as f:
                f.write(xml)
            p = subprocess.run(["sipp", "-sf", path, "-i", "127.0.0.1", "-p",
                                str(dev_port), "-m", "1", "-timeout", "40",
                                "-timeout_error", "-trace_err", "-nostdin"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, timeout=60, cwd=WORK)
            out.append(p.returncode)
        res = []
        t = threading.Thread(target=uas, args=("1/0", "yes", res))
        t.start()
        time.sleep(0.5)
        rc, _ = sipp(h, "vm_leave.xml", token(), {"VOICE": A["voice_ulaw"],
                                                  "WAIT": 1500})
        t.join(60)
        check("mwi: NOTIFY 1/0 after a new message", rc == 0 and res == [0],
              str(res))
        msgs = h.messages()
        res = []
        t = threading.Thread(target=uas, args=("0/1", "no", res))
        t.start()
        time.sleep(0.5)
        h.cmd("heard alice " + msgs[0].split()[1])
        t.join(60)
        check("mwi: NOTIFY 0/1 after mark heard", res == [0], str(res))
    finally:
        h.stop()


def t_symmetric_rtp(A):
    """Raw UDP caller whose SDP names the wrong port: media follows the real
    source; packets from a second source are ignored after latching."""
    h = Host("symrtp", greetings={"alice": {"default.wav": A["greet"]}})
    sig = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sig.bind(("127.0.0.1", 0))
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    for s in (sig, rtp, other):
        s.settimeout(5)
    try:
        sp = sig.getsockname()[1]
        sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
               "t=0 0\r\nm=audio 9 RTP/AVP 8 0\r\n")
        inv = ("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-sym1\r\n"
               "From: <sip:caller@127.0.0.1:%d>;tag=abc\r\n"
               "To: <sip:vm@127.0.0.1>\r\nCall-ID: sym-1@test\r\n"
               "CSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:%d>\r\n"
               "Max-Forwards: 70\r\nContent-Type: application/sdp\r\n"
               "Content-Length: %d\r\n\r\n%s") % (token(), h.port, sp, sp, sp,
                                                  len(sdp), sdp)
        sig.sendto(inv.encode(), ("127.0.0.1", h.port))
        resp = ""
        end = time.monotonic() + 15
        while " 200 " not in resp.split("\r\n")[0] and time.monotonic() < end:
            resp = sig.recv(8192).decode()
        check("symrtp: answered", " 200 " in resp.split("\r\n")[0])
        m = re.search(r"m=audio (\d+) RTP/AVP (\d+)", resp)
        check("symrtp: PCMA chosen (the offerer's first)", m and m.group(2) == "8")
        port = int(m.group(1))
        totag = re.search(r"^To:.*;tag=([^;\r\n]+)", resp, re.M).group(1)
        ack = ("ACK sip:vm@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-sym2\r\n"
               "From: <sip:caller@127.0.0.1:%d>;tag=abc\r\n"
               "To: <sip:vm@127.0.0.1>;tag=%s\r\nCall-ID: sym-1@test\r\n"
               "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n") % (h.port, sp, sp,
                                                              totag)
        sig.sendto(ack.encode(), ("127.0.0.1", h.port))

        def pkt(seq):
            return struct.pack("!BBHII", 0x80, 8, seq, seq * 160, 0x1234) + \
                b"\xd5" * 160
        rtp.sendto(pkt(1), ("127.0.0.1", port))
        data, src = rtp.recvfrom(2048)
        check("symrtp: media sent to the real source, not the SDP port",
              len(data) == 172 and data[1] & 0x7f == 8)
        before = h.cmd("stats")[0]
        for i in range(50):
            other.sendto(pkt(100 + i), ("127.0.0.1", port))
        other.settimeout(0.5)
        try:
            other.recvfrom(2048)
            got_other = True
        except socket.timeout:
            got_other = False
        after = wait_for(lambda: (lambda s: int(re.search(
            r"dropped=(\d+)", s).group(1)) >= 50 and s)(h.cmd("stats")[0]), 5)
        check("symrtp: wrong-source RTP ignored after latching",
              not got_other and after, before + " / " + str(after))
        # garbage and a flood on the RTP port do not hurt the call
        for i in range(2000):
            rtp.sendto(os.urandom(random.randint(0, 300)), ("127.0.0.1", port))
        data, _ = rtp.recvfrom(2048)
        check("symrtp: still sending after a garbage flood", len(data) == 172)
        bye = ("BYE sip:vm@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-sym3\r\n"
               "From: <sip:caller@127.0.0.1:%d>;tag=abc\r\n"
               "To: <sip:vm@127.0.0.1>;tag=%s\r\nCall-ID: sym-1@test\r\n"
               "CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n") % (h.port, sp, sp,
                                                              totag)
        sig.sendto(bye.encode(), ("127.0.0.1", h.port))
        ok = False
        end = time.monotonic() + 10
        while time.monotonic() < end and not ok:
            r = sig.recv(8192).decode()
            ok = r.startswith("SIP/2.0 200") and "CSeq: 2 BYE" in r
        check("symrtp: BYE answered", ok)
    finally:
        for s in (sig, rtp, other):
            s.close()
        h.stop()


def t_shutdown_keeps_message(A):
    """Stopping the front while a caller is recording keeps the message and
    hangs up with BYE."""
    h = Host("shutdown", greetings={"alice": {"default.wav": A["greet"]}})
    res = []
    t = threading.Thread(target=lambda: res.append(sipp(
        h, "vm_inband.xml", token(history="h-stop"),
        {"VOICE": A["voice_ulaw"]})))
    t.start()
    try:
        # greeting + beep take 1.4 s; then let 1.5 s of voice be recorded
        wait_for(lambda: "answered" in h.log(), 15)
        time.sleep(3.0)
    finally:
        h.stop()
    t.join(60)
    check("shutdown: caller got BYE", res and res[0][0] == 0,
          str(res)[-300:])
    wavs = h.wavs()
    check("shutdown: message kept", len(wavs) == 1, h.log()[-400:])
    if wavs:
        dur, rms = sox_stats(wavs[0])
        check("shutdown: message holds what was said", dur > 0.8 and rms > 0.02,
              "dur %.3f" % dur)


def t_silence_and_max_length(A):
    """Recording ends on silence (trailing silence cut) and at the maximum
    length; the front stores the message and hangs up."""
    h = Host("silence", ["--silence-ms", "1500"],
             greetings={"alice": {"default.wav": A["greet"]}})
    try:
        rc, err = sipp(h, "vm_inband.xml", token(history="h-sil"),
                       {"VOICE": A["voice_then_silence"]})
        check("silence: the front stores and hangs up", rc == 0, err[-300:])
        wavs = wait_for(lambda: h.wavs(), 5)
        check("silence: message stored", len(wavs) == 1)
        if wavs:
            dur, _ = sox_stats(wavs[0])
            check("silence: trailing silence cut off",
                  A["voice_s"] - 0.6 <= dur <= A["voice_s"] + 0.2,
                  "dur %.3f voice %.3f" % (dur, A["voice_s"]))
        check("silence: ended by silence", "why=silence" in h.log())
    finally:
        h.stop()
    h = Host("maxlen", ["--max-ms", "2000"],
             greetings={"alice": {"default.wav": A["greet"]}})
    try:
        rc, err = sipp(h, "vm_inband.xml", token(history="h-max"),
                       {"VOICE": A["voice_ulaw"]})
        check("max length: the front stores and hangs up", rc == 0,
              err[-300:])
        wavs = wait_for(lambda: h.wavs(), 5)
        check("max length: message stored", len(wavs) == 1)
        if wavs:
            dur, _ = sox_stats(wavs[0])
            check("max length: exactly 2 s", abs(dur - 2.0) < 0.001,
                  "dur %.3f" % dur)
        check("max length: logged", "why=max-length" in h.log())
    finally:
        h.stop()


def t_cancel(A):
    """CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE. The
    two datagrams are sent back to back, so the front reads both before the
    greeting (rendered by espeak-ng) is ready."""
    h = Host("cancel")
    sig = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sig.bind(("127.0.0.1", 0))
    sig.settimeout(5)
    try:
        sp = sig.getsockname()[1]
        sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
               "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
        common = ("Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-can1\r\n"
                  "From: <sip:caller@127.0.0.1:%d>;tag=c1\r\n"
                  "To: <sip:vm@127.0.0.1>\r\nCall-ID: cancel-1@test\r\n"
                  % (sp, sp))
        uri = "sip:%s@127.0.0.1:%d" % (token(), h.port)
        inv = ("INVITE %s SIP/2.0\r\n%sCSeq: 1 INVITE\r\n"
               "Contact: <sip:caller@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n"
               "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s"
               % (uri, common, sp, len(sdp), sdp))
        can = ("CANCEL %s SIP/2.0\r\n%sCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\n"
               "Content-Length: 0\r\n\r\n" % (uri, common))
        sig.sendto(inv.encode(), ("127.0.0.1", h.port))
        sig.sendto(can.encode(), ("127.0.0.1", h.port))
        got = []
        end = time.monotonic() + 10
        while time.monotonic() < end and not any(" 487 " in g for g in got):
            try:
                got.append(sig.recv(8192).decode().split("\r\n")[0] + " " +
                           ("CANCEL" if "CSeq: 1 CANCEL" in got[-1:] else ""))
            except socket.timeout:
                break
        lines = [g.strip() for g in got]
        check("cancel: 487 to the INVITE", any("487" in l for l in lines),
              str(lines))
        check("cancel: never answered 200 to the INVITE",
              sum(1 for l in lines if l.startswith("SIP/2.0 200")) <= 1,
              str(lines))
        check("cancel: 200 to the CANCEL",
              any(l.startswith("SIP/2.0 200") for l in lines), str(lines))
        check("cancel: logged", wait_for(
            lambda: "cancelled before answer" in h.log(), 5))
        check("cancel: no message", h.wavs() == [])
    finally:
        sig.close()
        h.stop()


def t_baresip(A):
    """baresip (a real softphone) leaves a message: its audio source is a
    WAV of 2 s of silence (over the greeting + beep) and the voice; at the
    end of the file baresip hangs up."""
    if shutil.which("baresip") is None:
        check("baresip: installed (scripts/deps.sh test)", False)
        return
    h = Host("baresip", greetings={"alice": {"default.wav": A["greet"]}})
    d = os.path.join(h.dir, "baresip")
    os.makedirs(d)
    src = os.path.join(d, "say.wav")
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", d + "/lead.wav",
                    "trim", "0", "2.0"], check=True)
    subprocess.run(["sox", d + "/lead.wav", A["voice_wav"], "-r", "8000", "-c",
                    "1", "-b", "16", "-e", "signed-integer", src], check=True)
    # baresip listens for SIP on UDP and TCP: both must be free
    sip_port, ctrl_port = free_tcp_port(), free_tcp_port()
    with open(os.path.join(d, "config"), "w") as f:
        f.write("""sip_listen 127.0.0.1:%d
net_interface 127.0.0.1
audio_player aufile,%s/unused.wav
audio_source aufile,%s
audio_alert aufile,%s/unused.wav
ausrc_srate 8000
ausrc_channels 1
auplay_srate 8000
auplay_channels 1
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%d
""" % (sip_port, d, src, d, ctrl_port))
    with open(os.path.join(d, "accounts"), "w") as f:
        f.write("<sip:caller@127.0.0.1>;regint=0\n")
    open(os.path.join(d, "contacts"), "w").close()
    log = open(os.path.join(d, "baresip.log"), "w")
    bs = subprocess.Popen(["baresip", "-f", d], stdin=subprocess.DEVNULL,
                          stdout=log, stderr=subprocess.STDOUT)
    events = ""
    try:
        conn = wait_for(lambda: _connect(ctrl_port), 20)
        if not check("baresip: control socket up", conn is not None,
                     open(os.path.join(d, "baresip.log")).read()[-1500:]):
            return
        msg = json.dumps({"command": "dial", "token": "t1",
                          "params": "sip:%s@127.0.0.1:%d" % (
                              token(history="h-baresip"), h.port)}).encode()
        conn.sendall(str(len(msg)).encode() + b":" + msg + b",")
        conn.settimeout(1)
        end = time.monotonic() + 40
        while time.monotonic() < end and "CALL_CLOSED" not in events:
            try:
                events += conn.recv(65536).decode(errors="replace")
            except socket.timeout:
                pass
        conn.close()
        check("baresip: call established and closed",
              "CALL_ESTABLISHED" in events and "CALL_CLOSED" in events,
              events[-300:])
        wavs = wait_for(lambda: h.wavs(), 10)
        check("baresip: message stored", len(wavs) == 1, h.log()[-500:])
        if wavs:
            dur, rms = sox_stats(wavs[0])
            # recording starts 1.4 s into the call: 0.6 s lead + the voice
            want = 0.6 + A["voice_s"]
            check("baresip: message length about the voice",
                  abs(dur - want) <= 0.5 and rms > 0.02,
                  "dur %.3f want %.3f rms %.4f" % (dur, want, rms))
        # the WAV is renamed into place just before the metadata commit
        check("baresip: metadata", wait_for(lambda: any(
            "history=h-baresip" in m for m in h.messages()), 10))
    finally:
        bs.terminate()
        try:
            bs.wait(timeout=5)
        except subprocess.TimeoutExpired:
            bs.kill()
            bs.wait()
        log.close()
        h.stop()


# ------------------------------------------------------------------ IVR ---

IVR_MENUS = """# two levels; short timeouts so the tests stay quick
menu main
prompt text Press 1 for my mobile, 3 for sales.
timeout 1
retries 1
default voicemail
digit 1 ring devices=mobile
digit 3 menu sales

menu sales
prompt text Sales. Press 1 for the desk.
timeout 1
retries 0
default forward sip:sales@example.org
digit 1 ring devices=desk
"""


def ivr_token(**kw):
    return "ivr." + token(**kw)[3:]


def ivr_host(name):
    h = Host(name)
    path = os.path.join(h.dir, "menus.txt")
    with open(path, "w") as f:
        f.write(IVR_MENUS)
    out = h.cmd("ivr alice " + path)
    check("ivr %s: menus stored" % name, "END ivr rc=0" in out[-1], out)
    return h


def pcap(d):
    return "/usr/share/sip-tester/dtmf_2833_%s.pcap" % d


def ivr_steps(*steps):
    """("pause", ms) | ("pcap", digit) | ("tone", ulaw file)"""
    out = []
    for kind, v in steps:
        if kind == "pause":
            out.append('<pause milliseconds="%d"/>' % v)
        elif kind == "pcap":
            out.append('<nop><action><exec play_pcap_audio="%s"/></action>'
                       '</nop>' % pcap(v))
        else:
            out.append('<nop><action><exec rtp_stream="%s,1,0"/></action>'
                       '</nop>' % v)
    return "\n  ".join(out)


def ivr_call(h, steps, expect, name):
    return sipp(h, "ivr_call.xml", ivr_token(history="h-" + name),
                {"ACTIONS": ivr_steps(*steps), "EXPECT": expect},
                name="ivr_" + name, timeout=60)


def t_ivr_rfc4733(A):
    h = ivr_host("ivr4733")
    try:
        rc, err = ivr_call(h, [("pause", 500), ("pcap", "1")],
                           r"sip:ring\.1@ivr\.test;menu=main", "4733")
        check("ivr rfc4733: digit 1 in early media -> 302 ring", rc == 0,
              err[-400:])
        check("ivr rfc4733: trace logged",
              "IVR digit 1 -> ring devices=mobile" in h.log(), h.log()[-600:])
    finally:
        h.stop()


def t_ivr_inband(A):
    h = ivr_host("ivrinband")
    try:
        rc, err = ivr_call(h, [("pause", 300), ("tone", A["tone1"])],
                           r"sip:ring\.1@ivr\.test;menu=main", "inband")
        check("ivr in-band: tone 1 in early media -> 302 ring", rc == 0,
              err[-400:])
    finally:
        h.stop()


def t_ivr_invalid(A):
    h = ivr_host("ivrinvalid")
    try:
        # 9 is not offered: replay once (retries 1); 7 neither: the default
        # (two different events: a replayed pcap repeats its RTP timestamp,
        # which RFC 4733 reads as the same event)
        rc, err = ivr_call(h, [("pause", 300), ("pcap", "9"), ("pause", 1500),
                               ("pcap", "7")],
                           r"sip:voicemail\.default@ivr\.test;menu=main",
                           "invalid")
        check("ivr invalid digit: replay, then default (302 voicemail)",
              rc == 0, err[-400:])
        log = h.log()
        check("ivr invalid digit: replayed once",
              'msg="ivr invalid digit" menu=main tries=1' in log and
              'msg="ivr invalid digit" menu=main tries=2' in log, log[-600:])
    finally:
        h.stop()


def t_ivr_timeout(A):
    h = ivr_host("ivrtimeout")
    try:
        # a UA that plays early media sends RTP (silence here), no digit
        rc, err = ivr_call(h, [("tone", A["silence_ulaw"])],
                           r"sip:voicemail\.default@ivr\.test;menu=main",
                           "timeout")
        check("ivr no digit: timeout, replay, then default", rc == 0,
              err[-400:])
        log = h.log()
        check("ivr no digit: replayed after the first timeout",
              'msg="ivr timeout" menu=main tries=1' in log and
              'msg="ivr timeout" menu=main tries=2' in log, log[-600:])
    finally:
        h.stop()


def t_ivr_nested(A):
    h = ivr_host("ivrnested")
    try:
        rc, err = ivr_call(h, [("pause", 300), ("pcap", "3"), ("pause", 800),
                               ("pcap", "1")],
                           r"sip:ring\.1@ivr\.test;menu=main\.sales", "nested")
        check("ivr nested: 3 then 1 -> 302 from the sub-menu", rc == 0,
              err[-400:])
        rc, err = ivr_call(h, [("pause", 300), ("pcap", "3")],
                           r"sip:forward\.default@ivr\.test;menu=main\.sales",
                           "nested_default")
        check("ivr nested: sub-menu timeout -> its own default", rc == 0,
              err[-400:])
    finally:
        h.stop()


def t_ivr_refer(A):
    h = ivr_host("ivrrefer")
    try:
        rc, err = sipp(h, "ivr_refer.xml", ivr_token(history="h-refer"),
                       {"DTMF": pcap("1"),
                        "EXPECT": r"sip:ring\.1@ivr\.test;menu=main"},
                       name="ivr_refer", timeout=60)
        check("ivr REFER fallback: 200, digit, REFER, 202, NOTIFY, BYE",
              rc == 0, err[-400:])
        log = h.log()
        check("ivr REFER fallback: answered because no early media",
              "REFER fallback" in log and "why=transferred" in log,
              log[-800:])
    finally:
        h.stop()


def t_ivr_refusals(A):
    h = Host("ivrbad")
    try:
        path = os.path.join(h.dir, "bad.txt")
        with open(path, "w") as f:
            f.write("menu main\nprompt text hi\ndefault voicemail\n"
                    "digit 1 menu nowhere\n")
        out = h.cmd("ivr alice " + path)
        check("ivr malformed menus refused with the reason",
              "rc=-1" in out[-1] and "no menu named nowhere" in out[-1], out)
        # no menus stored: the IVR INVITE is refused
        rc, err = sipp(h, "ivr_refused.xml", ivr_token(),
                       name="ivr_nomenu")
        check("ivr without menus -> 404", rc == 0, err[-300:])
    finally:
        h.stop()


def _connect(port):
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return None


TESTS = [t_baresip, t_silence_and_max_length, t_cancel, t_shutdown_keeps_message, t_leave_message, t_inbox, t_greetings, t_hangup_greeting, t_pound,
         t_pound_inband, t_refusals, t_rtp_timeout, t_hold, t_quota,
         t_write_fails, t_mwi, t_symmetric_rtp, t_ivr_rfc4733, t_ivr_inband,
         t_ivr_invalid, t_ivr_timeout, t_ivr_nested, t_ivr_refer,
         t_ivr_refusals]


def main():
    global ARGS, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("-k", default="")
    ARGS = ap.parse_args()
    WORK = tempfile.mkdtemp(prefix="tsps-media-")
    try:
        A = make_audio()

        def one(t):
            try:
                t(A)
            except Exception as e:  # a crash in one test fails it, not all
                import traceback
                traceback.print_exc()
                check(t.__name__, False, "exception: %r" % e)
        todo = [t for t in TESTS if not ARGS.k or ARGS.k in t.__name__]
        # independent hosts on their own ports: a few at a time
        with ThreadPoolExecutor(max_workers=int(
                os.environ.get("MEDIA_TEST_JOBS", "4"))) as ex:
            list(ex.map(one, todo))
    finally:
        if os.environ.get("MEDIA_KEEP"):
            print("kept", WORK)
        else:
            shutil.rmtree(WORK, ignore_errors=True)
    failed = [r for r in RESULTS if not r[1]]
    print("%d checks, %d failed" % (len(RESULTS), len(failed)))
    return 1 if failed or not RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
