"""Bridge health apart from account health, run for real: loopback wewe-rss, we-mp-rss and RSSHub (tests/bridges.py),
the daemon on a real SQLite file, apprise delivering to a real local endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from monitor import config
from monitor.checks.bridges import Activity, Sync, bridge_findings, quiet_since, read_sync
from monitor.config.bridges import Bridge
from monitor.config.schema import BridgeSettings
from monitor.durations import Duration
from monitor.evaluate import TZ, Reason
from monitor.findings import Status
from monitor.model import State
from monitor.service import monitoring
from tests.bridges import MpFeed, Post, Route, RssHub, WeMpRss, WeweRss, running, wechat_page, weibo_text
from tests.conftest import Endpoint
from tests.test_alerts_delivery import wait_for

NOW = datetime.now(TZ).replace(microsecond=0)
TODAY = NOW.date()
ALERTS = {"group_window": "0s", "repeat_at": None, "escalate_after": None, "send_timeout": "2s", "max_backoff": "1s"}


def article(n: int, days_ago: int) -> Post:
    title = f"青溪县第{n}号工作动态"
    return Post(f"{n}-{days_ago}", title, wechat_page(title, "<p>……</p>"),
                datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), TZ).replace(hour=9))


@pytest.fixture
async def wewe() -> AsyncIterator[WeweRss]:
    bridge = WeweRss(now=lambda: datetime.now(TZ))
    for n in range(50):  # every account last posted 20+ days ago as far as the bridge knows: red, if believed
        bridge.feeds[f"MP_WXS_{n}"] = MpFeed(f"青溪{n}号", [article(n, 20 + n % 5), article(n, 30)],
                                             sync_time=NOW - timedelta(days=5), update_time=NOW - timedelta(days=90))
    async for served in running(bridge):
        yield served  # type: ignore[misc]


def units(endpoint: Endpoint) -> list[dict[str, Any]]:
    ops = {"id": "xxzx", "name": "县政务服务和大数据中心",
           "receivers": [{"id": "ops", "url": endpoint.url("json", "ops")}]}
    return [ops, *({"id": f"u{k}", "name": f"青溪县第{k}单位",
                    "receivers": [{"id": "group", "url": endpoint.url("json", f"u{k}")}]} for k in range(5))]


def write(tmp: Path, data: dict[str, Any]) -> Path:
    path = tmp / "inv.yaml"
    YAML().dump(data, path)
    return path


async def test_a_stalled_bridge_behind_50_accounts_is_one_finding_and_50_unknowns_never_red(
        tmp_path: Path, wewe: WeweRss, endpoint: Endpoint) -> None:
    accounts = [{"id": f"mp{n}", "unit": f"u{n % 5}", "platform": "微信公众号", "name": f"青溪{n}号",
                 "source": {"kind": "atom", "url": f"{wewe.base}/feeds/MP_WXS_{n}.atom"}} for n in range(50)]
    path = write(tmp_path, {
        "settings": {"store": str(tmp_path / "s.sqlite3"), "extract_workers": 1, "alerts": ALERTS,
                     "fetch": {"timeout": "5s", "per_host_interval": "0s", "per_host_concurrency": 8}},
        "units": units(endpoint), "accounts": accounts,
        "bridges": [{"id": "wewe", "kind": "wewe-rss", "url": wewe.base + "/", "unit": "xxzx"}],
    })
    async with monitoring(config.load(path)) as monitor:
        # the bridge was checked before the first probe: no account is judged on what it serves
        assert "/feeds/" in wewe.hits and not any(h.startswith("/feeds/MP_WXS_") for h in wewe.hits)
        monitor.start()
        await wait_for(lambda: all(t.history.latest is not None for t in monitor.tracked.values()))
        await wait_for(lambda: len(endpoint.received) >= 1)
        verdicts = {aid: t.verdict for aid, t in monitor.tracked.items()}
        [bridge] = [k.finding for k in monitor.findings[("bridge", "bridge:wewe")].values()]
        assert {v.state for v in verdicts.values()} == {State.UNKNOWN}
        assert {v.reasons for v in verdicts.values()} == {(Reason.SOURCE_FAULT, Reason.BRIDGE_STALLED)}
        assert verdicts["mp7"].newest_date == TODAY - timedelta(days=22)  # what was last read is kept
        detail = verdicts["mp7"].detail
        assert "账号数据源异常：wewe-rss（127.0.0.1:" in detail and "最后一次同步在" in detail
        stored = await monitor.store.findings_list(check="bridge")
        await asyncio.sleep(1.0)  # what the sender would deliver for 50 verdicts has had its time
        during = list(endpoint.received)

        # the bridge syncs again: its accounts are read again at once and judged on what it serves now
        for n, feed in enumerate(wewe.feeds.values()):
            feed.sync_time = datetime.now(TZ)
            if n % 2 == 0:
                feed.posts.insert(0, article(n, 0))
        before = len([h for h in wewe.hits if h.startswith("/feeds/MP_WXS_")])
        await monitor.check_once()
        await wait_for(lambda: len([h for h in wewe.hits if h.startswith("/feeds/MP_WXS_")]) >= before + 50)
        await wait_for(lambda: all(t.verdict.state is not State.UNKNOWN for t in monitor.tracked.values()))
        after = {aid: t.verdict.state for aid, t in monitor.tracked.items()}
        gone = {k.status for k in monitor.findings[("bridge", "bridge:wewe")].values()}
    port = wewe.base.rsplit(":", 1)[1]
    assert (bridge.severity, bridge.unit_id) == (State.RED, "xxzx")
    assert bridge.title == f"数据源停止同步：wewe-rss（127.0.0.1:{port}）"
    assert "50 个账号" in bridge.detail and [f["subject"] for f in stored] == ["bridge:wewe"]
    # the one message of the stall, to those who run the bridge: not one account red, not one unit told
    [message] = during
    assert message["path"] == "/ops" and message["body"]["title"] == "【政府网站监测】严重问题：账号数据源"
    text = message["body"]["message"]
    assert "数据源停止同步：wewe-rss" in text and "县政务服务和大数据中心" in text and "微信读书账号失效" in text
    assert gone == {Status.GONE}
    assert sum(1 for s in after.values() if s is State.GREEN) == 25 and sum(
        1 for s in after.values() if s is State.RED) == 25  # now believed: those that posted, and those that did not


def rsshub_route(uid: int, days_ago: int) -> Route:
    at = datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), TZ).replace(hour=8)
    text = f"青溪县第{uid}号账号第{days_ago}天的动态"
    return Route(f"青溪{uid}的微博", f"https://weibo.com/{uid}", f"青溪{uid}的微博",
                 [Post(f"https://weibo.com/{uid}/{days_ago}", text, weibo_text(text), at)])


async def test_a_stall_is_inferred_when_accounts_that_moved_apart_all_stop(tmp_path: Path, endpoint: Endpoint) -> None:
    hub = RssHub(now=lambda: datetime.now(TZ))
    for uid in range(5):
        hub.routes[f"/weibo/user/{uid}"] = rsshub_route(uid, 40)
    async for served in running(hub):
        accounts = [{"id": f"wb{uid}", "unit": f"u{uid}", "platform": "微博", "name": f"青溪{uid}", "deadline": "60d",
                     "source": {"kind": "rss", "url": f"{served.base}/weibo/user/{uid}"}} for uid in range(5)]
        path = write(tmp_path, {
            "settings": {"store": str(tmp_path / "s.sqlite3"), "extract_workers": 0,
                         "alerts": {**ALERTS, "supervisor": "xxzx"},
                         "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                         "bridges": {"quiet": "3s", "quiet_factor": 4, "interval": "1h"}},
            "units": units(endpoint), "accounts": accounts,
        })
        async with monitoring(config.load(path)) as monitor:
            await monitor.sweep_once()
            for step in range(3):  # each account in turn posts something newer, half a second apart
                for uid in range(5):
                    hub.routes[f"/weibo/user/{uid}"] = rsshub_route(uid, 30 - step * 5 - uid)
                    await monitor.sweep_once()
                    await asyncio.sleep(0.5)
            await monitor.check_once()
            assert monitor.findings.get(("bridge", "bridge:" + served.base.split("//")[1])) in (None, {})
            assert {t.verdict.state for t in monitor.tracked.values()} == {State.GREEN}
            await asyncio.sleep(3.2)  # then nobody moves: 3 s of silence, against 0.5 s between moves before
            await monitor.check_once()
            found = [k.finding for k in monitor.findings[("bridge", "bridge:" + served.base.split("//")[1])].values()]
            states = {aid: t.verdict.reasons for aid, t in monitor.tracked.items()}
            await wait_for(lambda: any(m["path"] == "/ops" for m in endpoint.received))
    [stall] = found
    assert (stall.key, stall.unit_id) == ("stalled", "xxzx") and "都没有新内容" in stall.detail
    assert stall.title.startswith("数据源停止同步：数据源（127.0.0.1:")  # an address nobody declared
    assert set(states.values()) == {(Reason.SOURCE_FAULT, Reason.BRIDGE_STALLED)}


async def test_we_mp_rss_sync_time_behind_a_bearer_token_and_a_failing_rsshub(
        tmp_path: Path, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEMPRSS_TOKEN", "tok")
    wemp = WeMpRss(now=lambda: datetime.now(TZ), token="tok")
    wemp.feeds["MP_WXS_1"] = MpFeed("青溪发布", [article(1, 1)], sync_time=NOW - timedelta(days=3))
    hub = RssHub(now=lambda: datetime.now(TZ))
    hub.fail = {f"/weibo/user/{uid}": 503 for uid in range(4)}
    hub.routes["/weibo/user/4"] = rsshub_route(4, 1)
    async for wemp_served in running(wemp):
        async for hub_served in running(hub):
            path = write(tmp_path, {
                "settings": {"store": str(tmp_path / "s.sqlite3"), "extract_workers": 0, "alerts": ALERTS,
                             "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
                "units": units(endpoint),
                "accounts": [{"id": "mp1", "unit": "u1", "platform": "微信公众号", "name": "青溪发布",
                              "source": {"kind": "rss", "url": f"{wemp_served.base}/rss/MP_WXS_1"}},
                             *({"id": f"wb{uid}", "unit": "u2", "platform": "微博", "name": f"青溪{uid}",
                                "source": {"kind": "rss", "url": f"{hub_served.base}/weibo/user/{uid}"}}
                               for uid in range(5))],
                "bridges": [{"id": "wemp", "kind": "we-mp-rss", "url": wemp_served.base, "unit": "xxzx",
                             "sync": {"url": "/api/v1/wx/mps/MP_WXS_1"},
                             "headers": {"Authorization": {"env": "WEMPRSS_TOKEN", "prefix": "Bearer "}}},
                            {"id": "hub", "kind": "rsshub", "url": hub_served.base, "unit": "xxzx"}],
            })
            async with monitoring(config.load(path)) as monitor:
                await monitor.sweep_once()
                await monitor.check_once()
                wemp_found = [k.finding for k in monitor.findings[("bridge", "bridge:wemp")].values()]
                hub_found = [k.finding for k in monitor.findings[("bridge", "bridge:hub")].values()]
                reasons = {aid: t.verdict.reasons for aid, t in monitor.tracked.items()}
                states = {aid: t.verdict.state for aid, t in monitor.tracked.items()}
    [stalled] = wemp_found
    assert stalled.key == "stalled"
    assert stalled.evidence["last_sync"].startswith((NOW - timedelta(days=3)).date().isoformat())
    [failing] = hub_found
    assert failing.key == "failing" and "4/5 个账号最近一次读取失败" in failing.detail
    assert reasons["mp1"] == (Reason.SOURCE_FAULT, Reason.BRIDGE_STALLED)
    assert {reasons[f"wb{u}"] for u in range(4)} == {(Reason.SOURCE_FAULT, Reason.BRIDGE_FAILING)}
    assert states["wb4"] is State.GREEN  # what a failing bridge still serves is judged


def bridge(**kw: Any) -> Bridge:
    base = {"id": "b", "kind": "other", "name": "数据源（127.0.0.1:1200）", "url": "http://127.0.0.1:1200/",
            "unit_id": "xxzx", "sync_url": None, "sync_field": None, "headers": (),
            "stale_sync": Duration(seconds=2 * 86400), "quiet": Duration(seconds=3 * 86400), "accounts": ()}
    return Bridge(**{**base, **kw})


def test_sync_times_as_the_bridges_write_them() -> None:
    wewe = '[{"id":"MP_WXS_1","name":"a","syncTime":1764000000,"updateTime":1},{"id":"MP_WXS_2","syncTime":0}]'
    assert read_sync(wewe, "syncTime").at == datetime.fromtimestamp(1764000000, TZ)
    wemp = '{"code":0,"message":"success","data":{"id":"MP_WXS_1","sync_time":1764000000123}}'
    assert read_sync(wemp, "data.sync_time").at == datetime.fromtimestamp(1764000000.123, TZ)
    assert read_sync('[{"syncTime":0}]', "syncTime") == Sync(at=None)  # never synced
    assert read_sync('{"data":{"last":"2026-11-25 05:35:00"}}', "data.last").at == datetime(2026, 11, 25, 5, 35,
                                                                                         tzinfo=TZ)
    assert read_sync("<html>502 Bad Gateway</html>", "syncTime").error == "同步状态接口返回的不是 JSON"
    assert "syncTime" in (read_sync('{"statusCode":401}', "syncTime").error or "")


def test_silence_is_a_stall_only_where_accounts_used_to_move() -> None:
    s = BridgeSettings()
    now = datetime(2026, 11, 25, 12, 0, tzinfo=TZ)
    hourly = [now - timedelta(days=4, hours=h) for h in range(30)]  # moved every hour, then 4 days of nothing
    assert quiet_since(hourly, now, bridge(), s) == (hourly[0], timedelta(hours=1))
    assert quiet_since(hourly, now - timedelta(days=2), bridge(), s) is None  # 2 days: not yet `quiet`
    weekly = [now - timedelta(days=4 + 7 * k) for k in range(10)]  # rare posters: 4 days is their normal
    assert quiet_since(weekly, now, bridge(), s) is None
    assert quiet_since(hourly[:2], now, bridge(), s) is None  # two accounts tell nothing
    failing = [Activity(f"a{n}", now, n < 4) for n in range(5)]
    [found] = bridge_findings(bridge(), None, failing, now, s)
    assert found.key == "failing" and found.evidence["examples"] == ["a0", "a1", "a2", "a3"]
    assert bridge_findings(bridge(), None, failing[3:], now, s) == []  # one of two failing: the account's own
    fresh = Sync(at=now - timedelta(hours=13))  # wewe-rss syncs at 05:35 and 17:35
    assert bridge_findings(bridge(sync_url="x"), fresh, [], now, s) == []
    [never] = bridge_findings(bridge(sync_url="x"), Sync(at=None), [], now, s)
    assert "从未同步" in never.detail


def test_bridges_are_declared_or_found_by_address(tmp_path: Path) -> None:
    data = {"settings": {"store": str(tmp_path / "s.sqlite3"), "alerts": {"supervisor": "gkb"}},
            "units": [{"id": "gkb", "name": "县政务公开办"}, {"id": "u1", "name": "县公安局"}],
            "accounts": [{"id": f"a{n}", "unit": "u1", "platform": "微信公众号", "name": f"号{n}",
                          "source": {"kind": "atom", "url": url}} for n, url in enumerate([
                              "http://127.0.0.1:4000/feeds/MP_WXS_1.atom", "http://127.0.0.1:4000/feeds/MP_WXS_2.rss",
                              "http://127.0.0.1:1200/wechat/mp/x", "http://127.0.0.1:8001/rss/MP_WXS_3",
                              "http://127.0.0.1:1200/hub2/weibo/user/1"])],
            "bridges": [{"id": "hub2", "kind": "rsshub", "url": "http://127.0.0.1:1200/hub2/", "unit": "u1"}]}
    inv = config.load(write(tmp_path, data))
    bridges = {b.id: b for b in inv.bridges}
    assert {t.id: t.bridge for t in inv.targets} == {"a0": "127.0.0.1:4000", "a1": "127.0.0.1:4000",
                                                     "a2": "127.0.0.1:1200", "a3": "127.0.0.1:8001", "a4": "hub2"}
    assert (bridges["127.0.0.1:4000"].kind, bridges["127.0.0.1:4000"].sync_url) == (
        "wewe-rss", "http://127.0.0.1:4000/feeds/")  # found by its paths: its /feeds/ says when it synced
    assert (bridges["127.0.0.1:8001"].kind, bridges["127.0.0.1:8001"].sync_url) == ("we-mp-rss", None)
    assert bridges["127.0.0.1:1200"].unit_id == "gkb" and bridges["hub2"].unit_id == "u1"
    assert bridges["hub2"].accounts == ("a4",)
    data["bridges"] = [{"id": "x", "kind": "wechat2rss", "url": "http://127.0.0.1:9/"},
                       {"id": "y", "kind": "other", "url": "http://127.0.0.1:9/", "sync": {"field": "t"}},
                       {"id": "z", "kind": "we-mp-rss", "url": "http://127.0.0.1:9/", "unit": "nobody"}]
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, data))
    fields = {p.field: p.message for p in err.value.problems}
    assert "unknown kind 'wechat2rss'" in fields["bridges[0].kind"] and "sync needs url:" in fields["bridges[1]"]
    assert "unknown unit 'nobody'" in fields["bridges[2].unit"]
    assert all(p.line for p in err.value.problems)
