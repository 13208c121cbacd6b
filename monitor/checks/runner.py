"""The check runner: every check's subjects, each run on its own interval.

The runner hands every result to ``Monitor.report_findings``, the one path to the store, the outbox,
the metrics and MQTT.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from monitor.checks.base import Check, Subject

if TYPE_CHECKING:
    from monitor.config import Inventory
    from monitor.daemon import Monitor

log = structlog.get_logger()
FIRST_RUN_SPREAD_S = 3600.0  # a new subject's first run falls within this much (or its interval, if shorter)


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
