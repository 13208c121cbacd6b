"""China's official working days: holidays and make-up working days (调休), never guessed.

The maintained ``chinesecalendar`` package knows each year once the State Council has published
its holiday notice (国务院办公厅关于××年部分节假日安排的通知, usually in November) and a release
followed. Until then, a year can be written into an override file (``calendar_overrides.yaml``)::

    2027:
      holidays: [2027-01-01, 2027-02-05..2027-02-11]   # days off (ranges with ..)
      workdays: [2027-02-13]                             # make-up working days on a weekend

A year in the override file takes precedence over the package. A day in a year neither knows
raises :class:`UnknownCalendarYear`: a deadline counted in working days must not be guessed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import chinese_calendar
from ruamel.yaml import YAML

from monitor.model import State

ENV_OVERRIDES = "GOVWATCH_CALENDAR_OVERRIDES"
DEFAULT_OVERRIDES = Path("/etc/govwatch/calendar_overrides.yaml")


class UnknownCalendarYear(LookupError):
    """No holiday data for a year: neither the package nor the override file knows it."""

    def __init__(self, year: int, overrides: Path | None) -> None:
        self.year = year
        where = str(overrides) if overrides else f"a calendar_overrides.yaml (set {ENV_OVERRIDES})"
        super().__init__(
            f"no working-day calendar for {year}: the chinesecalendar package has no data for it and "
            f"{where} has no '{year}:' entry. Add the days off (holidays) and make-up working days (workdays) "
            f"of the State Council notice 国务院办公厅关于{year}年部分节假日安排的通知 under '{year}:' in that "
            f"file, or upgrade chinesecalendar once a release covers {year}."
        )


@dataclass(frozen=True, slots=True)
class YearOverride:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() < 5


def _days(values: Iterable[Any], year: int, where: str) -> frozenset[date]:
    days: set[date] = set()
    for value in values or ():
        text = value.isoformat() if isinstance(value, date) else str(value).strip()
        first, _, last = text.partition("..")
        try:
            start = date.fromisoformat(first.strip())
            end = date.fromisoformat(last.strip()) if last else start
        except ValueError as exc:
            raise ValueError(f"{where}: {year}: not a date or range YYYY-MM-DD[..YYYY-MM-DD]: {text!r}") from exc
        if start.year != year or end.year != year or end < start:
            raise ValueError(f"{where}: {year}: {text!r} is not a range inside {year}")
        days.update(start + timedelta(days=i) for i in range((end - start).days + 1))
    return frozenset(days)


def load_overrides(path: Path) -> dict[int, YearOverride]:
    """Read an override file; a file that does not exist means no overrides."""
    if not path.exists():
        return {}
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of years, e.g. '2027: {{holidays: [...], workdays: [...]}}'")
    years: dict[int, YearOverride] = {}
    for key, entry in data.items():
        year = int(key)
        entry = entry or {}
        unknown = set(entry) - {"holidays", "workdays", "source"}
        if unknown:
            raise ValueError(f"{path}: {year}: unknown keys {sorted(unknown)}; use holidays, workdays, source")
        years[year] = YearOverride(_days(entry.get("holidays", ()), year, str(path)),
                                   _days(entry.get("workdays", ()), year, str(path)))
    return years


class WorkCalendar:
    """Working days from the override file first, then the chinesecalendar package."""

    def __init__(self, overrides: Path | None = None) -> None:
        self.overrides_path = overrides
        self.overrides = load_overrides(overrides) if overrides else {}

    def is_workday(self, day: date) -> bool:
        override = self.overrides.get(day.year)
        if override is not None:
            return override.is_workday(day)
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            raise UnknownCalendarYear(day.year, self.overrides_path) from None

    def knows(self, year: int) -> bool:
        """Whether the override file or the package has the holidays of ``year``."""
        if year in self.overrides:
            return True
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            return False
        return True

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (not counting ``start``): a deadline of n working days."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day = start
        while n:
            day += timedelta(days=1)
            n -= self.is_workday(day)
        return day

    def workdays_between(self, a: date, b: date) -> int:
        """Working days after ``a`` up to and including ``b`` (negative when b is before a)."""
        if b < a:
            return -self.workdays_between(b, a)
        return sum(self.is_workday(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))


def overrides_path() -> Path:
    """``$GOVWATCH_CALENDAR_OVERRIDES``, else /etc/govwatch/calendar_overrides.yaml."""
    return Path(os.environ.get(ENV_OVERRIDES) or DEFAULT_OVERRIDES)


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    return WorkCalendar(overrides_path())


def is_workday(day: date) -> bool:
    return default_calendar().is_workday(day)


def add_workdays(start: date, n: int) -> date:
    return default_calendar().add_workdays(start, n)


def workdays_between(a: date, b: date) -> int:
    return default_calendar().workdays_between(a, b)


def deadline_state(today: date, yellow_from: date, deadline: date) -> State:
    """A working-day rule's state on ``today``: red after its last day, yellow from its lead day, else green."""
    return State.RED if today > deadline else State.YELLOW if today >= yellow_from else State.GREEN
