"""The check runner: every check's subjects, each run on its own interval.

The runner hands every result to ``report`` (the daemon's findings book), the one path to the store, the
outbox, the metrics and MQTT.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from monitor.checks.base import Check, Context, Subject
from monitor.findings import Finding
from monitor.schedule import Schedule

if TYPE_CHECKING:
    from monitor.config import Inventory

Report = Callable[[Sequence[str], str, Sequence[Finding], datetime], None]

log = structlog.get_logger()
FIRST_RUN_SPREAD_S = 3600.0  # a new subject's first run falls within this much (or its interval, if shorter)


class CheckRunner:
    """Runs each check's subjects when due, a bounded number at once, and reports their findings."""

    def __init__(self, context: Context[Any], clock: Callable[[], datetime], report: Report,
                 build: Callable[[Inventory], list[Check]], inventory: Inventory, concurrency: int = 20,
                 jitter: float = 0.1) -> None:
        self.context = context  # what the checks may touch; kept across reloads with what checks keep in it
        self.clock = clock
        self.report = report  # (the finding checks produced, subject, findings, when) → the findings book
        self._build = build
        self.checks: list[Check] = []
        self._limit = asyncio.Semaphore(concurrency)
        self._jitter = jitter
        self._rng = random.Random()
        self._due: Schedule[tuple[str, str], tuple[Check, Subject]] = Schedule()  # by (check, subject)
        self._running: set[asyncio.Task[None]] = set()
        # Whether this daemon runs a subject's checks now (a cluster: the daemon holding the subject's host runs
        # them; the others keep the subject's schedule and skip its runs).
        self.allowed: Callable[[str], bool] = lambda _: True
        self.configure(inventory)

    def configure(self, inventory: Inventory) -> None:
        """(Re)build the checks and their schedule from an inventory. Subjects already scheduled keep their
        time; new ones (all of them at start) first run spread over their interval, at most FIRST_RUN_SPREAD_S,
        so that the checks do not all fall on the daemon's first sweep. Removed subjects stop."""
        self.checks = self._build(inventory)
        now = self.clock().timestamp()
        wanted: dict[tuple[str, str], tuple[Check, Subject]] = {}
        for check in self.checks:
            for subject in check.subjects(inventory):
                wanted[(check.name, subject.id)] = (check, subject)
        for key, _ in self._due.pending():
            if key not in wanted:
                self._due.drop(key)
        for key, (check, subject) in wanted.items():
            kept = self._due.due_at(key)
            spread = 0.0 if getattr(check, "at_start", False) else min(subject.interval_s, FIRST_RUN_SPREAD_S)
            self._due.put(key, kept if kept is not None else now + self._rng.random() * spread, (check, subject))
        self._due.wake.set()

    def next_runs(self) -> dict[tuple[str, str], float]:
        """When each (check, subject) runs next (unix seconds)."""
        return self._due.due_times()

    async def run_once(self) -> None:
        """Run every subject of every check once, now (the CLI and tests)."""
        await asyncio.gather(*(self._one(check, subject) for _, (check, subject) in self._due.pending()))

    async def run_first(self) -> None:
        """Run, now, the subjects of the checks whose findings must be known before the first probe (a check's
        ``at_start``: the bridges, whose state decides whether their accounts can be judged); their next runs
        follow one interval later."""
        first = [(key, check, subject) for key, (check, subject) in self._due.pending()
                 if getattr(check, "at_start", False)]
        await asyncio.gather(*(self._one(check, subject) for _, check, subject in first))
        now = self.clock().timestamp()
        for key, check, subject in first:
            self._due.put(key, now + subject.interval_s, (check, subject))

    async def run(self) -> None:
        try:
            while True:
                now = self.clock().timestamp()
                for key, (check, subject) in self._due.take_due(now):
                    task = asyncio.create_task(self._one(check, subject))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                    nxt = now + subject.interval_s * (1 + self._rng.uniform(-self._jitter, self._jitter))
                    self._due.put(key, nxt, (check, subject))
                await self._due.sleep(now)
        finally:
            for task in self._running:
                task.cancel()

    async def _one(self, check: Check, subject: Subject) -> None:
        if not self.allowed(subject.id):
            return
        async with self._limit:
            now = self.clock()
            try:
                found = await check.run(subject, self.context, now)
            except Exception:
                log.exception("check_crashed", check=check.name, subject=subject.id)
                return
        if found is not None:
            self.report(check.produces, subject.id, found, now)
