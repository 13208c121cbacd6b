"""Citizens' message list pages (领导信箱, 政民互动, 咨询投诉, 12345 诉求公开) read into messages (pure).

Two shapes cover the common templates:

* a **grid**: a header row (``<tr><th>``, or an ``<li>``/``<div>`` of short cells) naming the columns
  (标题 | 留言时间 | 回复时间 | 状态, with many spellings), then rows with one cell per header;
* **blocks**: one element per message holding its title link and labelled fields
  (留言时间：… 回复时间：… 状态：已回复), or a title link with a status word and one date.

Each message needs its asked date and something that says whether it was answered (a reply date, a
status, or a blank reply column); pinned notices (置顶 写信须知) and rows without an asked date are not
messages. A page whose layout is not understood comes back ``unreadable`` with the reason — never as a
box with zero messages; a box that says 暂无留言 comes back ``empty``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract.dates import find_dates, parse_date
from monitor.extract.listpage import extract_list
from monitor.model import EmptyReason

MAX_TEXT = 2_000_000  # characters parsed; message list pages are small
MAX_LINKS = 1500
MAX_TRAILING = 6  # siblings after a title's block searched for its fields


class MessageStatus(StrEnum):
    ANSWERED = "answered"
    PENDING = "pending"  # received, not answered yet (未回复, 办理中, 已受理, 待回复)
    REJECTED = "rejected"  # 不予受理, 无效, 重复: not an effective message


class Unreadable(StrEnum):
    JS_RENDERED = "js_rendered"  # the list is filled in by a script
    NO_MESSAGES = "no_messages"  # no message list found (a login page, a changed template)
    NO_STATUS = "no_status"  # messages found, but nothing says whether they were answered


UNREADABLE_LABELS = {
    Unreadable.JS_RENDERED: "留言列表由脚本生成，无法读取",
    Unreadable.NO_MESSAGES: "未找到留言列表（页面模板无法识别）",
    Unreadable.NO_STATUS: "留言列表未显示回复情况",
}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    url: str | None  # None when the page links it through a script
    asked: date
    answered: date | None
    status: MessageStatus
    status_text: str = ""  # as the page says it (已回复, 办理中, …); empty when only a reply date shows it


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: tuple[Message, ...] = ()
    unreadable: Unreadable | None = None  # set: the layout was not understood, ``messages`` means nothing
    empty: bool = False  # the box says it holds no messages
    next_url: str | None = None  # the 下一页 link, when there is one
    layout: str = ""  # "grid" or "blocks"
    skipped: int = 0  # dated rows left out because nothing said whether they were answered

    @property
    def ok(self) -> bool:
        return self.unreadable is None


# Column headers and field labels. Order of tests matters: 回复时间 also ends in 时间.
_ANSWERED_FIELD = re.compile(r"(?:回复|答复|回应|办结|反馈|处理|回信)(?:时间|日期)")
_STATUS_FIELD = re.compile(r"状态|办理情况|处理情况|回复情况|答复情况|是否回复")
_ASKED_FIELD = re.compile(r"(?:留言|来信|写信|提问|咨询|投诉|提交|发信|诉求|来电|信件|登记)(?:时间|日期)")
_ANY_TIME_FIELD = re.compile(r"时间|日期")
_FIELD_LABEL = re.compile(r"([\u4e00-\u9fff]{2,8})\s*[:：]")

# Status words; tested in this order (不予受理 contains 受理, 未办结 contains 办结).
_REJECTED_WORDS = re.compile(r"不予受理|不受理|无效留言|无效信件|重复留言|重复来信|已退回|不予处理")
_PENDING_WORDS = re.compile(
    r"未回复|未答复|未回应|待回复|待答复|待处理|待受理|办理中|处理中|受理中|正在办理|已受理|已转办|转办中|未办结|未处理|审核中"
)
_ANSWERED_WORDS = re.compile(r"已回复|已答复|已回应|已办结|办结|已处理|已反馈|已解决|已完成|已公开|已回信")

_PINNED = re.compile(
    r"置顶|【顶】|\[顶\]|class=['\"]?[^'\">]*(?<![a-z])(?:top|zd|zhiding|istop|sticky)(?![a-z])|"
    r"src=['\"]?[^'\">]*(?:top|zd|zhiding|ding)[^'\">]*\.(?:gif|png|jpe?g|svg)",
    re.I,
)
_EMPTY = re.compile(
    r"暂无(?:留言|信件|来信|诉求|咨询|投诉|数据|记录|信息|内容)|没有(?:找到)?(?:相关)?(?:留言|信件|记录|数据)"
)
_NOT_TITLE = re.compile(
    r"^(?:\[?(?:详细|详情|查看|更多|查看详情|点击查看|阅读全文|回复|我要写信|我要留言|信件查询|首页|上一页|下一页|尾页|末页)\]?|\d+|[<>«»‹›]+)$"
)
_NEXT = frozenset({"下一页", "下页", "后一页", "下一页>", "下一页»", "›", "»"})
_SCRIPT_HREF = ("javascript:", "#")


def read_messages(text: str, url: str, today: date) -> MessagePage:
    """Read a message list page. ``today`` infers the year of year-less dates. Never raises."""
    try:
        tree = LexborHTMLParser(text[:MAX_TEXT])
        body = tree.body
        if body is None:
            return MessagePage(unreadable=Unreadable.NO_MESSAGES)
        next_url = _next_url(body, url)
        found = _from_grids(body, url, today)
        if found is None or not found[0]:
            blocks = _from_blocks(body, url, today)
            if blocks[0] or found is None:
                found = blocks
        messages, skipped, layout = found
        if messages:
            return MessagePage(tuple(messages), None, False, next_url, layout, skipped)
        if _EMPTY.search(body.text(separator=" ")):
            return MessagePage(empty=True, layout=layout)
        if skipped:
            return MessagePage(unreadable=Unreadable.NO_STATUS, skipped=skipped)
        if extract_list(text, url, today).reason is EmptyReason.JS_RENDERED:
            return MessagePage(unreadable=Unreadable.JS_RENDERED)
        return MessagePage(unreadable=Unreadable.NO_MESSAGES)
    except Exception:  # hostile input degrades to "not understood", never a crash
        return MessagePage(unreadable=Unreadable.NO_MESSAGES)


# --- shared -----------------------------------------------------------------------------


def _squash(text: str) -> str:
    return " ".join(text.split())


def _children(node: LexborNode) -> list[LexborNode]:
    return [c for c in node.iter(include_text=False) if c.tag not in ("-comment", "script", "style")]


def _href(a: LexborNode, base: str) -> str | None:
    href = (a.attributes.get("href") or "").strip()
    if not href or href.lower().startswith(_SCRIPT_HREF):
        return None
    return urljoin(base, href)


def _link_title(a: LexborNode) -> str:
    """The link's text, or its title attribute when the text is cut short (…)."""
    text = _squash(a.text(separator=" "))
    attr = _squash(a.attributes.get("title") or "")
    return attr if len(attr) > len(text.rstrip(".…")) else text


def _is_title(a: LexborNode) -> bool:
    title = _link_title(a).strip("[]【】 ")
    return len(title) >= 4 and not _NOT_TITLE.match(_squash(a.text(separator=" ")) or title)


def _title_link(node: LexborNode) -> LexborNode | None:
    """The longest title-like link in a row."""
    best, best_len = None, 0
    for a in node.css("a"):
        if a.attributes.get("href") is not None and _is_title(a):
            n = len(_link_title(a))
            if n > best_len:
                best, best_len = a, n
    return best


def _pinned(node: LexborNode, title: str) -> bool:
    return "置顶" in title or bool(_PINNED.search(node.html or ""))


def _status_word(text: str) -> tuple[str, MessageStatus | None]:
    """The first status word in a text and what it says (不予受理 before 受理, 未办结 before 办结)."""
    for words, status in ((_REJECTED_WORDS, MessageStatus.REJECTED), (_PENDING_WORDS, MessageStatus.PENDING),
                          (_ANSWERED_WORDS, MessageStatus.ANSWERED)):
        m = words.search(text)
        if m:
            return m.group(0), status
    return "", None


def _status(status_text: str, answered: date | None, reply_field: bool) -> MessageStatus | None:
    """Rejected when the page says so; answered when a reply date shows (an interim reply counts as one);
    else as the status says; else pending when the page has a reply field left blank; else unknown."""
    said = _status_word(status_text)[1]
    if said is MessageStatus.REJECTED:
        return said
    if answered is not None:
        return MessageStatus.ANSWERED
    if said is not None:
        return said
    return MessageStatus.PENDING if reply_field else None


def _role(header: str) -> str:
    if _ANSWERED_FIELD.search(header):
        return "answered"
    if _STATUS_FIELD.search(header):
        return "status"
    if _ASKED_FIELD.search(header):
        return "asked"
    if _ANY_TIME_FIELD.search(header):
        return "time"
    return ""


def _next_url(body: LexborNode, base: str) -> str | None:
    for a in body.css("a[href]"):
        if _squash(a.text()) in _NEXT:
            href = _href(a, base)
            if href and href.split("#", 1)[0] != base.split("#", 1)[0]:
                return href
    return None


# --- grids ------------------------------------------------------------------------------

_Found = tuple[list[Message], int, str]


def _header_roles(node: LexborNode) -> list[str] | None:
    """The column roles of a header row, or None when the node is not one."""
    cells = _children(node)
    if not 3 <= len(cells) <= 12:
        return None
    texts = [_squash(c.text()) for c in cells]
    if any(len(t) > 10 for t in texts):  # header cells may be links (sortable columns), never long
        return None
    roles = [_role(t) for t in texts]
    if "asked" not in roles and roles.count("time") == 1:
        roles[roles.index("time")] = "asked"
    if "asked" not in roles or not {"answered", "status"} & set(roles):
        return None
    return roles


def _grid_rows(header: LexborNode) -> list[LexborNode]:
    parent = header.parent
    if parent is not None and parent.tag == "thead" and parent.parent is not None:
        return [tr for body in parent.parent.css("tbody") for tr in _children(body) if tr.tag == "tr"]
    rows, node = [], header.next
    while node is not None:
        if node.tag == header.tag:
            rows.append(node)
        node = node.next
    if rows:
        return rows
    node = header.next
    while node is not None and node.tag in ("-text", "-comment"):
        node = node.next
    return _children(node) if node is not None else []


def _from_grids(body: LexborNode, base: str, today: date) -> _Found | None:
    """The messages of the best grid on the page; None when the page has no grid header."""
    best: _Found | None = None
    for node in body.css("tr, li, div, dl, p"):
        roles = _header_roles(node)
        if roles is None:
            continue
        found = _grid_messages(roles, _grid_rows(node), base, today)
        if best is None or len(found[0]) > len(best[0]):
            best = found
    return best


def _grid_messages(roles: list[str], rows: list[LexborNode], base: str, today: date) -> _Found:
    messages: list[Message] = []
    skipped = 0
    asked_i = roles.index("asked")
    answered_i = roles.index("answered") if "answered" in roles else None
    status_i = roles.index("status") if "status" in roles else None
    for row in rows:
        cells = _children(row)
        if len(cells) != len(roles):
            continue
        link = _title_link(row)
        if link is None:
            continue
        title = _link_title(link)
        asked = parse_date(cells[asked_i].text(separator=" "), today)
        if asked is None or _pinned(row, title):
            continue
        answered = parse_date(cells[answered_i].text(separator=" "), today) if answered_i is not None else None
        status_text = _cell_text(cells[status_i]) if status_i is not None else ""
        status = _status(status_text, answered, answered_i is not None)
        if status is None:
            skipped += 1
            continue
        messages.append(Message(title, _href(link, base), asked, answered, status, status_text))
    return messages, skipped, "grid"


def _cell_text(cell: LexborNode) -> str:
    """A cell's text, or its image's alt/title when the status is an icon."""
    text = _squash(cell.text(separator=" "))
    if text:
        return text
    img = cell.css_first("img")
    return _squash(img.attributes.get("alt") or img.attributes.get("title") or "") if img is not None else ""


# --- blocks -----------------------------------------------------------------------------


def _from_blocks(body: LexborNode, base: str, today: date) -> _Found:
    """Messages from one block per title link: the link's highest ancestor holding no other title link,
    with the siblings after it up to the next title (a <dt> and its <dd>s)."""
    links = [a for a in body.css("a[href]")[:MAX_LINKS] if _is_title(a)]
    counts: Counter[int] = Counter()
    for a in links:
        node = a
        while node is not None and node.tag not in ("body", "html"):
            counts[node.mem_id] += 1
            node = node.parent
    messages: list[Message] = []
    seen: set[tuple[str, date]] = set()
    skipped = 0
    for a in links:
        block = a
        parent = block.parent
        while parent is not None and parent.tag not in ("body", "html") and counts[parent.mem_id] == 1:
            block, parent = parent, parent.parent
        title = _link_title(a)
        if _pinned(block, title):
            continue
        rest = _squash(block.text(separator=" ")).replace(_squash(a.text(separator=" ")), " ", 1)
        rest += " " + _trailing(block, counts)
        message = _block_message(rest, title, _href(a, base), today)
        if message is None:
            continue
        if isinstance(message, date):
            skipped += 1
            continue
        key = (message.url or message.title, message.asked)
        if key not in seen:
            seen.add(key)
            messages.append(message)
    return messages, skipped, "blocks"


def _trailing(block: LexborNode, counts: Counter[int]) -> str:
    parts, node = [], block.next
    for _ in range(MAX_TRAILING):
        if node is None or node.mem_id in counts:
            break
        if node.tag == "-text":
            parts.append(node.text_content or "")
        elif node.tag not in ("-comment", "script", "style"):
            parts.append(node.text(separator=" "))
        node = node.next
    return _squash(" ".join(parts))


def _block_message(rest: str, title: str, url: str | None, today: date) -> Message | date | None:
    """A message from a block's text outside its title; its asked date alone when nothing says whether it
    was answered; None when the block is no message (no asked date)."""
    asked = answered = None
    status_text = ""
    reply_field = False
    labels = list(_FIELD_LABEL.finditer(rest))
    for i, m in enumerate(labels):
        value = rest[m.end(): labels[i + 1].start() if i + 1 < len(labels) else len(rest)].strip()
        role = _role(m.group(1))
        if role == "answered":
            reply_field = True
            answered = parse_date(value, today)
        elif role == "status":
            status_text = value
        elif role in ("asked", "time") and asked is None:
            asked = parse_date(value, today)
    if asked is None and not any(_role(m.group(1)) in ("asked", "time") for m in labels):
        dates = find_dates(rest, today)  # no asked label: a single date beside the title is the asked date
        if len(dates) == 1:
            asked = dates[0][0]
    if asked is None:
        return None
    status_text = _status_word(status_text)[0] or status_text or _status_word(rest)[0]
    status = _status(status_text, answered, reply_field)
    if status is None:
        return asked
    return Message(title, url, asked, answered, status, status_text)
