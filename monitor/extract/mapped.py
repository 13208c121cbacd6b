"""A JSON list read with a configured field mapping: a column's ``source: {kind: json, url, mapping}`` (the API
behind a script-built list page) and an account's JSON API (``accounts.jsonapi``, which reads its posts' text,
repost and off-duty marks on top) share this reader.

The mapping names where the records are (``items``, a dotted path such as ``data.list``) and, in each record,
its ``title``, ``url`` and ``date`` (dotted paths too). Dates may be Unix timestamps (seconds or milliseconds),
RFC 822, ISO 8601 (naive means Shanghai time) or Chinese dates.
"""

from __future__ import annotations

import email.utils
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from monitor.evaluate import TZ
from monitor.extract.dates import epoch_date, parse_date
from monitor.model import EmptyReason, Item, ListResult

MAX_ROWS = 300  # records kept of a long list, as the list extractor keeps rows


@dataclass(frozen=True, slots=True)
class Record:
    """One record of the list with its mapped fields read; ``data`` is the whole record."""

    data: dict[str, Any]
    title: str
    url: str
    date: date | None


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


def value_date(value: Any, today: date) -> date | None:
    """A record's date in Asia/Shanghai from a feed's or an API's raw value (never feedparser's parsed dates).

    Unix timestamps (seconds or milliseconds), RFC 822 (``Wed, 31 May 2023 07:00:00 +0800``), ISO 8601
    (naive means Shanghai time) and Chinese dates (``2023年5月31日``) are understood.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        return epoch_date(float(value))
    text = str(value).strip()
    if not text:
        return None
    moment: datetime | None = None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is not None:
        return (moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment.astimezone(TZ)).date()
    return parse_date(text, today)


def records(text: str, url: str, today: date, mapping: dict[str, str]) -> list[Record] | None:
    """The mapped records of a JSON text, or None when it is not JSON (an error page, a captcha) or ``items``
    does not lead to a list. URLs are made absolute against ``url``."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    found = pick(data, mapping.get("items", ""))
    if not isinstance(found, list):
        return None
    rows = [r for r in found if isinstance(r, dict)]
    if found and not rows:
        return None  # a list, but not of records
    title, link, when = mapping.get("title", "title"), mapping.get("url", "url"), mapping.get("date", "date")
    return [Record(r, str(pick(r, title) or "").strip()[:200], urljoin(url, str(pick(r, link) or "")),
                   value_date(pick(r, when), today)) for r in rows]


def read_list(text: str, url: str, today: date, mapping: dict[str, str]) -> ListResult:
    """A column's list from its JSON source, judged as a list page is: the newest date of its items (a date
    more than a day ahead never counts), an empty list is a blank column, a list without dates or a
    document that is not the mapped list is unreadable (unknown, never red)."""
    found = records(text, url, today, mapping)
    if found is None:
        return ListResult(None, reason=EmptyReason.NO_LIST)
    if not found:
        return ListResult(None, reason=EmptyReason.EMPTY)
    items = tuple(Item(r.title, r.url, r.date) for r in found[:MAX_ROWS])
    limit = today + timedelta(days=1)
    dates = [i.date for i in items if i.date is not None and i.date <= limit]
    if not dates:
        return ListResult(None, items, EmptyReason.NO_DATES)
    return ListResult(max(dates), items)
