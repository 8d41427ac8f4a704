"""A client of tspsd's control protocol (docs/protocol.md).

TLS (1.2+, the standard ssl module) to the control port; frames of a 4-byte
big-endian length and a protobuf message (``tsps_pb2``, generated from
proto/tsps.proto by protoc when the package is built). Authenticate with a
token, a client certificate, or both::

    from tsps import control
    with control.connect("127.0.0.1", 7443, ca="ca.pem", token=TOKEN) as c:
        print(c.identity, c.role)
        d = c.route(caller="+12125550123", called="+12125550100")
        for ev in c.watch():            # call.offered, call.updated ...
            print(ev.kind, ev.call_id, ev.decision.caller)

Every request kind of the protocol is a method named like its field in
``Request.body`` (``user_put``, ``code_list``, ``call_act`` ...), taking the
request message's fields as keyword arguments and returning the Response
(``code`` OK; any other code raises a :class:`ControlError`). A few have
friendlier wrappers (``route``, ``explain``, ``call_act``, ``watch``,
``token_issue`` ...).

Events and replies share the connection: replies are matched by id, events
that arrive meanwhile are queued for ``watch()``. One thread at a time per
client (use one client per thread).
"""
import socket
import ssl
import struct
from collections import deque
from typing import Any, Deque, Iterator, Optional

from . import tsps_pb2 as pb
from .errors import Error

__all__ = ["Client", "connect", "ControlError", "DeniedError",
           "UnauthenticatedError", "NotFoundError", "InvalidError",
           "ExistsError", "VersionError", "InternalError", "UnsupportedError",
           "ConnectionClosedError", "pb"]

MAX_FRAME = 1 << 20


class ControlError(Error):
    """The server answered a request with a code other than OK: ``code``
    (e.g. ``"DENIED"``), ``code_value`` (the enum number), ``error`` (the
    server's one line for people)."""

    def __init__(self, code: int, error: str, request: str) -> None:
        self.code_value = code
        self.code = pb.Code.Name(code) if code in pb.Code.values() else \
            str(code)
        self.error = error
        self.request = request
        super().__init__("%s: %s%s" % (request, self.code,
                                       (": " + error) if error else ""))


class DeniedError(ControlError, PermissionError):
    """DENIED: authenticated, not allowed."""


class UnauthenticatedError(ControlError, PermissionError):
    """UNAUTHENTICATED: no identity (e.g. an unknown or revoked token)."""


class NotFoundError(ControlError, LookupError):
    """NOT_FOUND."""


class InvalidError(ControlError, ValueError):
    """INVALID: a bad argument."""


class ExistsError(ControlError):
    """EXISTS."""


class VersionError(ControlError):
    """VERSION: the server does not speak our protocol version."""


class InternalError(ControlError):
    """INTERNAL."""


class UnsupportedError(ControlError):
    """UNSUPPORTED: the server does not know this request."""


_CODE_CLASSES = {pb.DENIED: DeniedError,
                 pb.UNAUTHENTICATED: UnauthenticatedError,
                 pb.NOT_FOUND: NotFoundError, pb.INVALID: InvalidError,
                 pb.EXISTS: ExistsError, pb.VERSION: VersionError,
                 pb.INTERNAL: InternalError,
                 pb.UNSUPPORTED: UnsupportedError}


class ConnectionClosedError(Error, ConnectionError):
    """The connection is gone (closed by the server, e.g. after the token
    was revoked, or broken); make a new client."""


# Every request kind: field name in Request.body -> its message class.
REQUESTS = {f.name: getattr(pb, f.message_type.name)
            for f in pb.Request.DESCRIPTOR.oneofs_by_name["body"].fields}


class Client:
    """One authenticated control connection (see :func:`connect`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 7443, *,
                 ca: Optional[str] = None, cert: Optional[str] = None,
                 key: Optional[str] = None, token: Optional[str] = None,
                 timeout: Optional[float] = 10.0,
                 server_hostname: Optional[str] = None,
                 client_name: str = "tsps-python") -> None:
        if token is not None and not isinstance(token, str):
            raise TypeError("token: expected str")
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert is not None:
            ctx.load_cert_chain(cert, key)  # key None: both in one PEM
        self.timeout = timeout
        self._buf = bytearray()
        self._events: Deque[Any] = deque()
        self._next_id = 1
        self._sub_ids = set()
        self._sock = None
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            self._sock = ctx.wrap_socket(
                raw, server_hostname=server_hostname or host)
        except BaseException:
            raw.close()
            raise
        try:
            r = self._call("hello", pb.Hello(version=pb.PROTOCOL_VERSION,
                                             token=token or "",
                                             client=client_name))
        except BaseException:
            self.close()
            raise
        self.identity: str = r.hello.identity
        self.role: str = r.hello.role
        self.server: str = r.hello.server
        self.server_version: int = r.hello.version

    # ---- framing --------------------------------------------------------------

    def _send(self, req) -> None:
        data = req.SerializeToString()
        if self._sock is None:
            raise ConnectionClosedError("the connection is closed")
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(struct.pack(">I", len(data)) + data)
        except (ssl.SSLError, OSError) as e:
            if isinstance(e, TimeoutError):
                raise
            self._dead()
            raise ConnectionClosedError("send failed: %s" % e) from e

    def _dead(self) -> None:
        s, self._sock = self._sock, None
        if s is not None:
            try:
                s.close()
            except OSError:
                pass

    def _read_frame(self, timeout: Optional[float]):
        """The next Response; keeps a partial frame across timeouts."""
        while True:
            if len(self._buf) >= 4:
                n = struct.unpack(">I", self._buf[:4])[0]
                if n == 0 or n > MAX_FRAME:
                    self._dead()
                    raise ConnectionClosedError("bad frame length %d" % n)
                if len(self._buf) >= 4 + n:
                    data = bytes(self._buf[4:4 + n])
                    del self._buf[:4 + n]
                    r = pb.Response()
                    try:
                        r.ParseFromString(data)
                    except Exception as e:
                        self._dead()
                        raise ConnectionClosedError(
                            "undecodable frame: %s" % e) from e
                    return r
            if self._sock is None:
                raise ConnectionClosedError("the connection is closed")
            self._sock.settimeout(timeout)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise
            except (ssl.SSLError, OSError) as e:
                self._dead()
                raise ConnectionClosedError("receive failed: %s" % e) from e
            if not chunk:
                self._dead()
                raise ConnectionClosedError("the server closed the "
                                            "connection")
            self._buf += chunk

    def _call(self, name: str, msg, timeout: Optional[float] = -1):
        rid = self._next_id
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        req = pb.Request(id=rid)
        getattr(req, name).CopyFrom(msg)
        self._send(req)
        t = self.timeout if timeout == -1 else timeout
        while True:
            r = self._read_frame(t)
            if r.id == rid and not r.HasField("event"):
                break
            if r.HasField("event"):
                self._events.append(r.event)
        if r.code != pb.OK:
            raise _CODE_CLASSES.get(r.code, ControlError)(r.code, r.error,
                                                           name)
        return r

    # ---- generic requests -------------------------------------------------------

    def request(self, name: str, /, **fields) -> Any:
        """Send the request ``name`` (a field of Request.body, e.g.
        "user_put") built from keyword fields; returns the Response.
        Fields that are messages take a message or a dict."""
        if name not in REQUESTS:
            raise ValueError("no request %r in the protocol (known: %s)"
                             % (name, ", ".join(sorted(REQUESTS))))
        if name == "hello":
            raise ValueError("hello is sent by connect()")
        cls = REQUESTS[name]
        try:
            msg = cls(**fields)
        except (ValueError, TypeError, AttributeError) as e:
            raise TypeError("%s: %s" % (name, e)) from e
        return self._call(name, msg)

    # ---- friendlier wrappers ------------------------------------------------------

    def route(self, caller: Optional[str], called: str, *, at: int = 0,
              caller_name: str = "", live: bool = False,
              brief: bool = False):
        """Route a call in tspsd (a dry run unless ``live``, admin only);
        returns the Decision message."""
        r = self.request("route", **{"from": caller or "", "to": called,
                                     "at": at, "caller_name": caller_name,
                                     "live": live, "brief": brief})
        return r.calls[0]

    def explain(self, call_id: int):
        """The call's Decision (with ``explain`` text)."""
        return self.request("explain", call_id=call_id).calls[0]

    def call_act(self, call_id: int, action: str):
        """Act on a held call ("voicemail", "forward +49...", "take desk",
        "reject" or any method text); returns the new Decision."""
        return self.request("call_act", call_id=call_id,
                            action=action).calls[0]

    def calls_live(self, user: str = ""):
        """Calls in progress the caller may see (list of Decision)."""
        return list(self.request("calls_live", user=user).calls)

    def history(self, user: str, start: int = 0, end: int = 0,
                limit: int = 0):
        return list(self.request("history", user=user, to=end, limit=limit,
                                 **{"from": start}).calls)

    def token_issue(self, identity: str, role: str = "") -> str:
        """Issue a token (admin); returned once."""
        return self.request("token_issue", identity=identity,
                            role=role).token

    def users(self):
        return list(self.request("user_list").users)

    def subscribe(self, user: str = "") -> int:
        """Subscribe to events (``watch()`` does this for you); returns the
        subscription's request id."""
        rid = self._next_id
        self.request("subscribe", user=user)
        self._sub_ids.add(rid)
        return rid

    def next_event(self, timeout: Optional[float] = None):
        """The next event (an Event message); TimeoutError after
        ``timeout`` seconds (None = wait for ever)."""
        if self._events:
            return self._events.popleft()
        while True:
            r = self._read_frame(timeout)
            if r.HasField("event"):
                return r.event

    def watch(self, user: str = "", timeout: Optional[float] = None
              ) -> Iterator[Any]:
        """Subscribe (now, once per client) and return an iterator of
        events that never ends on its own::

            for ev in client.watch():
                if ev.kind == "call.offered" and ev.outcome == "pending":
                    client.call_act(ev.call_id, "voicemail")

        Requests made inside the loop are fine: events that arrive with
        their replies are queued. ``timeout``: TimeoutError when nothing
        comes for that long. Ends with ConnectionClosedError when the server
        ends the stream (e.g. the token was revoked)."""
        if not self._sub_ids:
            self.subscribe(user)
        return self._events_forever(timeout)

    def _events_forever(self, timeout: Optional[float]) -> Iterator[Any]:
        while True:
            yield self.next_event(timeout)

    # ---- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.unwrap()
            except (ssl.SSLError, OSError, ValueError):
                pass
        self._dead()

    @property
    def closed(self) -> bool:
        return self._sock is None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._dead()
        except Exception:
            pass


def _make_method(name: str):
    def method(self, **fields):
        return self.request(name, **fields)
    method.__name__ = name
    method.__doc__ = ("Send a %s request (fields of tsps.%s as keyword "
                      "arguments); returns the Response."
                      % (name, REQUESTS[name].DESCRIPTOR.name))
    return method


for _name in REQUESTS:
    if _name != "hello" and not hasattr(Client, _name):
        setattr(Client, _name, _make_method(_name))


def connect(host: str = "127.0.0.1", port: int = 7443, **kw) -> Client:
    """Connect and say hello; see :class:`Client` for the keywords (ca,
    cert, key, token, timeout, server_hostname, client_name)."""
    return Client(host, port, **kw)
