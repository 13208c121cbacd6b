"""What an account posts: original or repost, on duty or not, and the shares over its last posts (pure).

Inspectors fail accounts that repost to look alive — weather forecasts, other outlets' news (seed 000) —
and note a low share of original posts (seed 004). Each post is read where its source says it:

* Weibo through RSSHub: a repost's description quotes the other account in ``<blockquote> - 转发 @…``,
  its title carries `` - 转发 @…`` (or 🔁), a repost chain ``//@…``;
* WeChat (wewe-rss, RSSHub full text): a reprint's body says 以下文章来源于…, an original one carries the
  原创 mark (``copyright_logo``) or a 原创 category;
* a JSON API: a configured field (``repost``: e.g. ``retweeted_status``; ``original``: e.g. ``is_original``);
* any source: a title that starts 转发/转载.

Off-duty content is matched by keywords (天气预报, 来源：新华社, …) in the post's title and text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitor.model import Item

# Weather and other outlets' news that accounts repost to look alive; an office extends or replaces it.
DEFAULT_OFF_DUTY: tuple[str, ...] = (
    "天气预报", "气象台", "降雨", "气温", "雷雨", "大风蓝色预警", "空气质量", "转自", "来源：新华社", "来源：人民日报",
    "来源：央视新闻", "来源：中国新闻网", "来源：新华网", "来源：人民网", "来源：央广网", "来源：澎湃新闻",
)

_REPOST_TITLE = re.compile(r"^[【\[]?(?:转发|转载|转自)(?:微博)?[】\]|｜:：\s]|^转发微博|//@|(?:^|\s)-\s*转发\s|🔁")
_REPOST_BODY = re.compile(
    r"<blockquote\b[^>]*>(?:(?!</blockquote>).){0,400}?(?:转发|@)|//@|以下文章来源于", re.DOTALL)
_ORIGINAL_BODY = re.compile(r"""id=["']?copyright_logo|class=["'][^"']*\boriginal_tag\b""")
_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def plain(text: str) -> str:
    """Text without tags, entities or any white space (so "来源： 新华社" matches 来源：新华社)."""
    return _SPACE.sub("", html.unescape(_TAGS.sub("", text)))


@lru_cache(maxsize=32)
def off_duty_matcher(keywords: tuple[str, ...]) -> Callable[[str], bool]:
    """A test for plain text holding any of the keywords (themselves compared without white space)."""
    words = sorted({plain(k) for k in keywords if plain(k)}, key=len, reverse=True)
    if not words:
        return lambda text: False
    pattern = re.compile("|".join(re.escape(w) for w in words))
    return lambda text: pattern.search(text) is not None


def repost_in_feed(title: str, body: str, tags: Iterable[str] = ()) -> bool | None:
    """A feed entry's repost flag from its title, body HTML and categories; None when nothing tells."""
    tags = {t.strip() for t in tags}
    if tags & {"转发", "转载"} or _REPOST_TITLE.search(title.strip()) or _REPOST_BODY.search(body):
        return True
    if "原创" in tags or _ORIGINAL_BODY.search(body):
        return False
    return None


def truthy(value: Any) -> bool:
    """A JSON flag as APIs write it: true, 1, "1", "true", "是"."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "否")
    return bool(value)


def classify(title: str, body: str, repost: bool | None, off_duty: Callable[[str], bool], **item: Any) -> Item:
    """An account's post as an ``Item`` with its repost and off-duty flags."""
    return Item(title, repost=repost, off_duty=off_duty(plain(title) + plain(body)), **item)


@dataclass(frozen=True, slots=True)
class PostShare:
    """The last ``posts`` posts of an account: how many repost another account and how many are off duty."""

    posts: int
    reposts: int
    off_duty: int
    flagged: int  # posts whose source said original or repost (the rest: it did not say)

    @property
    def repost_share(self) -> float:
        return self.reposts / self.posts if self.posts else 0.0

    @property
    def off_duty_share(self) -> float:
        return self.off_duty / self.posts if self.posts else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"posts": self.posts, "reposts": self.reposts, "off_duty": self.off_duty, "flagged": self.flagged,
                "repost_share": round(self.repost_share, 3), "off_duty_share": round(self.off_duty_share, 3)}


def post_share(items: Sequence[Item], window: int) -> PostShare:
    """The shares over the newest ``window`` posts (items come newest first)."""
    last = items[:window]
    return PostShare(len(last), sum(1 for i in last if i.repost), sum(1 for i in last if i.off_duty),
                     sum(1 for i in last if i.repost is not None))
