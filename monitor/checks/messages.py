"""Citizens' messages (网民留言) against the rules: each answered within 5 working days (yellow from the 4th),
none left unanswered for more than 3 months (单项否决 互动回应差), and answer-time statistics. The rules are pure
(at the top); the check (``MessagesCheck``, at the bottom) reads each message box's list pages.

Working days come from ``monitor.workdays`` (holidays and 调休 Saturdays). A message whose deadline falls
in a year no calendar knows is left out and logged rather than guessed (the calendar check raises that
as its own finding); counts of working days taken that would need such a year are left blank.

The veto looks back over the year before the check, as the 2019 rule does: a message asked earlier is
out of scope. A message answered only after more than 3 months was left unanswered that long all the
same, so it counts for the veto too.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from monitor.checks.base import Context, Fetch, Subject
from monitor.durations import add_months
from monitor.evaluate import TZ
from monitor.extract.message_box import UNREADABLE_LABELS, Message, MessageStatus, read_messages
from monitor.findings import Finding, quoted
from monitor.model import State
from monitor.workdays import UnknownCalendarYear, WorkCalendar, deadline_state, default_calendar

if TYPE_CHECKING:
    from monitor.config import Inventory

log = structlog.get_logger()

CHECK = "message_overdue"


@dataclass(frozen=True, slots=True)
class MessageRules:
    answer_workdays: int = 5  # answered within 5 working days
    yellow_workday: int = 4  # yellow from the 4th working day (a 1 working day lead)
    veto_months: int = 3  # unanswered for more than 3 months: 单项否决
    window_months: int = 12  # the veto looks at the year before the check


DEFAULT_RULES = MessageRules()


@dataclass(frozen=True, slots=True)
class MessageBox:
    """One message list (领导信箱, 政民互动, …) of a site, as the inventory names it."""

    id: str
    name: str
    url: str
    unit_id: str
    site_id: str
    site_name: str = ""
    unit_name: str = ""
    pages: int = 1  # list pages read, following 下一页
    interval_s: float = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class Timing:
    message: Message
    deadline: date  # the last working day to answer in time
    yellow_from: date
    veto_after: date  # still unanswered after this day: more than 3 months
    state: State  # unanswered: GREEN, YELLOW (from the 4th working day), RED (past the deadline); else GREEN
    workdays: int | None  # working days taken to answer, or waited so far; None when the calendar cannot say
    late: bool  # answered after the deadline
    veto: bool  # unanswered for more than 3 months, or answered only after them


def effective(message: Message) -> bool:
    """Messages the rules count: not those the office rejected as invalid (不予受理, 重复, 无效)."""
    return message.status is not MessageStatus.REJECTED


def timing(message: Message, today: date, cal: WorkCalendar, rules: MessageRules = DEFAULT_RULES) -> Timing:
    """Where one message stands on ``today``. Raises UnknownCalendarYear when its deadline needs a year no
    calendar knows."""
    deadline = cal.add_workdays(message.asked, rules.answer_workdays)
    yellow_from = cal.add_workdays(message.asked, rules.yellow_workday)
    veto_after = add_months(message.asked, rules.veto_months)
    answered = message.status is MessageStatus.ANSWERED
    end = message.answered if answered else today
    try:
        workdays = cal.workdays_between(message.asked, end) if end is not None else None
    except UnknownCalendarYear:
        workdays = None
    if answered:
        late = message.answered is not None and message.answered > deadline
        veto = message.answered is not None and message.answered > veto_after
        return Timing(message, deadline, yellow_from, veto_after, State.GREEN, workdays, late, veto)
    state = deadline_state(today, yellow_from, deadline)
    return Timing(message, deadline, yellow_from, veto_after, state, workdays, False, today > veto_after)


def judge(
    messages: Iterable[Message], today: date, cal: WorkCalendar, rules: MessageRules = DEFAULT_RULES,
) -> list[Timing]:
    """The timing of every effective message asked within the window; messages whose deadline needs an
    unknown calendar year are left out (and logged)."""
    start = add_months(today, -rules.window_months)
    found = []
    for message in messages:
        if not effective(message) or message.asked < start or message.asked > today:
            continue
        try:
            found.append(timing(message, today, cal, rules))
        except UnknownCalendarYear as exc:
            log.error("message_deadline_unknown_year", year=exc.year, title=message.title, asked=str(message.asked),
                      detail=str(exc))
    return found


def _key(message: Message) -> str:
    return message.url or f"{message.title}|{message.asked.isoformat()}"


def _evidence(t: Timing, box: MessageBox) -> dict[str, Any]:
    m = t.message
    return {"box": box.name, "box_url": box.url, "title": m.title, "asked": m.asked.isoformat(),
            "answered": m.answered.isoformat() if m.answered else None, "status": m.status_text or str(m.status),
            "deadline": t.deadline.isoformat(), "workdays": t.workdays}


def findings(
    box: MessageBox, messages: Iterable[Message], now: datetime, cal: WorkCalendar,
    rules: MessageRules = DEFAULT_RULES,
) -> list[Finding]:
    """What the box shows wrong now: each unanswered message from its 4th working day (yellow) and past its
    deadline (red), each late answer (yellow), and one veto (red) listing the messages left more than
    3 months."""
    today = now.astimezone(TZ).date()
    out: list[Finding] = []
    vetoes: list[Timing] = []
    n = rules.answer_workdays

    def add(key: str, severity: State, title: str, detail: str, t: Timing) -> None:
        out.append(Finding(CHECK, box.id, key, severity, title, box.unit_id, box.site_id, t.message.url or box.url,
                           detail, _evidence(t, box)))

    for t in judge(messages, today, cal, rules):
        m = t.message
        if t.veto:
            vetoes.append(t)
        status = f"（{m.status_text}）" if m.status_text else ""
        if t.state is State.YELLOW:
            add(f"overdue:{_key(m)}", State.YELLOW, f"留言即将超期未回复：{quoted(m.title)}",
                f"{box.name}：{m.asked} 留言，至今未回复{status}，须在 {t.deadline}（第 {n} 个工作日）前答复", t)
        elif t.state is State.RED:
            waited = f"，已过 {t.workdays} 个工作日" if t.workdays is not None else ""
            add(f"overdue:{_key(m)}", State.RED, f"留言超期未回复：{quoted(m.title)}",
                f"{box.name}：{m.asked} 留言，至今未回复{status}{waited}，答复期限 {t.deadline}（{n} 个工作日）已过", t)
        elif t.late:
            took = f"，用时 {t.workdays} 个工作日" if t.workdays is not None else ""
            add(f"late:{_key(m)}", State.YELLOW, f"留言超期回复：{quoted(m.title)}",
                f"{box.name}：{m.asked} 留言，{m.answered} 才回复{took}，"
                f"超过 {n} 个工作日的答复期限（{t.deadline}）", t)
    if vetoes:
        lines = "；".join(
            f"{quoted(t.message.title)}{t.message.asked} 留言，"
            + (f"{t.message.answered} 才回复" if t.message.answered else "至今未回复") for t in vetoes)
        out.append(Finding(
            CHECK, box.id, "veto", State.RED,
            f"单项否决 互动回应差：{box.name}有 {len(vetoes)} 条有效留言超过 {rules.veto_months} 个月未回复",
            box.unit_id, box.site_id, box.url,
            f"检查前一年内，{box.name}存在超过 {rules.veto_months} 个月未回复的有效留言"
            f"（国办秘函〔2019〕19号 单项否决）：{lines}",
            {"box": box.name, "box_url": box.url, "messages": [_evidence(t, box) for t in vetoes]}))
    return out


@dataclass(frozen=True, slots=True)
class AnswerStats:
    """Answer times of a box or a unit over the window: effective messages only."""

    messages: int = 0
    answered: int = 0
    pending: int = 0
    median_workdays: float | None = None  # over answers with a known date
    max_workdays: int | None = None
    late: int = 0  # answered after the deadline
    overdue: int = 0  # unanswered past the deadline
    vetoes: int = 0  # left unanswered for more than 3 months

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.messages if self.messages else None

    def as_dict(self) -> dict[str, Any]:
        share = self.answered_share
        return {"messages": self.messages, "answered": self.answered, "pending": self.pending,
                "answered_share": round(share, 4) if share is not None else None,
                "median_workdays": self.median_workdays, "max_workdays": self.max_workdays,
                "late": self.late, "overdue": self.overdue, "vetoes": self.vetoes}


def answer_stats(timings: Iterable[Timing]) -> AnswerStats:
    timings = list(timings)
    days = tuple(t.workdays for t in timings
                 if t.message.status is MessageStatus.ANSWERED and t.message.answered and t.workdays is not None)
    answered = sum(1 for t in timings if t.message.status is MessageStatus.ANSWERED)
    return AnswerStats(
        messages=len(timings), answered=answered, pending=len(timings) - answered,
        median_workdays=statistics.median(days) if days else None, max_workdays=max(days) if days else None,
        late=sum(t.late for t in timings), overdue=sum(t.state is State.RED for t in timings),
        vetoes=sum(t.veto for t in timings))


def message_boxes(inventory: Inventory) -> list[MessageBox]:
    """Every message box of the inventory's sites."""
    units = {u.id: u.name for u in inventory.model.units}
    return [MessageBox(box.id or "", box.name, box.url, site.unit, site.id, site.name, units.get(site.unit, ""),
                       box.pages, box.interval.approx_seconds if box.interval else 6 * 3600.0)
            for site in inventory.model.sites for box in site.messages]


def stats_table(
    inventory: Inventory, stored: Mapping[str, tuple[datetime, Sequence[Message]]], now: datetime,
    cal: WorkCalendar, rules: MessageRules = DEFAULT_RULES,
) -> dict[str, Any]:
    """Per unit and per box, the statistics of the messages last read from each box (the board, the API and
    the CLI): boxes never read yet show ``read_at`` None."""
    today = now.astimezone(TZ).date()
    boxes = message_boxes(inventory)
    box_rows = []
    per_unit: dict[str, list[Timing]] = {}
    for box in boxes:
        read_at, messages = stored.get(box.id, (None, ()))
        timings = judge(messages, today, cal, rules)
        per_unit.setdefault(box.unit_id, []).extend(timings)
        box_rows.append({"id": box.id, "name": box.name, "url": box.url, "site_id": box.site_id,
                         "site": box.site_name, "unit_id": box.unit_id, "unit": box.unit_name,
                         "read_at": read_at.astimezone(TZ).isoformat() if read_at else None,
                         **answer_stats(timings).as_dict()})
    names = {u.id: u.name for u in inventory.model.units}
    unit_rows = [{"unit_id": unit_id, "unit": names.get(unit_id, unit_id),
                  "boxes": sum(1 for b in boxes if b.unit_id == unit_id), **answer_stats(timings).as_dict()}
                 for unit_id, timings in per_unit.items()]
    unit_rows.sort(key=lambda r: (-r["vetoes"], -r["overdue"], -r["late"], r["unit"]))
    return {"at": now.isoformat(), "rules": {"answer_workdays": rules.answer_workdays,
                                             "yellow_workday": rules.yellow_workday,
                                             "veto_months": rules.veto_months, "window_months": rules.window_months},
            "units": unit_rows, "boxes": box_rows}

# ------------------------------------------------------------------------------------------ the check


async def read_box(fetcher: Fetch, box: MessageBox, today: date) -> list[Message] | None:
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


class MessagesStore(Protocol):
    async def save_messages(self, box_id: str, messages: Sequence[Message], at: datetime) -> None: ...


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

    async def run(self, subject: Subject, ctx: Context[MessagesStore], now: datetime) -> list[Finding] | None:
        box: MessageBox = subject.data
        messages = await read_box(ctx.fetcher, box, now.astimezone(TZ).date())
        if messages is None:
            return None
        await ctx.store.save_messages(box.id, messages, now)
        return findings(box, messages, now, self._calendar or default_calendar(), self.rules)
