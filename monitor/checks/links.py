"""The link crawler (check ``links``): per site the homepage, every column page and the newest articles.

On every crawled page it runs the one-page checks (hidden links, soft 404, external links, wrong and
sensitive words: ``monitor.checks.page``) and checks every link on it once per run, through the
monitor's fetcher so the per-host limits hold. Same-site page links are read with a capped GET (a
deleted article often answers 200 with 页面不存在); other links and files with HEAD, then GET when HEAD
is refused. Results are cached for all sites (working links 24 h, failures 1 h by default).

A definite failure (404/410, a name that does not resolve, a redirect loop, a page saying it does not
exist) is 确定不可用 at once. Any other failure (timeouts, refused connections, 5xx, 403) may pass at
another time (the platform's "仅在本监测时刻不通", rules-sources §9): the link is tried once more
``retry_after`` later in the run; passing then, it is not reported; failing again it is 疑似不可用, and
确定不可用 once it also failed on an earlier crawl.

Confirmed broken links are counted per page against ``settings.links.home_red`` and ``page_red``
(every broken link is at least yellow); each finding names the link, its anchor text, the page and
where on the page it sits. Hidden (暗链) and spam links are never requested.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import structlog
from selectolax.lexbor import LexborHTMLParser

from monitor.checks.base import Context, Fetch, Subject
from monitor.checks.page import PageReport, check_html, soft404, words
from monitor.checks.page.external import DEFAULT_ALLOW, ExternalLink, absolute, css_path, host_kind
from monitor.config import Inventory, LinkSettings
from monitor.findings import Finding, one_line, quoted
from monitor.model import FetchError, FetchResult, State, TargetKind

__all__ = ["LinkCache", "LinkChecker", "LinkOutcome", "LinksCheck", "PageLink", "PageScan", "SiteCrawl", "judge",
           "link_checker", "page_links", "scan_page", "site_findings"]

log = structlog.get_logger()

READ_BYTES = 64 * 1024  # enough of a page to tell a soft 404; the rest is never read
_FILES = re.compile(r"\.(?:pdf|docx?|xlsx?|pptx?|wps|et|ofd|txt|csv|zip|rar|7z|gz|jpe?g|png|gif|bmp|webp|svg|ico|"
                    r"tiff?|mp[34]|avi|flv|swf|wmv|mov|apk|exe|css|js)$", re.I)
# An exit notice (退出提示): an onclick or a page script warning the reader that a link leaves the site.
_NOTICE = re.compile(r"即将离开|将要离开|离开本(?:网)?站|离开本网|非政府网站|第三方网站|"
                     r"(?:访问|进入|跳转至?)的?(?:是)?(?:非政府|第三方|外部)网站")
_DEFINITE_STATUS = frozenset({404, 410})
_DEFINITE_ERRORS = frozenset({FetchError.DNS, FetchError.TOO_MANY_REDIRECTS, FetchError.INVALID_URL})
_ERROR_TEXT = {
    FetchError.TIMEOUT: "超时无响应", FetchError.DNS: "域名无法解析", FetchError.CONNECT: "无法连接",
    FetchError.TLS: "证书错误", FetchError.TOO_MANY_REDIRECTS: "重定向过多（循环跳转）",
    FetchError.INVALID_URL: "地址无效", FetchError.BLOCKED_ADDRESS: "指向内网地址（公众无法访问）",
}
SOFT404 = "soft404"
_T = TypeVar("_T")
HOME, COLUMN, ARTICLE = "home", "column", "article"


# ------------------------------------------------------------------------------------------ pure core


@dataclass(frozen=True, slots=True)
class PageLink:
    """One distinct link target on a page (its first occurrence)."""

    url: str
    text: str
    where: str
    notice: bool = False  # its own onclick warns that it leaves the site


def page_links(tree: LexborHTMLParser, page_url: str, limit: int) -> list[PageLink]:
    """Every distinct link on a page in page order: anchors, image maps, images, frames and jump menus
    (``<select onchange=window.open(this.value)>`` friend-link lists). Fragments are dropped."""
    out: list[PageLink] = []
    seen: set[str] = set()
    for node in tree.css("a[href], area[href], img[src], iframe[src], frame[src], select option[value]"):
        attrs = node.attributes
        raw = (attrs.get("href") if node.tag in ("a", "area") else attrs.get("src") or attrs.get("value")) or ""
        if node.tag == "option" and not raw.strip().lower().startswith(("http://", "https://", "/")):
            continue
        url = absolute(raw, page_url)
        if url is None:
            continue
        url = url.split("#", 1)[0]
        if url in seen:
            continue
        seen.add(url)
        text = " ".join(node.text().split()) if node.tag != "img" else (attrs.get("alt") or "").strip()
        notice = bool(_NOTICE.search(attrs.get("onclick") or ""))
        out.append(PageLink(url, text[:80], css_path(node), notice))
        if len(out) >= limit:
            break
    return out


def exit_notice(tree: LexborHTMLParser) -> bool:
    """Whether a page script warns before any link leaves the site (then no external link needs its own)."""
    return any(_NOTICE.search(s.text()) for s in tree.css("script"))


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """What one link answered, as judged: working, or broken with its reason."""

    ok: bool
    checked_at: datetime
    status: int | None = None
    error: str | None = None  # a FetchError value, or "soft404"
    detail: str = ""  # Chinese, short: why it is broken (HTTP 404, 超时无响应, 页面显示不存在…)
    definite: bool = False  # the failure cannot be a passing hiccup (404/410, DNS, redirect loop, soft 404)
    failed_runs: int = 0  # crawls in a row in which it failed (this one included)
    note: str = ""  # more evidence (what a soft-404 page says)

    @property
    def confirmed(self) -> bool:
        """确定不可用: a definite failure, or failing again on a later crawl (else 疑似不可用)."""
        return not self.ok and (self.definite or self.failed_runs >= 2)


def judge(result: FetchResult, now: datetime, before: LinkOutcome | None = None,
          soft: soft404.Soft404 | None = None) -> LinkOutcome:
    """Judge one answer; ``before`` is the link's previous outcome (counts failing crawls in a row)."""
    failed_runs = (before.failed_runs if before is not None and not before.ok else 0) + 1
    if result.error in (FetchError.TOO_LARGE, FetchError.DECODE):
        return LinkOutcome(True, now, result.status)  # it answered with a body: not a broken link
    if result.ok:
        soft = soft or (soft404.detect(result.text) if result.text else soft404.Soft404(False))
        if not soft.is_soft404:
            return LinkOutcome(True, now, result.status)
        return LinkOutcome(False, now, result.status, SOFT404, f"页面显示不存在（HTTP {result.status}）", True,
                           failed_runs, soft.reason or "")
    if result.error is FetchError.HTTP_STATUS:
        return LinkOutcome(False, now, result.status, result.error.value, f"HTTP {result.status}",
                           result.status in _DEFINITE_STATUS, failed_runs)
    error = result.error or FetchError.CONNECT
    return LinkOutcome(False, now, result.status, error.value, _ERROR_TEXT.get(error, error.value),
                       error in _DEFINITE_ERRORS, failed_runs)


class LinkCache:
    """Link outcomes by URL for every site: working and broken links apart, each kept up to ``size``, the
    least recently used dropped first (an entry is about 0.3 KB).

    An outcome is *fresh* for ``ok_ttl`` (working) or ``fail_ttl`` (broken). A stale broken one is kept
    until evicted: it tells the next crawl that the link was failing before. Broken links are few, so
    their memory outlives a day of crawling even when the working links of a large fleet do not.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._ok: OrderedDict[str, LinkOutcome] = OrderedDict()
        self._failing: OrderedDict[str, LinkOutcome] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ok) + len(self._failing)

    def fresh(self, url: str, now: datetime, ok_ttl: timedelta, fail_ttl: timedelta) -> LinkOutcome | None:
        for entries, ttl in ((self._ok, ok_ttl), (self._failing, fail_ttl)):
            entry = entries.get(url)
            if entry is not None and now - entry.checked_at < ttl:
                entries.move_to_end(url)
                return entry
        return None

    def previous(self, url: str) -> LinkOutcome | None:
        return self._ok.get(url) or self._failing.get(url)

    def put(self, url: str, outcome: LinkOutcome) -> None:
        entries, other = (self._ok, self._failing) if outcome.ok else (self._failing, self._ok)
        other.pop(url, None)
        entries[url] = outcome
        entries.move_to_end(url)
        while len(entries) > self.size:
            entries.popitem(last=False)


@dataclass(frozen=True, slots=True)
class PageScan:
    """One crawled page: what the one-page checks found and its links."""

    url: str
    role: str  # home | column | article
    name: str  # 首页, the column's name, or the article's address
    report: PageReport
    links: list[PageLink]
    notice: bool = False  # a page-wide exit notice

    @property
    def label(self) -> str:
        return {HOME: "首页", COLUMN: f"栏目「{self.name}」"}.get(self.role, "文章页")


@dataclass(frozen=True, slots=True)
class SiteCrawl:
    """What the crawler needs of one site (a Subject's data)."""

    site_id: str
    site_name: str
    unit_id: str
    homepage: str
    columns: tuple[tuple[str, str], ...]  # (name, list-page URL)
    item_targets: tuple[str, ...]  # the homepage and column targets whose items give the articles
    settings: LinkSettings = field(default_factory=LinkSettings)


def _finding(site: SiteCrawl, check: str, key: str, severity: State, title: str, page: PageScan, detail: str,
             evidence: dict[str, object]) -> Finding:
    return Finding(check, site.site_id, key, severity, title, site.unit_id, site.site_id, page.url, detail,
                   {"page": page.url, "page_kind": page.role, **evidence})


def _also(pages: list[str]) -> str:
    return f"；共出现在 {len(pages)} 个页面" if len(pages) > 1 else ""


def _grouped(seen: Iterable[tuple[str, PageScan, _T]]) -> dict[str, tuple[PageScan, _T, list[str]]]:
    """By key: the first page and item, and every page the key was seen on (once each, in crawl order)."""
    out: dict[str, tuple[PageScan, _T, list[str]]] = {}
    for key, page, item in seen:
        on = out.setdefault(key, (page, item, []))[2]
        if page.url not in on:
            on.append(page.url)
    return out


def _unwarned(page: PageScan) -> list[tuple[str, ExternalLink]]:
    """The page's links to non-government sites that open without an exit notice."""
    if page.notice:
        return []
    warned = {link.url for link in page.links if link.notice}
    return [(url, e) for e in page.report.external if (url := e.url.split("#", 1)[0]) not in warned]


def site_findings(site: SiteCrawl, pages: Sequence[PageScan], outcomes: Mapping[str, LinkOutcome]) -> list[Finding]:
    """All findings of one crawl of one site (pure). A problem repeated on several pages (the site frame)
    is one finding, told on its first page (the homepage first) with the others in its evidence."""
    s = site.settings
    out: list[Finding] = []
    red_pages = {page.url for page in pages
                 if sum(1 for link in page.links if link.url in outcomes and outcomes[link.url].confirmed)
                 >= (s.home_red if page.role == HOME else s.page_red)}
    broken = _grouped((link.url, page, link) for page in pages for link in page.links
                      if link.url in outcomes and not outcomes[link.url].ok)
    for url, (page, link, on) in broken.items():
        o = outcomes[url]
        sure = "确定不可用" if o.confirmed else "疑似不可用"
        anchor = link.text or url
        note = "" if o.confirmed else "；仅本次监测不通，下次监测仍不通即为确定不可用"
        said = f"，{o.note}" if o.note else ""
        detail = (f"{page.label} {page.url} 的链接{quoted(anchor)}{url} {o.detail}{said}，位置：{link.where}"
                  f"{_also(on)}{note}")
        red = o.confirmed and not red_pages.isdisjoint(on)
        out.append(_finding(site, "soft404" if o.error == SOFT404 else "broken_link", url,
                            State.RED if red else State.YELLOW,
                            f"{page.label}{sure}链接：{quoted(anchor)}（{o.detail}）", page, detail,
                            {"link": url, "text": link.text, "where": link.where, "status": o.status, "error": o.error,
                             "confidence": "confirmed" if o.confirmed else "suspect", "failed_runs": o.failed_runs,
                             "pages": on[:20]}))
    hidden = _grouped((f"{h.kind}|{h.url or h.text}", page, h) for page in pages for h in page.report.hidden)
    for key, (page, h, on) in hidden.items():
        detail = (f"{page.label} {page.url}：{h.reason}；文字{quoted(h.text)}" + (f"，链接 {h.url}" if h.url else "")
                  + f"，位置：{h.where}" + (f"，隐藏方式：{h.style}" if h.style else "") + _also(on))
        out.append(_finding(site, "hidden_link", key, State.RED, f"{page.label}暗链：{quoted(h.text, 40)}", page,
                            detail, {**h.to_json(), "pages": on[:20]}))
    hidden_urls = {h.url for _, h, _ in hidden.values() if h.url}
    external = _grouped((url, page, e) for page in pages for url, e in _unwarned(page))
    for url, (page, e, on) in external.items():
        if url in hidden_urls:
            continue  # told as a hidden link
        detail = (f"{page.label} {page.url} 的链接{quoted(e.text)}指向非政府网站 {e.host}，打开时没有退出提示，"
                  f"位置：{e.where}{_also(on)}")
        out.append(_finding(site, "external_link", url, State.YELLOW,
                            f"{page.label}外部链接无退出提示：{quoted(e.text or e.host)}→ {e.host}", page, detail,
                            {**e.to_json(), "link": url, "pages": on[:20]}))
    found = _grouped((w.word, page, w) for page in pages for w in page.report.words
                     if not (w.category == words.SENSITIVE and any(w.word in h.reason for h in page.report.hidden)))
    for word, (page, w, on) in found.items():  # sensitive words of a hidden link or spam block: told there
        fix = f"，应为「{w.correct}」" if w.correct else ""
        note = f"（{w.note}）" if w.note else ""
        detail = f"{page.label} {page.url}：「{w.word}」{fix}{note}，上下文：…{one_line(w.context)}…{_also(on)}"
        out.append(_finding(site, "word", word, State.RED if w.severity == "严重" else State.YELLOW,
                            f"{w.category}：「{w.word}」{fix}", page, detail, {**w.to_json(), "pages": on[:20]}))
    return out


@lru_cache(maxsize=2)
def _dictionaries(directory: str, stamp: int) -> words.Dictionaries:
    """The word lists of ``directory`` as of ``stamp`` (its newest file's mtime): loaded once per process."""
    return words.load(directory)


def dictionaries_stamp(directory: Path) -> int:
    """The newest modification time of the word lists: a change makes every process read them again."""
    return max((p.stat().st_mtime_ns for p in directory.iterdir() if p.is_file()), default=0)


def scan_page(html: str, url: str, final_url: str, role: str, name: str, site_id: str, allow: tuple[str, ...],
              max_links: int, dict_dir: str, dict_stamp: int) -> PageScan:
    """One crawled page: the one-page checks and its links (run in a parser worker: ``ExtractPool.run``)."""
    tree = LexborHTMLParser(html)
    report = check_html(html, final_url, _dictionaries(dict_dir, dict_stamp), site_id=site_id, allow=allow, tree=tree)
    return PageScan(url, role, name, report, page_links(tree, final_url, max_links), exit_notice(tree))


def is_file(url: str) -> bool:
    return bool(_FILES.search(urlsplit(url).path))


# ------------------------------------------------------------------------------------------ I/O shell


class LinkChecker:
    """Checks links through the monitor's fetcher with one cache for all sites; concurrent crawls that meet
    the same URL share one request."""

    def __init__(self, cache_size: int) -> None:
        self.cache = LinkCache(cache_size)
        self.requests = 0  # link requests made (HEAD and GET), for the benchmark and the logs
        self._inflight: dict[str, asyncio.Future[LinkOutcome]] = {}

    async def check(self, fetcher: Fetch, urls: set[str], home_host: str, allow: tuple[str, ...],
                    s: LinkSettings, now: datetime, fetched: Mapping[str, FetchResult] | None = None,
                    softs: Mapping[str, soft404.Soft404] | None = None) -> dict[str, LinkOutcome]:
        """Each link's outcome: from the cache when fresh, from a page this crawl fetched, or asked now
        (and once more ``retry_after`` later when it fails in a way that may pass)."""
        self.cache.size = s.cache_size
        ok_ttl, fail_ttl = timedelta(seconds=s.ok_ttl.approx_seconds), timedelta(seconds=s.fail_ttl.approx_seconds)
        fetched, softs = fetched or {}, softs or {}
        gate = asyncio.Semaphore(s.concurrency)
        outcomes: dict[str, LinkOutcome] = {}

        async def ask(url: str) -> FetchResult:
            internal = host_kind(urlsplit(url).hostname or "", home_host, allow) == "internal"
            async with gate:
                return await self._ask(fetcher, url, internal and not is_file(url), s.timeout.approx_seconds)

        async def check(url: str) -> LinkOutcome:
            first = fetched.get(url)
            result = first if first is not None else await ask(url)
            outcome = judge(result, now, self.cache.previous(url), softs.get(url) if first is not None else None)
            if not outcome.ok and not outcome.definite:
                await asyncio.sleep(s.retry_after.approx_seconds)
                outcome = judge(await ask(url), now, self.cache.previous(url))
            self.cache.put(url, outcome)
            return outcome

        async def one(url: str) -> None:
            cached = self.cache.fresh(url, now, ok_ttl, fail_ttl)
            if cached is not None:
                outcomes[url] = cached
                return
            task = self._inflight.get(url)
            if task is None:
                task = self._inflight[url] = asyncio.ensure_future(check(url))
                task.add_done_callback(lambda _: self._inflight.pop(url, None))
            outcomes[url] = await asyncio.shield(task)

        await asyncio.gather(*(one(url) for url in urls))
        return outcomes

    async def _ask(self, fetcher: Fetch, url: str, read_page: bool, timeout_s: float) -> FetchResult:
        """A same-site page: a capped GET (to spot a soft 404). Anything else: HEAD, then GET if HEAD is refused."""
        if not read_page:
            self.requests += 1
            head = await fetcher.peek(url, method="HEAD", timeout_s=timeout_s)
            if head.error is not FetchError.HTTP_STATUS:
                return head
        self.requests += 1
        return await fetcher.peek(url, method="GET", read_bytes=READ_BYTES, timeout_s=timeout_s)


def link_checker(ctx: Context[Any]) -> LinkChecker:
    """The link results shared by the site crawls and the service menus, kept in the context across inventory
    reloads (the checks are rebuilt on each); its cache takes ``settings.links.cache_size`` at each use."""
    checker = ctx.kept.get("links")
    if checker is None:
        checker = ctx.kept["links"] = LinkChecker(LinkSettings().cache_size)
    return checker


class LinksStore(Protocol):
    async def recent_item_urls(self, target_ids: Sequence[str], limit: int) -> list[str]: ...


class LinksCheck:
    """``monitor.checks.Check`` for links, hidden links, soft 404s, external links and words, one Subject per site."""

    name = "links"
    produces = ("broken_link", "external_link", "hidden_link", "soft404", "word")

    def __init__(self, dictionaries: Path | str | None = None) -> None:
        self._dict_dir = Path(dictionaries) if dictionaries else words.DICT_DIR

    def subjects(self, inventory: Inventory) -> list[Subject]:
        s = inventory.settings.links
        targets: dict[str, list[tuple[str, str, str, str]]] = {}
        for t in inventory.targets:
            if t.kind in (TargetKind.HOMEPAGE, TargetKind.COLUMN):
                targets.setdefault(t.site_id, []).append((t.id, t.kind, t.name, t.url))
        out = []
        for site in inventory.model.sites:
            mine = targets.get(site.id, [])
            crawl = SiteCrawl(site.id, site.name, site.unit, site.homepage,
                              tuple((name, url) for _, kind, name, url in mine if kind == "column"),
                              tuple(tid for tid, *_ in mine), s)
            out.append(Subject(site.id, s.interval.approx_seconds,
                               site.unit, site.id, crawl))
        return out

    async def run(self, subject: Subject, ctx: Context[LinksStore], now: datetime) -> list[Finding] | None:
        site: SiteCrawl = subject.data
        s = site.settings
        fetcher = ctx.fetcher
        home_host = urlsplit(site.homepage).hostname or ""
        allow = DEFAULT_ALLOW + tuple(s.allow_domains)
        articles = [u for u in await ctx.store.recent_item_urls(site.item_targets, s.articles)
                    if host_kind(urlsplit(u).hostname or "", home_host, allow) == "internal"]
        plan: dict[str, tuple[str, str]] = {site.homepage: (HOME, "首页")}
        for name, url in site.columns:
            plan.setdefault(url, (COLUMN, name))
        for url in articles:
            plan.setdefault(url, (ARTICLE, url))
        results = await asyncio.gather(*(fetcher.fetch(url) for url in plan))
        fetched = dict(zip(plan, results, strict=True))
        if not fetched[site.homepage].ok or not fetched[site.homepage].text:
            log.info("links_skipped", site=site.site_id, reason=fetched[site.homepage].detail)
            return None  # the homepage cannot be read now: keep what is known (availability tells why)
        # The words are read again in every process when a file of their folder changed (edit, next crawl).
        stamp = dictionaries_stamp(self._dict_dir)
        scans = await asyncio.gather(*(
            ctx.extract.run("page_scan", result.text, url, result.final_url, *plan[url], site.site_id, allow,
                             s.max_links, str(self._dict_dir), stamp)
            for url, result in fetched.items() if result.ok and result.text))
        pages: list[PageScan] = [scan for scan in scans if scan is not None]  # None: unreadable in the time limit
        if not pages or pages[0].url != site.homepage:
            log.warning("links_skipped", site=site.site_id, reason="homepage unreadable within the time limit")
            return None  # a hostile or broken homepage: keep what is known rather than call it all gone
        softs = {page.url: page.report.soft404 for page in pages}
        hidden = {h.url for p in pages for h in p.report.hidden if h.url}
        wanted = {link.url for p in pages for link in p.links
                  if link.url not in hidden and not link.url.startswith(tuple(s.ignore))}
        outcomes = await link_checker(ctx).check(fetcher, wanted, home_host, allow, s, now, fetched, softs)
        findings = site_findings(site, pages, outcomes)
        log.info("links_checked", site=site.site_id, pages=len(pages), links=len(wanted),
                 broken=sum(1 for o in outcomes.values() if not o.ok), findings=len(findings))
        return findings
