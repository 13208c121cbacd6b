"""Held, not dropped: alerts an inhibition or a silence held back are sent when it ends if still due, once, saying
why; they lapse quietly when the column recovered meanwhile; held state survives a restart. Real SQLite, apprise
posting to aiohttp on 127.0.0.1, pages served on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from alerts import texts
from alerts.held import Candidate, release, settle, still_due, veto_still_due
from monitor import config
from monitor.evaluate import Verdict
from monitor.model import State
from monitor.records import HeldRow
from monitor.service import monitoring
from tests.conftest import Endpoint, PageServer, list_page
from tests.test_alerts_delivery import wait_for
from tests.test_daemon import dated

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=3)


def held(rid: int, kind: str, channel: str = "u1/group", target: str = "c0", **extra: Any) -> HeldRow:
    payload = {"kind": kind, "target_id": target, "state": "red", "newest_date": "2026-03-01",
               "deadline": DEADLINE.isoformat(), **extra}
    return HeldRow(rid, channel, T0 + timedelta(minutes=rid), payload, "govwatch_cut_off")


RED = Verdict(State.RED, ("stale",), deadline=DEADLINE)
GREEN = Verdict(State.GREEN, ("fresh",), deadline=DEADLINE + timedelta(days=9))


def test_the_newest_held_alert_still_due_is_sent_once_the_rest_lapse() -> None:
    rows = [held(1, "yellow"), held(2, "red"), held(3, "red", channel="u1/sms"), held(4, "red", target="c1")]
    candidates = [Candidate(r, False, still_due(r.payload, RED, None)) for r in rows]
    send, lapse = settle(candidates)
    assert [r.id for r in send] == [2, 3, 4] and lapse == [1]  # one per receiver and column: the red
    # still muted (another mute now, or the same) or not yet decidable (unknown): the group waits whole
    assert settle([Candidate(rows[0], False, False), Candidate(rows[1], True, True)]) == ([], [])
    assert settle([Candidate(rows[0], False, False), Candidate(rows[1], False, None)]) == ([], [])
    # a site's vetoes: one group per site and veto kind, the one that stands now is sent
    vetoes = [HeldRow(rid, "u1/group", T0, {"kind": f"veto_{state}", "state": state, "site_id": site,
                                             "reasons": ["stale_news"]}, "site_down")
              for rid, state, site in ((7, "yellow", "s1"), (8, "red", "s1"), (9, "yellow", "s2"))]
    now = {"s1": State.RED, "s2": State.YELLOW}
    assert settle([Candidate(v, False, veto_still_due(v.payload, now[v.payload["site_id"]])) for v in vetoes]) == (
        [vetoes[1], vetoes[2]], [7])


def test_recovered_meanwhile_lapses_and_an_unheard_red_is_not_recovered() -> None:
    rows = [held(1, "yellow"), held(2, "red"), held(3, "recovered")]
    assert settle([Candidate(r, False, still_due(r.payload, GREEN, None)) for r in rows]) == ([], [1, 2, 3])
    # a red heard before the cut-off, recovered during it: the recovery is told
    (only,) = [held(5, "recovered")]
    assert settle([Candidate(only, False, still_due(only.payload, GREEN, None))]) == ([only], [])
    # red again with another deadline (a new item came, then went stale): the old red is not the current one
    assert still_due(rows[1].payload, Verdict(State.RED, ("stale",), deadline=DEADLINE + timedelta(days=5)),
                     None) is False
    assert still_due(rows[1].payload, Verdict(State.UNKNOWN, ("fetch_failed",)), None) is None
    assert still_due(rows[1].payload, None, None) is False  # no longer watched


def test_the_sent_message_says_it_was_held_and_why() -> None:
    facts = {"kind": "red", "reasons": ["stale"], "target_kind": "column", "unit": "青溪县人民政府办公室",
             "site": "青溪县人民政府网站", "column": "乡镇动态", "category": "动态要闻", "rule": "2周", "url": "http://x/",
             "newest_date": "2026-03-01", "days_since": 20, "days_overdue": 6, "days_left": None, "board": None}
    payload = release(HeldRow(1, "u1/group", T0, facts, "site_down"), T0).payload
    body = texts.single(payload)[1]
    assert body.endswith("说明：此前因网站首页无法访问暂缓发送（03-02 17:00 起），情况至今未变，现补发")
    first = texts.grouped([payload, facts], None)[1].splitlines()[0]
    assert first.startswith("[超期] （此前因网站首页无法访问暂缓发送，现补发）青溪县人民政府网站「乡镇动态」")
    assert first.endswith(" http://x/")
    sms = texts.sms([release(HeldRow(1, "u1/sms", T0, facts, "govwatch_cut_off"), T0).payload], None)
    assert sms.startswith("【监测预警·监测断网暂缓补发】") and len(sms) <= 70
    silenced = release(HeldRow(1, "u1/group", T0, facts, "silenced#7"), T0).payload
    assert "此前因静默（维护期）暂缓发送" in texts.single(silenced)[1]


def inventory(tmp: Path, pages: PageServer, ep: Endpoint, failing: int = 0, homepage: bool = False,
              columns: int = 1, **alerts: str) -> config.Inventory:
    """Columns c0… turn yellow 2 s after their first probe and red 1 s later; ``failing`` more columns on the same
    site whose pages answer 500 until the test serves them (more than half of all: govwatch is cut off)."""
    listed = [{"id": f"c{i}", "name": "乡镇动态" + (str(i) if i else ""), "url": pages.url(f"/c{i}/"),
               "category": "动态要闻", "deadline": "3s", "lead": "1s", "interval": "1h"} for i in range(columns)]
    listed += [{"id": f"f{i}", "name": f"通知公告{i}", "url": pages.url(f"/f{i}/"), "category": "通知公告",
                 "interval": "1h"} for i in range(failing)]
    data = {
        "settings": {
            "checks": [], "store": str(tmp / "govwatch.sqlite3"), "board_url": "http://127.0.0.1:8470/",
            "fetch": {"timeout": "5s", "per_host_interval": "0s"},
            "alerts": {"group_window": "0s", "repeat_at": None, "send_timeout": "2s", "max_backoff": "1s", **alerts},
        },
        "units": [{"id": "u1", "name": "青溪县人民政府办公室", "receivers": [
            {"id": "group", "url": ep.url("json", "group")},
            {"id": "sms", "url": ep.url("form", "sms"), "kind": "sms"}]}],
        "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": pages.url("/"),
                   "check_homepage": homepage, "columns": listed}],
    }
    for i in range(columns):
        pages.set(f"/c{i}/", list_page(dated(0)))
    pages.set("/", "<html><body>首页</body></html>", status=500 if homepage else 200)
    for i in range(failing):
        pages.set(f"/f{i}/", "upstream error", status=500)
    path = tmp / "inventory.yaml"
    YAML().dump(data, path)
    return config.load(path)


def outbox(tmp: Path, channel: str = "u1/group") -> list[tuple[str, str, str | None]]:
    db = sqlite3.connect(tmp / "govwatch.sqlite3")
    try:
        return [(json_kind, status, reason) for json_kind, status, reason in db.execute(
            "SELECT json_extract(payload, '$.kind'), status, reason FROM outbox WHERE channel = ? ORDER BY id",
            (channel,))]
    finally:
        db.close()


def red_held(tmp: Path, status: str = "held") -> bool:
    """The red is in the outbox of both receivers with this status (a yellow before it only when a probe saw the
    column before its yellow ended: on a loaded machine the first probe may come late and see it red)."""
    return all(any(kind == "red" and s == status for kind, s, _ in outbox(tmp, channel))
               for channel in ("u1/group", "u1/sms"))


def told_only_the_red(tmp: Path, reason: str) -> bool:
    """The group's red went out after being held for ``reason``; the yellow before it, if any, lapsed."""
    rows = outbox(tmp)
    return rows[-1] == ("red", "sent", reason) and all(r == ("yellow", "lapsed", reason) for r in rows[:-1])


def held_count(tmp: Path) -> int:
    return sum(status == "held" for channel in ("u1/group", "u1/sms") for _, status, _ in outbox(tmp, channel))


async def test_a_cut_off_and_its_end_the_held_red_is_sent_once_saying_why(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint, failing=11)
    async with monitoring(inv) as monitor:
        monitor.start()
        await wait_for(lambda: monitor.tracked["c0"].verdict.state is State.RED)
        await wait_for(lambda: red_held(tmp_path))
        assert endpoint.received == []  # nothing while cut off
        for i in range(11):
            page_server.set(f"/f{i}/", list_page(dated(1)))
        await monitor.sweep_once()  # govwatch reaches the sites again
        await wait_for(lambda: len(endpoint.received) == 2)
        await wait_for(lambda: held_count(tmp_path) == 0)
    [group] = endpoint.messages("group")
    assert group["body"]["title"] == "【政府网站监测】红色预警：栏目超期未更新"
    assert "说明：此前因监测系统自身网络中断暂缓发送" in group["body"]["message"]
    [sms] = endpoint.messages("sms")
    assert sms["body"]["message"].startswith("【监测预警·监测断网暂缓补发】") and len(sms["body"]["message"]) <= 70
    assert told_only_the_red(tmp_path, "govwatch_cut_off")


async def test_site_down_held_red_survives_a_restart_and_is_sent_when_the_homepage_is_back(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint, homepage=True)
    async with monitoring(inv) as monitor:
        monitor.start()
        await wait_for(lambda: monitor.tracked["c0"].verdict.state is State.RED)
        await wait_for(lambda: red_held(tmp_path))
    assert endpoint.received == []
    assert {status for _, status, reason in outbox(tmp_path)} == {"held"}
    page_server.set("/", "<html><body>首页</body></html>")
    async with monitoring(inv) as monitor:  # a restart; the homepage is back
        assert monitor.tracked["c0"].verdict.state is State.RED
        await monitor.sweep_once()
        await wait_for(lambda: len(endpoint.received) == 2)
        await wait_for(lambda: held_count(tmp_path) == 0)
    [group] = endpoint.messages("group")
    assert "说明：此前因网站首页无法访问暂缓发送" in group["body"]["message"]
    assert told_only_the_red(tmp_path, "site_down")


async def test_a_silence_that_ends_with_the_column_red_sends_the_red_then(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint)
    async with monitoring(inv) as monitor:
        now = monitor.clock()
        await monitor.store.silence_add("site", "s1", now + timedelta(seconds=5), "网站改版维护", "test", now)
        await monitor.alerts.refresh_silences()
        monitor.start()
        await wait_for(lambda: monitor.tracked["c0"].verdict.state is State.RED)
        assert endpoint.received == []
        await wait_for(lambda: len(endpoint.received) == 2)  # the silence ended at +5 s
        assert monitor.clock() >= now + timedelta(seconds=5)
    [group] = endpoint.messages("group")
    assert group["body"]["title"] == "【政府网站监测】红色预警：栏目超期未更新"
    assert "说明：此前因静默（维护期）暂缓发送" in group["body"]["message"]
    assert told_only_the_red(tmp_path, "silenced#1")


async def test_a_silence_that_discards_sends_nothing_when_it_ends(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint)
    async with monitoring(inv) as monitor:
        now = monitor.clock()
        silence = await monitor.store.silence_add("target", "c0", now + timedelta(hours=1), "", "test", now,
                                                  discard=True)
        await monitor.alerts.refresh_silences()
        monitor.start()
        await wait_for(lambda: red_held(tmp_path, "suppressed"))
        await monitor.store.silence_remove(silence)
        await monitor.alerts.refresh_silences()
        await monitor.alerts.settle_held()
        assert monitor.tracked["c0"].verdict.state is State.RED
    assert endpoint.received == []
    assert {(status, reason) for _, status, reason in outbox(tmp_path)} == {("suppressed", "silenced#1")}


async def test_a_recovery_during_a_silence_lapses_quietly(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint)
    page_server.set("/c0/", list_page(dated(1)))
    async with monitoring(inv) as monitor:
        now = monitor.clock()
        silence = await monitor.store.silence_add("target", "c0", now + timedelta(hours=1), "", "test", now)
        await monitor.alerts.refresh_silences()
        monitor.start()
        await wait_for(lambda: red_held(tmp_path))
        page_server.set("/c0/", list_page(dated(0)))  # a new item
        await monitor.sweep_once()
        assert monitor.tracked["c0"].verdict.state is State.GREEN
        await wait_for(lambda: outbox(tmp_path)[-1] == ("recovered", "held", "silenced#1"))
        await monitor.store.silence_remove(silence)
        await monitor.alerts.refresh_silences()
        await monitor.alerts.settle_held()  # at once, before the column's new deadline comes
    assert endpoint.received == []
    assert {(status, reason) for _, status, reason in outbox(tmp_path)} == {("lapsed", "silenced#1")}
    assert [kind for kind, _, _ in outbox(tmp_path)][-2:] == ["red", "recovered"]


async def test_a_site_veto_held_while_the_site_is_down_is_sent_when_it_is_back(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    inv = inventory(tmp_path, page_server, endpoint, homepage=True, columns=5)
    async with monitoring(inv) as monitor:
        monitor.start()
        await wait_for(lambda: ("veto_red", "held", "site_down") in outbox(tmp_path))  # five stale 动态要闻
        assert endpoint.received == []
        page_server.set("/", "<html><body>首页</body></html>")
        await monitor.sweep_once()
        await wait_for(lambda: held_count(tmp_path) == 0)
        await wait_for(lambda: not any(s == "pending" for _, s, _ in outbox(tmp_path)))
    vetoes = [(kind, status) for kind, status, _ in outbox(tmp_path) if kind.startswith("veto_")]
    assert vetoes[-1] == ("veto_red", "sent") and all(v == ("veto_yellow", "lapsed") for v in vetoes[:-1])
    told = [m["body"] for m in endpoint.messages("group") if "单项否决" in m["body"]["message"]]
    assert len(told) == 1 and "此前因网站首页无法访问暂缓发送" in told[0]["message"]
