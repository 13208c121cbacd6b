"""Deadline timers: each target's next instant its verdict changes by time alone.

A column green at its last probe turns yellow at a known instant; the alert must go out then, not at the
next probe. ``arm`` keeps one timer per target (a new verdict's replaces the old); when it fires and the
target's verdict still expects that instant, ``fire`` re-evaluates the target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.evaluate import Verdict
from monitor.schedule import Schedule

if TYPE_CHECKING:
    from monitor.daemon.tracked import Tracked


class DeadlineTimers:
    def __init__(self, tracked: Mapping[str, Tracked], clock: Callable[[], datetime],
                 fire: Callable[[Tracked, datetime], None],
                 allowed: Callable[[Tracked], bool] = lambda _: True) -> None:
        self.tracked = tracked
        self.allowed = allowed  # whether this daemon fires the target's timers now (a cluster: the one holding it)
        self.clock = clock
        self.fire = fire
        self._due: Schedule[str, float] = Schedule()  # by target id: the instant its verdict expects

    def arm(self, target_id: str, verdict: Verdict) -> None:
        if verdict.next_change is not None:
            when = verdict.next_change.timestamp()
            self._due.put(target_id, when, when)

    async def run(self) -> None:
        while True:
            now = self.clock()
            for tid, when in self._due.take_due(now.timestamp()):
                tracked = self.tracked.get(tid)
                # A timer the verdict moved on from since it was armed is skipped, and so is one of a target another
                # daemon holds now (it fires there; this one arms it again if it takes the target over).
                if (tracked and self.allowed(tracked) and tracked.verdict.next_change
                        and tracked.verdict.next_change.timestamp() == when):
                    self.fire(tracked, now)
            await self._due.sleep(now.timestamp())
