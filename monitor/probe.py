"""One probe: fetch a list page (or an account's feed) and read its newest item date into an ``Observation``."""

from __future__ import annotations

import hashlib
from datetime import datetime

from monitor.evaluate import TZ
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher
from monitor.model import FetchResult, Headers, Item, ListResult, Observation


def content_hash(items: tuple[Item, ...]) -> str:
    """A hash of what the list says (not of the page: headers carry today's date and counters)."""
    digest = hashlib.blake2b(digest_size=12)
    for item in items:
        digest.update(f"{item.title}\x1f{item.url}\x1f{item.date}\x1e".encode())
    return digest.hexdigest()


def observe(target_id: str, result: FetchResult, at: datetime, listing: ListResult | None) -> Observation:
    """Combine a fetch result and what was read from it into an observation (pure)."""
    base = {"target_id": target_id, "at": at, "fetch_ms": result.elapsed_ms, "http_status": result.status}
    if not result.ok:
        return Observation(**base, error=result.error, detail=result.detail)
    if result.not_modified or listing is None:
        return Observation(**base, not_modified=True)
    return Observation(
        **base, newest_date=listing.newest_date, reason=listing.reason, signature=listing.signature,
        content_hash=content_hash(listing.items), items=listing.items,
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
) -> tuple[Observation, FetchResult]:
    result = await fetcher.fetch(url, etag=etag, last_modified=last_modified, extra=headers)
    return observe(target_id, result, at, await read(pool, result, at, parser)), result
