"""One POST to an endpoint: addresses checked after DNS resolution, a 10-second budget.

The connection goes to the very address that was checked (no second lookup a rebinding DNS
server could answer differently); TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 10.0
EXCERPT_BYTES = 1000
USER_AGENT = "Masthead-Webhooks/1"

Resolver = Callable[[str, int], list[str]]


class BlockedAddress(Exception):
    """The URL leads to an address webhooks may not reach (loopback, private, link-local...)."""


class TransportError(Exception):
    """No HTTP answer: DNS, connection, TLS or timeout."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str
    duration_ms: int


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_blocked(address: str) -> bool:
    """Whether webhooks must not reach this IP: anything but a global unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 host itself
            return is_blocked(str(ip.ipv4_mapped))
        inner = embedded_ipv4(ip)
        if inner is not None and is_blocked(str(inner)):
            return True
    return not ip.is_global or ip.is_multicast or ip.is_unspecified or ip.is_reserved


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (TransportError when it does not)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransportError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, *, production: bool) -> None:
    """Refuse what is not an http(s) URL with a host (https only in production); ValueError says why."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the URL must be http:// or https:// with a host")
    if production and parts.scheme != "https":
        raise ValueError("webhook URLs must be https:// in production")
    if parts.username or parts.password:
        raise ValueError("the URL must not carry a user name or password")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise ValueError("the URL's port is not valid") from exc


def resolve_checked(host: str, port: int, allow_private: bool, resolver: Resolver) -> list[str]:
    """The host's addresses, all of them allowed (BlockedAddress when any is not)."""
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        addresses = resolver(host, port)
    if not addresses:
        raise TransportError(f"{host} has no address")
    if not allow_private:
        blocked = [a for a in addresses if is_blocked(a)]
        if blocked:
            raise BlockedAddress(f"{host} resolves to {blocked[0]}, which webhooks may not reach")
    return addresses


def _pinned_connection(
    scheme: str, host: str, address: str, port: int, timeout: float
) -> http.client.HTTPConnection:
    """An HTTP(S) connection to `address` that speaks to `host` (SNI, certificate, Host header)."""
    if scheme == "https":
        context = ssl.create_default_context()

        class Pinned(http.client.HTTPSConnection):
            def connect(self) -> None:
                raw = socket.create_connection((address, port), timeout)
                self.sock = context.wrap_socket(raw, server_hostname=host)

        return Pinned(host, port, timeout=timeout, context=context)

    class PinnedPlain(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.create_connection((address, port), timeout)

    return PinnedPlain(host, port, timeout=timeout)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    production: bool,
    timeout: float = TIMEOUT_SECONDS,
    resolver: Resolver = system_resolver,
) -> Answer:
    """POST `body`; the answer's status and first bytes. Raises BlockedAddress or TransportError."""
    try:
        check_url(url, production=production)
    except ValueError as exc:
        raise BlockedAddress(str(exc)) from exc
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    started = time.monotonic()
    address = resolve_checked(host, port, allow_private, resolver)[0]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _pinned_connection(parts.scheme, host, address, port, timeout)
    deadline = started + timeout
    try:
        connection.connect()
        sock = connection.sock  # kept: the connection hands it to the response and forgets it
        _budget(sock, deadline)
        connection.request("POST", path, body=body, headers={**headers, "User-Agent": USER_AGENT})
        _budget(sock, deadline)
        response = connection.getresponse()
        excerpt = _read_within(sock, response, deadline)
    except (OSError, http.client.HTTPException) as exc:
        kind = "timed out" if isinstance(exc, TimeoutError | socket.timeout) else "failed"
        raise TransportError(f"request {kind}: {exc}") from exc
    finally:
        connection.close()
    return Answer(response.status, excerpt, int((time.monotonic() - started) * 1000))


def _budget(sock: socket.socket, deadline: float) -> None:
    """What is left of the attempt's time becomes the socket's timeout (one budget, not per step)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the endpoint took longer than the timeout")
    sock.settimeout(left)


def _read_within(sock: socket.socket, response: http.client.HTTPResponse, deadline: float) -> str:
    """The answer's first EXCERPT_BYTES, read before the deadline (a trickling server is cut off)."""
    chunks: list[bytes] = []
    size = 0
    while size < EXCERPT_BYTES:
        _budget(sock, deadline)
        chunk = response.read1(EXCERPT_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")
