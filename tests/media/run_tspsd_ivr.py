#!/usr/bin/python3
"""A user's IVR inside tspsd, end to end, with real peers.

Starts the real tspsd ([media] and [sip] enabled, demo data) on free
127.0.0.1 ports and:
  - edits the demo user's menus with tspsctl (ivr get/put/remove): refusals
    of bad text (nothing stored), the canonical form, rights of an attendant;
  - routes a withheld caller to `ivr main` (a code set with tspsctl): the
    SIP front's 302 points at the media front's IVR; sipp follows it, hears
    the menu in early media and presses 1 (RFC 4733): the INVITE ends in a
    302 to the digit's forward target, with the trace in the log;
  - presses 2 (voicemail): the 302 points at tsps's own voicemail, and a
    message is left there, stored with the call's code.
Exit status 0 = passed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_media_tests as M  # noqa: E402
import run_tspsd_media as T  # noqa: E402

MENUS = """# the demo user's IVR (test)
menu main
prompt text Press 1 for my mobile, 2 to leave a message.
timeout 2
retries 1
default voicemail
digit 1 forward +4930123
digit 2 voicemail
"""

# digit 1 given twice: refused with its line, nothing stored
BAD = "menu main\nprompt text Hello\ndigit 1 voicemail\ndigit 1 reject\n"


def ctl(t, *args, stdin=None, token=None):
    cmd = [ARGS.tspsctl, "--data", t.datadir, "--timeout", "10"]
    if token is not None:
        cmd += ["--token", token]
    p = subprocess.run(cmd + list(args), input=stdin, capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def t_edit(t):
    rc, out = ctl(t, "ivr", "get", "demo")
    M.check("ivr get: no menus yet -> not found",
            rc != 0 and "no IVR menus" in out, "rc=%d %s" % (rc, out))
    bad = os.path.join(t.dir, "bad.txt")
    with open(bad, "w") as f:
        f.write(BAD)
    rc, out = ctl(t, "ivr", "put", "demo", bad)
    M.check("ivr put: bad text refused with its line",
            rc != 0 and re.search(r"line 4: .*1", out) is not None,
            "rc=%d %s" % (rc, out))
    rc, out = ctl(t, "ivr", "get", "demo")
    M.check("ivr put: nothing stored after a refusal",
            rc != 0 and "no IVR menus" in out, out)
    rc, out = ctl(t, "ivr", "put", "nosuchuser", "-", stdin=MENUS)
    M.check("ivr put: unknown user refused", rc != 0 and "nosuchuser" in out,
            out)
    rc, out = ctl(t, "ivr", "put", "demo", "-", stdin=MENUS)
    M.check("ivr put: menus stored (from stdin), canonical form answered",
            rc == 0 and "menu main" in out and "digit 1 forward +4930123"
            in out and "# the demo user's IVR" not in out,
            "rc=%d %s" % (rc, out))
    stored = out
    rc, out = ctl(t, "ivr", "get", "demo")
    M.check("ivr get: the stored canonical form", rc == 0 and out == stored,
            "rc=%d %r vs %r" % (rc, out, stored))
    # the canonical form stores again unchanged
    rc, out = ctl(t, "ivr", "put", "demo", "-", stdin=stored)
    M.check("ivr put: canonical form round-trips", rc == 0 and out == stored,
            out)
    # an attendant: nothing without a delegation, read with monitor, never
    # write (menus are the user's own settings)
    rc, tok = ctl(t, "token", "issue", "att1", "--role", "attendant")
    tok = tok.strip().splitlines()[-1] if rc == 0 else ""
    M.check("token for an attendant", rc == 0 and tok != "", tok)
    rc, out = ctl(t, "ivr", "get", "demo", token=tok)
    M.check("ivr get: attendant without delegation refused (exit 2)",
            rc == 2, "rc=%d %s" % (rc, out))
    rc, out = ctl(t, "delegate", "demo", "att1", "--monitor", "--act")
    M.check("delegation demo -> att1", rc == 0, out)
    rc, out = ctl(t, "ivr", "get", "demo", token=tok)
    M.check("ivr get: attendant with monitor reads the menus",
            rc == 0 and out == stored, "rc=%d %s" % (rc, out))
    rc, out = ctl(t, "ivr", "put", "demo", "-", stdin=MENUS, token=tok)
    M.check("ivr put: attendant refused even with act (exit 2)", rc == 2,
            "rc=%d %s" % (rc, out))
    rc, out = ctl(t, "ivr", "remove", "demo", token=tok)
    M.check("ivr remove: attendant refused (exit 2)", rc == 2,
            "rc=%d %s" % (rc, out))
    M.check("refusals audited", "ivr.put" in t.log(), t.log()[-600:])


def ivr_redirect(t):
    resp = T.invite_302(t.sip_port)
    m = re.search(r"^Contact:\s*<sip:(ivr\.[0-9a-f]+\.[0-9a-f]{64})"
                  r"@127\.0\.0\.1:(\d+)>", resp, re.M)
    return resp, m


def t_route(t, A):
    rc, out = ctl(t, "code", "set", "demo", "WITHHELD", "ivr", "main")
    M.check("code WITHHELD -> ivr main", rc == 0, "rc=%d %s" % (rc, out))
    resp, m = ivr_redirect(t)
    M.check("ivr: withheld caller -> 302 to the media front's IVR",
            resp.startswith("SIP/2.0 302") and m is not None and
            int(m.group(2)) == t.port, resp[:600])
    if m is None:
        return
    rc, err = M.sipp(t, "ivr_call.xml", m.group(1),
                     {"ACTIONS": M.ivr_steps(("pause", 500), ("pcap", "1")),
                      "EXPECT": r"tel:\+4930123"}, name="tspsd_ivr1",
                     timeout=60)
    M.check("ivr: menu in early media, digit 1 -> 302 to the forward target",
            rc == 0, err[-500:])
    M.check("ivr: trace says which digit went where",
            M.wait_for(lambda: re.search(
                r"IVR main digit 1 -> forward \+4930123", t.log()), 10),
            t.log()[-800:])
    ok = M.wait_for(lambda: "IVR main digit 1 -> forward +4930123" in
                    ctl(t, "--json", "history", "demo")[1], 10)
    M.check("ivr: the choice is in the call's history (the call log shows it)",
            ok, ctl(t, "--json", "history", "demo")[1][-800:])

    # digit 2: tsps's own voicemail, with the call's facts
    resp, m = ivr_redirect(t)
    if m is None:
        M.check("ivr: second call redirected", False, resp[:300])
        return
    rc, err = M.sipp(t, "ivr_call.xml", m.group(1),
                     {"ACTIONS": M.ivr_steps(("pause", 500), ("pcap", "2")),
                      "EXPECT": r"sip:(vm\.[0-9a-f]+\.[0-9a-f]{64})@127\.0\.0"
                                r"\.1:%d" % t.port}, name="tspsd_ivr2",
                     timeout=60, messages=True)
    M.check("ivr: digit 2 -> 302 to tsps's own voicemail", rc == 0,
            err[-500:])
    vm = re.search(r"Contact: *<sip:(vm\.[0-9a-f]+\.[0-9a-f]{64})@", err)
    M.check("ivr -> voicemail: the 302's Contact seen", vm is not None,
            err[-800:])
    if vm is None:
        return
    rc, err = M.sipp(t, "vm_leave.xml", vm.group(1),
                     {"VOICE": A["voice_ulaw"],
                      "WAIT": int(A["voice_s"] * 1000) + 800})
    M.check("ivr -> voicemail: the caller leaves a message", rc == 0,
            err[-500:])
    M.check("ivr -> voicemail: stored with the call's code",
            M.wait_for(lambda: re.search(
                r"kind=voicemail\.new id=\S+ code=WITHHELD", t.log()), 10),
            t.log()[-800:])

    rc, out = ctl(t, "ivr", "remove", "demo")
    M.check("ivr remove: the user's menus removed", rc == 0, out)
    rc, out = ctl(t, "ivr", "get", "demo")
    M.check("ivr get after remove: not found",
            rc != 0 and "no IVR menus" in out, out)


class Front:
    """sipp's target: tspsd's SIP front instead of the media front."""

    def __init__(self, port):
        self.port = port


def t_in_place(A):
    t = T.Tspsd("inplace", sip=True,
                greetings={"demo": {"default.wav": A["greet"]}},
                extra="answer_in_place = true\n[admin]\nidentities = admin\n")
    try:
        rc, out = ctl(t, "code", "set", "demo", "UNKNOWN", "voicemail")
        M.check("in place: code UNKNOWN -> voicemail", rc == 0, out)
        rc, err = M.sipp(Front(t.sip_port), "vm_leave.xml", "+12125550100",
                         {"VOICE": A["voice_ulaw"],
                          "WAIT": int(A["voice_s"] * 1000) + 800},
                         name="inplace", messages=True)
        M.check("in place: the call to tspsd's number is answered (200, no "
                "302) and the message left", rc == 0 and "SIP/2.0 302" not in
                err, err[-800:])
        wavs = M.wait_for(lambda: t.wavs("demo"), 10)
        M.check("in place: one WAV in the demo user's mailbox",
                wavs and len(wavs) == 1, str(wavs))
        if wavs:
            dur, rms = M.sox_stats(wavs[0])
            M.check("in place: duration matches the voice (+-100 ms)",
                    abs(dur - A["voice_s"]) <= 0.1,
                    "recorded %.3f s, sent %.3f s" % (dur, A["voice_s"]))
        M.check("in place: relayed, logged with the call",
                "call relayed to the media front" in t.log(), t.log()[-600:])
        M.check("in place: stored with the caller's code",
                M.wait_for(lambda: re.search(
                    r"kind=voicemail\.new id=\S+ code=UNKNOWN", t.log()), 10),
                t.log()[-800:])
    finally:
        t.stop()


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--tspsd", required=True)
    ap.add_argument("--tspsctl", required=True)
    ap.add_argument("--scenarios", required=True)
    ARGS = ap.parse_args()
    M.ARGS = T.ARGS = ARGS
    M.WORK = tempfile.mkdtemp(prefix="tsps-tspsd-ivr-")
    try:
        A = M.make_audio()
        t = T.Tspsd("ivr", sip=True, extra="[admin]\nidentities = admin\n")
        try:
            t_edit(t)
            t_route(t, A)
        except Exception as e:
            import traceback
            traceback.print_exc()
            M.check("tspsd ivr", False, "exception: %r" % e)
        finally:
            t.stop()
        try:
            t_in_place(A)
        except Exception as e:
            import traceback
            traceback.print_exc()
            M.check("tspsd in place", False, "exception: %r" % e)
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
