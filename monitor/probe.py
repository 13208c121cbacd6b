"""One probe: fetch a list page and read its newest item date into an ``Observation``."""

from __future__ import annotations

import hashlib
from datetime import datetime

import structlog

from monitor.evaluate import TZ
from monitor.extract.listpage import extract_list
from monitor.fetch import Fetcher
from monitor.model import EmptyReason, FetchResult, Item, ListResult, Observation

log = structlog.get_logger()


def content_hash(items: tuple[Item, ...]) -> str:
    """A hash of what the list says (not of the page: headers carry today's date and counters)."""
    digest = hashlib.blake2b(digest_size=12)
    for item in items:
        digest.update(f"{item.title}\x1f{item.url}\x1f{item.date}\x1e".encode())
    return digest.hexdigest()


def read_list(result: FetchResult, today_at: datetime) -> ListResult:
    """Extract a fetched page; a bug in the extractor must cost one page, never the daemon."""
    try:
        return extract_list(result.text or "", result.final_url, today_at.astimezone(TZ).date(), result.content_type)
    except Exception:
        log.exception("extract_failed", url=result.final_url)
        return ListResult(None, (), EmptyReason.NO_LIST)


def observe(target_id: str, result: FetchResult, at: datetime) -> Observation:
    """Turn a fetch result into an observation (pure apart from the extractor's logging)."""
    base = {"target_id": target_id, "at": at, "fetch_ms": result.elapsed_ms, "http_status": result.status}
    if not result.ok:
        return Observation(**base, error=result.error, detail=result.detail)
    if result.not_modified:
        return Observation(**base, not_modified=True)
    listing = read_list(result, at)
    return Observation(
        **base, newest_date=listing.newest_date, reason=listing.reason, signature=listing.signature,
        content_hash=content_hash(listing.items), items=listing.items,
    )


async def probe(
    fetcher: Fetcher, target_id: str, url: str, at: datetime,
    etag: str | None = None, last_modified: str | None = None,
) -> tuple[Observation, FetchResult]:
    result = await fetcher.fetch(url, etag=etag, last_modified=last_modified)
    return observe(target_id, result, at), result
