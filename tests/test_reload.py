"""SIGHUP reload: the inventory changes under a running monitor; a broken file changes nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor import config
from monitor.evaluate import Reason
from monitor.model import State
from monitor.service import monitoring, reload_inventory
from tests.conftest import PageServer, list_page
from tests.test_daemon import dated, write_inventory
from tests.test_systemd import Daemon, small_inventory


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def column(tid: str, server: PageServer, path: str, **extra: str) -> dict[str, str]:
    return {"id": tid, "name": f"栏目{tid}", "url": server.url(path), "category": "动态要闻", **extra}


async def test_reload_adds_removes_and_changes_targets(tmp_path: Path, page_server: PageServer) -> None:
    for path, days in (("/a/", 3), ("/b/", 5), ("/b2/", 1), ("/c/", 2), ("/d/", 0)):
        page_server.set(path, list_page(dated(days)))
    page_server.etags["/b/"] = '"b1"'
    inv_path = tmp_path / "inv.yaml"
    inv = write_inventory(inv_path, page_server, [
        column("c1", page_server, "/a/"), column("c2", page_server, "/b/"), column("c3", page_server, "/c/")])
    async with monitoring(inv) as monitor:
        monitor.start()
        await until(lambda: all(t.verdict.reasons != (Reason.NOT_PROBED,) for t in monitor.tracked.values()))
        c1, c2 = monitor.tracked["c1"], monitor.tracked["c2"]
        assert c1.verdict.state is State.GREEN and c2.etag == '"b1"'
        before = c2.history.latest

        # c1: stricter rule (3 days old under 2d is red); c2: moved to a new URL; c3 gone; c4 new;
        # and a listen change, which needs a restart and is ignored.
        write_inventory(inv_path, page_server, [
            column("c1", page_server, "/a/", deadline="2d", lead="1d"), column("c2", page_server, "/b2/"),
            column("c4", page_server, "/d/")], listen="127.0.0.1:1")
        assert await reload_inventory(monitor, str(inv_path))

        assert list(monitor.tracked) == ["c1", "c2", "c4"]
        assert monitor.tracked["c1"] is c1 and monitor.tracked["c2"] is c2  # same ids keep their history
        assert c1.verdict.state is State.RED  # re-evaluated at once, without a probe
        assert page_server.hits["/a/"] == 1
        assert monitor.inventory.settings.listen == inv.settings.listen
        await until(lambda: page_server.hits.get("/b2/") == 1 and page_server.hits.get("/d/") == 1)
        await until(lambda: monitor.tracked["c4"].verdict.state is State.GREEN)
        await until(lambda: c2.history.latest is not before)
        assert c2.etag is None and c2.verdict.state is State.GREEN
        await asyncio.sleep(0.3)
        assert page_server.hits == {"/a/": 1, "/b/": 1, "/b2/": 1, "/c/": 1, "/d/": 1}

    db = sqlite3.connect(tmp_path / "govwatch.sqlite3")
    assert dict(db.execute("SELECT id, active FROM targets")) == {"c1": 1, "c2": 1, "c3": 0, "c4": 1}
    assert db.execute("SELECT url FROM targets WHERE id = 'c2'").fetchone()[0] == page_server.url("/b2/")
    assert db.execute("SELECT state FROM verdicts JOIN subjects ON key = subject WHERE name = 'c1'"
                      " ORDER BY id").fetchall() == [("green",), ("red",)]
    db.close()


async def test_broken_inventory_keeps_the_old_one(tmp_path: Path, page_server: PageServer) -> None:
    page_server.set("/a/", list_page(dated(1)))
    inv_path = tmp_path / "inv.yaml"
    inv = write_inventory(inv_path, page_server, [column("c1", page_server, "/a/")])
    async with monitoring(inv) as monitor:
        inv_path.write_text("units: [\n", encoding="utf-8")
        assert not await reload_inventory(monitor, str(inv_path))
        assert list(monitor.tracked) == ["c1"] and monitor.inventory is inv


BROKEN = """\
settings: {{store: "{store}", listen: "127.0.0.1:0", extract_workers: 0}}
units:
  - {{id: u1, name: 单位}}
sites:
  - id: s1
    name: 站点
    unit: u1
    homepage: http://127.0.0.1:9/
    columns:
      - {{id: c0, name: 栏目, url: not-a-url, category: 动态要闻}}
"""


def _log(line: str) -> dict[str, object]:
    return json.loads(line)


def test_sighup_in_a_running_daemon(tmp_path: Path) -> None:
    path = small_inventory(tmp_path / "inv.yaml", columns=1)
    daemon = Daemon(path)
    try:
        daemon.wait_for('"started"')
        path.write_text(BROKEN.format(store=tmp_path / "g.sqlite3"), encoding="utf-8")
        with pytest.raises(config.ConfigError) as broken:
            config.load(path)
        expected = [str(p) for p in broken.value.problems]
        assert any(p.startswith(f"{path}:10: ") for p in expected), expected
        daemon.proc.send_signal(signal.SIGHUP)
        rejected = _log(daemon.wait_for('"reload_rejected"'))
        assert rejected["problems"] == expected and rejected["level"] == "error"
        assert daemon.proc.poll() is None

        small_inventory(path, columns=2)
        daemon.proc.send_signal(signal.SIGHUP)
        reloaded = _log(daemon.wait_for('"reloaded"'))
        assert (reloaded["added"], reloaded["removed"], reloaded["changed"], reloaded["targets"]) == (1, 0, 0, 3)
        assert daemon.stop() == 0, "".join(daemon.lines)
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
