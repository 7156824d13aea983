"""Whether a host is this machine: the one check the web front (the development outbox, ``serve``'s
development mode) and the gateways (plain HTTP or SMTP only to a local stand-in) share.

Pure (the standard library's ``ipaddress`` only), so every layer may import it.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1: RFC 1122 §3.2.1.3, RFC 4291
    §2.5.3), given bare or with a port (``127.0.0.1:8025``, ``[::1]:25``)."""
    if host.startswith("["):  # [v6] or [v6]:port (RFC 3986 §3.2.2)
        name = host[1:].split("]", 1)[0]
    else:  # a bare v6 address has several colons; a name or v4 address has one before its port
        name = host if host.count(":") > 1 else host.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


__all__ = ["is_loopback"]
