"""Honest dates (pure): back-dated items (倒签) and items whose claimed date changed.

govwatch remembers when it first saw each item. An item claiming a date D that was missing from a
successful probe made after D plus a tolerance (default 2 days: publishing a little late is
normal), although that probe's list reached back past D, was put online later than it claims:
back-dated, the 伪造发稿日期 that one seed's site failed for. The list "reached back" when an
item dated before D was visible both in that probe and when the new item appeared — so a list
that only shifted (a newer item deleted, an older one moving up onto the page) never fires.

Items present at a column's first successful probe are never back-dated: govwatch cannot know
when they went online. A column govwatch has just started watching therefore gives no finding.

On the daemon path (``HonestDatesCheck``) both become findings: ``backdated`` (red, a veto) and
``date_changed`` (yellow, the store keeps an item's previous date when it changes). A finding stays
open while its item is on the column's list and is gone once the item leaves it; the trail and the
quarterly report keep it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from monitor.checks.base import Context, Subject
from monitor.evaluate import TZ, start_of_day
from monitor.findings import Finding, quoted
from monitor.model import State, TargetKind

if TYPE_CHECKING:
    from monitor.config import Inventory
    from monitor.model import Target

DEFAULT_TOLERANCE_DAYS = 2


@dataclass(frozen=True, slots=True)
class SeenItem:
    """An item as stored: its claimed date and when govwatch first and last saw it."""

    url: str
    title: str
    date: date | None
    first_seen: datetime
    last_seen: datetime
    prev_date: date | None = None  # the date it claimed before its latest date change
    date_changed_at: datetime | None = None  # when govwatch saw that change


@dataclass(frozen=True, slots=True)
class BackDated:
    item: SeenItem
    missed_at: datetime  # the last successful probe, after the claimed date, that did not show it
    days_late: int  # first sighting (local date) minus the claimed date

    @property
    def detail(self) -> str:
        seen = self.item.first_seen.astimezone(TZ)
        missed = self.missed_at.astimezone(TZ)
        return (f"标注日期 {self.item.date}，但 {missed:%Y-%m-%d %H:%M} 检测时栏目中尚无此条，"
                f"{seen:%Y-%m-%d %H:%M} 才首次出现，晚 {self.days_late} 天")


@dataclass(frozen=True, slots=True)
class DateChange:
    url: str
    title: str
    before: date
    after: date
    at: datetime | None = None  # when govwatch saw the change

    @property
    def detail(self) -> str:
        """The evidence the finding's title (which names the item and both dates) does not give."""
        return f"{self.at.astimezone(TZ):%Y-%m-%d %H:%M} 检测发现改动" if self.at else "检测发现改动"


def back_dated(
    items: Sequence[SeenItem], probes: Iterable[datetime], tolerance_days: int = DEFAULT_TOLERANCE_DAYS,
) -> list[BackDated]:
    """Back-dated items of one column, given its items and the times of its successful probes."""
    times = sorted(probes)
    if not times:
        return []
    first_probe = times[0]
    found = []
    for item in items:
        if item.date is None or item.first_seen <= first_probe:
            continue
        due = start_of_day(item.date + timedelta(days=tolerance_days + 1))
        # the latest probe before it appeared (and after its date plus the tolerance) that reached back
        before = reversed(times[bisect.bisect_left(times, due):bisect.bisect_left(times, item.first_seen)])
        missed = next((p for p in before if _reached_back(items, item, p)), None)
        if missed is not None:
            late = (item.first_seen.astimezone(TZ).date() - item.date).days
            found.append(BackDated(item, missed, late))
    return found


def _reached_back(items: Sequence[SeenItem], item: SeenItem, probe: datetime) -> bool:
    """Whether the list at ``probe`` showed an item dated before ``item`` that was still there when it appeared."""
    assert item.date is not None
    return any(o.date is not None and o.date < item.date and o.first_seen <= probe and o.last_seen >= item.first_seen
               for o in items)


def listed(items: Sequence[SeenItem]) -> list[SeenItem]:
    """The items of the column's latest list read: the store refreshes ``last_seen`` of a whole list at once."""
    if not items:
        return []
    latest = max(i.last_seen for i in items)
    return [i for i in items if i.last_seen == latest]


def stored_date_changes(items: Sequence[SeenItem]) -> list[DateChange]:
    """The listed items whose claimed date changed between two probes (as the store recorded it)."""
    return [DateChange(i.url, i.title, i.prev_date, i.date, i.date_changed_at) for i in listed(items)
            if i.prev_date is not None and i.date is not None and i.prev_date != i.date]


def findings(target: Target, items: Sequence[SeenItem], probes: Iterable[datetime],
             tolerance_days: int = DEFAULT_TOLERANCE_DAYS) -> list[Finding]:
    """The honest-date findings of one column now: back-dated items (red: 伪造发稿日期 is a veto) and items
    whose date changed (yellow), each while the item is still on the column's list."""
    current = {i.url for i in listed(items)}
    out = []
    where = f"{target.site_name}「{target.name}」栏目"
    for found in back_dated(items, probes, tolerance_days):
        item = found.item
        if item.url not in current:
            continue
        out.append(Finding(
            "backdated", target.id, item.url, State.RED,
            f"{where}{quoted(item.title)}疑似伪造发稿日期",
            target.unit_id, target.site_id, target.url, f"{found.detail}。信息地址：{item.url}",
            {"item_url": item.url, "item_title": item.title, "claimed_date": str(item.date),
             "first_seen": item.first_seen.astimezone(TZ).isoformat(),
             "missed_at": found.missed_at.astimezone(TZ).isoformat(), "days_late": found.days_late}))
    for change in stored_date_changes(items):
        out.append(Finding(
            "date_changed", target.id, change.url, State.YELLOW,
            f"{where}{quoted(change.title)}发布日期由 {change.before} 改为 {change.after}",
            target.unit_id, target.site_id, target.url, f"{change.detail}。信息地址：{change.url}",
            {"item_url": change.url, "item_title": change.title, "before": str(change.before),
             "after": str(change.after), "at": change.at.astimezone(TZ).isoformat() if change.at else None}))
    return out


class HonestStore(Protocol):
    async def honest_history(self, target_id: str) -> tuple[list[SeenItem], list[datetime]]: ...


class HonestDatesCheck:
    """Reads each column's stored items and probe times from the store and reports its honest-date findings.

    One store call per column per run, bounded to the items of the current list and those visible since
    its oldest item appeared (``Store.honest_history``).
    """

    name = "honest"
    produces = ("backdated", "date_changed")

    def __init__(self, interval_s: float = 3600.0, tolerance_days: int = DEFAULT_TOLERANCE_DAYS) -> None:
        self.interval_s = interval_s
        self.tolerance_days = tolerance_days

    def subjects(self, inventory: Inventory) -> list[Subject]:
        return [Subject(t.id, self.interval_s, t.unit_id, t.site_id, t)
                for t in inventory.targets if t.kind == TargetKind.COLUMN]

    async def run(self, subject: Subject, ctx: Context[HonestStore], now: datetime) -> list[Finding] | None:
        items, probes = await ctx.store.honest_history(subject.id)
        return findings(subject.data, items, probes, self.tolerance_days)
