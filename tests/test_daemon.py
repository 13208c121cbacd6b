"""The daemon end to end: real HTTP server on 127.0.0.1, real fetcher and extractor, real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from ruamel.yaml import YAML

from monitor import config
from monitor.evaluate import TZ, Reason
from monitor.model import State
from monitor.service import monitoring
from monitor.store import Store, store_at
from monitor.store.location import is_postgres
from monitor.store.sqlite import MIGRATIONS, SQLiteStore
from tests.conftest import PageServer, list_page

TODAY = datetime.now(TZ).date()
T = TypeVar("T")


def write_inventory(path: Path, server: PageServer, columns: list[dict], store: str | None = None,
                    **settings) -> config.Inventory:
    """Columns only: the other checks (links, availability, …) are off, so page hits count probes alone."""
    data = {
        "settings": {"store": store or str(path.parent / "govwatch.sqlite3"), "checks": [],
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"}, **settings},
        "units": [{"id": "u1", "name": "测试县人民政府办公室"}],
        "sites": [{"id": "s1", "name": "测试县人民政府网站", "unit": "u1", "homepage": server.url("/"),
                   "check_homepage": False, "columns": columns}],
    }
    YAML().dump(data, path)
    return config.load(path)


def dated(days_ago: int, count: int = 15) -> list[tuple[str, str]]:
    newest = TODAY - timedelta(days=days_ago)
    return [(f"关于做好第{i}项重点工作的通知", (newest - timedelta(days=2 * i)).isoformat()) for i in range(count)]


async def stored(location: str, read: Callable[[Store], Awaitable[T]]) -> T:
    """What the store at ``location`` gives back (either backend), read through its protocol."""
    store = store_at(location)
    await store.open()
    try:
        return await read(store)
    finally:
        await store.close()


async def test_sweep_stores_verdicts_and_survives_restart(tmp_path: Path, page_server: PageServer,
                                                          store_location: str) -> None:
    page_server.set("/fresh/", list_page(dated(1)))
    page_server.set("/stale/", list_page(dated(40)))
    page_server.set("/gone/", "oops", status=503)
    inv = write_inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "fresh", "name": "工作动态", "url": page_server.url("/fresh/"), "category": "动态要闻"},
        {"id": "stale", "name": "乡镇动态", "url": page_server.url("/stale/"), "category": "动态要闻"},
        {"id": "gone", "name": "通知公告", "url": page_server.url("/gone/"), "category": "通知公告"},
    ], store=store_location)
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        states = {tid: t.verdict for tid, t in monitor.tracked.items()}
    assert states["fresh"].state is State.GREEN
    assert states["fresh"].newest_date == TODAY - timedelta(days=1)
    assert states["stale"].state is State.RED
    assert states["gone"].state is State.UNKNOWN and states["gone"].reasons == (Reason.FETCH_FAILED,)

    if not is_postgres(store_location):
        with contextlib.closing(sqlite3.connect(store_location)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    async def read(store: Store) -> tuple[list[int], int, list[str]]:
        return ([len(await store.observations(tid)) for tid in ("fresh", "stale", "gone")],
                len(await store.recent_item_urls(["fresh"], 100)),
                [v["state"] for v in await store.verdict_history("stale")])

    assert await stored(store_location, read) == ([1, 1, 1], 15, ["red"])

    # A second daemon resumes from the store: same verdicts before any probe.
    async with monitoring(inv) as monitor:
        assert {tid: t.verdict.state for tid, t in monitor.tracked.items()} == {
            "fresh": State.GREEN, "stale": State.RED, "gone": State.UNKNOWN}
        assert monitor.tracked["gone"].verdict.newest_date is None
        assert monitor.tracked["fresh"].history.latest.newest_date == TODAY - timedelta(days=1)


async def test_deadline_timer_fires_at_the_crossing_without_a_probe(tmp_path: Path, page_server: PageServer,
                                                                   store_location: str) -> None:
    """Sub-day rules count from the first sighting: green now, yellow after 1.5 s, red after 3 s."""
    page_server.set("/col/", list_page(dated(0)))
    inv = write_inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "c1", "name": "工作动态", "url": page_server.url("/col/"), "category": "动态要闻",
         "deadline": "3s", "lead": "1s", "interval": "1h"},
    ], store=store_location)
    seen: list[tuple[State, datetime]] = []
    async with monitoring(inv) as monitor:
        monitor.hooks.listeners.append(lambda target, verdict, previous: seen.append((verdict.state, datetime.now(TZ))))
        monitor.start()
        while len(seen) < 3:
            await asyncio.sleep(0.05)
        tracked = monitor.tracked["c1"]
        first_seen = tracked.history.newest_first_seen
    assert [s for s, _ in seen] == [State.GREEN, State.YELLOW, State.RED]
    assert page_server.hits["/col/"] == 1  # the crossings came from timers, not from probes
    yellow_at, red_at = first_seen + timedelta(seconds=2), first_seen + timedelta(seconds=3)
    assert timedelta(0) <= seen[1][1] - yellow_at < timedelta(seconds=0.5)
    assert timedelta(0) <= seen[2][1] - red_at < timedelta(seconds=0.5)
    history = await stored(store_location, lambda store: store.verdict_history("c1"))
    assert [v["state"] for v in reversed(history)] == ["green", "yellow", "red"]


async def test_page_that_loses_its_list_is_page_changed(tmp_path: Path, page_server: PageServer) -> None:
    page_server.set("/col/", list_page(dated(2)))
    inv = write_inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "c1", "name": "工作动态", "url": page_server.url("/col/"), "category": "动态要闻"},
    ])
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        assert monitor.tracked["c1"].verdict.state is State.GREEN
        page_server.set("/col/", "<html><body><div class='banner'>网站改版中，敬请期待</div></body></html>")
        await monitor.sweep_once()
        verdict = monitor.tracked["c1"].verdict
    assert verdict.state is State.UNKNOWN
    assert verdict.reasons == (Reason.PAGE_CHANGED,)
    assert verdict.newest_date == TODAY - timedelta(days=2)


async def test_conditional_get_keeps_the_verdict(tmp_path: Path, page_server: PageServer,
                                                 store_location: str) -> None:
    page_server.set("/col/", list_page(dated(12)))
    page_server.etags["/col/"] = '"v1"'
    inv = write_inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "c1", "name": "工作动态", "url": page_server.url("/col/"), "category": "动态要闻"},
    ], store=store_location)
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        first = monitor.tracked["c1"].verdict
        await monitor.sweep_once()
        second = monitor.tracked["c1"].verdict
        latest = monitor.tracked["c1"].history.latest
    assert page_server.not_modified == 1 and latest.not_modified and latest.http_status == 304
    assert first.state is State.YELLOW and second.same_as(first)
    probes = await stored(store_location, lambda store: store.observations("c1"))
    assert [o["not_modified"] for o in reversed(probes)] == [False, True]
    assert (await stored(store_location, lambda store: store.load_states()))["c1"].etag == '"v1"'


async def test_hostile_pages_never_crash_the_daemon(tmp_path: Path, page_server: PageServer) -> None:
    hostile = {
        "/binary/": (os.urandom(200_000), "application/octet-stream"),
        "/deep/": (b"<div>" * 200_000, "text/html"),
        "/script-title/": (list_page([("<script>alert(1)</script>恶意标题", TODAY.isoformat())] * 12).encode(),
                           "text/html; charset=utf-8"),
        "/empty/": (b"", "text/html"),
    }
    columns = []
    for i, (path, (body, ctype)) in enumerate(hostile.items()):
        page_server.set(path, body, content_type=ctype)
        columns.append({"id": f"c{i}", "name": f"栏目{i}", "url": page_server.url(path), "category": "动态要闻"})
    # A page that takes the parser longer than the limit has its worker killed, and nothing else waits.
    inv = write_inventory(tmp_path / "inv.yaml", page_server, columns, extract_time_limit="2s")
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        verdicts = {t.target.url: t.verdict for t in monitor.tracked.values()}
        # the pool still works after a kill
        page_server.set("/deep/", list_page(dated(3)))
        await monitor.sweep_once()
        after = monitor.tracked["c1"].verdict
    assert all(v.state is State.UNKNOWN for u, v in verdicts.items() if "script-title" not in u)
    assert verdicts[page_server.url("/script-title/")].state is State.GREEN
    assert after.state is State.GREEN and after.newest_date == TODAY - timedelta(days=3)


def test_sigterm_stops_the_daemon_cleanly(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    YAML().dump({
        "settings": {"store": str(tmp_path / "g.sqlite3"), "listen": "127.0.0.1:0"},
        "units": [{"id": "u1", "name": "单位"}],
        "sites": [{"id": "s1", "name": "站点", "unit": "u1", "homepage": "http://127.0.0.1:9/"}],
    }, inv)
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--config", str(inv)],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if '"started"' in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, "".join(lines) + err
    assert '"stopped"' in err
    db = sqlite3.connect(tmp_path / "g.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


KILL_WRITER = """
import asyncio, sys
from datetime import datetime, timedelta
from monitor.evaluate import TZ, History, advance, evaluate
from monitor.model import Observation, Item
from monitor.rules import DEFAULT_RULES
from monitor.records import ProbeRecord
from monitor.store.sqlite import MIGRATIONS, SQLiteStore

async def main():
    store = SQLiteStore(sys.argv[1])
    await store.open()
    rule = DEFAULT_RULES["动态要闻"]
    start = datetime.now(TZ)
    n = 0
    while True:
        batch = []
        for i in range(200):
            n += 1
            at = start + timedelta(seconds=n)
            items = tuple(Item(f"标题{n}-{k}", f"http://127.0.0.1/{n}/{k}.html", at.date()) for k in range(10))
            obs = Observation(f"t{i}", at, 1.0, 200, newest_date=at.date(), items=items, content_hash=str(n))
            history = advance(History(), obs)
            batch.append(ProbeRecord(obs, evaluate(rule, history, at), True, history.newest_first_seen))
        await store.write(batch)
        print(n, flush=True)

asyncio.run(main())
"""


def test_kill_9_during_writes_leaves_a_consistent_file(tmp_path: Path) -> None:
    db_path = tmp_path / "kill.sqlite3"
    script = tmp_path / "writer.py"
    script.write_text(KILL_WRITER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(db_path)], stdout=subprocess.PIPE, text=True,
                                env=env)
        for _ in range(5):
            proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        db = sqlite3.connect(db_path)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # every committed batch is whole: observations and current rows come in batches of 200
        assert db.execute("SELECT count(*) FROM probes").fetchone()[0] % 200 == 0
        db.close()

    async def reload() -> int:
        store = SQLiteStore(db_path)
        await store.open()
        states = await store.load_states()
        await store.close()
        assert all(s.history.latest is not None and s.verdict is not None for s in states.values())
        return len(states)

    assert asyncio.run(reload()) == 200


def test_migrations_are_versioned(tmp_path: Path) -> None:
    async def open_twice() -> None:
        for _ in range(2):
            store = SQLiteStore(tmp_path / "m.sqlite3")
            await store.open()
            await store.close()

    asyncio.run(open_twice())
    db = sqlite3.connect(tmp_path / "m.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 8
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {
        "targets", "subjects", "results", "probes", "items", "verdicts", "current", "outbox", "silences", "findings",
        "finding_events", "health_probes", "messages", "meta", "check_runs"}
    assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental: compaction gives space back


def test_a_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO verdicts (target_id, at, state, reasons, detail) VALUES ('t', 1, 'red', '[]', 'x')")
    db.commit()
    db.close()

    async def reopen() -> None:
        store = SQLiteStore(path)
        await store.open()
        await store.close()

    asyncio.run(reopen())
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT state FROM verdicts").fetchall() == [("red",)]
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0



async def test_restart_after_a_crossing_while_down_stores_it_without_starting(
        tmp_path: Path, page_server: PageServer, store_location: str) -> None:
    """A verdict that moved by time while the daemon was down is written even if it only loads and stops."""
    page_server.set("/col/", list_page(dated(0)))
    inv = write_inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "c1", "name": "工作动态", "url": page_server.url("/col/"), "category": "动态要闻",
         "deadline": "1s", "lead": "0s", "interval": "1h"},
    ], store=store_location)
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        assert monitor.tracked["c1"].verdict.state is State.GREEN
    await asyncio.sleep(1.2)
    async with monitoring(inv) as monitor:  # loaded and closed, never started
        assert monitor.tracked["c1"].verdict.state is State.RED
    history = await stored(store_location, lambda store: store.verdict_history("c1"))
    assert [v["state"] for v in reversed(history)] == ["green", "red"]
