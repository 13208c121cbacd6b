"""The quarterly score table (季度得分表) from the stored verdict history.

Scoring follows seed 003 (仲恺高新区 2018 Q4) by default: each warning (预警) on a column deducts
动态要闻 3, 通知公告/政策文件 4, 规划计划/人事信息 5 points; the quarterly score is 100 minus the
deductions (never below 0). A warning is one episode: a column that went yellow or red and stayed
so (through unknowns) until it was green again; an episode open at any moment of the quarter
counts once in that quarter. A site is 不合格 when it has a veto or its score is under 60. Vetoes:
its homepage red at the quarter's end (首页不更新); at one moment of the quarter, as many of its
columns as ``monitor.vetoes`` counts for a veto (≥ 5 动态要闻/通知公告/政策文件 columns stale: 栏目不更新;
≥ 10 columns stale: 栏目长期未更新; ≥ 5 blank columns: 空白栏目); and every red finding of a veto
check (unreachable site, hidden links, serious wrong words, back-dated items, messages unanswered
for 3 months, …; ``Scoring.veto_checks``) that was open at some moment of the quarter, unless an
operator marked it a false positive.

A 政务新媒体 account is 不合格 for the quarter when it was red at any moment of it: red means no post
within its 2-week rule, which rules.md makes a veto (内容不更新), and an inspector's check at that
moment would have failed it; a red finding of a veto check on the account fails it too. Accounts
have their own 合格率; they deduct no points and do not change their unit's 是否合格 (the table
scores websites), but each failing account is named in the unit's 说明 and in the 通报.

The writers (``xlsx``, ``html``, ``notice``) print a ``Report``; this module only computes it.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from monitor.evaluate import TZ, days_overdue
from monitor.findings import CHECKS
from monitor.model import TargetKind
from monitor.records import FindingEvent, TargetInfo, VerdictRow
from monitor.vetoes import VETO_RULES

WARNING_STATES = ("yellow", "red")
# How each column veto of monitor.vetoes is named in the table and the 通报.
COLUMN_VETO_NAMES = {"stale_news_notices": "栏目不更新", "long_stale": "栏目长期未更新", "blank": "空白栏目"}
OPENS = ("found", "reappeared", "reopened")  # finding events after which it is open
CLOSES = ("gone", "marked_fixed", "marked_false_positive")


@dataclass(frozen=True, slots=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", text)
        if not match or not 1970 < int(match[1]) < 9999:
            raise ValueError(f"not a quarter: {text!r} (write e.g. 2026Q4)")
        return cls(int(match[1]), int(match[2]))

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        nxt = date(self.year + 1, 1, 1) if self.number == 4 else date(self.year, 3 * self.number + 1, 1)
        return nxt - timedelta(days=1)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), tzinfo=TZ)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), tzinfo=TZ)

    @property
    def label(self) -> str:
        return f"{self.year}年第{'一二三四'[self.number - 1]}季度"

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


@dataclass(frozen=True, slots=True)
class Scoring:
    deductions: dict[str, float] = field(default_factory=lambda: {
        "动态要闻": 3, "通知公告": 4, "政策文件": 4, "规划计划": 5, "人事信息": 5})
    # The table's columns (header, categories), as in seed 003.
    columns: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("工作动态", ("动态要闻",)), ("通知公告", ("通知公告",)), ("部门文件", ("政策文件",)),
        ("规划计划", ("规划计划", "人事信息")))
    pass_mark: float = 60
    stale_veto_columns: int = 5  # the 栏目不更新 count (monitor.vetoes' stale_news_notices rule)
    # Finding checks whose red findings are site (or account) vetoes; "check/key" counts only that finding key
    # (a message red past its 5 working days is no veto, the box's 3-month "veto" finding is).
    veto_checks: tuple[str, ...] = ("availability", "hidden_link", "word", "backdated", "message_overdue/veto",
                                    "defaced", "interaction")

    @classmethod
    def load(cls, path: Path) -> Scoring:
        """A YAML file with any of: deductions (category: points), pass_mark, stale_veto_columns, veto_checks."""
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        keys = ("deductions", "pass_mark", "stale_veto_columns", "veto_checks")
        unknown = set(data) - set(keys)
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}; use {', '.join(keys)}")
        base = cls()
        checks = tuple(str(c) for c in data.get("veto_checks", base.veto_checks))
        unknown = {c.partition("/")[0] for c in checks} - set(CHECKS)
        if unknown:
            raise ValueError(f"{path}: veto_checks: unknown checks {sorted(unknown)}; use any of {', '.join(CHECKS)}"
                             " (check/key for one finding key only)")
        return cls({**base.deductions, **{str(k): float(v) for k, v in (data.get("deductions") or {}).items()}},
                   base.columns, float(data.get("pass_mark", base.pass_mark)),
                   int(data.get("stale_veto_columns", base.stale_veto_columns)), checks)

    def header_for(self, category: str) -> str | None:
        return next((h for h, cats in self.columns if category in cats), None)


@dataclass(frozen=True, slots=True)
class Warning:
    """One 预警 episode of one column, with its evidence, dated from the deadline crossing: ``red_at`` is the
    instant the column turned red (its deadline), not when govwatch saw it red; an episode govwatch first saw
    already red starts there too. ``first_seen`` is set when the episode began at govwatch's first look at
    the column (then it was already overdue, or near its deadline, before govwatch watched it)."""

    target: TargetInfo
    start: datetime
    red_at: datetime | None
    end: datetime | None  # back to green; None while still open
    newest_date: date | None
    deadline: datetime | None
    points: float
    overdue_days: int | None  # as of the episode's end or the quarter's end
    first_seen: datetime | None = None  # govwatch's first look at the column, when the episode began there

    @property
    def state_text(self) -> str:
        return "超期未更新" if self.red_at else "临近更新期限"

    @property
    def seen_red(self) -> bool:
        """Whether govwatch saw the episode red from its start (never yellow first)."""
        return self.red_at is not None and self.start == self.red_at

    @property
    def first_seen_text(self) -> str:
        """「首次监测时已超期」 (or near its deadline, or blank) when govwatch first saw the column so; else ""."""
        if self.first_seen is None:
            return ""
        if not self.seen_red:
            return "首次监测时已临近更新期限"
        return "首次监测时已为空白栏目" if self.newest_date is None else "首次监测时已超期"


@dataclass(frozen=True, slots=True)
class Veto:
    site_id: str
    site_name: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class RedSpan:
    """A time an account was red (内容不更新); ``end`` None: still red at the report's end."""

    start: datetime  # the deadline crossing (when known), not when govwatch saw it red
    end: datetime | None
    newest_date: date | None
    first_seen: datetime | None = None  # govwatch's first look at the account, when it was already red then


@dataclass(slots=True)
class AccountResult:
    target: TargetInfo
    red: list[RedSpan] = field(default_factory=list)
    vetoes: list[Veto] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.red and not self.vetoes

    @property
    def problems(self) -> list[str]:
        """Each reason it failed, with its evidence, in Chinese."""
        out = []
        for span in self.red:
            newest = f"最新发布 {span.newest_date}" if span.newest_date else "无可读的发布记录"
            if span.first_seen is not None:
                newest += f"，首次监测时已超期，{span.first_seen:%Y-%m-%d %H:%M} 首次监测"
            until = f"{span.end:%Y-%m-%d %H:%M} 恢复更新" if span.end else "截至统计时仍未更新"
            out.append(f"【单项否决·内容不更新】{span.start:%Y-%m-%d %H:%M} 起超过更新期限未更新（{newest}），{until}")
        out += [f"【单项否决·{v.reason}】{v.detail}" for v in self.vetoes]
        return out


@dataclass(slots=True)
class Score:
    id: str
    name: str
    by_column: dict[str, float] = field(default_factory=dict)
    other: float = 0
    warnings: list[Warning] = field(default_factory=list)
    vetoes: list[Veto] = field(default_factory=list)
    accounts: list[AccountResult] = field(default_factory=list)
    sites: int = 0

    @property
    def deduction(self) -> float:
        return sum(w.points for w in self.warnings)

    @property
    def score(self) -> float:
        return max(0.0, 100 - self.deduction)

    def passed(self, scoring: Scoring) -> bool:
        return not self.vetoes and self.score >= scoring.pass_mark


@dataclass(slots=True)
class Report:
    quarter: Quarter
    scoring: Scoring
    as_of: datetime
    units: list[Score]
    sites: list[Score]
    accounts: list[AccountResult] = field(default_factory=list)

    @property
    def sites_passed(self) -> int:
        return sum(s.passed(self.scoring) for s in self.sites)

    @property
    def pass_rate(self) -> float | None:
        return self.sites_passed / len(self.sites) if self.sites else None

    @property
    def accounts_passed(self) -> int:
        return sum(a.passed for a in self.accounts)

    @property
    def account_pass_rate(self) -> float | None:
        return self.accounts_passed / len(self.accounts) if self.accounts else None

    @property
    def has_other(self) -> bool:
        return any(u.other for u in self.units)


def _local(when: datetime | None) -> datetime | None:
    return when.astimezone(TZ) if when is not None else None


def _episodes(target: TargetInfo, rows: Sequence[VerdictRow], quarter: Quarter, as_of: datetime,
              scoring: Scoring) -> list[Warning]:
    """Warning episodes of one target that were open at some moment of the quarter."""
    found: list[Warning] = []
    open_: dict[str, Any] | None = None
    judged = False  # govwatch has read the column before (a green, yellow or red verdict)

    def close(end: datetime | None) -> None:
        assert open_ is not None
        if open_["seen"] < quarter.end and (end is None or end > quarter.start):
            stop = min(end or as_of, as_of, quarter.end) - timedelta(microseconds=1)
            deadline = open_["deadline"]
            overdue = None
            if open_["red_at"] and deadline is not None and stop >= deadline:
                overdue = days_overdue(deadline, stop)
            start = open_["red_at"] if open_["seen_red"] else open_["seen"]
            found.append(Warning(target, start, open_["red_at"], end, open_["newest"], deadline,
                                 scoring.deductions.get(target.category, 0), overdue,
                                 open_["seen"] if open_["first_look"] else None))

    for row in rows:
        when, state = row.at.astimezone(TZ), row.state
        if when >= quarter.end or when > as_of:
            break
        if state in WARNING_STATES:
            if open_ is None:
                open_ = {"seen": when, "red_at": None, "newest": None, "deadline": None, "seen_red": state == "red",
                         "first_look": not judged}
            if state == "red" and open_["red_at"] is None:
                # the deadline crossing; govwatch saw it then (its timer) or later (first look, after a failed read)
                deadline = _local(row.deadline)
                open_["red_at"] = deadline if deadline is not None and deadline <= when else when
                if not open_["seen_red"]:
                    open_["red_at"] = max(open_["red_at"], open_["seen"])
            open_["newest"] = row.newest_date or open_["newest"]
            open_["deadline"] = _local(row.deadline) or open_["deadline"]
        elif state == "green" and open_ is not None:
            close(when)
            open_ = None
        judged = judged or state in ("green", *WARNING_STATES)
    if open_ is not None:
        close(None)
    return found


def _state_at(rows: Sequence[VerdictRow], instant: datetime) -> str | None:
    state = None
    for row in rows:
        if row.at >= instant:
            break
        state = row.state
    return state


def _column_vetoes(site: str, name: str, columns: list[TargetInfo], history: dict[str, list[VerdictRow]],
                   quarter: Quarter, until: datetime, scoring: Scoring) -> list[Veto]:
    """Each column veto of ``monitor.vetoes`` the site reached at some moment of the quarter, counted from its
    columns' verdict reasons as the daemon counts them; the first such moment is the evidence."""
    watched = [t for t in columns if t.kind == TargetKind.COLUMN]
    times = {t.id: [r.at for r in history[t.id]] for t in watched}
    q0, q1 = quarter.start, until
    instants = sorted({q0, *(at for t in watched for at in times[t.id] if q0 <= at < q1)})

    def reasons(t: TargetInfo, instant: datetime) -> tuple[str, ...]:
        i = bisect.bisect_right(times[t.id], instant)
        return history[t.id][i - 1].reasons if i else ()

    found = []
    for rule in VETO_RULES:
        needed = scoring.stale_veto_columns if rule.kind == "stale_news_notices" else rule.red_at
        for instant in instants:
            hit = [t for t in watched if rule.counts(t.category, reasons(t, instant))]
            if len(hit) >= needed:
                found.append(Veto(site, name, COLUMN_VETO_NAMES[rule.kind],
                                  f"{instant.astimezone(TZ):%Y-%m-%d %H:%M} 起同时有 {len(hit)} 个{rule.label}"
                                  f"（{needed} 个即单项否决）：{'、'.join(t.name for t in hit)}"))
                break
    return found


def _red_spans(rows: Sequence[VerdictRow], quarter: Quarter, as_of: datetime) -> list[RedSpan]:
    """The times a target was red that overlap the quarter; an unknown stretch does not end one (a failed
    read is no new post), a green or yellow verdict does."""
    spans: list[RedSpan] = []
    start: datetime | None = None
    newest: date | None = None
    first: datetime | None = None  # the span began at govwatch's first look at the account
    judged = False
    for row in rows:
        when, state = row.at.astimezone(TZ), row.state
        if when >= quarter.end or when > as_of:
            break
        if state == "red":
            if start is None:
                deadline = _local(row.deadline)
                start = deadline if deadline is not None and deadline <= when else when
                first = None if judged else when
            newest = row.newest_date or newest
        elif state in ("green", "yellow") and start is not None:
            spans.append(RedSpan(start, when, newest, first))
            start, newest = None, None
        judged = judged or state in ("green", *WARNING_STATES)
    if start is not None:
        spans.append(RedSpan(start, None, newest, first))
    return [s for s in spans if s.end is None or s.end > quarter.start]


@dataclass(frozen=True, slots=True)
class FindingVeto:
    """A red finding of a veto check, open at some moment of the quarter."""

    check: str
    subject: str
    site_id: str
    title: str
    detail: str
    start: datetime  # red and open from (the first such moment up to the quarter's end)
    end: datetime | None  # closed (gone, fixed) or no longer red; None: still open and red at the report's end

    def veto(self, site_name: str) -> Veto:
        """The veto with its evidence, each fact once: the title without the site's name (the veto names it), when
        it was found and whether it still stands, the finding's detail."""
        until = f"，{self.end:%Y-%m-%d %H:%M} 消除" if self.end else "，截至统计时仍存在"
        title = self.title.removeprefix(site_name) if self.title != site_name else self.title
        return Veto(self.site_id, site_name, CHECKS.get(self.check, self.check),
                    f"{title}（{self.start:%Y-%m-%d %H:%M} 发现{until}）。{self.detail}".rstrip("。"))


def veto_check_names(scoring: Scoring) -> dict[str, set[str] | None]:
    """The finding checks whose red findings are vetoes → the keys that count (None: every key)."""
    wanted: dict[str, set[str] | None] = {}
    for entry in scoring.veto_checks:
        check, _, key = entry.partition("/")
        keys = wanted.get(check, set())
        wanted[check] = None if keys is None or not key else keys | {key}
    return wanted


def _finding_vetoes(trails: Sequence[FindingEvent], quarter: Quarter, until: datetime,
                    scoring: Scoring) -> list[FindingVeto]:
    """Red findings of the veto checks open at some moment of [quarter start, until), from their trails (the
    store gives the veto checks' trails before ``until``, without false positives)."""
    wanted = veto_check_names(scoring)
    by_uid: dict[str, list[FindingEvent]] = defaultdict(list)
    for row in trails:
        keys = wanted.get(row.check, set())
        if keys is None or row.key in keys:
            by_uid[row.uid].append(row)
    found = []
    for events in by_uid.values():
        first_event = events[0]
        check, subject, site_id = first_event.check, first_event.subject, first_event.site_id
        title, detail = first_event.title, first_event.detail
        spans: list[tuple[datetime, datetime | None]] = []
        open_, red, since = False, False, None
        for row in events:
            if row.event in OPENS:
                open_ = True
            elif row.event in CLOSES:
                open_ = False
            red = row.severity == "red"
            if open_ and red and since is None:
                since = row.at.astimezone(TZ)
            elif not (open_ and red) and since is not None:
                spans.append((since, row.at.astimezone(TZ)))
                since = None
        if since is not None:
            spans.append((since, None))
        overlapping = [(a, b) for a, b in spans if a < until and (b is None or b > quarter.start)]
        if overlapping:
            first, last = overlapping[0], overlapping[-1]
            found.append(FindingVeto(check, subject, site_id, title, detail, max(first[0], quarter.start), last[1]))
    return sorted(found, key=lambda f: (f.start, f.title))


@dataclass(frozen=True, slots=True)
class QuarterHistory:
    """What a quarter's report is computed from, as the store gives it."""

    targets: Sequence[TargetInfo]  # watched in the quarter: active, or with a verdict in it
    verdicts: Sequence[VerdictRow]  # every verdict before the quarter's end, oldest first
    trails: Sequence[FindingEvent]  # the veto checks' finding trails before the report's instant


def report_instant(quarter: Quarter, now: datetime | None = None) -> datetime:
    """The instant a report describes: now, or the quarter's end once it is over."""
    return min(now or datetime.now(TZ), quarter.end)


def compute(data: QuarterHistory, quarter: Quarter, scoring: Scoring | None = None,
            units: Sequence[tuple[str, str]] = (), now: datetime | None = None) -> Report:
    """The quarter's report from its history. ``units`` (id, name) gives the table's order and units without
    targets."""
    scoring = scoring or Scoring()
    as_of = report_instant(quarter, now)
    listed = list(data.targets)
    targets = [t for t in listed if t.kind != TargetKind.ACCOUNT]
    history: dict[str, list[VerdictRow]] = defaultdict(list)
    for row in data.verdicts:
        history[row.target_id].append(row)

    unit_scores: dict[str, Score] = {uid: Score(uid, name) for uid, name in units}
    site_scores: dict[str, Score] = {}
    by_site: dict[str, list[TargetInfo]] = defaultdict(list)
    for t in targets:
        unit = unit_scores.setdefault(t.unit_id, Score(t.unit_id, t.unit_name))
        site = site_scores.setdefault(t.site_id, Score(t.site_id, t.site_name))
        by_site[t.site_id].append(t)
        for w in _episodes(t, history[t.id], quarter, as_of, scoring):
            for score in (unit, site):
                score.warnings.append(w)
                header = scoring.header_for(t.category)
                if header:
                    score.by_column[header] = score.by_column.get(header, 0) + w.points
                else:
                    score.other += w.points
    accounts: dict[str, AccountResult] = {}
    for t in listed:
        if t.kind == TargetKind.ACCOUNT:
            account = accounts[t.id] = AccountResult(t, _red_spans(history[t.id], quarter, as_of))
            unit_scores.setdefault(t.unit_id, Score(t.unit_id, t.unit_name)).accounts.append(account)
    owner = {site_id: columns[0].unit_id for site_id, columns in by_site.items()}
    for found in _finding_vetoes(data.trails, quarter, as_of, scoring):
        if found.subject in accounts:
            accounts[found.subject].vetoes.append(found.veto(accounts[found.subject].target.name))
        elif found.site_id in site_scores:
            veto = found.veto(site_scores[found.site_id].name)
            site_scores[found.site_id].vetoes.append(veto)
            unit_scores[owner[found.site_id]].vetoes.append(veto)
    for site_id, columns in by_site.items():
        site = site_scores[site_id]
        unit = unit_scores[columns[0].unit_id]
        unit.sites += 1
        vetoes = []
        for t in columns:
            if t.kind == TargetKind.HOMEPAGE and _state_at(history[t.id], as_of) == "red":
                vetoes.append(Veto(site_id, t.site_name, "首页不更新",
                                   f"截至 {as_of - timedelta(microseconds=1):%Y-%m-%d} 网站首页超期未更新"))
        vetoes += _column_vetoes(site_id, site.name, columns, history, quarter, as_of, scoring)
        site.vetoes += vetoes
        unit.vetoes += vetoes
    return Report(quarter, scoring, as_of, list(unit_scores.values()), list(site_scores.values()),
                  list(accounts.values()))
