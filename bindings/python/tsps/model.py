"""Plain Python values for what libtsps stores and returns.

Records (users, contacts, events ...) are dataclasses, copied in and out of
the C structs; a :class:`Decision` wraps the C decision itself (fixed-size,
caller-owned: it stays valid after the engine is closed) and reads fields
only when asked, so routing stays cheap.
"""
import datetime as _dt
import json as _json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from ._conv import (TimeLike, check_int, cstr, from_epoch, getstr, setstr,
                    to_epoch)
from ._lib import ffi, lib
from .errors import check, tsps_error

# ---- names <-> enum values (from the library, never copied) -------------


def _names(fn, count):
    return [ffi.string(fn(i)).decode() for i in range(count)]


STATUSES: List[str] = _names(lib.tsps_status_name, lib.TSPS_STATUS__COUNT)
METHOD_KINDS: List[str] = _names(lib.tsps_method_kind_name,
                                 lib.TSPS_METHOD__COUNT)
OUTCOMES: List[str] = _names(lib.tsps_outcome_name, lib.TSPS_OUTCOME__COUNT)
CODE_SOURCES: List[str] = _names(lib.tsps_code_source_name,
                                 lib.TSPS_CODE_SRC__COUNT)
STEPS: List[str] = _names(lib.tsps_step_name, lib.TSPS_STEP__COUNT)
STATUS_SOURCES: List[str] = _names(lib.tsps_status_source_name, 4)
CALLER_KINDS: List[str] = _names(lib.tsps_caller_kind_name, 4)
TRACE_OUTCOMES = ["ok", "notfound", "default", "ambiguous", "fallback",
                  "error"]
BUSY = ["busy", "free", "tentative", "oof"]


def _name(table, v) -> str:
    return table[v] if 0 <= v < len(table) else "invalid(%d)" % v


def status_value(st, what: str = "status") -> int:
    """A status name ("dnd", "meeting", "any" ...) -> tsps_status."""
    if isinstance(st, int) and not isinstance(st, bool):
        return check_int(st, what, 0, lib.TSPS_STATUS__COUNT - 1)
    v = lib.tsps_status_parse(cstr(st, what))
    if v < 0:
        raise ValueError("%s: unknown status %r (one of %s)"
                         % (what, st, ", ".join(STATUSES)))
    return v


def outcome_value(o, what: str = "outcome") -> int:
    if isinstance(o, int) and not isinstance(o, bool):
        return check_int(o, what, 0, lib.TSPS_OUTCOME__COUNT - 1)
    if not isinstance(o, str):
        raise TypeError("%s: expected str, got %s" % (what, type(o).__name__))
    try:
        return OUTCOMES.index(o.lower())
    except ValueError:
        raise ValueError("%s: unknown outcome %r (one of %s)"
                         % (what, o, ", ".join(OUTCOMES))) from None


def code_source_value(s, what: str = "code_source") -> int:
    if isinstance(s, int) and not isinstance(s, bool):
        return check_int(s, what, 0, lib.TSPS_CODE_SRC__COUNT - 1)
    if not isinstance(s, str):
        raise TypeError("%s: expected str, got %s" % (what, type(s).__name__))
    try:
        return CODE_SOURCES.index(s.lower())
    except ValueError:
        raise ValueError("%s: unknown code source %r (one of %s)"
                         % (what, s, ", ".join(CODE_SOURCES))) from None


# ---- methods ---------------------------------------------------------------


class Method:
    """A handling method, parsed by libtsps from its text form
    (``"ring sequential timeout=15 then voicemail"``, ``"ask timeout=20 then
    attendant"``, ``"forward +4930123456"``, ``"reject decline"`` ...).

    ``str(m)`` is the library's canonical text form; ``m.kind`` the kind's
    name (``"ring"``, ``"ask"`` ...)."""

    __slots__ = ("_m",)

    def __init__(self, text: str) -> None:
        self._m = ffi.new("tsps_method *")
        err = ffi.new("char[200]")
        rc = lib.tsps_method_parse(cstr(text, "method"), self._m, err, 200)
        if rc != 0:
            raise tsps_error(rc, "method %r" % text, getstr(err))

    @classmethod
    def parse(cls, text: str) -> "Method":
        return cls(text)

    @classmethod
    def _from_c(cls, m) -> "Method":
        self = cls.__new__(cls)
        self._m = ffi.new("tsps_method *")
        ffi.memmove(self._m, m, ffi.sizeof("tsps_method"))
        return self

    @property
    def kind(self) -> str:
        return _name(METHOD_KINDS, self._m.kind)

    def __str__(self) -> str:
        buf = ffi.new("char[1024]")
        check(lib.tsps_method_format(self._m, buf, 1024, ffi.NULL),
              "method format")
        return getstr(buf)

    def __repr__(self) -> str:
        return "Method(%r)" % str(self)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Method):
            return str(self) == str(other)
        if isinstance(other, str):
            try:
                return str(self) == str(Method(other))
            except (ValueError, TypeError):
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))


def as_method(m, what: str = "method") -> Method:
    if isinstance(m, Method):
        return m
    if isinstance(m, str):
        return Method(m)
    raise TypeError("%s: expected a Method or its text, got %s"
                    % (what, type(m).__name__))


# ---- numbers -----------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A normalised number: kind is "e164", "withheld" or "local"."""
    kind: str
    e164: str
    ext: str


def dialplan(region: str):
    dp = ffi.new("tsps_dialplan *")
    check(lib.tsps_dialplan_for_region(cstr(region, "region"), dp),
          "dial plan for %r" % region)
    return dp


def normalize(number: Optional[str], region: str = "US") -> Number:
    """Normalise a number as written or signalled (``"030 1234567"``,
    ``"tel:+1-202-555-0143;ext=12"``, ``"anonymous"`` ...) in the view of a
    party in ``region``. Raises NumberError for what is not a number."""
    dp = dialplan(region)
    out = ffi.new("tsps_number *")
    check(lib.tsps_normalize(cstr(number, "number", allow_none=True), dp, out),
          "normalize %r" % (number,))
    return Number(["e164", "withheld", "local"][out.kind], getstr(out.e164),
                  getstr(out.ext))


# ---- users -----------------------------------------------------------------


@dataclass
class User:
    """A person whose calls are routed. ``region`` (ISO 3166, e.g. "DE") is
    required; ``hours`` is the working-hours text ("mon-fri 09:00-17:00",
    "none"); None leaves the library's defaults."""
    id: str
    region: str = ""
    display_name: str = ""
    tz: Optional[str] = None
    hours: Optional[str] = None
    unknown_code: Optional[str] = None
    withheld_code: Optional[str] = None
    attendant_uri: str = ""
    voicemail_uri: str = ""
    expected_window_s: Optional[int] = None
    expected_rings_through: Optional[bool] = None
    no_hours: Optional[bool] = None

    def _to_c(self):
        u = ffi.new("tsps_user *")
        lib.tsps_user_init(u)
        setstr(u, "id", self.id, 64, "user.id")
        setstr(u, "display_name", self.display_name, 128, "user.display_name")
        setstr(u.dialplan, "region", self.region, 3, "user.region")
        if self.tz is not None:
            setstr(u, "tz", self.tz, 64, "user.tz")
        if self.hours is not None:
            h = ffi.new("tsps_hours *")
            check(lib.tsps_hours_parse(cstr(self.hours, "user.hours"), h),
                  "user.hours %r" % self.hours)
            u.hours = h[0]
        if self.unknown_code is not None:
            setstr(u, "unknown_code", self.unknown_code, 32,
                   "user.unknown_code")
        if self.withheld_code is not None:
            setstr(u, "withheld_code", self.withheld_code, 32,
                   "user.withheld_code")
        setstr(u, "attendant_uri", self.attendant_uri, 256,
               "user.attendant_uri")
        setstr(u, "voicemail_uri", self.voicemail_uri, 256,
               "user.voicemail_uri")
        if self.expected_window_s is not None:
            u.expected_window_s = check_int(self.expected_window_s,
                                            "user.expected_window_s", 0,
                                            2**32 - 1)
        for flag, bit in ((self.expected_rings_through,
                           lib.TSPS_USER_EXPECTED_RINGS_THROUGH),
                          (self.no_hours, lib.TSPS_USER_NO_HOURS)):
            if flag is not None:
                u.flags = (u.flags | bit) if flag else (u.flags & ~bit)
        return u

    @classmethod
    def _from_c(cls, u) -> "User":
        buf = ffi.new("char[512]")
        hours = ""
        if lib.tsps_hours_format(ffi.addressof(u.hours), buf, 512,
                                 ffi.NULL) == 0:
            hours = getstr(buf)
        return cls(id=getstr(u.id), region=getstr(u.dialplan.region),
                   display_name=getstr(u.display_name), tz=getstr(u.tz),
                   hours=hours, unknown_code=getstr(u.unknown_code),
                   withheld_code=getstr(u.withheld_code),
                   attendant_uri=getstr(u.attendant_uri),
                   voicemail_uri=getstr(u.voicemail_uri),
                   expected_window_s=u.expected_window_s,
                   expected_rings_through=bool(
                       u.flags & lib.TSPS_USER_EXPECTED_RINGS_THROUGH),
                   no_hours=bool(u.flags & lib.TSPS_USER_NO_HOURS))


# ---- contacts --------------------------------------------------------------


def _strlist(values: Sequence[str], what: str, maxn: int) -> List[str]:
    if isinstance(values, (str, bytes)):
        raise TypeError("%s: expected a list of str, got %s"
                        % (what, type(values).__name__))
    values = list(values)
    if len(values) > maxn:
        raise ValueError("%s: at most %d, got %d" % (what, maxn, len(values)))
    return values


@dataclass
class Contact:
    """A contact of one user. ``numbers`` in any format on put (normalised
    with the user's dial plan), E.164 on get; ``code`` "" = no code."""
    uid: str
    name: str = ""
    numbers: List[str] = field(default_factory=list)
    emails: List[str] = field(default_factory=list)
    code: str = ""
    org: str = ""
    source: str = ""
    code_source: str = "none"
    code_detail: str = ""

    def _fill(self, c) -> None:
        lib.tsps_contact_init(c)
        setstr(c, "uid", self.uid, 128, "contact.uid")
        setstr(c, "source", self.source, 64, "contact.source")
        setstr(c, "name", self.name, 128, "contact.name")
        setstr(c, "org", self.org, 128, "contact.org")
        setstr(c, "code", self.code, 32, "contact.code")
        c.code_source = code_source_value(self.code_source,
                                          "contact.code_source")
        setstr(c, "code_detail", self.code_detail, 128, "contact.code_detail")
        nums = _strlist(self.numbers, "contact.numbers", 8)
        for i, n in enumerate(nums):
            c.numbers[i] = cstr(n, "contact.numbers[%d]" % i, 25)
        c.nnumbers = len(nums)
        mails = _strlist(self.emails, "contact.emails", 6)
        for i, m in enumerate(mails):
            c.emails[i] = cstr(m, "contact.emails[%d]" % i, 128)
        c.nemails = len(mails)

    def _to_c(self):
        c = ffi.new("tsps_contact *")
        self._fill(c)
        return c

    @classmethod
    def _from_c(cls, c) -> "Contact":
        n = min(c.nnumbers, 8)
        m = min(c.nemails, 6)
        return cls(uid=getstr(c.uid), name=getstr(c.name),
                   numbers=[getstr(c.numbers[i]) for i in range(n)],
                   emails=[getstr(c.emails[i]) for i in range(m)],
                   code=getstr(c.code), org=getstr(c.org),
                   source=getstr(c.source),
                   code_source=_name(CODE_SOURCES, c.code_source),
                   code_detail=getstr(c.code_detail))


# ---- events ----------------------------------------------------------------


@dataclass
class Event:
    """One calendar event instance. ``busy`` is "busy", "free", "tentative"
    or "oof"; ``attendees`` are e-mail addresses or tel: URIs."""
    uid: str
    start: TimeLike
    end: TimeLike
    summary: str = ""
    attendees: List[str] = field(default_factory=list)
    busy: str = "busy"
    cancelled: bool = False
    source: str = ""

    def _fill(self, e) -> None:
        lib.tsps_event_init(e)
        setstr(e, "uid", self.uid, 128, "event.uid")
        setstr(e, "source", self.source, 64, "event.source")
        setstr(e, "summary", self.summary, 128, "event.summary")
        e.start = to_epoch(self.start, "event.start")
        e.end = to_epoch(self.end, "event.end")
        if self.busy not in BUSY:
            raise ValueError("event.busy: %r is not one of %s"
                             % (self.busy, ", ".join(BUSY)))
        e.busy = BUSY.index(self.busy)
        e.cancelled = 1 if self.cancelled else 0
        att = _strlist(self.attendees, "event.attendees", 24)
        for i, a in enumerate(att):
            e.attendees[i] = cstr(a, "event.attendees[%d]" % i, 128)
        e.nattendees = len(att)

    def _to_c(self):
        e = ffi.new("tsps_event *")
        self._fill(e)
        return e

    @classmethod
    def _from_c(cls, e) -> "Event":
        n = min(e.nattendees, 24)
        return cls(uid=getstr(e.uid), start=from_epoch(e.start),
                   end=from_epoch(e.end), summary=getstr(e.summary),
                   attendees=[getstr(e.attendees[i]) for i in range(n)],
                   busy=_name(BUSY, e.busy), cancelled=bool(e.cancelled),
                   source=getstr(e.source))


# ---- registrations, status, rules -------------------------------------------


@dataclass
class Registration:
    """A device binding: where to reach one phone of a user until
    ``expires`` (datetime or UTC seconds)."""
    contact: str
    expires: TimeLike
    label: str = ""
    q: int = 1000
    instance: str = ""
    call_id: str = ""
    cseq: int = 0
    user_agent: str = ""

    def _to_c(self):
        r = ffi.new("tsps_registration *")
        lib.tsps_registration_init(r)
        setstr(r, "contact", self.contact, 256, "registration.contact")
        setstr(r, "instance", self.instance, 256, "registration.instance")
        setstr(r, "label", self.label, 16, "registration.label")
        r.q = check_int(self.q, "registration.q", 0, 1000)
        r.expires = to_epoch(self.expires, "registration.expires")
        setstr(r, "call_id", self.call_id, 256, "registration.call_id")
        r.cseq = check_int(self.cseq, "registration.cseq", 0, 2**32 - 1)
        setstr(r, "user_agent", self.user_agent, 128,
               "registration.user_agent")
        return r

    @classmethod
    def _from_c(cls, r) -> "Registration":
        return cls(contact=getstr(r.contact), expires=from_epoch(r.expires),
                   label=getstr(r.label), q=r.q, instance=getstr(r.instance),
                   call_id=getstr(r.call_id), cseq=r.cseq,
                   user_agent=getstr(r.user_agent))


@dataclass(frozen=True)
class StatusInfo:
    """A user's effective status: ``status`` ("available", "dnd" ...),
    ``source`` ("default", "manual", "calendar", "hours")."""
    status: str
    source: str
    until: Optional[_dt.datetime]
    detail: str
    event_uid: str


@dataclass(frozen=True)
class Rule:
    """(code, status) -> method."""
    code: str
    status: str
    method: Method


# ---- decisions ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    uri: str
    label: str
    q: int
    order: int
    timeout_s: int
    expires: Optional[_dt.datetime]
    fallback: bool


@dataclass(frozen=True)
class TraceStep:
    """One step of a decision's trace: ``step`` ("called", "caller",
    "contact", "status", "calendar", "rule", "targets", "override"),
    ``outcome`` ("ok", "notfound", "default" ...), what was looked up and
    what was found."""
    step: str
    outcome: str
    what: str
    found: str
    n: int
    arg: int


class Decision:
    """A routing decision with its trace, as libtsps made it. Fields are
    read from the C struct on access; ``explain()`` and ``json()`` are the
    library's own renderings."""

    __slots__ = ("_d", "call_id")

    def __init__(self, d, call_id: int = 0) -> None:
        self._d = d
        self.call_id = call_id

    # strings
    user = property(lambda self: getstr(self._d.user))
    called = property(lambda self: getstr(self._d.called))
    caller = property(lambda self: getstr(self._d.caller))
    caller_name = property(lambda self: getstr(self._d.caller_name))
    contact_uid = property(lambda self: getstr(self._d.contact_uid))
    code = property(lambda self: getstr(self._d.code))
    rule_code = property(lambda self: getstr(self._d.rule_code))
    actor = property(lambda self: getstr(self._d.actor))
    # enums
    caller_kind = property(lambda self: _name(CALLER_KINDS,
                                              self._d.caller_kind))
    code_source = property(lambda self: _name(CODE_SOURCES,
                                              self._d.code_source))
    status = property(lambda self: _name(STATUSES, self._d.status))
    status_source = property(lambda self: _name(STATUS_SOURCES,
                                                self._d.status_source))
    rule_status = property(lambda self: _name(STATUSES, self._d.rule_status))
    # flags
    flags = property(lambda self: self._d.flags)
    unknown_number = property(
        lambda self: bool(self._d.flags & lib.TSPS_DEC_UNKNOWN_NUMBER))
    expected = property(lambda self: bool(self._d.flags &
                                          lib.TSPS_DEC_EXPECTED))
    overridden = property(
        lambda self: bool(self._d.flags & lib.TSPS_DEC_OVERRIDDEN))
    fallback = property(lambda self: bool(self._d.flags &
                                          lib.TSPS_DEC_FALLBACK))

    @property
    def at(self) -> Optional[_dt.datetime]:
        return from_epoch(self._d.at)

    @property
    def method(self) -> Method:
        return Method._from_c(ffi.addressof(self._d.method))

    @property
    def targets(self) -> List[Target]:
        out = []
        for i in range(min(self._d.ntargets, 8)):
            t = self._d.targets[i]
            out.append(Target(getstr(t.uri), getstr(t.label), t.q, t.order,
                              t.timeout_s, from_epoch(t.expires),
                              bool(t.fallback)))
        return out

    @property
    def trace(self) -> List[TraceStep]:
        out = []
        for i in range(min(self._d.ntrace, 16)):
            s = self._d.trace[i]
            out.append(TraceStep(_name(STEPS, s.step),
                                 _name(TRACE_OUTCOMES, s.outcome),
                                 getstr(s.what), getstr(s.found), s.n, s.arg))
        return out

    def _render(self, fn, what: str) -> str:
        size = 4096
        needed = ffi.new("size_t *")
        while True:
            buf = ffi.new("char[]", size)
            rc = fn(self._d, buf, size, needed)
            if rc == lib.TSPS_ENOBUFS and needed[0] > size:
                size = needed[0] + 1
                continue
            check(rc, what)
            return getstr(buf)

    def explain(self) -> str:
        """The trace in plain words, one step per line."""
        return self._render(lib.tsps_decision_explain, "explain")

    def json(self) -> str:
        """The decision as one JSON object (the library's rendering)."""
        return self._render(lib.tsps_decision_json, "decision json")

    def as_dict(self) -> Dict[str, Any]:
        return _json.loads(self.json())

    def __repr__(self) -> str:
        return ("Decision(user=%r, caller=%r, caller_kind=%r, code=%r, "
                "status=%r, method=%r)" % (self.user, self.caller,
                                           self.caller_kind, self.code,
                                           self.status, str(self.method)))


@dataclass(frozen=True)
class CallRecord:
    """A call in history: the decision in force (after any override) and,
    if overridden, the first one."""
    id: int
    start: Optional[_dt.datetime]
    end: Optional[_dt.datetime]
    outcome: str
    note: str
    decision: Decision
    original: Optional[Decision]

    @classmethod
    def _from_c(cls, r) -> "CallRecord":
        d = ffi.new("tsps_decision *")
        ffi.memmove(d, ffi.addressof(r.decision), ffi.sizeof("tsps_decision"))
        orig = None
        if r.decision.flags & lib.TSPS_DEC_OVERRIDDEN and \
                r.original.version != 0:
            o = ffi.new("tsps_decision *")
            ffi.memmove(o, ffi.addressof(r.original),
                        ffi.sizeof("tsps_decision"))
            orig = Decision(o, r.id)
        return cls(r.id, from_epoch(r.start), from_epoch(r.end),
                   _name(OUTCOMES, r.outcome), getstr(r.note),
                   Decision(d, r.id), orig)


@dataclass(frozen=True)
class Stats:
    users: int
    numbers: int
    contacts: int
    contact_numbers: int
    events: int
    registrations: int
    calls: int
    map_size: int
    used_bytes: int
    config_generation: int
