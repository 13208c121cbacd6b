"""Find the main list of a column page and the date of its newest item.

The page is read as a set of candidate lists: every link with a title-like text is
lifted to its "row" (the highest ancestor holding no other title link), and rows that
share a parent form one candidate. Candidates inside sidebars, hot lists, navigation
and footers are set aside (a last resort only); the rest are scored by dated rows (on a
log scale), title length, a heading naming the column, pagination and URLs under the
column's directory, so neither "first item" nor "longest list" decides. The newest date
is the maximum over the chosen list, so old pinned (置顶) items cannot hide newer ones.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from itertools import pairwise
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract.dates import (
    LABEL,
    Hit,
    MonthDay,
    date_from_url,
    earliest_on_or_after,
    epoch_date,
    hit_by_format,
    hit_date,
    latest_on_or_before,
    parse_date,
    scan_dates,
    split_date,
)
from monitor.extract.selectors import date_selector, number_cells, rows_selector
from monitor.list_override import Override
from monitor.model import EmptyReason, Item, ListResult

MAX_ANCHORS = 5000  # links examined per page
MAX_ROWS = 300  # rows kept per candidate list (long archives)
MAX_CLIMB = 7  # ancestor levels examined above a link
MAX_TEXT = 3_000_000  # characters parsed; the rest of a huge page is ignored
MIN_TITLE = 5
_LISTED_ROWS = 5  # undated rows that make a list plainly in the HTML (then never called script-built)
NESTING_LIMIT = 5000  # unclosed tags tolerated before the page is cut (see _defuse)

_SIDE = re.compile(
    r"(?<!in)side|(?<!p)hot|rank|paihang|phb|remen|redian|tuijian|recommend|latest|newest|zxwj|zxxx|"
    r"foot|head(?!line)|(?<!ca)nav|menu|link|yqlj|friend|banner|focus|slide|tab-?title|crumb|weizhi|location",
    re.I,
)
_MAIN = re.compile(r"list|main|content|con\b|article|news|column|lanmu|lm|xxgk|wjlb|doc", re.I)
_SIDE_HEADING = re.compile(r"热点|热门|排行|推荐|最新|相关|友情链接|专题|点击")
_PAGER = re.compile(
    r"createPageHTML|下一页|上一页|尾页|末页|共\s*\d+\s*页|第\s*\d+\s*页|共\s*\d+\s*条|pagination|page-?nav"
)
_PINNED = re.compile(
    r"置顶|\[顶\]|【顶】|class=['\"]?[^'\">]*(?<![a-z])(?:top|zd|zhiding|istop|sticky)(?![a-z])|"
    r"src=['\"]?[^'\">]*(?:top|zd|zhiding|ding)[^'\">]*\.(?:gif|png|jpe?g|svg)",
    re.I,
)
_EMPTY = re.compile(r"暂无(?:信息|数据|内容|记录|相关|文章|新闻)|没有(?:记录|数据|找到|相关)|无相关(?:信息|记录|数据)")
# Case-sensitive on purpose: these scan the whole page and re.I makes them several times slower.
_JS = re.compile(
    r"v-for=|v-if=|ng-repeat|\{\{\s*[#/$]?[A-Za-z_][\w.$ ]*\}\}|document\.write\s*\(\s*['\"][^'\"]*<(?:li|a|tr)|"
    r"type=['\"]text/(?:html|template|x-[\w-]+)['\"]|请(?:开启|启用|打开)\s*(?:浏览器的?)?\s*JavaScript"
)
_JS_FETCH = re.compile(r"ajax|getJSON|\$\.get|\$\.post|fetch\(|\.load\(|axios|XMLHttpRequest")
_EMPTY_CONTAINER = re.compile(
    r"<(ul|ol|tbody|div)\b[^>]*(?:id|class)=['\"][^'\"]*(?:list|news|content|data)[^'\"]*['\"][^>]*>\s*</\1>",
    re.I,
)
_DATASTORE_HINT = re.compile(r"<datastore>", re.I)  # a cheap pre-check: the full pattern is slow
_DATASTORE = re.compile(r"<script[^>]*>\s*<datastore>(.*?)</datastore>\s*</script>", re.I | re.S)
_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.S)
_SKIP_HREF = ("javascript:", "#", "mailto:", "tel:")
_SKIP_FIRST = frozenset("jJ#mMtT")  # first characters of _SKIP_HREF; no other character lowers to these
_STOP_TAGS = frozenset({"a", "br", "li", "tr", "dt", "p", "div", "table", "ul"})
_TOP = frozenset({"body", "html", "-document"})  # where a link's climb to its row stops
_SIDE_TAGS = frozenset({"aside", "nav", "header", "footer"})
# Lowercased substrings that every _PINNED match contains. re.I also folds ı, ſ and İ (lowered
# to "i\u0307") into i and s, so a row holding one of those goes to the full regex as well.
_PIN_HINTS = ("顶", "top", "zd", "ding", "sticky", "ı", "ſ", "i\u0307")


@dataclass(slots=True)
class _Row:
    title: str
    href: str  # as written in the page; resolved only for the chosen list
    anchor: LexborNode
    anchor_text: str  # anchor.text(separator="\n"), kept from the link scan
    node: LexborNode
    title_from_attr: bool
    date: date | None = None
    month_day: MonthDay | None = None  # set when the date was printed without its year (then inferred)
    url_date: date | None = None


@dataclass(slots=True)
class _Candidate:
    container: LexborNode
    rows: list[_Row] = field(default_factory=list)
    tail: LexborNode | None = None  # the last block of a list split over sibling blocks (its pager follows)
    seen: set[int] = field(default_factory=set)
    dates_read: bool = False

    @property
    def dated(self) -> int:
        return sum(1 for r in self.rows if r.date)


@dataclass(slots=True)
class _Page:
    """What candidate scoring needs to know about the page."""

    url: str
    today: date
    title: str  # <title> and <meta name="ColumnName">: where the column's own name appears
    link_counts: dict[int, int]  # title links below each node (by mem_id)
    # Per-node caches by mem_id: lexbor builds a new Python object on every .parent.
    idents: dict[int, str] = field(default_factory=dict)
    sides: dict[int, bool] = field(default_factory=dict)


def extract_list(text: str, url: str, today: date, content_type: str | None = None) -> ListResult:
    """Read a column page (HTML or a JSON list API) into its items and newest date. Never raises."""
    try:
        if not isinstance(text, str) or not text.strip():
            return ListResult(None, reason=EmptyReason.NO_LIST)
        head = text.lstrip()[:1]
        if (content_type and "json" in content_type.lower()) or head in ("{", "["):
            result = _extract_json(text, url, today)
            if result is not None:
                return result
        return _extract_html(text[:MAX_TEXT], url, today)
    except Exception:  # hostile input must degrade to "no list", never crash the probe
        return ListResult(None, reason=EmptyReason.NO_LIST)


# --- HTML -------------------------------------------------------------------------------


def _defuse(text: str) -> str:
    """Cut pages whose tags are almost never closed: deep nesting makes parsing quadratic.

    Normal pages close most tags (void elements and stray <li>/<p> aside), so a page
    with thousands of unclosed tags making up most of its markup is malformed or hostile.
    """
    opens = text.count("<")
    if opens <= NESTING_LIMIT:
        return text
    unclosed = opens - 2 * text.count("</")
    if unclosed > NESTING_LIMIT and unclosed * 10 > opens * 7:
        return text[: NESTING_LIMIT * 4]
    return text


@dataclass(slots=True)
class _Reading:
    """A page as read: its candidate lists, the one chosen (if any) and the result."""

    tree: LexborHTMLParser
    page: _Page
    mains: list[_Candidate]
    sides: list[_Candidate]
    chosen: _Candidate | None
    result: ListResult


def _extract_html(text: str, url: str, today: date) -> ListResult:
    return _read_html(text, url, today).result


def _parse(text: str) -> LexborHTMLParser:
    text = _defuse(text)
    if _DATASTORE_HINT.search(text):
        text = _DATASTORE.sub(_inline_datastore, text)
    return LexborHTMLParser(text)


def _read_html(text: str, url: str, today: date) -> _Reading:
    tree = _parse(text)
    links, column_names = _scan(tree)
    candidates, counts = _candidates(links, column_names)
    page = _Page(url, today, column_names, counts)
    mains, sides = [], []
    for cand in candidates:
        (sides if _is_side(cand.container, page) else mains).append(cand)

    def done(chosen: _Candidate | None, result: ListResult) -> _Reading:
        return _Reading(tree, page, mains, sides, chosen, result)

    main = _best(mains, page)
    if main is not None and main.dated:
        return done(main, _result(main, page))
    listed = main is not None and _mean_title(main) >= 8
    # A list plainly in the HTML was not built by a script elsewhere on the page.
    if not (listed and len(main.rows) >= _LISTED_ROWS) and (
        _JS.search(text) or (_JS_FETCH.search(text) and _EMPTY_CONTAINER.search(text))
    ):
        return done(None, ListResult(None, reason=EmptyReason.JS_RENDERED))
    if _EMPTY.search(_body_text(tree)) or _EMPTY_CONTAINER.search(text):
        return done(None, ListResult(None, reason=EmptyReason.EMPTY))
    if listed:
        result = ListResult(None, _items(main, url), EmptyReason.NO_DATES, _signature(main.container, page.idents))
        return done(main, result)
    side = _best(sides, page)  # a last resort: a page whose only dated list is a sidebar
    if side is not None and side.dated:
        return done(side, _result(side, page))
    return done(None, ListResult(None, reason=EmptyReason.NO_LIST))


def _scan(tree: LexborHTMLParser) -> tuple[list[LexborNode], str]:
    """The page's links (rows that are links by script, <tr onclick="location.href='…'">, too), and its
    <title> and <meta name="ColumnName"> joined (the column's own name).

    One selector walks the tree once; a separate search for a missing meta would walk it all again.
    """
    links, title, meta = [], None, None
    for node in tree.css('a[href], tr[onclick], li[onclick], title, meta[name="ColumnName"]'):
        tag = node.tag
        if tag == "title":
            title = node if title is None else title
        elif tag == "meta":
            meta = node if meta is None else meta
        else:
            links.append(node)
    names = [title.text() if title is not None else "", (meta.attributes.get("content") or "") if meta else ""]
    return links, " ".join(names)


def _best(candidates: list[_Candidate], page: _Page) -> _Candidate | None:
    """The highest-scoring candidate; dates are read only for the candidates scored."""
    best, best_score = None, 0.0
    for cand in candidates:
        _read_dates(cand, page)
        if len(cand.rows) < 2 and not cand.dated:
            continue
        score = _score(cand, page)
        if score > best_score:
            best, best_score = cand, score
    return best


def _inline_datastore(m: re.Match[str]) -> str:
    """Turn a Hanweb jpage data island into a plain list the generic reader can see."""
    records = _RECORD.findall(m.group(1))
    return '<ul class="govwatch-datastore">' + "".join(records[:MAX_ROWS]) + "</ul>"


def _body_text(tree: LexborHTMLParser) -> str:
    """The page's visible text: a script's 暂无数据 (shown when its request fails) is not the page's."""
    tree.strip_tags(["script", "style", "template"])
    body = tree.body
    return body.text(separator=" ") if body is not None else ""


def _items(cand: _Candidate, url: str) -> tuple[Item, ...]:
    return tuple(Item(r.title, _absolute(url, r.href), r.date, _is_pinned(r.node)) for r in cand.rows)


def _result(cand: _Candidate, page: _Page) -> ListResult:
    items = _items(cand, page.url)
    limit = page.today + timedelta(days=1)
    if any(r.month_day for r in cand.rows):
        items = _date_yearless(items, cand.rows, limit)
    dates = [i.date for i in items if i.date and i.date <= limit]
    reason = None if dates else EmptyReason.NO_DATES
    return ListResult(max(dates) if dates else None, items, reason, _signature(cand.container, page.idents))


def _date_yearless(items: tuple[Item, ...], rows: list[_Row], limit: date) -> tuple[Item, ...]:
    """Give year-less dates (05-31) their year from the list itself rather than from today.

    Evidence is every full date of the list (its own or its URL's) not after ``limit``. A row's own URL
    date decides first (the nearest year to it). In a list sorted newest first, a month-day takes the latest
    year not after the dated row above it, or, above every dated row, the earliest year not before the one
    below it; in an unsorted list, the latest year not after the list's newest full date. Without evidence
    the year stays the one inferred from today. Pinned rows are no evidence: they sit out of order.
    """
    known = [
        (i, item.date if rows[i].month_day is None else rows[i].url_date)
        for i, item in enumerate(items)
        if not item.pinned
    ]
    known = [(i, d) for i, d in known if d is not None and d <= limit]
    if not known:
        return items
    steps = [a[1] >= b[1] for a, b in pairwise(known)]
    newest_first = len(steps) < 2 or sum(steps) * 10 >= len(steps) * 8
    newest = max(d for _, d in known)
    dated = list(items)
    for i, (item, row) in enumerate(zip(items, rows, strict=True)):
        if row.month_day is None:
            continue
        if row.url_date is not None:
            found = min(
                (d for d in (latest_on_or_before(row.month_day, row.url_date),
                             earliest_on_or_after(row.month_day, row.url_date)) if d),
                key=lambda d: abs(d - row.url_date), default=None)
        elif not newest_first:
            found = latest_on_or_before(row.month_day, newest)
        else:
            above = [d for j, d in known if j < i]
            below = [d for j, d in known if j > i]
            if above:
                found = latest_on_or_before(row.month_day, above[-1])
            else:
                found = earliest_on_or_after(row.month_day, below[0])
                if found is None or found > limit:
                    found = latest_on_or_before(row.month_day, limit)
        dated[i] = Item(item.title, item.url, found, item.pinned)
    return tuple(dated)


_Anchor = tuple[LexborNode, str, str, str, bool]
_LABEL_REPEATS = 3  # one link (text and target) this many times is a label beside items, not an item


def _title_anchors(links: list[LexborNode]) -> list[_Anchor]:
    """Links that look like item titles: (node, its raw text, title, href, title taken from the title attribute)."""
    found: list[_Anchor] = []
    for a in links[:MAX_ANCHORS]:
        attrs = a.attributes
        href = (attrs.get("href") or "").strip()
        scripted = not href or (href[0] in _SKIP_FIRST and href[:11].lower().startswith(_SKIP_HREF))
        if scripted:
            href = _script_target(href, attrs.get("onclick"))
            if href is None:
                continue
        raw = a.text(separator="\n")
        attr = attrs.get("title")
        if not attr and raw.strip(_DETAIL_STRIP) in _DETAIL_WORDS:  # the row's title is its text, not this link's
            if not found or not found[-1][2] or not _near(found[-1][0], a):  # not its row's title link's 详情
                found.append((a, raw, "", href, True))
            continue
        if len(raw) < MIN_TITLE and not attr:  # nav links: too short whatever squashing does
            continue
        text = " ".join(raw.split())
        attr = " ".join(attr.split()) if attr else ""
        from_attr = len(attr) > len(text.rstrip(".…")) and not LABEL.search(attr)  # a tooltip of fields: not a title
        title = attr if from_attr else text
        if len(title.strip("[]【】()（） ")) < MIN_TITLE or (not from_attr and _is_date_link(title)):
            continue  # too short for a title, or a row's date that is a link (<a href="">2020-09-29</a>)
        if scripted and not href:
            href = "#" + hashlib.sha1(title.encode()).hexdigest()[:12]  # its title is all that tells items apart
        if found and found[-1][3] == href:  # a picture list's image link and title link: one item
            if found[-1][4] and not from_attr:
                found[-1] = (a, raw, title, href, from_attr)
            continue
        found.append((a, raw, title, href, from_attr))
    return _without_labels(found)


def _is_date_link(title: str) -> bool:
    return len(title) <= _MAX_BOXED and title[:1].isdigit() and _is_date_piece(title)


def _without_labels(anchors: list[_Anchor]) -> list[_Anchor]:
    """Drop links repeated with one text and one target in many rows: a category tag or a source beside each
    item's title (<a href="/cat/">政策解读</a>), never an item (items differ in target or in title)."""
    seen = Counter((title, href) for _, _, title, href, _ in anchors if title)
    if seen.most_common(1)[0][1] < _LABEL_REPEATS if seen else True:
        return anchors
    return [a for a in anchors if seen[(a[2], a[3])] < _LABEL_REPEATS]


_QUOTED = re.compile(r"""['"]([^'"]*)['"]""")
_PLAIN_ARG = re.compile(r"[\w-]{1,64}")  # an item's id: showDetail('12345')


def _script_target(href: str, onclick: str | None) -> str | None:
    """Where a script link leads (href="javascript:…", or # with an onclick handler): the first quoted
    URL-like argument (openDetail('/xw/1.htm'), window.location='…'), else a fragment naming the item by its
    first plain argument (showDetail('12345')), else "" (a script link that names no target: the caller
    names the item by its title). None for links that are no item (mailto:, tel:, an in-page #anchor)."""
    lowered = href[:11].lower()
    if lowered.startswith(("mailto:", "tel:")) or (href.startswith("#") and not onclick):
        return None
    code = f"{unquote(href)} {onclick or ''}"
    plain = None
    for m in _QUOTED.finditer(code):
        arg = m.group(1).strip()
        if not arg or len(arg) > 500 or any(c.isspace() for c in arg):
            continue
        if "/" in arg or arg.endswith((".htm", ".html", ".shtml", ".jsp", ".php", ".asp", ".aspx")):
            return arg
        if _PLAIN_ARG.fullmatch(arg):
            plain = plain or arg
    return f"#{plain}" if plain else ""


def _squash(text: str) -> str:
    return " ".join(text.split())


def _absolute(base: str, href: str) -> str:
    """urljoin, with fast paths for the two shapes nearly every list uses (/x/y.html, ./x.html)."""
    if href.startswith(("http://", "https://")):
        return href
    if href.startswith("/") and not href.startswith("//"):
        scheme, netloc = urlsplit(base)[:2]
        return f"{scheme}://{netloc}{href}"
    rel = href[2:] if href.startswith("./") else href
    if rel and rel[0] not in "?#./" and ":" not in rel.split("/", 1)[0] and base.count("/") >= 3:
        return base.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[0] + "/" + rel
    return urljoin(base, href)


_Chain = tuple[tuple[int, ...], tuple[LexborNode, ...]]  # mem_ids and nodes, the node itself first


def _chain(node: LexborNode, memo: dict[int, _Chain]) -> _Chain:
    """The node and up to MAX_CLIMB ancestors below <body>.

    A node's chain is itself plus its parent's chain, cut. ``memo`` keeps every chain built, so links of
    one list climb their shared ancestors once (lexbor makes a new Python object on every .parent).
    """
    pending = []
    while True:
        mem_id = node.mem_id
        known = memo.get(mem_id)
        if known is not None:
            break
        pending.append((mem_id, node))
        parent = node.parent
        if parent is None or parent.tag in _TOP:
            known = ((), ())
            break
        node = parent
    ids, nodes = known
    for mem_id, node in reversed(pending):
        ids, nodes = (mem_id, *ids[:MAX_CLIMB]), (node, *nodes[:MAX_CLIMB])
        memo[mem_id] = (ids, nodes)
    return ids, nodes


def _candidates(links: list[LexborNode], column_names: str) -> tuple[list[_Candidate], dict[int, int]]:
    """Group title links by list: each link's row is its highest ancestor holding no other title link."""
    anchors = _title_anchors(links)
    memo: dict[int, _Chain] = {}
    chains = [_chain(anchor[0], memo) for anchor in anchors]
    counts: Counter[int] = Counter()
    for ids, _ in chains:
        counts.update(ids)
    groups: dict[int, _Candidate] = {}
    for (anchor, raw, title, href, from_attr), (ids, nodes) in zip(anchors, chains, strict=True):
        level = _climb(ids, counts, 1)
        if level is None:
            continue
        row_id, row = ids[level], nodes[level]
        cand = _group(groups, ids[level + 1], nodes[level + 1])
        if len(cand.rows) >= MAX_ROWS or row_id in cand.seen:
            continue
        if not title:  # a 查看详情 link: the row's own text names the item
            title = _row_title(row, raw)
            if not title:
                continue
            href = href or "#" + hashlib.sha1(title.encode()).hexdigest()[:12]
        cand.seen.add(row_id)
        cand.rows.append(_Row(title, href, anchor, raw, row, from_attr))
    _fold_pairs(groups, counts, memo, {anchor[0].mem_id: i for i, anchor in enumerate(anchors)})
    return _join_split(list(groups.values()), column_names), counts


def _group(groups: dict[int, _Candidate], node_id: int, node: LexborNode) -> _Candidate:
    """The candidate list whose container is this node, started if there is none yet."""
    found = groups.get(node_id)
    if found is None:
        found = groups[node_id] = _Candidate(node)
    return found


def _climb(ids: tuple[int, ...], counts: Counter[int], links: int) -> int | None:
    """How far up its chain of ancestors a link's row reaches: the highest level whose parent still holds only
    ``links`` links (the row's own); None when that is the top of the chain (no container above the row)."""
    level, top = 0, len(ids) - 1
    while level < top and counts[ids[level + 1]] == links:
        level += 1
    return None if level >= top else level


def _fold_pairs(
    groups: dict[int, _Candidate], counts: Counter[int], memo: dict[int, _Chain], order: dict[int, int]
) -> None:
    """Rows that hold a second link of another shape to another kind of page (an author or a source: a forum's
    <h3><a>title</a></h3> … <p><a>author</a> | 2021-4-1</p>) became two-row lists of their own, one per row;
    when at least three such blocks of one kind stand in the page, each is one row (its first link) of the
    list that holds them. Two links of one shape or to one kind of page (a two-column table's cells) stay two
    items."""
    twos = [(c, _kind(c.container)) for c in groups.values() if len(c.rows) == 2]
    kinds = Counter(kind for _, kind in twos)
    pairs = [c for c, kind in twos if kinds[kind] >= 3 and _secondary(c)]
    kinds = Counter(_kind(c.container) for c in pairs)
    moved = False
    for cand in pairs:
        if kinds[_kind(cand.container)] < 3:
            continue
        ids, nodes = _chain(cand.container, memo)
        level = _climb(ids, counts, 2)
        if level is None:
            continue
        row_id, row = ids[level], nodes[level]
        target = _group(groups, ids[level + 1], nodes[level + 1])
        if row_id in target.seen or len(target.rows) >= MAX_ROWS:
            continue
        first = max(cand.rows, key=lambda r: len(r.title))  # the title, not the author beside it
        target.seen.add(row_id)
        target.rows.append(_Row(first.title, first.href, first.anchor, first.anchor_text, row, first.title_from_attr))
        del groups[cand.container.mem_id]
        moved = True
    if moved:
        for cand in groups.values():
            cand.rows.sort(key=lambda r: order[r.anchor.mem_id])


def _secondary(cand: _Candidate) -> bool:
    """Two links of different shapes leading to different kinds of page (thread-1-1.html, space-uid-2.html)."""
    first, second = cand.rows
    return _href_kind(first.href) != _href_kind(second.href) and _shape(first.anchor, cand.container) != _shape(
        second.anchor, cand.container
    )


_DIGITS = re.compile(r"\d+")


def _href_kind(href: str) -> str:
    return "#" if href.startswith("#") else _DIGITS.sub("0", href.split("?", 1)[0])


def _shape(node: LexborNode, stop: LexborNode) -> tuple[tuple[str, str], ...]:
    shape = []
    while node is not None and node.mem_id != stop.mem_id and len(shape) < MAX_CLIMB:
        shape.append(_kind(node))
        node = node.parent
    return tuple(shape)


# Links that only say "details": in a row whose title is plain text (<b>司机</b> … <a>查看详情</a>).
_DETAIL_WORDS = frozenset(
    {"查看详情", "详情", "详细", "查看详细", "详细内容", "详细信息", "查看全文", "阅读全文", "了解详情"}
)
_DETAIL_STRIP = " \n\t\r[]【】()（）>»›+…."


def _near(first: LexborNode, second: LexborNode, levels: int = 3) -> bool:
    """Whether two links share an ancestor within ``levels`` of each: a title link and its row's 详情 link."""
    ups = set()
    node = first.parent
    for _ in range(levels):
        if node is None or node.tag in _TOP:
            break
        ups.add(node.mem_id)
        node = node.parent
    node = second.parent
    for _ in range(levels):
        if node is None or node.tag in _TOP:
            return False
        if node.mem_id in ups:
            return True
        node = node.parent
    return False


def _row_title(row: LexborNode, link_text: str) -> str:
    """The first piece of the row's text that is neither a date nor its details link: the item's title."""
    for piece in row.text(separator="\n").split("\n"):
        piece = piece.strip()
        if len(piece) >= 2 and piece != link_text.strip() and not _is_date_piece(piece):
            return _squash(piece)
    return ""


def _join_split(cands: list[_Candidate], column_names: str) -> list[_Candidate]:
    """Join lists split over sibling blocks of one kind: <ul class="list"> every five rows, one <table> per page
    section, or a column page listing its sub-columns, each block under a heading of one kind. A block whose
    heading names the column (it is in the page's title) is the column's own list, and a box holding its own
    heading (a portal's) is another list: those stay apart."""
    joined: list[_Candidate] = []
    for cand in cands:
        prev = joined[-1] if joined else None
        if prev is not None and _kind(cand.container) == _kind(prev.container):
            last, block = _block(prev.tail or prev.container), _block(cand.container)
            if _kind(last) == _kind(block) and _adjacent(_block(prev.container), last, block, column_names):
                prev.rows.extend(cand.rows[: max(0, MAX_ROWS - len(prev.rows))])
                prev.tail = cand.container
                continue
        joined.append(cand)
    return joined


def _block(container: LexborNode) -> LexborNode:
    """The container with the wrappers that hold nothing else (<div class="box"><ul>…</ul></div>)."""
    node = container
    for _ in range(2):
        parent = node.parent
        if parent is None or parent.tag in _TOP or _element_count(parent) != 1:
            break
        node = parent
    return node


_NOT_CONTENT = frozenset({"-comment", "script", "style", "noscript"})


def _element_count(node: LexborNode) -> int:
    """Element children other than scripts and styles, counting no further than 2."""
    count = 0
    for child in node.iter(include_text=False):
        if child.tag not in _NOT_CONTENT:
            count += 1
            if count > 1:
                break
    return count


def _kind(node: LexborNode) -> tuple[str, str]:
    return node.tag, node.attributes.get("class") or ""


_MAX_HEADING = 30  # characters of a sub-list's heading
_MAX_BETWEEN = 12  # separators, headings and empty sub-lists between two joined blocks


def _adjacent(first: LexborNode, last: LexborNode, block: LexborNode, column_names: str) -> bool:
    """Whether ``block`` follows ``last`` (the latest of blocks joined from ``first``) with only blank separators
    (<div class="line"></div>, <hr>, an empty sub-list) between them, or headings of the one kind that also
    heads ``first``: short, not naming the column, not a sidebar's (热点, 相关 …)."""
    heading = _heading_kind(first.prev, column_names)
    node = last.next
    elements = 0
    while node is not None and elements <= _MAX_BETWEEN:
        if node.mem_id == block.mem_id:
            return True
        if node.tag == "-text":
            if (node.text_content or "").strip():
                return False
        elif node.tag not in _NOT_CONTENT:
            elements += 1
            if _squash(node.text() or "") and (heading is None or _heading_kind(node, column_names) != heading):
                return False
        node = node.next
    return False


def _heading_kind(node: LexborNode | None, column_names: str) -> tuple[str, str] | None:
    """The kind of the element ``node`` (or the nearest element before it) when it reads as a sub-list's
    heading."""
    while node is not None and node.tag in ("-text", "-comment"):
        node = node.prev
    if node is None:
        return None
    text = _squash(node.text() or "")
    if len(text) > _MAX_HEADING or (text and text in column_names) or _SIDE_HEADING.search(text):
        return None
    return _kind(node)


def _read_dates(cand: _Candidate, page: _Page) -> None:
    if cand.dates_read:
        return
    cand.dates_read = True
    for row in cand.rows:
        segment = _title_segment(row.anchor, row.anchor_text, page.today)
        if not row.title_from_attr:
            row.title = _squash(segment) or row.title
        row_text = row.anchor_text if row.node is row.anchor else row.node.text(separator="\n")
        _row_date(row, row_text, segment, page)


def _row_date(row: _Row, row_text: str, title_text: str, page: _Page) -> None:
    """The row's date: its own (labelled, or standing alone in an element) outside the title, else one ending
    the title (picture lists), else one just after the row, else the URL's, else one in its summary."""
    rest = row_text.replace(title_text, "\n", 1) if title_text else row_text
    own, prose = _own_date(rest, lambda: _date_elements(row.node))
    if own is None:
        own = _title_end_date(title_text)
    if own is None:
        own, _ = _own_date(_trailing_text(row.node, page.link_counts))
    if own is None:
        own = _tooltip_date(row.anchor)
    if own is None:
        own = _relative_date(row.node)
    row.url_date = date_from_url(row.href)
    if own is None and row.url_date is None:
        own = prose
    _set_date(row, own, page.today)


def _set_date(row: _Row, found: Hit | date | None, today: date) -> None:
    """Date the row with what was found, else its URL's date; a year-less date is marked for _date_yearless."""
    if isinstance(found, date) or found is None:
        row.date = found or row.url_date
        return
    row.date = hit_date(found, today)
    if found[0] is None:
        row.month_day = (found[1], found[2])


def _tooltip_date(anchor: LexborNode) -> Hit | None:
    """A labelled date in the link's title tooltip (PowerEasy: 文章标题：…\n作者：…\n更新时间：2015/3/4 17:26:54)."""
    tip = anchor.attributes.get("title")
    label = LABEL.search(tip) if tip else None
    if label is None:
        return None
    hits = scan_dates(tip[label.end() :])
    return hits[0] if hits else None


_RELATIVE = re.compile(r"\s*(?:\d+\s*(?:秒|分钟|小时|天|周)前|半小时前|刚刚|今天|昨天|前天)")


def _relative_date(row: LexborNode) -> Hit | None:
    """A relative time whose element keeps the date in its tooltip (Discuz: <span title="2021-4-29">2 小时前</span>):
    the tooltip dates the row, whatever day the page is read."""
    for node in row.css("[title]"):
        if _RELATIVE.match(node.text()):
            hits = scan_dates(node.attributes.get("title") or "")
            if hits:
                return hits[0]
    return None


_DATE_NOISE = re.compile(r"[\s\d:：\[\]【】()（）<>〔〕{}|/·.,，、-]+")
_MAX_DATE_WORDS = 8  # 发布时间 / 更新日期 / 星期三: what a date's own element says beside the date


def _own_date(text: str, boxed: Callable[[], set[str]] | None = None) -> tuple[Hit | date | None, Hit | None]:
    """The date ``text`` (a row's text outside its title, text nodes split by newlines) gives as the row's
    own, and failing that the first found in longer prose (a summary: full dates first).

    A labelled date (发布时间：…) wins, then one standing in its own element with little beside it, full
    dates before year-less ones, then a day and a year-month split across elements. When several full
    dates stand alone on their lines, one that is an element's whole text (<span>2020-06-17</span>) is the
    row's rather than a line of a summary (…<br>2019年12月30日……</p>): ``boxed`` gives those texts.
    """
    hits = scan_dates(text)
    if not hits:
        return split_date(text), None
    if len(hits) > 1:
        label = LABEL.search(text)
        if label:
            for hit in hits:
                if hit[3] >= label.end():
                    return hit, None
    alone = [hit for hit in hits if _stands_alone(text, hit)]
    if boxed is not None and sum(hit[0] is not None for hit in alone) > 1:
        wholes = boxed()
        first = [hit for hit in alone if _line(text, hit) in wholes]
        alone = first + [hit for hit in alone if hit not in first]
    for group in (alone, hits):
        for hit in group:
            if hit[0] is not None:
                return (hit, None) if group is alone else (None, hit)
        if group:
            return (group[0], None) if group is alone else (None, group[0])
    return None, None


def _line(text: str, hit: Hit) -> str:
    start = text.rfind("\n", 0, hit[3]) + 1
    end = text.find("\n", hit[4])
    return text[start : end if end >= 0 else len(text)].strip()


def _date_elements(row: LexborNode) -> set[str]:
    """The short whole texts of the row's elements that hold a digit: where a date may sit boxed alone."""
    texts = set()
    for node in row.traverse(include_text=False):
        text = node.text().strip()
        if len(text) <= _MAX_BOXED and _MAY_HAVE_DIGIT.search(text):
            texts.add(text)
    return texts


_MAX_BOXED = 40


def _stands_alone(text: str, hit: Hit) -> bool:
    start = text.rfind("\n", 0, hit[3]) + 1
    end = text.find("\n", hit[4])
    piece = text[start : hit[3]] + " " + text[hit[4] : end if end >= 0 else len(text)]
    return len(_DATE_NOISE.sub("", piece)) <= _MAX_DATE_WORDS


_MAY_HAVE_DIGIT = re.compile(r"\d")


def _is_date_piece(piece: str) -> bool:
    """Whether a text node (of a link or a row) is a date and little else: <span>2024-03-10</span>."""
    hits = scan_dates(piece)
    return len(hits) == 1 and _stands_alone(piece, hits[0])


_TITLE_END_OPEN = frozenset(" (（[【〔\u3000")


def _title_end_date(title: str) -> Hit | None:
    """A date closing the title, alone or in brackets: 活动剪影（2023-05-12）. Dates inside a title
    (关于2023年5月1日放假的通知) are not the item's."""
    hits = scan_dates(title)
    if not hits:
        return None
    hit = hits[-1]
    if title[hit[4] :].strip(" )）]】〕\u3000\n"):
        return None
    before = title[: hit[3]].rstrip("\n")
    return hit if before and before[-1] in _TITLE_END_OPEN else None


def _title_segment(anchor: LexborNode, whole: str, today: date) -> str:
    """The part of the link's text ``whole`` that is the title: a link may also wrap its date (before or after
    the title) and even a summary — then the title is its first text of title length beside the date."""
    if _MAY_HAVE_DIGIT.search(whole) and "\n" in whole.strip():
        pieces = whole.split("\n")
        if any(_is_date_piece(piece) for piece in pieces):
            title = next((p for p in pieces if len(p.strip()) >= MIN_TITLE and not _is_date_piece(p)), None)
            if title is not None:
                return title
    best = ""
    for child in anchor.iter(include_text=False):
        text = child.text(separator="\n")
        if len(text.strip()) > len(best.strip()):
            best = text
    if best and parse_date(whole.replace(best, " ", 1), today) is not None:
        return best
    return whole


def _trailing_text(row: LexborNode, counts: dict[int, int]) -> str:
    """Text after the row up to the next row: dates kept in a following <dd> or after a <br>."""
    parts = []
    node = row.next
    for _ in range(4):
        if node is None or node.mem_id in counts:
            break
        if node.tag == "-text":
            parts.append(node.text_content or "")
        elif node.tag in _STOP_TAGS:
            break
        else:
            parts.append(node.text(separator=" "))
        node = node.next
    return "\n".join(parts)


def _is_pinned(row: LexborNode) -> bool:
    """置顶 marks: the word, a top/zd class, or a top.gif-like icon."""
    html = row.html or ""
    lowered = html.lower()
    return any(hint in lowered for hint in _PIN_HINTS) and bool(_PINNED.search(html))


def _ancestors(node: LexborNode) -> Iterator[LexborNode]:
    while node is not None and node.tag not in ("html", "-document"):
        yield node
        node = node.parent


def _score(cand: _Candidate, page: _Page) -> float:
    return sum(_score_parts(cand, page).values())


def _score_parts(cand: _Candidate, page: _Page) -> dict[str, float]:
    """What a candidate list scores for: rows and dated rows (on a log scale, so that a longer sidebar does
    not beat the column's own list by length alone), short titles (a menu: the rest counts a fifth), a
    heading naming the column, main-ish classes, a Hanweb data island, pagination, URLs under the column."""
    rows = cand.rows
    parts = {"rows": 10 * math.log2(1 + len(rows)), "dated": 20 * math.log2(1 + cand.dated)}
    if _mean_title(cand) < 8:
        parts["short_titles"] = -0.8 * (parts["rows"] + parts["dated"])
    heading = _heading(cand.container)
    if 2 <= len(heading) <= 20 and heading in page.title:
        parts["heading"] = 40
    classes = " ".join(_ident(a, page.idents) for a in _ancestors(cand.container))
    if _MAIN.search(classes):
        parts["main_class"] = 5
    if "govwatch-datastore" in classes:
        parts["datastore"] = 60
    if _has_pager(cand.tail or cand.container):
        parts["pager"] = 20
    if _share_directory(rows, page.url):
        parts["column_urls"] = 25
    return parts


def _has_pager(container: LexborNode) -> bool:
    """Pagination (createPageHTML, 下一页, 共N页) right after the list or after its wrapper."""
    for start in (container, container.parent):
        node = start.next if start is not None else None
        for _ in range(4):
            if node is None:
                break
            if node.tag != "-text" and _PAGER.search(node.html or ""):
                return True
            node = node.next
    return False


def _mean_title(cand: _Candidate) -> float:
    return sum(len(r.title) for r in cand.rows) / max(len(cand.rows), 1)


def _ident(node: LexborNode, cache: dict[int, str]) -> str:
    """The node's id and class; ``cache`` (by mem_id) spares re-reading ancestors shared by many lists."""
    mem_id = node.mem_id
    ident = cache.get(mem_id)
    if ident is None:
        attrs = node.attributes
        ident = cache[mem_id] = f"{attrs.get('id') or ''} {attrs.get('class') or ''}".strip()
    return ident


def _is_side(container: LexborNode, page: _Page) -> bool:
    if _in_side_block(container, page):
        return True
    text = _heading(container)
    # "最新政策" may be the column's own name; a hot-list heading is not in the page title.
    return len(text) < 40 and bool(_SIDE_HEADING.search(text)) and text not in page.title


def _in_side_block(node: LexborNode, page: _Page) -> bool:
    """Whether the node or an ancestor is an aside/nav/header/footer or has a sidebar-like id or class.

    The answer is cached for every node on the way up, so lists sharing ancestors climb once.
    """
    path: list[int] = []
    found = False
    while node is not None and node.tag not in ("html", "-document"):
        mem_id = node.mem_id
        if mem_id in page.sides:
            found = page.sides[mem_id]
            break
        path.append(mem_id)
        if node.tag in _SIDE_TAGS or (_SIDE.search(_ident(node, page.idents)) and node.css_first("h1") is None):
            found = True  # a block named like a sidebar that holds the page's <h1> is its main column (left_side)
            break
        node = node.parent
    for mem_id in path:
        page.sides[mem_id] = found
    return found


def _heading(container: LexborNode) -> str:
    """The text of the element just before the list, or before its wrapper (its title bar)."""
    for start in (container, container.parent):
        node = start.prev if start is not None else None
        while node is not None and node.tag in ("-text", "-comment"):
            node = node.prev
        if node is not None:
            return _squash(node.text())
    return ""


def _share_directory(rows: list[_Row], url: str) -> bool:
    """Whether most items live under the column's own directory (TRS, Hanweb)."""
    base = urlsplit(url)
    directory = base.path.rsplit("/", 1)[0] + "/"
    if directory == "/":
        return False
    prefix = f"{base.scheme}://{base.netloc}{directory}"
    inside = sum(1 for r in rows if _under(r.href, directory, prefix))
    return inside * 10 >= len(rows) * 6


def _under(href: str, directory: str, prefix: str) -> bool:
    if href.startswith(("http://", "https://")):
        return href.startswith(prefix)
    if href.startswith("/"):
        return href.startswith(directory)
    return not href.startswith("..")


def _signature(container: LexborNode, idents: dict[int, str]) -> str:
    """Tag path with ids and classes of the container's ancestors, hashed: stable across items."""
    path = []
    for node in _ancestors(container):
        ident = _ident(node, idents).replace(" ", ".")
        path.append(f"{node.tag}#{ident}" if ident else node.tag)
    joined = ">".join(reversed(path))
    return f"{container.tag}:" + hashlib.sha1(joined.encode()).hexdigest()[:12]


# --- an operator's override, and why detection chose what it chose -----------------------


def extract_selected(text: str, url: str, today: date, override: Override) -> ListResult:
    """Read the list an operator's override points at (see monitor.list_override). Never raises."""
    try:
        return _read_selected(_parse(text[:MAX_TEXT]), url, today, override)
    except Exception:  # a selector the parser refuses, or hostile input: unreadable, never a crash
        return ListResult(None, reason=EmptyReason.NO_LIST)


def _read_selected(tree: LexborHTMLParser, url: str, today: date, override: Override) -> ListResult:
    nodes = tree.css(override.rows)[:MAX_ROWS]
    signature = "select:" + hashlib.sha1(override.as_parser().encode()).hexdigest()[:12]
    page = _Page(url, today, "", {})
    rows = [row for row in map(_selected_row, nodes) if row is not None]
    if not rows:
        return ListResult(None, reason=EmptyReason.NO_LIST, signature=signature)
    cand = _Candidate(rows[0].node.parent or rows[0].node, rows)
    if override.date is None:
        _read_dates(cand, page)
    else:
        cand.dates_read = True
        for row in rows:
            row.url_date = date_from_url(row.href)  # evidence for year-less dates only: the operator said where
            found = _selected_date(row.node, override)
            if found is not None:
                _set_date(row, found, today)
    result = _result(cand, page)
    return ListResult(result.newest_date, result.items, result.reason, signature)


def _selected_row(node: LexborNode) -> _Row | None:
    """A row picked by the operator: its title link (the longest title) or, without one, the row itself (a link
    by script, <tr onclick=…>, or plain text named by its title)."""
    anchors = _title_anchors([node] if node.tag == "a" else node.css("a")) or _title_anchors([node])
    if not anchors:
        return None
    anchor, raw, title, href, from_attr = max(anchors, key=lambda a: len(a[2]))
    return _Row(title, href, anchor, raw, node, from_attr)


def _selected_date(row: LexborNode, override: Override) -> Hit | date | None:
    regex = override.date_regex
    if regex is not None:
        m = regex.search(row.text(separator=" "))
        text = (m.group(1) if m and m.lastindex else m.group(0) if m else "") or ""
    else:
        holder = row.css_first(override.date or "")
        text = holder.text(separator="\n") if holder is not None else ""
    if override.date_format:
        return hit_by_format(text, override.date_format)
    own, prose = _own_date(text)
    return own or prose


# What a candidate's score is made of, for the operator (govwatch probe --explain).
SCORE_PARTS = {
    "rows": "行数", "dated": "有日期的行", "short_titles": "标题过短（像导航）", "heading": "标题栏与栏目名相同",
    "main_class": "位于正文区域", "datastore": "大汉数据岛", "pager": "后接分页", "column_urls": "链接在栏目目录下",
}


@dataclass(frozen=True, slots=True)
class CandidateReport:
    """One candidate list of a page as detection saw it."""

    rows: int
    dated: int
    newest: date | None
    score: float
    parts: dict[str, float]  # keys of SCORE_PARTS
    side: bool  # in a sidebar, navigation, hot list or footer: considered only when no other list is dated
    chosen: bool
    selector: str | None  # CSS selector of its rows, when one picks them
    titles: tuple[str, ...]  # its first rows
    dates: tuple[date | None, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    result: ListResult
    candidates: tuple[CandidateReport, ...]  # best first: the chosen one, then by score
    suggestion: Override | None  # an override that reads the chosen (or most list-like) candidate


EXPLAIN_TOP = 8  # candidates reported


def explain_list(text: str, url: str, today: date) -> Explanation:
    """Detection's reading of an HTML list page with every candidate list, its score and why, and an
    override that reads the chosen list (or, when none was chosen, the most list-like one). A JSON list API
    has no candidates to compare: its reading alone."""
    if text.lstrip()[:1] in ("{", "["):
        return Explanation(extract_list(text, url, today, "application/json"), (), None)
    reading = _read_html(text[:MAX_TEXT], url, today)
    page = reading.page
    scored = []
    for cand in reading.mains + reading.sides:
        _read_dates(cand, page)
        scored.append((cand is reading.chosen, _score(cand, page), cand))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    reports = []
    for chosen, score, cand in scored[:EXPLAIN_TOP]:
        result = _result(cand, page)
        rows = _candidate_rows(cand)
        reports.append(CandidateReport(
            len(cand.rows), cand.dated, result.newest_date, round(score, 1), _score_parts(cand, page),
            cand in reading.sides, chosen, rows_selector(reading.tree, rows),
            tuple(i.title for i in result.items[:3]), tuple(i.date for i in result.items[:5]),
        ))
    target = reading.chosen or next((c for _, _, c in scored if c in reading.mains), None)
    suggestion = _suggest(reading, target) if target is not None else None
    return Explanation(reading.result, tuple(reports), suggestion)


_SUGGEST_FOR = (EmptyReason.NO_LIST, EmptyReason.NO_DATES)


def with_suggestion(result: ListResult, text: str, url: str, today: date) -> ListResult:
    """``result`` with the override that would read the page's most list-like candidate, when detection read
    no list or no dates from an HTML page (an operator fixes the column with it). Never raises."""
    if result.newest_date is not None or result.reason not in _SUGGEST_FOR or text.lstrip()[:1] in ("{", "["):
        return result
    try:
        suggestion = explain_list(text, url, today).suggestion
    except Exception:  # hostile input: no suggestion, the result stands
        return result
    return replace(result, suggestion=suggestion.as_yaml()) if suggestion else result


def _candidate_rows(cand: _Candidate) -> list[LexborNode]:
    return [row.node for row in cand.rows]


def _suggest(reading: _Reading, cand: _Candidate) -> Override | None:
    """An override reading ``cand`` as detection does: its rows' selector and, when most rows keep their date
    in one element, that element's selector (checked against the page)."""
    selector = rows_selector(reading.tree, _candidate_rows(cand))
    if selector is None:
        return None
    page = reading.page
    want = _result(cand, page).newest_date
    written = []
    for row in cand.rows:
        text = row.node.text(separator="\n")
        for hit in scan_dates(text):
            if row.date is not None and hit_date(hit, page.today) == row.date:
                written.append((row.node, text[hit[3] : hit[4]]))
                break
    date_css = date_selector(written) if written else None
    tries = (Override(selector, date_css), Override(selector)) if date_css else (Override(selector),)
    for override in tries:
        if _read_selected(reading.tree, page.url, page.today, override).newest_date == want:
            if want is None:  # no date read: one written in a way detection does not take, if one fits
                return _with_date_format(override, cand, page.today) or override
            return override
    return None


# Ways of writing a date that detection does not read as one (the day or month first is ambiguous to it, a
# bare 20261120 is as likely a number); the operator's date_format settles it.
_GUESSED_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y%m%d")


def _with_date_format(override: Override, cand: _Candidate, today: date) -> Override | None:
    """``override`` with the element in each row holding a date in one of _GUESSED_FORMATS, when exactly one
    format reads every such element as a date not after tomorrow."""
    found = number_cells([row.node for row in cand.rows])
    if found is None:
        return None
    cell, texts = found
    limit = today + timedelta(days=1)
    fitting = []
    for fmt in _GUESSED_FORMATS:
        hits = [hit_by_format(text, fmt) for text in texts]
        dates = [hit_date(h, today) for h in hits if h is not None and h[0] is not None]
        if len(dates) == len(texts) and all(d is not None and d <= limit for d in dates):
            fitting.append(fmt)
    return Override(override.rows, cell, fitting[0]) if len(fitting) == 1 else None


# --- JSON -------------------------------------------------------------------------------

# Hints in order of preference: an exact key name wins over a key merely containing a hint.
_TITLE_KEYS = ("title", "subject", "biaoti", "bt", "name")
_DATE_KEYS = ("pubdate", "publishtime", "publish", "release", "pub", "date", "time", "rq", "sj", "created", "modified")
_URL_KEYS = ("url", "link", "href", "path")
_NOT_URL = ("img", "pic", "thumb", "cover", "icon", "logo", "video", "file")


def _extract_json(text: str, url: str, today: date) -> ListResult | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    best: tuple[int, str, list[dict]] | None = None
    for key_path, array in _arrays(data):
        flat = [_flatten(o) for o in array[:MAX_ROWS] if isinstance(o, dict)]
        score = sum(1 for o in flat if _pick(o, _TITLE_KEYS) and _pick(o, _DATE_KEYS))
        if score and (best is None or score > best[0]):
            best = (score, key_path, flat)
    signature = None
    if best is None:
        return ListResult(None, reason=EmptyReason.EMPTY if _has_empty_array(data) else EmptyReason.NO_LIST)
    _, key_path, flat = best
    signature = "json:" + hashlib.sha1(key_path.encode()).hexdigest()[:12]
    items = tuple(_json_item(o, url, today) for o in flat)
    limit = today + timedelta(days=1)
    dates = [i.date for i in items if i.date and i.date <= limit]
    if not dates:
        return ListResult(None, items, EmptyReason.NO_DATES, signature)
    return ListResult(max(dates), items, None, signature)


def _arrays(data: object) -> Iterator[tuple[str, list]]:
    """Every list of objects in the document with its key path, breadth-first, bounded."""
    queue: list[tuple[str, object, int]] = [("$", data, 0)]
    visited = 0
    while queue and visited < 5000:
        path, node, depth = queue.pop(0)
        visited += 1
        if isinstance(node, list):
            if node and isinstance(node[0], dict):
                yield path, node
            children = [(f"{path}[]", v) for v in node[:3]]
        elif isinstance(node, dict):
            children = [(f"{path}.{k}", v) for k, v in node.items()]
        else:
            continue
        if depth < 6:
            queue.extend((p, v, depth + 1) for p, v in children if isinstance(v, dict | list))


def _has_empty_array(data: object) -> bool:
    if isinstance(data, list):
        return not data
    if isinstance(data, dict):
        return any(_has_empty_array(v) for v in data.values() if isinstance(v, list | dict))
    return False


def _flatten(obj: dict, prefix: str = "", depth: int = 0) -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in obj.items():
        if isinstance(value, dict) and depth < 2:
            flat.update(_flatten(value, f"{prefix}{key}.", depth + 1))
        elif not isinstance(value, list | dict):
            flat[f"{prefix}{key}"] = value
    return flat


def _pick(obj: dict[str, object], hints: tuple[str, ...], avoid: tuple[str, ...] = ()) -> object:
    """The value of the best-matching key: exact names first, then names containing a hint."""
    leaves = [
        (key.rsplit(".", 1)[-1].lower(), value)
        for key, value in obj.items()
        if value not in (None, "") and not any(a in key.lower() for a in avoid)
    ]
    for exact in (True, False):
        for hint in hints:
            for leaf, value in leaves:
                if leaf == hint if exact else hint in leaf:
                    return value
    return None


def _json_item(obj: dict[str, object], url: str, today: date) -> Item:
    title = _squash(str(_pick(obj, _TITLE_KEYS) or ""))
    link = _pick(obj, _URL_KEYS, _NOT_URL)
    href = urljoin(url, str(link)) if link else url
    return Item(title, href, _json_date(_pick(obj, _DATE_KEYS), today) or date_from_url(href))


def _json_date(value: object, today: date) -> date | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return epoch_date(value)
    if isinstance(value, str):
        return parse_date(value, today)
    return None
