"""Policy documents and their interpretations (政策解读): a document that needs one gets it within 3 working
days of its own date (seeds 001 and 003). The rules are pure (at the top); the check (``InterpretationCheck``,
at the bottom) reads the stored items of a site's columns and, for those still unmatched, their pages' links.

Documents are the items of a site's 政策文件 columns; interpretations are the items of its 政策解读 column
and any item whose title says 解读 / 图解 / 一图读懂 / 答记者问. A document is matched to an interpretation
by a link between them (the interpretation's page links the document), by the title the interpretation
quotes (《关于…的通知》政策解读), or by the similarity of their normalized titles — the issuer, 关于,
印发, 的通知, document numbers and the interpretation words taken away, with numbers (years, editions)
required to agree. Not every document needs an interpretation: ``Selection`` chooses by title.

A document older than the oldest item govwatch has seen in the 政策解读 column is not judged: its
interpretation may be on a page govwatch never read, so a column just added gives no false finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from rapidfuzz import fuzz
from selectolax.lexbor import LexborHTMLParser

from monitor.checks.base import Context, Fetch, Subject
from monitor.checks.honest import SeenItem
from monitor.checks.page.external import absolute
from monitor.durations import add_months
from monitor.evaluate import TZ
from monitor.findings import Finding, quoted
from monitor.model import State, TargetKind
from monitor.workdays import UnknownCalendarYear, WorkCalendar, deadline_state, default_calendar

if TYPE_CHECKING:
    from monitor.config import InterpretationSelect, Inventory

log = structlog.get_logger()

CHECK = "interpretation"
DEADLINE_WORKDAYS = 3
YELLOW_WORKDAY = 3  # yellow on the 3rd working day, red after it
EARLY_DAYS = 7  # an interpretation may be dated this much before its document (released together)
SIMILARITY = 90  # rapidfuzz ratio of the normalized titles for a match by title
MIN_CONTAINED = 8  # a normalized title this long found inside the other one is a match
MAX_LINKED = 2  # a page linking more of the candidates than this is a list (a sidebar), not a reference

_INTERPRETATION_WORDS = "解读|图解|一图读懂|一图看懂|图说|答记者问|政策问答|吹风会"
INTERPRETATION_TITLE = re.compile(_INTERPRETATION_WORDS)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which documents need an interpretation: the title matches ``include``, not ``exclude``, and (when set)
    the issuer — the part before 关于 — matches ``issuer`` (e.g. ``人民政府(?:办公室)?``)."""

    include: str = r"通知|意见|办法|规定|方案|细则|决定|措施|条例|规划"
    exclude: str = (r"转发|转载|任免|任职|免职|人事|聘任|聘用|招聘|录用|公示|名单|表彰|通报|会议|讲话|"
                    r"答复|批复|放假|解读|图解")
    issuer: str | None = None

    def needs(self, title: str) -> bool:
        if not re.search(self.include, title) or re.search(self.exclude, title):
            return False
        if self.issuer is None:
            return True
        head = title.split("关于", 1)[0] if "关于" in title else title
        return re.search(self.issuer, head) is not None

    @classmethod
    def from_config(cls, model: InterpretationSelect | None) -> Selection:
        if model is None:
            return cls()
        chosen = {k: v for k, v in (("include", model.include), ("exclude", model.exclude),
                                    ("issuer", model.issuer)) if v is not None}
        return replace(cls(), **chosen)


@dataclass(frozen=True, slots=True)
class Judgement:
    document: SeenItem
    issued: date
    deadline: date  # the last working day for its interpretation
    interpretation: SeenItem | None
    how: str  # "link", "quoted", "title"; "" when none was found
    state: State  # without interpretation: YELLOW on the deadline day, RED after it; else GREEN
    late: bool  # the interpretation came after the deadline


def is_interpretation(title: str) -> bool:
    return INTERPRETATION_TITLE.search(title) is not None


def issued(item: SeenItem) -> date:
    """An item's date: as the page claims it, else the day govwatch first saw it."""
    return item.date or item.first_seen.astimezone(TZ).date()


_QUOTED = re.compile(r"《([^《》]{4,})》")
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{0,8}[〔\[［（(【]\s*(?:19|20)\d{2}\s*[〕\]］）)】]\s*第?\s*\d+\s*号")
_MARKERS = re.compile(f"政策解读|{_INTERPRETATION_WORDS}|新闻发布会|文字版|视频版")  # words a title drops for matching
_NOT_WORD = re.compile(r"[\W_]+")
_HEAD = re.compile(r"^(?:印发|发布|出台|公布|修订)")
_TAIL = re.compile(r"的?(?:通知|通告|公告)$")
_NUMBER = re.compile(r"\d+")


def core(title: str) -> str:
    """A title reduced to what a document and its interpretation share: no issuer, 关于, 印发, 的通知,
    document number, interpretation words or punctuation."""
    text = _DOC_NUMBER.sub("", title)
    if "关于" in text:
        text = text.split("关于", 1)[1]
    text = _NOT_WORD.sub("", _MARKERS.sub("", text))
    text = _TAIL.sub("", _HEAD.sub("", text))
    return text.removesuffix("的")


def _quoted(title: str) -> set[str]:
    return {c for c in (core(q) for q in _QUOTED.findall(title)) if c}


def _bare_url(url: str) -> str:
    return url.split("#", 1)[0].split("://", 1)[-1].rstrip("/")


def _linked(
    docs: Sequence[SeenItem], interps: Sequence[SeenItem], links: Mapping[str, frozenset[str]],
) -> set[tuple[str, str]]:
    """(document, interpretation) URL pairs one's page links to the other (原文链接, 相关解读). A page that
    links several candidates is listing them (最新文件, 热点解读) and says nothing about either."""
    doc_urls = {_bare_url(d.url) for d in docs}
    interp_urls = {_bare_url(i.url) for i in interps}
    pairs: set[tuple[str, str]] = set()
    for page, targets in links.items():
        page = _bare_url(page)
        bare = {_bare_url(u) for u in targets}
        if page in interp_urls and len(hit := bare & doc_urls) <= MAX_LINKED:
            pairs |= {(d, page) for d in hit}
        if page in doc_urls and len(hit := bare & interp_urls) <= MAX_LINKED:
            pairs |= {(page, i) for i in hit}
    return pairs


def _match(doc: SeenItem, doc_keys: set[str], interp: SeenItem, linked: set[tuple[str, str]]) -> tuple[str, float]:
    """How an interpretation matches a document, and how well (0: not at all)."""
    if (_bare_url(doc.url), _bare_url(interp.url)) in linked:
        return "link", 300.0
    if _quoted(interp.title) & doc_keys:
        return "quoted", 200.0
    mine = core(interp.title)
    best = 0.0
    for key in doc_keys:
        if not key or not mine or set(_NUMBER.findall(key)) != set(_NUMBER.findall(mine)):
            continue
        short, long = sorted((key, mine), key=len)
        if short == long or (len(short) >= MIN_CONTAINED and short in long):
            return "title", 200.0 - 1  # as good as quoted, but a quoted title wins a tie
        best = max(best, fuzz.ratio(key, mine, score_cutoff=SIMILARITY))
    return ("title", 100.0 + best) if best else ("", 0.0)


def match(
    docs: Sequence[SeenItem], interps: Sequence[SeenItem], links: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, tuple[SeenItem, str]]:
    """Per document URL, its earliest interpretation and how it was matched. Each interpretation goes to the
    document it matches best (dated not more than EARLY_DAYS after it)."""
    linked = _linked(docs, interps, links or {})
    keys = {d.url: {core(d.title)} | _quoted(d.title) for d in docs}
    found: dict[str, tuple[SeenItem, str]] = {}
    for interp in interps:
        best: tuple[float, SeenItem, str] | None = None
        for doc in docs:
            if issued(interp) < issued(doc) - timedelta(days=EARLY_DAYS):
                continue
            how, score = _match(doc, keys[doc.url], interp, linked)
            if score and (best is None or score > best[0]):
                best = (score, doc, how)
        if best is None:
            continue
        _, doc, how = best
        known = found.get(doc.url)
        if known is None or issued(interp) < issued(known[0]):
            found[doc.url] = (interp, how)
    return found


def judge(
    docs: Iterable[SeenItem], interps: Sequence[SeenItem], today: date, cal: WorkCalendar,
    covered_from: date | None, selection: Selection = Selection(),
    links: Mapping[str, frozenset[str]] | None = None,
) -> list[Judgement]:
    """Every document that needs an interpretation, issued from ``covered_from`` (the oldest date seen in the
    interpretation column; None: nothing is covered) up to today. Documents whose deadline needs a year no
    calendar knows are left out (and logged)."""
    if covered_from is None:
        return []
    wanted = [d for d in docs if not is_interpretation(d.title) and selection.needs(d.title)
              and covered_from <= issued(d) <= today]
    matched = match(wanted, interps, links)
    out = []
    for doc in wanted:
        day = issued(doc)
        try:
            deadline = cal.add_workdays(day, DEADLINE_WORKDAYS)
            yellow_from = cal.add_workdays(day, YELLOW_WORKDAY)
        except UnknownCalendarYear as exc:
            log.error("interpretation_deadline_unknown_year", year=exc.year, title=doc.title, detail=str(exc))
            continue
        interp, how = matched.get(doc.url, (None, ""))
        if interp is not None:
            out.append(Judgement(doc, day, deadline, interp, how, State.GREEN, issued(interp) > deadline))
            continue
        state = deadline_state(today, yellow_from, deadline)
        out.append(Judgement(doc, day, deadline, None, "", state, False))
    return out


_HOW = {"link": "页面链接", "quoted": "引用标题", "title": "标题相近"}


def findings(site_id: str, unit_id: str, judgements: Iterable[Judgement]) -> list[Finding]:
    """Documents still without an interpretation on their 3rd working day (yellow) and after it (red), and
    interpretations published late (yellow)."""
    out = []
    for j in judgements:
        doc = j.document
        evidence: dict[str, Any] = {"document": doc.title, "document_url": doc.url, "issued": j.issued.isoformat(),
                                    "deadline": j.deadline.isoformat()}
        if j.interpretation is None and j.state is not State.GREEN:
            red = j.state is State.RED
            title = (f"政策文件超期未解读：{quoted(doc.title)}" if red
                     else f"政策文件今日须发布解读：{quoted(doc.title)}")
            when = f"期限 {j.deadline} 已过" if red else f"今天（{j.deadline}）是最后期限"
            detail = f"{j.issued} 发布，须在 {DEADLINE_WORKDAYS} 个工作日内发布政策解读，{when}，尚未找到对应解读"
            out.append(Finding(CHECK, site_id, f"missing:{doc.url}", j.state, title, unit_id, site_id, doc.url,
                               detail, evidence))
        elif j.interpretation is not None and j.late:
            interp = j.interpretation
            detail = (f"{j.issued} 发布，解读{quoted(interp.title)}{issued(interp)} 才发布，超过 {DEADLINE_WORKDAYS} 个"
                      f"工作日的期限（{j.deadline}）；按{_HOW[j.how]}对应")
            evidence |= {"interpretation": interp.title, "interpretation_url": interp.url,
                         "interpreted": issued(interp).isoformat(), "matched_by": j.how}
            out.append(Finding(CHECK, site_id, f"late:{doc.url}", State.YELLOW,
                               f"政策解读超期发布：{quoted(doc.title)}", unit_id, site_id, doc.url, detail, evidence))
    return out


def page_links(html: str, url: str) -> frozenset[str]:
    """The absolute addresses an interpretation's page links to (its 原文链接 to the document)."""
    tree = LexborHTMLParser(html)
    return frozenset(u for a in tree.css("a[href]") if (u := absolute(a.attributes.get("href") or "", url)))

# ------------------------------------------------------------------------------------------ the check


POLICY = "政策文件"


@dataclass(frozen=True, slots=True)
class InterpretationSite:
    column: str  # the 政策解读 column's target id
    policy_columns: tuple[str, ...]  # the 政策文件 columns' target ids
    selection: Selection


class InterpretationStore(Protocol):
    async def column_items(self, target_id: str, since: date) -> list[SeenItem]: ...


class InterpretationCheck:
    """Per site with an interpretation column: the documents of its 政策文件 columns (as the column probes stored
    them) against the interpretations, matched by title and, for those still missing, by the links on up to
    ``fetch_pages`` document and interpretation pages per run (pages read once, remembered)."""

    name = "interpretation"
    produces = ("interpretation",)

    def __init__(self, interval_s: float = 3 * 3600.0, calendar: WorkCalendar | None = None,
                 fetch_pages: int = 10, window_months: int = 12) -> None:
        self.interval_s = interval_s
        self._calendar = calendar
        self.fetch_pages = fetch_pages
        self.window_months = window_months
        self._links: dict[str, frozenset[str]] = {}  # page URL → the URLs it links to

    def subjects(self, inventory: Inventory) -> list[Subject]:
        out = []
        for site in inventory.model.sites:
            if site.interpretation_column is None:
                continue
            policy = tuple(t.id for t in inventory.targets if t.site_id == site.id and t.kind == TargetKind.COLUMN
                           and t.rule.category == POLICY and t.id != site.interpretation_column)
            selection = Selection.from_config(site.interpretation_select)
            spec = InterpretationSite(site.interpretation_column, policy, selection)
            out.append(Subject(site.id, self.interval_s, site.unit, site.id, spec))
        return out

    async def run(self, subject: Subject, ctx: Context[InterpretationStore], now: datetime) -> list[Finding] | None:
        spec: InterpretationSite = subject.data
        today = now.astimezone(TZ).date()
        since = add_months(today, -self.window_months)
        column = await ctx.store.column_items(spec.column, since)
        if not column:
            return None  # the interpretation column was never read: nothing to judge by
        docs: list[SeenItem] = []
        for target_id in spec.policy_columns:
            docs.extend(await ctx.store.column_items(target_id, since))
        interps = column + [d for d in docs if is_interpretation(d.title)]
        covered = min(issued(i) for i in column)
        cal = self._calendar or default_calendar()
        judgements = judge(docs, interps, today, cal, covered, spec.selection, self._links)
        if await self._read_links(ctx.fetcher, judgements, interps):
            judgements = judge(docs, interps, today, cal, covered, spec.selection, self._links)
        return findings(subject.site_id, subject.unit_id, judgements)

    async def _read_links(self, fetcher: Fetch, judgements: Sequence[Judgement], interps: list[SeenItem]) -> bool:
        """Read the links of documents still missing an interpretation and of interpretations matched to none;
        whether any page was read."""
        used = {j.interpretation.url for j in judgements if j.interpretation is not None}
        missing = [j.document.url for j in judgements if j.interpretation is None and j.state is not State.GREEN]
        spare = [i.url for i in sorted(interps, key=issued, reverse=True) if i.url not in used]
        if not missing:
            return False
        pages = [u for u in dict.fromkeys(missing + spare) if u not in self._links][:self.fetch_pages]
        for url in pages:
            result = await fetcher.fetch(url)
            if result.ok and result.text is not None:
                self._links[url] = page_links(result.text, result.final_url or url)
        return any(url in self._links for url in pages)
