"""The control client against a real tspsd started here (tspsd_fixture):
TLS with client certificates and tokens, every request of the protocol,
an attendant's limited rights, revoked tokens, and the event stream while
a real SIP call (sipp) is held and then overridden from Python."""
import os
import re
import socket
import ssl
import subprocess
import sys
import time

import pytest

from tsps import control
from tsps.control import pb
from tspsd_fixture import Tspsd, free_port

ANN = "+49301234567"
TSPSD = os.environ.get("TSPS_TSPSD")
SIPP = os.environ.get("TSPS_SIPP")
SRC = os.environ.get("TSPS_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
SCEN = os.path.join(SRC, "tests", "sip", "scenarios")
EXAMPLES = os.path.join(SRC, "examples", "python")

pytestmark = pytest.mark.skipif(not TSPSD, reason="TSPS_TSPSD (tspsd) not "
                                "built: tests/python.cmake sets it")


@pytest.fixture(scope="module")
def daemon():
    d = Tspsd(TSPSD)
    try:
        d.start()
        with d.connect("admin") as a:
            a.user_put(user=pb.User(id="ann", region="DE",
                                    tz="Europe/Berlin", numbers=[ANN],
                                    voicemail_uri="sip:vm@127.0.0.1"))
            a.user_put(user=pb.User(id="bob", region="DE",
                                    numbers=["+49307654321"]))
            a.code_set(rule=pb.Rule(user="ann", code="UNKNOWN", status="any",
                                    method="ask timeout=60 then voicemail"))
            a.delegate(delegation=pb.Delegation(user="ann", attendant="att",
                                                monitor=True, act=True))
        yield d
    finally:
        rc = d.stop()
        d.cleanup()
    assert rc == 0, "tspsd did not shut down cleanly"


def test_tls_client_certificate(daemon):
    with daemon.connect("admin") as a:
        assert (a.identity, a.role) == ("admin", "admin")
        assert a.server.startswith("tspsd")
        assert {u.id for u in a.users()} >= {"ann", "bob"}
    with daemon.connect("ann") as c:
        assert (c.identity, c.role) == ("ann", "user")
        assert [u.id for u in c.users()] == ["ann"]
        r = c.route("+4940111222", ANN)
        assert r.user == "ann" and r.code == "UNKNOWN"
        assert "ask" in r.method and "called" in r.explain


def test_tls_is_verified(daemon):
    other = os.path.join(daemon.certs, "other.pem")
    with pytest.raises(ssl.SSLError):
        daemon.connect("admin", ca=other)         # the server is not ours
    with pytest.raises(ssl.SSLCertVerificationError):
        daemon.connect("admin", server_hostname="not-this-host")


def test_token_and_revocation(daemon):
    with daemon.connect("admin") as a:
        token = a.token_issue("bob")
    assert token.startswith("tsps_")
    c = daemon.connect(token=token)               # no certificate
    assert (c.identity, c.role) == ("bob", "user")
    assert [u.id for u in c.users()] == ["bob"]
    with daemon.connect("admin") as a:
        r = a.token_revoke(identity="bob")
        assert "revoked" in r.message
    with pytest.raises(control.ConnectionClosedError):
        for _ in range(50):                       # closed after the reply
            c.users()
            time.sleep(0.1)
    c.close()
    with pytest.raises(control.UnauthenticatedError) as ei:
        daemon.connect(token=token)
    assert ei.value.code == "UNAUTHENTICATED"
    with pytest.raises(TypeError):
        daemon.connect(token=12345)


def test_anonymous_may_only_say_hello(daemon):
    with daemon.connect() as c:
        assert c.role == "anonymous"
        with pytest.raises(control.UnauthenticatedError):
            c.users()


def test_attendant_has_limited_rights(daemon):
    with daemon.connect("att") as c:
        assert c.identity == "att"
        r = c.route("+4940111222", ANN)            # monitor of ann
        assert r.user == "ann"
        assert isinstance(c.calls_live("ann"), list)  # may see ann's calls
        with pytest.raises(control.DeniedError):
            c.calls_live("bob")
        with pytest.raises(control.DeniedError) as ei:
            c.user_put(user=pb.User(id="evil", region="DE"))
        assert ei.value.code == "DENIED" and isinstance(ei.value,
                                                        PermissionError)
        with pytest.raises(control.DeniedError):
            c.code_set(rule=pb.Rule(user="ann", code="VIP", status="any",
                                    method="forward +4930666"))
        with pytest.raises(control.DeniedError):
            c.history("bob")                       # no delegation from bob
        with pytest.raises(control.DeniedError):
            c.token_issue("att", "admin")
        with pytest.raises(control.DeniedError):
            c.route("+4940111222", "+49307654321")  # bob's number


# Requests that need more than an empty message to mean anything; the rest
# are sent empty. Whatever the answer, it must be a protocol answer (OK or
# an error code), never UNSUPPORTED or a dead connection.
ARGS = {
    "user_get": dict(id="ann"), "code_list": dict(user="ann"),
    "status_get": dict(user="ann"), "contact_list": dict(user="ann"),
    "history": dict(user="ann"), "calls_live": dict(user="ann"),
    "delegation_list": dict(user="ann"),
    "route": {"from": "+4940111", "to": ANN},
    "status_set": dict(user="ann", status="available"),
    "number_add": dict(user="bob", number="+49307654322"),
    "number_remove": dict(user="bob", number="+49307654322"),
    "code_set": dict(rule=pb.Rule(user="bob", code="X", status="any",
                                  method="voicemail")),
    "code_delete": dict(rule=pb.Rule(user="bob", code="X", status="any")),
    "token_issue": dict(identity="nobody-else"),
    "token_revoke": dict(identity="nobody-else"),
    "device_add": dict(user="bob", username="bobdesk", label="desk",
                       password="s3cret-pw"),
    "device_remove": dict(user="bob", username="bobdesk"),
    "explain": dict(call_id=999999), "call_act": dict(call_id=999999,
                                                      action="voicemail"),
    "user_delete": dict(id="nobody"), "source_remove": dict(name="nosuch"),
    "source_sync": dict(name="nosuch"),
    "login_link": dict(user="bob"),
    "web_password": dict(user="bob", password=""),
}


def test_every_request_of_the_protocol(daemon):
    names = [n for n in control.REQUESTS if n != "hello"]
    assert len(names) == len(pb.Request.DESCRIPTOR.oneofs_by_name["body"]
                             .fields) - 1
    answers = {}
    with daemon.connect("admin") as a:
        for name in names:
            if name == "subscribe":
                continue
            assert callable(getattr(a, name))
            try:
                r = a.request(name, **ARGS.get(name, {}))
                answers[name] = "OK"
                assert r.code == pb.OK
            except control.UnsupportedError as e:
                pytest.fail("%s: %s" % (name, e))
            except control.ControlError as e:
                answers[name] = e.code
        assert a.users()                           # still connected
    with daemon.connect("admin") as a:
        assert a.subscribe() > 0
    assert answers["user_get"] == "OK" and answers["route"] == "OK"
    assert answers["explain"] == "NOT_FOUND"
    assert set(answers) == set(names) - {"subscribe"}


def test_bad_requests_raise_clear_errors(daemon):
    with daemon.connect("admin") as a:
        with pytest.raises(ValueError, match="no request"):
            a.request("drop_tables")
        with pytest.raises(TypeError):
            a.request("user_get", nope=1)
        with pytest.raises(control.InvalidError):
            a.code_set(rule=pb.Rule(user="ann", code="VIP", status="any",
                                    method="ring loudly"))
        with pytest.raises(control.NotFoundError):
            a.user_get(id="ghost")
        assert a.user_get(id="ann").users[0].id == "ann"


def test_dead_connection(daemon):
    c = daemon.connect("admin")
    c._sock.close()                                # pull the plug
    with pytest.raises((control.ConnectionClosedError, OSError)):
        c.users()
    c.close()
    with pytest.raises(control.ConnectionClosedError):
        c.users()
    with pytest.raises(OSError):
        control.connect("127.0.0.1", free_port(), ca=daemon.ca, timeout=2)


# ---- the event stream while a real SIP call is held ---------------------------


def sipp(scenario, port, keys, workdir):
    args = [SIPP, "-sf", os.path.join(SCEN, scenario), "127.0.0.1:%d" % port,
            "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)), "-m",
            "1", "-nostdin", "-timeout", "60", "-timeout_error", "-trace_msg"]
    for k, v in keys.items():
        args += ["-key", k, v]
    os.makedirs(workdir, exist_ok=True)
    out = open(os.path.join(workdir, "out.txt"), "w")
    return subprocess.Popen(args, cwd=workdir, stdout=out,
                            stderr=subprocess.STDOUT)


def sipp_messages(workdir):
    text = ""
    for f in os.listdir(workdir):
        if f.endswith("_messages.log"):
            text += open(os.path.join(workdir, f), errors="replace").read()
    return text


def next_event_of(client, kind, call_id=None, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %s event" % kind)
        ev = client.next_event(timeout=left)
        if ev.kind == kind and (call_id is None or ev.call_id == call_id):
            return ev


@pytest.mark.skipif(not SIPP, reason="sipp (Debian sip-tester) missing")
def test_events_while_sipp_call_is_held_then_overridden(daemon, tmp_path):
    with daemon.connect("att") as att:
        events = att.watch("ann", timeout=30)   # subscribed now
        p = sipp("invite_held.xml", daemon.sip_port,
                 {"called": ANN, "caller": "+13125550042",
                  "caller_name": "Held Caller"}, str(tmp_path / "sipp"))
        try:
            ev = next(events)
            while ev.kind != "call.offered":
                ev = next(events)
            assert ev.user == "ann" and ev.outcome == "pending"
            assert ev.decision.caller == "+13125550042"
            cid = ev.call_id
            assert cid in [c.call_id for c in att.calls_live("ann")]
            d = att.call_act(cid, "forward +4930999999")
            assert d.overridden and d.actor == "att"
            up = next_event_of(att, "call.updated", cid)
            assert up.decision.actor == "att"
            end = next_event_of(att, "call.ended", cid)
            assert end.outcome in ("redirected", "answered")
            assert p.wait(timeout=60) == 0, open(
                str(tmp_path / "sipp" / "out.txt")).read()[-2000:]
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        msgs = sipp_messages(str(tmp_path / "sipp"))
        assert re.search(r"SIP/2.0 302", msgs), msgs[-3000:]
        assert "4930999999" in msgs
        with pytest.raises(control.NotFoundError):
            att.call_act(cid, "voicemail")        # the call is over
    with daemon.connect("ann") as ann:
        e = ann.explain(cid)
        assert e.actor == "att" and e.overridden


@pytest.mark.skipif(not SIPP, reason="sipp (Debian sip-tester) missing")
def test_crm_example_overrides_a_held_call(daemon, tmp_path):
    """examples/python/crm_integration.py, as a user would run it: it
    watches ann's calls as the attendant and forwards a known CRM caller."""
    crm = tmp_path / "crm.csv"
    crm.write_text("number,name,action\n+13125550077,Big Customer,"
                   "forward +4930888888\n")
    with daemon.connect("admin") as a:
        token = a.token_issue("att")
    env = dict(os.environ, TSPS_TOKEN=token)
    ex = subprocess.Popen(
        [sys.executable, os.path.join(EXAMPLES, "crm_integration.py"),
         "--port", str(daemon.port), "--ca", daemon.ca, "--user", "ann",
         "--crm", str(crm), "--max-calls", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # wait until the example's subscription is live: its first line
        line = ex.stdout.readline()
        assert "watching" in line, line
        p = sipp("invite_held.xml", daemon.sip_port,
                 {"called": ANN, "caller": "+13125550077",
                  "caller_name": "Big"}, str(tmp_path / "sipp"))
        assert p.wait(timeout=60) == 0
        out, _ = ex.communicate(timeout=30)
    finally:
        for proc in (ex,):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert ex.returncode == 0, out
    assert "Big Customer" in out and "forward +4930888888" in out
    assert "4930888888" in sipp_messages(str(tmp_path / "sipp"))


def test_wallboard_example(daemon):
    """examples/python/wallboard.py follows a live call (route --live)."""
    cert = os.path.join(daemon.certs, "admin")
    wb = subprocess.Popen(
        [sys.executable, os.path.join(EXAMPLES, "wallboard.py"), "--port",
         str(daemon.port), "--ca", daemon.ca, "--cert", cert + ".pem",
         "--key", cert + ".key", "--max-events", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "wallboard for admin" in wb.stdout.readline()
        with daemon.connect("admin") as a:
            d = a.route("+4940777888", ANN, caller_name="Wally", live=True)
            assert d.call_id > 0 and d.outcome == "pending"
            a.call_act(d.call_id, "voicemail")
        out, _ = wb.communicate(timeout=30)
    finally:
        if wb.poll() is None:
            wb.kill()
            wb.wait()
    assert wb.returncode == 0, out
    lines = out.strip().splitlines()
    assert re.search(r"ann +offered +1 +held +1 +ended +1 +last Wally",
                     lines[-1]), out


def test_watch_ends_when_the_token_is_revoked(daemon):
    with daemon.connect("admin") as a:
        token = a.token_issue("att")
    with daemon.connect(token=token) as w:
        events = w.watch("ann", timeout=30)
        with daemon.connect("admin") as a:
            a.token_revoke(identity="att")
        with pytest.raises(control.ConnectionClosedError):
            next(events)
        assert w.closed


# ---- a hostile server: the client refuses bad frames, never crashes -----------


def fake_server(daemon, replies):
    """A TLS server (the test CA's server certificate) that answers the
    hello with each raw byte string of `replies`, then closes."""
    import threading
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(daemon.certs, "server.pem"),
                        os.path.join(daemon.certs, "server.key"))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def serve():
        s, _ = ls.accept()
        try:
            t = ctx.wrap_socket(s, server_side=True)
            t.recv(65536)                  # the hello
            for r in replies:
                t.sendall(r)
            t.close()
        except OSError:
            pass
        finally:
            ls.close()
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    return ls.getsockname()[1], th


def frame(msg):
    data = msg.SerializeToString()
    return len(data).to_bytes(4, "big") + data


@pytest.mark.parametrize("reply", [
    b"\x00\x00\x00\x00",                         # zero length
    b"\xff\xff\xff\xff",                         # 4 GiB
    b"\x00\x10\x00\x01" + b"x" * 10,             # over 1 MiB
    b"\x00\x00\x00\x05\xff\xff\xff\xff\xff",     # not a Response
    b"\x00\x00\x00\x10abc",                      # cut short
    b"",                                         # nothing at all
])
def test_hostile_server_frames(daemon, reply):
    port, th = fake_server(daemon, [reply])
    with pytest.raises(control.ConnectionClosedError):
        control.connect("127.0.0.1", port, ca=daemon.ca, timeout=10)
    th.join(10)


def test_server_refusing_our_version(daemon):
    port, th = fake_server(daemon, [frame(pb.Response(
        id=1, code=pb.VERSION, error="protocol 1 not supported"))])
    with pytest.raises(control.VersionError, match="not supported"):
        control.connect("127.0.0.1", port, ca=daemon.ca, timeout=10)
    th.join(10)
