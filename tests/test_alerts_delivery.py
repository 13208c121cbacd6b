"""Alerts delivered for real: the daemon's deadline timers, the outbox, apprise posting to aiohttp on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from monitor import config
from monitor.service import monitoring
from tests.conftest import Endpoint, PageServer, list_page
from tests.test_daemon import dated


def inventory(tmp: Path, pages: PageServer, ep: Endpoint, columns: int = 1, step: int = 1, per_host: int = 2,
              **alerts: Any) -> config.Inventory:
    """Columns with sub-day rules crossing ``step`` seconds apart: yellow at 2 s + i·step, red 1 s later.
    ``per_host`` pages of the one site are read at once (all of them: first seen at the same instant)."""
    data = {
        "settings": {
            # column alerts only: no other check (e.g. the calendar's, to the office from 1 December) may add messages
            "checks": [],
            "store": str(tmp / "govwatch.sqlite3"), "board_url": "http://127.0.0.1:8470/",
            "fetch": {"timeout": "5s", "per_host_interval": "0s", "per_host_concurrency": per_host},
            "alerts": {"group_window": "0s", "repeat_at": None, "send_timeout": "2s", "max_backoff": "1s",
                       "supervisor": "gkb", "escalate_after": "2s", **alerts},
        },
        "units": [
            {"id": "u1", "name": "青溪县人民政府办公室", "receivers": [
                {"id": "group", "url": ep.url("json", "group")},
                {"id": "sms", "url": ep.url("form", "sms"), "kind": "sms"},
            ]},
            {"id": "gkb", "name": "县政务公开办", "receivers": [{"id": "office", "url": ep.url("json", "office")}]},
        ],
        "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": pages.url("/"),
                   "check_homepage": False, "columns": [
                       {"id": f"c{i}", "name": f"乡镇动态{i}", "url": pages.url(f"/c{i}/"), "category": "动态要闻",
                        "deadline": f"{3 + i * step}s", "lead": "1s", "interval": "1h"} for i in range(columns)]}],
    }
    for i in range(columns):
        pages.set(f"/c{i}/", list_page(dated(0)))
    path = tmp / "inventory.yaml"
    YAML().dump(data, path)
    return config.load(path)


async def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_unit_hears_yellow_then_red_sms_and_escalation_at_the_crossings(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint)
    async with monitoring(inv) as monitor:
        monitor.start()
        await wait_for(lambda: len(endpoint.messages("office")) == 1)
        first_seen = monitor.tracked["c0"].history.newest_first_seen
    group, sms, office = endpoint.messages("group"), endpoint.messages("sms"), endpoint.messages("office")
    assert [m["body"]["title"] for m in group] == ["【政府网站监测】黄色预警：栏目临近更新期限",
                                                   "【政府网站监测】红色预警：栏目超期未更新"]
    body = group[1]["body"]["message"]
    assert "单位：青溪县人民政府办公室" in body and "栏目：乡镇动态0（动态要闻）" in body
    assert "看板：http://127.0.0.1:8470/target/c0" in body
    assert len(sms) == 1 and sms[0]["body"]["message"].startswith("【监测预警】“青溪县人民政府网站乡镇动态0”已超期")
    assert len(sms[0]["body"]["message"]) <= 70
    assert office[0]["body"]["title"] == "【政府网站监测】升级督办：栏目超期未更新"
    # delivered at the crossing instants: yellow at +2 s, red at +3 s, escalation 2 s after red
    for message, offset in ((group[0], 2), (group[1], 3), (sms[0], 3), (office[0], 5)):
        late = message["at"] - (first_seen + timedelta(seconds=offset))
        assert timedelta(0) <= late < timedelta(seconds=1), (message["path"], late)


def crossings(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, tag) pairs a delivered message tells of, single or grouped."""
    body, title = message["body"]["message"], message["body"]["title"]
    if "「" in body:
        return [(line.split("「")[1].split("」")[0], line[1:3]) for line in body.splitlines() if line.startswith("[")]
    column = body.splitlines()[2].split("：")[1].split("（")[0]
    return [(column, "预警" if "黄色" in title else "超期")]


async def test_endpoint_errors_and_timeouts_delay_but_lose_nothing_and_keep_order(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    endpoint.plan["/group"] = ["500", "500", "hang", "500"]
    inv = inventory(tmp_path, page_server, endpoint, columns=3, step=2, escalate_after=None)
    async with monitoring(inv) as monitor:
        monitor.start()
        told = lambda: [c for m in endpoint.messages("group") for c in crossings(m)]  # noqa: E731
        await wait_for(lambda: len(told()) == 6, timeout=40)
    expected = {(f"乡镇动态{i}", tag) for i in range(3) for tag in ("预警", "超期")}
    assert sorted(told()) == sorted(expected)  # every crossing exactly once
    assert crossings(endpoint.messages("group")[0])[0] == ("乡镇动态0", "预警")  # the failing first item held the line
    db = sqlite3.connect(tmp_path / "govwatch.sqlite3")
    statuses = dict(db.execute("SELECT status, count(*) FROM outbox WHERE channel = 'u1/group' GROUP BY status"))
    assert statuses == {"sent": 6}
    first = db.execute("SELECT attempts, last_error FROM outbox WHERE channel = 'u1/group' ORDER BY id").fetchone()
    assert first[0] >= 4 and first[1]  # the failures were recorded on the item


async def test_silence_and_site_down_suppress_but_keep_the_trail(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint)
    async with monitoring(inv) as monitor:
        now = monitor.clock()
        await monitor.store.silence_add("site", "s1", now + timedelta(hours=1), "网站改版维护", "test", now)
        await monitor.alerts.refresh_silences()
        monitor.start()
        await asyncio.sleep(0.2)
        await wait_for(lambda: monitor.tracked["c0"].verdict.state.value == "red")
        await asyncio.sleep(0.5)
    assert endpoint.received == []
    db = sqlite3.connect(tmp_path / "govwatch.sqlite3")
    rows = db.execute("SELECT status, reason FROM outbox WHERE channel = 'u1/group'").fetchall()
    # held for the silence's end (tests/test_held_alerts.py), not sent meanwhile
    assert rows and all(status == "held" and reason.startswith("silenced#") for status, reason in rows)


async def test_simultaneous_crossings_of_a_unit_go_out_as_one_message(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint, columns=5, step=0, per_host=5, group_window="2s",
                    escalate_after=None)
    async with monitoring(inv) as monitor:
        monitor.start()
        await wait_for(lambda: len(endpoint.messages("group")) >= 1, timeout=20)
        await asyncio.sleep(0.5)
    # yellow (+2 s) and red (+3 s) of all five fall inside one 2 s window: one message, worst first — five
    # stale 动态要闻 columns also make the site fail (否决预警 at the 4th, 单项否决 at the 5th)
    [message] = endpoint.messages("group")
    assert message["body"]["title"] == (
        "【政府网站监测】青溪县人民政府办公室：单项否决 1 项，超期 5 项，否决预警 1 项，预警 5 项")
    lines = message["body"]["message"].splitlines()
    assert len(lines) == 13 and lines[0].startswith("[单项否决]")
    assert all(line.startswith("[超期]") for line in lines[1:6])


DAEMON_ENDPOINT = """
import asyncio, json, sys
from aiohttp import web
count = 0
async def handle(request):
    global count
    if sys.argv[2] == "hang":
        await asyncio.sleep(3600)
    count += 1
    with open(sys.argv[3], "a") as out:
        out.write(json.dumps(await request.json(), ensure_ascii=False) + "\\n")
    return web.json_response({"ok": True})
app = web.Application()
app.router.add_post("/{name}", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def test_kill_9_between_commit_and_send_delivers_after_restart(tmp_path: Path) -> None:
    """The endpoint accepts nothing while the first daemon runs; it is killed with the red alert pending."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint_py = tmp_path / "endpoint.py"
    endpoint_py.write_text(DAEMON_ENDPOINT)
    got = tmp_path / "received.jsonl"
    pages = tmp_path / "page.html"
    page_text = list_page(dated(0))
    data = {
        "settings": {"store": str(tmp_path / "g.sqlite3"), "listen": "127.0.0.1:0",
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                     "alerts": {"group_window": "0s", "repeat_at": None, "send_timeout": "60s", "max_backoff": "1s"}},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室",
                   "receivers": [{"id": "group", "url": f"json://127.0.0.1:{port}/group", "on": ["red"]}]}],
        "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": "http://127.0.0.1:9/",
                   "check_homepage": False, "columns": [
                       {"id": "c0", "name": "乡镇动态", "url": "PAGE", "category": "动态要闻",
                        "deadline": "2s", "lead": "1s", "interval": "1h"}]}],
    }
    server = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        pages.write_text(page_text, encoding="utf-8")
        line = server.stdout.readline()
        page_port = int(line.split("port ")[1].split(" ")[0])
        data["sites"][0]["columns"][0]["url"] = f"http://127.0.0.1:{page_port}/page.html"
        inv = tmp_path / "inventory.yaml"
        YAML().dump(data, inv)

        hanging = subprocess.Popen([sys.executable, str(endpoint_py), str(port), "hang", str(got)])
        daemon = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--config", str(inv)],
                                  stderr=subprocess.DEVNULL)
        db_path = tmp_path / "g.sqlite3"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if db_path.exists():
                with sqlite3.connect(db_path) as db:
                    try:
                        n = db.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
                    except sqlite3.OperationalError:
                        n = 0
                if n:
                    break
            time.sleep(0.1)
        time.sleep(0.5)  # the send is in flight against the hanging endpoint
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        hanging.kill()
        hanging.wait()
        assert not got.exists()

        answering = subprocess.Popen([sys.executable, str(endpoint_py), str(port), "ok", str(got)])
        time.sleep(0.5)
        daemon = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run", "--config", str(inv)],
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not got.exists():
            time.sleep(0.1)
        time.sleep(1.0)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        answering.kill()
        answering.wait()
    finally:
        server.kill()
        server.wait()
    lines = [json.loads(line) for line in got.read_text(encoding="utf-8").splitlines()]
    assert 1 <= len(lines) <= 2  # delivered; at most one duplicate per crash
    assert lines[0]["title"] == "【政府网站监测】红色预警：栏目超期未更新"
    with sqlite3.connect(tmp_path / "g.sqlite3") as db:
        assert db.execute("SELECT status FROM outbox").fetchall() == [("sent",)]
