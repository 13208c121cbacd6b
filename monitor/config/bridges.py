"""Which bridge each account is read through, and the bridges themselves (pure).

A bridge is what offices run to turn a platform into a feed (RSSHub, wewe-rss, we-mp-rss). An account is behind
the ``bridges:`` entry whose url its source URL starts with (the longest); else behind the bridge at its source's
address (scheme, host and port), named after what its paths look like (wewe-rss serves /feeds/<id>.atom,
we-mp-rss /rss/<id> and /api/v1/wx/…).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from monitor.config.schema import SYNC_DEFAULTS, BridgeModel, BridgeSettings
from monitor.durations import Duration
from monitor.model import Headers

KIND_NAMES = {"rsshub": "RSSHub", "wewe-rss": "wewe-rss", "we-mp-rss": "we-mp-rss", "other": "数据源"}
_PATHS = {"wewe-rss": re.compile(r"^/feeds/[^/]+\.(?:atom|rss|json)$"),
          "we-mp-rss": re.compile(r"^/(?:rss/[^/]+|api/v1/wx/.*)$")}


@dataclass(frozen=True, slots=True)
class Bridge:
    """A bridge and what watching it needs: where it says when it last synced, who runs it, its accounts."""

    id: str
    kind: str
    name: str
    url: str
    unit_id: str  # the unit that runs it ("" when none is configured: the finding is on the board only)
    sync_url: str | None
    sync_field: str | None
    headers: Headers
    stale_sync: Duration
    quiet: Duration
    accounts: tuple[str, ...]  # the account targets behind it

    @property
    def subject(self) -> str:
        return bridge_subject(self.id)


def bridge_subject(bridge_id: str) -> str:
    """The subject of a bridge's findings (apart from targets' ids)."""
    return f"bridge:{bridge_id}"


def origin(url: str) -> str:
    """``host:port`` of a URL (the id of the implicit bridge at that address)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def bridge_of(url: str, declared: Iterable[BridgeModel]) -> str:
    """The id of the bridge an account's source URL is read through."""
    matches = [b for b in declared if url.startswith(b.url)]
    return max(matches, key=lambda b: len(b.url)).id if matches else origin(url)


def implicit_kind(urls: Iterable[str]) -> str:
    paths = [urlsplit(u).path for u in urls]
    return next((kind for kind, pattern in _PATHS.items() if paths and all(pattern.match(p) for p in paths)),
                "other")


def make_bridges(declared: Mapping[str, tuple[BridgeModel, Headers]], behind: Mapping[str, list[tuple[str, str]]],
                 settings: BridgeSettings, supervisor: str | None) -> tuple[Bridge, ...]:
    """Every bridge: the declared ones (with or without accounts) and one per other address accounts use.
    ``behind``: bridge id → [(account id, source URL)]."""
    out = []
    for bid, (model, headers) in declared.items():
        url, field = SYNC_DEFAULTS.get(model.kind, (None, None))
        sync = model.sync
        sync_url = (sync.url if sync else None) or (url if model.kind == "wewe-rss" else None)
        out.append(Bridge(
            bid, model.kind, model.name or f"{KIND_NAMES[model.kind]}（{origin(model.url)}）", model.url,
            model.unit or supervisor or "", urljoin(_base(model.url), sync_url) if sync_url else None,
            ((sync.field if sync else None) or field) if sync_url else None, headers,
            model.stale_sync or settings.stale_sync, model.quiet or settings.quiet,
            tuple(a for a, _ in behind.get(bid, ()))))
    for bid, accounts in behind.items():
        if bid in declared:
            continue
        first = urlsplit(accounts[0][1])
        base = f"{first.scheme}://{first.netloc}/"
        kind = implicit_kind(u for _, u in accounts)
        url, field = SYNC_DEFAULTS.get(kind, (None, None))
        sync_url = urljoin(base, url) if kind == "wewe-rss" and url else None
        out.append(Bridge(bid, kind, f"{KIND_NAMES[kind]}（{bid}）", base, supervisor or "", sync_url,
                          field if sync_url else None, (), settings.stale_sync, settings.quiet,
                          tuple(a for a, _ in accounts)))
    return tuple(out)


def _base(url: str) -> str:
    return url if url.endswith("/") else url + "/"
