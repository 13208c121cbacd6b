"""The platforms government accounts are registered on, the words offices and portals write for each, and what
each platform's feeds can tell of a post (pure data).

The inventory's ``platform`` is one of ``PLATFORMS``; an office's 类型 cell or a 新媒体矩阵 caption names one by
any of its words (``PLATFORM_WORDS``: 公众号, 官方微博, B站 …). Anything else is 其他.
"""

from __future__ import annotations

# Each platform with the words written for it; the platform's own name first.
PLATFORM_WORDS: dict[str, tuple[str, ...]] = {
    "微信公众号": ("微信公众号", "微信服务号", "微信订阅号", "公众号", "政务微信", "官方微信", "微信"),
    "视频号": ("视频号", "微信视频号"),
    "微博": ("微博", "新浪微博", "官方微博", "政务微博"),
    "今日头条": ("今日头条", "头条号", "头条"),
    "抖音": ("抖音", "抖音号"),
    "快手": ("快手", "快手号"),
    "哔哩哔哩": ("哔哩哔哩", "B站", "b站", "bilibili", "哔哩哔哩弹幕网"),
    "小红书": ("小红书", "小红书号"),
    "百家号": ("百家号", "百度百家号"),
    "人民号": ("人民号",),
    "学习强国": ("学习强国", "学习强国号"),
    "澎湃号": ("澎湃号",),
    "企鹅号": ("企鹅号",),
    "网易号": ("网易号",),
    "其他": ("其他",),
}
PLATFORMS = tuple(PLATFORM_WORDS)
CANONICAL = {word: platform for platform, words in PLATFORM_WORDS.items() for word in words}

# Platforms whose feeds show a repost's original inline (RSSHub's blockquote, //@, //转发自): an unmarked post
# there is original. And platforms whose posts are short texts or videos: a post's title is the post itself.
INLINE_REPOSTS = frozenset({"微博", "哔哩哔哩"})
TITLED_BY_TEXT = frozenset({"微博", "哔哩哔哩", "抖音", "快手", "小红书", "视频号"})


def canonical_platform(name: str) -> str:
    """The platform an office's 类型 cell names; anything unknown is 其他."""
    return CANONICAL.get(name.strip(), "其他")
