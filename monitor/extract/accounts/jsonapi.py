"""A generic JSON API with a configured field mapping (``monitor.account_source.MAPPING_FIELDS``).

The mapping names where the posts are (``items``, a dotted path such as ``data.list``) and, in each
post, its ``title``, ``url`` and ``date`` fields (dotted paths too). Dates may be Unix timestamps
(seconds or milliseconds), ISO 8601 or Chinese dates. Optional fields: ``text`` (the post's text, read for
off-duty keywords and repost marks), ``repost`` (present on a repost, e.g. Weibo's ``retweeted_status``)
or ``original`` (true on an original post, e.g. ``is_original``).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urljoin

from monitor.account_source import DEFAULT_OFF_DUTY
from monitor.extract.accounts import SOURCE_FAULT, post_date, posts_result
from monitor.extract.accounts.content import (
    classify,
    off_duty_matcher,
    own_text,
    post_title,
    repost_in_feed,
    truthy,
)
from monitor.model import ListResult


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


def repost(post: dict[str, Any], mapping: dict[str, str], title: str, body: str) -> bool | None:
    """A post's repost flag: the mapped ``repost`` field (any value: a repost; absent: original), else the
    mapped ``original`` field (true: original; false: not), else the marks in its title and text."""
    if "repost" in mapping:
        return bool(pick(post, mapping["repost"]))
    if "original" in mapping and (flag := pick(post, mapping["original"])) is not None:
        return not truthy(flag)
    return repost_in_feed(title, body)


def read(text: str, url: str, today: date, mapping: dict[str, str],
         off_duty: tuple[str, ...] = DEFAULT_OFF_DUTY, platform: str = "其他") -> ListResult:
    try:
        data = json.loads(text)
    except ValueError:
        return SOURCE_FAULT  # HTML, a captcha page or an error text where JSON was expected
    posts = pick(data, mapping.get("items", ""))
    if not isinstance(posts, list):
        return SOURCE_FAULT
    title, link, when = mapping.get("title", "title"), mapping.get("url", "url"), mapping.get("date", "date")
    matcher = off_duty_matcher(off_duty)
    out = []
    for p in posts:
        if not isinstance(p, dict):
            continue
        body = own_text(str(pick(p, mapping["text"]) or "")) if "text" in mapping else ""
        heading = post_title(str(pick(p, title) or "")[:200], body)
        out.append(classify(heading, body, repost(p, mapping, heading, body), matcher, platform,
                            url=urljoin(url, str(pick(p, link) or "")), date=post_date(pick(p, when), today)))
    return posts_result(out, today)
