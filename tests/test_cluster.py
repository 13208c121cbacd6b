"""Three daemons (processes) on one PostgreSQL store share a loopback fleet (settings.cluster).

The fleet's own request log says how often each column was probed: no duplicate probe, no gap, across a rebalance
at start, a ``kill -9`` and the killed daemon's return; every deadline crossing reaches the receiver once. A daemon
whose store goes away (a TCP proxy cut) stops probing, says so, and resumes when the store is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from ruamel.yaml import YAML

from monitor import config
from monitor.checks.base import Subject
from monitor.config import MqttModel
from monitor.daemon import Monitor
from monitor.daemon.cluster import ClusterOutbox, bucket_of
from monitor.evaluate import TZ, Reason, Verdict
from monitor.findings import Finding
from monitor.model import State
from monitor.mqtt import MqttPublisher
from monitor.records import VerdictRecord
from monitor.service import monitoring
from monitor.store import leases
from monitor.store.postgres import PostgresStore
from tests.bridges import MpFeed, WeweRss, running
from tests.conftest import Endpoint, PageServer, list_page
from tests.pgproxy import Proxy
from tests.test_alerts_delivery import crossings
from tests.test_daemon import dated
from tests.test_mqtt import MOSQUITTO, Broker, Subscriber, enqueue, event, numbers, state

HOSTS, COLUMNS = 9, 3  # sites, each on a port of its own (a host), with three columns each
INTERVAL, HEARTBEAT = 3.0, 1.0  # a column's probe interval; the cluster's heartbeat (leases last three)
TAKEOVER = 3 * HEARTBEAT + HEARTBEAT + 1.0  # a lease runs out, the next heartbeat claims it, then probes start


@dataclass
class Fleet:
    """HOSTS sites on their own loopback ports; ``log`` holds (host, path, monotonic time) of every request."""

    ports: list[int] = field(default_factory=list)
    log: list[tuple[str, str, float]] = field(default_factory=list)
    delay: float = 0.0  # seconds each answer takes

    def probes(self) -> dict[tuple[str, str], list[float]]:
        out: dict[tuple[str, str], list[float]] = {}
        for host, path, at in self.log:
            out.setdefault((host, path), []).append(at)
        return out


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    fleet = Fleet()
    page = list_page(dated(0)).encode()

    async def handle(request: web.Request) -> web.Response:
        fleet.log.append((request.host, request.path, time.monotonic()))
        await asyncio.sleep(fleet.delay)
        return web.Response(body=page, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for _ in range(HOSTS):
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        fleet.ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    yield fleet
    await runner.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_inventory(path: Path, fleet: Fleet, store: str, endpoint: Endpoint, interval: float = INTERVAL) -> Path:
    """Columns green at their first probe, yellow 10 s after it, red 4 s later (deadline timers, not probes)."""
    data = {
        "settings": {
            "store": store, "checks": [], "jitter": 0, "extract_workers": 0,
            "fetch": {"timeout": "5s", "per_host_interval": "0s"},
            "alerts": {"group_window": "0s", "repeat_at": None, "escalate_after": None, "send_timeout": "5s",
                       "max_backoff": "1s"},
            "cluster": {"heartbeat": f"{HEARTBEAT:g}s", "buckets": 16},
        },
        "units": [{"id": "u1", "name": "青溪县人民政府办公室",
                   "receivers": [{"id": "group", "url": endpoint.url("json", "group")}]}],
        "sites": [{"id": f"s{h}", "name": f"青溪县第{h}网站", "unit": "u1",
                   "homepage": f"http://127.0.0.1:{port}/", "check_homepage": False, "columns": [
                       {"id": f"c{h}-{c}", "name": f"动态{h}-{c}", "url": f"http://127.0.0.1:{port}/c{c}/",
                        "category": "动态要闻", "deadline": "14s", "lead": "4s", "interval": f"{interval:g}s"}
                       for c in range(COLUMNS)]}
                  for h, port in enumerate(fleet.ports)],
    }
    YAML().dump(data, path)
    return path


class Daemon:
    def __init__(self, inventory: Path, node: str, logs: Path, store: str | None = None) -> None:
        self.inventory, self.node, self.store = inventory, node, store
        self.port = free_port()
        self.log_path = logs / f"{node}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        cmd = [sys.executable, "-m", "monitor.cli", "run", "--config", str(self.inventory), "--node", self.node,
               "--listen", f"127.0.0.1:{self.port}"] + (["--store", self.store] if self.store else [])
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()  # at once: SIGKILL

    async def stop(self) -> int:
        """SIGTERM, then its exit code (waited for without blocking the loop: the fleet, the receiver and the
        proxy the daemon talks to run on it)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 30)

    async def healthz(self) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
            return resp.status, await resp.text()

    async def api(self, path: str) -> Any:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{self.port}{path}") as resp:
            return await resp.json()


async def status(inventory: Path) -> dict[str, Any]:
    """``govwatch cluster status --json`` (asked once per test: the polls read the tables, see ``held``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor.cli", "cluster", "status", "--config", str(inventory), "--json",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


async def until(predicate: Callable[[], Any], timeout: float, what: str | Callable[[], str]) -> float:
    """Wait until the (async) predicate holds; the seconds it took (``what`` says what failed, or tells it)."""
    start = time.monotonic()
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s: {what if isinstance(what, str) else what()}")
        await asyncio.sleep(0.2)


def buckets(state: dict[str, Any]) -> dict[str, int]:
    return {d["node"]: d["buckets"] for d in state["daemons"] if d["alive"]}


def probe_gaps(fleet: Fleet, since: float, until_: float,
               interval: float = INTERVAL) -> tuple[int, int, dict[str, list[float]]]:
    """Duplicates (two probes of a column less than half an interval apart) and gaps (more than an interval plus
    a takeover), per column, over the probes between ``since`` and ``until_``."""
    duplicates = gaps = 0
    odd: dict[str, list[float]] = {}
    for (host, path), times in fleet.probes().items():
        times = [t for t in times if since <= t <= until_]
        steps = [b - a for a, b in itertools.pairwise(times)]
        dup = sum(1 for s in steps if s < interval / 2)
        gap = sum(1 for s in steps if s > interval + TAKEOVER)
        if dup or gap:
            odd[f"{host}{path}"] = [round(s, 2) for s in steps]
        duplicates, gaps = duplicates + dup, gaps + gap
    return duplicates, gaps, odd


async def test_three_daemons_share_the_fleet_and_survive_a_kill(
        tmp_path: Path, fleet: Fleet, endpoint: Endpoint, postgres_url: str) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", fleet, postgres_url, endpoint)
    daemons = [Daemon(inventory, f"d{i}", tmp_path).start() for i in range(3)]
    try:
        # every daemon gets work (the first to start took everything, then gave the others their share)
        await until(lambda: _all_hold(postgres_url, {"d0", "d1", "d2"}), 30, "three daemons holding buckets")
        await until(lambda: len(fleet.probes()) == HOSTS * COLUMNS, 20, "every column probed")
        steady = time.monotonic()
        await asyncio.sleep(2 * INTERVAL)
        state = await status(inventory)
        assert state["unheld_buckets"] == 0 and sum(buckets(state).values()) == 16
        victim = max(daemons, key=lambda d: buckets(state)[d.node])
        victim.kill()
        killed = time.monotonic()
        # within the lease (three heartbeats) and the next heartbeat, with room for a loaded machine
        await until(lambda: _taken_over(postgres_url, victim.node), 3 * TAKEOVER,
                    "the killed daemon's buckets held by the others")
        # the whole fleet is on every board: each survivor counts every column as probed (none unknown)
        for survivor in (d for d in daemons if d is not victim):
            summary = await survivor.api("/api/summary")
            assert summary["total"] == HOSTS * COLUMNS and not summary["counts"].get("unknown"), summary
            assert (await survivor.healthz())[0] == 200
        await asyncio.sleep(2 * INTERVAL)
        victim.start()  # it comes back under its name and gets its share again
        await until(lambda: _all_hold(postgres_url, {"d0", "d1", "d2"}), 8 * HEARTBEAT + 10, "the daemon rejoined")
        # every column crosses to yellow and to red by its deadline timer: one message each, whoever fires it
        await until(lambda: len(set(told(endpoint))) >= 2 * HOSTS * COLUMNS, 40,
                    lambda: f"every crossing delivered (told: {sorted(told(endpoint))})")
        await asyncio.sleep(2 * INTERVAL)
        end = time.monotonic()
    finally:
        codes = await asyncio.gather(*(d.stop() for d in daemons))
    assert codes == [0, 0, 0]
    expected = {(f"动态{h}-{c}", tag) for h in range(HOSTS) for c in range(COLUMNS) for tag in ("预警", "超期")}
    delivered = told(endpoint)
    assert set(delivered) == expected  # no crossing lost
    assert len(delivered) - len(expected) <= 1  # at most one sent twice, for the one crash
    duplicates, gaps, odd = probe_gaps(fleet, steady, end)
    assert gaps == 0, odd
    # a probe the killed daemon made but could not write is not made again by its successor: its intent is recorded
    assert duplicates == 0, odd
    before_kill = probe_gaps(fleet, steady, killed - 0.1)
    after_kill = probe_gaps(fleet, killed + TAKEOVER + INTERVAL, end)
    assert before_kill[:2] == (0, 0) and after_kill[:2] == (0, 0), (before_kill[2], after_kill[2])


def told(endpoint: Endpoint) -> list[tuple[str, str]]:
    return [c for m in endpoint.messages("group") for c in crossings(m)]


async def held(store: str) -> tuple[dict[str, int], int]:
    """Buckets per live daemon and buckets no live daemon holds, read from the cluster's tables (polled often: a
    ``govwatch cluster status`` process each time would starve the daemons of CPU)."""
    db = await asyncpg.connect(store)
    try:
        members = await leases.members(db)
        return {m.node: len(m.buckets) for m in members if m.alive}, await leases.unheld(db, 16)
    except asyncpg.UndefinedTableError:  # no daemon has migrated the store yet
        return {}, -1
    finally:
        await db.close()


async def _all_hold(store: str, nodes: set[str]) -> bool:
    now, unheld = await held(store)
    return set(now) == nodes and all(n > 0 for n in now.values()) and unheld == 0


async def _taken_over(store: str, victim: str) -> bool:
    now, unheld = await held(store)
    return unheld == 0 and victim not in now


async def test_a_daemon_that_loses_the_store_stops_probing_says_so_and_resumes(
        tmp_path: Path, fleet: Fleet, endpoint: Endpoint, postgres_url: str) -> None:
    proxy = await Proxy(postgres_url).start()
    inventory = write_inventory(tmp_path / "inventory.yaml", fleet, postgres_url, endpoint)
    direct = Daemon(inventory, "direct", tmp_path).start()
    cut = Daemon(inventory, "proxied", tmp_path, store=proxy.url).start()
    try:
        await until(lambda: _all_hold(postgres_url, {"direct", "proxied"}), 30, "two daemons holding buckets")
        await until(lambda: len(fleet.probes()) == HOSTS * COLUMNS, 20, "every column probed")
        steady = time.monotonic()
        await asyncio.sleep(INTERVAL)
        proxy.cut()
        await until(lambda: _says_lost(cut), TAKEOVER + 2, "the cut daemon says it lost its store")
        await until(lambda: _taken_over(postgres_url, "proxied"), 3 * TAKEOVER, "the other daemon took everything")
        await asyncio.sleep(2 * INTERVAL)
        proxy.restore()
        await until(lambda: _all_hold(postgres_url, {"direct", "proxied"}), 8 * HEARTBEAT + 10,
                    "the cut daemon is back")
        # healthy again once the writer's next retry (its backoff: at most 30 s) wrote what it held
        await until(lambda: _healthy(cut), 40, "/healthz ok again")
        await asyncio.sleep(2 * INTERVAL)
        end = time.monotonic()
    finally:
        codes = await asyncio.gather(*(d.stop() for d in (direct, cut)))
        await proxy.close()
    assert codes == [0, 0]
    duplicates, gaps, odd = probe_gaps(fleet, steady, end)
    assert (duplicates, gaps) == (0, 0), odd  # the cut daemon stopped before its leases could pass on
    logged = [json.loads(line) for line in cut.log_path.read_text().splitlines() if line.startswith("{")]
    events = [e["event"] for e in logged]
    assert "cluster_store_lost" in events and "cluster_store_back" in events


async def test_a_daemon_that_stood_still_past_its_sure_lease_schedules_again_what_came_due(
        tmp_path: Path, fleet: Fleet, endpoint: Endpoint, postgres_url: str) -> None:
    """A daemon whose process stands still (a frozen VM, a starved CPU) longer than it can be sure of its buckets
    (two heartbeats) finds them still its own when it runs again; the columns that came due meanwhile — left out
    while it was unsure — are probed then, and on their interval after. They used to be left out for good."""
    inventory = write_inventory(tmp_path / "inventory.yaml", fleet, postgres_url, endpoint)
    daemon = Daemon(inventory, "alone", tmp_path).start()
    assert daemon.proc is not None
    try:
        await until(lambda: _all_hold(postgres_url, {"alone"}), 30, "the daemon holding every bucket")
        await until(lambda: len(fleet.probes()) == HOSTS * COLUMNS, 20, "every column probed")
        steady = time.monotonic()
        await asyncio.sleep(INTERVAL)
        daemon.proc.send_signal(signal.SIGSTOP)
        await asyncio.sleep(3 * HEARTBEAT)  # past the two heartbeats it is sure of; nobody else takes its buckets
        daemon.proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(3 * INTERVAL)
        end = time.monotonic()
    finally:
        code = await daemon.stop()
    assert code == 0
    late = {f"{host}{path}": round(end - times[-1], 1) for (host, path), times in fleet.probes().items()
            if end - times[-1] > INTERVAL + 1.0}
    assert not late, late  # seconds since each of these columns was last probed
    duplicates, gaps, odd = probe_gaps(fleet, steady, end)
    assert (duplicates, gaps) == (0, 0), odd
    events = [json.loads(line)["event"] for line in daemon.log_path.read_text().splitlines() if line.startswith("{")]
    assert "cluster_heartbeat_late" in events


async def test_a_daemon_back_from_a_short_store_outage_probes_nothing_twice(
        tmp_path: Path, fleet: Fleet, endpoint: Endpoint, postgres_url: str) -> None:
    """A daemon alone that loses its store for a moment (long enough to stop working, not for its buckets to go
    stale) comes back to the same buckets: the probes it made before it stopped are written when the store is
    back, not dropped, and their columns are not probed again before their interval. It used to take its buckets
    back as if from another daemon: what it had not written yet was dropped and probed again at once."""
    interval = 8.0
    proxy = await Proxy(postgres_url).start()
    inventory = write_inventory(tmp_path / "inventory.yaml", fleet, postgres_url, endpoint, interval)
    daemon = Daemon(inventory, "alone", tmp_path, store=proxy.url).start()
    db = await asyncpg.connect(postgres_url)
    try:
        await until(lambda: _all_hold(postgres_url, {"alone"}), 30, "the daemon holding every bucket")
        await until(lambda: len(fleet.probes()) == HOSTS * COLUMNS, 20, "every column probed")
        steady = time.monotonic()
        # every column is probed at once (no jitter): the next round comes an interval after the last
        await asyncio.sleep(max(at for *_, at in fleet.log) + interval - 1.5 * HEARTBEAT - time.monotonic())
        beat = await db.fetchval("SELECT heartbeat_at FROM cluster_members")
        await until(lambda: _beat_after(db, beat), 5, "a heartbeat")
        # right after a heartbeat, so sure of its buckets for two more (the next round comes in them) and holding
        # them for three; its results of that round cannot be written
        proxy.cut()
        await asyncio.sleep(2.6 * HEARTBEAT)
        proxy.restore()
        await asyncio.sleep(2 * interval)
        end = time.monotonic()
    finally:
        code = await daemon.stop()
        await db.close()
        await proxy.close()
    assert code == 0
    events = [json.loads(line)["event"] for line in daemon.log_path.read_text().splitlines() if line.startswith("{")]
    assert "cluster_store_lost" in events and "cluster_store_back" in events
    duplicates, gaps, odd = probe_gaps(fleet, steady, end, interval)
    assert (duplicates, gaps) == (0, 0), odd
    assert "cluster_records_dropped" not in events


async def test_a_daemon_that_stood_still_past_its_lease_does_not_probe_what_it_had_queued(
        tmp_path: Path, fleet: Fleet, endpoint: Endpoint, postgres_url: str) -> None:
    """A daemon that stands still in the midst of a round, long enough for the other to take its hosts over, does
    not make the probes it had queued when it runs again (the other made them); only what was in flight when it
    stopped is made twice, as at a crash. It used to make its queued probes all the same."""
    interval = 12.0
    inventory = write_inventory(tmp_path / "inventory.yaml", fleet, postgres_url, endpoint, interval)
    paused, other = Daemon(inventory, "paused", tmp_path).start(), Daemon(inventory, "other", tmp_path).start()
    assert paused.proc is not None
    db = await asyncpg.connect(postgres_url)
    try:
        await until(lambda: _all_hold(postgres_url, {"paused", "other"}), 30, "two daemons holding buckets")
        await until(lambda: len(fleet.probes()) == HOSTS * COLUMNS, 30, "every column probed")
        steady = time.monotonic()
        mine = {m.node: set(m.buckets) for m in await leases.members(db)}["paused"]
        hosts = {f"127.0.0.1:{port}" for port in fleet.ports if bucket_of(f"127.0.0.1:{port}", 16) in mine}
        # a host's columns all come due at once (answered at once so far); from now on an answer takes a second, and
        # two probes of a host are made at a time (per_host_concurrency): the third waits its turn
        fleet.delay = 1.0
        seen = len(fleet.log)
        await until(lambda: any(host in hosts for host, *_ in fleet.log[seen:]), 2 * interval, "its next round")
        await asyncio.sleep(0.3)
        paused.proc.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            await until(lambda: _taken_over(postgres_url, "paused"), 3 * TAKEOVER, "the other took its hosts")
            await asyncio.sleep(0.5)
        finally:
            paused.proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(interval / 2)
        end = time.monotonic()
    finally:
        codes = await asyncio.gather(*(d.stop() for d in (paused, other)))
        await db.close()
    assert codes == [0, 0]
    repeated = {f"{host}{path}": [round(t - stopped, 2) for t in times]
                for (host, path), times in fleet.probes().items()
                for a, b in itertools.pairwise(t for t in times if steady <= t <= end)
                if b - a < interval / 2 and a > stopped}
    assert not repeated, repeated  # seconds after it stopped


async def _beat_after(db: asyncpg.Connection, beat: datetime) -> bool:
    return await db.fetchval("SELECT heartbeat_at FROM cluster_members") > beat


async def _healthy(daemon: Daemon) -> bool:
    return (await daemon.healthz())[0] == 200


async def _says_lost(daemon: Daemon) -> bool:
    status_code, text = await daemon.healthz()
    return status_code == 503 and "cluster_store_lost" in text



async def test_the_fleet_read_back_shows_a_write_that_commits_late(postgres_url: str) -> None:
    """A daemon's write that commits long after its transaction began (more than the 5 s the read-back once looked
    back by ``written_at``) is read by the others at their next look after the commit; the quick writes committed
    meanwhile are read at once."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def slow(db: asyncpg.Connection, records: Any) -> Any:
        await db.fetchval("SELECT pg_current_xact_id()")  # its id taken now, as a long write's is at its first row
        holding.set()
        await release.wait()
        return records

    stores = [PostgresStore(postgres_url), PostgresStore(postgres_url, guard=slow), PostgresStore(postgres_url)]
    for store in stores:
        await store.open()
    reader, late, quick = stores

    def record(target: str) -> VerdictRecord:
        return VerdictRecord(target, datetime.now(UTC), Verdict(State.RED, ("stale",), detail=target))

    try:
        horizon, _ = await reader.fleet_changes(0)
        writing = asyncio.create_task(late.write([record("late")]))
        await asyncio.wait_for(holding.wait(), 10)
        written = 0
        started = time.monotonic()
        while time.monotonic() - started < 6:  # another daemon writes, this one looks, every half second
            await quick.write([record(f"quick{written}")])
            written += 1
            horizon, changed = await reader.fleet_changes(horizon)
            # every quick write so far, read again while the late one runs (the horizon stays below it)
            assert sorted(tid for tid, _ in changed) == sorted(f"quick{i}" for i in range(written))
            await asyncio.sleep(0.5)
        release.set()
        await writing
        horizon, changed = await reader.fleet_changes(horizon)
        assert dict(changed)["late"] == Verdict(State.RED, ("stale",), detail="late")
        # the case the 5 s look-back missed: the late row's time is more than 5 s before the newest seen before it
        times = dict(await reader.run(lambda db: db.fetch("SELECT target_id, written_at FROM current")))
        assert max(times[f"quick{i}"] for i in range(written)) - times["late"] > timedelta(seconds=5)
    finally:
        release.set()
        for store in stores:
            await store.close()


@pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="no mosquitto (.ci/run installs it)")
async def test_two_daemons_on_one_broker_stay_connected_and_one_publishes_at_a_time(
        tmp_path: Path, postgres_url: str) -> None:
    """Two daemons' MQTT publishers, built as a cluster builds them (``client_id`` and node, the outbox under the
    channel lease), on one real broker: each stays connected under a client id of its own (sharing one, the broker
    would throw the older off at every connect), each says its own status; the outbox goes out once, in order, and
    the retained states are republished by one daemon, then once more by the other when it takes over."""
    broker = Broker(tmp_path)
    await broker.start()
    store = PostgresStore(postgres_url)
    await store.open()
    await enqueue(store, [state(f"c{i}", "green") for i in range(3)], prefix="before")  # sent by an earlier run
    now = datetime.now(UTC)
    await store.outbox_sent([row.id for row in await store.outbox_due("mqtt", now)], now)
    sub = Subscriber(broker.port)
    daemons: dict[str, tuple[asyncio.Task[None], asyncio.Event, list[bool]]] = {}
    try:
        await asyncio.wait_for(sub.subscribed.wait(), 5)
        for node in ("a", "b"):
            wake, calls = asyncio.Event(), []
            publisher = MqttPublisher(ClusterOutbox(store, node, 3.0), MqttModel(port=broker.port), wake,
                                      calls.append, node)
            assert publisher.client_id == f"govwatch-{node}"
            daemons[node] = asyncio.create_task(publisher.run()), wake, calls
        await until(lambda: sub.on("govwatch/status/a") == ["online"] == sub.on("govwatch/status/b"), 10, "both online")
        await enqueue(store, [event(n) for n in range(20)], prefix="first")
        for _, wake, _ in daemons.values():
            wake.set()
        await until(lambda: numbers(sub) == list(range(20)), 10, lambda: f"the first events (got {numbers(sub)})")
        await asyncio.sleep(3)  # time for a broker to throw a client off, and for it to come back and throw the other
        assert [calls for _, _, calls in daemons.values()] == [[True], [True]]
        assert not sub.on("govwatch/status")  # no status shared by the daemons (one's will would say all are off)
        states = [f"govwatch/u1/column/c{i}/state" for i in range(3)]
        assert [len(sub.on(topic)) for topic in states] == [1, 1, 1]  # republished by one daemon, not by each
        holder = await store.run(lambda db: db.fetchval("SELECT owner FROM outbox_channels WHERE channel = 'mqtt'"))
        other = "b" if holder == "a" else "a"
        # the holder stops as a daemon does (its publisher, then it leaves the cluster): the other takes over
        task, _, calls = daemons.pop(holder)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.run(lambda db: leases.leave(db, holder))
        await enqueue(store, [event(n) for n in range(20, 40)], prefix="second")
        daemons[other][1].set()
        await until(lambda: numbers(sub) == list(range(40)), 10, lambda: f"the second events (got {numbers(sub)})")
        assert [len(sub.on(topic)) for topic in states] == [2, 2, 2]  # once more, by the daemon taking over
        assert sub.on(f"govwatch/status/{holder}") == ["online", "offline"] and calls == [True, False]
        assert sub.on(f"govwatch/status/{other}") == ["online"] and daemons[other][2] == [True]
    finally:
        for task, _, _ in daemons.values():
            task.cancel()
        await asyncio.gather(*(task for task, _, _ in daemons.values()), return_exceptions=True)
        await sub.close()
        await store.close()
        broker.stop()


# ------------------------------------------------------------ the checks' schedule at a handover (in-process daemons)

CHECK_INTERVAL = 600.0


class Ticks:
    """A check for the tests: records when it ran on each subject, finds nothing."""

    name = "ticks"
    produces = ("word",)

    def __init__(self, subjects: list[str]) -> None:
        self.ids = subjects
        self.calls: dict[str, float] = {}

    def subjects(self, inventory: config.Inventory) -> list[Subject]:
        return [Subject(s, CHECK_INTERVAL, "u1", "", None) for s in self.ids]

    async def run(self, subject: Subject, ctx: Any, now: datetime) -> list[Finding]:
        self.calls.setdefault(subject.id, now.timestamp())
        return []


def cluster_inventory(path: Path, store: str, **extra: Any) -> config.Inventory:
    data = {"settings": {"store": store, "checks": [], "extract_workers": 0,
                         "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                         "cluster": {"heartbeat": f"{HEARTBEAT:g}s", "buckets": 16}},
            "units": [{"id": "u1", "name": "青溪县人民政府办公室"}]}
    for key, value in extra.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    YAML().dump(data, path)
    return config.load(path)


def with_check(monitor: Monitor, inventory: config.Inventory, check: Ticks | None) -> None:
    """Give a daemon's runner ``check`` (None: no check). Called right after ``monitoring`` yields, before the
    daemon's first heartbeat can adopt anything."""
    runner = monitor.check_runner
    assert runner is not None
    runner._build = lambda _: [check] if check else []
    runner.configure(inventory)


async def test_a_daemon_taking_subjects_over_runs_their_checks_one_interval_after_their_last_run(
        tmp_path: Path, postgres_url: str) -> None:
    """Daemon a runs the check on every subject; b joins and takes half the buckets: each subject b took runs there
    one interval after a's run (not at b's random first-run time, not at once); one whose last run the store says is
    overdue runs within the time it is overdue."""
    inventory = cluster_inventory(tmp_path / "inventory.yaml", postgres_url)
    ran, overdue = [f"ran-{k}" for k in range(8)], [f"late-{k}" for k in range(8)]
    async with monitoring(inventory, node="a") as a:
        first = Ticks(ran + overdue)
        with_check(a, inventory, first)
        await until(lambda: len(a.cluster.active) == 16, 10, "a holds every bucket")  # type: ignore[union-attr]
        await a.check_once()  # every subject, now: the runs are written through a's writer and write guard
        with_check(a, inventory, None)  # a runs nothing more: what b finds in the store is a's run
        db = await asyncpg.connect(postgres_url)
        try:
            recorded = {s: at.timestamp() for s, at in await db.fetch(
                "SELECT subject, at FROM check_runs WHERE check_name = 'ticks'")}
            # the late ones last ran an interval and 30 s ago
            await db.execute("UPDATE check_runs SET at = at - make_interval(secs => $1) WHERE subject LIKE 'late-%'",
                             CHECK_INTERVAL + 30)
        finally:
            await db.close()
        assert recorded == pytest.approx(first.calls, abs=1e-3)
        async with monitoring(inventory, node="b") as b:
            second = Ticks(ran + overdue)
            with_check(b, inventory, second)
            joined = time.time()
            await until(lambda: len(b.cluster.active) == 8 and len(a.cluster.active) == 8,  # type: ignore[union-attr]
                        10 * HEARTBEAT + 10, "b took its share")
            seen = time.time()
            runner = b.check_runner
            assert runner is not None
            due = {subject: at for (_, subject), at in runner.next_runs().items()}
            taken = [s for s in ran + overdue if b.cluster.owns_subject(s)]  # type: ignore[union-attr]
            assert {s for s in taken if s in ran} and {s for s in taken if s in overdue}
            for subject in (s for s in taken if s in ran):
                assert subject not in second.calls  # not at once
                assert due[subject] == pytest.approx(first.calls[subject] + CHECK_INTERVAL, abs=1e-3)
            for subject in (s for s in taken if s in overdue):
                when = second.calls.get(subject, due[subject])  # it may have run already
                # overdue by 30 s plus the time since a ran it: runs within that much of being taken
                assert joined <= when <= seen + (seen - first.calls[subject]) + 30 + 1, (subject, when - seen)
            # what b does not hold keeps its first-run time and is not run by b
            assert not {s for s in second.calls if not b.cluster.owns_subject(s)}  # type: ignore[union-attr]


async def test_a_cluster_daemon_checks_its_bridges_before_judging_their_accounts_and_not_again_after_a_restart(
        tmp_path: Path, postgres_url: str, endpoint: Endpoint) -> None:
    """The bridges' start-up check in a cluster: run as the daemon takes the bridge, before any account behind it
    is read; after a restart within the bridge's interval it is not run again (its finding is in the store)."""
    from tests.test_bridges import ALERTS, article, units

    now = datetime.now(TZ)
    wewe = WeweRss(now=lambda: datetime.now(TZ))
    for n in range(5):  # every account last posted 20+ days ago as far as the bridge knows: red, if believed
        wewe.feeds[f"MP_WXS_{n}"] = MpFeed(f"青溪{n}号", [article(n, 20 + n), article(n, 30)],
                                           sync_time=now - timedelta(days=5), update_time=now - timedelta(days=90))
    async for served in running(wewe):
        accounts = [{"id": f"mp{n}", "unit": f"u{n}", "platform": "微信公众号", "name": f"青溪{n}号",
                     "source": {"kind": "atom", "url": f"{served.base}/feeds/MP_WXS_{n}.atom"}} for n in range(5)]
        inventory = cluster_inventory(
            tmp_path / "inventory.yaml", postgres_url, settings={"checks": ["bridges"], "alerts": ALERTS},
            units=units(endpoint), accounts=accounts,
            bridges=[{"id": "wewe", "kind": "wewe-rss", "url": served.base + "/", "unit": "xxzx"}])
        verdicts = []
        for _ in range(2):  # the daemon, then the same daemon restarted
            async with monitoring(inventory, node="n1") as monitor:
                monitor.start()
                await until(lambda m=monitor: len(m.cluster.active) == 16 and all(  # type: ignore[union-attr]
                    t.history.latest is not None for t in m.tracked.values()), 20, "every account read")
                verdicts.append({aid: (t.verdict.state, t.verdict.reasons) for aid, t in monitor.tracked.items()})
    reads = [h for h in served.hits if h.startswith("/feeds/MP_WXS_")]
    checks = [i for i, h in enumerate(served.hits) if h in ("/feeds", "/feeds/")]
    assert len(checks) == 1 and checks[0] < served.hits.index(reads[0])  # once, before the first account read
    assert len(reads) == 5  # each account once (the restarted daemon reads them one interval after that)
    for seen in verdicts:  # never red on what a stalled bridge serves
        assert set(seen.values()) == {(State.UNKNOWN, (Reason.SOURCE_FAULT, Reason.BRIDGE_STALLED))}
    assert not [m for m in endpoint.received if m["path"] != "/ops"]  # no unit told its account is late


async def test_a_store_error_while_taking_buckets_over_is_retried_at_the_next_heartbeat(
        tmp_path: Path, postgres_url: str) -> None:
    """Reading the taken buckets' state back fails (the check_runs table is missing a while): the buckets stay
    held but unworked, the heartbeat goes on, and the next heartbeat after the table is back adopts them."""
    inventory = cluster_inventory(tmp_path / "inventory.yaml", postgres_url)
    db = await asyncpg.connect(postgres_url)
    try:
        async with monitoring(inventory, node="a") as a:
            with_check(a, inventory, Ticks([f"s-{k}" for k in range(16)]))
            await db.execute("ALTER TABLE check_runs RENAME TO check_runs_away")
            held_then = await until(lambda: _all_hold(postgres_url, {"a"}), 10, "a holds buckets in the store")
            await asyncio.sleep(3 * HEARTBEAT)
            assert not a.cluster.active, held_then  # type: ignore[union-attr]  # nothing worked without its state
            await db.execute("ALTER TABLE check_runs_away RENAME TO check_runs")
            await until(lambda: len(a.cluster.active) == 16, 5 * HEARTBEAT, "a works its buckets")  # type: ignore[union-attr]
    finally:
        await db.close()


async def test_a_probe_made_but_never_recorded_is_not_made_again_by_the_next_holder(
        tmp_path: Path, page_server: PageServer, postgres_url: str) -> None:
    """A daemon set out to probe a column (its intent is in the store) and died before the result was written: the
    daemon taking the column over probes it one interval after that intent, not at once — the site saw that request
    — while a column with no such intent is probed at once."""
    for path in ("/sent/", "/fresh/"):
        page_server.set(path, list_page(dated(0)))
    columns = [{"id": f"c-{name}", "name": f"动态{name}", "url": page_server.url(f"/{name}/"), "category": "动态要闻",
                "interval": "60s"} for name in ("sent", "fresh")]
    inventory = cluster_inventory(tmp_path / "inventory.yaml", postgres_url, sites=[
        {"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": page_server.url("/"),
         "check_homepage": False, "columns": columns}])
    store = PostgresStore(postgres_url)
    await store.open()  # migrated: the intent below is what a daemon killed with -9 left
    intent = datetime.now(UTC) - timedelta(seconds=5)
    await store.run(lambda db: db.execute("INSERT INTO probe_intents VALUES ('c-sent', $1)", intent))
    await store.close()
    async with monitoring(inventory, node="b") as b:
        b.start()
        await until(lambda: len(b.cluster.active) == 16, 10, "b holds every bucket")  # type: ignore[union-attr]
        await until(lambda: page_server.hits.get("/fresh/"), 5, "the column without an intent probed")
        await asyncio.sleep(1)
        assert "/sent/" not in page_server.hits
        assert b.probes._due.due_at("c-sent") == pytest.approx(intent.timestamp() + 60, abs=0.01)
