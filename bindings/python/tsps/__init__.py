"""tsps: caller-aware call routing from Python.

Three parts, each usable alone:

* :class:`Engine` - the routing engine (libtsps) embedded: users, numbers,
  rules, contacts, events, registrations, ``route()`` with its trace,
  overrides and call history;
* :class:`Registry` / :class:`Adapter` - libcmsbridge: sync contact managers
  into an engine, including adapters written in Python;
* :mod:`tsps.control` - a client of tspsd's control protocol (TLS, token or
  client certificate, every request, ``watch()`` for events).
"""
from ._lib import ffi as _ffi, lib as _lib
from .errors import (AdapterError, BusyError, ClosedError, CmsbError, Error,
                     ExistsError, InvalidArgumentError, NotFoundError,
                     NumberError, RegionError, StateError, StoreError,
                     TimeZoneError, TspsError)
from .model import (CallRecord, Contact, Decision, Event, Method, Number,
                    Registration, Rule, StatusInfo, Stats, Target, TraceStep,
                    User, normalize)
from .engine import Batch, Engine
from .adapter import (Adapter, Change, Item, Registry, Source, SyncStats,
                      CAP_CHANGES, CAP_EVENTS, CAP_RELATED, CAP_WATCH,
                      CAP_WRITE, CMSB_EAUTH, CMSB_ECONFLICT, CMSB_EINVAL,
                      CMSB_EIO, CMSB_ENOTFOUND, CMSB_ENOTSUP, CMSB_EPARSE,
                      CMSB_ETIMEDOUT)

__version__ = "0.1.0"


def library_versions() -> dict:
    """Versions of the package and of the C libraries it runs on."""
    return {"tsps-python": __version__,
            "libtsps": _ffi.string(_lib.tsps_version()).decode(),
            "libcmsbridge": _ffi.string(_lib.cmsb_version()).decode()}


__all__ = [
    "Adapter", "AdapterError", "Batch", "BusyError", "CallRecord", "Change",
    "ClosedError", "CmsbError", "Contact", "Decision", "Engine", "Error",
    "Event", "ExistsError", "InvalidArgumentError", "Item", "Method",
    "NotFoundError", "Number", "NumberError", "RegionError", "Registration",
    "Registry", "Rule", "Source", "StateError", "StatusInfo", "Stats",
    "StoreError", "SyncStats", "Target", "TimeZoneError", "TraceStep",
    "TspsError", "User", "library_versions", "normalize", "CAP_CHANGES",
    "CAP_EVENTS", "CAP_RELATED", "CAP_WATCH", "CAP_WRITE", "CMSB_EAUTH",
    "CMSB_ECONFLICT", "CMSB_EINVAL", "CMSB_EIO", "CMSB_ENOTFOUND",
    "CMSB_ENOTSUP", "CMSB_EPARSE", "CMSB_ETIMEDOUT",
]
