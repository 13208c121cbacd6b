"""Which network addresses a monitored page may be read from (pure).

Monitored sites live on the public internet. A redirect or a DNS answer that takes one into loopback, private,
link-local or other special-purpose space (a redirect to 127.0.0.1, DNS rebinding to the intranet) is refused,
so what answers there is never read, judged or quoted under the site's name. Two exceptions: the addresses the
inventory itself names, as written (an IP literal in one of its URLs: the demo, the tests, an intranet portal
named by address), and the networks an operator allows (``fetch.allow_private``, e.g. 政务外网 ranges).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_URL = re.compile(r"^https?://", re.IGNORECASE)


def literal(host: str | None) -> Address | None:
    """The address a URL's host writes literally (``127.0.0.1``, ``::1``, ``[::1]``), or None for a name."""
    if not host:
        return None
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def space(address: Address) -> str | None:
    """The special-purpose space an address is in ("loopback", "private", "link-local", …), None when public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    for name in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return None if address.is_global else "shared"  # e.g. 100.64.0.0/10, carrier-grade NAT


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDRs (``10.0.0.0/8``, ``fd00::/8``, a single address); ValueError names the one that is wrong."""
    out = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not a network: {str(cidr)[:60]!r} ({exc}); write it as 10.0.0.0/8 or 192.168.1.5",
                             ) from None
    return tuple(out)


def network(text: str) -> str:
    """One CIDR in canonical form (for a command line's ``--allow-private``)."""
    return str(networks([text])[0])


def named_literals(urls: Iterable[str]) -> frozenset[str]:
    """The IP literals written as the host of these URLs, in canonical form."""
    found = set()
    for url in urls:
        if isinstance(url, str) and _URL.match(url):
            try:
                address = literal(urlsplit(url.strip()).hostname)
            except ValueError:
                continue
            if address is not None:
                found.add(str(address))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Reach:
    """The policy: public addresses, the ``allow``ed networks, and the ``named`` literals (as written) only."""

    allow: tuple[Network, ...] = ()
    named: frozenset[str] = frozenset()

    def refused(self, address: str, as_written: bool) -> str | None:
        """Why a connection to ``address`` is refused (the space it is in), or None when it may go ahead.
        ``as_written``: the URL names this address literally (a redirect's or the inventory's), not by a name."""
        found = literal(address)
        if found is None:
            return "unparsable"
        kind = space(found)
        if kind is None or any(found in net for net in self.allow if net.version == found.version):
            return None
        if as_written and str(found) in self.named:
            return None
        return kind
