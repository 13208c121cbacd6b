"""An account's parser as one string (``Target.parser``), sent with each page to the parser workers.

``feed`` reads RSS, Atom and JSON Feed; ``json:{mapping}`` a JSON API with a field mapping. An account
whose off-duty keywords differ from the defaults carries them: ``feed:{"off_duty": [...]}`` or
``json:{mapping…, "off_duty": [...]}``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from monitor.model import ListResult


def source_parser(kind: str, mapping: dict[str, str] | None, off_duty: tuple[str, ...] | None) -> str:
    """The parser string of a source; ``off_duty`` None keeps the default keywords."""
    options: dict[str, Any] = {"off_duty": list(off_duty)} if off_duty is not None else {}
    if kind == "json":
        return "json:" + json.dumps({**(mapping or {}), **options}, ensure_ascii=False, separators=(",", ":"),
                                    sort_keys=True)
    return "feed:" + json.dumps(options, ensure_ascii=False, separators=(",", ":")) if options else "feed"


def is_source(parser: str) -> bool:
    return parser == "feed" or parser.startswith(("feed:", "json:"))


def read(parser: str, text: str, url: str, today: date, content_type: str | None) -> ListResult:
    """Read an account's fetched source with its parser string."""
    kind, _, spec = parser.partition(":")
    options: dict[str, Any] = json.loads(spec) if spec else {}
    off_duty = {"off_duty": tuple(options.pop("off_duty"))} if "off_duty" in options else {}
    if kind == "feed":
        from monitor.extract.accounts import feeds  # lazy: feedparser is imported only where accounts are read

        return feeds.read(text, url, today, content_type, **off_duty)
    from monitor.extract.accounts import jsonapi

    return jsonapi.read(text, url, today, options, **off_duty)
