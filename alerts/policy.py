"""What is worth telling someone: alerts from verdict changes and from time (pure).

A verdict change gives yellow, red or recovered. Time alone gives the rest: ladder steps on given
days of a column's age, escalation to the supervising office after a time red, and a reminder on
every working day for what stays red. Each alert has an idempotency key built from what makes it
unique (the deadline, the day, the step), so recomputing it after a restart stores it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import structlog

from monitor import workdays
from monitor.config import AlertSettings, LadderStep
from monitor.evaluate import TZ, Reason, Verdict, start_of_day
from monitor.model import State, Target

# How many days ahead to look for the next working day (covers the longest holiday).
_WORKDAY_HORIZON = 14

log = structlog.get_logger()
_unknown_years_logged: set[int] = set()


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # yellow | red | recovered | repeat | escalation | ladder
    target: Target
    verdict: Verdict
    at: datetime  # the instant it happened
    key: str
    to: tuple[str, ...] = field(default=())  # ladder: receiver ids of the target's unit


def _stamp(when: datetime | date | None) -> str:
    if isinstance(when, datetime):
        return str(int(when.timestamp()))
    return when.isoformat() if when else "-"


def change_alerts(target: Target, previous: Verdict | None, verdict: Verdict, at: datetime) -> list[Alert]:
    """Alerts for a verdict change; none for unknown (a fetch failure is not a deadline)."""
    was = previous.state if previous else State.UNKNOWN
    if verdict.state is was:
        return []
    if verdict.state in (State.YELLOW, State.RED):
        kind = str(verdict.state)
        anchor = verdict.deadline if Reason.EMPTY not in verdict.reasons else at
        return [Alert(kind, target, verdict, at, f"{target.id}|{kind}|{_stamp(anchor)}")]
    if verdict.state is State.GREEN and was in (State.YELLOW, State.RED):
        return [Alert("recovered", target, verdict, at, f"{target.id}|recovered|{_stamp(at)}")]
    return []


def is_workday(day: date) -> bool:
    """China's official working days (调休 included), from ``monitor.workdays``, for the reminder only.

    For a year neither the calendar package nor the override file knows, this logs once and falls
    back to Monday to Friday. That is the one place govwatch accepts a guess: a reminder on a
    holiday costs less than the alert timers crashing. Deadlines counted in working days never
    guess (``monitor.workdays`` raises ``UnknownCalendarYear``).
    """
    try:
        return workdays.is_workday(day)
    except workdays.UnknownCalendarYear as exc:
        if exc.year not in _unknown_years_logged:
            _unknown_years_logged.add(exc.year)
            log.warning("calendar_year_unknown", year=exc.year, fallback="monday-friday", detail=str(exc))
        return day.weekday() < 5


def next_reminder(after: datetime, at: time) -> datetime:
    """The first working day's ``at`` strictly after ``after`` (Asia/Shanghai)."""
    local = after.astimezone(TZ)
    for offset in range(_WORKDAY_HORIZON + 1):
        day = local.date() + timedelta(days=offset)
        when = datetime.combine(day, at, tzinfo=TZ)
        if when > local and is_workday(day):
            return when
    return datetime.combine(local.date() + timedelta(days=1), at, tzinfo=TZ)


def scheduled_alerts(
    target: Target, verdict: Verdict, now: datetime, settings: AlertSettings,
    ladder: tuple[LadderStep, ...] = (),
) -> list[tuple[datetime, Alert]]:
    """The time-based alerts still ahead for this verdict, soonest first."""
    ahead: list[tuple[datetime, Alert]] = []
    newest = verdict.newest_date
    if verdict.state in (State.GREEN, State.YELLOW) and newest is not None:
        for step in ladder:
            when = step.after.after(start_of_day(newest))
            if now < when and (verdict.deadline is None or when < verdict.deadline):
                key = f"{target.id}|ladder|{step.after}|{newest.isoformat()}"
                ahead.append((when, Alert("ladder", target, verdict, when, key, step.to)))
    if verdict.state is State.RED and verdict.deadline is not None:
        if settings.escalate_after is not None and settings.supervisor is not None:
            when = settings.escalate_after.after(verdict.deadline)
            if now < when:
                ahead.append((when, Alert("escalation", target, verdict, when,
                                          f"{target.id}|escalation|{_stamp(verdict.deadline)}")))
        if settings.repeat_at is not None:
            hour, minute = (int(x) for x in settings.repeat_at.split(":"))
            when = next_reminder(max(now, verdict.deadline), time(hour, minute))
            ahead.append((when, Alert("repeat", target, verdict, when,
                                      f"{target.id}|repeat|{when.astimezone(TZ).date().isoformat()}")))
    return sorted(ahead, key=lambda pair: pair[0])
