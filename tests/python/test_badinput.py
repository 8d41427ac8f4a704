"""Bad arguments raise clear exceptions and never crash the interpreter.

Every public engine method is called with wrong types, None, NUL
characters, overlong strings, out-of-range numbers and odd times; each call
must either work or raise TypeError/ValueError/tsps.Error (no other
exception, no crash). Under the ASan build (tests/python.cmake preloads the
ASan runtime) an out-of-bounds access in C would abort the run.
"""
import datetime as dt
import inspect
import os

import pytest

import tsps
from conftest import ANN_DID

BAD = [None, 0, -1, 2**70, 1.5, float("nan"), float("inf"), True, b"bytes",
       "", "\0", "a\0b", "x" * 70, "é" * 40, "x" * 5000, [], ["x"] * 30,
       {}, object(), dt.datetime(1, 1, 1), "+49301234567", "ann", "VIP",
       "any", "ring", -2**63]
OK_EXC = (TypeError, ValueError, OverflowError, tsps.Error)

# Methods that write the store are called too: on a throwaway store.
METHODS = [m for m, _ in inspect.getmembers(tsps.Engine, inspect.isfunction)
           if not m.startswith("_") and m not in ("close", "batch")]


def _args(fn):
    sig = inspect.signature(fn)
    return [p for p in list(sig.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


@pytest.mark.parametrize("name", METHODS)
def test_engine_method_bad_arguments(ann, name):
    fn = getattr(ann, name)
    params = _args(getattr(tsps.Engine, name))
    good = {"user_id": "ann", "called": ANN_DID, "caller": "+4989111",
            "code": "VIP", "method": "voicemail", "status": "any",
            "actor": "att", "call_id": 1, "number": "+4930555",
            "e164": "+4930555", "uid": "c1", "key": "py/k"}
    calls = 0
    for i, p in enumerate(params):
        for bad in BAD:
            kwargs = {}
            for j, q in enumerate(params):
                if j == i:
                    kwargs[q.name] = bad
                elif q.default is inspect.Parameter.empty:
                    kwargs[q.name] = good.get(q.name, "x")
            try:
                r = fn(**kwargs)
                if inspect.isgenerator(r) or hasattr(r, "__next__"):
                    list(r)
            except OK_EXC as e:
                assert str(e), "an exception without a message"
            calls += 1
    assert calls == len(params) * len(BAD)
    # the engine still works (the bad values may have deleted ann: "ann"
    # and her number are among them)
    assert ann.stats().users <= 1
    assert ann.route(ANN_DID, "+4989111222").called == ANN_DID


def test_records_with_bad_fields(ann):
    cases = [
        lambda: ann.put_user(tsps.User("x" * 64, region="DE")),
        lambda: ann.put_user(tsps.User("ann", region="ZZZ")),
        lambda: ann.put_user(tsps.User("ann", region="DE", tz="Mars/Base")),
        lambda: ann.put_user(tsps.User("ann", region="DE", hours="always")),
        lambda: ann.put_user(tsps.User("ann", region="DE",
                                       expected_window_s=-1)),
        lambda: ann.put_user("ann"),
        lambda: ann.put_contact("ann", tsps.Contact("c", numbers=["1"] * 9)),
        lambda: ann.put_contact("ann", tsps.Contact("c", numbers="+4930")),
        lambda: ann.put_contact("ann", tsps.Contact("c", emails=[None])),
        lambda: ann.put_contact("ann", tsps.Contact("c", code="bad code!")),
        lambda: ann.put_contact("ann", tsps.Contact("c", code_source="x")),
        lambda: ann.put_contact("nobody", tsps.Contact("c")),
        lambda: ann.put_event("ann", tsps.Event("e", start="now", end=1)),
        lambda: ann.put_event("ann", tsps.Event("e", start=10, end=5)),
        lambda: ann.put_event("ann", tsps.Event("e", 1, 2, busy="maybe")),
        lambda: ann.put_event("ann", tsps.Event("e", 1, 2,
                                                attendees=["a"] * 25)),
        lambda: ann.put_registration("ann", tsps.Registration("sip:x", 0,
                                                              q=5000)),
        lambda: ann.put_registration("ann", tsps.Registration(None, 0)),
        lambda: ann.set_rule("ann", "VIP", "ask then ask"),
        lambda: ann.set_rule("ann", "VIP", 42),
        lambda: ann.set_status("ann", "sleeping"),
        lambda: ann.set_outcome(0, "routed"),
        lambda: ann.set_outcome(1, "exploded"),
        lambda: ann.override("not a decision", "voicemail", "x"),
        lambda: ann.history_append(None),
        lambda: ann.kv_put("k", "not bytes"),
        lambda: tsps.Method(None),
        lambda: tsps.normalize(b"+4930", "DE"),
        lambda: tsps.Engine(None),
        lambda: tsps.Engine("/proc/definitely/not/here"),
        lambda: tsps.Engine("/tmp", region="XYZ"),
    ]
    for i, c in enumerate(cases):
        with pytest.raises(OK_EXC):
            c()
    assert ann.get_user("ann").region == "DE"  # nothing half-written


def test_batch_bad_arguments(ann):
    with ann.batch() as b:
        for args in [(None, tsps.Contact("c")), ("ann", None),
                     ("ann", tsps.Contact("c", numbers=[1])),
                     ("x" * 100, tsps.Contact("c"))]:
            with pytest.raises(OK_EXC):
                b.put_contact(*args)
        with pytest.raises(OK_EXC):
            b.set_cursor("k", "str")
        with pytest.raises(OK_EXC):
            b.history_append("x")
        b.put_contact("ann", tsps.Contact("ok", numbers=["+4940555"]))
    assert ann.get_contact("ann", "ok").numbers == ["+4940555"]


def test_exception_messages_name_the_argument(ann):
    with pytest.raises(TypeError, match="user_id"):
        ann.get_user(5)
    with pytest.raises(ValueError, match="NUL"):
        ann.route("+4930\0evil")
    with pytest.raises(ValueError, match="too long"):
        ann.get_contact("ann", "u" * 200)
    with pytest.raises(tsps.InvalidArgumentError, match="TSPS_EINVAL"):
        ann.route("")


def test_closed_everything(store_dir, tmp_path):
    eng = tsps.Engine(os.path.join(store_dir, "s"), nosync=True)
    b = eng.batch()
    eng.close()              # aborts the open batch first
    assert b.closed
    for name in METHODS:
        fn = getattr(eng, name)
        params = _args(getattr(tsps.Engine, name))
        kwargs = {p.name: "x" for p in params
                  if p.default is inspect.Parameter.empty}
        with pytest.raises((tsps.ClosedError, TypeError, ValueError)):
            r = fn(**kwargs)
            list(r) if hasattr(r, "__next__") else None


def test_callback_exceptions_do_not_escape_into_c(ann):
    """An exception raised while converting a record inside a C listing
    stops the listing and is re-raised in Python."""
    ann.put_contact("ann", tsps.Contact("c1", "A", numbers=["+4940555"]))
    orig = tsps.Contact._from_c

    def boom(c):
        raise KeyboardInterrupt("stop")
    tsps.Contact._from_c = classmethod(lambda cls, c: boom(c))
    try:
        with pytest.raises(KeyboardInterrupt):
            list(ann.contacts("ann"))
    finally:
        tsps.Contact._from_c = orig
    assert [c.uid for c in ann.contacts("ann")] == ["c1"]


@pytest.mark.skipif(not os.environ.get("TSPS_PY_ASAN"),
                    reason="only in the ASan build")
def test_running_under_asan():
    """The ASan build's suites really run the instrumented libraries with
    the ASan runtime in the interpreter (tests/python.cmake)."""
    maps = open("/proc/self/maps").read()
    assert "libasan" in maps
    build = os.environ["TSPS_BUILD_DIR"]
    assert os.path.join(build, "libtsps") in maps, "libtsps not from " + build
