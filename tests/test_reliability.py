"""Reliability: a receiver down for minutes is served, in order, within a minute of coming back. Time is scaled: a
quarter second here stands for the minute (the retry cap), the outage lasts two dozen of them. Real parts: the
daemon with a real SQLite store, apprise posting to aiohttp on 127.0.0.1. The rest of the reliability suite: held
alerts through a cut-off and its end (tests/test_held_alerts.py), a broker killed with -9 and replaced by one
without retained messages (tests/test_mqtt.py), kill -9 of the daemon (tests/test_alerts_delivery.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from alerts import deliver
from monitor.evaluate import TZ
from monitor.model import State
from monitor.service import monitoring
from tests.conftest import Endpoint, PageServer
from tests.test_alerts_delivery import wait_for
from tests.test_held_alerts import inventory
from tests.test_mqtt import free_port

RETRY_CAP_S = 0.25  # stands for the minute within which a receiver that came back is served


class Receiver:
    """A webhook that is down (nothing listens on its port) until ``up()``; records what it is sent, and when."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None

    async def up(self) -> datetime:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json() if request.content_type == "application/json" else dict(await request.post())
            self.received.append({"path": request.path, "at": datetime.now(TZ), "body": body})
            return web.json_response({"errcode": 0})

        app = web.Application()
        app.router.add_post("/{name}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return datetime.now(TZ)

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def test_a_receiver_down_for_minutes_gets_everything_in_order_within_a_minute_of_coming_back(
        tmp_path: Path, page_server: PageServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliver, "RETRY_CAP_S", RETRY_CAP_S)
    monkeypatch.setattr(deliver, "WAKE_AFTER_S", 0.1)
    receiver = Receiver()
    inv = inventory(tmp_path, page_server, Endpoint(base=f"127.0.0.1:{receiver.port}"), max_backoff="60s")
    db = sqlite3.connect(tmp_path / "govwatch.sqlite3")
    try:
        async with monitoring(inv) as monitor:
            monitor.start()
            await wait_for(lambda: monitor.tracked["c0"].verdict.state is State.RED)
            # down for a dozen retry caps: without the cap the backoff would have grown far beyond one
            await asyncio.sleep(24 * RETRY_CAP_S)
            tries = db.execute("SELECT MAX(attempts) FROM outbox WHERE channel = 'u1/group'").fetchone()[0]
            assert tries >= 5  # it kept trying while down
            back = await receiver.up()
            await wait_for(lambda: len(receiver.received) == 3)
    finally:
        await receiver.close()
        db.close()
    group = [m for m in receiver.received if m["path"] == "/group"]
    assert [m["body"]["title"] for m in group] == ["【政府网站监测】黄色预警：栏目临近更新期限",
                                                   "【政府网站监测】红色预警：栏目超期未更新"]  # in order
    sms = [m for m in receiver.received if m["path"] == "/sms"]
    assert len(sms) == 1 and "已超期" in sms[0]["body"]["message"]
    # served within the (scaled) minute of coming back; a second of slack for a loaded machine
    assert max(m["at"] for m in receiver.received) - back < timedelta(seconds=RETRY_CAP_S + 1)


async def test_a_sender_worker_ended_by_a_store_error_is_replaced_at_once(
        tmp_path: Path, page_server: PageServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store call that fails inside a receiver's worker (SQLite's spurious "bad parameter or other API misuse"
    was seen once in CI) ends that worker; the next one starts within a second, not at the next idle poll (30 s)."""
    monkeypatch.setattr(deliver, "RETRY_CAP_S", RETRY_CAP_S)
    monkeypatch.setattr(deliver, "WAKE_AFTER_S", 0.1)
    receiver = Receiver()
    inv = inventory(tmp_path, page_server, Endpoint(base=f"127.0.0.1:{receiver.port}"), max_backoff="60s")
    try:
        async with monitoring(inv) as monitor:
            failed = monitor.store.outbox_failed
            refused: list[int] = []

            async def fails_once(ids: Any, error: str, retry_at: datetime) -> None:
                # once every alert is in the outbox: no new item wakes the sender afterwards
                if not refused and monitor.tracked["c0"].verdict.state is State.RED:
                    refused.extend(ids)
                    raise sqlite3.InterfaceError("bad parameter or other API misuse")
                await failed(ids, error, retry_at)

            monkeypatch.setattr(monitor.store, "outbox_failed", fails_once)
            monitor.start()
            await wait_for(lambda: bool(refused))
            await asyncio.sleep(4 * RETRY_CAP_S)  # the other receivers' workers go on trying meanwhile
            back = await receiver.up()
            await wait_for(lambda: len(receiver.received) == 3, timeout=10)
    finally:
        await receiver.close()
    assert max(m["at"] for m in receiver.received) - back < timedelta(seconds=deliver.REPLACE_AFTER_S + 2)
