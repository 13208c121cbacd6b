"""Mutes: what holds an alert back now, asked in order (Alertmanager's Muter: silences and inhibition).

Each mute answers for what an alert is ``About``: not muted (None), or ``Muted`` — why (stored as the outbox
item's ``suppressed`` reason) and until when (a silence ends at a known time) or while what holds (an
inhibition lasts while its cause does: the site's homepage unreachable, govwatch cut off). A muted item is
kept in the outbox, never dropped: held, and sent when the mute ends if still due (``alerts.held``), or for the
trail only when a silence says ``discard``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor.daemon import Tracked
from monitor.evaluate import Reason
from monitor.findings import Finding
from monitor.model import Target, TargetKind
from monitor.records import Silence

CUT_OFF_SHARE = 0.5  # more than half of all probed targets failing: govwatch itself is cut off
CUT_OFF_MIN_TARGETS = 10


@dataclass(frozen=True, slots=True)
class About:
    """What an alert is about, as the mutes see it."""

    unit_id: str
    site_id: str
    subject: str  # the target id, or the finding's subject
    homepage: bool = False  # a site's homepage: never held back because its own site is down
    finding: str | None = None  # the finding check, for a finding's alert

    @classmethod
    def target(cls, target: Target) -> About:
        return cls(target.unit_id, target.site_id, target.id, homepage=target.kind == TargetKind.HOMEPAGE)

    @classmethod
    def of_site(cls, unit_id: str, site_id: str) -> About:
        """A site as a whole (its vetoes): a silence of one of its columns does not hold it back."""
        return cls(unit_id, site_id, "")

    @classmethod
    def of_finding(cls, finding: Finding) -> About:
        return cls(finding.unit_id, finding.site_id, finding.subject, finding=finding.check)


@dataclass(frozen=True, slots=True)
class Muted:
    reason: str  # the outbox item's suppressed reason: "silenced#<id>", "site_down", "govwatch_cut_off"
    until: datetime | None = None  # a silence: it ends then
    holds_while: str = ""  # an inhibition: it lasts while this holds (e.g. "site s1's homepage cannot be fetched")
    hold: bool = True  # what it holds back is sent when it ends, if still due (a silence may discard instead)


class Mute(Protocol):
    def muted(self, about: About, now: datetime) -> Muted | None: ...


def first_muted(mutes: Iterable[Mute], about: About, now: datetime) -> Muted | None:
    """The first mute that holds ``about`` back now, in order, or None."""
    for mute in mutes:
        if (muted := mute.muted(about, now)) is not None:
            return muted
    return None


class Silences:
    """Operators' silences of a unit, a site or a target (for a finding: its subject) until a time."""

    def __init__(self) -> None:
        self.active: list[Silence] = []  # as last read from the store

    def muted(self, about: About, now: datetime) -> Muted | None:
        for silence in self.active:
            scope_id = {"unit": about.unit_id, "site": about.site_id, "target": about.subject}[silence.scope]
            if silence.scope_id == scope_id and silence.ends_at > now:
                return Muted(f"silenced#{silence.id}", until=silence.ends_at, hold=not silence.discard)
        return None


class SiteDown:
    """A column's or account's alerts while its site's homepage cannot be fetched (not findings' alerts)."""

    def __init__(self, tracked: Mapping[str, Tracked]) -> None:
        self.tracked = tracked

    def muted(self, about: About, now: datetime) -> Muted | None:
        if about.finding is not None or about.homepage:
            return None
        home = self.tracked.get(f"{about.site_id}-home")
        if home is not None and home.verdict.reasons == (Reason.FETCH_FAILED,):
            return Muted("site_down", holds_while=f"site {about.site_id}'s homepage cannot be fetched")
        return None


class CutOff:
    """Every alert but the availability findings' while most targets fail at once: govwatch lost its own
    connectivity (computed at most once a second)."""

    def __init__(self, tracked: Mapping[str, Tracked]) -> None:
        self.tracked = tracked
        self._at = float("-inf")
        self._state = False

    def muted(self, about: About, now: datetime) -> Muted | None:
        if about.finding == "availability" or not self.cut_off():
            return None
        return Muted("govwatch_cut_off", holds_while="most targets fail at once (govwatch's own network)")

    def cut_off(self) -> bool:
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._at >= 1.0:
            probed = failed = 0
            for tracked in self.tracked.values():
                if tracked.history.latest is not None:
                    probed += 1
                    failed += tracked.history.latest.error is not None
            self._state = probed >= CUT_OFF_MIN_TARGETS and failed > probed * CUT_OFF_SHARE
            self._at = loop_now
        return self._state
