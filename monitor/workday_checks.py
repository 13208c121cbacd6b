"""The checks of the working-day rules: citizens' messages answered in time (``MessagesCheck``) and policy
documents interpreted in time (``InterpretationCheck``). The I/O shell around ``monitor.messages`` and
``monitor.interpretations``; both report through ``Monitor.report_findings`` like every check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import structlog

from monitor.checks import Subject
from monitor.durations import add_months
from monitor.evaluate import TZ
from monitor.extract.messages import UNREADABLE_LABELS, Message, read_messages
from monitor.findings import Finding
from monitor.honest import SeenItem
from monitor.interpretations import Judgement, Selection, is_interpretation, issued, judge, page_links
from monitor.interpretations import findings as interpretation_findings
from monitor.messages import DEFAULT_RULES, MessageBox, MessageRules, message_boxes
from monitor.messages import findings as message_findings
from monitor.model import State
from monitor.workdays import WorkCalendar, default_calendar

if TYPE_CHECKING:
    from monitor.config import Inventory
    from monitor.daemon import Monitor
    from monitor.fetch import Fetcher

log = structlog.get_logger()

POLICY = "政策文件"


async def read_box(fetcher: Fetcher, box: MessageBox, today: date) -> list[Message] | None:
    """The messages of a box's first ``box.pages`` list pages, following 下一页; None when any page cannot be
    fetched or read (then what was known of the box stays as it was)."""
    found: dict[tuple[str, date], Message] = {}
    url, seen = box.url, set()
    for _ in range(box.pages):
        seen.add(url)
        result = await fetcher.fetch(url)
        if not result.ok or result.text is None:
            log.warning("message_box_fetch_failed", box=box.id, url=url, error=result.error, detail=result.detail)
            return None
        page = read_messages(result.text, result.final_url or url, today)
        if page.unreadable is not None:
            log.warning("message_box_unreadable", box=box.id, url=url, reason=str(page.unreadable),
                        detail=UNREADABLE_LABELS[page.unreadable])
            return None
        for message in page.messages:  # a message moving to the next page between two fetches counts once
            found.setdefault((message.url or message.title, message.asked), message)
        if page.next_url is None or page.next_url in seen:
            break
        url = page.next_url
    return list(found.values())


class MessagesCheck:
    """Each message box's list pages: unanswered messages near or past their 5 working days, late answers,
    and the 3-month veto. Stores what it read, for the answer-time statistics."""

    name = "messages"
    produces = ("message_overdue",)

    def __init__(self, calendar: WorkCalendar | None = None, rules: MessageRules = DEFAULT_RULES) -> None:
        self._calendar = calendar
        self.rules = rules

    def subjects(self, inventory: Inventory) -> list[Subject]:
        return [Subject(box.id, box.interval_s, box.unit_id, box.site_id, box)
                for box in message_boxes(inventory)]

    async def run(self, subject: Subject, monitor: Monitor, now: datetime) -> list[Finding] | None:
        box: MessageBox = subject.data
        messages = await read_box(monitor.fetcher, box, now.astimezone(TZ).date())
        if messages is None:
            return None
        await monitor.store.save_messages(box.id, messages, now)
        return message_findings(box, messages, now, self._calendar or default_calendar(), self.rules)


@dataclass(frozen=True, slots=True)
class InterpretationSite:
    column: str  # the 政策解读 column's target id
    policy_columns: tuple[str, ...]  # the 政策文件 columns' target ids
    selection: Selection


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
            policy = tuple(t.id for t in inventory.targets if t.site_id == site.id and t.kind == "column"
                           and t.rule.category == POLICY and t.id != site.interpretation_column)
            selection = Selection.from_config(site.interpretation_select)
            spec = InterpretationSite(site.interpretation_column, policy, selection)
            out.append(Subject(site.id, self.interval_s, site.unit, site.id, spec))
        return out

    async def run(self, subject: Subject, monitor: Monitor, now: datetime) -> list[Finding] | None:
        spec: InterpretationSite = subject.data
        today = now.astimezone(TZ).date()
        since = add_months(today, -self.window_months)
        column = await monitor.store.column_items(spec.column, since)
        if not column:
            return None  # the interpretation column was never read: nothing to judge by
        docs: list[SeenItem] = []
        for target_id in spec.policy_columns:
            docs.extend(await monitor.store.column_items(target_id, since))
        interps = column + [d for d in docs if is_interpretation(d.title)]
        covered = min(issued(i) for i in column)
        cal = self._calendar or default_calendar()
        judgements = judge(docs, interps, today, cal, covered, spec.selection, self._links)
        if await self._read_links(monitor, judgements, interps):
            judgements = judge(docs, interps, today, cal, covered, spec.selection, self._links)
        return interpretation_findings(subject.site_id, subject.unit_id, judgements)

    async def _read_links(self, monitor: Monitor, judgements: Sequence[Judgement], interps: list[SeenItem]) -> bool:
        """Read the links of documents still missing an interpretation and of interpretations matched to none;
        whether any page was read."""
        used = {j.interpretation.url for j in judgements if j.interpretation is not None}
        missing = [j.document.url for j in judgements if j.interpretation is None and j.state is not State.GREEN]
        spare = [i.url for i in sorted(interps, key=issued, reverse=True) if i.url not in used]
        if not missing:
            return False
        pages = [u for u in dict.fromkeys(missing + spare) if u not in self._links][:self.fetch_pages]
        for url in pages:
            result = await monitor.fetcher.fetch(url)
            if result.ok and result.text is not None:
                self._links[url] = page_links(result.text, result.final_url or url)
        return any(url in self._links for url in pages)
