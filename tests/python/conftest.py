"""Shared fixtures of the Python binding suites."""
import datetime as dt
import os
import shutil
import tempfile

import pytest

import tsps

ANN_DID = "+49301234567"


@pytest.fixture
def store_dir():
    d = tempfile.mkdtemp(prefix="tsps-py-")
    yield d
    if not os.environ.get("TSPS_KEEP_TMP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def engine(store_dir):
    with tsps.Engine(os.path.join(store_dir, "store"), nosync=True) as eng:
        yield eng


@pytest.fixture
def ann(engine):
    """A user "ann" in Berlin with a number, rules and a voicemail."""
    engine.put_user(tsps.User("ann", region="DE", tz="Europe/Berlin",
                              display_name="Ann", hours="none",
                              voicemail_uri="sip:vm@pbx.example",
                              attendant_uri="sip:att@pbx.example"))
    engine.add_number("ann", ANN_DID)
    engine.set_rule("ann", "VIP", "ring")
    engine.set_rule("ann", "BLOCK", "reject decline")
    engine.set_rule("ann", "UNKNOWN", "ask timeout=20 then voicemail")
    engine.set_rule("ann", "*", "voicemail", status="dnd")
    return engine


def utc(*a):
    return dt.datetime(*a, tzinfo=dt.timezone.utc)
