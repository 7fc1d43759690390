"""A network between the app and the GridOps server that fails the way a phone's network does, on demand.

:class:`NetFault` is an HTTP proxy on 127.0.0.1 (a thread per connection, keep-alive) that relays each
request to the real server, or does one of these instead, as the test chooses per request:

- ``pass``: relay the request and the answer.
- ``down``: read the request, then close the connection without answering: the server never sees it.
- ``lost_answer``: relay the request, let the server process it, then close the connection without
  answering: the server acknowledged, the phone never heard.
- ``portal``: answer 200 with a "Wi-Fi login" HTML page without relaying (a hotel or station network).
- ``status:NNN``: answer that status with an empty body without relaying (a gateway's 502/503/504), with
  a ``Retry-After`` header when the rule gives one.
- ``hang``: relay, then hold the answer until :meth:`NetFault.release` (to kill the app while it waits, or
  to outlast its read timeout).

Rules pick the mode: :meth:`NetFault.fault` adds one (requests matching a path regex and a method, from
the n-th matching request onward, for a number of requests); requests no rule takes get ``mode``. Every
request is logged as an :class:`Exchange` (number, method, path, mode, the server's status).

It stands between two real parts, the app's client code and the live server; it imitates neither.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MODES = ("pass", "down", "lost_answer", "portal", "hang")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}
PORTAL_PAGE = (
    b"<!DOCTYPE html><html><head><title>Wi-Fi login</title></head><body><h1>Welcome to Station Wi-Fi</h1>"
    b"<form method='post'><input name='phone'><button>Log in</button></form></body></html>"
)


@dataclass(frozen=True)
class Exchange:
    """One request through the proxy: ``status`` is the server's answer, None when the server never saw
    the request (``down``, ``portal``, ``status:NNN``, or the server unreachable)."""

    number: int  # 1 for the proxy's first request
    method: str
    path: str  # without the query string
    mode: str
    status: int | None


@dataclass
class _Rule:
    mode: str
    path: re.Pattern[str] | None
    method: str | None
    skip: int  # matching requests still to let through before the rule applies
    times: int | None  # requests the rule still applies to (None: no end)
    retry_after: int | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path.search(path) is not None
        )


def _check_mode(mode: str) -> None:
    if mode in MODES or re.fullmatch(r"status:[1-5][0-9][0-9]", mode):
        return
    raise ValueError(f"unknown network mode {mode!r}: one of {', '.join(MODES)} or status:NNN")


class NetFault:
    """A proxy to ``upstream`` (the server's base URL) on a free port of 127.0.0.1; the app uses
    :attr:`url` as its server. Use it as a context manager, or call :meth:`close`."""

    def __init__(self, upstream: str, *, upstream_timeout_s: float = 120.0) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.upstream_timeout_s = upstream_timeout_s
        self.mode = "pass"  # for requests no rule takes
        self._rules: list[_Rule] = []
        self._log: list[Exchange] = []
        self._arrived = 0
        self._hung: list[Exchange] = []
        self._changed = threading.Condition()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.netfault = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="netfault", daemon=True)
        self._thread.start()

    def __enter__(self) -> NetFault:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting requests and let every held answer go."""
        self.release()
        self._server.shutdown()
        self._server.server_close()

    # -- what the test controls -----------------------------------------------------------------------

    def fault(
        self,
        mode: str,
        *,
        path: str | None = None,
        method: str | None = None,
        skip: int = 0,
        times: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """From now on, requests whose path matches the regex ``path`` (searched; any path when None) and
        whose method is ``method`` (any when None) get ``mode``, after the next ``skip`` such requests went
        their usual way, for ``times`` requests (for good when None). The earliest rule added that takes a
        request decides it. ``retry_after`` (seconds) goes with a ``status:NNN`` answer."""
        _check_mode(mode)
        rule = _Rule(mode, re.compile(path) if path else None, method, skip, times, retry_after)
        with self._changed:
            self._rules.append(rule)

    def set(self, mode: str) -> None:
        """Forget every rule: from now on all requests get ``mode`` (``pass``: the network is back)."""
        _check_mode(mode)
        with self._changed:
            self._rules.clear()
            self.mode = mode

    @property
    def log(self) -> list[Exchange]:
        """Every request so far, in arrival order."""
        with self._changed:
            return list(self._log)

    @property
    def count(self) -> int:
        """How many requests arrived so far."""
        with self._changed:
            return self._arrived

    def since(self, number: int) -> list[Exchange]:
        """The requests after the ``number``-th (pass :attr:`count` taken before an action)."""
        return [e for e in self.log if e.number > number]

    def wait_hanging(self, timeout_s: float = 60.0) -> Exchange:
        """The first request held by ``hang`` and not yet released, once there is one."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._hung, timeout=timeout_s):
                raise TimeoutError(f"no request reached a hang within {timeout_s} s: {self._log}")
            return self._hung[0]

    def release(self) -> None:
        """Let the answers held so far go (a later ``hang`` holds again)."""
        with self._changed:
            self._hung.clear()
            self._release.set()
            self._release = threading.Event()

    # -- the handler's side ---------------------------------------------------------------------------

    def _decide(self, method: str, path: str) -> tuple[int, str, int | None]:
        """The request's number, its mode and the Retry-After to send with a status answer."""
        with self._changed:
            self._arrived += 1
            number = self._arrived
            for rule in self._rules:
                if rule.times == 0 or not rule.matches(method, path):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                if rule.times is not None:
                    rule.times -= 1
                return number, rule.mode, rule.retry_after
            return number, self.mode, None

    def _record(self, exchange: Exchange, *, hung: bool = False) -> threading.Event | None:
        """Log ``exchange``; when ``hung``, return the event that releases it."""
        with self._changed:
            self._log.append(exchange)
            self._log.sort(key=lambda e: e.number)
            if hung:
                self._hung.append(exchange)
            self._changed.notify_all()
            return self._release if hung else None

    def _forward(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes):
        """The server's (status, reason, headers, body) for the request, or None when it is unreachable."""
        conn = http.client.HTTPConnection(
            self.upstream_host, self.upstream_port, timeout=self.upstream_timeout_s
        )
        try:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"{self.upstream_host}:{self.upstream_port}")
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        except OSError:
            return None
        finally:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    """One connection from the app: each request on it is relayed, or failed, as its NetFault decides."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the app's requests.Session uses it
    disable_nagle_algorithm = True  # no 40 ms stall between the headers and the body of an answer

    def log_message(self, format: str, *args) -> None:  # the proxy's log is NetFault.log
        pass

    def do_GET(self) -> None:
        self._relay()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _relay(self) -> None:
        net: NetFault = self.server.netfault  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        number, mode, retry_after = net._decide(self.command, path)

        def record(status: int | None, *, hung: bool = False) -> threading.Event | None:
            return net._record(Exchange(number, self.command, path, mode, status), hung=hung)

        if mode == "down":
            record(None)
            self.close_connection = True
            return
        if mode == "portal":
            record(None)
            self._answer(200, "OK", [("Content-Type", "text/html; charset=utf-8")], PORTAL_PAGE)
            return
        if mode.startswith("status:"):
            record(None)
            extra = [("Retry-After", str(retry_after))] if retry_after is not None else []
            self._answer(int(mode.split(":")[1]), None, extra, b"")
            return
        answer = net._forward(self.command, self.path, self.headers.items(), body)
        if answer is None:  # the server itself is unreachable: the phone sees a dropped connection
            record(None)
            self.close_connection = True
            return
        status, reason, headers, data = answer
        if mode == "lost_answer":
            record(status)
            self.close_connection = True
            return
        if mode == "hang":
            record(status, hung=True).wait()
        else:
            record(status)
        self._answer(status, reason, headers, data)

    def _answer(self, status: int, reason: str | None, headers: list[tuple[str, str]], data: bytes) -> None:
        try:
            self.send_response_only(status, reason)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the app gave up waiting (a timeout) or was killed
            self.close_connection = True
