"""The monitor: keeps every target's verdict, on one path from an observation to state, store and listeners.

A verdict changes in two ways: a new observation, or time passing a deadline. The monitor composes the
daemon's jobs, one module each: the probe scheduler (``probes``: per-host lanes, each target on its own
interval), the deadline timers (``timers``: re-evaluate a target at the exact instant its verdict changes
by time alone), the store writer (``writer``: batched transactions) and the findings book (``book``: what
the checks found). Both ways end in ``_apply_verdict`` / ``apply_observation``. Everything outside the
daemon that hears what it does is in one typed ``Hooks`` object given at construction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from monitor.checks.bridges import source_down
from monitor.config import FetchModel, Inventory
from monitor.config.bridges import bridge_subject
from monitor.daemon.book import FindingsBook
from monitor.daemon.hooks import Alerts, Hooks, Shard
from monitor.daemon.probes import ProbeScheduler
from monitor.daemon.timers import DeadlineTimers
from monitor.daemon.tracked import Tracked, probed_since
from monitor.daemon.writer import StoreWriter
from monitor.evaluate import TZ, History, Verdict, advance, evaluate
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher, FetchSettings, Withdrawn
from monitor.journal import first_verdict
from monitor.model import Observation, State, Target
from monitor.probe import probe_target
from monitor.records import ProbeRecord, TargetState, VerdictRecord
from monitor.render import RenderSettings
from monitor.render.client import Renderer
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.checks.base import ObservationCheck
    from monitor.checks.runner import CheckRunner

log = structlog.get_logger()
CLEARANCE_RETRY_S = 5.0  # a probe withdrawn at its turn (not cleared) is tried again this much later

# Settings read once at start: a reload that changes them logs "needs restart" and keeps the old values.
RESTART_SETTINGS = ("store", "listen", "fetch", "extract_workers", "extract_time_limit", "render", "cluster")


def now_shanghai() -> datetime:
    return datetime.now(TZ)


def fetch_settings(inventory: Inventory) -> FetchSettings:
    f: FetchModel = inventory.settings.fetch
    return FetchSettings(
        timeout_s=f.timeout.seconds, max_bytes=f.max_bytes, max_redirects=f.max_redirects,
        user_agent=f.user_agent, per_host_concurrency=f.per_host_concurrency,
        per_host_interval_s=f.per_host_interval.seconds, connections=f.connections, ca_file=f.ca_file,
        allow_private=f.allow_private, named=inventory.named_addresses,
    )


def render_settings(inventory: Inventory) -> RenderSettings:
    """The renderer's settings: ``settings.render`` over its defaults, with the fetcher's user agent."""
    model = inventory.settings.render
    given = {name: getattr(model, name) for name in type(model).model_fields if getattr(model, name) is not None}
    for key in ("timeout", "max_age", "idle"):
        if key in given:
            given[f"{key}_s"] = given.pop(key).approx_seconds
    fetch = inventory.settings.fetch
    return RenderSettings(**given, user_agent=fetch.user_agent, max_chars=fetch.max_bytes)


class Monitor:
    def __init__(
        self, inventory: Inventory, store: Store, fetcher: Fetcher, pool: ExtractPool, hooks: Hooks,
        clock: Callable[[], datetime] = now_shanghai, browser: Renderer | str | None = None,
    ) -> None:
        self.inventory = inventory
        self.store = store
        self.fetcher = fetcher
        self.pool = pool
        # Renders columns marked ``render: browser``; a text instead says why there is no browser here.
        self.browser = browser
        self.hooks = hooks
        self.clock = clock  # replaceable (the demo quarter, tests): every part reads it through the monitor
        self.tracked: dict[str, Tracked] = {}
        self.writer = StoreWriter(store, hooks.after_write)
        self.book = FindingsBook(store, self.writer.enqueue, hooks, lambda: self.clock(), self._findings_changed)
        self.findings = self.book.findings
        self.cluster: Shard | None = None  # several daemons on one store: this one works the hosts it holds
        self.timers = DeadlineTimers(self.tracked, lambda: self.clock(), self._on_deadline, self.holds)
        # Asked right before each probe's request is sent, with the probe's time: whether it may be (a cluster:
        # its intent recorded in the store, for a bucket this daemon holds). None: always.
        self.clearance: Callable[[Tracked, datetime], Awaitable[bool]] | None = None
        self.probes = ProbeScheduler(self.tracked, self._probe, lambda: self.clock(), lambda: self.inventory.settings,
                                     self.holds)
        self._tasks: list[asyncio.Task[None]] = []
        self._listening: set[asyncio.Future[None]] = set()  # listeners' coroutines still running

    @property
    def check_runner(self) -> CheckRunner | None:
        return self.hooks.checks

    @property
    def observation_checks(self) -> list[ObservationCheck]:
        return self.hooks.observation_checks

    @property
    def alerts(self) -> Alerts | None:
        return self.hooks.alerts

    # ------------------------------------------------------------ lifecycle

    async def load(self) -> None:
        """Resume from the store: every target's history and verdict, and its timer."""
        now = self.clock()
        await self.store.sync_targets(self.inventory.targets, now)
        await self.book.load(now)
        states = await self.store.load_states()
        for target in self.inventory.targets:
            self.tracked[target.id] = self._resume(target, states.get(target.id), now)

    def _resume(self, target: Target, state: TargetState | None, now: datetime,
                tracked: Tracked | None = None) -> Tracked:
        """A target as the store has it: its history, verdict, validators and timer; a verdict that moved by time
        alone since it was written (the daemon was down, or another daemon wrote it) changes now."""
        history = state.history if state else History()
        verdict = self.judge(target, history, now)
        if tracked is None:
            tracked = Tracked(target, history, verdict)
        tracked.history = history
        tracked.verdict = state.verdict if state and state.verdict else verdict
        if state:
            tracked.etag, tracked.last_modified = state.etag, state.last_modified
            tracked.content_hash = state.content_hash
        self.timers.arm(target.id, verdict)
        if state and not verdict.same_as(state.verdict) and self.holds(tracked):
            self._apply_verdict(tracked, verdict, now, state.verdict)
        return tracked

    def holds(self, tracked: Tracked) -> bool:
        """Whether this daemon probes the target, fires its timers and sends its alerts now: always alone, in a
        cluster while it holds the target's host."""
        return self.cluster is None or self.cluster.owns_key(tracked.target.host)

    def adopt(self, target_ids: list[str], states: dict[str, TargetState], now: datetime, since: datetime,
              intended: Mapping[str, datetime]) -> None:
        """Targets this daemon took over (a cluster): their state as the store has it — or as this daemon has it,
        when its own last probe is newer than the store's (made before it lost the target for a while, its record
        not written yet) —, their timers, and their next probes one interval after their last. ``since``: the
        earliest instant the other daemon may have stopped at (timed alerts due after it are armed again; their
        keys keep them once). ``intended``: when a daemon last set out to probe each target — one whose result
        never reached the store (the daemon died with it in flight) is next probed an interval after that, not at
        once: the site saw that request."""
        adopted = []
        for tid in target_ids:
            tracked = self.tracked.get(tid)
            if tracked is None:
                continue
            state = states.get(tid)
            if probed_since(tracked, state):
                self.timers.arm(tid, tracked.verdict)
            else:
                self._resume(tracked.target, state, now, tracked)
            adopted.append(tracked)
        self._work(adopted, now, since, intended)

    def resume(self, target_ids: list[str], now: datetime, since: datetime) -> None:
        """Targets this daemon kept while it was not sure it held them (a late heartbeat: their probes and timers
        that came due were left out): their timers armed and their next probes scheduled again."""
        kept = [t for tid in target_ids if (t := self.tracked.get(tid)) is not None]
        for tracked in kept:
            self.timers.arm(tracked.target.id, tracked.verdict)
        self._work(kept, now, since)

    def _work(self, targets: list[Tracked], now: datetime, since: datetime,
              intended: Mapping[str, datetime] | None = None) -> None:
        """Schedule the next probe of each target, one interval after its last (or its last intended one, made but
        never recorded), unless one is queued or in flight (made, it schedules the next itself: scheduled now as
        well, it would be made twice); arm its timed alerts."""
        for tracked in targets:
            if self.probes.busy(tracked.target.id):
                continue
            due = self.probes.first_due(tracked, now)
            meant = (intended or {}).get(tracked.target.id)
            latest = tracked.history.latest
            if meant is not None and (latest is None or meant > latest.at):
                due = max(due, meant.timestamp() + tracked.target.rule.interval.approx_seconds)
            self.probes.schedule(tracked, due)
        for hook in self.hooks.on_adopt:
            hook(targets, since)

    def show(self, tracked: Tracked, verdict: Verdict) -> None:
        """A verdict another daemon of the cluster wrote: shown (board, API), not acted on."""
        if verdict.same_as(tracked.verdict):
            tracked.verdict = verdict
            return
        previous, tracked.verdict = tracked.verdict, verdict
        for listener in self.hooks.fleet_listeners:
            try:
                listener(tracked.target, verdict, previous)
            except Exception:
                log.exception("listener_failed", target=tracked.target.id)

    def start(self) -> None:
        """Start the writer, the deadline timers and the probe dispatcher."""
        now = self.clock()
        for tracked in self.tracked.values():
            self.probes.schedule(tracked, self.probes.first_due(tracked, now))
        self.probes.running = True
        self._tasks = [
            asyncio.create_task(self.writer.run(), name="writer"),
            asyncio.create_task(self.timers.run(), name="timers"),
            asyncio.create_task(self.probes.run(), name="dispatch"),
            asyncio.create_task(self.book.run_marks(), name="marks"),
        ]
        if self.hooks.checks is not None:
            self._tasks.append(asyncio.create_task(self.hooks.checks.run(), name="checks"))

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking new probes, let in-flight ones finish (bounded), flush the store."""
        self.probes.stop()
        if working := self.probes.workers | self._listening:
            _, late = await asyncio.wait(working, timeout=grace)
            for task in late:
                task.cancel()
        for task in self._tasks:
            if task.get_name() != "writer":
                task.cancel()
        self._ensure_writer()
        self.writer.retry_now()  # a store that was failing gets one more try at once
        try:
            async with asyncio.timeout(grace):
                await self.writer.flushed()
        except TimeoutError:
            log.error("store_flush_timeout", unwritten=self.writer.queued, dropped=self.writer.dropped,
                      cause=self.writer.cause)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _ensure_writer(self) -> None:
        if not any(t.get_name() == "writer" and not t.done() for t in self._tasks):
            self._tasks.append(asyncio.create_task(self.writer.run(), name="writer"))

    async def sweep_once(self) -> None:
        """Probe every target once, now, and wait until all results are stored."""
        self._ensure_writer()
        for tracked in self.tracked.values():
            self.probes.enqueue(tracked)
        await self.probes.idle()
        await self.writer.flushed()

    async def check_once(self) -> None:
        """Run every periodic check once, now, and wait until its findings are stored."""
        self._ensure_writer()
        if self.hooks.checks is not None:
            await self.hooks.checks.run_once()
        await self.writer.flushed()

    def alive(self) -> bool:
        """True while the writer, the deadline timers and the dispatcher all run and no store write hangs (the
        watchdog pings only then). A writer whose writes fail is alive: it holds its records and retries, and
        a restart would lose them; it says so in the STATUS line and /healthz instead."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks) and not self.writer.stuck()

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
        for hook in self.hooks.on_reload:
            hook(inventory)
        now = self.clock()
        await self.store.sync_targets(inventory.targets, now)
        started = self.probes.running
        previous = dict(self.tracked)
        self.tracked.clear()
        counts = {"added": 0, "removed": 0, "changed": 0}
        for target in inventory.targets:
            kept_tracked = previous.pop(target.id, None)
            tracked = self.tracked[target.id] = kept_tracked or Tracked(
                target, History(), self.judge(target, History(), now))
            if kept_tracked is None:
                counts["added"] += 1
                self.timers.arm(target.id, tracked.verdict)
                if started:
                    self.probes.schedule(tracked, now.timestamp())
                continue
            if tracked.target == target:
                continue
            counts["changed"] += 1
            was, tracked.target = tracked.target, target
            if _moved(was, target):
                tracked.etag = tracked.last_modified = tracked.content_hash = None
                if started:
                    self.probes.schedule(tracked, now.timestamp())
            elif was.rule.interval != target.rule.interval and started:
                self.probes.schedule(tracked, self.probes.first_due(tracked, now))
            if was.rule != target.rule:
                verdict = self.judge(target, tracked.history, now)
                if verdict.same_as(tracked.verdict):
                    tracked.verdict = verdict
                    self.timers.arm(target.id, verdict)
                else:
                    self._apply_verdict(tracked, verdict, now, tracked.verdict)
        for tid in previous:
            self.probes.drop(tid)
        counts["removed"] = len(previous)
        self.inventory = inventory
        return counts

    # ------------------------------------------------------------ the one way from an observation to state

    async def _probe(self, tracked: Tracked) -> Observation | None:
        """Probe one target and apply what it saw; None when a reload removed or moved it meanwhile."""
        target = tracked.target
        if self.tracked.get(target.id) is not tracked:
            return None  # removed by a reload while queued
        at = self.clock()
        gate = None
        if self.clearance is not None:
            clearance = self.clearance

            async def gate() -> None:
                if not await clearance(tracked, at):
                    raise Withdrawn(target.id)

        try:
            obs, result = await probe_target(self.fetcher, self.pool, self.browser, target, at, tracked.etag,
                                             tracked.last_modified, gate)
        except Withdrawn:  # not cleared (a cluster: its intent not recorded): nothing sent, tried again shortly
            self.probes.schedule(tracked, self.clock().timestamp() + CLEARANCE_RETRY_S)
            return None
        if self.tracked.get(target.id) is not tracked or _moved(tracked.target, target):
            return None  # removed or moved by a reload while in flight
        if result is not None and result.ok and not result.not_modified:
            tracked.etag, tracked.last_modified = result.etag, result.last_modified
        self.apply_observation(tracked, obs)
        return obs

    def apply_observation(self, tracked: Tracked, obs: Observation) -> Verdict:
        """Fold one observation into the target's history and verdict; queue it for the store.

        The items go to the store only: kept in memory they would cost ~200 MB at 30,000 columns.
        """
        for hook in self.hooks.probe_listeners:
            hook(tracked.target, obs)
        tracked.history = advance(tracked.history, replace(obs, items=()))
        verdict = self.judge(tracked.target, tracked.history, obs.at)
        previous = tracked.verdict
        changed = not verdict.same_as(previous)
        items_changed = obs.content_hash is not None and obs.content_hash != tracked.content_hash
        if obs.content_hash is not None:
            tracked.content_hash = obs.content_hash
        if obs.fetched and not obs.not_modified:
            tracked.suggestion = obs.suggestion
        tracked.verdict = verdict
        router = self.hooks.router
        outbox = router(tracked.target, verdict, previous, obs.at) if changed and router else ()
        self.writer.enqueue(ProbeRecord(
            obs, verdict, changed, tracked.history.newest_first_seen, tracked.etag, tracked.last_modified,
            items_changed, outbox,
        ))
        self.timers.arm(tracked.target.id, verdict)
        if changed:
            self._notify(tracked.target, verdict, previous)
        if obs.fetched and not obs.not_modified:
            self._observation_findings(tracked.target, obs)
        return verdict

    def _observation_findings(self, target: Target, obs: Observation) -> None:
        for check in self.hooks.observation_checks:
            try:
                found = check.findings(target, obs)
            except Exception:
                log.exception("observation_check_failed", check=check.name, target=target.id)
                continue
            if found is not None:
                self.book.report_many(check.produces, target.id, found, obs.at)

    def judge(self, target: Target, history: History, now: datetime) -> Verdict:
        """A target's verdict (pure ``evaluate``); an account behind a bridge known to be down — its bridge
        finding open in the book (``checks.bridges``) — is unknown, never red."""
        down = None
        if target.bridge is not None:
            down = source_down(self.findings.get(("bridge", bridge_subject(target.bridge))))
        return evaluate(target.rule, history, now, down)

    def _findings_changed(self, scopes: set[tuple[str, str]], at: datetime) -> None:
        """Accounts behind a bridge whose finding changed: behind one now down, judged again at once (unknown);
        behind one back (or marked a false positive), read again at once — what was read while it was down is
        not judged."""
        bridges = {subject for check, subject in scopes if check == "bridge"}
        if not bridges:
            return
        for tracked in self.tracked.values():
            bridge = tracked.target.bridge
            if bridge is None or bridge_subject(bridge) not in bridges:
                continue
            verdict = self.judge(tracked.target, tracked.history, at)
            if verdict.state is State.UNKNOWN:
                if not verdict.same_as(tracked.verdict):
                    self._apply_verdict(tracked, verdict, at, tracked.verdict)
            else:
                self.probes.enqueue(tracked)

    def _on_deadline(self, tracked: Tracked, now: datetime) -> None:
        self._apply_verdict(tracked, self.judge(tracked.target, tracked.history, now), now, tracked.verdict)

    def _apply_verdict(self, tracked: Tracked, verdict: Verdict, now: datetime, previous: Verdict | None) -> None:
        outbox = self.hooks.router(tracked.target, verdict, previous, now) if self.hooks.router else ()
        tracked.verdict = verdict
        self.writer.enqueue(VerdictRecord(tracked.target.id, now, verdict, outbox))
        self.timers.arm(tracked.target.id, verdict)
        self._notify(tracked.target, verdict, previous)

    def _notify(self, target: Target, verdict: Verdict, previous: Verdict | None) -> None:
        (log.debug if first_verdict(previous) else log.info)(
            "verdict_changed", target=target.id, site=target.site_name, column=target.name,
            state=verdict.state, was=previous.state if previous else None, reasons=list(verdict.reasons),
        )
        for listener in self.hooks.listeners:
            try:
                result = listener(target, verdict, previous)
                if result is not None:
                    task = asyncio.ensure_future(result)
                    self._listening.add(task)
                    task.add_done_callback(self._listening.discard)
            except Exception:
                log.exception("listener_failed", target=target.id)


def _moved(was: Target, now: Target) -> bool:
    """Whether a target's list is now read elsewhere or another way (its validators no longer apply): another
    address, a renderer, or another parser (an operator's override)."""
    return (was.url, was.read_url, was.render, was.parser) != (now.url, now.read_url, now.render, now.parser)
