"""RSS, Atom and JSON Feed sources, as the bridges write them (RSSHub, wewe-rss, we-mp-rss).

feedparser reads the XML, but its parsed dates are wrong for Chinese dates and shifts ``+0800`` times to
the previous day: each entry's raw ``published``/``updated`` string is read by ``value_date`` instead. The
shapes met: RSSHub's RSS (``pubDate`` in GMT), Atom and JSON Feed 1.1 (ISO ``Z``); wewe-rss's Atom, RSS and
JSON Feed 1 (``date_modified`` only); we-mp-rss's RSS (``pubDate`` without a zone: the bridge's local time,
read as Shanghai time).

An item without a date is undated, never dated by its rendering: RSSHub's Atom writes ``<updated>`` = the
moment it renders the feed for such an item (and ``<published>`` for every item that has a date). Such a
stamp is told apart (``rendering_stamp``) and the entry read as undated, so a feed never looks fresh only
because it was fetched.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.account_source import DEFAULT_OFF_DUTY
from monitor.evaluate import TZ
from monitor.extract.accounts import FAULT_MARKERS, SOURCE_FAULT, posts_result
from monitor.extract.accounts.content import (
    classify,
    off_duty_matcher,
    own_text,
    post_title,
    repost_in_feed,
)
from monitor.extract.mapped import value_date
from monitor.model import Item, ListResult

_XML_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")
# How close to the feed's own <updated> (stamped at one rendering) or to the fetch an entry's <updated> must be
# to count as the moment of rendering rather than a post's date.
SAME_RENDERING = timedelta(seconds=2)
NEAR_FETCH = timedelta(minutes=5)


def read(text: str, url: str, today: date, content_type: str | None = None,
         off_duty: tuple[str, ...] = DEFAULT_OFF_DUTY, platform: str = "其他", now: datetime | None = None,
         ) -> ListResult:
    """The posts of a feed, each marked original or repost and on or off duty (see ``content``); a body that
    is not a usable feed is a source fault. ``now`` is the fetch instant."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return _json_feed(text, url, today, off_duty, platform)
    if head != "<":
        return SOURCE_FAULT
    # The text is already decoded: drop the declared encoding so feedparser reads it as UTF-8, and pass a
    # stream so it never takes the body for a URL or a file name.
    data = _XML_ENCODING.sub(r"\1", text, count=1).encode("utf-8")
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    if not parsed.version or (parsed.bozo and _broken(parsed.get("bozo_exception"))):
        return SOURCE_FAULT
    if FAULT_MARKERS.search(str(parsed.feed.get("title", ""))) and len(parsed.entries) <= 1:
        return SOURCE_FAULT
    atom = parsed.version.startswith("atom")
    generator = str(parsed.feed.get("generator") or "")
    unpublished = [_instant(e.get("updated")) for e in parsed.entries if not e.get("published")]
    shared = shared_stamp(unpublished, _instant(parsed.feed.get("updated")))
    matcher = off_duty_matcher(off_duty)
    posts = []
    for e in parsed.entries:
        body = own_text(_joined([e.get("summary"), *(c.get("value") for c in e.get("content") or ())]))
        tags = [str(t.get("term") or "") for t in e.get("tags") or ()]
        raw = e.get("published") or e.get("updated") or e.get("created")
        if atom and not e.get("published") and rendering_stamp(_instant(raw), generator, shared, now):
            raw = None
        posts.append(_post(str(e.get("title") or ""), body, tags, matcher, platform,
                           urljoin(url, str(e.get("link") or "")), value_date(raw, today)))
    return posts_result(posts, today)


def rendering_stamp(updated: datetime | None, generator: str, shared: datetime | None, now: datetime | None,
                    ) -> bool:
    """Whether an Atom entry's ``<updated>`` (it has no ``<published>``) is the moment its feed was rendered,
    not a post's date: RSSHub writes one only for an item without a date; the instant every such entry of the
    feed shares with the feed's own ``<updated>`` (``shared_stamp``); or an instant that is the fetch itself."""
    if updated is None:
        return False
    if generator.strip().lower() == "rsshub":
        return True
    if shared is not None and abs(updated - shared) <= SAME_RENDERING:
        return True
    return now is not None and abs(updated - now) <= NEAR_FETCH


def shared_stamp(instants: list[datetime | None], feed_updated: datetime | None) -> datetime | None:
    """The feed's own ``<updated>`` when two or more entries without ``<published>`` all carry it: one rendering
    stamped them all. (A feed's ``<updated>`` equal to its newest entry's alone is common and honest.)"""
    if feed_updated is None or len(instants) < 2:
        return None
    same = all(i is not None and abs(i - feed_updated) <= SAME_RENDERING for i in instants)
    return feed_updated if same else None


def _instant(value: Any) -> datetime | None:
    """An RFC 3339 instant (naive: Shanghai time), or None."""
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment


def _post(title: str, body: str, tags: list[str], matcher: Callable[[str], bool], platform: str, url: str,
          day: date | None) -> Item:
    """One entry as an account's post; an empty title (RSSHub's Bilibili dynamics) is read from its text."""
    title = post_title(title, body)
    return classify(title, body, repost_in_feed(title, body, tags, platform), matcher, platform, url=url,
                    date=day)


def _joined(parts: list[Any]) -> str:
    """An entry's texts once each (feedparser repeats an Atom entry's content as its summary)."""
    return " ".join(dict.fromkeys(str(p) for p in parts if p))


def _broken(exc: object) -> bool:
    """Truncated or malformed XML (a bridge cut off mid-answer); an HTML entity like &nbsp; is tolerated."""
    return not isinstance(exc, feedparser.CharacterEncodingOverride) and "undefined entity" not in str(exc)


def _json_feed(text: str, url: str, today: date, off_duty: tuple[str, ...], platform: str) -> ListResult:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return SOURCE_FAULT
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/version/"):
        return SOURCE_FAULT
    items = data.get("items")
    if not isinstance(items, list):
        return SOURCE_FAULT
    matcher = off_duty_matcher(off_duty)
    posts = []
    for i in items:
        if not isinstance(i, dict):
            continue
        body = own_text(_joined([i.get(k) for k in ("summary", "content_html", "content_text")]))
        tags = [str(t) for t in i.get("tags") or () if isinstance(t, str)]
        posts.append(_post(str(i.get("title") or "")[:200], body, tags, matcher, platform,
                           urljoin(url, str(i.get("url") or "")),
                           value_date(i.get("date_published") or i.get("date_modified"), today)))
    return posts_result(posts, today)
