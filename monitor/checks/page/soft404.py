"""A 200 answer that is really an error page ("soft 404"): 页面不存在, 该信息已删除, 404 Not Found…"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

__all__ = ["Soft404", "detect"]

_PHRASES = re.compile(
    r"(?:您(?:所)?(?:要)?访问的)?(?:页面|网页|文章|信息|内容|资源)(?:已)?(?:不存在|未找到|找不到|无法找到|已被?删除|已下线|已过期)|"
    r"找不到(?:您要访问的|该|相关)?(?:页面|网页|文件)|该(?:信息|文章|内容|页面)已(?:被)?(?:删除|撤销|下线)|"
    r"\b404\s*(?:not\s*found|错误|页面|error)|\b(?:error|http|错误)\s*(?:代码\s*)?[:：]?\s*404\b|\bnot\s+found\b|"
    r"\bpage\s+not\s+found\b"
)
_TITLE_404 = re.compile(r"^\W*404\W*$|^\W*404\W")
_NAV = re.compile(r"nav|menu|head|foot|top|banner|crumb|weizhi|location|copyright|bottom", re.I)
MAX_MAIN_SHORT = 300  # main text this short and saying 页面不存在: an error page
MAX_MAIN = 800  # up to this length the phrase must come first (LEAD); a news article mentioning it is longer
LEAD = 150
MAX_MAIN_TITLED = 1500  # when the title itself says so


@dataclass(frozen=True, slots=True)
class Soft404:
    is_soft404: bool
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"is_soft404": self.is_soft404, "reason": self.reason}


def _main_text(tree: LexborHTMLParser) -> str:
    body = tree.body
    if body is None:
        return ""
    for node in body.css("script, style, noscript, template"):
        node.decompose()
    for node in body.css("[class], [id]"):
        attrs = node.attributes
        if _NAV.search(f"{attrs.get('class') or ''} {attrs.get('id') or ''}") and node.tag in (
                "div", "ul", "nav", "header", "footer", "table", "p"):
            node.decompose()
    for node in body.css("nav, header, footer"):
        node.decompose()
    return " ".join(body.text(separator=" ").split())


def detect(html: str) -> Soft404:
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node else ""
    main = _main_text(tree)
    title_says = bool(title) and len(title) < 40 and bool(_TITLE_404.search(title) or _PHRASES.search(title.lower()))
    if title_says and len(main) <= MAX_MAIN_TITLED:
        return Soft404(True, f"标题：{title[:60]}")
    m = _PHRASES.search(main.lower())
    if m and (len(main) <= MAX_MAIN_SHORT or (len(main) <= MAX_MAIN and m.start() <= LEAD)):
        return Soft404(True, f"正文（{len(main)} 字）：{main[max(0, m.start() - 10):m.end() + 10]}")
    return Soft404(False)
