"""Verdicts: a pure function of (rule, what was observed, now).

A column whose newest item is dated D under a 2-week rule is red from the start of day D+15
(Asia/Shanghai) and yellow from the lead time before that. For rules in whole days or calendar
months the clock starts at the end of day D; for sub-day rules (only used by tests and
benchmarks) it starts when govwatch first saw that newest date.

Freshness is *unknown*, never red, when the page could not be fetched or read: a fetch failure
or an unreadable page is its own finding. A list that had items and now yields none, or whose
structure moved, is "page changed" — kept apart from "not updated".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.model import EmptyReason, Observation, State
from monitor.rules import Rule

TZ = ZoneInfo("Asia/Shanghai")


class Reason:
    """Machine codes of a verdict's reasons (stored, exported, routed on)."""

    FRESH = "fresh"
    NEAR_DEADLINE = "near_deadline"
    STALE = "stale"
    EMPTY = "empty"
    NOT_PROBED = "not_probed"
    FETCH_FAILED = "fetch_failed"
    JS_RENDERED = "js_rendered"
    UNREADABLE = "unreadable"
    PAGE_CHANGED = "page_changed"
    SOURCE_FAULT = "source_fault"
    BRIDGE_STALLED = "bridge_stalled"  # with SOURCE_FAULT: the bridge serving the account stopped syncing
    BRIDGE_FAILING = "bridge_failing"  # with SOURCE_FAULT: the bridge serving the account fails to serve it
    NEEDS_BROWSER = "needs_browser"


@dataclass(frozen=True, slots=True)
class SourceDown:
    """The bridge that serves an account (RSSHub, wewe-rss, …) is known not to be reading it: stalled (nothing it
    serves is current, so none of its accounts can be judged) or failing (what it failed to serve says nothing
    of the account). Its accounts are unknown — 账号数据源异常 — never red."""

    reason: str  # Reason.BRIDGE_STALLED | Reason.BRIDGE_FAILING
    detail: str  # what is wrong with the bridge, in Chinese


@dataclass(frozen=True, slots=True)
class History:
    """What the evaluator needs to know of a target's past, kept in memory by the daemon."""

    latest: Observation | None = None
    # The most recent observation before ``latest`` that read a dated list.
    last_good: Observation | None = None
    # When the current newest date was first observed (anchors sub-day rules).
    newest_first_seen: datetime | None = None
    # The most recent observation that read the page (fetched, not a 304): a 304 says the page still says
    # what it said then — no list, no dates, a changed page — so the verdict stays what that read gave.
    last_read: Observation | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    reasons: tuple[str, ...]
    newest_date: date | None = None
    yellow_at: datetime | None = None
    deadline: datetime | None = None
    # The next instant at which this verdict changes by time alone (None: never).
    next_change: datetime | None = None
    detail: str = ""

    def same_as(self, other: Verdict | None) -> bool:
        """Equal in what a person is told: state, reasons, newest date and deadline."""
        return other is not None and (self.state, self.reasons, self.newest_date, self.deadline) == (
            other.state,
            other.reasons,
            other.newest_date,
            other.deadline,
        )


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TZ)


def deadline_for(rule: Rule, newest: date, first_seen: datetime | None) -> datetime:
    """The instant the column turns red."""
    if rule.deadline.whole_days or first_seen is None:
        return rule.deadline.after(start_of_day(newest + timedelta(days=1)))
    return rule.deadline.after(first_seen)


DAY = timedelta(days=1)


def days_overdue(deadline: datetime, now: datetime) -> int:
    """已超期 N 天: whole days since the deadline instant, plus one — the first day past the deadline is day 1.

    The one convention of the board, the alerts, the report and the dashboards (PromQL
    ``floor((time() - deadline) / 86400) + 1``). Deadlines of day and month rules fall at midnight in
    Asia/Shanghai, so N is also the calendar days since the last day allowed (red from D+15 = 1 day).
    """
    return (now - deadline) // DAY + 1


def days_left(deadline: datetime, now: datetime) -> int:
    """距期限 N 天: days until the deadline instant, rounded up (PromQL ``ceil((deadline - time()) / 86400)``);
    for a midnight deadline, the calendar days from today to the day it falls on."""
    return -((now - deadline) // DAY)


def countdown(verdict: Verdict, now: datetime) -> tuple[int | None, int | None]:
    """(days overdue, days left) as the board and the alerts show them: one of the two, or neither."""
    if verdict.deadline is None:
        return None, None
    if verdict.state is State.RED:
        return days_overdue(verdict.deadline, now), None
    return None, days_left(verdict.deadline, now)


def freshness(rule: Rule, newest: date, first_seen: datetime | None, now: datetime) -> Verdict:
    """Green, yellow or red for a known newest date."""
    deadline = deadline_for(rule, newest, first_seen)
    yellow_at = min(rule.lead.before(deadline), deadline)
    if now >= deadline:
        overdue = days_overdue(deadline, now)
        return Verdict(
            State.RED, (Reason.STALE,), newest, yellow_at, deadline, None,
            f"最新信息 {newest.isoformat()}，已超期 {overdue} 天（{rule.text}）",
        )
    if now >= yellow_at:
        left = days_left(deadline, now)
        return Verdict(
            State.YELLOW, (Reason.NEAR_DEADLINE,), newest, yellow_at, deadline, deadline,
            f"最新信息 {newest.isoformat()}，距期限 {left} 天（{rule.text}）",
        )
    return Verdict(
        State.GREEN, (Reason.FRESH,), newest, yellow_at, deadline, yellow_at,
        f"最新信息 {newest.isoformat()}（{rule.text}）",
    )


def _unknown(reason: str, detail: str, newest: date | None) -> Verdict:
    return Verdict(State.UNKNOWN, (reason,), newest, detail=detail)


def evaluate(rule: Rule, history: History, now: datetime, source: SourceDown | None = None) -> Verdict:
    """The verdict for one column (or account) at ``now``; ``source``: the account's bridge is down."""
    obs, good = history.latest, history.last_good
    known = good.newest_date if good else None
    if source is not None and (source.reason == Reason.BRIDGE_STALLED or obs is None or obs.error is not None
                               or obs.reason is EmptyReason.SOURCE_FAULT):
        newest = obs.newest_date if obs is not None and obs.newest_date is not None else known
        return Verdict(State.UNKNOWN, (Reason.SOURCE_FAULT, source.reason), newest,
                       detail=f"账号数据源异常：{source.detail}；数据源恢复前不判断该账号是否更新")
    if obs is None:
        return _unknown(Reason.NOT_PROBED, "尚未检测", None)
    if obs.error is not None:
        return _unknown(Reason.FETCH_FAILED, f"页面无法访问：{obs.detail or obs.error}", known)
    if obs.not_modified and history.last_read is not None and history.last_read.newest_date is None:
        obs = history.last_read  # unchanged since a read without a date: still unreadable, still changed
    elif obs.not_modified:
        if known is None:
            return _unknown(Reason.NOT_PROBED, "页面未变化，尚无可用的检测结果", None)
        return freshness(rule, known, history.newest_first_seen, now)
    if obs.reason is EmptyReason.SOURCE_FAULT:
        return _unknown(Reason.SOURCE_FAULT, "账号数据源异常：订阅源返回错误页、验证码页、非订阅内容或空内容，"
                        "请检查 RSSHub/wewe-rss 等数据源", known)
    if obs.reason is EmptyReason.NEEDS_BROWSER:
        return _unknown(Reason.NEEDS_BROWSER, obs.detail or "需要浏览器渲染组件", known)
    if obs.newest_date is None:
        return _undated(obs, good, known)
    verdict = freshness(rule, obs.newest_date, history.newest_first_seen, now)
    if good is not None and good.signature and obs.signature and good.signature != obs.signature:
        return _with_reason(verdict, Reason.PAGE_CHANGED, "；页面结构已变化，请核对栏目地址")
    return verdict


def _undated(obs: Observation, good: Observation | None, known: date | None) -> Verdict:
    """A fetched page that yields no newest date."""
    if good is not None:
        return _unknown(Reason.PAGE_CHANGED, "栏目原有列表现已读取不到：页面改版或模板变化，请核对栏目地址", known)
    if obs.reason is EmptyReason.EMPTY:
        return Verdict(State.RED, (Reason.EMPTY,), None, detail="空白栏目：栏目无任何信息")
    if obs.reason is EmptyReason.JS_RENDERED:
        return _unknown(Reason.JS_RENDERED, "栏目列表由脚本生成，无法直接读取", None)
    return _unknown(Reason.UNREADABLE, "未能在页面中识别出带日期的信息列表", None)


def _with_reason(verdict: Verdict, reason: str, detail: str) -> Verdict:
    return Verdict(
        verdict.state, (*verdict.reasons, reason), verdict.newest_date, verdict.yellow_at,
        verdict.deadline, verdict.next_change, verdict.detail + detail,
    )


def advance(history: History, obs: Observation) -> History:
    """The history after one more observation (pure)."""
    previous = history.latest
    last_good = history.last_good
    if previous is not None and previous.newest_date is not None and not previous.not_modified:
        last_good = previous
    first_seen = history.newest_first_seen
    if obs.newest_date is not None and not obs.not_modified:
        known = last_good.newest_date if last_good else None
        if obs.newest_date != known or first_seen is None:
            first_seen = obs.at
    last_read = obs if obs.fetched and not obs.not_modified else history.last_read
    return History(obs, last_good, first_seen, last_read)
