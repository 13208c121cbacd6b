"""The check runner: every check's subjects, each run on its own interval.

The runner hands every result to ``report`` (the daemon's findings book), the one path to the store, the
outbox, the metrics and MQTT. Every run is recorded in the store too (``CheckRunRecord``): a restarted daemon, or a
cluster's daemon taking a subject over, runs each check one interval after its last run (``resume``), whichever
daemon made it, so a check runs once per subject per interval across restarts and handovers.
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
from monitor.records import CheckRunRecord
from monitor.schedule import Schedule

if TYPE_CHECKING:
    from monitor.config import Inventory

Report = Callable[[Sequence[str], str, Sequence[Finding], datetime], None]

log = structlog.get_logger()
FIRST_RUN_SPREAD_S = 3600.0  # a new subject's first run falls within this much (or its interval, if shorter)


def next_run(last: float | None, interval: float, spread: float, now: float, draw: float) -> float:
    """When a check runs next on a subject (unix seconds), from its last run: one interval after it. A run overdue
    by ``d`` falls within ``min(d, spread)`` of now (``draw`` in [0, 1)): one taken over in a cluster runs within
    the seconds the takeover took, and a daemon back after a long stop does not run every check in its first sweep;
    never run: within ``spread``."""
    if last is None:
        return now + draw * spread
    due = last + interval
    return due if due >= now else now + draw * min(now - due, spread)


def first_spread(check: Check, subject: Subject) -> float:
    """How far a subject's first (or long overdue) run is spread: not at all for a check that runs at start."""
    return 0.0 if getattr(check, "at_start", False) else min(subject.interval_s, FIRST_RUN_SPREAD_S)


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
            self._due.put(key, kept if kept is not None else now + self._rng.random() * first_spread(check, subject),
                          (check, subject))
        self._due.wake.set()

    def next_runs(self) -> dict[tuple[str, str], float]:
        """When each (check, subject) runs next (unix seconds)."""
        return self._due.due_times()

    async def resume(self, holds: Callable[[str], bool] | None = None, wait: float | None = None) -> None:
        """Schedule each check on the subjects ``holds`` (None: all) from its last run as the store has it
        (``next_run``), whoever made it: at start, and in a cluster as a daemon takes subjects over, before it works
        them. Subjects never run keep the first-run spread.

        Checks whose findings must be known before the first probe (``at_start``: the bridges, whose state decides
        whether their accounts can be judged) run now where due now (never run, or overdue), on the subjects this
        daemon works or takes over (``holds``); their next runs follow one interval later. Waits for them at most
        ``wait`` seconds (None: until done); runs still going then finish on their own."""
        keys = [key for key, (_, subject) in self._due.items().items() if holds is None or holds(subject.id)]
        if not keys:
            return
        last = await self.context.store.check_runs(None if holds is None else sorted({key[1] for key in keys}))
        now = self.clock().timestamp()
        live = self._due.items()  # as they are now: a reload may have come meanwhile
        first = []
        for key in keys:
            if key not in live:
                continue
            check, subject = live[key]
            ran = last.get(key)
            due = next_run(ran.timestamp() if ran else None, subject.interval_s, first_spread(check, subject), now,
                           self._rng.random())
            if getattr(check, "at_start", False) and due <= now and (holds is not None or self.allowed(subject.id)):
                first.append((check, subject))
                due = now + subject.interval_s
            self._due.put(key, due, (check, subject))
        if first:
            await asyncio.wait([self._start(check, subject, vouched=True) for check, subject in first],
                               timeout=wait)

    async def run_once(self) -> None:
        """Run every subject of every check once, now (the CLI and tests)."""
        await asyncio.gather(*(self._one(check, subject) for _, (check, subject) in self._due.pending()))

    async def run(self) -> None:
        try:
            while True:
                now = self.clock().timestamp()
                for key, (check, subject) in self._due.take_due(now):
                    self._start(check, subject)
                    nxt = now + subject.interval_s * (1 + self._rng.uniform(-self._jitter, self._jitter))
                    self._due.put(key, nxt, (check, subject))
                await self._due.sleep(now)
        finally:
            for task in self._running:
                task.cancel()

    def _start(self, check: Check, subject: Subject, vouched: bool = False) -> asyncio.Task[None]:
        task = asyncio.create_task(self._one(check, subject, vouched))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def _one(self, check: Check, subject: Subject, vouched: bool = False) -> None:
        """One run, if this daemon runs the subject now (``vouched``: the caller says so)."""
        if not (vouched or self.allowed(subject.id)):
            return
        async with self._limit:
            now = self.clock()
            try:
                found = await check.run(subject, self.context, now)
            except Exception:
                log.exception("check_crashed", check=check.name, subject=subject.id)
                found = None
        if found is not None:
            self.report(check.produces, subject.id, found, now)
        self.context.record(CheckRunRecord(check.name, subject.id, now))  # a run that failed is one all the same
