"""Exceptions of the tsps package.

Every error from libtsps is a :class:`TspsError` carrying the library's
``TSPS_E*`` code (``err.code``, a negative int) and its symbolic name
(``err.name``, e.g. ``"TSPS_ENOTFOUND"``); libcmsbridge errors are
:class:`CmsbError` with ``CMSB_E*`` codes. Subclasses also derive from the
matching built-in exception (``LookupError``, ``ValueError`` ...), so code
that does not know tsps can still catch them sensibly.
"""
from typing import Dict, Optional, Type


class Error(Exception):
    """Base of every exception raised by the tsps package."""


class TspsError(Error):
    """A libtsps call failed: ``code`` is the TSPS_E* value, ``name`` its
    symbol, ``op`` the operation that failed."""

    def __init__(self, code: int, op: str = "", detail: str = "") -> None:
        from ._lib import ffi, lib
        self.code = int(code)
        self.name = ffi.string(lib.tsps_errname(self.code)).decode()
        self.strerror = ffi.string(lib.tsps_strerror(self.code)).decode()
        self.op = op
        self.detail = detail
        msg = "%s: %s (%s)" % (op or "tsps", self.strerror, self.name)
        if detail:
            msg += ": " + detail
        super().__init__(msg)


class NotFoundError(TspsError, LookupError):
    """TSPS_ENOTFOUND: no matching entry."""


class InvalidArgumentError(TspsError, ValueError):
    """TSPS_EINVAL: the library refused an argument."""


class NumberError(TspsError, ValueError):
    """TSPS_ENUMBER: a number that cannot be normalised."""


class RegionError(TspsError, ValueError):
    """TSPS_EREGION: an unknown region."""


class TimeZoneError(TspsError, ValueError):
    """TSPS_ETZ: an unknown time zone."""


class ExistsError(TspsError):
    """TSPS_EEXIST: the entry exists already (e.g. a number of another user)."""


class BusyError(TspsError):
    """TSPS_EBUSY: e.g. another engine writes this store, or this thread has
    a batch open already."""


class StoreError(TspsError, OSError):
    """TSPS_ESTORE / TSPS_ENOSPC / TSPS_ESCHEMA: the store failed."""


class StateError(TspsError):
    """TSPS_ESTATE: not valid in the current state."""


class ClosedError(StateError):
    """The engine, batch, registry or source was closed already."""

    def __init__(self, what: str) -> None:
        from ._lib import lib
        super().__init__(lib.TSPS_ESTATE, what, "it is closed")


_TSPS_CLASSES: Dict[str, Type[TspsError]] = {
    "TSPS_ENOTFOUND": NotFoundError,
    "TSPS_EINVAL": InvalidArgumentError,
    "TSPS_ENUMBER": NumberError,
    "TSPS_EREGION": RegionError,
    "TSPS_ETZ": TimeZoneError,
    "TSPS_EEXIST": ExistsError,
    "TSPS_EBUSY": BusyError,
    "TSPS_ESTORE": StoreError,
    "TSPS_ENOSPC": StoreError,
    "TSPS_ESCHEMA": StoreError,
    "TSPS_ESTATE": StateError,
}


def tsps_error(code: int, op: str = "", detail: str = "") -> TspsError:
    """The exception for a TSPS_E* code (the most specific subclass)."""
    from ._lib import ffi, lib
    name = ffi.string(lib.tsps_errname(int(code))).decode()
    return _TSPS_CLASSES.get(name, TspsError)(code, op, detail)


class CmsbError(Error):
    """A libcmsbridge call failed: ``code`` is the CMSB_E* value, ``name``
    its symbol. When an adapter written in Python raised, that exception is
    the ``__cause__``."""

    def __init__(self, code: int, op: str = "", detail: str = "") -> None:
        from ._lib import ffi, lib
        self.code = int(code)
        self.name = ffi.string(lib.cmsb_errname(self.code)).decode()
        self.strerror = ffi.string(lib.cmsb_strerror(self.code)).decode()
        self.op = op
        msg = "%s: %s (%s)" % (op or "cmsb", self.strerror, self.name)
        if detail:
            msg += ": " + detail
        super().__init__(msg)


class AdapterError(CmsbError):
    """Raise this from a Python adapter method to return a given CMSB_E*
    code (e.g. ``AdapterError(CMSB_ENOTFOUND)``); other exceptions map to
    CMSB_EIO (OSError), CMSB_EPARSE (ValueError) or CMSB_EIO."""


def check(rc: int, op: str, detail: str = "") -> None:
    """Raise the TspsError for a non-zero libtsps result."""
    if rc != 0:
        raise tsps_error(rc, op, detail)


def check_cmsb(rc: int, op: str, cause: Optional[BaseException] = None,
               detail: str = "") -> None:
    """Raise the CmsbError for a non-zero libcmsbridge result."""
    if rc != 0:
        err = CmsbError(rc, op, detail)
        if cause is not None:
            raise err from cause
        raise err
