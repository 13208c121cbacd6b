"""What an account posts: original or repost, on duty or not, and the shares over its last posts (pure).

Inspectors fail accounts that repost to look alive — weather forecasts, other outlets' news (seed 000) —
and note a low share of original posts (seed 004). Each post is read where its source says it:

* Weibo through RSSHub: a repost's description quotes the other account in ``<blockquote> - 转发 @…``,
  its title carries `` - 转发 @…`` (or 🔁), a repost chain ``//@…``;
* Bilibili through RSSHub: a forward's description quotes ``//转发自: @…`` (its title is empty);
* WeChat (wewe-rss ``mode=fulltext``, RSSHub full text): a reprint's body says 以下文章来源于…, an original
  one carries the 原创 mark (``copyright_logo``) or a 原创 category;
* a JSON API: a configured field (``repost``: e.g. ``retweeted_status``; ``original``: e.g. ``is_original``);
* any source: a title that starts 转发/转载.

What others wrote under a post (RSSHub's ``displayComments=1`` appends 热门评论 with replies quoted in
``<blockquote>…@…``) is not the post: it is cut off before anything is read.

A post is *judged* only when its source can tell. On 微博 and 哔哩哔哩 every feed shows a repost's
original inline, so a post without that mark is original; elsewhere (a WeChat feed without full text carries
neither the 原创 mark nor 以下文章来源于) an unmarked post is undecided (``repost`` None). Off-duty content is
matched by keywords (天气预报, 来源：新华社, …) in the post's title and text; a post that offers nothing but an
article's headline and matches no keyword is undecided too (``off_duty`` None). Shares are counted over the
judged posts only, and nothing is judged from undecided ones.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitor.model import Item
from monitor.platforms import INLINE_REPOSTS, TITLED_BY_TEXT

_REPOST_TITLE = re.compile(r"^[【\[]?(?:转发|转载|转自)(?:微博)?[】\]|｜:：\s]|^转发微博|//@|(?:^|\s)-\s*转发\s|🔁")
_REPOST_BODY = re.compile(
    r"<blockquote\b[^>]*>(?:(?!</blockquote>).){0,400}?(?:转发|@)|//@|//转发自\s*[:：]\s*@|以下文章来源于",
    re.DOTALL)
_ORIGINAL_BODY = re.compile(r"""id=["']?copyright_logo|class=["'][^"']*\boriginal_tag\b""")
# Where RSSHub's Weibo routes append the post's hot comments (``displayComments=1``): others' words, not the post.
_COMMENTS = re.compile(r"<h3>\s*热门评论\s*</h3>")
# What wewe-rss writes as a post's body when it could not fetch the article's full text.
_NO_TEXT = frozenset({"获取全文失败，请重试~"})
_TAGS = re.compile(r"<[^>]*>")
UNTITLED = "（无标题）"
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


def own_text(body: str) -> str:
    """A post's body HTML without what others wrote under it (comments) or a bridge's placeholder."""
    cut = _COMMENTS.search(body)
    body = body[:cut.start()] if cut else body
    return "" if plain(body) in _NO_TEXT else body


def post_title(title: str, body: str, limit: int = 60) -> str:
    """A post's title; one that has none (RSSHub's Bilibili dynamics and forwards) is its text's beginning."""
    title = " ".join(title.split())
    if title:
        return title
    text = " ".join(html.unescape(_TAGS.sub(" ", body)).split())
    return (text if len(text) <= limit else text[:limit] + "…") or UNTITLED


def repost_in_feed(title: str, body: str, tags: Iterable[str] = (), platform: str | None = None) -> bool | None:
    """A post's repost marks from its title, its own body HTML and categories; None when none tells. With the
    ``platform`` of a feed (not of a JSON API, whose reposts' text may not quote the original), a post on a
    platform whose feeds show reposts inline is original when unmarked."""
    tags = {t.strip() for t in tags}
    if tags & {"转发", "转载"} or _REPOST_TITLE.search(title.strip()) or _REPOST_BODY.search(body):
        return True
    if "原创" in tags or _ORIGINAL_BODY.search(body):
        return False
    return False if platform in INLINE_REPOSTS and (plain(title) or plain(body)) else None


def truthy(value: Any) -> bool:
    """A JSON flag as APIs write it: true, 1, "1", "true", "是"."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "否")
    return bool(value)


def classify(title: str, body: str, repost: bool | None, off_duty: Callable[[str], bool], platform: str,
             **item: Any) -> Item:
    """An account's post as an ``Item`` with its repost and off-duty flags (``body`` is its own text, see
    ``own_text``); a flag its source cannot tell is None."""
    heading, text = plain(title), plain(body)
    has_text = bool(text) and text != heading
    hit = off_duty(heading + text)
    judged = hit or has_text or platform in TITLED_BY_TEXT
    return Item(title, repost=repost, off_duty=True if hit else False if judged else None, **item)


@dataclass(frozen=True, slots=True)
class PostShare:
    """The last ``posts`` posts of an account: how many repost another account and how many are off duty, each
    out of the posts whose source could tell (``flagged`` for reposts, ``off_duty_judged``)."""

    posts: int
    reposts: int
    off_duty: int
    flagged: int  # posts whose source said original or repost
    off_duty_judged: int  # posts with text enough to tell (or a keyword in their headline)

    @property
    def repost_share(self) -> float | None:
        """Reposts among the judged posts; None when no post could be judged."""
        return self.reposts / self.flagged if self.flagged else None

    @property
    def off_duty_share(self) -> float | None:
        return self.off_duty / self.off_duty_judged if self.off_duty_judged else None

    def to_json(self) -> dict[str, Any]:
        return {"posts": self.posts, "reposts": self.reposts, "off_duty": self.off_duty, "flagged": self.flagged,
                "off_duty_judged": self.off_duty_judged,
                "repost_share": None if self.repost_share is None else round(self.repost_share, 3),
                "off_duty_share": None if self.off_duty_share is None else round(self.off_duty_share, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PostShare:
        """The shares a finding recorded (findings stored before ``off_duty_judged`` judged every post)."""
        return cls(data["posts"], data["reposts"], data["off_duty"], data["flagged"],
                   data.get("off_duty_judged", data["posts"]))


def post_share(items: Sequence[Item], window: int) -> PostShare:
    """The shares over the newest ``window`` posts (items come newest first)."""
    last = items[:window]
    return PostShare(len(last), sum(1 for i in last if i.repost), sum(1 for i in last if i.off_duty),
                     sum(1 for i in last if i.repost is not None), sum(1 for i in last if i.off_duty is not None))
