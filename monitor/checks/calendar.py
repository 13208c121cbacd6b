"""The working-day calendar's own alert: a year's holidays must be known before deadlines need them.

The State Council publishes next year's holiday arrangement (国务院办公厅关于××年部分节假日安排的通知)
in the autumn and chinesecalendar follows with a release. Deadlines counted in working days (citizens'
messages, policy interpretations) fail loudly for a year no calendar knows
(``monitor.workdays.UnknownCalendarYear``) rather than guess. So from 1 December a next year that
neither the package nor the override file knows is a red finding for the supervising office, a month
before it is needed; the current year missing (a January with no update) is one as well.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from ruamel.yaml import YAMLError

from monitor.checks.base import Context, Subject
from monitor.evaluate import TZ
from monitor.findings import GOVWATCH, Finding
from monitor.model import State
from monitor.workdays import WorkCalendar, overrides_path

if TYPE_CHECKING:
    from monitor.config import Inventory

log = structlog.get_logger()

WARN_FROM_MONTH = 12  # next year's calendar is needed from 1 December


def missing_year(now: datetime, knows: Callable[[int], bool]) -> int | None:
    """The year whose working-day calendar is needed now and unknown: this year, and from 1 December
    (Asia/Shanghai) next year too; None when every needed year is known."""
    local = now.astimezone(TZ)
    needed = [local.year, *([local.year + 1] if local.month >= WARN_FROM_MONTH else [])]
    return next((year for year in needed if not knows(year)), None)


def calendar_finding(now: datetime, knows: Callable[[int], bool], unit_id: str, overrides: Path) -> Finding | None:
    """The red finding for the supervising office (``unit_id``) when a needed year's calendar is missing."""
    year = missing_year(now, knows)
    if year is None:
        return None
    return Finding(
        "calendar", GOVWATCH, str(year), State.RED,
        f"缺少 {year} 年节假日安排，请更新 chinesecalendar 或 calendar_overrides.yaml", unit_id,
        detail=(f"按工作日计算的期限（网民留言答复、政策解读等）需要 {year} 年的节假日和调休安排，"
                f"当前安装的 chinesecalendar {_package_version()} 和覆盖文件 {overrides} 都没有 {year} 年的数据。"
                f"请在国务院办公厅关于{year}年部分节假日安排的通知发布后升级 chinesecalendar，"
                f"或在 {overrides} 中按通知写入 {year} 年的放假日期（holidays）和调休上班日期（workdays）。"),
        evidence={"year": year, "overrides": str(overrides), "chinesecalendar": _package_version()},
    )


def _package_version() -> str:
    try:
        return version("chinesecalendar")
    except PackageNotFoundError:
        return "（未安装）"


class CalendarCheck:
    """Once a day: is the calendar of every year needed now known? Re-reads the override file each run, so
    a year written into it clears the finding without a restart."""

    name = "calendar"
    produces = ("calendar",)

    def __init__(self, interval_s: float = 86400.0, overrides: Path | None = None) -> None:
        self.interval_s = interval_s
        self.overrides = overrides

    def subjects(self, inventory: Inventory) -> list[Subject]:
        return [Subject(GOVWATCH, self.interval_s, inventory.settings.alerts.supervisor or "")]

    async def run(self, subject: Subject, ctx: Context[object], now: datetime) -> list[Finding] | None:
        path = self.overrides or overrides_path()
        try:
            calendar = WorkCalendar(path)
        except (ValueError, OSError, YAMLError) as exc:
            log.error("calendar_overrides_unreadable", path=str(path), error=str(exc))
            return None
        found = calendar_finding(now, calendar.knows, subject.unit_id, path)
        return [found] if found else []
