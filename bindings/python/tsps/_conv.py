"""Conversions between Python values and the C structs' fields.

Every string that goes into C is checked here first: type (str), no NUL
character (C would silently cut the string there), and the fixed field's
size (libtsps refuses overlong input; we say which field).
"""
import datetime as _dt
from typing import Optional, Union

from ._lib import ffi

TimeLike = Union[_dt.datetime, int, float, None]
UTC = _dt.timezone.utc


def cstr(value, what: str, size: Optional[int] = None,
         allow_none: bool = False):
    """str -> bytes for a `const char *` argument (or None -> NULL)."""
    if value is None:
        if allow_none:
            return ffi.NULL
        raise TypeError("%s: expected str, got None" % what)
    if not isinstance(value, str):
        raise TypeError("%s: expected str, got %s" % (what,
                                                      type(value).__name__))
    b = value.encode("utf-8")
    if b"\0" in b:
        raise ValueError("%s: contains a NUL character" % what)
    if size is not None and len(b) >= size:
        raise ValueError("%s: too long (%d bytes, at most %d)"
                         % (what, len(b), size - 1))
    return b


def setstr(obj, field: str, value, size: int, what: str) -> None:
    """Copy a checked str into the char[size] field `field` of cdata `obj`."""
    if value is None:
        value = ""
    setattr(obj, field, cstr(value, what, size))


def getstr(arr) -> str:
    """A NUL-terminated char array -> str (bad UTF-8 replaced)."""
    return ffi.string(arr).decode("utf-8", "replace")


def to_epoch(t: TimeLike, what: str, default: int = 0) -> int:
    """datetime (naive = UTC), int or float seconds, or None -> UTC seconds."""
    if t is None:
        return default
    if isinstance(t, bool):
        raise TypeError("%s: expected a datetime or seconds, got bool" % what)
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return int(t.timestamp())
    if isinstance(t, (int, float)):
        if t != t or t in (float("inf"), float("-inf")):
            raise ValueError("%s: not a finite time" % what)
        v = int(t)
        if not -(1 << 62) < v < (1 << 62):
            raise ValueError("%s: time out of range" % what)
        return v
    raise TypeError("%s: expected a datetime or seconds, got %s"
                    % (what, type(t).__name__))


def from_epoch(n: int) -> Optional[_dt.datetime]:
    """UTC seconds -> aware datetime in UTC; 0 -> None."""
    if n == 0:
        return None
    try:
        return _dt.datetime.fromtimestamp(n, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def check_int(v, what: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s: expected int, got %s" % (what, type(v).__name__))
    if not lo <= v <= hi:
        raise ValueError("%s: %d out of range %d..%d" % (what, v, lo, hi))
    return v
