"""The monitor: schedules probes, keeps every target's verdict, and fires deadline timers.

A verdict changes in two ways: a new observation, or time passing a deadline. Probes run on
each target's own interval through per-host lanes (so a slow host never holds up the others);
deadline timers re-evaluate a target at the exact instant its verdict changes by time alone.
Both paths end in ``_apply``: one way from an observation to state, store and listeners.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from monitor.config import Inventory
from monitor.evaluate import TZ, History, Reason, Verdict, advance, evaluate
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher, FetchSettings
from monitor.findings import Change, Finding, Known, Status, mark, reconcile
from monitor.model import Observation, Target
from monitor.probe import probe
from monitor.records import FindingsRecord, OutboxItem, ProbeRecord, Record, VerdictRecord
from monitor.schedule import sleep_or_wake
from monitor.store import Store

log = structlog.get_logger()

Listener = Callable[[Target, Verdict, Verdict | None], Awaitable[None] | None]
Router = Callable[[Target, Verdict, Verdict | None, datetime], tuple[OutboxItem, ...]]
FindingRouter = Callable[[Sequence[Change], datetime], tuple[OutboxItem, ...]]
MARKS_REFRESH_S = 30.0
RETRY_FAILED_AFTER = timedelta(minutes=10)
WRITE_BATCH = 1000
WRITE_GATHER_S = 0.05
# Settings read once at start: a reload that changes them logs "needs restart" and keeps the old values.
RESTART_SETTINGS = ("store", "listen", "fetch", "extract_workers", "extract_time_limit")


def now_shanghai() -> datetime:
    return datetime.now(TZ)


@dataclass(slots=True)
class Tracked:
    """The daemon's in-memory view of one target."""

    target: Target
    history: History
    verdict: Verdict
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None


def fetch_settings(inventory: Inventory) -> FetchSettings:
    f = inventory.settings.fetch
    return FetchSettings(
        timeout_s=f.timeout.seconds, max_bytes=f.max_bytes, max_redirects=f.max_redirects,
        user_agent=f.user_agent, per_host_concurrency=f.per_host_concurrency,
        per_host_interval_s=f.per_host_interval.seconds, connections=f.connections, ca_file=f.ca_file,
    )


class Monitor:
    def __init__(
        self, inventory: Inventory, store: Store, fetcher: Fetcher, pool: ExtractPool,
        clock: Callable[[], datetime] = now_shanghai,
    ) -> None:
        self.inventory = inventory
        self.store = store
        self.fetcher = fetcher
        self.pool = pool
        self.clock = clock
        self.tracked: dict[str, Tracked] = {}
        self.listeners: list[Listener] = []
        # Turns a verdict change into outbox items written in the same transaction (the alert engine).
        self.router: Router | None = None
        self.after_write: list[Callable[[], None]] = []  # called after each committed batch
        self.on_reload: list[Callable[[Inventory], None]] = []  # called with a new inventory before it applies
        self.alerts: Any = None  # the alert engine, when the service shell attached one (alerts.engine.Alerter)
        self.probe_listeners: list[Callable[[Target, Observation], None]] = []  # e.g. metrics; must not raise
        # Findings of the checks beyond freshness, per (check, subject), keyed by uid.
        self.findings: dict[tuple[str, str], dict[str, Known]] = {}
        self._finding_scope: dict[str, tuple[str, str]] = {}  # uid → (check, subject)
        self.finding_router: FindingRouter | None = None  # the alert engine: changes → outbox items
        self.finding_listeners: list[Callable[[Sequence[Change]], None]] = []  # e.g. metrics, the board's events
        # Checks that read what a probe already fetched (see monitor.checks.ObservationCheck).
        self.observation_checks: list[Any] = []
        self.check_runner: Any = None  # the periodic checks (monitor.checks.CheckRunner), when attached
        self._marks_seen = datetime.min.replace(tzinfo=TZ)
        self._lanes: dict[str, deque[Tracked]] = {}
        self._lane_workers: dict[str, int] = {}
        self._in_flight = asyncio.Semaphore(inventory.settings.fetch.connections)
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._due: list[tuple[float, int, str]] = []
        self._timers: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._due_seq: dict[str, int] = {}  # each target's live entry in _due; older ones are skipped
        self._wake_due = asyncio.Event()
        self._wake_timers = asyncio.Event()
        self._writes: asyncio.Queue[Record] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._workers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._rng = random.Random()

    # ------------------------------------------------------------ lifecycle

    async def load(self) -> None:
        """Resume from the store: every target's history and verdict, and its timer."""
        now = self.clock()
        await self.store.sync_targets(self.inventory.targets, now)
        for known in await self.store.load_findings():
            self._remember(known)
        self._marks_seen = now
        states = await self.store.load_states()
        for target in self.inventory.targets:
            state = states.get(target.id)
            history = state.history if state else History()
            verdict = evaluate(target.rule, history, now)
            tracked = Tracked(target, history, state.verdict if state and state.verdict else verdict)
            if state:
                tracked.etag, tracked.last_modified = state.etag, state.last_modified
                tracked.content_hash = state.content_hash
            self.tracked[target.id] = tracked
            self._arm_timer(tracked, verdict)
            if state and not verdict.same_as(state.verdict):
                # The verdict moved by time alone while the daemon was down.
                self._apply_verdict(tracked, verdict, now, state.verdict)

    def start(self) -> None:
        """Start the writer, the deadline timers and the probe dispatcher."""
        now = self.clock()
        for tracked in self.tracked.values():
            self._schedule(tracked, self._first_due(tracked, now))
        self._tasks = [
            asyncio.create_task(self._writer(), name="writer"),
            asyncio.create_task(self._timer_loop(), name="timers"),
            asyncio.create_task(self._dispatch_loop(), name="dispatch"),
            asyncio.create_task(self._marks_loop(), name="marks"),
        ]
        if self.check_runner is not None:
            self._tasks.append(asyncio.create_task(self.check_runner.run(), name="checks"))

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking new probes, let in-flight ones finish (bounded), flush the store."""
        self._stopping = True
        for lane in self._lanes.values():
            self._pending -= len(lane)
            lane.clear()
        if self._workers:
            _, late = await asyncio.wait(self._workers, timeout=grace)
            for task in late:
                task.cancel()
        for task in self._tasks:
            if task.get_name() != "writer":
                task.cancel()
        self._ensure_writer()
        try:
            async with asyncio.timeout(grace):
                await self._writes.join()
        except TimeoutError:
            log.error("store_flush_timeout", unwritten=self._writes.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _ensure_writer(self) -> None:
        if not any(t.get_name() == "writer" and not t.done() for t in self._tasks):
            self._tasks.append(asyncio.create_task(self._writer(), name="writer"))

    async def sweep_once(self) -> None:
        """Probe every target once, now, and wait until all results are stored."""
        self._ensure_writer()
        for tracked in self.tracked.values():
            self._enqueue(tracked)
        await self._idle.wait()
        await self._writes.join()

    async def check_once(self) -> None:
        """Run every periodic check once, now, and wait until its findings are stored."""
        self._ensure_writer()
        if self.check_runner is not None:
            await self.check_runner.run_once()
        await self._writes.join()

    def alive(self) -> bool:
        """True while the writer, the deadline timers and the dispatcher all run (the watchdog pings only then)."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    async def reload(self, inventory: Inventory) -> dict[str, int]:
        """Switch to a new inventory in place; return the counts of added, removed and changed targets.

        New targets start with a fresh history and are probed now. Removed ones leave ``tracked``; their
        queued probes, schedule and timer entries are then skipped. A target whose rule or URL changed keeps
        its history (same id) and is re-evaluated at once; a new URL drops the validators and is probed now.
        Settings read only at start are logged as needing a restart and kept as they were.
        """
        old = self.inventory.settings
        kept = {k: getattr(old, k) for k in RESTART_SETTINGS if getattr(old, k) != getattr(inventory.settings, k)}
        if kept:
            log.warning("reload_needs_restart", settings=sorted(kept))
            settings = inventory.settings.model_copy(update=kept)
            inventory = replace(inventory, model=inventory.model.model_copy(update={"settings": settings}))
        for hook in self.on_reload:
            hook(inventory)
        now = self.clock()
        await self.store.sync_targets(inventory.targets, now)
        started = any(task.get_name() == "dispatch" for task in self._tasks)
        previous = dict(self.tracked)
        self.tracked.clear()
        counts = {"added": 0, "removed": 0, "changed": 0}
        for target in inventory.targets:
            kept_tracked = previous.pop(target.id, None)
            tracked = self.tracked[target.id] = kept_tracked or Tracked(
                target, History(), evaluate(target.rule, History(), now))
            if kept_tracked is None:
                counts["added"] += 1
                self._arm_timer(tracked, tracked.verdict)
                if started:
                    self._schedule(tracked, now.timestamp())
                continue
            if tracked.target == target:
                continue
            counts["changed"] += 1
            was, tracked.target = tracked.target, target
            if was.url != target.url:
                tracked.etag = tracked.last_modified = tracked.content_hash = None
                if started:
                    self._schedule(tracked, now.timestamp())
            elif was.rule.interval != target.rule.interval and started:
                self._schedule(tracked, self._first_due(tracked, now))
            if was.rule != target.rule:
                verdict = evaluate(target.rule, tracked.history, now)
                if verdict.same_as(tracked.verdict):
                    tracked.verdict = verdict
                    self._arm_timer(tracked, verdict)
                else:
                    self._apply_verdict(tracked, verdict, now, tracked.verdict)
        for tid in previous:
            self._due_seq.pop(tid, None)
        counts["removed"] = len(previous)
        self.inventory = inventory
        return counts

    # ------------------------------------------------------------ probes

    def _first_due(self, tracked: Tracked, now: datetime) -> float:
        latest = tracked.history.latest
        if latest is None:
            return now.timestamp()
        return self._next_due(tracked, latest)

    def _next_due(self, tracked: Tracked, obs: Observation) -> float:
        interval = tracked.target.rule.interval.approx_seconds
        if not obs.fetched:
            interval = min(interval, RETRY_FAILED_AFTER.total_seconds())
        jitter = self.inventory.settings.jitter
        return obs.at.timestamp() + interval * (1 + self._rng.uniform(-jitter, jitter))

    def _schedule(self, tracked: Tracked, due: float) -> None:
        seq = self._due_seq[tracked.target.id] = next(self._seq)
        heapq.heappush(self._due, (due, seq, tracked.target.id))
        if self._due[0][2] == tracked.target.id:
            self._wake_due.set()

    async def _dispatch_loop(self) -> None:
        while True:
            self._wake_due.clear()
            now = self.clock().timestamp()
            while self._due and self._due[0][0] <= now:
                _, seq, tid = heapq.heappop(self._due)
                if tid in self.tracked and self._due_seq.get(tid) == seq:
                    self._enqueue(self.tracked[tid])
            await sleep_or_wake(self._wake_due, self._due[0][0] - now if self._due else 3600.0)

    def _enqueue(self, tracked: Tracked) -> None:
        if self._stopping:
            return
        host = tracked.target.host
        lane = self._lanes.setdefault(host, deque())
        lane.append(tracked)
        self._pending += 1
        self._idle.clear()
        limit = self.inventory.settings.fetch.per_host_concurrency
        while self._lane_workers.get(host, 0) < min(limit, len(lane)):
            self._lane_workers[host] = self._lane_workers.get(host, 0) + 1
            worker = asyncio.create_task(self._lane(host))
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    async def _lane(self, host: str) -> None:
        """Drain one host's queue; a lane ends when its queue is empty."""
        lane = self._lanes[host]
        try:
            while lane:
                tracked = lane.popleft()
                try:
                    async with self._in_flight:
                        await self._probe(tracked)
                except Exception:
                    log.exception("probe_crashed", target=tracked.target.id, url=tracked.target.url)
                finally:
                    self._pending -= 1
                    if self._pending <= 0:
                        self._idle.set()
        finally:
            self._lane_workers[host] -= 1

    async def _probe(self, tracked: Tracked) -> None:
        target = tracked.target
        if self.tracked.get(target.id) is not tracked:
            return  # removed by a reload while queued
        obs, result = await probe(self.fetcher, self.pool, target.id, target.url, self.clock(), tracked.etag,
                                  tracked.last_modified, target.parser, target.headers)
        if self.tracked.get(target.id) is not tracked or tracked.target.url != target.url:
            return  # removed or moved by a reload while in flight
        if result.ok and not result.not_modified:
            tracked.etag, tracked.last_modified = result.etag, result.last_modified
        self.apply_observation(tracked, obs)
        if not self._stopping and any(t.get_name() == "dispatch" for t in self._tasks):
            self._schedule(tracked, self._next_due(tracked, obs))

    def apply_observation(self, tracked: Tracked, obs: Observation) -> Verdict:
        """Fold one observation into the target's history and verdict; queue it for the store.

        The items go to the store only: kept in memory they would cost ~200 MB at 30,000 columns.
        """
        for hook in self.probe_listeners:
            hook(tracked.target, obs)
        tracked.history = advance(tracked.history, replace(obs, items=()))
        verdict = evaluate(tracked.target.rule, tracked.history, obs.at)
        previous = tracked.verdict
        changed = not verdict.same_as(previous)
        items_changed = obs.content_hash is not None and obs.content_hash != tracked.content_hash
        if obs.content_hash is not None:
            tracked.content_hash = obs.content_hash
        tracked.verdict = verdict
        outbox = self.router(tracked.target, verdict, previous, obs.at) if changed and self.router else ()
        self._writes.put_nowait(ProbeRecord(
            obs, verdict, changed, tracked.history.newest_first_seen, tracked.etag, tracked.last_modified,
            items_changed, outbox,
        ))
        self._arm_timer(tracked, verdict)
        if changed:
            self._notify(tracked.target, verdict, previous)
        if obs.fetched and not obs.not_modified:
            self._observation_findings(tracked.target, obs)
        return verdict

    def _observation_findings(self, target: Target, obs: Observation) -> None:
        for check in self.observation_checks:
            try:
                found = check.findings(target, obs)
            except Exception:
                log.exception("observation_check_failed", check=check.name, target=target.id)
                continue
            if found is not None:
                self.report_many(check.produces, target.id, found, obs.at)

    # ------------------------------------------------------------ findings

    def report_many(self, produces: Sequence[str], subject: str, found: Sequence[Finding], at: datetime) -> None:
        """Report a check's findings for one subject, split by the finding checks it produces (a produced
        check with nothing seen now means its open findings are gone)."""
        by_check: dict[str, list[Finding]] = {name: [] for name in produces}
        for finding in found:
            by_check.setdefault(finding.check, []).append(finding)
        for name, findings in by_check.items():
            self.report_findings(name, subject, findings, at)

    def report_findings(self, check: str, subject: str, findings: Sequence[Finding], at: datetime) -> list[Change]:
        """The findings one check sees now for one subject: reconcile with what is known, then store the
        changes with their trail and the alerts and MQTT events they cause, in one transaction."""
        changes = reconcile(self.findings.get((check, subject), {}), findings, at)
        if changes:
            self._apply_changes(changes, at)
        return changes

    def known_findings(self, check: str, subject: str) -> list[Finding]:
        """The findings of (check, subject) that still stand (open, or marked false positive): what a check that
        could not look this time reports again so that they stay as they were."""
        known = self.findings.get((check, subject), {})
        return [k.finding for k in known.values() if k.status in (Status.OPEN, Status.FALSE_POSITIVE)]

    def mark_finding(self, uid: str, status: Status, actor: str, note: str = "") -> Change | None:
        """An operator marks a finding false positive, fixed, or open again; None for an unknown uid."""
        scope = self._finding_scope.get(uid)
        if scope is None:
            return None
        change = mark(self.findings[scope][uid], status, self.clock(), actor, note)
        self._apply_changes([change], change.known.changed_at)
        return change

    def _remember(self, known: Known) -> None:
        f = known.finding
        self.findings.setdefault((f.check, f.subject), {})[f.uid] = known
        self._finding_scope[f.uid] = (f.check, f.subject)

    def _apply_changes(self, changes: Sequence[Change], at: datetime) -> None:
        for change in changes:
            self._remember(change.known)
        outbox = self.finding_router(changes, at) if self.finding_router else ()
        self._writes.put_nowait(FindingsRecord(tuple(changes), outbox))
        for hook in self.finding_listeners:
            hook(changes)
        for change in changes:
            f = change.known.finding
            log.info("finding_" + str(change.event), check=f.check, subject=f.subject, uid=f.uid,
                     severity=f.severity, title=f.title)

    async def _marks_loop(self) -> None:
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
            scope = self._finding_scope.get(uid)
            if scope is not None and self.findings[scope][uid].status is not Status(status):
                self._remember(replace(self.findings[scope][uid], status=Status(status), changed_at=at))
                log.info("finding_marked_elsewhere", uid=uid, status=status, actor=actor, note=note)

    # ------------------------------------------------------------ deadline timers

    def _arm_timer(self, tracked: Tracked, verdict: Verdict) -> None:
        if verdict.next_change is None:
            return
        when = verdict.next_change.timestamp()
        heapq.heappush(self._timers, (when, next(self._seq), tracked.target.id))
        if self._timers[0][2] == tracked.target.id:
            self._wake_timers.set()

    async def _timer_loop(self) -> None:
        while True:
            self._wake_timers.clear()
            now = self.clock()
            while self._timers and self._timers[0][0] <= now.timestamp():
                when, _, tid = heapq.heappop(self._timers)
                tracked = self.tracked.get(tid)
                # Stale entries (the verdict moved on since the timer was armed) are skipped.
                if tracked and tracked.verdict.next_change and tracked.verdict.next_change.timestamp() == when:
                    verdict = evaluate(tracked.target.rule, tracked.history, now)
                    self._apply_verdict(tracked, verdict, now, tracked.verdict)
            await sleep_or_wake(self._wake_timers, self._timers[0][0] - now.timestamp() if self._timers else 3600.0)

    def _apply_verdict(self, tracked: Tracked, verdict: Verdict, now: datetime, previous: Verdict | None) -> None:
        outbox = self.router(tracked.target, verdict, previous, now) if self.router else ()
        tracked.verdict = verdict
        self._writes.put_nowait(VerdictRecord(tracked.target.id, now, verdict, outbox))
        self._arm_timer(tracked, verdict)
        self._notify(tracked.target, verdict, previous)

    def _notify(self, target: Target, verdict: Verdict, previous: Verdict | None) -> None:
        first = previous is None or previous.reasons == (Reason.NOT_PROBED,)
        (log.debug if first else log.info)(
            "verdict_changed", target=target.id, site=target.site_name, column=target.name,
            state=verdict.state, was=previous.state if previous else None, reasons=list(verdict.reasons),
        )
        for listener in self.listeners:
            try:
                result = listener(target, verdict, previous)
                if result is not None:
                    task = asyncio.ensure_future(result)
                    self._workers.add(task)
                    task.add_done_callback(self._workers.discard)
            except Exception:
                log.exception("listener_failed", target=target.id)

    # ------------------------------------------------------------ store writer

    async def _writer(self) -> None:
        """Write queued records in batches, one transaction each; on a store error retry, never drop.

        A batch gathers for up to WRITE_GATHER_S after its first record: during a sweep this turns
        thousands of one-record transactions into a few large ones.
        """
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._writes.get()]
            until = loop.time() + WRITE_GATHER_S
            while len(batch) < WRITE_BATCH and (remaining := until - loop.time()) > 0:
                try:
                    async with asyncio.timeout(remaining):
                        batch.append(await self._writes.get())
                except TimeoutError:
                    break
            delay = 0.5
            while True:
                try:
                    await self.store.write(batch)
                    break
                except Exception:
                    log.exception("store_write_failed", records=len(batch), retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            for hook in self.after_write:
                hook()
            for _ in batch:
                self._writes.task_done()

    def enqueue(self, record: Record) -> None:
        """Queue a record for the store's next batch (outbox items from the alert engine's timers)."""
        self._writes.put_nowait(record)
