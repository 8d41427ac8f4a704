"""C -> Python callbacks of the listing functions and the log hook.

A listing passes a handle to a :class:`Collect`; each callback converts the
C record (valid during the call only) into a Python value and appends it.
An exception inside a callback is kept, the callback returns non-zero (the
library stops the listing) and the caller re-raises it: nothing raised in
Python is ever lost or crosses C frames.
"""
import logging
from typing import Any, Callable, List, Optional

from ._conv import getstr
from ._lib import ffi, lib

_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO,
           3: logging.DEBUG}


class Collect:
    __slots__ = ("items", "conv", "exc")

    def __init__(self, conv: Callable[..., Any]) -> None:
        self.items: List[Any] = []
        self.conv = conv
        self.exc: Optional[BaseException] = None

    def reraise(self) -> None:
        if self.exc is not None:
            e, self.exc = self.exc, None
            raise e


def _collect(arg, *values) -> int:
    ctx = ffi.from_handle(arg)
    try:
        ctx.items.append(ctx.conv(*values))
        return 0
    except BaseException as e:  # noqa: B902 - re-raised by the caller
        ctx.exc = e
        return 1


@ffi.def_extern()
def tsps_py_user_cb(arg, u):
    return _collect(arg, u)


@ffi.def_extern()
def tsps_py_number_cb(arg, e164):
    return _collect(arg, e164)


@ffi.def_extern()
def tsps_py_contact_cb(arg, c):
    return _collect(arg, c)


@ffi.def_extern()
def tsps_py_event_cb(arg, e):
    return _collect(arg, e)


@ffi.def_extern()
def tsps_py_code_cb(arg, code, st, m):
    return _collect(arg, code, st, m)


@ffi.def_extern()
def tsps_py_registration_cb(arg, r):
    return _collect(arg, r)


@ffi.def_extern()
def tsps_py_history_cb(arg, r):
    return _collect(arg, r)


@ffi.def_extern()
def tsps_py_kv_cb(arg, key, val, n):
    return _collect(arg, key, val, n)


@ffi.def_extern()
def tsps_py_change_cb(arg, ch):
    return _collect(arg, ch)


@ffi.def_extern()
def tsps_py_item_cb(arg, item):
    return _collect(arg, item)


class LogTarget:
    """Where a library's log lines go: a logging.Logger (default
    ``logging.getLogger("tsps")``) or a callable(level, msg)."""

    __slots__ = ("sink", "handle")

    def __init__(self, sink) -> None:
        self.sink = sink if sink is not None else logging.getLogger("tsps")
        self.handle = ffi.new_handle(self)

    def emit(self, level: int, msg: str) -> None:
        if isinstance(self.sink, logging.Logger):
            self.sink.log(_LEVELS.get(level, logging.DEBUG), "%s", msg)
        else:
            self.sink(level, msg)


@ffi.def_extern()
def tsps_py_log(arg, level, msg):
    try:
        ffi.from_handle(arg).emit(level, getstr(msg))
    except BaseException:  # noqa: B902 - a log hook must never raise into C
        logging.getLogger("tsps").exception("log callback failed")


C = lib  # re-export for the callback function pointers
