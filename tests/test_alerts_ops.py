"""Operating the alert path: silences and outbox drops from the API and the CLI; MQTT events end to end."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from aiohttp import ClientSession
from ruamel.yaml import YAML

from monitor import config
from monitor.service import monitoring
from monitor.web.app import serve
from tests.conftest import Endpoint, PageServer
from tests.test_alerts_delivery import inventory, wait_for
from tests.test_mqtt import MOSQUITTO, Broker, Subscriber

TOKEN = "s3cret-token-for-tests"


def with_settings(inv: config.Inventory, **settings: object) -> config.Inventory:
    path = Path(inv.source)
    data = YAML().load(path.read_text(encoding="utf-8"))
    data["settings"].update(settings)
    YAML().dump(data, path)
    return config.load(path)


async def test_api_writes_need_the_token_and_silences_apply_at_once(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = with_settings(inventory(tmp_path, page_server, endpoint), token=TOKEN)
    async with monitoring(inv) as monitor:
        runner = await serve(monitor, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        until = (monitor.clock() + timedelta(hours=2)).isoformat()
        # discard: what it holds back is not sent when it goes (by default the red still due then would be)
        body = {"scope": "site", "id": "s1", "until": until, "reason": "网站改版", "discard": True}
        try:
            async with ClientSession() as http:
                assert (await http.post(f"{base}/api/silences", json=body)).status == 401
                bad = await http.post(f"{base}/api/silences", json=body, headers={"Authorization": "Bearer nope"})
                assert bad.status == 401
                auth = {"Authorization": f"Bearer {TOKEN}"}
                made = await http.post(f"{base}/api/silences", json=body, headers=auth)
                assert made.status == 201
                silence_id = (await made.json())["id"]
                assert [s.id for s in monitor.alerts.silences] == [silence_id]  # applied without waiting
                listed = await (await http.get(f"{base}/api/silences")).json()
                assert listed[0]["reason"] == "网站改版" and listed[0]["scope_id"] == "s1" and listed[0]["discard"]
                past = {**body, "until": "2020-01-01T00:00"}
                assert (await http.post(f"{base}/api/silences", json=past, headers=auth)).status == 400
                vague = await http.post(f"{base}/api/silences", json={**body, "discard": "yes"}, headers=auth)
                assert vague.status == 400 and "discard 应为 true 或 false" in await vague.text()
                monitor.start()
                await wait_for(lambda: monitor.tracked["c0"].verdict.state.value == "red")
                await asyncio.sleep(0.3)
                box = await (await http.get(f"{base}/api/outbox?status=suppressed")).json()
                assert box["items"] and all(i["reason"] == f"silenced#{silence_id}" for i in box["items"])
                page = await (await http.get(f"{base}/silences")).text()
                assert f"#{silence_id}" in page and "青溪县人民政府网站" in page and "网站改版" in page
                column = await (await http.get(f"{base}/target/c0")).text()
                assert "通知记录" in column and "未发送（抑制）" in column and f"silenced#{silence_id}" in column
                gone = await http.delete(f"{base}/api/silences/{silence_id}", headers=auth)
                assert gone.status == 200 and monitor.alerts.silences == []
        finally:
            await runner.cleanup()
    assert endpoint.received == []


async def test_bad_api_input_is_a_400_in_chinese_and_the_store_keeps_writing(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    """A body, id or query value the store cannot take is refused before it: a 400 naming what is wrong, and the
    store writes on (a bad write used to leave its connection inside a transaction: every later write failed)."""
    inv = with_settings(inventory(tmp_path, page_server, endpoint), token=TOKEN)
    async with monitoring(inv) as monitor:
        runner = await serve(monitor, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        until = (monitor.clock() + timedelta(hours=2)).isoformat()
        good = {"scope": "site", "id": "s1", "until": until, "reason": "网站改版"}
        huge = "9" * 20
        try:
            async with ClientSession() as http:
                refused = [
                    (await http.post(f"{base}/api/silences", json={**good, "by": None}, headers=auth), "by"),
                    (await http.post(f"{base}/api/silences", json={**good, "id": ["s1"]}, headers=auth), "id"),
                    (await http.post(f"{base}/api/silences", json={**good, "until": "明天"}, headers=auth), "until"),
                    (await http.post(f"{base}/api/silences", data="[", headers=auth), "JSON"),
                    (await http.post(f"{base}/api/silences", json=[good], headers=auth), "JSON 对象"),
                    (await http.post(f"{base}/api/outbox/{huge}/drop", headers=auth), "编号"),
                    (await http.delete(f"{base}/api/silences/{huge}", headers=auth), "编号"),
                    (await http.post(f"{base}/api/findings/x/mark", json={"as": None}, headers=auth), "as"),
                    (await http.get(f"{base}/api/outbox?limit=abc"), "limit"),
                    (await http.get(f"{base}/api/outbox?status=everything"), "status"),
                    (await http.get(f"{base}/api/findings?limit=-5"), "limit"),
                    (await http.get(f"{base}/report?quarter=0001Q1"), "quarter"),
                ]
                for answer, named in refused:
                    text = await answer.text()
                    if answer.content_type == "text/html":  # a page's error is a board page: its message alone
                        text = text.split('<p class="empty">')[1].split("</p>")[0]
                    assert answer.status == 400, (answer.url, answer.status, text)
                    assert named in text and re.search(r"[\u4e00-\u9fff]", text), text
                    assert len(text) < 200  # the client's value is quoted cut short, never echoed whole
                bare = await http.post(f"{base}/api/silences", json=good, headers={"Authorization": TOKEN})
                assert bare.status == 401  # the token alone, without "Bearer ", is not accepted
                made = await http.post(f"{base}/api/silences", json=good, headers=auth)
                assert made.status == 201
        finally:
            await runner.cleanup()
        await monitor.sweep_once()
        assert len(await monitor.store.observations("c0")) == 1  # a probe after all that is stored
        assert [s.reason for s in await monitor.store.silences(monitor.clock())] == ["网站改版"]


async def test_writes_are_refused_without_a_configured_token(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint)
    async with monitoring(inv) as monitor:
        runner = await serve(monitor, "127.0.0.1", 0)
        try:
            async with ClientSession() as http:
                answer = await http.post(f"http://127.0.0.1:{runner.addresses[0][1]}/api/silences", json={},
                                         headers={"Authorization": "Bearer anything-at-all-here"})
                assert answer.status == 403 and "settings.token" in await answer.text()
        finally:
            await runner.cleanup()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=60)


async def test_operator_drops_what_keeps_failing_from_the_cli(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    endpoint.plan["/group"] = ["500"] * 1000
    inv = inventory(tmp_path, page_server, endpoint, escalate_after=None)
    async with monitoring(inv) as monitor:
        monitor.start()
        await wait_for(lambda: monitor.tracked["c0"].verdict.state.value == "red")
        await asyncio.sleep(1.0)
        listing = await asyncio.to_thread(cli, "outbox", "--config", inv.source, "--status", "pending")
        assert re.search(r"^u1/group: [12] pending", listing.stdout, re.M) and "last error: " in listing.stdout
        assert "500" in listing.stdout.split("last error: ")[1].splitlines()[0]  # the endpoint's answer, kept
        ids = [line.split()[0][1:] for line in listing.stdout.splitlines() if line.startswith("#")
               and "u1/group" in line]
        dropped = await asyncio.to_thread(cli, "outbox", "--config", inv.source, "--drop", *ids)
        assert dropped.returncode == 0 and f"dropped {len(ids)}" in dropped.stdout
        for _ in range(100):
            if "u1/group" not in await monitor.store.outbox_stats():
                break
            await asyncio.sleep(0.1)
        assert "u1/group" not in await monitor.store.outbox_stats()
    silence = cli("silence", "add", "--config", inv.source, "--unit", "u1", "--until", "2099-01-01T00:00",
                  "--reason", "测试")
    assert silence.returncode == 0 and "silence #1" in silence.stdout
    assert "#1  unit u1" in cli("silence", "list", "--config", inv.source).stdout
    assert cli("silence", "rm", "--config", inv.source, "--id", "1").returncode == 0
    assert cli("silence", "list", "--config", inv.source).stdout == ""
    too_big = cli("outbox", "--config", inv.source, "--drop", "9" * 20)
    assert too_big.returncode == 2 and "编号应为" in too_big.stderr


async def test_mqtt_carries_retained_state_and_events_of_every_change(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    assert Path(MOSQUITTO).exists()
    broker = Broker(tmp_path)
    await broker.start()
    subscriber = Subscriber(broker.port)
    try:
        await asyncio.wait_for(subscriber.subscribed.wait(), 10)
        inv = with_settings(inventory(tmp_path, page_server, endpoint, escalate_after=None),
                            mqtt={"host": "127.0.0.1", "port": broker.port, "client_id": "govwatch-test"})
        async with monitoring(inv) as monitor:
            monitor.start()
            topic = "govwatch/u1/column/c0/state"
            await wait_for(lambda: any(json.loads(p)["state"] == "red" for p in subscriber.on(topic)))
            await wait_for(lambda: "online" in subscriber.on("govwatch/status"))
        states = [json.loads(p)["state"] for p in subscriber.on(topic)]
        assert states == ["green", "yellow", "red"]
        events = [json.loads(p) for p in subscriber.on("govwatch/events")]
        assert [(e["id"], e["previous"], e["state"]) for e in events] == [
            ("c0", "unknown", "green"), ("c0", "green", "yellow"), ("c0", "yellow", "red")]
        red = json.loads(subscriber.on(topic)[-1])
        assert red["deadline"] and red["newest_date"] and red["reasons"] == ["stale"] and red["unit"]
        await wait_for(lambda: subscriber.on("govwatch/status")[-1:] == ["offline"])
    finally:
        await subscriber.close()
        broker.stop()
