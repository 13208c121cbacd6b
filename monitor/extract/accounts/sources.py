"""An account's fetched source read with its parser string (``monitor.account_source``)."""

from __future__ import annotations

from datetime import date, datetime

from monitor.account_source import parser_options
from monitor.model import ListResult


def read(parser: str, text: str, url: str, today: date, content_type: str | None,
         now: datetime | None = None) -> ListResult:
    """Read an account's fetched source with its parser string (``now``: the fetch instant)."""
    kind, mapping, options = parser_options(parser)
    if kind == "feed":
        from monitor.extract.accounts import feeds  # lazy: feedparser is imported only where accounts are read

        return feeds.read(text, url, today, content_type, now=now, **options)
    from monitor.extract.accounts import jsonapi

    return jsonapi.read(text, url, today, mapping, **options)
