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
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

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

    def __init__(self, name, extra="", greetings=None):
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
        self.conf = os.path.join(self.dir, "tspsd.conf")
        with open(self.conf, "w") as f:
            f.write("[tspsd]\ndata_dir = %s\n[control]\nport = 0\n"
                    "[metrics]\nport = -1\n[sip]\nenabled = false\n"
                    "[web]\nport = -1\n[media]\nenabled = true\n"
                    "sip_port = %d\nrtp_port_min = %d\nrtp_port_max = %d\n%s"
                    % (self.datadir, M.free_port(), rtp, rtp + 63, extra))
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


TESTS = [t_key_and_refusals, t_leave_message]


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--tspsd", required=True)
    ap.add_argument("--scenarios", required=True)
    ARGS = ap.parse_args()
    M.ARGS = ARGS
    M.WORK = tempfile.mkdtemp(prefix="tsps-tspsd-media-")
    try:
        A = M.make_audio()
        for t in TESTS:
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
