"""One probe: fetch a list page (or an account's feed), or render a script-built one in the browser, and read its
newest item date into an ``Observation``."""

from __future__ import annotations

import hashlib
from datetime import datetime

from monitor.evaluate import TZ
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher, Gate
from monitor.model import EmptyReason, FetchResult, Headers, Item, ListResult, Observation, Target
from monitor.render import MISSING
from monitor.render.client import Renderer


def content_hash(items: tuple[Item, ...]) -> str:
    """A hash of what the list says (not of the page: headers carry today's date and counters)."""
    digest = hashlib.blake2b(digest_size=12)
    for item in items:
        digest.update(f"{item.title}\x1f{item.url}\x1f{item.date}\x1e".encode())
    return digest.hexdigest()


def observe(target_id: str, result: FetchResult, at: datetime, listing: ListResult | None) -> Observation:
    """Combine a fetch result and what was read from it into an observation (pure)."""
    base = {"target_id": target_id, "at": at, "fetch_ms": result.elapsed_ms, "http_status": result.status,
            "final_url": result.final_url if result.final_url != result.url else None}
    if not result.ok:
        return Observation(**base, error=result.error, detail=result.detail)
    if result.not_modified or listing is None:
        return Observation(**base, not_modified=True)
    return Observation(
        **base, newest_date=listing.newest_date, reason=listing.reason, signature=listing.signature,
        content_hash=content_hash(listing.items), items=listing.items, suggestion=listing.suggestion,
    )


async def read(pool: ExtractPool, result: FetchResult, at: datetime, parser: str = "list") -> ListResult | None:
    """The list on a fetched page (or an account's posts in its feed), or None when there is nothing to read
    (a failure or a 304)."""
    if not result.ok or result.not_modified:
        return None
    return await pool.extract(
        result.text or "", result.final_url, at.astimezone(TZ).date(), result.content_type, parser, at)


async def probe(
    fetcher: Fetcher, pool: ExtractPool, target_id: str, url: str, at: datetime,
    etag: str | None = None, last_modified: str | None = None, parser: str = "list", headers: Headers = (),
    gate: Gate | None = None,
) -> tuple[Observation, FetchResult]:
    result = await fetcher.fetch(url, etag=etag, last_modified=last_modified, extra=headers, gate=gate)
    return observe(target_id, result, at, await read(pool, result, at, parser)), result


async def probe_target(
    fetcher: Fetcher, pool: ExtractPool, browser: Renderer | str | None, target: Target, at: datetime,
    etag: str | None = None, last_modified: str | None = None, gate: Gate | None = None,
) -> tuple[Observation, FetchResult | None]:
    """One probe of a target the way its list is read: its page or its JSON source fetched, or, for a column
    marked ``render: browser``, its page rendered by ``browser`` — or, when there is none (``browser`` then
    says what is missing), an observation saying so without any request. The rendered HTML is read by the
    parser workers like a fetched page. ``gate``: awaited right before the request (``Fetcher.fetch``)."""
    if not target.render:
        return await probe(fetcher, pool, target.id, target.read_url, at, etag, last_modified, target.parser,
                           target.headers, gate)
    if not isinstance(browser, Renderer):
        return Observation(target.id, at, 0.0, reason=EmptyReason.NEEDS_BROWSER, detail=browser or MISSING), None
    if gate is not None:
        await gate()
    result = await browser.render(target.url)
    return observe(target.id, result, at, await read(pool, result, at, target.parser)), result
