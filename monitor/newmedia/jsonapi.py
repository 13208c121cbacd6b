"""A generic JSON API with a configured field mapping.

The mapping names where the posts are (``items``, a dotted path such as ``data.list``) and, in each
post, its ``title``, ``url`` and ``date`` fields (dotted paths too). Dates may be Unix timestamps
(seconds or milliseconds), ISO 8601 or Chinese dates.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urljoin

from monitor.model import Item, ListResult
from monitor.newmedia import SOURCE_FAULT, post_date, posts_result

FIELDS = ("items", "title", "url", "date")


def pick(data: Any, path: str) -> Any:
    """The value at a dotted path (``data.list``, ``items.0.title``), or None."""
    for part in path.split(".") if path else ():
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def read(text: str, url: str, today: date, mapping: dict[str, str]) -> ListResult:
    try:
        data = json.loads(text)
    except ValueError:
        return SOURCE_FAULT  # HTML, a captcha page or an error text where JSON was expected
    posts = pick(data, mapping.get("items", ""))
    if not isinstance(posts, list):
        return SOURCE_FAULT
    title, link, when = mapping.get("title", "title"), mapping.get("url", "url"), mapping.get("date", "date")
    return posts_result(
        (Item(str(pick(p, title) or "（无标题）")[:200], urljoin(url, str(pick(p, link) or "")),
              post_date(pick(p, when), today))
         for p in posts if isinstance(p, dict)),
        today,
    )
