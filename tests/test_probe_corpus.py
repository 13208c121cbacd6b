"""Every fixture page served over real HTTP on 127.0.0.1 and read through the probe path:
fetch (with charset decoding, GBK pages behind a missing or wrong header) → extract → expected date.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from monitor.evaluate import TZ
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher, FetchSettings
from monitor.probe import read
from tests.conftest import NAMED, PageServer

PAGES = Path(__file__).parent / "fixtures" / "pages"
EXPECTED = json.loads((PAGES / "expected.json").read_text(encoding="utf-8"))


def content_type(name: str, body: bytes) -> str:
    if name.endswith(".json"):
        return "application/json"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "text/html; charset=utf-8"  # the common lie: GBK bytes behind a UTF-8 header
    return "text/html"


@pytest.fixture
async def corpus_server(page_server: PageServer) -> PageServer:
    for name in EXPECTED:
        body = (PAGES / name).read_bytes()
        page_server.set(f"/{name}", body, content_type=content_type(name, body))
    return page_server


async def test_probe_reads_every_fixture_over_http(corpus_server: PageServer) -> None:
    pool = ExtractPool(workers=2)
    wrong = []
    try:
        async with Fetcher(FetchSettings(named=NAMED, per_host_interval_s=0)) as fetcher:
            for name, want in EXPECTED.items():
                result = await fetcher.fetch(corpus_server.url(f"/{name}"))
                assert result.ok, (name, result.detail)
                at = datetime.combine(date.fromisoformat(want["today"]), datetime.min.time(), TZ)
                listing = await read(pool, result, at)
                got = (listing.newest_date.isoformat() if listing.newest_date else None, listing.reason)
                if got != (want["newest_date"], want["reason"]) or len(listing.items) < want["min_items"]:
                    wrong.append((name, got, want["newest_date"], want["reason"], len(listing.items)))
                if name == "47_gbk_rare_chars.html":
                    rare = listing.items
    finally:
        pool.close()
    assert wrong == []
    # GBK bytes behind a UTF-8 header still decode whole: the GBK-only characters survive.
    assert any("镕基喆堃" in item.title for item in rare)
