"""The daemon's I/O shell: open the store and fetcher, run the monitor and the board, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog

from alerts.deliver import Sender
from alerts.engine import Alerter
from monitor import config, sdnotify
from monitor.checks.base import Context
from monitor.checks.registry import build_checks, build_observation_checks
from monitor.checks.runner import CheckRunner
from monitor.config import Inventory
from monitor.daemon import Hooks, Monitor, fetch_settings, render_settings
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher
from monitor.journal import Tally, summary
from monitor.metrics import Metrics
from monitor.mqtt import MqttPublisher
from monitor.render import missing
from monitor.render.client import Renderer
from monitor.schedule import sleep_or_wake
from monitor.startup import StartupError, bind, parse_listen, store_problem
from monitor.store import OutboxStore, StoreUnavailable, store_at
from monitor.store.retention import compact_periodically
from monitor.web.app import serve

log = structlog.get_logger()
STOP_GRACE_S = 10.0
STATUS_EVERY_S = 30.0
FIRST_SUMMARY_S = 60


@asynccontextmanager
async def monitoring(
    inventory: Inventory, store_path: str | None = None, metrics: Metrics | None = None, node: str | None = None,
    board: str = "",
) -> AsyncIterator[Monitor]:
    """A loaded monitor with its store and fetcher open (and ``metrics`` attached); closed in order on exit. With
    ``settings.cluster`` it is one daemon of several on its PostgreSQL store, named ``node`` (whose board is at
    ``board``)."""
    settings = inventory.settings
    store = store_at(store_path or settings.store)
    try:
        await store.open()
    except StoreUnavailable as exc:
        raise StartupError("store", exc.zh, exc.en) from None
    except (sqlite3.Error, OSError) as exc:
        raise store_problem(store_path or settings.store, exc) from None
    pool = ExtractPool(settings.extract_workers, settings.extract_time_limit.seconds)
    browser = browser_for(inventory)
    try:
        async with Fetcher(fetch_settings(inventory)) as fetcher:
            hooks = Hooks()
            monitor = Monitor(inventory, store, fetcher, pool, hooks, browser=browser)
            if metrics is not None:
                metrics.attach(monitor)
            # Wired before load: crossings while the daemon was down alert too.
            alerter = Alerter(inventory, monitor.tracked, lambda: monitor.clock(), store, monitor.writer.enqueue,
                              monitor.book.get)
            hooks.router, hooks.finding_router, hooks.alerts = alerter.outbox_for, alerter.findings_outbox, alerter
            hooks.after_write.append(alerter.wake.set)
            hooks.on_reload.append(alerter.configure)
            hooks.on_reload.append(lambda new: fetcher.trust(new.named_addresses))
            if metrics is not None:  # every receiver's counters exist from the start, at 0
                metrics.receivers(alerter.receivers)
                hooks.on_reload.append(lambda _: metrics.receivers(alerter.receivers))
            runner = attach_checks(monitor, inventory)
            outbox: OutboxStore = store
            if settings.cluster is not None:
                outbox = join_cluster(monitor, alerter, node, board)
            await monitor.load()
            # each check one interval after its last run (a restart runs none early); the bridges' state before any
            # account is probed (a cluster's daemon: as it takes them over)
            await runner.resume()
            await alerter.refresh_silences()
            alerter.schedule_all()
            sender = Sender(outbox, alerter, monitor.clock, metrics.notified if metrics else None,
                            metrics.outbox_pending.set if metrics else None)
            delivery = [asyncio.create_task(alerter.run(), name="alert-timers"),
                        asyncio.create_task(sender.run(), name="sender")]
            if settings.mqtt is not None:
                mqtt_wake = asyncio.Event()
                hooks.after_write.append(mqtt_wake.set)
                publisher = MqttPublisher(outbox, settings.mqtt, mqtt_wake,
                                          metrics.set_mqtt_connected if metrics else None,
                                          monitor.cluster.node if monitor.cluster else None)
                delivery.append(asyncio.create_task(publisher.run(), name="mqtt"))
            if monitor.cluster is not None:
                delivery.append(asyncio.create_task(monitor.cluster.run(), name="cluster"))
            try:
                yield monitor
            finally:
                if monitor.cluster is not None:
                    monitor.cluster.stopping = True  # no more claims; leases kept until what is queued is written
                await monitor.stop(STOP_GRACE_S)
                await sender.drain(STOP_GRACE_S)
                for task in delivery:
                    task.cancel()
                await asyncio.gather(*delivery, return_exceptions=True)
                if monitor.cluster is not None:
                    await monitor.cluster.leave()
    finally:
        if isinstance(browser, Renderer):
            await browser.close()
        pool.close()
        await store.close()


def join_cluster(monitor: Monitor, alerter: Alerter, node: str | None, board: str) -> OutboxStore:
    """Make ``monitor`` one daemon of a cluster on its PostgreSQL store: it works the hosts whose buckets it holds
    (probes, deadline and alert timers, checks), writes only what it holds, and shows the others' verdicts. The
    outbox as its senders drain it: a channel at a time, under the channel's lease."""
    from monitor.daemon.cluster import Cluster, ClusterOutbox
    from monitor.store.postgres import PostgresStore

    store = monitor.store
    settings = monitor.inventory.settings.cluster
    if not isinstance(store, PostgresStore) or settings is None:
        raise StartupError("store", "settings.cluster 需要 PostgreSQL 存储（settings.store: postgresql://…）",
                           "settings.cluster needs a PostgreSQL store (settings.store: postgresql://…)")
    name = node or settings.node or f"{socket.gethostname()}:{board.rsplit(':', 1)[-1].strip('/') or os.getpid()}"
    cluster = monitor.cluster = Cluster(monitor, store, settings, name, board)
    store.guard = cluster.guard
    alerter.owns = monitor.holds
    alerter.owns_subject = cluster.owns_subject
    monitor.clearance = cluster.clear
    monitor.hooks.fleet_listeners.append(alerter.fleet_change)
    monitor.hooks.on_adopt.append(alerter.arm)
    monitor.hooks.on_reload.append(cluster.configure)
    if monitor.hooks.checks is not None:
        monitor.hooks.checks.allowed = cluster.owns_subject
    log.info("cluster_joining", node=name, buckets=settings.buckets, heartbeat_s=cluster.heartbeat_s)
    return ClusterOutbox(store, name, cluster.ttl_s + monitor.inventory.settings.alerts.send_timeout.seconds)


def browser_for(inventory: Inventory) -> Renderer | str:
    """The renderer for columns marked ``render: browser`` (its process starts with the first such page), or
    why there is none here: those columns are then unknown with that reason."""
    settings = render_settings(inventory)
    why = missing(settings.chromium)
    if why is not None:
        if any(t.render for t in inventory.targets):
            log.warning("render_unavailable", reason=why, columns=sum(1 for t in inventory.targets if t.render))
        return why
    return Renderer(settings)


def attach_checks(monitor: Monitor, inventory: Inventory) -> CheckRunner:
    """The checks beyond column freshness: periodic ones in a runner the monitor starts, and the ones on
    what probes read; both rebuilt on reload."""
    book, hooks = monitor.book, monitor.hooks
    context = Context(monitor.fetcher, monitor.pool, monitor.store, book.known, monitor.writer.enqueue, book.report)
    runner = hooks.checks = CheckRunner(context, lambda: monitor.clock(), book.report_many, build_checks, inventory)
    hooks.observation_checks[:] = build_observation_checks(inventory)

    def reload(new: Inventory) -> None:
        hooks.observation_checks[:] = build_observation_checks(new)
        runner.configure(new)

    hooks.on_reload.append(reload)
    return runner


async def run_service(
    inventory: Inventory, store_path: str | None = None, listen: str | None = None,
    stop: asyncio.Event | None = None, checks_now: bool = False, ready: Callable[[str], None] | None = None,
    node: str | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``): probes, timers and the board; SIGHUP re-reads the inventory.
    ``checks_now`` runs every check once at start instead of spreading their first runs (the demo); ``ready``
    is called with the board's address once it listens. A problem that keeps it from starting (the address
    taken, the store unreadable) is a StartupError."""
    stop = stop or wait_for_signal()
    host, port = parse_listen(listen or inventory.settings.listen)
    sock = bind(host, port)  # a taken address stops the start here, before the store opens
    metrics = Metrics()
    try:
        board = f"http://{host}:{sock.getsockname()[1]}/"
        async with monitoring(inventory, store_path, metrics, node, board) as monitor:
            runner = await serve(monitor, host, port, metrics, sock=sock)
            tally = count_for_journal(monitor)
            monitor.start()
            port = runner.addresses[0][1] if runner.addresses else port
            background = _background(monitor, inventory.source, tally)
            if checks_now:
                background.append(asyncio.create_task(monitor.check_once(), name="checks-now"))
            log.info("started", targets=len(monitor.tracked), board=f"http://{host}:{port}/")
            if ready is not None:
                ready(f"http://{host}:{port}/")
            sdnotify.notify(READY=1,
                            STATUS=f"运行中 running, 看板 board http://{host}:{port}/ — {status_text(monitor)}")
            try:
                await stop.wait()
                log.info("stopping")
                sdnotify.notify(STOPPING=1, STATUS="正在停止 stopping")
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                with contextlib.suppress(ValueError, RuntimeError):
                    asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
                await runner.cleanup()
    finally:
        sock.close()  # the board's server closed it on cleanup; this closes it if the start failed before
    if monitor.writer.queued or monitor.writer.dropped:
        # systemd marks the unit failed: what the store refused is gone with this process
        log.error("stopped_with_unwritten_records", unwritten=monitor.writer.queued, dropped=monitor.writer.dropped,
                  cause=monitor.writer.cause)
        return 1
    log.info("stopped")
    return 0


def wait_for_signal() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def status_text(monitor: Monitor) -> str:
    """The systemd STATUS line, e.g. ``监测 120 项：红 3 黄 5 绿 110 未知 2``; a store that refuses writes first, and a
    cluster's daemon that lost its store first; otherwise a cluster's daemon adds its share."""
    n = Counter(t.verdict.state.value for t in monitor.tracked.values())
    counts = f"监测 {len(monitor.tracked)} 项：红 {n['red']} 黄 {n['yellow']} 绿 {n['green']} 未知 {n['unknown']}"
    if monitor.cluster is not None:
        lost = monitor.cluster.problem()
        counts = f"{lost} — {counts}" if lost else f"{counts}；{monitor.cluster.status_text()}"
    problem = monitor.writer.problem()
    return counts if problem is None else f"{problem} — {counts}"


async def reload_inventory(monitor: Monitor, path: str) -> bool:
    """Re-read ``path`` and switch the monitor to it; on any problem log them all and keep the old inventory."""
    sdnotify.reloading(STATUS="重新加载清单 reloading inventory")
    ok = False
    try:
        inventory = await asyncio.to_thread(config.load, path)  # a large inventory must not stall the loop
        counts = await monitor.reload(inventory)
    except config.ConfigError as exc:
        shown, more = exc.listed()
        log.error("reload_rejected", config=path, problems=shown, more_problems=more)
    except Exception:
        log.exception("reload_failed", config=path)
    else:
        ok = True
        log.info("reloaded", config=path, targets=len(monitor.tracked), **counts)
    sdnotify.notify(READY=1, STATUS=status_text(monitor))
    return ok


def count_for_journal(monitor: Monitor) -> Tally:
    """A tally of what the monitor does (probes, failures, changes), fed by its hooks, for the summaries."""
    tally = Tally(since=monitor.clock())
    monitor.hooks.probe_listeners.append(tally.probed)
    monitor.hooks.listeners.append(tally.verdict)
    monitor.hooks.finding_listeners.append(tally.findings)
    return tally


async def log_summaries(monitor: Monitor, tally: Tally) -> None:
    """A summary line every ``settings.log_summary`` (read at each one, so a reload changes it); the first one
    within a minute of the start, so a new daemon's journal shows its first probes."""
    wait = min(monitor.inventory.settings.log_summary.seconds, FIRST_SUMMARY_S)
    while True:
        await asyncio.sleep(wait)
        wait = monitor.inventory.settings.log_summary.seconds
        try:
            stats = await monitor.store.outbox_stats()
        except Exception:
            log.exception("summary_failed")
            continue
        now = monitor.clock()
        pending = sum(s["pending"] for s in stats.values())
        log.info("summary", **summary(tally, (t.verdict.state for t in monitor.tracked.values()), pending, now))
        tally.restart(now)


def _background(monitor: Monitor, config_path: str, tally: Tally) -> list[asyncio.Task[None]]:
    """SIGHUP reloads, periodic STATUS, journal summaries, the store's compaction and, when systemd asks for
    one, the watchdog."""
    hup = asyncio.Event()
    with contextlib.suppress(ValueError, RuntimeError):  # signal handlers only in the main thread
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, hup.set)

    async def reloads() -> None:
        while True:
            await hup.wait()
            hup.clear()
            await reload_inventory(monitor, config_path)

    async def statuses() -> None:
        """Every STATUS_EVERY_S, and at once when the store starts or stops refusing writes."""
        changed = monitor.writer.changed
        while True:
            changed.clear()
            await sleep_or_wake(changed, STATUS_EVERY_S)
            sdnotify.notify(STATUS=status_text(monitor))

    tasks = [asyncio.create_task(reloads(), name="sighup"), asyncio.create_task(statuses(), name="status"),
             asyncio.create_task(log_summaries(monitor, tally), name="summaries"),
             asyncio.create_task(compact_periodically(monitor.store, monitor.clock, lambda: monitor.inventory.settings),
                                 name="compaction")]
    if (interval := sdnotify.watchdog_interval()) is not None:
        tasks.append(asyncio.create_task(sdnotify.watchdog(interval, monitor.alive), name="watchdog"))
    return tasks
