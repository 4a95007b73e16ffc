"""Where webhook deliveries may go: no redirects to other hosts, and (by default outside DEBUG) no
loopback, link-local, private or otherwise internal addresses unless an operator lists them.

A webhook URL is set by an admin, but what it resolves to and where it redirects is decided by whoever
runs that host: without these checks a receiver could bounce the service's signed POSTs onto internal
addresses (cloud metadata at 169.254.169.254, an admin port on 127.0.0.1) and, through the stored error,
read what those answered.

Settings: WEBHOOK_BLOCK_PRIVATE_ADDRESSES (default: on unless DEBUG) and WEBHOOK_ALLOWED_NETWORKS (CIDR
ranges or exact host names allowed even when internal, e.g. "10.20.0.0/16,hooks.internal"). Every address
the host name resolves to is checked before each attempt. Residual risk: a resolver that answers
differently between this check and the connection (DNS rebinding); deployments that must rule that out
send webhooks through an egress proxy.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class Refused(Exception):
    """A delivery the service will not make; final, never retried."""


def _allowed_entries():
    networks, hosts = [], set()
    for item in settings.WEBHOOK_ALLOWED_NETWORKS or []:
        item = str(item).strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item.lower())
    return networks, hosts


def _internal(address) -> bool:
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
            or address.is_multicast or address.is_unspecified
            or (address.version == 6 and address.ipv4_mapped is not None and _internal(address.ipv4_mapped)))


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def check(url: str, resolve=socket.getaddrinfo) -> None:
    """Raise Refused unless `url` is http(s) and every address its host resolves to may be called."""
    scheme, host, port = origin(url)
    if scheme not in ("http", "https") or not host:
        raise Refused(f"only http and https URLs with a host are delivered to, not {url[:200]!r}")
    if not settings.WEBHOOK_BLOCK_PRIVATE_ADDRESSES:
        return
    networks, hosts = _allowed_entries()
    if host in hosts:
        return
    try:
        infos = resolve(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if _internal(address) and not any(address in net for net in networks):
            raise Refused(f"{host} resolves to {address}, an internal address; list it in WEBHOOK_ALLOWED_NETWORKS "
                          "to deliver there")
