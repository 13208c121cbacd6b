"""The probe scheduler: each target probed on its own interval through per-host lanes.

A slow host never holds up the others: every host has its own queue, drained by at most
``per_host_concurrency`` workers, with at most ``connections`` probes in flight overall. After a probe the
target is due again after its rule's interval (with jitter), sooner when the fetch failed.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import structlog

from monitor.config import SettingsModel
from monitor.daemon.tracked import Tracked
from monitor.model import Observation
from monitor.schedule import Schedule

log = structlog.get_logger()
RETRY_FAILED_AFTER = timedelta(minutes=10)


class ProbeScheduler:
    def __init__(self, tracked: Mapping[str, Tracked], probe: Callable[[Tracked], Awaitable[Observation | None]],
                 clock: Callable[[], datetime], settings: Callable[[], SettingsModel],
                 allowed: Callable[[Tracked], bool] = lambda _: True) -> None:
        self.tracked = tracked
        self.allowed = allowed  # whether this daemon probes the target now (a cluster: its host's bucket is held)
        self.probe = probe  # one probe: its observation, or None when a reload removed or moved the target
        self.clock = clock
        self.settings = settings
        self.running = False  # the dispatcher was started: probed targets are scheduled again
        self.stopping = False
        self.workers: set[asyncio.Task[None]] = set()
        self._due: Schedule[str, None] = Schedule()  # by target id
        self._lanes: dict[str, deque[Tracked]] = {}
        self._lane_workers: dict[str, int] = {}
        self._busy: Counter[str] = Counter()  # target id → its probes queued or in flight
        self._in_flight = asyncio.Semaphore(settings().fetch.connections)
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._rng = random.Random()

    def first_due(self, tracked: Tracked, now: datetime) -> float:
        latest = tracked.history.latest
        if latest is None:
            return now.timestamp()
        return self.next_due(tracked, latest)

    def next_due(self, tracked: Tracked, obs: Observation) -> float:
        interval = tracked.target.rule.interval.approx_seconds
        if not obs.fetched:
            interval = min(interval, RETRY_FAILED_AFTER.total_seconds())
        jitter = self.settings().jitter
        return obs.at.timestamp() + interval * (1 + self._rng.uniform(-jitter, jitter))

    def schedule(self, tracked: Tracked, due: float) -> None:
        self._due.put(tracked.target.id, due, None)

    def drop(self, target_id: str) -> None:
        self._due.drop(target_id)

    def busy(self, target_id: str) -> bool:
        """Whether a probe of the target is queued or in flight (when made, it schedules the next one)."""
        return self._busy[target_id] > 0

    async def run(self) -> None:
        """Hand every target to its host's lane when it is due (``running`` is set by whoever starts this)."""
        while True:
            now = self.clock().timestamp()
            for tid, _ in self._due.take_due(now):
                if (tracked := self.tracked.get(tid)) is not None:
                    self.enqueue(tracked)
            await self._due.sleep(now)

    def enqueue(self, tracked: Tracked) -> None:
        """Queue a probe on its host's lane; a target this daemon does not probe now is left out (its schedule
        entry is gone: whoever takes its host over schedules it again)."""
        if self.stopping or not self.allowed(tracked):
            return
        host = tracked.target.host
        lane = self._lanes.setdefault(host, deque())
        lane.append(tracked)
        self._busy[tracked.target.id] += 1
        self._pending += 1
        self._idle.clear()
        limit = self.settings().fetch.per_host_concurrency
        while self._lane_workers.get(host, 0) < min(limit, len(lane)):
            self._lane_workers[host] = self._lane_workers.get(host, 0) + 1
            worker = asyncio.create_task(self._lane(host))
            self.workers.add(worker)
            worker.add_done_callback(self.workers.discard)

    def busy_hosts(self) -> set[str]:
        """The hosts with probes queued or in flight."""
        return {h for h, n in self._lane_workers.items() if n > 0} | {h for h, lane in self._lanes.items() if lane}

    async def idle(self) -> None:
        """Until no probe is queued or in flight."""
        await self._idle.wait()

    def stop(self) -> None:
        """Take no new probes; drop the queued ones (in-flight ones finish)."""
        self.stopping = True
        for lane in self._lanes.values():
            self._pending -= len(lane)
            self._busy.subtract(t.target.id for t in lane)
            lane.clear()

    async def _lane(self, host: str) -> None:
        """Drain one host's queue; a lane ends when its queue is empty. A probe is made only if this daemon still
        probes the target when its turn comes (a cluster: the host's bucket may have gone to another daemon, or be
        given back, while it waited)."""
        lane = self._lanes[host]
        try:
            while lane:
                tracked = lane.popleft()
                try:
                    async with self._in_flight:
                        if self.allowed(tracked):
                            await self._probe(tracked)
                except Exception:
                    log.exception("probe_crashed", target=tracked.target.id, url=tracked.target.url)
                finally:
                    self._busy[tracked.target.id] -= 1
                    self._pending -= 1
                    if self._pending <= 0:
                        self._idle.set()
        finally:
            self._lane_workers[host] -= 1

    async def _probe(self, tracked: Tracked) -> None:
        """One probe, then the target's next one. The observation (with its items) lives only in this frame: a
        lane waiting for its next probe must not hold the last page it read."""
        obs = await self.probe(tracked)
        if obs is not None and self.running and not self.stopping:
            self.schedule(tracked, self.next_due(tracked, obs))

