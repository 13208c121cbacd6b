"""The SQLite store under failure: a bad write, a full disk and a read-only file each fail alone, name their real
cause, and the store writes on by itself once the cause goes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.evaluate import TZ, History, advance, evaluate
from monitor.model import Item, Observation
from monitor.records import ProbeRecord
from monitor.rules import DEFAULT_RULES
from monitor.store.sqlite import SQLiteStore

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
        return db.execute("SELECT count(*) FROM observations").fetchone()[0]


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
def small_disk(folder: Path) -> Iterator[tuple[Path, bool]]:
    """A 2 MB tmpfs at ``folder`` (True), or the plain folder when this process may not mount (False)."""
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True).returncode == 0
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
