"""An account's JSON API: the shared mapped-list reader (``monitor.extract.mapped``) plus the posts' own marks.

The mapping (``monitor.account_source.MAPPING_FIELDS``) is a list mapping (``items``, ``title``, ``url``,
``date``, see ``mapped``) with optional fields: ``text`` (the post's text, read for off-duty keywords and repost
marks), ``repost`` (present on a repost, e.g. Weibo's ``retweeted_status``) or ``original`` (true on an original
post, e.g. ``is_original``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from monitor.account_source import DEFAULT_OFF_DUTY
from monitor.extract.accounts import SOURCE_FAULT, posts_result
from monitor.extract.accounts.content import (
    classify,
    off_duty_matcher,
    own_text,
    post_title,
    repost_in_feed,
    truthy,
)
from monitor.extract.mapped import pick, records
from monitor.model import ListResult


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
    found = records(text, url, today, mapping)
    if found is None:
        return SOURCE_FAULT  # HTML, a captcha page or an error text where JSON was expected
    matcher = off_duty_matcher(off_duty)
    out = []
    for r in found:
        body = own_text(str(pick(r.data, mapping["text"]) or "")) if "text" in mapping else ""
        heading = post_title(r.title, body)
        out.append(classify(heading, body, repost(r.data, mapping, heading, body), matcher, platform,
                            url=r.url, date=r.date))
    return posts_result(out, today)
