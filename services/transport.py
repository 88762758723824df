"""The sockets under every client: the address guard at connection time, and calls that another thread can stop.

`PlaygroundTransport` is httpx's own HTTP transport with one change: its connection pool uses a network backend
that (1) for a guarded client resolves the host, judges every address with services.netguard and connects to the
judged IP (TLS still checks the certificate against the host name), and (2) lets a `CancelScope` shut down the socket
a call is blocked on, so Stop ends a request at once, even before its first byte arrives.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.request
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import httpcore
import httpx

from services.netguard import AddressGuard, EndpointPolicyError

_local = threading.local()


class EndpointRefused(httpcore.ConnectError):
    """A connection the address guard refused; httpx raises it as the cause of an httpx.ConnectError."""

    def __init__(self, error: EndpointPolicyError) -> None:
        super().__init__(str(error))
        self.error = error


class CallStopped(httpcore.ReadError):
    """The call's scope was cancelled (the user pressed Stop)."""


class CancelScope:
    """Calls made in this thread inside `with scope:` can be stopped from another thread by `scope.cancel()`.

    The socket a call reads or writes is shut down under it, so a read blocked on a slow endpoint returns at once;
    connections opened after the cancel are refused.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[_GuardedStream] = []
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        """True once cancel() was called."""
        return self._cancelled

    def cancel(self) -> None:
        """Stop every call in the scope now."""
        with self._lock:
            self._cancelled = True
            streams = list(self._streams)
        for stream in streams:
            stream.shutdown()

    def _watch(self, stream: _GuardedStream) -> None:
        with self._lock:
            if stream not in self._streams:
                self._streams.append(stream)
            cancelled = self._cancelled
        if cancelled:
            stream.shutdown()
            raise CallStopped("stopped")

    def __enter__(self) -> CancelScope:
        self._previous = getattr(_local, "scope", None)
        _local.scope = self
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        _local.scope = self._previous
        with self._lock:
            self._streams.clear()


def current_scope() -> CancelScope | None:
    """The scope of the calls this thread makes now, if any."""
    return getattr(_local, "scope", None)


def stopped_here() -> bool:
    """True when this thread's calls were cancelled (a failure now is the stop, not the endpoint's fault)."""
    scope = current_scope()
    return scope is not None and scope.cancelled


class _GuardedStream(httpcore.NetworkStream):
    """A socket stream that joins the current thread's CancelScope whenever it is used."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def _join_scope(self) -> None:
        scope = current_scope()
        if scope is not None:
            scope._watch(self)

    def shutdown(self) -> None:
        """Shut the socket down so that a blocked read in another thread returns now."""
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._join_scope()
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._join_scope()
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _GuardedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, connecting only to addresses the guard allows (when there is a guard)."""

    def __init__(self, guard: AddressGuard | None) -> None:
        self._inner = httpcore.SyncBackend()
        self._guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if stopped_here():
            raise CallStopped("stopped before connecting")
        targets = [host]
        if self._guard is not None:
            try:
                targets = self._guard.checked_addresses(host, port)
            except EndpointPolicyError as err:
                raise EndpointRefused(err) from None
        last: Exception | None = None
        # The judged addresses themselves are dialled, so a second lookup cannot swap in another one.
        for target in targets:
            try:
                stream = self._inner.connect_tcp(target, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            guarded = _GuardedStream(stream)
            guarded._join_scope()
            return guarded
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the playground")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) names for this URL, if any."""
    parts = httpx.URL(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.host):
        return None
    return proxy


class PlaygroundTransport(httpx.HTTPTransport):
    """httpx's HTTP transport over the guarded, cancellable backend.

    A guarded transport never uses a proxy (the guard must judge the endpoint's own address); an unguarded one uses
    the environment's proxy for `endpoint`, as httpx would.
    """

    def __init__(self, *, endpoint: str, guard: AddressGuard | None, limits: httpx.Limits) -> None:
        proxy = None if guard is not None else _environment_proxy(endpoint)
        if proxy is not None and httpx.URL(proxy).scheme not in ("http", "https"):
            # A SOCKS proxy: httpx's own pool (Stop then waits for the endpoint's next byte).
            super().__init__(limits=limits, proxy=proxy)
            return
        # httpx's __init__ would only build the pool that is replaced here (and a second SSL context): skipped.
        common: dict[str, Any] = {
            "ssl_context": httpx.create_ssl_context(),
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": _GuardedBackend(guard),
        }
        if proxy is None:
            self._pool = httpcore.ConnectionPool(**common)
            return
        proxy_url = httpx.URL(proxy)
        self._pool = httpcore.HTTPProxy(
            proxy_url=httpcore.URL(
                scheme=proxy_url.raw_scheme, host=proxy_url.raw_host, port=proxy_url.port, target=proxy_url.raw_path
            ),
            proxy_headers=httpx.Headers(httpx.Proxy(proxy_url).headers).raw,
            **common,
        )


def refusal_of(exc: BaseException) -> EndpointPolicyError | None:
    """The guard's refusal behind an httpx error, if that is what it was."""
    cause = exc.__cause__
    return cause.error if isinstance(cause, EndpointRefused) else None
