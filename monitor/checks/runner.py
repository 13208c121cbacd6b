"""Periodic checks that are not column probes: each runs per subject on its own interval.

A check (availability of a homepage, a site's links, an account's service menu, a message box, …)
names the subjects it looks at and, for one subject, returns the findings it sees now — or ``None``
when it could not look (its source failed): then what was known stays as it was, never a false
"gone" or a false finding. The runner hands every result to ``Monitor.report_findings``, the one path
to the store, the outbox, the metrics and MQTT.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from monitor.findings import Finding

if TYPE_CHECKING:
    from monitor.config import Inventory, Target
    from monitor.daemon import Monitor
    from monitor.model import Observation

log = structlog.get_logger()
FIRST_RUN_SPREAD_S = 3600.0  # a new subject's first run falls within this much (or its interval, if shorter)


@dataclass(frozen=True, slots=True)
class Subject:
    """What one check looks at: a homepage, a site, an account, a message box."""

    id: str  # the findings' subject (a target id or a site id); per-host politeness is the fetcher's
    interval_s: float
    unit_id: str
    site_id: str = ""
    data: Any = field(default=None, compare=False)  # whatever the check needs (URLs, names, settings)


class Check(Protocol):
    name: str
    produces: tuple[str, ...]  # the finding checks it reports (keys of findings.CHECKS)

    def subjects(self, inventory: Inventory) -> list[Subject]: ...

    async def run(self, subject: Subject, monitor: Monitor, now: datetime) -> Sequence[Finding] | None: ...


class ObservationCheck(Protocol):
    """A check on what a column or account probe already read (its items), run on every fetched
    observation of the target (``Monitor.observation_checks``); the subject is the target."""

    name: str
    produces: tuple[str, ...]

    def findings(self, target: Target, observation: Observation) -> Sequence[Finding] | None: ...


class CheckRunner:
    """Runs each check's subjects when due, a bounded number at once, and reports their findings."""

    def __init__(self, monitor: Monitor, build: Callable[[Inventory], list[Check]], concurrency: int = 20,
                 jitter: float = 0.1) -> None:
        self.monitor = monitor
        self._build = build
        self.checks: list[Check] = []
        self._limit = asyncio.Semaphore(concurrency)
        self._jitter = jitter
        self._rng = random.Random()
        self._wake = asyncio.Event()
        self._seq = itertools.count()
        self._due: list[tuple[float, int, Check, Subject]] = []
        self._live: dict[tuple[str, str], tuple[int, float]] = {}  # (check, subject) → its live heap entry, due
        self._running: set[asyncio.Task[None]] = set()
        self.configure(monitor.inventory)

    def configure(self, inventory: Inventory) -> None:
        """(Re)build the checks and their schedule from an inventory. Subjects already scheduled keep their
        time; new ones (all of them at start) first run spread over their interval, at most FIRST_RUN_SPREAD_S,
        so that the checks do not all fall on the daemon's first sweep. Removed subjects stop."""
        self.checks = self._build(inventory)
        now = self.monitor.clock().timestamp()
        wanted: dict[tuple[str, str], tuple[Check, Subject]] = {}
        for check in self.checks:
            for subject in check.subjects(inventory):
                wanted[(check.name, subject.id)] = (check, subject)
        old = self._live
        self._live = {}
        for key, (check, subject) in wanted.items():
            kept = old.get(key)
            due = kept[1] if kept else now + self._rng.random() * min(subject.interval_s, FIRST_RUN_SPREAD_S)
            seq = next(self._seq)
            self._live[key] = (seq, due)
            heapq.heappush(self._due, (due, seq, check, subject))
        self._wake.set()

    def _is_live(self, seq: int, check: Check, subject: Subject) -> bool:
        return self._live.get((check.name, subject.id), (None,))[0] == seq

    async def run_once(self) -> None:
        """Run every subject of every check once, now (the CLI and tests)."""
        pending = [self._one(check, subject) for _, seq, check, subject in sorted(self._due, key=lambda e: e[:2])
                   if self._is_live(seq, check, subject)]
        await asyncio.gather(*pending)

    async def run(self) -> None:
        from monitor.daemon import sleep_or_wake

        try:
            while True:
                self._wake.clear()
                now = self.monitor.clock().timestamp()
                while self._due and self._due[0][0] <= now:
                    _, seq, check, subject = heapq.heappop(self._due)
                    if not self._is_live(seq, check, subject):
                        continue
                    task = asyncio.create_task(self._one(check, subject))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                    nxt = now + subject.interval_s * (1 + self._rng.uniform(-self._jitter, self._jitter))
                    self._live[(check.name, subject.id)] = (seq, nxt)
                    heapq.heappush(self._due, (nxt, seq, check, subject))
                await sleep_or_wake(self._wake, self._due[0][0] - now if self._due else 3600.0)
        finally:
            for task in self._running:
                task.cancel()

    async def _one(self, check: Check, subject: Subject) -> None:
        async with self._limit:
            now = self.monitor.clock()
            try:
                found = await check.run(subject, self.monitor, now)
            except Exception:
                log.exception("check_crashed", check=check.name, subject=subject.id)
                return
        if found is not None:
            self.monitor.report_many(check.produces, subject.id, found, now)
