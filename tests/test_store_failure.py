"""A daemon whose store refuses writes (a full disk on a small tmpfs; a file system turned read-only by an error):
loud (/healthz, the metrics, the systemd STATUS line, the log naming the real cause), nothing lost (what it could
not write is held in order and written once space returns), no message sent twice, and a stop with records it
could not write exits non-zero."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from ruamel.yaml import YAML

from monitor import config
from monitor.daemon.writer import StoreWriter
from monitor.evaluate import History, advance, evaluate
from monitor.metrics import Metrics
from monitor.model import Item, Observation
from monitor.records import ProbeRecord
from monitor.rules import DEFAULT_RULES
from monitor.service import monitoring
from monitor.store.sqlite import SQLiteStore
from monitor.web.app import serve
from tests.conftest import PageServer, list_page
from tests.test_daemon import dated
from tests.test_store import START, fill, small_disk


def probe(n: int, changed: bool) -> ProbeRecord:
    """Column t0's n-th probe (a minute apart): a new page (of more than a page of items) with a verdict change,
    or the page as it was."""
    at = START + timedelta(minutes=n)
    items = tuple(Item(f"第{n}-{k}项工作的通知" * 10, f"http://127.0.0.1/{n}/{k}.html", at.date()) for k in range(40))
    obs = Observation("t0", at, 12.0, 200, newest_date=at.date(), items=items, content_hash=f"h{n}")
    history = advance(History(), obs)
    verdict = evaluate(DEFAULT_RULES["动态要闻"], history, at)
    return ProbeRecord(obs, verdict, changed, history.newest_first_seen, items_changed=changed)


def inventory(path: Path, store: Path, pages: PageServer, receiver: str, **settings: Any) -> dict[str, Any]:
    """Two columns that turn red by time alone (c0 after 2 s, c1 after 7 s), each alert sent alone to
    ``receiver``; nothing else is checked or sent."""
    data = {
        "settings": {"store": str(store), "checks": [], "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                     "alerts": {"group_window": "0s", "repeat_at": None, "send_timeout": "5s", "max_backoff": "1s"},
                     **settings},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室",
                   "receivers": [{"id": "group", "url": receiver, "on": ["red"]}]}],
        "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": pages.url("/"),
                   "check_homepage": False, "columns": [
                       {"id": f"c{i}", "name": f"乡镇动态{i}", "url": pages.url(f"/c{i}/"), "category": "动态要闻",
                        "deadline": f"{2 + 5 * i}s", "lead": "1s", "interval": "1h"} for i in range(2)]}],
    }
    for i in range(2):
        pages.set(f"/c{i}/", list_page(dated(0)))
    YAML().dump(data, path)
    return data


class Receiver:
    """An apprise JSON endpoint on 127.0.0.1 that counts what it is sent; ``on_first`` runs before it answers
    the first message (here: the disk fills while the message is in flight)."""

    def __init__(self, on_first: Any = None) -> None:
        self.bodies: list[str] = []
        self.on_first = on_first
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Receiver:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            if not self.bodies and self.on_first is not None:
                self.on_first()
            self.bodies.append(body["message"])
            return web.json_response({"errcode": 0})

        app = web.Application()
        app.router.add_post("/{name}", handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"json://127.0.0.1:{self._runner.addresses[0][1]}/group"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def count(self, column: str) -> int:
        return sum(column in body for body in self.bodies)


async def until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def failures(metrics_text: str) -> float:
    return float(re.search(r"^govwatch_store_write_failures_total (\S+)$", metrics_text, re.M)[1])


async def test_a_full_disk_is_loud_loses_nothing_sends_once_and_recovers(tmp_path: Path,
                                                                         page_server: PageServer) -> None:
    with small_disk(tmp_path / "disk") as (folder, mounted):
        if not mounted:
            pytest.skip("mounting a small tmpfs needs root")
        ballast = folder / "ballast"
        async with Receiver(on_first=lambda: fill(folder)) as receiver:
            inventory(tmp_path / "inventory.yaml", folder / "g.sqlite3", page_server, receiver.url)
            metrics = Metrics()
            with structlog.testing.capture_logs() as logs:
                async with monitoring(config.load(tmp_path / "inventory.yaml"), metrics=metrics) as monitor:
                    runner = await serve(monitor, "127.0.0.1", 0, metrics)
                    board = f"http://127.0.0.1:{runner.addresses[0][1]}"
                    try:
                        assert failures((await get(f"{board}/metrics"))[1]) == 0  # the series is there from the start
                        monitor.start()
                        # c0's red goes out; the disk fills while it is in flight, so it cannot be marked sent
                        await until(lambda: receiver.count("乡镇动态0") == 1)
                        # c1 turns yellow then red meanwhile: the writer holds what the store refuses, and says so
                        await until(lambda: monitor.tracked["c1"].verdict.state == "red")
                        await until(lambda: monitor.writer.failures >= 2)
                        status, text = await get(f"{board}/healthz")
                        assert status == 503 and "database or disk is full" in text, text
                        assert failures((await get(f"{board}/metrics"))[1]) >= 2
                        held = monitor.writer.queued
                        assert held >= 2  # c1's yellow and red (with its alert)
                        for _ in range(20):  # the sender's idle polls and wake-ups send nothing again
                            monitor.hooks.alerts.wake.set()  # type: ignore[union-attr]
                            await asyncio.sleep(0.1)
                        assert receiver.count("乡镇动态0") == 1 and receiver.count("乡镇动态1") == 0

                        ballast.unlink()  # space returns: the writer recovers by itself, c1's red goes out once
                        await until(lambda: receiver.count("乡镇动态1") == 1, timeout=45)
                        await until(lambda: monitor.writer.failing_since is None)
                        assert (await get(f"{board}/healthz"))[0] == 200
                        await monitor.writer.flushed()
                        await until(lambda: not monitor.hooks.alerts.wake.is_set(), timeout=5)
                        await asyncio.sleep(1.0)
                    finally:
                        await runner.cleanup()
            assert receiver.count("乡镇动态0") == 1 and receiver.count("乡镇动态1") == 1
        assert monitor.writer.queued == 0 and monitor.writer.dropped == 0
        with contextlib.closing(sqlite3.connect(folder / "g.sqlite3")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall() == [("sent", 2)]
            states = db.execute("SELECT s.name, v.state FROM verdicts AS v JOIN subjects AS s ON s.key = v.subject"
                                " ORDER BY v.id").fetchall()
        assert [s for s in states if s[0] == "c1"] == [("c1", "green"), ("c1", "yellow"), ("c1", "red")]
    failed = [e for e in logs if e["event"] == "store_write_failed"]
    assert failed and {e["cause"] for e in failed} == {"database or disk is full"}
    assert any(e["event"] == "notification_sent_unmarked" and e["cause"] == "database or disk is full" for e in logs)
    assert any(e["event"] == "store_write_recovered" for e in logs)
    assert not any("cannot rollback" in str(e) for e in logs)


@contextlib.contextmanager
def ext4(folder: Path) -> Iterator[Path]:
    """A small ext4 file system (a loop device over a file) mounted at ``folder``, that turns read-only on its
    first error (``errors=remount-ro``); yields the file through which an error is triggered. Skips where this
    process may not make one."""
    trigger = None
    if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None or shutil.which("findmnt") is None:
        pytest.skip("a loop-mounted ext4 needs root, mkfs.ext4 and findmnt")
    image = folder.with_suffix(".img")
    with image.open("wb") as out:
        out.truncate(16 << 20)
    folder.mkdir()
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    if subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("this process may not mount a loop device")
    try:
        device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(folder)], capture_output=True, text=True,
                                check=True).stdout.strip()
        trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip("this kernel has no ext4 trigger_fs_error")
        yield trigger
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        image.unlink()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_store_whose_file_system_turns_read_only_is_loud_and_a_stop_with_unwritten_records_fails(
        tmp_path: Path) -> None:
    """The real daemon under a notify socket: the store's file system turns read-only by an error after start, a
    column then turns yellow and red; /healthz, the metrics and STATUS say so; SIGTERM exits 1 naming how many
    records are lost."""
    from tests.test_systemd import Daemon

    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "c0.html").write_text(list_page(dated(0)), encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(pages)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    notify = str(tmp_path / "notify.sock")
    with ext4(tmp_path / "disk") as trigger, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            assert server.stdout is not None
            page_port = int(server.stdout.readline().split("port ")[1].split(" ")[0])
            port = free_port()
            YAML().dump({
                "settings": {"store": str(tmp_path / "disk" / "g.sqlite3"), "listen": f"127.0.0.1:{port}",
                             "checks": [], "extract_workers": 0, "fetch": {"timeout": "5s"}},
                "units": [{"id": "u1", "name": "青溪县人民政府办公室"}],
                "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "check_homepage": False,
                           "homepage": f"http://127.0.0.1:{page_port}/",
                           "columns": [{"id": "c0", "name": "乡镇动态", "category": "动态要闻",
                                        "url": f"http://127.0.0.1:{page_port}/c0.html", "deadline": "4s",
                                        "lead": "2s", "interval": "1h"}]}],
            }, tmp_path / "inv.yaml")
            sock.bind(notify)
            sock.settimeout(30)
            daemon = Daemon(tmp_path / "inv.yaml", {"NOTIFY_SOCKET": notify})
            try:
                daemon.wait_for('"started"')
                trigger.write_text("govwatch test\n")  # the file system is read-only from here on
                while "存储写入失败" not in (status := sock.recv(4096).decode("utf-8")):
                    pass
                assert "待写入" in status and "监测 1 项" in status, status
                board = f"http://127.0.0.1:{port}"
                with pytest.raises(urllib.error.HTTPError) as answer:
                    urllib.request.urlopen(f"{board}/healthz", timeout=10)
                assert answer.value.code == 503
                text = answer.value.read().decode("utf-8")
                assert text.startswith("store_write_failing\n存储写入失败") and "cannot rollback" not in text, text
                with urllib.request.urlopen(f"{board}/metrics", timeout=10) as response:
                    assert failures(response.read().decode("utf-8")) >= 1
                time.sleep(3.0)  # the column turns red meanwhile: one more record held
                assert daemon.stop() == 1, "".join(daemon.lines)
            finally:
                if daemon.proc.poll() is None:
                    daemon.proc.kill()
        finally:
            server.kill()
            server.wait()
    log = "".join(daemon.lines)
    lost = [line for line in daemon.lines if "stopped_with_unwritten_records" in line]
    assert lost and int(re.search(r'"unwritten": (\d+)', lost[0])[1]) >= 1, log
    assert '"cause": "attempt to write a readonly database"' in log  # after the first "disk I/O error"
    assert "cannot rollback" not in log and '"stopped"' not in log


async def test_the_writer_holds_in_order_within_its_bound_and_writes_all_it_held_once_the_store_takes_them(
        tmp_path: Path) -> None:
    """A real SQLite store made to refuse writes (its page limit reached: SQLITE_FULL, as a full disk answers):
    the writer holds records in order; beyond its bound a probe that changed nothing is refused and counted,
    records that matter are still held (up to twice the bound); all it held is written once the store takes
    writes again, in the order it was given."""
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        writer = StoreWriter(store, [], hold=4)
        task = asyncio.create_task(writer.run())
        writer.enqueue(probe(0, changed=True))
        await writer.flushed()
        store.db.execute(f"PRAGMA max_page_count = {store.db.execute('PRAGMA page_count').fetchone()[0]}")
        for n in range(1, 5):
            writer.enqueue(probe(n, changed=True))
        await until(lambda: writer.failures >= 1)
        assert writer.problem() is not None and "database or disk is full" in writer.problem()
        writer.enqueue(probe(5, changed=False))  # beyond the bound: a plain probe is refused
        for n in range(6, 11):
            writer.enqueue(probe(n, changed=True))  # a verdict change is held up to twice the bound
        assert (writer.queued, writer.dropped) == (8, 2)  # probe 5 and probe 10 refused
        store.db.execute("PRAGMA max_page_count = 1073741823")
        writer.retry_now()
        await writer.flushed()
        assert writer.problem() is None and writer.failing_since is None
        task.cancel()
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "s.sqlite3")) as db:
        written = [at for (at,) in db.execute("SELECT p.at FROM probes AS p ORDER BY p.at")]
    assert [round(at - written[0]) // 60 for at in written] == [0, 1, 2, 3, 4, 6, 7, 8, 9]


async def test_a_postgresql_store_gone_away_holds_records_and_the_sender_lives_on(
        tmp_path: Path, page_server: PageServer, postgres_url: str) -> None:
    """The database goes away (a proxy cut) after c0's red went out and before c1 turns red: the writer holds c1's
    records and the sender's turns fail without ending it; once the database is back both are written by
    themselves and c1's red goes out, each red once."""
    from tests.pgproxy import Proxy

    proxy = await Proxy(postgres_url).start()
    try:
        async with Receiver() as receiver:
            inventory(tmp_path / "inventory.yaml", proxy.url, page_server, receiver.url)  # type: ignore[arg-type]
            with structlog.testing.capture_logs() as logs:
                async with monitoring(config.load(tmp_path / "inventory.yaml")) as monitor:
                    monitor.start()
                    await until(lambda: receiver.count("乡镇动态0") == 1)
                    proxy.cut()
                    await until(lambda: monitor.tracked["c1"].verdict.state == "red")
                    await until(lambda: monitor.writer.failures >= 1)
                    for _ in range(10):  # the sender's turns meet the database gone
                        monitor.hooks.alerts.wake.set()  # type: ignore[union-attr]
                        await asyncio.sleep(0.1)
                    [sender] = [t for t in asyncio.all_tasks() if t.get_name() == "sender"]
                    assert not sender.done()
                    proxy.restore()
                    await until(lambda: receiver.count("乡镇动态1") == 1, timeout=45)
                    assert monitor.writer.queued == 0 and not sender.done()
                    await asyncio.sleep(1.0)
            assert receiver.count("乡镇动态0") == 1 and receiver.count("乡镇动态1") == 1
    finally:
        await proxy.close()
    assert any(e["event"] == "sender_store_failed" for e in logs)
    assert any(e["event"] == "store_write_recovered" for e in logs)


async def test_a_write_that_hangs_is_told_apart_from_one_that_fails(tmp_path: Path) -> None:
    """Another process holds the store's file locked: the write waits (SQLite's busy timeout) rather than fails.
    A write in flight for too long is what stops the watchdog (``Monitor.alive``); once the lock goes it is
    written and nothing hangs."""
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    writer = StoreWriter(store, [])
    task = asyncio.create_task(writer.run())
    try:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            writer.enqueue(probe(0, changed=True))
            await until(lambda: writer.stuck(after_s=1.0))
            assert writer.failing_since is None and writer.failures == 0
            assert writer.problem() is None and "存储写入无响应" in writer.problem(stuck_after_s=1.0)
            other.execute("ROLLBACK")
        await writer.flushed()
        assert not writer.stuck(after_s=0.0) and writer.queued == 0
    finally:
        task.cancel()
        await store.close()
