"""Which addresses an endpoint added in the page may reach: the policy, and the judgement of one resolved address.

Configured deployments are trusted as they are. An endpoint a visitor types into the page is not: on a shared host
it could point the server at its own loopback services, the private network or a cloud metadata service (SSRF).
`PLAYGROUND_USER_ENDPOINTS` says what such endpoints may be:

- `off`: visitors cannot add endpoints at all;
- `public-only`: only hosts whose every address is public (the default when the app listens beyond loopback);
- `any`: anything (the default when the app listens on loopback only, as `make run` does).

The address is judged on the IP that the connection really uses (services.transport resolves the name, judges every
address and connects to the judged one), so DNS rebinding and redirects to internal hosts fail too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast
from urllib.parse import urlsplit

Policy = Literal["off", "public-only", "any"]
POLICIES: tuple[Policy, ...] = ("off", "public-only", "any")
POLICY_VARIABLE = "PLAYGROUND_USER_ENDPOINTS"
# getaddrinfo's signature, narrowed to what the guard uses; tests pass a stub so no name is ever looked up.
Resolver = Callable[[str, int], Sequence[str]]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EndpointPolicyError(ValueError):
    """An endpoint the policy refuses; the message says why in words and what to do instead."""


def _is_loopback_host(address: str | None) -> bool:
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def policy_from_env(environ: Mapping[str, str], listen_address: str | None) -> Policy:
    """The policy set in the environment, else the default for where the app listens (None/"" = every interface)."""
    raw = environ.get(POLICY_VARIABLE, "").strip().lower()
    if raw:
        if raw not in POLICIES:
            raise EndpointPolicyError(f"{POLICY_VARIABLE}={raw!r} is not one of {', '.join(POLICIES)}.")
        return cast(Policy, raw)
    return "any" if _is_loopback_host(listen_address) else "public-only"


def address_problem(address: IpAddress) -> str | None:
    """Why an address is not a public one (None when it is): the words a refusal shows."""
    # An IPv4 address inside IPv6 (::ffff:127.0.0.1, 6to4, Teredo) is judged as the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if inner is not None:
            return address_problem(inner)
    if address.is_loopback:
        return "a loopback address (this server itself)"
    if address.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private-network address"
    if not address.is_global:
        return "a reserved address"  # shared (carrier-grade NAT), documentation and benchmarking ranges
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host:port (TCP), in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EndpointPolicyError(f"The host {host!r} cannot be resolved ({exc}).") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressGuard:
    """Judges the addresses a session-added endpoint resolves to under `policy`, right before connecting."""

    policy: Policy
    resolver: Resolver = system_resolver

    def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to; EndpointPolicyError when the policy forbids the host (or any of its addresses).

        Every address must pass, not just the first: a name that resolves to a public and a private address could
        otherwise be steered to the private one.
        """
        if self.policy == "off":
            raise EndpointPolicyError(
                "Endpoints added in the page are switched off on this server "
                f"({POLICY_VARIABLE}=off): ask its operator to configure the deployment."
            )
        try:
            literal: IpAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        addresses = [str(literal)] if literal is not None else list(self.resolver(host, port))
        if not addresses:
            raise EndpointPolicyError(f"The host {host!r} resolves to no address.")
        if self.policy == "any":
            return addresses
        for text in addresses:
            problem = address_problem(ipaddress.ip_address(text.split("%")[0]))
            if problem is not None:
                shown = host if host == text else f"{host} ({text})"
                raise EndpointPolicyError(
                    f"{shown} is {problem}, and this server only lets endpoints added in the page reach public "
                    f"addresses ({POLICY_VARIABLE}=public-only). Use a public endpoint, or ask the server's operator "
                    "to configure this deployment."
                )
        return addresses


def check_endpoint_url(url: str, guard: AddressGuard) -> None:
    """Refuse a URL a visitor typed before anything is sent: scheme, credentials, and (under public-only) its host.

    The same judgement runs again at connection time; this early check gives the form a clear message.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise EndpointPolicyError(f"The endpoint must be an http:// or https:// URL, not {parts.scheme or 'none'}://.")
    if parts.username is not None or parts.password is not None:
        raise EndpointPolicyError(
            "The endpoint URL must not carry a user name or password: put the key in the Key field."
        )
    if not parts.hostname:
        raise EndpointPolicyError("The endpoint URL has no host name.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EndpointPolicyError("The endpoint URL has an invalid port.") from None
    guard.checked_addresses(parts.hostname, port)
