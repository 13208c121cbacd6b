"""Honest dates (pure): back-dated items (倒签) and items whose claimed date changed.

govwatch remembers when it first saw each item. An item claiming a date D that was missing from a
successful probe made after D plus a tolerance (default 2 days: publishing a little late is
normal), although that probe's list reached back past D, was put online later than it claims:
back-dated, the 伪造发稿日期 that one seed's site failed for. The list "reached back" when an
item dated before D was visible both in that probe and when the new item appeared — so a list
that only shifted (a newer item deleted, an older one moving up onto the page) never fires.

Items present at a column's first successful probe are never back-dated: govwatch cannot know
when they went online. A column govwatch has just started watching therefore gives no finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from monitor.evaluate import TZ, start_of_day
from monitor.model import Item

DEFAULT_TOLERANCE_DAYS = 2


@dataclass(frozen=True, slots=True)
class SeenItem:
    """An item as stored: its claimed date and when govwatch first and last saw it."""

    url: str
    title: str
    date: date | None
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class BackDated:
    item: SeenItem
    missed_at: datetime  # the last successful probe, after the claimed date, that did not show it
    days_late: int  # first sighting (local date) minus the claimed date

    @property
    def detail(self) -> str:
        seen = self.item.first_seen.astimezone(TZ)
        missed = self.missed_at.astimezone(TZ)
        return (f"「{self.item.title}」标注日期 {self.item.date}，但 {missed:%Y-%m-%d %H:%M} 检测时栏目中尚无此条，"
                f"{seen:%Y-%m-%d %H:%M} 才首次出现（晚 {self.days_late} 天），疑似倒签")


@dataclass(frozen=True, slots=True)
class DateChange:
    url: str
    title: str
    before: date
    after: date

    @property
    def detail(self) -> str:
        return f"「{self.title}」的发布日期由 {self.before} 改为 {self.after}"


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
        missed = [p for p in times if due <= p < item.first_seen and _reached_back(items, item, p)]
        if missed:
            late = (item.first_seen.astimezone(TZ).date() - item.date).days
            found.append(BackDated(item, missed[-1], late))
    return found


def _reached_back(items: Sequence[SeenItem], item: SeenItem, probe: datetime) -> bool:
    """Whether the list at ``probe`` showed an item dated before ``item`` that was still there when it appeared."""
    assert item.date is not None
    return any(o.date is not None and o.date < item.date and o.first_seen <= probe and o.last_seen >= item.first_seen
               for o in items)


def date_changes(previous: Mapping[str, date | None], current: Iterable[Item]) -> list[DateChange]:
    """Items (by URL) whose claimed date differs from the one stored at the previous probe."""
    changes = []
    for item in current:
        before = previous.get(item.url)
        if before is not None and item.date is not None and item.date != before:
            changes.append(DateChange(item.url, item.title, before, item.date))
    return changes
