"""New-media accounts on the columns' path: feeds served over real HTTP on 127.0.0.1, read through probe →
parser (in a worker process and inline) → evaluate; the offices' Excel lists; and a stale account alerting
its unit for real."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import xlsxwriter
from ruamel.yaml import YAML

from monitor import cli, config
from monitor.config.account_list import read_accounts, to_inventory, unregistered
from monitor.evaluate import TZ, History, Reason, advance, evaluate
from monitor.extract.mapped import value_date
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher, FetchSettings
from monitor.model import EmptyReason, State
from monitor.probe import probe
from monitor.rules import DEFAULT_RULES, NEW_MEDIA
from monitor.service import monitoring
from tests.conftest import NAMED, Endpoint, PageServer
from tests.test_alerts_delivery import wait_for

TODAY = date(2026, 11, 25)
AT = datetime(2026, 11, 25, 15, 0, tzinfo=TZ)
RULE = DEFAULT_RULES[NEW_MEDIA]


def rss(posts: list[tuple[str, str]], encoding: str = "UTF-8") -> str:
    items = "".join(f"<item><title><![CDATA[{t}]]></title><link>https://weibo.com/p/{i}</link>"
                    f"<pubDate>{d}</pubDate><description><![CDATA[<p>{t}&nbsp;</p>]]></description></item>"
                    for i, (t, d) in enumerate(posts))
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>青溪发布的微博</title>'
            f"<link>https://weibo.com/qx</link><description>Powered by RSSHub</description>{items}</channel></rss>")


ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>云岭政务</title>
<id>urn:x</id><updated>2026-11-20T09:00:00+08:00</updated>
<entry><title>云岭县开展冬季森林防火宣传</title><link href="/a/1"/><id>1</id>
<updated>2026-11-20T09:00:00+08:00</updated></entry>
<entry><title>云岭县召开三级干部会议</title><link href="/a/2"/><id>2</id>
<published>2026-11-12T00:30:00+08:00</published><updated>2026-11-12T00:30:00+08:00</updated></entry></feed>"""
JSON_FEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "白石教育", "items": [
    {"id": "1", "url": "https://www.douyin.com/video/1", "title": "白石县中小学开展防溺水教育",
     "date_published": "2026-11-24T23:30:00+08:00"},
    {"id": "2", "url": "https://www.douyin.com/video/2", "content_text": "秋季运动会", "date_published": "2026-11-01"},
]}, ensure_ascii=False)
MAPPING = {"items": "data.list", "title": "title", "url": "link", "date": "publish_time"}
JSON_API = json.dumps({"code": 0, "data": {"list": [
    {"title": "金川县政务服务中心延时服务公告", "link": "/s/1",
     "publish_time": int(datetime(2026, 11, 23, 8, 0, tzinfo=TZ).timestamp() * 1000)},
    {"title": "转发：全省天气预报", "link": "/s/2", "publish_time": "2026-11-22 07:00:00"},
]}}, ensure_ascii=False)
RSSHUB_ERROR = ("<!DOCTYPE html><html><head><title>RSSHub</title></head><body><h1>Looks like something went wrong"
                "</h1><p>Error: 微博 cookie 已过期</p></body></html>")
CAPTCHA = "<html><body><div>请输入验证码</div><img src='/captcha.jpg'></body></html>"


@pytest.fixture
async def feeds(page_server: PageServer) -> PageServer:
    s = page_server
    s.set("/rss", rss([("青溪县召开冬季安全生产会议", "Wed, 25 Nov 2026 07:00:00 +0800"),
                       ("青溪县开展消防演练", "Mon, 16 Nov 2026 10:00:00 +0800")]), content_type="application/rss+xml")
    s.set("/rss-gbk", rss([("青溪县镕基喆堃社区", "2026年11月21日")], "gb2312").encode("gb18030"),
          content_type="application/rss+xml")
    s.set("/rss-cn-dates", rss([("第一条", "2026-11-19 10:20"), ("第二条", "2026年5月31日")]),
          content_type="application/rss+xml")
    s.set("/atom", ATOM, content_type="application/atom+xml")
    s.set("/jsonfeed", JSON_FEED, content_type="application/feed+json")
    s.set("/api", JSON_API, content_type="application/json")
    s.set("/future", rss([("明年的活动预告", "Fri, 01 Jan 2027 10:00:00 +0800"),
                          ("青溪县召开会议", "Tue, 10 Nov 2026 10:00:00 +0800")]), content_type="application/rss+xml")
    s.set("/broken", rss([("青溪县召开会议", "Tue, 24 Nov 2026 10:00:00 +0800")])[:150],
          content_type="application/rss+xml")
    s.set("/empty", rss([]), content_type="application/rss+xml")
    s.set("/rsshub-error", RSSHUB_ERROR, content_type="text/html; charset=utf-8")
    s.set("/captcha", CAPTCHA, content_type="text/html; charset=utf-8")
    s.set("/error-item", rss([("Error: Access denied", "Wed, 25 Nov 2026 07:00:00 +0800")]),
          content_type="application/rss+xml")
    s.set("/api-captcha", CAPTCHA, content_type="text/html")
    huge = [(f"青溪县第{i}号工作简报", (TODAY - timedelta(days=3 + i // 10)).strftime("%a, %d %b %Y 09:00:00 +0800"))
            for i in range(3000)]
    s.set("/huge", rss(huge), content_type="application/rss+xml")
    return s


CASES = [  # path, parser, newest, reason
    ("/rss", "feed", "2026-11-25", None),  # +0800 stays on its Shanghai day (feedparser says the 24th)
    ("/rss-gbk", "feed", "2026-11-21", None),
    ("/rss-cn-dates", "feed", "2026-11-19", None),  # feedparser reads Chinese dates as 2026-11-01
    ("/atom", "feed", "2026-11-20", None),
    ("/jsonfeed", "feed", "2026-11-24", None),
    ("/api", "json:" + json.dumps(MAPPING, separators=(",", ":")), "2026-11-23", None),
    ("/future", "feed", "2026-11-10", None),
    ("/broken", "feed", None, EmptyReason.SOURCE_FAULT),
    ("/empty", "feed", None, EmptyReason.SOURCE_FAULT),
    ("/rsshub-error", "feed", None, EmptyReason.SOURCE_FAULT),
    ("/captcha", "feed", None, EmptyReason.SOURCE_FAULT),
    ("/error-item", "feed", None, EmptyReason.SOURCE_FAULT),
    ("/api-captcha", "json:" + json.dumps(MAPPING), None, EmptyReason.SOURCE_FAULT),
    ("/huge", "feed", "2026-11-22", None),
]


@pytest.mark.parametrize("workers", [0, 1])
async def test_feeds_read_over_http_into_list_results(feeds: PageServer, workers: int) -> None:
    pool = ExtractPool(workers=workers)
    got = {}
    try:
        async with Fetcher(FetchSettings(named=NAMED, per_host_interval_s=0, per_host_concurrency=4)) as fetcher:
            for path, parser, _, _ in CASES:
                obs, result = await probe(fetcher, pool, "a1", feeds.url(path), AT, parser=parser)
                assert result.ok, (path, result.detail)
                got[path] = (obs.newest_date.isoformat() if obs.newest_date else None, obs.reason, obs.items)
    finally:
        pool.close()
    assert {p: g[:2] for p, g in got.items()} == {p: (n, r) for p, _, n, r in CASES}
    assert got["/rss"][2][0].title == "青溪县召开冬季安全生产会议"
    assert "镕基喆堃" in got["/rss-gbk"][2][0].title
    assert got["/atom"][2][0].url == feeds.url("/a/1")
    assert got["/api"][2][0].url == feeds.url("/s/1")
    assert len(got["/huge"][2]) == 50  # read whole, the newest 50 kept


def test_post_dates_in_shanghai() -> None:
    assert value_date("Wed, 25 Nov 2026 07:00:00 +0800", TODAY) == date(2026, 11, 25)
    assert value_date("2026-11-24T23:30:00Z", TODAY) == date(2026, 11, 25)
    assert value_date("2026-11-24 23:30:00", TODAY) == date(2026, 11, 24)  # naive is Shanghai time
    assert value_date("2023年5月31日", TODAY) == date(2023, 5, 31)
    assert value_date(1764000000, TODAY) == value_date(1764000000000, TODAY) == date(2025, 11, 25)
    assert value_date("", TODAY) is None and value_date(None, TODAY) is None


def observed(*results: tuple[date | None, EmptyReason | None]) -> History:
    from monitor.model import Observation

    history = History()
    for n, (newest, reason) in enumerate(results):
        history = advance(history, Observation("a1", AT + timedelta(seconds=n), 1.0, 200, newest_date=newest,
                                               reason=reason))
    return history


def test_account_verdicts_follow_the_two_week_rule_and_source_faults_are_unknown() -> None:
    assert evaluate(RULE, observed((date(2026, 11, 20), None)), AT).state is State.GREEN
    assert evaluate(RULE, observed((date(2026, 11, 12), None)), AT).state is State.YELLOW
    red = evaluate(RULE, observed((date(2026, 11, 9), None)), AT)
    assert red.state is State.RED and "政务新媒体账号 2 周内须更新" in red.detail
    fault = evaluate(RULE, observed((date(2026, 11, 1), None), (None, EmptyReason.SOURCE_FAULT)), AT)
    assert (fault.state, fault.reasons) == (State.UNKNOWN, (Reason.SOURCE_FAULT,))
    assert fault.detail.startswith("账号数据源异常") and fault.newest_date == date(2026, 11, 1)
    assert evaluate(RULE, observed((None, EmptyReason.SOURCE_FAULT)), AT).state is State.UNKNOWN


def account_inventory(tmp: Path, accounts: list[dict], **extra: object) -> dict:
    return {"settings": {"store": str(tmp / "s.sqlite3")},
            "units": [{"id": "gaj", "name": "县公安局"}, {"id": "mszf", "name": "麦市镇人民政府"}],
            "accounts": accounts, **extra}


def test_accounts_in_the_inventory_are_validated_with_lines(tmp_path: Path) -> None:
    good = {"id": "a1", "unit": "gaj", "platform": "微信", "name": "通城公安",
            "source": {"kind": "json", "url": "http://127.0.0.1:9/api", "mapping": MAPPING}, "interval": "2h"}
    closed = {"id": "a2", "unit": "gaj", "platform": "微博", "name": "通城平安", "status": "已关停",
              "source": {"kind": "rss", "url": "http://127.0.0.1:9/rss"}}
    listed = {"id": "a3", "unit": "mszf", "platform": "抖音", "name": "麦市微讯"}
    path = tmp_path / "inv.yaml"
    YAML().dump(account_inventory(tmp_path, [good, closed, listed]), path)
    inv = config.load(path)
    [target] = inv.targets
    assert (target.kind, target.name, target.parser.startswith("json:"), target.unit_id) == (
        "account", "通城公安（微信公众号）", True, "gaj")
    assert target.rule.category == NEW_MEDIA and target.rule.interval.seconds == 7200
    assert len(inv.model.accounts) == 3
    bad = [{"id": "b1", "unit": "nope", "platform": "微博", "name": "x"},
           {"id": "b2", "unit": "gaj", "platform": "火星", "name": "y", "status": "注销"},
           {"id": "b3", "unit": "gaj", "platform": "微博", "name": "z", "source": {"kind": "json", "url": "ftp://x"}}]
    YAML().dump(account_inventory(tmp_path, bad), path)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    text = str(err.value)
    assert "accounts[0].unit: unknown unit 'nope'" in text and "accounts[1].platform" in text
    assert "accounts[1].status" in text and "accounts[2].source.url" in text
    assert all(p.line and p.line > 1 for p in err.value.problems)


def write_sheet(path: Path, rows: list[list[object]], merge: tuple[int, int, str] | None = None) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("新媒体")
    sheet.write_row(0, 0, ["通城县政务新媒体账号清单"])
    sheet.write_row(1, 0, ["序号", "单位名称", "新媒体账号名称", "类型"])
    for r, row in enumerate(rows, start=2):
        sheet.write_row(r, 0, row)
    if merge:
        sheet.merge_range(merge[0], 1, merge[1], 1, merge[2])
    book.close()
    return path


SEED_ROWS = [[1, "县公安局", "通城公安", "抖音"], [2, "", "通城公安", "微信"], [3, "", "通城平安", "微博"],
             [4, "县公安局交警大队", "通城交警", "微信"], [5, "麦市镇人民政府", "麦市微讯息", "微信"]]


def test_excel_lists_import_and_bad_rows_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = write_sheet(tmp_path / "清单.xlsx", SEED_ROWS, merge=(2, 4, "县公安局"))
    rows = read_accounts(sheet)
    assert [(r.row, r.unit, r.name, r.platform) for r in rows][:3] == [
        (3, "县公安局", "通城公安", "抖音"), (4, "县公安局", "通城公安", "微信公众号"),
        (5, "县公安局", "通城平安", "微博")]
    data = to_inventory(rows)
    assert len(data["units"]) == 3 and len(data["accounts"]) == 5
    assert cli.main(["import-accounts", str(sheet), "-o", str(tmp_path / "acc.yaml")]) == 0
    imported = YAML(typ="safe").load((tmp_path / "acc.yaml").read_text(encoding="utf-8"))
    config.build(imported, "acc.yaml", lambda loc: None)  # valid inventory as it stands
    bad = write_sheet(tmp_path / "坏.xlsx", [[1, "县公安局", "", "抖音"], [2, "", "通城平安", ""], [3, "", "", ""],
                                             [4, "县教育局", "通城教育", "微信"]])
    assert cli.main(["import-accounts", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: 新媒体账号名称: 单元格为空" in err and f"{bad}:4: 类型" in err


def test_unregistered_accounts_are_reported_per_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registered = to_inventory(read_accounts(write_sheet(tmp_path / "备案.xlsx", SEED_ROWS[:3])))
    registered["units"] = [{"id": u["id"], "name": u["name"]} for u in registered["units"]]
    path = tmp_path / "inv.yaml"
    YAML().dump({"settings": {"store": str(tmp_path / "s.sqlite3")}, **registered}, path)
    found = write_sheet(tmp_path / "发现.xlsx", [[1, "县公安局", "通城 公安", "微信"],
                                                 [2, "县公安局", "通城110", "快手"],
                                                 [3, "麦市镇人民政府", "麦市微讯", "微信"]])
    findings = unregistered(config.load(path).model, read_accounts(found))
    assert [(f.row.name, f.unit_id is not None) for f in findings] == [("通城110", True), ("麦市微讯", False)]
    assert findings[0].message.startswith("未备案：县公安局的快手账号「通城110」")
    assert cli.main(["check-accounts", "--config", str(path), "--discovered", str(found)]) == 1
    out = capsys.readouterr().out
    assert "通城110" in out and "未备案 2 个" in out


async def test_stale_account_turns_yellow_then_red_and_alerts_its_unit(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    now = datetime.now(TZ).strftime("%a, %d %b %Y %H:%M:%S +0800")
    page_server.set("/weibo/qx", rss([("青溪县召开冬季安全生产会议", now)]), content_type="application/rss+xml")
    page_server.set("/wechat/broken", RSSHUB_ERROR)
    data = {
        "settings": {"store": str(tmp_path / "s.sqlite3"), "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                     "alerts": {"group_window": "0s", "repeat_at": None, "send_timeout": "2s", "max_backoff": "1s",
                                "escalate_after": None}},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室",
                   "receivers": [{"id": "group", "url": endpoint.url("json", "u1")}]},
                  {"id": "u2", "name": "县公安局", "receivers": [{"id": "group", "url": endpoint.url("json", "u2")}]}],
        "accounts": [
            {"id": "qx", "unit": "u1", "platform": "微博", "name": "青溪发布", "deadline": "3s", "lead": "1s",
             "interval": "1h", "source": {"kind": "rss", "url": page_server.url("/weibo/qx")}},
            {"id": "ga", "unit": "u2", "platform": "微信公众号", "name": "通城公安", "deadline": "3s", "lead": "1s",
             "interval": "1h", "source": {"kind": "rss", "url": page_server.url("/wechat/broken")}},
        ],
    }
    path = tmp_path / "inv.yaml"
    YAML().dump(data, path)
    async with monitoring(config.load(path)) as monitor:
        monitor.start()
        await wait_for(lambda: len(endpoint.messages("u1")) == 2)
        assert monitor.tracked["ga"].verdict.reasons == (Reason.SOURCE_FAULT,)
        assert monitor.tracked["qx"].verdict.state is State.RED
    titles = [m["body"]["title"] for m in endpoint.messages("u1")]
    assert "黄色预警" in titles[0] and "红色预警" in titles[1]
    body = endpoint.messages("u1")[1]["body"]["message"]
    assert "单位：青溪县人民政府办公室" in body and "青溪发布（微博）" in body and "政务新媒体" in body
    assert endpoint.messages("u2") == []  # a broken bridge is unknown: never red, never alerted


async def test_demo_fleet_serves_accounts_in_every_state(tmp_path: Path) -> None:
    from monitor.demo.fleet import Fleet, demo_accounts

    today = datetime.now(TZ).date()
    async with Fleet([], today, accounts=demo_accounts(today)) as fleet:
        path = tmp_path / "inv.yaml"
        fleet.write_inventory(path, store=str(tmp_path / "s.sqlite3"), extract_workers=0,
                              fetch={"timeout": "5s", "per_host_interval": "0s"})
        async with monitoring(config.load(path)) as monitor:
            await monitor.sweep_once()
            states = {t.target.name: t.verdict.state for t in monitor.tracked.values()}
    assert states == {"青溪发布（微博）": State.GREEN, "云岭政务（今日头条）": State.YELLOW,
                      "白石教育（抖音）": State.RED, "金川发布（微信公众号）": State.GREEN,
                      "青溪县人民政府（微信公众号）": State.UNKNOWN}


async def test_unregistered_accounts_reach_their_unit_once(tmp_path: Path, endpoint: Endpoint) -> None:
    path = tmp_path / "inv.yaml"
    YAML().dump({
        "settings": {"store": str(tmp_path / "s.sqlite3"), "alerts": {"group_window": "0s", "supervisor": "gkb"}},
        "units": [{"id": "gaj", "name": "县公安局", "receivers": [{"id": "group", "url": endpoint.url("json", "gaj")}]},
                  {"id": "gkb", "name": "县政务公开办",
                   "receivers": [{"id": "office", "url": endpoint.url("json", "gkb")}]}],
        "accounts": [{"id": "a1", "unit": "gaj", "platform": "微信公众号", "name": "通城公安"}],
    }, path)
    found = write_sheet(tmp_path / "发现.xlsx", [[1, "县公安局", "通城公安", "微信"],
                                                 [2, "县公安局", "通城110", "快手"],
                                                 [3, "麦市镇人民政府", "麦市微讯", "微信"]])
    args = ["check-accounts", "--config", str(path), "--discovered", str(found), "--notify"]
    assert await asyncio.to_thread(cli.main, args) == 1
    async with monitoring(config.load(path)):
        await wait_for(lambda: endpoint.messages("gaj") and endpoint.messages("gkb"))
    [unit] = endpoint.messages("gaj")
    assert unit["body"]["title"] == "【政府网站监测】未备案账号：发现未备案的政务新媒体账号"
    assert "平台：快手" in unit["body"]["message"] and "账号：通城110" in unit["body"]["message"]
    [office] = endpoint.messages("gkb")  # a unit missing from the inventory: its finding goes to the office
    assert "账号：麦市微讯" in office["body"]["message"]
    assert await asyncio.to_thread(cli.main, args) == 1  # checked again: nobody is told twice
    async with monitoring(config.load(path)) as monitor:
        assert await monitor.store.outbox_stats() == {}
    assert len(endpoint.received) == 2


def test_platforms_offices_register_and_the_words_they_write(tmp_path: Path) -> None:
    from monitor.config import canonical_platform
    from monitor.extract.accounts.matrix import read_matrix

    accounts = [{"id": f"a{n}", "unit": "gaj", "platform": p, "name": f"通城{n}"}
                for n, p in enumerate(["B站", "哔哩哔哩", "小红书", "快手号", "微信视频号", "学习强国", "其他"])]
    path = tmp_path / "inv.yaml"
    YAML().dump(account_inventory(tmp_path, accounts), path)
    assert [a.platform for a in config.load(path).model.accounts] == [
        "哔哩哔哩", "哔哩哔哩", "小红书", "快手", "视频号", "学习强国", "其他"]
    assert canonical_platform(" 百度百家号 ") == "百家号" and canonical_platform("脸书") == "其他"
    page = ("<html><body><ul><li><img src='/b.png'><p>B站：通城公安</p></li>"
            "<li><img src='/x.png'><p>小红书 通城文旅</p></li></ul></body></html>")
    assert [(x.platform, x.name) for x in read_matrix(page)] == [("哔哩哔哩", "通城公安"), ("小红书", "通城文旅")]
