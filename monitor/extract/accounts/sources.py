"""An account's parser as one string (``Target.parser``), sent with each page to the parser workers.

``feed`` reads RSS, Atom and JSON Feed; ``json:{mapping}`` a JSON API with a field mapping. Options ride
along as JSON: the account's ``platform`` (what its posts can tell, see ``content``) and, when they differ
from the defaults, its off-duty keywords: ``feed:{"platform": "微博", "off_duty": [...]}`` or
``json:{mapping…, "platform": "微信公众号"}``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from monitor.model import ListResult

OPTIONS = ("off_duty", "platform")


def source_parser(kind: str, mapping: dict[str, str] | None, off_duty: tuple[str, ...] | None,
                  platform: str | None = None) -> str:
    """The parser string of a source; ``off_duty`` None keeps the default keywords."""
    options: dict[str, Any] = {"off_duty": list(off_duty)} if off_duty is not None else {}
    if platform is not None:
        options["platform"] = platform
    if kind == "json":
        return "json:" + _dumps({**(mapping or {}), **options})
    return "feed:" + _dumps(options) if options else "feed"


def _dumps(options: dict[str, Any]) -> str:
    return json.dumps(options, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def is_source(parser: str) -> bool:
    return parser == "feed" or parser.startswith(("feed:", "json:"))


def read(parser: str, text: str, url: str, today: date, content_type: str | None,
         now: datetime | None = None) -> ListResult:
    """Read an account's fetched source with its parser string (``now``: the fetch instant)."""
    kind, _, spec = parser.partition(":")
    options: dict[str, Any] = json.loads(spec) if spec else {}
    extra: dict[str, Any] = {k: options.pop(k) for k in OPTIONS if k in options}
    if "off_duty" in extra:
        extra["off_duty"] = tuple(extra["off_duty"])
    if kind == "feed":
        from monitor.extract.accounts import feeds  # lazy: feedparser is imported only where accounts are read

        return feeds.read(text, url, today, content_type, now=now, **extra)
    from monitor.extract.accounts import jsonapi

    return jsonapi.read(text, url, today, options, **extra)
