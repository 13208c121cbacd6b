"""The findings book: what every check beyond freshness found, per (check, subject), and its changes.

A check reports the findings it sees now for one subject; ``reconcile`` (pure) compares them with what is
known and yields the changes (found, changed, gone, reappeared). Each change is written with its trail and
the alerts and MQTT events it causes in one transaction. Operators' marks made through the CLI against
the same store are taken in every ``MARKS_REFRESH_S``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

import structlog

from monitor.daemon.hooks import Hooks
from monitor.evaluate import TZ
from monitor.findings import Change, Finding, Known, Status, mark, reconcile
from monitor.records import FindingsRecord, Record
from monitor.store import FindingStore

log = structlog.get_logger()
MARKS_REFRESH_S = 30.0


class FindingsBook:
    def __init__(self, store: FindingStore, enqueue: Callable[[Record], None], hooks: Hooks,
                 clock: Callable[[], datetime],
                 changed: Callable[[set[tuple[str, str]], datetime], None] = lambda scopes, at: None) -> None:
        self.store = store
        self.enqueue = enqueue
        self.hooks = hooks
        self.clock = clock
        self.changed = changed  # the (check, subject) scopes whose findings changed or were marked (the monitor)
        self.findings: dict[tuple[str, str], dict[str, Known]] = {}  # per (check, subject), keyed by uid
        self._scope: dict[str, tuple[str, str]] = {}  # uid → (check, subject)
        self._marks_seen = datetime.min.replace(tzinfo=TZ)

    async def load(self, now: datetime) -> None:
        """Every finding the store knows, with its status (gone and fixed ones too: seen again, they reappear)."""
        for known in await self.store.load_findings():
            self._remember(known)
        self._marks_seen = now

    def report_many(self, produces: Sequence[str], subject: str, found: Sequence[Finding], at: datetime) -> None:
        """Report a check's findings for one subject, split by the finding checks it produces (a produced
        check with nothing seen now means its open findings are gone)."""
        by_check: dict[str, list[Finding]] = {name: [] for name in produces}
        for finding in found:
            by_check.setdefault(finding.check, []).append(finding)
        for name, findings in by_check.items():
            self.report(name, subject, findings, at)

    def report(self, check: str, subject: str, findings: Sequence[Finding], at: datetime) -> list[Change]:
        """The findings one check sees now for one subject: reconcile with what is known, then store the
        changes with their trail and the alerts and MQTT events they cause, in one transaction."""
        changes = reconcile(self.findings.get((check, subject), {}), findings, at)
        if changes:
            self._apply(changes, at)
        return changes

    def known(self, check: str, subject: str) -> list[Finding]:
        """The findings of (check, subject) that still stand (open, or marked false positive): what a check that
        could not look this time reports again so that they stay as they were."""
        known = self.findings.get((check, subject), {})
        return [k.finding for k in known.values() if k.status in (Status.OPEN, Status.FALSE_POSITIVE)]

    def get(self, uid: str) -> Known | None:
        """A finding as known now, by uid."""
        scope = self._scope.get(uid)
        return self.findings[scope][uid] if scope is not None else None

    def mark(self, uid: str, status: Status, actor: str, note: str = "") -> Change | None:
        """An operator marks a finding false positive, fixed, or open again; None for an unknown uid."""
        scope = self._scope.get(uid)
        if scope is None:
            return None
        change = mark(self.findings[scope][uid], status, self.clock(), actor, note)
        self._apply([change], change.known.changed_at)
        return change

    def _remember(self, known: Known) -> None:
        f = known.finding
        self.findings.setdefault((f.check, f.subject), {})[f.uid] = known
        self._scope[f.uid] = (f.check, f.subject)

    def _apply(self, changes: Sequence[Change], at: datetime) -> None:
        for change in changes:
            self._remember(change.known)
        outbox = self.hooks.finding_router(changes, at) if self.hooks.finding_router else ()
        self.enqueue(FindingsRecord(tuple(changes), outbox))
        for hook in self.hooks.finding_listeners:
            hook(changes)
        self.changed({(c.known.finding.check, c.known.finding.subject) for c in changes}, at)
        for change in changes:
            f = change.known.finding
            log.info("finding_" + str(change.event), check=f.check, subject=f.subject, uid=f.uid,
                     severity=f.severity, title=f.title)

    async def run_marks(self) -> None:
        """Take in marks made through the CLI against the same store."""
        while True:
            await asyncio.sleep(MARKS_REFRESH_S)
            try:
                await self.refresh_marks()
            except Exception:
                log.exception("marks_refresh_failed")

    async def refresh_marks(self) -> None:
        for uid, status, at, actor, note in await self.store.finding_marks(self._marks_seen):
            self._marks_seen = max(self._marks_seen, at)
            scope = self._scope.get(uid)
            if scope is not None and self.findings[scope][uid].status is not Status(status):
                self._remember(replace(self.findings[scope][uid], status=Status(status), changed_at=at))
                log.info("finding_marked_elsewhere", uid=uid, status=status, actor=actor, note=note)
                self.changed({scope}, at)
