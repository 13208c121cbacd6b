"""RSS, Atom and JSON Feed sources (RSSHub, wewe-rss and the platforms' own feeds).

feedparser reads the XML, but its parsed dates are wrong for Chinese dates and shifts ``+0800`` times to
the previous day: each entry's raw ``published``/``updated`` string is read by ``post_date`` instead.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.extract.accounts import FAULT_MARKERS, SOURCE_FAULT, post_date, posts_result
from monitor.extract.accounts.content import DEFAULT_OFF_DUTY, classify, off_duty_matcher, repost_in_feed
from monitor.model import ListResult

_XML_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")


def read(text: str, url: str, today: date, content_type: str | None = None,
         off_duty: tuple[str, ...] = DEFAULT_OFF_DUTY) -> ListResult:
    """The posts of a feed, each marked original or repost and on or off duty; a body that is not a usable
    feed is a source fault."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return _json_feed(text, url, today, off_duty)
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
    matcher = off_duty_matcher(off_duty)
    posts = []
    for e in parsed.entries:
        title = str(e.get("title") or "（无标题）")
        body = " ".join([str(e.get("summary") or ""), *(str(c.get("value") or "") for c in e.get("content") or ())])
        tags = [str(t.get("term") or "") for t in e.get("tags") or ()]
        posts.append(classify(title, body, repost_in_feed(title, body, tags), matcher,
                              url=urljoin(url, str(e.get("link") or "")),
                              date=post_date(e.get("published") or e.get("updated") or e.get("created"), today)))
    return posts_result(posts, today)


def _broken(exc: object) -> bool:
    """Truncated or malformed XML (a bridge cut off mid-answer); an HTML entity like &nbsp; is tolerated."""
    return not isinstance(exc, feedparser.CharacterEncodingOverride) and "undefined entity" not in str(exc)


def _json_feed(text: str, url: str, today: date, off_duty: tuple[str, ...]) -> ListResult:
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
        title = str(i.get("title") or i.get("content_text") or "（无标题）")[:200]
        body = " ".join(str(i.get(k) or "") for k in ("summary", "content_html", "content_text"))
        tags = [str(t) for t in i.get("tags") or () if isinstance(t, str)]
        posts.append(classify(title, body, repost_in_feed(title, body, tags), matcher,
                              url=urljoin(url, str(i.get("url") or "")),
                              date=post_date(i.get("date_published") or i.get("date_modified"), today)))
    return posts_result(posts, today)
