"""Government new-media accounts (政务新媒体): their sources, read into the same ``ListResult`` as list pages.

Each source kind has its own module with one function, ``read(text, url, today, ...) -> ListResult``:
``feeds`` (RSS, Atom and JSON Feed, as RSSHub and wewe-rss serve them) and ``jsonapi`` (a JSON API
with a configured field mapping). Items are the account's posts and ``newest_date`` its newest post,
so an account is judged by the same ``evaluate`` as a column. A source that serves no usable feed
(a bridge's error page, a captcha, HTML, broken XML, an empty feed) is ``EmptyReason.SOURCE_FAULT``:
unknown, never red.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from monitor.model import EmptyReason, Item, ListResult

KEEP_ITEMS = 50  # the newest posts kept per probe (a huge feed is read whole, stored in part)
SOURCE_FAULT = ListResult(None, (), EmptyReason.SOURCE_FAULT)
# Texts that a bridge or a platform serves instead of posts (an error item, a captcha, a ban).
FAULT_MARKERS = re.compile(
    r"请输入验证码|验证码|安全验证|访问过于频繁|访问受限|Access denied|captcha|cookie\s*(?:已)?(?:失效|过期|expired)"
    r"|Looks like something went wrong|RSSHub\s*(?:error|错误)|wewe-rss.*(?:失败|error)|Error:|Just a moment",
    re.IGNORECASE,
)


def posts_result(posts: Iterable[Item], today: date) -> ListResult:
    """The ``ListResult`` of an account's posts; future-dated posts never count as the newest."""
    items = list(posts)
    if not items:
        return SOURCE_FAULT
    if len(items) <= 1 and any(FAULT_MARKERS.search(i.title) for i in items):
        return SOURCE_FAULT
    dated = [i.date for i in items if i.date is not None and i.date <= today]
    items.sort(key=lambda i: i.date or date.min, reverse=True)
    kept = tuple(items[:KEEP_ITEMS])
    if not dated:
        return ListResult(None, kept, EmptyReason.NO_DATES)
    return ListResult(max(dated), kept)
