"""The SQLite store under failure and over years: a bad write, a full disk and a read-only file each fail alone, name
their real cause, and the store writes on by itself once the cause goes; compaction keeps what matters (what the
daemon resumes from, the honest-dates check, the availability window, the report) and gives space back; a backup
taken while a writer runs is whole; an older file is migrated in place."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from ruamel.yaml import YAML

from monitor import config
from monitor.evaluate import TZ, History, advance, evaluate
from monitor.model import FetchError, Item, Observation, TargetKind
from monitor.records import HealthProbeRecord, OutboxItem, OutboxRecord, ProbeRecord
from monitor.rules import DEFAULT_RULES
from monitor.store.retention import compact_periodically, cutoffs
from monitor.store.sqlite import MIGRATIONS, SQLiteStore
from tests.test_daemon import KILL_WRITER

START = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)


def probes(first: int, count: int, targets: int = 20) -> list[ProbeRecord]:
    """``count`` probes of ``targets`` columns, each with a new page of 10 items (so each grows the file)."""
    rule = DEFAULT_RULES["动态要闻"]
    records = []
    for n in range(first, first + count):
        at = START + timedelta(minutes=n)
        items = tuple(Item(f"第{n}-{k}项工作的通知", f"http://127.0.0.1/{n}/{k}.html", at.date()) for k in range(10))
        obs = Observation(f"t{n % targets}", at, 12.0, 200, newest_date=at.date(), items=items, content_hash=f"h{n}")
        history = advance(History(), obs)
        records.append(ProbeRecord(obs, evaluate(rule, history, at), True, history.newest_first_seen))
    return records


def stored(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return db.execute("SELECT count(*) FROM probes").fetchone()[0]


def count(path: Path, query: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchone()[0]


async def test_a_failed_write_rolls_back_and_the_next_one_is_stored(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            await store.silence_add("site", "s1", START + timedelta(hours=1), "改版", None, START)  # type: ignore[arg-type]
        with pytest.raises(OverflowError):
            await store.outbox_drop([10**20], "api")
        with pytest.raises(OverflowError):
            await store.silence_remove(10**20)
        await store.write(probes(0, 5))
        assert await store.silence_add("site", "s1", START + timedelta(hours=1), "改版", "api", START) == 1
    finally:
        await store.close()
    assert stored(tmp_path / "s.sqlite3") == 5


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "2m") -> Iterator[tuple[Path, bool]]:
    """A small tmpfs (2 MB) at ``folder`` (True), or the plain folder when this process may not mount (False)."""
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode == 0
    try:
        yield folder, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte with a ballast file."""
    ballast = folder / "ballast"
    with ballast.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 4096)
    return ballast


async def test_a_full_disk_names_its_cause_and_the_store_writes_on_when_space_returns(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as (folder, mounted):
        path = folder / "s.sqlite3"
        store = SQLiteStore(path)
        await store.open()
        try:
            await store.write(probes(0, 20))
            if mounted:  # the real thing: no space left on the device
                ballast = fill(folder)
            else:  # stand-in where mounting is not allowed: SQLite's page limit answers SQLITE_FULL the same way
                store.db.execute("PRAGMA max_page_count = " + str(store.db.execute("PRAGMA page_count").fetchone()[0]))
            for first in (20, 40):  # twice: the first failure left nothing behind that breaks the second
                with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
                    await store.write(probes(first, 20))
            if mounted:
                ballast.unlink()
            else:
                store.db.execute("PRAGMA max_page_count = 1073741823")
            await store.write(probes(20, 20))
            assert len(await store.observations("t0")) == 2
        finally:
            await store.close()
        assert stored(path) == 40


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make the store file read-only to this process: a read-only bind mount for root (whom file modes do not
    stop), the file's mode otherwise; undone on leaving."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["umount", "-l", str(path)], check=True)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)


async def test_a_store_opened_read_only_says_so_and_reopens_when_it_is_writable_again(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await store.write(probes(0, 5))
    await store.close()
    store = SQLiteStore(path)
    try:
        with read_only(path):
            await store.open()  # a daemon started on a read-only store reads it (the board shows its state)
            assert len(await store.observations("t0")) == 1
            for first in (5, 10):
                with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
                    await store.write(probes(first, 5))
        await store.write(probes(5, 5))  # writable again: the next write reopens the connection and goes in
    finally:
        await store.close()
    assert stored(path) == 10


async def test_compaction_and_the_vacuum_of_an_older_file_wait_for_room_on_the_disk(tmp_path: Path) -> None:
    """On a disk without room for them, the one-time VACUUM of a file from before incremental vacuum and the
    periodic compaction are put off, logged, and tried again later (the daemon's store opens and writes all the
    same); once space returns, both run."""
    with small_disk(tmp_path / "disk", size="48m") as (folder, mounted):
        if not mounted:
            pytest.skip("mounting a tmpfs needs root")
        path = folder / "s.sqlite3"
        store = SQLiteStore(path)
        await store.open()
        await store.write(probes(0, 100))
        await store.close()
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:  # as a file made before
            db.execute("PRAGMA auto_vacuum=NONE")
            db.execute("VACUUM")
        size = path.stat().st_size
        ballast = fill(folder)
        os.truncate(ballast, ballast.stat().st_size - 2 * size)  # room for the file's WAL, not for its VACUUM
        store = SQLiteStore(path)
        try:
            with structlog.testing.capture_logs() as logs:
                await store.open()
                await store.write(probes(100, 1))
                task = asyncio.create_task(compact_periodically(
                    store, lambda: START + timedelta(days=400), lambda: config.SettingsModel(), every_s=3600,
                    first_after_s=0, deferred_s=0.05))
                try:
                    while sum(e["event"] == "compaction_deferred" for e in logs) < 3:
                        await asyncio.sleep(0.05)
                    assert store.db.execute("PRAGMA auto_vacuum").fetchone() == (0,)
                    ballast.unlink()
                    while not any(e["event"] == "compacted" for e in logs):
                        await asyncio.sleep(0.05)
                finally:
                    task.cancel()
            assert store.db.execute("PRAGMA auto_vacuum").fetchone() == (2,)
        finally:
            await store.close()
        assert stored(path) == 101
    deferred = [e for e in logs if e["event"].endswith("_deferred")]
    assert deferred[0]["event"] == "vacuum_deferred" and deferred[0]["need_bytes"] > deferred[0]["free_bytes"]
    assert {e.get("work") for e in deferred[1:]} == {"compaction"} and deferred[1]["retry_in"] == 0.05
    assert [e["event"] for e in logs if e["event"] in ("vacuumed", "compacted")] == ["vacuumed", "compacted"]


PAGES = {"A": date(2026, 1, 1), "B": date(2026, 3, 1)}


def scripted(target_id: str, reads: list[tuple[datetime, str]]) -> list[ProbeRecord]:
    """Probes of one column through the real evaluator: each read is a page ("A", "B"), "304" or "timeout"."""
    rule = DEFAULT_RULES["动态要闻"]
    history, verdict, stored, records = History(), None, None, []
    for at, read in reads:
        if read == "timeout":
            obs = Observation(target_id, at, 15000.0, error=FetchError.TIMEOUT, detail="读取超时")
        elif read == "304":
            obs = Observation(target_id, at, 31.0, 304, not_modified=True)
        else:
            newest = PAGES[read]
            items = tuple(Item(f"{read}{k}", f"http://127.0.0.1/{read}/{k}.html", newest - timedelta(days=k))
                          for k in range(5))
            obs = Observation(target_id, at, 120.0, 200, newest_date=newest, content_hash=f"h{read}", items=items)
        previous, history = verdict, advance(history, obs)
        verdict = evaluate(rule, history, at)
        records.append(ProbeRecord(obs, verdict, not verdict.same_as(previous), history.newest_first_seen,
                                   items_changed=obs.content_hash not in (None, stored)))
        stored = obs.content_hash or stored
    return records


def read_at(k: int) -> str:
    """The k-th probe (every 3 h): page A for 60 days with one timeout on day 30, B until day 90, then 304s."""
    return "timeout" if k == 240 else "A" if k < 480 else "B" if k < 720 else "304"


async def test_compaction_keeps_the_ends_of_runs_and_all_that_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    every = timedelta(hours=3)
    await store.write(scripted("c1", [(START + k * every, read_at(k)) for k in range(120 * 8)]))
    failing = {1000, 1001, 1002}  # three failed availability probes on day 41
    await store.write([HealthProbeRecord("s1", START + timedelta(hours=h), h not in failing,
                                         "timeout" if h in failing else None, None if h in failing else 200, 80.0)
                       for h in range(120 * 24)])
    mqtt = OutboxItem("c1|mqtt-event|1", "mqtt", START + timedelta(days=10), START + timedelta(days=10), {"topic": "x"})
    note = OutboxItem("c1|red|1>u1/group", "u1/group", START + timedelta(days=10), START + timedelta(days=10),
                      {"kind": "red"}, target_id="c1")
    late = OutboxItem("c1|mqtt-event|2", "mqtt", START + timedelta(days=11), START + timedelta(days=11), {"topic": "y"})
    await store.write([OutboxRecord((mqtt, note, late))])
    ids = [row.id for row in await store.outbox_due("mqtt", START + timedelta(days=12))][:1]
    ids += [row.id for row in await store.outbox_due("u1/group", START + timedelta(days=12))]
    await store.outbox_sent(ids, START + timedelta(days=10))  # the second MQTT event is never sent
    now = START + timedelta(days=120)
    states = await store.load_states()
    honest = await store.honest_history("c1")
    window = await store.health_probes("s1", now - timedelta(days=7))
    kept = {table: count(path, f"SELECT count(*) FROM {table}") for table in ("verdicts", "items", "results")}
    assert kept["results"] == 4  # A, a timeout, B, 304: A after the timeout is A's row again
    pages = count(path, "PRAGMA page_count")

    # column probes older than day 100; availability probes older than day 112 (their 7-day window and a day)
    cutoffs = START + timedelta(days=100), START + timedelta(days=112)
    assert await store.compact(*cutoffs) == (960 - 168) + (2880 - 5 - 8 * 24)
    assert await store.compact(*cutoffs) == 0  # done once, nothing left to do
    before = START.timestamp() + 100 * 86400
    with contextlib.closing(sqlite3.connect(path)) as db:
        times = [at for (at,) in db.execute("SELECT at FROM probes WHERE at < ? ORDER BY at", (before,))]
        assert [round((at - START.timestamp()) / 10800) for at in times] == [0, 239, 240, 241, 479, 480, 719, 720]
        assert db.execute("SELECT count(*) FROM probes WHERE at >= ?", (before,)).fetchone() == (160,)
        hours = [round((at - START.timestamp()) / 3600)
                 for (at,) in db.execute("SELECT at FROM health_probes ORDER BY at")]
        assert hours == [0, 999, 1000, 1002, 1003, *range(112 * 24, 120 * 24)]
        assert db.execute("SELECT channel, status FROM outbox ORDER BY id").fetchall() == [
            ("u1/group", "sent"), ("mqtt", "pending")]  # the notification trail stays; a sent MQTT copy goes
        assert db.execute("PRAGMA freelist_count").fetchone() == (0,)
    assert count(path, "PRAGMA page_count") < pages  # the space went back to the file system
    assert {table: count(path, f"SELECT count(*) FROM {table}") for table in kept} == kept
    assert await store.load_states() == states  # the daemon resumes as before: latest probe and last good read
    assert await store.health_probes("s1", now - timedelta(days=7)) == window
    items, probes = await store.honest_history("c1")
    assert items == honest[0] and set(probes) <= set(honest[1]) and probes[0] == honest[1][0]
    await store.close()


def test_the_ages_come_from_the_settings_within_their_range(tmp_path: Path) -> None:
    """Column probes kept whole 90 days by default (``settings.retention.probes``), availability probes for their
    window and a day; an age under a week is refused with its line."""
    assert cutoffs(config.SettingsModel(), START) == (START - timedelta(days=90), START - timedelta(days=8))
    path = tmp_path / "inventory.yaml"
    path.write_text("settings:\n  retention:\n    probes: 6mo\n  availability:\n    window: 14d\n")
    assert cutoffs(config.load(path).settings, START) == (datetime(2025, 9, 2, 9, 0, tzinfo=TZ),
                                                          START - timedelta(days=15))
    path.write_text("settings:\n  retention:\n    probes: 3d\n")
    with pytest.raises(config.ConfigError) as refused:
        config.load(path)
    assert str(refused.value.problems[0]).startswith(f"{path}:2: settings.retention: probes 3d is outside 7d…10y")


async def test_report_and_honest_findings_are_the_same_after_compaction(tmp_path: Path) -> None:
    """The demo quarter's store (a back-dated item, a re-dated one, columns lapsing and recovering), compacted
    whole: the honest-dates findings and the score table come out as before."""
    from monitor.checks.honest import findings
    from monitor.demo.quarter import simulate
    from monitor.report.history import quarter_report
    from monitor.report.html import render_html
    from monitor.report.score import Quarter

    quarter = Quarter.parse("2026Q4")
    inventory, path = await simulate(quarter, tmp_path)
    units = [(u.id, u.name) for u in inventory.model.units]
    columns = [t for t in inventory.targets if t.kind is TargetKind.COLUMN]

    async def outcome() -> tuple[dict[str, list], str]:
        store = SQLiteStore(path)
        await store.open()
        try:
            found = {t.id: findings(t, *await store.honest_history(t.id)) for t in columns}
            return found, render_html(await quarter_report(store, quarter, None, units, quarter.end))
        finally:
            await store.close()

    found, report = await outcome()
    assert any(f.check == "backdated" for fs in found.values() for f in fs)
    assert any(f.check == "date_changed" for fs in found.values() for f in fs)
    probes = count(path, "SELECT count(*) FROM probes")
    store = SQLiteStore(path)
    await store.open()
    removed = await store.compact(quarter.end + timedelta(days=1))
    await store.close()
    assert removed > probes // 2  # daily probes of pages that rarely change: most were the middles of runs
    assert await outcome() == (found, report)


async def test_a_version_4_file_is_folded_into_runs_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        for script in MIGRATIONS[:4]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 4")
        t0 = START.timestamp()
        reads = ["A"] * 5 + ["timeout"] + ["A"] * 3 + ["timeout"]
        for k, read in enumerate(reads):
            good = read == "A"
            db.execute("INSERT INTO observations (target_id, at, fetch_ms, http_status, error, not_modified,"
                       " newest_date, content_hash, item_count) VALUES ('c1', ?, 99.6, ?, ?, 0, ?, ?, ?)",
                       (t0 + k * 3600, 200 if good else None, None if good else "timeout",
                        "2026-03-01" if good else None, "ha" if good else None, 5 if good else 0))
        db.execute("INSERT INTO current (target_id, state, reasons, detail, since, last_obs, last_good_obs)"
                   " VALUES ('c1', 'unknown', '[\"fetch_failed\"]', '页面无法访问', ?, 10, 9)", (t0,))
        db.execute("INSERT INTO items (target_id, url, title, date, first_seen, last_seen) VALUES"
                   " ('c1', 'http://127.0.0.1/a.html', '通知', '2026-03-01', ?, ?)", (t0, t0 + 8 * 3600))
        db.execute("INSERT INTO verdicts (target_id, at, state, reasons, newest_date, detail) VALUES"
                   " ('c1', ?, 'green', '[\"fresh\"]', '2026-03-01', '最新信息 2026-03-01')", (t0,))
        db.executemany("INSERT INTO health_probes (subject, at, ok, status, ms) VALUES ('s1', ?, 1, 200, 80.4)",
                       [(t0 + k * 600,) for k in range(3)])
        db.commit()
    store = SQLiteStore(path)
    await store.open()
    try:
        (state,) = (await store.load_states()).values()
        assert state.history.latest.error is FetchError.TIMEOUT and state.history.latest.at.timestamp() == t0 + 9 * 3600
        assert state.history.last_good.newest_date == date(2026, 3, 1)
        assert state.history.last_good.at.timestamp() == t0 + 8 * 3600 and state.history.last_good.fetch_ms == 100
        _, probes = await store.honest_history("c1")
        assert [p.timestamp() for p in probes] == [t0 + k * 3600 for k in (0, 1, 2, 3, 4, 6, 7, 8)]
        assert [p.ms for p in await store.health_probes("s1", START)] == [80, 80, 80]
        assert [(v["state"], v["reasons"], v["detail"]) for v in await store.verdict_history("c1")] == [
            ("green", ["fresh"], "最新信息 2026-03-01")]
        assert [row.target_id for row in await store.verdicts_before(START + timedelta(days=1))] == ["c1"]
    finally:
        await store.close()
    assert count(path, "PRAGMA user_version") == len(MIGRATIONS)
    assert count(path, "SELECT count(*) FROM probes") == 10
    assert count(path, "SELECT count(*) FROM results") == 4  # runs: A ×5, timeout, A ×3, timeout
    assert count(path, "PRAGMA auto_vacuum") == 2  # rebuilt once for incremental vacuum


def test_a_backup_taken_while_a_writer_runs_is_whole_and_checked(tmp_path: Path) -> None:
    store = tmp_path / "live.sqlite3"
    inventory = tmp_path / "inv.yaml"
    YAML().dump({"settings": {"store": str(store)}, "units": [{"id": "u1", "name": "测试县人民政府办公室"}],
                 "sites": [{"id": "s1", "name": "测试县人民政府网站", "unit": "u1", "homepage": "http://127.0.0.1:9/"}]},
                inventory)
    script = tmp_path / "writer.py"
    script.write_text(KILL_WRITER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    writer = subprocess.Popen([sys.executable, str(script), str(store)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        for _ in range(5):
            writer.stdout.readline()
        copies = []
        for _ in range(2):  # twice, the second over the first: the copy is replaced whole
            copy = tmp_path / "backup.sqlite3"
            done = subprocess.run([sys.executable, "-m", "monitor.cli", "backup", "--config", str(inventory),
                                   "--to", str(copy)], capture_output=True, text=True, env=env, timeout=120)
            assert done.returncode == 0 and "integrity_check ok" in done.stdout, done.stderr
            copies.append(count(copy, "SELECT count(*) FROM probes"))
        assert writer.poll() is None  # the writer was never stopped
    finally:
        writer.kill()
        writer.wait()
    assert copies[0] > 0 and all(n % 200 == 0 for n in copies)  # whole batches only
    assert count(copy, "PRAGMA integrity_check") == "ok" and not list(tmp_path.glob(".*partial*"))
    refused = subprocess.run([sys.executable, "-m", "monitor.cli", "backup", "--config", str(inventory), "--to",
                              str(tmp_path / "no" / "such" / "dir.sqlite3")], capture_output=True, text=True, env=env)
    assert refused.returncode == 1 and "备份失败" in refused.stderr
