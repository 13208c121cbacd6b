"""Findings: what a check found wrong with a site, page or account, and their life (pure).

Column freshness is a verdict per target. Every other check (hidden links, wrong words, a site that
cannot be reached, a back-dated item, an unanswered message, an unregistered account, …) reports the
*set* of findings it sees now for one subject. ``reconcile`` compares that set with what is known and
yields the changes: found, changed, gone, reappeared. Operators mark a finding false positive (it then
stays quiet while the check keeps seeing it) or fixed (seen again, it reappears). Every change is kept
as the finding's trail; new and worsened findings go to the owning unit through the same outbox as
column alerts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from monitor.model import State

# Line breaks, control and direction-changing characters: a page's words stay on their line and read as written.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]+")
QUOTE_LIMIT = 80  # characters of a page's words a finding quotes


def one_line(text: str) -> str:
    """``text`` on one line, its whitespace runs one space, without control or direction-changing characters."""
    return " ".join(_CONTROL.sub(" ", text).split())


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A monitored page's words as a finding quotes them: in 「…」 on one line, their own corner brackets turned
    into 『』 so that nothing of the page can close the quote and read as govwatch's words, cut to ``limit``
    characters with an ellipsis inside the marks."""
    text = one_line(text).replace("「", "『").replace("」", "』")
    return f"「{text if len(text) <= limit else text[:limit - 1] + '…'}」"


# Each check's name and how its users call it.
CHECKS: dict[str, str] = {
    "availability": "站点无法访问",
    "blocked": "访问被拦截（防火墙/验证）",
    "tls": "证书问题",
    "dns": "域名解析失败",
    "defaced": "首页异常（疑似篡改或停放）",
    "hidden_link": "暗链",
    "broken_link": "错链断链",
    "external_link": "外链无提示",
    "soft404": "页面不存在",
    "word": "错敏词",
    "backdated": "倒签发稿日期",
    "date_changed": "发稿日期被修改",
    "message_overdue": "留言超期未回复",
    "interpretation": "政策文件解读",
    "unregistered": "未备案账号",
    "interaction": "互动功能",
    "service_menu": "服务菜单链接",
    "repost_share": "转载及非政务内容占比",
    "bridge": "账号数据源",
    "calendar": "节假日日历",
    "site_veto": "单项否决",
}


GOVWATCH = "govwatch"  # the subject of findings about govwatch itself (its network, its calendar)


class Status(StrEnum):
    OPEN = "open"
    GONE = "gone"  # the check no longer sees it
    FALSE_POSITIVE = "false_positive"  # an operator said it is not a problem; stays quiet
    FIXED = "fixed"  # an operator said it is fixed; seen again, it reappears


class Event(StrEnum):
    FOUND = "found"
    CHANGED = "changed"  # severity or text changed
    GONE = "gone"
    REAPPEARED = "reappeared"
    MARKED_FALSE_POSITIVE = "marked_false_positive"
    MARKED_FIXED = "marked_fixed"
    REOPENED = "reopened"  # an operator took a mark back


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem one check sees now. ``key`` names it within (check, subject), stable across runs."""

    check: str  # a key of CHECKS
    subject: str  # what it is about: a target id (column, homepage, account) or a site id
    key: str  # e.g. the link's URL and anchor text, the word and the page
    severity: State  # YELLOW (close to a rule, or worth a look) or RED (breaks a rule)
    title: str  # one Chinese line for the board and the alert
    unit_id: str
    site_id: str = ""
    url: str | None = None  # the page it was found on
    detail: str = ""  # Chinese: the context, the evidence in words
    evidence: Mapping[str, Any] = field(default_factory=dict)  # JSON-able facts for the API and MQTT

    @property
    def uid(self) -> str:
        """A short stable id for URLs and the store."""
        return finding_uid(self.check, self.subject, self.key)

    @property
    def label(self) -> str:
        return CHECKS.get(self.check, self.check)


def finding_uid(check: str, subject: str, key: str) -> str:
    return hashlib.blake2b(f"{check}\x1f{subject}\x1f{key}".encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Known:
    """A finding as govwatch knows it: its latest content and status."""

    finding: Finding
    status: Status
    first_seen: datetime
    changed_at: datetime  # the last event


@dataclass(frozen=True, slots=True)
class Change:
    event: Event
    known: Known  # the finding after the change
    previous: Known | None = None
    actor: str = "govwatch"
    note: str = ""

    @property
    def alerts(self) -> bool:
        """Whether the owning unit should hear of this change now."""
        f = self.known.finding
        if self.event in (Event.FOUND, Event.REAPPEARED):
            return f.severity in (State.YELLOW, State.RED)
        if self.event is Event.CHANGED and self.previous is not None:
            return _rank(f.severity) > _rank(self.previous.finding.severity)
        return False


def _rank(state: State) -> int:
    return {State.GREEN: 0, State.UNKNOWN: 0, State.YELLOW: 1, State.RED: 2}[state]


def reconcile(known: Mapping[str, Known], current: Iterable[Finding], now: datetime) -> list[Change]:
    """What changed between the findings known for one (check, subject), keyed by uid, and those seen now.

    A false positive seen again stays quiet; a fixed or gone one seen again reappears; an open one no
    longer seen is gone.
    """
    changes: list[Change] = []
    seen: set[str] = set()
    for finding in current:
        uid = finding.uid
        if uid in seen:
            continue
        seen.add(uid)
        was = known.get(uid)
        if was is None:
            changes.append(Change(Event.FOUND, Known(finding, Status.OPEN, now, now)))
        elif was.status in (Status.GONE, Status.FIXED):
            changes.append(Change(Event.REAPPEARED, Known(finding, Status.OPEN, was.first_seen, now), was))
        elif was.status is Status.OPEN and (was.finding.severity, was.finding.title) != (
                finding.severity, finding.title):
            changes.append(Change(Event.CHANGED, Known(finding, Status.OPEN, was.first_seen, now), was))
    for uid, was in known.items():
        if uid not in seen and was.status is Status.OPEN:
            changes.append(Change(Event.GONE, replace(was, status=Status.GONE, changed_at=now), was))
    return changes


def mark(was: Known, status: Status, now: datetime, actor: str, note: str = "") -> Change:
    """An operator's mark: false positive, fixed, or back to open."""
    event = {Status.FALSE_POSITIVE: Event.MARKED_FALSE_POSITIVE, Status.FIXED: Event.MARKED_FIXED,
             Status.OPEN: Event.REOPENED}[status]
    return Change(event, replace(was, status=status, changed_at=now), was, actor, note)
