"""Findings: the pure life cycle, and the one path (store, trail, outbox → chat, metrics, board, marks)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ruamel.yaml import YAML

from monitor import config
from monitor.checks.base import Subject
from monitor.evaluate import TZ
from monitor.findings import Change, Event, Finding, Known, Status, mark, reconcile
from monitor.metrics import Metrics
from monitor.model import State
from monitor.service import monitoring
from monitor.web.app import serve
from tests.conftest import Endpoint, PageServer
from tests.test_alerts_delivery import wait_for

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)
TOKEN = "findings-test-token-0123456789"


def finding(key: str = "k", severity: State = State.YELLOW, title: str = "发现问题") -> Finding:
    return Finding("word", "s1", key, severity, title, "u1", "s1", "http://127.0.0.1/a.html")


def known_after(changes: list[Change], known: dict[str, Known] | None = None) -> dict[str, Known]:
    out = dict(known or {})
    for c in changes:
        out[c.known.finding.uid] = c.known
    return out


def test_found_unchanged_changed_gone_reappeared() -> None:
    a, b = finding("a"), finding("b")
    first = reconcile({}, [a, b], T0)
    assert [c.event for c in first] == [Event.FOUND, Event.FOUND] and all(c.alerts for c in first)
    known = known_after(first)
    assert reconcile(known, [a, b], T0 + timedelta(hours=1)) == []
    worse = reconcile(known, [finding("a", State.RED), b], T0 + timedelta(hours=2))
    assert [c.event for c in worse] == [Event.CHANGED] and worse[0].alerts
    known = known_after(worse, known)
    better = reconcile(known, [a, b], T0 + timedelta(hours=3))
    assert [c.event for c in better] == [Event.CHANGED] and not better[0].alerts  # a milder finding is not news
    known = known_after(better, known)
    gone = reconcile(known, [b], T0 + timedelta(hours=4))
    assert [(c.event, c.known.status) for c in gone] == [(Event.GONE, Status.GONE)] and not gone[0].alerts
    known = known_after(gone, known)
    back = reconcile(known, [a, b], T0 + timedelta(hours=5))
    assert [c.event for c in back] == [Event.REAPPEARED] and back[0].alerts
    assert back[0].known.first_seen == T0  # the trail keeps when it was first seen


def test_false_positive_stays_quiet_and_fixed_reappears() -> None:
    a = finding("a")
    known = known_after(reconcile({}, [a], T0))
    fp = mark(known[a.uid], Status.FALSE_POSITIVE, T0 + timedelta(hours=1), "李工", "导航菜单，非暗链")
    assert fp.event is Event.MARKED_FALSE_POSITIVE and fp.actor == "李工"
    assert reconcile(known_after([fp], known), [a], T0 + timedelta(hours=2)) == []
    fixed = mark(known[a.uid], Status.FIXED, T0 + timedelta(hours=1), "李工")
    again = reconcile(known_after([fixed], known), [a], T0 + timedelta(hours=2))
    assert [c.event for c in again] == [Event.REAPPEARED]
    # a fixed finding the check no longer sees is not "gone" again
    assert reconcile(known_after([fixed], known), [], T0 + timedelta(hours=2)) == []


class PageWordCheck:
    """A check for the test: the word 暗链 on a page served by the loopback server is a red finding."""

    name = "pageword"
    produces = ("word",)

    def __init__(self, url: str) -> None:
        self.url = url

    def subjects(self, inventory: config.Inventory) -> list[Subject]:
        return [Subject("s1", 3600.0, "u1", "s1", self.url)]

    async def run(self, subject: Subject, ctx: Any, now: datetime) -> Sequence[Finding] | None:
        result = await ctx.fetcher.fetch(subject.data)
        if not result.ok or result.text is None:
            return None  # could not look: nothing changes
        if "暗链" not in result.text:
            return []
        return [Finding("word", subject.id, "暗链|" + subject.data, State.RED, "首页含有暗链文字", subject.unit_id,
                        subject.site_id, subject.data, "页面正文出现“暗链”", {"word": "暗链"})]


def inventory(tmp: Path, pages: PageServer, ep: Endpoint, mqtt_port: int | None = None) -> config.Inventory:
    data: dict[str, Any] = {
        "settings": {"store": str(tmp / "govwatch.sqlite3"), "board_url": "http://127.0.0.1:8470/", "token": TOKEN,
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                     "alerts": {"group_window": "0s", "repeat_at": None, "send_timeout": "2s", "max_backoff": "1s"}},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室", "receivers": [
            {"id": "group", "url": ep.url("json", "group")},
            {"id": "sms", "url": ep.url("form", "sms"), "kind": "sms"}]}],
        "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": pages.url("/"),
                   "check_homepage": False, "columns": []}],
    }
    if mqtt_port:
        data["settings"]["mqtt"] = {"port": mqtt_port, "client_id": "govwatch-findings"}
    path = tmp / "inventory.yaml"
    YAML().dump(data, path)
    return config.load(path)


async def test_a_finding_travels_the_one_path_and_keeps_its_trail(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    page_server.set("/", "<html><body><p>首页 暗链 文字</p></body></html>")
    inv = inventory(tmp_path, page_server, endpoint)
    metrics = Metrics()
    async with monitoring(inv, metrics=metrics) as monitor:
        runner = monitor.check_runner
        runner._build = lambda inventory: [PageWordCheck(page_server.url("/"))]
        runner.configure(inv)
        await monitor.check_once()
        await wait_for(lambda: endpoint.messages("group") and endpoint.messages("sms"))
        (uid,) = monitor.findings[("word", "s1")]
        chat = endpoint.messages("group")[0]["body"]
        assert chat["title"] == "【政府网站监测】严重问题：错敏词"
        assert "问题：首页含有暗链文字" in chat["message"]
        assert f"看板：http://127.0.0.1:8470/finding/{uid}" in chat["message"]
        assert len(endpoint.messages("sms")[0]["body"]["message"]) <= 70
        assert 'govwatch_findings_open{check="word",severity="red",site="s1",unit="u1"} 1.0' in \
            metrics.scrape().decode()

        web = await serve(monitor, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{web.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as http:
                board = await (await http.get(f"{base}/findings")).text()
                assert "首页含有暗链文字" in board and f"/finding/{uid}" in board
                denied = await http.post(f"{base}/api/findings/{uid}/mark", json={"as": "false_positive"})
                assert denied.status == 401
                ok = await http.post(f"{base}/api/findings/{uid}/mark", headers={"Authorization": f"Bearer {TOKEN}"},
                                     json={"as": "false_positive", "by": "李工", "note": "测试页面"})
                assert ok.status == 200 and (await ok.json())["status"] == "false_positive"
                await monitor.check_once()  # still seen: a false positive stays quiet
                await asyncio.sleep(0.3)
                assert len(endpoint.messages("group")) == 1
                page_server.set("/", "<html><body><p>首页 正常</p></body></html>")
                await monitor.check_once()  # no longer seen, but marked: nothing changes
                page_server.set("/", "<html><body><p>首页 暗链 又来了</p></body></html>")
                ok = await http.post(f"{base}/api/findings/{uid}/mark", headers={"Authorization": f"Bearer {TOKEN}"},
                                     json={"as": "fixed", "by": "李工"})
                assert ok.status == 200
                await monitor.check_once()  # seen again after "fixed": it reappears and alerts again
                await wait_for(lambda: len(endpoint.messages("group")) == 2)
                page_server.set("/", "<html><body><p>首页 正常</p></body></html>")
                await monitor.check_once()
                await wait_for(lambda: monitor.findings[("word", "s1")][uid].status is Status.GONE)
                await asyncio.sleep(0.2)
                detail = await (await http.get(f"{base}/finding/{uid}")).text()
                assert "标记为误报" in detail and "李工" in detail and "再次出现" in detail and "不再出现" in detail
        finally:
            await web.cleanup()
    with sqlite3.connect(tmp_path / "govwatch.sqlite3") as db:
        events = [e for (e,) in db.execute("SELECT event FROM finding_events WHERE uid = ? ORDER BY id", (uid,))]
        sent = db.execute("SELECT COUNT(*) FROM outbox WHERE key LIKE ? AND status = 'sent'",
                          (f"finding|{uid}|%",)).fetchone()[0]
    assert events == ["found", "marked_false_positive", "marked_fixed", "reappeared", "gone"]
    assert sent == 4  # chat and SMS, twice


async def test_findings_survive_a_restart_without_alerting_again(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    page_server.set("/", "<html><body>暗链</body></html>")
    inv = inventory(tmp_path, page_server, endpoint)
    for _ in range(2):
        async with monitoring(inv) as monitor:
            monitor.check_runner._build = lambda inventory: [PageWordCheck(page_server.url("/"))]
            monitor.check_runner.configure(inv)
            await monitor.check_once()
            await wait_for(lambda: len(endpoint.messages("group")) >= 1)
            await asyncio.sleep(0.3)
    assert len(endpoint.messages("group")) == 1


async def test_a_check_that_cannot_look_changes_nothing(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    page_server.set("/", "<html><body>暗链</body></html>")
    inv = inventory(tmp_path, page_server, endpoint)
    async with monitoring(inv) as monitor:
        check = PageWordCheck(page_server.url("/"))
        monitor.check_runner._build = lambda inventory: [check]
        monitor.check_runner.configure(inv)
        await monitor.check_once()
        check.url = "http://127.0.0.1:9/"  # refused: the page cannot be read
        await monitor.check_once()
        check.subjects = lambda inventory: [Subject("s1", 3600.0, "u1", "s1", "http://127.0.0.1:9/")]
        monitor.check_runner.configure(inv)
        await monitor.check_once()
        (known,) = monitor.findings[("word", "s1")].values()
        assert known.status is Status.OPEN


def test_cli_lists_and_marks(tmp_path: Path, capsys: Any) -> None:
    from monitor.cli import main
    from monitor.records import FindingsRecord
    from monitor.store.sqlite import SQLiteStore

    store_path = tmp_path / "govwatch.sqlite3"
    inv_path = tmp_path / "inv.yaml"
    YAML().dump({"settings": {"store": str(store_path)}, "units": [{"id": "u1", "name": "单位"}]}, inv_path)

    async def seed() -> str:
        store = SQLiteStore(store_path)
        await store.open()
        change = reconcile({}, [finding("a", State.RED, "错敏词：国务院办公厅写成国务院办公室")], T0)
        await store.write([FindingsRecord(tuple(change))])
        await store.close()
        return change[0].known.finding.uid

    uid = asyncio.run(seed())
    assert main(["findings", "list", "--config", str(inv_path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["uid"] == uid and row["severity"] == "red" and row["label"] == "错敏词"
    assert main(["findings", "mark", uid, "--config", str(inv_path), "--as", "fixed", "--by", "王工"]) == 0
    assert main(["findings", "list", "--config", str(inv_path)]) == 0
    assert "0 finding(s)" in capsys.readouterr().out
    assert main(["findings", "show", uid, "--config", str(inv_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["event"] for e in shown["trail"]] == ["found", "marked_fixed"] and shown["trail"][1]["actor"] == "王工"
    assert main(["findings", "mark", "nope", "--config", str(inv_path), "--as", "fixed"]) == 1


async def test_findings_reach_mqtt(tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    from tests.test_mqtt import Broker, Subscriber, until

    broker = Broker(tmp_path)
    await broker.start()
    sub = Subscriber(broker.port)
    try:
        await asyncio.wait_for(sub.subscribed.wait(), 5)
        page_server.set("/", "<html><body>暗链</body></html>")
        inv = inventory(tmp_path, page_server, endpoint, broker.port)
        async with monitoring(inv) as monitor:
            monitor.check_runner._build = lambda inventory: [PageWordCheck(page_server.url("/"))]
            monitor.check_runner.configure(inv)
            await monitor.check_once()
            (uid,) = monitor.findings[("word", "s1")]
            topic = f"govwatch/u1/finding/{uid}/state"
            await until(lambda: sub.on(topic) and sub.on("govwatch/events"), what="finding messages")
        state = json.loads(sub.on(topic)[0])
        assert (state["check"], state["severity"], state["status"], state["event"]) == ("word", "red", "open", "found")
        assert state["title"] == "首页含有暗链文字" and state["evidence"] == {"word": "暗链"}
        late = Subscriber(broker.port, name="late")
        await until(lambda: late.on(topic), what="the retained finding state")
        assert [r for t, _, r, _ in late.messages if t == topic] == [True]
        await late.close()
    finally:
        await sub.close()
        broker.stop()


async def test_first_runs_are_spread_and_a_reload_keeps_each_subjects_time(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    from monitor.checks.runner import FIRST_RUN_SPREAD_S

    inv = inventory(tmp_path, page_server, endpoint)

    class ManySites(PageWordCheck):
        def subjects(self, inventory: config.Inventory) -> list[Subject]:
            return [Subject(f"s{k}", 86400.0, "u1", f"s{k}", self.url) for k in range(200)]

    async with monitoring(inv) as monitor:
        runner = monitor.check_runner
        runner._build = lambda inventory: [ManySites(page_server.url("/"))]
        start = monitor.clock().timestamp()
        runner.configure(inv)
        due = runner.next_runs()
        assert len(due) == 200 and all(start <= when <= start + FIRST_RUN_SPREAD_S + 1 for when in due.values())
        assert max(due.values()) - min(due.values()) > FIRST_RUN_SPREAD_S / 2  # not all on the first sweep
        runner.configure(inv)  # a reload: every subject keeps its time
        assert runner.next_runs() == due


def test_next_run_is_one_interval_after_the_last_and_an_overdue_one_is_spread_over_its_lateness() -> None:
    from monitor.checks.runner import next_run

    now = 100_000.0
    assert next_run(now - 100, 600, 3600, now, 0.99) == now + 500  # the draw plays no part: not random
    assert next_run(now - 600, 600, 3600, now, 0.5) == now  # due now
    assert next_run(now - 630, 600, 3600, now, 0.5) == now + 15  # overdue by 30 s: within 30 s
    assert next_run(now - 86_400, 600, 3600, now, 0.5) == now + 1800  # back after a day: within the spread
    assert next_run(now - 86_400, 600, 0, now, 0.5) == now  # a check that runs at start: now
    assert next_run(None, 600, 600, now, 0.25) == now + 150  # never run: the first-run spread


async def test_a_checks_last_run_survives_a_restart(tmp_path: Path, store_location: str) -> None:
    """The calendar check runs once a day: restarted, the daemon runs it a day after its last run, not within the
    first hour as a subject never run."""
    from monitor.findings import GOVWATCH

    path = tmp_path / "inventory.yaml"
    YAML().dump({"settings": {"store": store_location, "checks": ["calendar"]},
                 "units": [{"id": "u1", "name": "青溪县人民政府办公室"}]}, path)
    inv = config.load(path)
    key = ("calendar", GOVWATCH)
    async with monitoring(inv) as monitor:
        assert monitor.check_runner.next_runs()[key] <= monitor.clock().timestamp() + 3600  # first run: spread
        await monitor.check_once()
        ran = (await monitor.store.check_runs())[key]
        assert abs(ran - monitor.clock()) < timedelta(seconds=5)
    for _ in range(2):  # restarted (twice: the run time stays the one recorded, not the restart's)
        async with monitoring(inv) as monitor:
            assert monitor.check_runner.next_runs()[key] == pytest.approx(ran.timestamp() + 86400, abs=1e-3)
