"""Durations as the inventory writes them: ``90s``, ``30min``, ``6h``, ``14d``, ``2w``, ``6mo``, ``1y``.

Months and years are calendar units (the national rules say "6 months", not "180 days"), so a
``Duration`` keeps months apart from seconds and is added to a date or datetime by calendar.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

_When = TypeVar("_When", date, datetime)

_UNITS_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_UNITS_MONTHS = {"mo": 1, "y": 12}
_PATTERN = re.compile(r"^\s*(\d+)\s*(s|min|h|d|w|mo|y)\s*$")
HINT = "write a whole number and a unit: 90s, 30min, 6h, 14d, 2w, 6mo, 1y"


@dataclass(frozen=True, slots=True)
class Duration:
    months: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _PATTERN.match(str(text))
        if not match:
            shown = str(text) if len(str(text)) <= 40 else str(text)[:40] + "…"
            raise ValueError(f"not a duration: {shown!r} ({HINT})")
        count, unit = int(match.group(1)), match.group(2)
        if unit in _UNITS_MONTHS:
            return cls(months=count * _UNITS_MONTHS[unit])
        return cls(seconds=count * _UNITS_SECONDS[unit])

    @property
    def whole_days(self) -> bool:
        """True when the duration counts whole days or months, so deadlines fall at midnight."""
        return self.seconds % 86400 == 0

    @property
    def approx_seconds(self) -> float:
        """Length with a month taken as 30.44 days: for scheduling, never for deadlines."""
        return self.months * 30.44 * 86400 + self.seconds

    def after(self, start: datetime) -> datetime:
        return add_months(start, self.months) + timedelta(seconds=self.seconds)

    def before(self, end: datetime) -> datetime:
        return add_months(end, -self.months) - timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        if self.months:
            return f"{self.months}mo" if not self.seconds else f"{self.months}mo+{self.seconds}s"
        for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("min", 60)):
            if self.seconds and self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"


def add_months(when: _When, months: int) -> _When:
    """Calendar month arithmetic, clamping the day: 2026-08-31 + 6 months = 2027-02-28."""
    if not months:
        return when
    index = when.year * 12 + (when.month - 1) + months
    year, month = divmod(index, 12)
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)
