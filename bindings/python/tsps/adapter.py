"""libcmsbridge from Python: registries, sources, sync, and adapters written
in Python.

An adapter is a class with the vtable's methods (see :class:`Adapter`).
``Registry.register(MyAdapter)`` builds a real ``cmsb_adapter`` whose
function pointers are cffi callbacks into this module; libcmsbridge then
opens, lists and syncs it exactly as it does a C adapter (``cmsb_sync`` runs
in C and calls back into Python for each record).

Thread-safety: a registry is not for concurrent registration; one thread at
a time per source (as libcmsbridge says).
"""
import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, Optional

from . import _callbacks as cb
from ._conv import TimeLike, check_int, cstr, from_epoch, getstr, to_epoch
from ._lib import ffi, lib
from .errors import AdapterError, ClosedError, CmsbError, check_cmsb
from .model import Contact, Event

CAP_CHANGES = lib.CMSB_CAP_CHANGES
CAP_EVENTS = lib.CMSB_CAP_EVENTS
CAP_WRITE = lib.CMSB_CAP_WRITE
CAP_RELATED = lib.CMSB_CAP_RELATED
CAP_WATCH = lib.CMSB_CAP_WATCH

# CMSB_E* codes for AdapterError, from the header the package was built
# against (they moved to -101 .. in libcmsbridge 1.0: never spell a number).
CMSB_ENOTSUP = lib.CMSB_ENOTSUP
CMSB_EINVAL = lib.CMSB_EINVAL
CMSB_EIO = lib.CMSB_EIO
CMSB_EPARSE = lib.CMSB_EPARSE
CMSB_ENOTFOUND = lib.CMSB_ENOTFOUND
CMSB_ECONFLICT = lib.CMSB_ECONFLICT
CMSB_ETIMEDOUT = lib.CMSB_ETIMEDOUT
CMSB_EAUTH = lib.CMSB_EAUTH

ITEM_KINDS = {"email": lib.CMSB_ITEM_EMAIL, "event": lib.CMSB_ITEM_EVENT,
              "document": lib.CMSB_ITEM_DOCUMENT}

_log = logging.getLogger("tsps.adapter")


@dataclass(frozen=True)
class Options:
    """The options a source was opened with (every default filled in by
    libcmsbridge), as an adapter's constructor receives them."""
    code_property: str
    category_prefix: str
    note_prefix: str
    known_codes: Optional[str]
    forms: int
    event_past_s: int
    event_future_s: int
    tz: str
    now: int
    username: Optional[str]
    password: Optional[str]
    ca_file: Optional[str]
    timeout_ms: int

    @classmethod
    def _from_c(cls, o) -> "Options":
        s = lambda p: None if p == ffi.NULL else getstr(p)
        return cls(s(o.code_property) or "", s(o.category_prefix) or "",
                   s(o.note_prefix) or "", s(o.known_codes), o.forms,
                   o.event_past_s, o.event_future_s, s(o.tz) or "UTC", o.now,
                   s(o.username), s(o.password), s(o.ca_file), o.timeout_ms)


@dataclass(frozen=True)
class Change:
    """One change record of :meth:`Adapter.changes` / :meth:`Source.changes`.
    ``kind``: "contact_put", "contact_delete", "event_put", "event_delete",
    "checkpoint", "error"."""
    kind: str
    contact: Optional[Contact] = None
    event: Optional[Event] = None
    uid: str = ""
    cursor: str = ""
    file: str = ""
    line: int = 0
    reason: str = ""

    @classmethod
    def put(cls, contact: Contact) -> "Change":
        return cls("contact_put", contact=contact)

    @classmethod
    def delete(cls, uid: str) -> "Change":
        return cls("contact_delete", uid=uid)

    @classmethod
    def put_event(cls, event: Event) -> "Change":
        return cls("event_put", event=event)

    @classmethod
    def delete_event(cls, uid: str) -> "Change":
        return cls("event_delete", uid=uid)

    @classmethod
    def checkpoint(cls, cursor: str) -> "Change":
        return cls("checkpoint", cursor=cursor)

    @classmethod
    def error(cls, file: str, line: int, reason: str) -> "Change":
        return cls("error", file=file, line=line, reason=reason)


_CHANGE_KINDS = {
    "contact_put": lib.CMSB_CHANGE_CONTACT_PUT,
    "contact_delete": lib.CMSB_CHANGE_CONTACT_DELETE,
    "event_put": lib.CMSB_CHANGE_EVENT_PUT,
    "event_delete": lib.CMSB_CHANGE_EVENT_DELETE,
    "checkpoint": lib.CMSB_CHANGE_CHECKPOINT,
    "error": lib.CMSB_CHANGE_ERROR,
}
_CHANGE_NAMES = {v: k for k, v in _CHANGE_KINDS.items()}


@dataclass(frozen=True)
class Item:
    """An item related to a contact: kind "email", "event" or "document"."""
    kind: str
    uid: str
    title: str
    start: Any = None
    end: Any = None
    role: str = ""
    ref: str = ""


@dataclass(frozen=True)
class SyncStats:
    contacts_put: int
    contacts_deleted: int
    events_put: int
    events_deleted: int
    errors: int
    batches: int
    full: bool


class Adapter:
    """Base class of adapters written in Python. Set ``scheme`` and
    implement ``contacts()``; each optional method you define adds its
    capability (CMSB_CAP_*) to the adapter::

        class CrmAdapter(tsps.Adapter):
            scheme = "crm"
            def __init__(self, uri, options):
                self.path = uri.split(":", 1)[1]
            def contacts(self):
                yield tsps.Contact(uid="c1", name="Ann", numbers=["+4930..."],
                                   code="VIP")

    Methods may raise: :class:`AdapterError` returns its CMSB_E* code;
    NotImplementedError -> CMSB_ENOTSUP, LookupError -> CMSB_ENOTFOUND,
    ValueError -> CMSB_EPARSE, anything else -> CMSB_EIO. The exception is
    logged (logger "tsps.adapter") and becomes the ``__cause__`` of the
    CmsbError that the caller of the source sees.
    """

    scheme: str = ""

    def __init__(self, uri: str, options: Options) -> None:
        self.uri = uri
        self.options = options

    def close(self) -> None:
        """Release what the source holds (x_close). Must not fail."""

    def contacts(self) -> Iterable[Contact]:
        """Every contact, each once (x_contacts). Required."""
        raise NotImplementedError

    # Optional (define them in the subclass to claim the capability):
    #   changes(self, since: Optional[str]) -> Iterable[Change]
    #       the last record must be Change.checkpoint(cursor)  (CAP_CHANGES)
    #   events(self, start: datetime, end: datetime) -> Iterable[Event]
    #                                                          (CAP_EVENTS)
    #   write_code(self, uid: str, code: str) -> None          (CAP_WRITE)
    #   related(self, uid: str, kinds: int, start, end, limit)
    #       -> Iterable[Item]                                  (CAP_RELATED)
    #   watch_fd(self) -> int and watch_drain(self) -> bool    (CAP_WATCH)

    @classmethod
    def capabilities(cls) -> int:
        caps = 0
        for name, bit in (("changes", CAP_CHANGES), ("events", CAP_EVENTS),
                          ("write_code", CAP_WRITE),
                          ("related", CAP_RELATED)):
            if callable(getattr(cls, name, None)):
                caps |= bit
        if callable(getattr(cls, "watch_fd", None)) and \
                callable(getattr(cls, "watch_drain", None)):
            caps |= CAP_WATCH
        return caps


# ---- the C side of Python adapters -----------------------------------------

# adapter struct address -> adapter class (registered, alive registries)
_ADAPTERS: Dict[int, type] = {}
# source address -> its state (the handle in tsps_py_source.obj points here)
_SOURCES: Dict[int, "_SourceState"] = {}
_tls = threading.local()


class _SourceState:
    __slots__ = ("obj", "exc", "handle")

    def __init__(self, obj) -> None:
        self.obj = obj
        self.exc: Optional[BaseException] = None
        self.handle = ffi.new_handle(self)


def _addr(p) -> int:
    return int(ffi.cast("uintptr_t", p))


def _code_for(e: BaseException) -> int:
    if isinstance(e, CmsbError):
        return e.code if e.code < 0 else lib.CMSB_EIO
    if isinstance(e, NotImplementedError):
        return lib.CMSB_ENOTSUP
    if isinstance(e, LookupError):
        return lib.CMSB_ENOTFOUND
    if isinstance(e, (ValueError, TypeError)):
        return lib.CMSB_EPARSE if isinstance(e, ValueError) else \
            lib.CMSB_EINVAL
    if isinstance(e, MemoryError):
        return lib.CMSB_ENOMEM
    return lib.CMSB_EIO


def _fail(state: Optional[_SourceState], what: str, e: BaseException) -> int:
    code = _code_for(e)
    if not isinstance(e, (AdapterError, NotImplementedError)):
        _log.error("adapter %s failed: %s: %s", what, type(e).__name__, e,
                   exc_info=(type(e), e, e.__traceback__))
    if state is not None:
        state.exc = e
    _tls.exc = e
    return code


def _state(src) -> _SourceState:
    return _SOURCES[_addr(src)]


@ffi.def_extern()
def tsps_py_x_open(ad, uri, opt, src):
    try:
        cls = _ADAPTERS[_addr(ad)]
        obj = cls(getstr(uri), Options._from_c(opt))
    except BaseException as e:  # noqa: B902
        return _fail(None, "open", e)
    st = _SourceState(obj)
    _SOURCES[_addr(src)] = st
    ps = ffi.cast("tsps_py_source *", src)
    ps.obj = st.handle
    src.adapter = ad
    return 0


@ffi.def_extern()
def tsps_py_x_close(src):
    st = _SOURCES.pop(_addr(src), None)
    if st is None:
        return
    try:
        st.obj.close()
    except BaseException as e:  # noqa: B902 - x_close must not fail
        _log.error("adapter close failed: %s", e)


@ffi.def_extern()
def tsps_py_x_contacts(src, ccb, arg):
    st = None
    try:
        st = _state(src)
        c = ffi.new("tsps_contact *")
        for contact in st.obj.contacts():
            if not isinstance(contact, Contact):
                raise TypeError("contacts() yielded %s, not a tsps.Contact"
                                % type(contact).__name__)
            contact._fill(c)
            if ccb(arg, c) != 0:
                return lib.CMSB_ECANCELED
        return 0
    except BaseException as e:  # noqa: B902
        return _fail(st, "contacts", e)


@ffi.def_extern()
def tsps_py_x_changes(src, since, ccb, arg):
    st = None
    try:
        st = _state(src)
        ch = ffi.new("cmsb_change *")
        c = ffi.new("tsps_contact *")
        ev = ffi.new("tsps_event *")
        s = None if since == ffi.NULL else getstr(since)
        for r in st.obj.changes(s):
            if not isinstance(r, Change) or r.kind not in _CHANGE_KINDS:
                raise TypeError("changes() yielded %r, not a tsps.Change" % r)
            keep = []
            ch.kind = _CHANGE_KINDS[r.kind]
            ch.contact = ffi.NULL
            ch.event = ffi.NULL
            ch.uid = ch.cursor = ch.file = ch.reason = ffi.NULL
            ch.line = 0
            if r.kind == "contact_put":
                r.contact._fill(c)
                ch.contact = c
            elif r.kind == "event_put":
                r.event._fill(ev)
                ch.event = ev
            elif r.kind.endswith("_delete"):
                keep.append(ffi.new("char[]", cstr(r.uid, "change.uid", 128)))
                ch.uid = keep[-1]
            elif r.kind == "checkpoint":
                keep.append(ffi.new("char[]", cstr(r.cursor,
                                                   "change.cursor")))
                ch.cursor = keep[-1]
            else:
                keep.append(ffi.new("char[]", cstr(r.file, "change.file")))
                keep.append(ffi.new("char[]", cstr(r.reason,
                                                   "change.reason")))
                ch.file, ch.reason = keep[-2], keep[-1]
                ch.line = check_int(r.line, "change.line", 0, 2**31 - 1)
            if ccb(arg, ch) != 0:
                return lib.CMSB_ECANCELED
        return 0
    except BaseException as e:  # noqa: B902
        return _fail(st, "changes", e)


@ffi.def_extern()
def tsps_py_x_events(src, t0, t1, ecb, arg):
    st = None
    try:
        st = _state(src)
        ev = ffi.new("tsps_event *")
        for e in st.obj.events(from_epoch(t0), from_epoch(t1)):
            if not isinstance(e, Event):
                raise TypeError("events() yielded %s, not a tsps.Event"
                                % type(e).__name__)
            e._fill(ev)
            if ecb(arg, ev) != 0:
                return lib.CMSB_ECANCELED
        return 0
    except BaseException as e:  # noqa: B902
        return _fail(st, "events", e)


@ffi.def_extern()
def tsps_py_x_write_code(src, uid, code):
    st = None
    try:
        st = _state(src)
        st.obj.write_code(getstr(uid), getstr(code))
        return 0
    except BaseException as e:  # noqa: B902
        return _fail(st, "write_code", e)


_KIND_NAMES = {v: k for k, v in ITEM_KINDS.items()}


@ffi.def_extern()
def tsps_py_x_related(src, uid, crit, icb, arg):
    st = None
    try:
        st = _state(src)
        it = ffi.new("cmsb_item *")
        for r in st.obj.related(getstr(uid), crit.kinds,
                                from_epoch(getattr(crit, "from")), from_epoch(crit.to),
                                crit.limit):
            if not isinstance(r, Item):
                raise TypeError("related() yielded %s, not a tsps.Item"
                                % type(r).__name__)
            if r.kind not in ITEM_KINDS:
                raise ValueError("item kind %r" % r.kind)
            it.kind = ITEM_KINDS[r.kind]
            it.uid = cstr(r.uid, "item.uid", 128)
            it.title = cstr(r.title, "item.title", 128)
            it.start = to_epoch(r.start, "item.start")
            it.end = to_epoch(r.end, "item.end")
            it.role = cstr(r.role, "item.role", 16)
            it.ref = cstr(r.ref, "item.ref", 256)
            if icb(arg, it) != 0:
                return lib.CMSB_ECANCELED
        return 0
    except BaseException as e:  # noqa: B902
        return _fail(st, "related", e)


@ffi.def_extern()
def tsps_py_x_watch_fd(src, fdp):
    st = None
    try:
        st = _state(src)
        fdp[0] = check_int(st.obj.watch_fd(), "watch_fd", 0, 2**31 - 1)
        return 0
    except BaseException as e:  # noqa: B902
        fdp[0] = -1
        return _fail(st, "watch_fd", e)


@ffi.def_extern()
def tsps_py_x_watch_drain(src):
    st = None
    try:
        st = _state(src)
        return 1 if st.obj.watch_drain() else 0
    except BaseException as e:  # noqa: B902
        return _fail(st, "watch_drain", e)


# ---- registry and sources ----------------------------------------------------


class Registry:
    """A libcmsbridge registry: the built-in adapters ("vcard-dir", and
    "carddav"/"caldav" when built with them) plus what you register."""

    def __init__(self) -> None:
        out = ffi.new("cmsb_registry **")
        check_cmsb(lib.cmsb_registry_open(out), "registry open")
        self._reg = out[0]
        self._keep = []          # adapter structs and their strings
        self._addrs = []         # keys in _ADAPTERS
        self._sources = []       # open sources (closed before the registry)

    def _r(self):
        if self._reg is None:
            raise ClosedError("registry")
        return self._reg

    def register(self, adapter_cls: type) -> None:
        """Register an adapter class (a subclass of :class:`Adapter`)."""
        if not (isinstance(adapter_cls, type) and
                issubclass(adapter_cls, Adapter)):
            raise TypeError("register: expected a subclass of tsps.Adapter")
        if not callable(getattr(adapter_cls, "contacts", None)) or \
                adapter_cls.contacts is Adapter.contacts:
            raise TypeError("register: %s has no contacts() method"
                            % adapter_cls.__name__)
        reg = self._r()
        ad = ffi.new("cmsb_adapter *")
        scheme = ffi.new("char[]", cstr(adapter_cls.scheme, "scheme", 32))
        caps = adapter_cls.capabilities()
        ad.version = lib.CMSB_ADAPTER_VERSION
        ad.source_size = ffi.sizeof("tsps_py_source")
        ad.scheme = scheme
        ad.caps = caps
        ad.x_open = lib.tsps_py_x_open
        ad.x_close = lib.tsps_py_x_close
        ad.x_contacts = lib.tsps_py_x_contacts
        if caps & CAP_CHANGES:
            ad.x_changes = lib.tsps_py_x_changes
        if caps & CAP_EVENTS:
            ad.x_events = lib.tsps_py_x_events
        if caps & CAP_WRITE:
            ad.x_write_code = lib.tsps_py_x_write_code
        if caps & CAP_RELATED:
            ad.x_related = lib.tsps_py_x_related
        if caps & CAP_WATCH:
            ad.x_watch_fd = lib.tsps_py_x_watch_fd
            ad.x_watch_drain = lib.tsps_py_x_watch_drain
        check_cmsb(lib.cmsb_register(reg, ad), "register %r"
                   % adapter_cls.scheme)
        self._keep.append((ad, scheme))
        _ADAPTERS[_addr(ad)] = adapter_cls
        self._addrs.append(_addr(ad))

    def schemes_registered(self, scheme: str) -> bool:
        return lib.cmsb_registry_find(self._r(), cstr(scheme, "scheme")) != \
            ffi.NULL

    def open(self, uri: str, *, code_property: Optional[str] = None,
             category_prefix: Optional[str] = None,
             note_prefix: Optional[str] = None,
             known_codes: Optional[str] = None, forms: int = 0,
             event_past_s: int = 0, event_future_s: int = 0,
             tz: Optional[str] = None, now: TimeLike = None,
             username: Optional[str] = None, password: Optional[str] = None,
             ca_file: Optional[str] = None, timeout_ms: int = 0,
             log=None) -> "Source":
        """Open a source from a URI ("vcard-dir:/path", "crm:..."): the
        scheme picks the adapter. Keyword options are cmsb_options'."""
        reg = self._r()
        o = ffi.new("cmsb_options *")
        o.version = lib.CMSB_OPTIONS_VERSION
        keep = []

        def s(v, what):
            if v is None:
                return ffi.NULL
            keep.append(ffi.new("char[]", cstr(v, what)))
            return keep[-1]

        o.code_property = s(code_property, "code_property")
        o.category_prefix = s(category_prefix, "category_prefix")
        o.note_prefix = s(note_prefix, "note_prefix")
        o.known_codes = s(known_codes, "known_codes")
        o.forms = check_int(forms, "forms", 0, lib.CMSB_FORM_ALL)
        o.event_past_s = check_int(event_past_s, "event_past_s", 0, 2**40)
        o.event_future_s = check_int(event_future_s, "event_future_s", 0,
                                     2**40)
        o.tz = s(tz, "tz")
        o.now = to_epoch(now, "now")
        o.username = s(username, "username")
        o.password = s(password, "password")
        o.ca_file = s(ca_file, "ca_file")
        o.timeout_ms = check_int(timeout_ms, "timeout_ms", 0, 2**31 - 1)
        logt = cb.LogTarget(log)
        o.log = lib.tsps_py_log
        o.log_arg = logt.handle
        out = ffi.new("cmsb_source **")
        _tls.exc = None
        rc = lib.cmsb_source_open(reg, cstr(uri, "uri"), o, out)
        cause, _tls.exc = _tls.exc, None
        check_cmsb(rc, "open %r" % uri, cause)
        src = Source(self, out[0], logt)
        self._sources.append(src)
        return src

    def close(self) -> None:
        """Close every source still open, then the registry. Idempotent."""
        for s in list(self._sources):
            s.close()
        r, self._reg = self._reg, None
        if r is not None:
            lib.cmsb_registry_close(r)
            for a in self._addrs:
                _ADAPTERS.pop(a, None)
            self._addrs = []
            self._keep = []

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Source:
    """An open source (``Registry.open()``); close it, or use ``with``."""

    def __init__(self, registry: Registry, src, logt) -> None:
        self._registry = registry
        self._src = src
        self._log = logt

    def _s(self):
        if self._src is None:
            raise ClosedError("source")
        return self._src

    @property
    def adapter(self) -> Optional[Adapter]:
        """The Python adapter object behind the source (None for C ones)."""
        st = _SOURCES.get(_addr(self._s()))
        return st.obj if st is not None else None

    @property
    def caps(self) -> int:
        return lib.cmsb_source_caps(self._s())

    @property
    def scheme(self) -> str:
        return getstr(lib.cmsb_source_scheme(self._s()))

    def _check(self, rc: int, op: str) -> None:
        st = _SOURCES.get(_addr(self._src)) if self._src else None
        cause = None
        if st is not None:
            cause, st.exc = st.exc, None
        check_cmsb(rc, op, cause)

    def _listing(self, fn, conv, *args):
        ctx = cb.Collect(conv)
        rc = fn(self._s(), *args, ffi.new_handle(ctx))
        ctx.reraise()
        return rc, ctx.items

    def contacts(self) -> Iterator[Contact]:
        rc, items = self._listing(lib.cmsb_contacts, Contact._from_c,
                                  lib.tsps_py_contact_cb)
        self._check(rc, "contacts")
        return iter(items)

    def events(self, start: TimeLike, end: TimeLike) -> Iterator[Event]:
        rc, items = self._listing(lib.cmsb_events, Event._from_c,
                                  to_epoch(start, "start"),
                                  to_epoch(end, "end"), lib.tsps_py_event_cb)
        self._check(rc, "events")
        return iter(items)

    def changes(self, since: Optional[str] = None) -> Iterator[Change]:
        def conv(ch):
            k = _CHANGE_NAMES.get(ch.kind, "error")
            s = lambda p: "" if p == ffi.NULL else getstr(p)
            return Change(k,
                          Contact._from_c(ch.contact)
                          if ch.contact != ffi.NULL else None,
                          Event._from_c(ch.event)
                          if ch.event != ffi.NULL else None,
                          s(ch.uid), s(ch.cursor), s(ch.file), ch.line,
                          s(ch.reason))
        rc, items = self._listing(lib.cmsb_changes, conv,
                                  cstr(since, "since", allow_none=True),
                                  lib.tsps_py_change_cb)
        self._check(rc, "changes")
        return iter(items)

    def write_code(self, uid: str, code: str) -> None:
        """Write a handling code back to one contact ("" clears it)."""
        self._check(lib.cmsb_write_code(self._s(), cstr(uid, "uid", 128),
                                        cstr(code, "code", 32)),
                    "write code to %r" % uid)

    def related(self, uid: str, kinds: Iterable[str] = (),
                start: TimeLike = None, end: TimeLike = None,
                limit: int = 0) -> Iterator[Item]:
        crit = ffi.new("cmsb_criteria *")
        crit.version = lib.CMSB_CRITERIA_VERSION
        k = 0
        for name in kinds:
            if name not in ITEM_KINDS:
                raise ValueError("related: unknown kind %r" % name)
            k |= ITEM_KINDS[name]
        crit.kinds = k
        setattr(crit, "from", to_epoch(start, "start"))
        crit.to = to_epoch(end, "end")
        crit.limit = check_int(limit, "limit", 0, 2**62)
        conv = lambda it: Item(_KIND_NAMES.get(it.kind, "?"), getstr(it.uid),
                               getstr(it.title), from_epoch(it.start),
                               from_epoch(it.end), getstr(it.role),
                               getstr(it.ref))
        rc, items = self._listing(lib.cmsb_related, conv,
                                  cstr(uid, "uid", 128), crit,
                                  lib.tsps_py_item_cb)
        self._check(rc, "related to %r" % uid)
        return iter(items)

    def sync(self, engine, user: str, name: str,
             full: bool = False) -> SyncStats:
        """Sync the source into ``engine`` for ``user`` under the source
        name ``name`` (incremental when the adapter has changes())."""
        from .engine import Engine
        if not isinstance(engine, Engine):
            raise TypeError("sync: expected a tsps.Engine")
        st = ffi.new("cmsb_sync_stats *")
        bu, bn = cstr(user, "user", 64), cstr(name, "name", 64)
        src = self._s()
        next(engine._in)             # in flight: Engine.close() waits
        try:
            rc = lib.cmsb_sync(src, engine._e(), bu, bn, int(bool(full)), st)
        finally:
            next(engine._out)
        self._check(rc, "sync %r into %r" % (name, user))
        return SyncStats(st.contacts_put, st.contacts_deleted, st.events_put,
                         st.events_deleted, st.errors, st.batches,
                         bool(st.full))

    def close(self) -> None:
        s, self._src = self._src, None
        if s is not None:
            lib.cmsb_source_close(s)
            try:
                self._registry._sources.remove(self)
            except ValueError:
                pass

    @property
    def closed(self) -> bool:
        return self._src is None

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
