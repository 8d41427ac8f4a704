"""The routing engine: a Pythonic layer over libtsps's ``tsps_engine``.

Nothing here decides anything: every lookup, rule choice and trace comes
from libtsps. The layer converts values, checks arguments before they reach
C, turns TSPS_E* codes into exceptions, and gives engines and batches
context managers and listings iterators.

Thread-safety: as libtsps's. Routing and reads are safe from many threads
on one engine (the GIL is released inside each C call); writes are
serialised by the library. A batch belongs to the thread that began it.
``close()`` from one thread while others call in is safe: new calls raise
ClosedError, and the engine is freed only once the calls in flight have
returned (close() waits up to ``close_timeout`` seconds, else raises
BusyError and leaves the engine open).
"""
import functools
import itertools
import os
import threading
import time as _time
from typing import Any, Iterator, List, Optional, Tuple, Union

from . import _callbacks as cb
from ._conv import (TimeLike, check_int, cstr, from_epoch, getstr, to_epoch)
from ._lib import ffi, lib
from .errors import BusyError, ClosedError, StateError, check, tsps_error
from .model import (CallRecord, Contact, Decision, Event, Method, Registration,
                    Rule, StatusInfo, Stats, User, _name, STATUSES,
                    STATUS_SOURCES, as_method, code_source_value,
                    outcome_value, status_value)

MethodLike = Union[Method, str]


def _listing(fn, conv, *args) -> Tuple[int, List[Any]]:
    """Run a C listing with a collecting callback: (result code, items).
    Items are collected first and handed out after the C call returns, so
    a caller may write to the engine while iterating."""
    ctx = cb.Collect(conv)
    h = ffi.new_handle(ctx)
    rc = fn(*args, h)
    ctx.reraise()
    return rc, ctx.items


class Engine:
    """An open store and its engine.

    >>> with tsps.Engine("/var/lib/app/store") as eng:
    ...     eng.put_user(tsps.User("ann", region="DE", tz="Europe/Berlin"))
    ...     eng.add_number("ann", "+49301234567")
    ...     d = eng.route("+49301234567", caller="+4940555")
    ...     print(d.method, d.explain())

    :param path: directory of the LMDB environment (created)
    :param readonly: route and query only (follows another writer's commits)
    :param nosync: do not fsync commits (tests, benchmarks)
    :param contact_cache: keep the contact index in RAM (default, writers)
    :param region: site region for called numbers in national form
    :param map_size: initial map size in bytes (0 = library default)
    :param map_max: growth limit in bytes (0 = library default)
    :param log: a logging.Logger or callable(level, msg); default the
        "tsps" logger
    :raises BusyError: another engine writes this store
    """

    def __init__(self, path: str, *, readonly: bool = False,
                 nosync: bool = False, contact_cache: bool = True,
                 region: Optional[str] = None, map_size: int = 0,
                 map_max: int = 0, log=None) -> None:
        self._eng = None
        self._batch: Optional["Batch"] = None
        # Calls in flight = entries - exits (itertools.count: atomic
        # under the GIL); see close().
        self._in = itertools.count()
        self._out = itertools.count()
        path = os.fspath(path) if not isinstance(path, str) else path
        cfg = ffi.new("tsps_config *")
        cfg.version = lib.TSPS_CONFIG_VERSION
        bpath = cstr(path, "path")
        cfg.path = bpath_c = ffi.new("char[]", bpath)
        breg = None
        if region is not None:
            breg = ffi.new("char[]", cstr(region, "region", 3))
            cfg.region = breg
        cfg.map_size = check_int(map_size, "map_size", 0, 2**62)
        cfg.map_max = check_int(map_max, "map_max", 0, 2**62)
        flags = 0
        if readonly:
            flags |= lib.TSPS_OPEN_RDONLY
        if nosync:
            flags |= lib.TSPS_OPEN_NOSYNC
        if not contact_cache:
            flags |= lib.TSPS_OPEN_NO_CONTACT_CACHE
        cfg.flags = flags
        self._log = cb.LogTarget(log)
        cfg.log = lib.tsps_py_log
        cfg.log_arg = self._log.handle
        out = ffi.new("tsps_engine **")
        rc = lib.tsps_engine_open(cfg, out)
        del bpath_c, breg
        check(rc, "open %s" % path)
        self._eng = out[0]
        self.path = path

    # ---- lifecycle ----------------------------------------------------------

    close_timeout = 5.0

    def close(self) -> None:
        """Close the engine (a batch this thread has open is aborted).
        Idempotent. Waits for calls in flight in other threads; raises
        BusyError if they do not end within ``close_timeout`` seconds, or
        if another thread has a batch open."""
        b = self._batch
        if b is not None:
            if b._thread != threading.get_ident():
                raise BusyError(lib.TSPS_EBUSY, "close engine",
                                "another thread has a batch open")
            b.abort()
        e, self._eng = self._eng, None
        if e is None:
            return
        deadline = _time.monotonic() + self.close_timeout
        while True:
            # exits read first: if they equal the entries read after, no
            # call that could have seen the handle is still in flight
            done = self._count(self._out)
            if done == self._count(self._in):
                break
            if _time.monotonic() > deadline:
                self._eng = e
                raise BusyError(lib.TSPS_EBUSY, "close engine",
                                "calls still in flight")
            _time.sleep(0.001)
        lib.tsps_engine_close(e)

    @staticmethod
    def _count(counter) -> int:
        return counter.__reduce__()[1][0]

    @property
    def closed(self) -> bool:
        return self._eng is None

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _e(self):
        e = self._eng
        if e is None:
            raise ClosedError("engine")
        return e

    def stats(self) -> Stats:
        s = ffi.new("tsps_stats *")
        check(lib.tsps_engine_stats(self._e(), s), "stats")
        return Stats(s.users, s.numbers, s.contacts, s.contact_numbers,
                     s.events, s.registrations, s.calls, s.map_size,
                     s.used_bytes, s.config_generation)

    # ---- users and numbers --------------------------------------------------

    def put_user(self, user: User) -> None:
        """Create or replace a user (committed before return)."""
        if not isinstance(user, User):
            raise TypeError("put_user: expected a tsps.User")
        u = user._to_c()
        check(lib.tsps_user_put(self._e(), u), "put user %r" % user.id)

    def get_user(self, user_id: str) -> User:
        u = ffi.new("tsps_user *")
        check(lib.tsps_user_get(self._e(), cstr(user_id, "user_id", 64), u),
              "get user %r" % user_id)
        return User._from_c(u)

    def delete_user(self, user_id: str) -> None:
        check(lib.tsps_user_delete(self._e(), cstr(user_id, "user_id", 64)),
              "delete user %r" % user_id)

    def users(self) -> Iterator[User]:
        rc, items = _listing(lib.tsps_user_list, User._from_c, self._e(),
                             lib.tsps_py_user_cb)
        check(rc, "list users")
        return iter(items)

    def add_number(self, user_id: str, number: str) -> None:
        """Assign a public number (any format, the user's dial plan)."""
        check(lib.tsps_number_add(self._e(), cstr(user_id, "user_id", 64),
                                  cstr(number, "number")),
              "add number %r to %r" % (number, user_id))

    def remove_number(self, e164: str) -> None:
        check(lib.tsps_number_remove(self._e(), cstr(e164, "number")),
              "remove number %r" % e164)

    def lookup_number(self, e164: str) -> str:
        """The user a public number belongs to (NotFoundError if none)."""
        buf = ffi.new("char[64]")
        check(lib.tsps_number_lookup(self._e(), cstr(e164, "number"), buf),
              "lookup number %r" % e164)
        return getstr(buf)

    def numbers(self, user_id: str) -> Iterator[str]:
        rc, items = _listing(lib.tsps_number_list, getstr, self._e(),
                             cstr(user_id, "user_id", 64),
                             lib.tsps_py_number_cb)
        check(rc, "list numbers of %r" % user_id)
        return iter(items)

    # ---- rules ----------------------------------------------------------------

    def set_rule(self, user_id: str, code: str, method: MethodLike,
                 status: Union[str, int] = "any") -> None:
        """Map a handling code ("VIP", or "*" for every code) to a method,
        for one status or "any"."""
        m = as_method(method)
        check(lib.tsps_code_set(self._e(), cstr(user_id, "user_id", 64),
                                cstr(code, "code", 32), status_value(status),
                                m._m),
              "set rule %s/%s for %r" % (code, status, user_id))

    def get_rule(self, user_id: str, code: str,
                 status: Union[str, int] = "any") -> Method:
        m = ffi.new("tsps_method *")
        check(lib.tsps_code_get(self._e(), cstr(user_id, "user_id", 64),
                                cstr(code, "code", 32), status_value(status),
                                m),
              "get rule %s/%s of %r" % (code, status, user_id))
        return Method._from_c(m)

    def delete_rule(self, user_id: str, code: str,
                    status: Union[str, int] = "any") -> None:
        check(lib.tsps_code_delete(self._e(), cstr(user_id, "user_id", 64),
                                   cstr(code, "code", 32),
                                   status_value(status)),
              "delete rule %s/%s of %r" % (code, status, user_id))

    def rules(self, user_id: str) -> Iterator[Rule]:
        conv = lambda code, st, m: Rule(getstr(code), _name(STATUSES, st),
                                        Method._from_c(m))
        rc, items = _listing(lib.tsps_code_list, conv, self._e(),
                             cstr(user_id, "user_id", 64), lib.tsps_py_code_cb)
        check(rc, "list rules of %r" % user_id)
        return iter(items)

    # ---- contacts ---------------------------------------------------------------

    def put_contact(self, user_id: str, contact: Contact) -> None:
        if not isinstance(contact, Contact):
            raise TypeError("put_contact: expected a tsps.Contact")
        c = contact._to_c()
        check(lib.tsps_contact_put(self._e(), cstr(user_id, "user_id", 64),
                                   c),
              "put contact %r of %r" % (contact.uid, user_id))

    def get_contact(self, user_id: str, uid: str) -> Contact:
        c = ffi.new("tsps_contact *")
        check(lib.tsps_contact_get(self._e(), cstr(user_id, "user_id", 64),
                                   cstr(uid, "uid", 128), c),
              "get contact %r of %r" % (uid, user_id))
        return Contact._from_c(c)

    def delete_contact(self, user_id: str, uid: str) -> None:
        check(lib.tsps_contact_delete(self._e(),
                                      cstr(user_id, "user_id", 64),
                                      cstr(uid, "uid", 128)),
              "delete contact %r of %r" % (uid, user_id))

    def set_contact_code(self, user_id: str, uid: str, code: str,
                         source: str = "manual") -> None:
        """Set ("" clears) a contact's handling code."""
        check(lib.tsps_contact_set_code(self._e(),
                                        cstr(user_id, "user_id", 64),
                                        cstr(uid, "uid", 128),
                                        cstr(code, "code", 32),
                                        code_source_value(source)),
              "set code of %r of %r" % (uid, user_id))

    def contacts(self, user_id: str,
                 query: Optional[str] = None) -> Iterator[Contact]:
        """A user's contacts in uid order, or those whose name, org,
        e-mail or number contains ``query``."""
        rc, items = _listing(lib.tsps_contact_list, Contact._from_c,
                             self._e(), cstr(user_id, "user_id", 64),
                             cstr(query, "query", allow_none=True),
                             lib.tsps_py_contact_cb)
        check(rc, "list contacts of %r" % user_id)
        return iter(items)

    def find_contacts(self, user_id: str, number: str) -> Iterator[Contact]:
        """Every contact of the user that has ``number`` (any format)."""
        rc, items = _listing(lib.tsps_contact_find_number, Contact._from_c,
                             self._e(), cstr(user_id, "user_id", 64),
                             cstr(number, "number"), lib.tsps_py_contact_cb)
        check(rc, "find contacts of %r by %r" % (user_id, number))
        return iter(items)

    # ---- events -------------------------------------------------------------------

    def put_event(self, user_id: str, event: Event) -> None:
        if not isinstance(event, Event):
            raise TypeError("put_event: expected a tsps.Event")
        e = event._to_c()
        check(lib.tsps_event_put(self._e(), cstr(user_id, "user_id", 64), e),
              "put event %r of %r" % (event.uid, user_id))

    def delete_event(self, user_id: str, uid: str) -> None:
        check(lib.tsps_event_delete(self._e(), cstr(user_id, "user_id", 64),
                                    cstr(uid, "uid", 128)),
              "delete event %r of %r" % (uid, user_id))

    def events(self, user_id: str, start: TimeLike,
               end: TimeLike) -> Iterator[Event]:
        """Events overlapping [start, end), in order of their end."""
        rc, items = _listing(lib.tsps_event_list, Event._from_c, self._e(),
                             cstr(user_id, "user_id", 64),
                             to_epoch(start, "start"), to_epoch(end, "end"),
                             lib.tsps_py_event_cb)
        check(rc, "list events of %r" % user_id)
        return iter(items)

    # ---- status -------------------------------------------------------------------

    def set_status(self, user_id: str, status: Union[str, int],
                   until: TimeLike = None, note: str = "") -> None:
        """Set a manual status ("dnd", "away" ...; "any" clears it)."""
        check(lib.tsps_status_set(self._e(), cstr(user_id, "user_id", 64),
                                  status_value(status),
                                  to_epoch(until, "until"),
                                  cstr(note, "note", 128)),
              "set status of %r" % user_id)

    def status(self, user_id: str, at: TimeLike = None) -> StatusInfo:
        """The effective status at ``at`` (default now)."""
        import time
        s = ffi.new("tsps_status_info *")
        check(lib.tsps_status_get(self._e(), cstr(user_id, "user_id", 64),
                                  to_epoch(at, "at", int(time.time())), s),
              "status of %r" % user_id)
        return StatusInfo(_name(STATUSES, s.status),
                          _name(STATUS_SOURCES, s.source),
                          from_epoch(s.until), getstr(s.detail),
                          getstr(s.event_uid))

    # ---- registrations ----------------------------------------------------------

    def put_registration(self, user_id: str, reg: Registration) -> None:
        if not isinstance(reg, Registration):
            raise TypeError("put_registration: expected a tsps.Registration")
        r = reg._to_c()
        check(lib.tsps_registration_put(self._e(),
                                        cstr(user_id, "user_id", 64), r),
              "put registration of %r" % user_id)

    def remove_registration(self, user_id: str, key: str) -> None:
        """Remove one binding (by instance, else contact URI)."""
        check(lib.tsps_registration_remove(self._e(),
                                           cstr(user_id, "user_id", 64),
                                           cstr(key, "key", 256)),
              "remove registration of %r" % user_id)

    def clear_registrations(self, user_id: str) -> None:
        check(lib.tsps_registration_clear(self._e(),
                                          cstr(user_id, "user_id", 64)),
              "clear registrations of %r" % user_id)

    def registrations(self, user_id: str,
                      at: TimeLike = None) -> Iterator[Registration]:
        """Bindings not expired at ``at`` (default now), best q first."""
        import time
        rc, items = _listing(lib.tsps_registration_list,
                             Registration._from_c, self._e(),
                             cstr(user_id, "user_id", 64),
                             to_epoch(at, "at", int(time.time())),
                             lib.tsps_py_registration_cb)
        check(rc, "list registrations of %r" % user_id)
        return iter(items)

    def purge_registrations(self, at: TimeLike = None) -> int:
        """Delete bindings expired before ``at``; returns how many."""
        import time
        n = ffi.new("size_t *")
        check(lib.tsps_registration_purge(
            self._e(), to_epoch(at, "at", int(time.time())), n),
            "purge registrations")
        return n[0]

    # ---- routing ------------------------------------------------------------------

    def route(self, called: str, caller: Optional[str] = None,
              caller_name: Optional[str] = None,
              at: TimeLike = None) -> Decision:
        """Route one call: returns the libtsps decision with its trace.

        :param called: dialled number or URI
        :param caller: CLI or URI; None or "" = withheld
        :param caller_name: display name signalled, optional
        :param at: time of the call (datetime or UTC seconds; None = now)
        """
        if called.__class__ is not str:
            raise TypeError("called: expected str, got %s"
                            % type(called).__name__)
        bc = called.encode()
        if b"\0" in bc:
            raise ValueError("called: contains a NUL character")
        if caller is None:
            bk = ffi.NULL
        else:
            bk = cstr(caller, "caller")
        bn = ffi.NULL if caller_name is None else cstr(caller_name,
                                                       "caller_name")
        now = 0 if at is None else to_epoch(at, "at")
        d = ffi.new("tsps_decision *")
        next(self._in)
        try:
            e = self._eng
            if e is None:
                raise ClosedError("engine")
            rc = lib.tsps_py_route(e, bc, bk, bn, now, d)
        finally:
            next(self._out)
        if rc != 0:
            raise tsps_error(rc, "route %r <- %r" % (called, caller))
        return Decision(d)

    def override(self, decision: Decision, method: MethodLike, actor: str,
                 at: TimeLike = None) -> Decision:
        """Decide anew with a method chosen live (not written to history;
        see :meth:`history_override`)."""
        if not isinstance(decision, Decision):
            raise TypeError("override: expected a tsps.Decision")
        m = as_method(method)
        out = ffi.new("tsps_decision *")
        check(lib.tsps_route_override(self._e(), decision._d, m._m,
                                      cstr(actor, "actor", 64),
                                      to_epoch(at, "at"), out),
              "override")
        return Decision(out, decision.call_id)

    # ---- history ------------------------------------------------------------------

    def history_append(self, decision: Decision,
                       outcome: str = "routed") -> int:
        """Append a call to history; returns its id (never 0)."""
        if not isinstance(decision, Decision):
            raise TypeError("history_append: expected a tsps.Decision")
        cid = ffi.new("uint64_t *")
        check(lib.tsps_history_append(self._e(), decision._d,
                                      outcome_value(outcome), cid),
              "history append")
        decision.call_id = cid[0]
        return cid[0]

    def set_outcome(self, call_id: int, outcome: str, end: TimeLike = None,
                    note: str = "") -> None:
        check(lib.tsps_history_set_outcome(
            self._e(), check_int(call_id, "call_id", 1, 2**64 - 1),
            outcome_value(outcome), to_epoch(end, "end"),
            cstr(note, "note", 128)), "set outcome of call %r" % call_id)

    def history_override(self, call_id: int, method: MethodLike, actor: str,
                         at: TimeLike = None) -> Decision:
        """Record a live decision for a call; returns the new decision."""
        m = as_method(method)
        out = ffi.new("tsps_decision *")
        check(lib.tsps_history_override(
            self._e(), check_int(call_id, "call_id", 1, 2**64 - 1), m._m,
            cstr(actor, "actor", 64), to_epoch(at, "at"), out),
            "override call %r" % call_id)
        return Decision(out, call_id)

    def call(self, call_id: int) -> CallRecord:
        """One call of history."""
        r = ffi.new("tsps_call_record *")
        check(lib.tsps_history_get(self._e(),
                                   check_int(call_id, "call_id", 0,
                                             2**64 - 1), r),
              "call %r" % call_id)
        return CallRecord._from_c(r)

    def history(self, user_id: str, start: TimeLike = None,
                end: TimeLike = None, limit: int = 0) -> Iterator[CallRecord]:
        """A user's calls with start in [start, end), newest first."""
        rc, items = _listing(lib.tsps_history_query, CallRecord._from_c,
                             self._e(), cstr(user_id, "user_id", 64),
                             to_epoch(start, "start"),
                             to_epoch(end, "end", 2**62),
                             check_int(limit, "limit", 0, 2**62),
                             lib.tsps_py_history_cb)
        check(rc, "history of %r" % user_id)
        return iter(items)

    def history_by_caller(self, user_id: str, caller: str,
                          limit: int = 0) -> Iterator[CallRecord]:
        rc, items = _listing(lib.tsps_history_by_caller, CallRecord._from_c,
                             self._e(), cstr(user_id, "user_id", 64),
                             cstr(caller, "caller"),
                             check_int(limit, "limit", 0, 2**62),
                             lib.tsps_py_history_cb)
        check(rc, "history of %r from %r" % (user_id, caller))
        return iter(items)

    # ---- batches, cursors, key/value ------------------------------------------

    def batch(self) -> "Batch":
        """Begin a write batch (one transaction); use it as a context
        manager: committed when the block ends, aborted on an exception."""
        return Batch(self)

    def cursor(self, key: str) -> Optional[bytes]:
        """A sync cursor, or None if there is none."""
        return self._get_bytes(lib.tsps_cursor_get, key, "cursor")

    def delete_cursor(self, key: str) -> None:
        check(lib.tsps_cursor_delete(self._e(), cstr(key, "key")),
              "delete cursor %r" % key)

    def kv_put(self, key: str, value: Optional[bytes]) -> None:
        """Store (None deletes) a small value under a namespaced key."""
        if value is None:
            check(lib.tsps_kv_put(self._e(), cstr(key, "key"), ffi.NULL, 0),
                  "kv delete %r" % key)
            return
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError("kv_put: value must be bytes")
        value = bytes(value)
        check(lib.tsps_kv_put(self._e(), cstr(key, "key"), value, len(value)),
              "kv put %r" % key)

    def kv_get(self, key: str) -> Optional[bytes]:
        return self._get_bytes(lib.tsps_kv_get, key, "kv get")

    def kv_items(self, prefix: str = "") -> Iterator:
        conv = lambda k, v, n: (getstr(k), bytes(ffi.buffer(v, n)))
        rc, items = _listing(lib.tsps_kv_list, conv, self._e(),
                             cstr(prefix, "prefix"), lib.tsps_py_kv_cb)
        check(rc, "kv list %r" % prefix)
        return iter(items)

    def _get_bytes(self, fn, key: str, what: str) -> Optional[bytes]:
        n = ffi.new("size_t *")
        size = 256
        while True:
            buf = ffi.new("char[]", size)
            rc = fn(self._e(), cstr(key, "key"), buf, size, n)
            if rc == lib.TSPS_ENOTFOUND:
                return None
            if rc == lib.TSPS_ENOBUFS and n[0] > size:
                size = n[0]
                continue
            check(rc, "%s %r" % (what, key))
            return bytes(ffi.buffer(buf, n[0]))


def _guarded(fn):
    """Count the call as in flight while it runs (see Engine.close())."""
    @functools.wraps(fn)
    def call(self, *args, **kwargs):
        next(self._in)
        try:
            return fn(self, *args, **kwargs)
        finally:
            next(self._out)
    return call


for _attr, _fn in list(vars(Engine).items()):
    if callable(_fn) and not _attr.startswith("_") and \
            _attr not in ("close", "route"):
        setattr(Engine, _attr, _guarded(_fn))
del _attr, _fn


class Batch:
    """Many writes in one transaction (``Engine.batch()``)::

        with eng.batch() as b:
            for c in contacts:
                b.put_contact("ann", c)

    Committed when the block ends without an exception, else dropped. The
    engine's other write methods called from the same thread meanwhile
    join it. A batch belongs to the thread that began it.
    """

    def __init__(self, engine: Engine) -> None:
        if engine._batch is not None:
            raise BusyError(lib.TSPS_EBUSY, "batch",
                            "this engine has a batch open")
        out = ffi.new("tsps_batch **")
        check(lib.tsps_batch_begin(engine._e(), out), "batch begin")
        self._b = out[0]
        self._engine = engine
        self._thread = threading.get_ident()
        self._c = ffi.new("tsps_contact *")
        engine._batch = self

    def _h(self):
        b = self._b
        if b is None:
            raise ClosedError("batch")
        if threading.get_ident() != self._thread:
            raise StateError(lib.TSPS_ESTATE, "batch",
                             "used from a thread other than its own")
        return b

    def put_contact(self, user_id: str, contact: Contact) -> None:
        if not isinstance(contact, Contact):
            raise TypeError("put_contact: expected a tsps.Contact")
        b = self._h()
        contact._fill(self._c)
        check(lib.tsps_batch_contact_put(b, cstr(user_id, "user_id", 64),
                                         self._c),
              "batch put contact %r" % contact.uid)

    def delete_contact(self, user_id: str, uid: str) -> None:
        check(lib.tsps_batch_contact_delete(self._h(),
                                            cstr(user_id, "user_id", 64),
                                            cstr(uid, "uid", 128)),
              "batch delete contact %r" % uid)

    def put_event(self, user_id: str, event: Event) -> None:
        if not isinstance(event, Event):
            raise TypeError("put_event: expected a tsps.Event")
        b = self._h()
        check(lib.tsps_batch_event_put(b, cstr(user_id, "user_id", 64),
                                       event._to_c()),
              "batch put event %r" % event.uid)

    def delete_event(self, user_id: str, uid: str) -> None:
        check(lib.tsps_batch_event_delete(self._h(),
                                          cstr(user_id, "user_id", 64),
                                          cstr(uid, "uid", 128)),
              "batch delete event %r" % uid)

    def clear_source(self, user_id: str, source: str, contacts: bool = True,
                     events: bool = True) -> None:
        """Delete every contact and/or event of ``source`` (full resync)."""
        check(lib.tsps_batch_source_clear(self._h(),
                                          cstr(user_id, "user_id", 64),
                                          cstr(source, "source", 64),
                                          int(bool(contacts)),
                                          int(bool(events))),
              "batch clear source %r" % source)

    def set_cursor(self, key: str, value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError("set_cursor: value must be bytes")
        value = bytes(value)
        check(lib.tsps_batch_cursor_set(self._h(), cstr(key, "key"), value,
                                        len(value)),
              "batch set cursor %r" % key)

    def history_append(self, decision: Decision,
                       outcome: str = "routed") -> int:
        if not isinstance(decision, Decision):
            raise TypeError("history_append: expected a tsps.Decision")
        cid = ffi.new("uint64_t *")
        check(lib.tsps_batch_history_append(self._h(), decision._d,
                                            outcome_value(outcome), cid),
              "batch history append")
        decision.call_id = cid[0]
        return cid[0]

    def commit(self) -> None:
        """Commit; the batch is over whatever the result."""
        b = self._h()
        self._b = None
        self._engine._batch = None
        check(lib.tsps_batch_commit(b), "batch commit")

    def abort(self) -> None:
        """Drop every write of the batch. Idempotent."""
        b, self._b = self._b, None
        if b is not None:
            self._engine._batch = None
            lib.tsps_batch_abort(b)

    @property
    def closed(self) -> bool:
        return self._b is None

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, et, ev, tb) -> None:
        if et is None and self._b is not None:
            self.commit()
        else:
            self.abort()
