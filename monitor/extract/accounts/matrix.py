"""A site's 新媒体矩阵 page read into the accounts it lists (pure).

Portals list their accounts in two ways: a grid of icons or QR codes, each with a caption ("青溪发布 微信公众号",
"官方微博：@青溪发布", an image's alt text), or a table with 平台 | 账号名称 (often 单位 too, merged over rows).
Tables with such a header are read by column; every other element whose text (and image alt texts) names
exactly one platform and a plausible account name is a caption.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.platforms import CANONICAL

_PLATFORM = re.compile("|".join(re.escape(w) for w in sorted(CANONICAL, key=len, reverse=True) if w != "其他"))
# Words around a caption that are not the account's name.
_FILLER = re.compile(r"微信扫一扫|手机扫一扫|扫一扫|扫码关注|扫描二维码关注|扫描二维码|扫码|二维码|长按识别|"
                     r"欢迎关注|关注我们|点击关注|关注")
_SEPARATORS = re.compile(r"[\s:：|｜/、,，·\-—_()（）\[\]【】<>《》「」『』“”\"'‘’@#]+")
_LABELS = {"账号名称", "账号", "名称", "平台", "类型", "官方", "官方账号", "号", "ID"}
_NOT_NAMES = {"更多", "新媒体矩阵", "政务新媒体", "新媒体", "首页", "返回顶部"}
_SENTENCE = re.compile(r"[。；;！!？?]")
_CJK_OR_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_BLOCKS = {"li", "dd", "dt", "figure", "figcaption", "p", "div", "span", "a", "td", "section", "article", "h3", "h4"}
MAX_CAPTION = 60  # longer texts are paragraphs, not captions

# Table headers: which column holds the platform, the account's name, the owning unit.
_PLATFORM_HEADERS = {"平台", "类型", "账号类型", "新媒体类型", "平台类型", "渠道", "媒体类型", "平台名称", "新媒体平台"}
_NAME_HEADERS = {"账号名称", "名称", "账号", "新媒体名称", "新媒体账号名称", "账号名", "新媒体账号"}
_UNIT_HEADERS = {"单位", "单位名称", "主办单位", "开办单位", "运营单位", "开办主体", "主管单位", "责任单位"}


@dataclass(frozen=True, slots=True)
class Listed:
    """One account a matrix page lists."""

    platform: str  # the inventory's platform (微信公众号, 微博, …, 其他)
    name: str
    platform_text: str  # as the page wrote it
    unit: str | None = None  # the owning unit, when a table names it


def platform_of(text: str) -> tuple[str, str] | None:
    """(inventory platform, the word as written) for the first platform word in ``text``."""
    match = _PLATFORM.search(text)
    return (CANONICAL[match.group()], match.group()) if match else None


def read_matrix(html: str) -> list[Listed]:
    """Every account the page lists, once each, in page order."""
    tree = LexborHTMLParser(html)
    found: list[Listed] = []
    in_tables: set[int] = set()
    for table in tree.css("table"):
        rows = _table(table)
        if rows is not None:
            found.extend(rows)
            in_tables.update(id(n) for n in _descendants(table))
    root = tree.body or tree.root
    if root is not None:
        for node in _descendants(root):
            if node.tag in _BLOCKS and id(node) not in in_tables and (listed := _caption(node)) is not None:
                found.append(listed)
    seen: set[tuple[str, str]] = set()
    out = []
    for listed in found:
        key = (listed.platform, listed.name.lower())
        if key not in seen:
            seen.add(key)
            out.append(listed)
    return out


def _descendants(node: LexborNode) -> list[LexborNode]:
    return [n for n in node.traverse(include_text=False) if n is not node]


def _cell_text(cell: LexborNode) -> str:
    """A cell's text, or its images' alt texts when it has none (a platform shown as an icon)."""
    text = cell.text(separator=" ", strip=True)
    return text or " ".join(img.attributes.get("alt") or "" for img in cell.css("img")).strip()


def _grid(table: LexborNode) -> list[list[str]]:
    """The table's rows as text cells, merged cells (rowspan, colspan) repeated in each row and column they cover."""
    grid: list[list[str]] = []
    carried: dict[int, tuple[int, str]] = {}  # column → (rows still covered, text) of a cell merged downwards
    for tr in table.css("tr"):
        cells = iter(tr.css("th, td"))
        row: list[str] = []
        while True:
            col = len(row)
            if col in carried:
                left, text = carried.pop(col)
                if left > 1:
                    carried[col] = (left - 1, text)
                row.append(text)
                continue
            cell = next(cells, None)
            if cell is None:
                break
            text = _cell_text(cell)
            down, across = (_span(cell.attributes.get(a)) for a in ("rowspan", "colspan"))
            for _ in range(across):
                if down > 1:
                    carried[len(row)] = (down - 1, text)
                row.append(text)
        grid.append(row)
    return grid


def _span(value: str | None) -> int:
    return min(int(value), 100) if value and value.strip().isdigit() and int(value) > 0 else 1


def _table(table: LexborNode) -> list[Listed] | None:
    """The accounts in a table with a 平台 and a 账号名称 column; None for any other table."""
    rows = _grid(table)
    for index, header in enumerate(rows):
        names = [re.sub(r"\s+", "", h) for h in header]
        platform_col = next((i for i, h in enumerate(names) if h in _PLATFORM_HEADERS), None)
        name_col = next((i for i, h in enumerate(names) if h in _NAME_HEADERS and i != platform_col), None)
        if platform_col is None or name_col is None:
            continue
        unit_col = next((i for i, h in enumerate(names) if h in _UNIT_HEADERS), None)
        out: list[Listed] = []
        for cells in rows[index + 1:]:
            if len(cells) <= max(platform_col, name_col):
                continue
            platform = platform_of(cells[platform_col])
            name = _clean(cells[name_col])
            if platform is None or name is None:
                continue
            unit = cells[unit_col].strip() or None if unit_col is not None and unit_col < len(cells) else None
            out.append(Listed(platform[0], name, platform[1], unit))
        return out
    return None


def _caption(node: LexborNode) -> Listed | None:
    """A caption naming one platform and one account. A platform word standing apart is the platform; one
    inside a word belongs to the name (通城头条 is a WeChat account's name) unless it is the caption's only
    platform word and a long one (青溪发布微信公众号)."""
    text = node.text(separator=" ", strip=True)
    alts = " ".join(img.attributes.get("alt") or "" for img in node.css("img"))
    text = _FILLER.sub(" ", f"{text} {alts}" if alts.strip() else text).strip()
    if not text or len(text) > MAX_CAPTION or _SENTENCE.search(text):
        return None
    mentions = list(_PLATFORM.finditer(text))
    apart = [m for m in mentions if _apart(text, m.start(), m.end())]
    if len(apart) == 1:
        word = apart[0]
    elif not apart and len(mentions) == 1 and len(mentions[0].group()) >= 3:
        word = mentions[0]
    else:
        return None
    name = _clean(text[:word.start()] + " " + text[word.end():])
    return Listed(CANONICAL[word.group()], name, word.group()) if name else None


def _apart(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is not part of a longer word."""
    return ((start == 0 or not _CJK_OR_WORD.match(text[start - 1]))
            and (end == len(text) or not _CJK_OR_WORD.match(text[end])))


def _clean(text: str) -> str | None:
    """The account's name in a caption or cell: the first word that is not a label; None if there is none."""
    for token in _SEPARATORS.split(_FILLER.sub(" ", text)):
        if token in _LABELS or not token:
            continue
        if 2 <= len(token) <= 20 and _CJK_OR_WORD.search(token) and token not in _NOT_NAMES:
            return token
        return None
    return None
