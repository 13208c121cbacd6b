"""The account checks beyond freshness, run for real: feeds with reposts and weather posts, service menus,
interaction attestations and 新媒体矩阵 pages served on 127.0.0.1, through probes, parser workers, the check
runner, the findings path (store, outbox, alerts) and the accounts page."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from ruamel.yaml import YAML

from monitor import config
from monitor.account_source import source_parser
from monitor.checks.accounts import interaction_findings
from monitor.demo.fleet import Fleet, demo_accounts
from monitor.evaluate import TZ
from monitor.extract.accounts.matrix import read_matrix
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher, FetchSettings
from monitor.findings import Status
from monitor.model import State
from monitor.probe import probe
from monitor.service import monitoring
from monitor.web.app import serve
from tests.conftest import NAMED, Endpoint, PageServer
from tests.test_alerts_delivery import wait_for

NOW = datetime.now(TZ)
TODAY = NOW.date()


def rfc822(days_ago: int, hour: int = 9) -> str:
    return (NOW - timedelta(days=days_ago)).replace(hour=hour).strftime("%a, %d %b %Y %H:%M:%S +0800")


def weibo_item(n: int, title: str, body: str, days_ago: int) -> str:
    return (f"<item><title><![CDATA[{title}]]></title><description><![CDATA[{body}]]></description>"
            f"<pubDate>{rfc822(days_ago)}</pubDate><guid>https://weibo.com/5678/{n}</guid>"
            f"<link>https://weibo.com/5678/{n}</link></item>")


def weibo_feed(items: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title><![CDATA[青溪发布的微博]]></title><link>https://weibo.com/5678</link>"
            "<description>青溪发布的微博 - Powered by RSSHub</description>" + "".join(items) + "</channel></rss>")


def weibo_repost(n: int, days_ago: int) -> str:
    """A repost as RSSHub renders Weibo: the other account quoted in a blockquote, `` - 转发 @…`` in the title."""
    text = f"青溪县气象台{n}日天气预报：阴转小雨，气温6～12℃，请注意添衣保暖"
    return weibo_item(n, f"转发微博 - 转发 @青溪气象: {text}",
                      f'转发微博<br><blockquote> - 转发 <a href="https://weibo.com/1234" target="_blank">@青溪气象</a>:'
                      f"&ensp;{text}</blockquote>", days_ago)


def weibo_original(n: int, days_ago: int) -> str:
    title = f"青溪县召开第{n}次安全生产工作会议，部署冬季消防检查"
    return weibo_item(n, title, f"<p>{title}</p><img src='https://wx1.sinaimg.cn/large/{n}.jpg'>", days_ago)


MIXED_WEIBO = weibo_feed([
    weibo_item(1, "青溪县政务服务中心延时服务 //@青溪政务服务:周六照常办理", "<p>周六照常办理</p>", 0),
    weibo_original(2, 1),
    weibo_item(3, "今日青溪：晴，气温3～15℃", "<p>来源： 青溪县气象台</p>", 1),  # the station's own text, not reposted
    weibo_repost(4, 2),
])
WECHAT_ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>青溪县人民政府</title>
<id>urn:wewe:MP_WXS_1</id><updated>2026-11-20T09:00:00+08:00</updated>
<entry><title>青溪县2026年冬季征兵公告</title><link href="https://mp.weixin.qq.com/s/a1"/><id>a1</id>
<updated>{d0}</updated><content type="html"><![CDATA[<div id="meta_content"><span id="copyright_logo"
 class="rich_media_meta meta_original_tag">原创</span></div><p>根据县征兵工作领导小组安排……</p>]]></content></entry>
<entry><title>权威发布｜全国冬季安全生产电视电话会议召开</title><link href="https://mp.weixin.qq.com/s/a2"/><id>a2</id>
<updated>{d1}</updated><content type="html"><![CDATA[<section class="original_primary_card">以下文章来源于新华社
</section><p>来源：新华社</p><p>会议强调……</p>]]></content></entry>
<entry><title>青溪县召开县委常委会会议</title><link href="https://mp.weixin.qq.com/s/a3"/><id>a3</id>
<updated>{d2}</updated><content type="html"><![CDATA[<p>会议传达学习……</p>]]></content></entry>
</feed>"""
WECHAT = WECHAT_ATOM.format(**{f"d{n}": (NOW - timedelta(days=n)).isoformat() for n in range(3)})
WEIBO_API = json.dumps({"ok": 1, "data": {"list": [
    {"text_raw": "青溪县开展冬季森林防火宣传", "mblogid": "K1", "created_at": rfc822(0)},
    {"text_raw": "//@中国气象局:全国大部降温", "mblogid": "K2", "created_at": rfc822(1),
     "retweeted_status": {"id": 4607741009594608, "text_raw": "全国大部地区将迎来降温降雨"}},
]}}, ensure_ascii=False)
MS = int(NOW.timestamp() * 1000)
MP_API = json.dumps({"code": 0, "data": {"list": [
    {"title": "青溪县医保政策解读", "link": "/s/1", "publish_time": MS, "is_original": 1},
    {"title": "一图读懂中央经济工作会议", "link": "/s/2", "publish_time": MS, "is_original": 0},
    {"title": "青溪县秋季运动会开幕", "link": "/s/3", "publish_time": MS},
]}}, ensure_ascii=False)
JSON_FEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "青溪政务", "items": [
    {"id": "1", "url": "https://www.toutiao.com/a/1", "title": "青溪县农产品展销会开幕", "tags": ["原创"],
     "date_published": NOW.isoformat()},
    {"id": "2", "url": "https://www.toutiao.com/a/2", "title": "全国各地天气预报", "tags": ["转载"],
     "date_published": NOW.isoformat()},
]}, ensure_ascii=False)
WEIBO_MAPPING = {"items": "data.list", "title": "text_raw", "url": "mblogid", "date": "created_at",
                 "repost": "retweeted_status"}
MP_MAPPING = {"items": "data.list", "title": "title", "url": "link", "date": "publish_time", "original": "is_original"}


async def test_feeds_mark_each_post_original_or_repost_and_off_duty(page_server: PageServer) -> None:
    page_server.set("/weibo/user/5678", MIXED_WEIBO, content_type="application/rss+xml")
    page_server.set("/feeds/MP_WXS_1.atom", WECHAT, content_type="application/atom+xml")
    page_server.set("/api/weibo", WEIBO_API, content_type="application/json")
    page_server.set("/api/mp", MP_API, content_type="application/json")
    page_server.set("/toutiao.json", JSON_FEED, content_type="application/feed+json")
    cases = {  # path → parser, as the inventory builds it from the account's platform
        "/weibo/user/5678": source_parser("rss", None, None, "微博"),
        "/feeds/MP_WXS_1.atom": source_parser("atom", None, None, "微信公众号"),
        "/api/weibo": source_parser("json", WEIBO_MAPPING, None, "微博"),
        "/api/mp": source_parser("json", MP_MAPPING, ("秋季运动会",), "微信公众号"),  # an office's own keywords
        "/toutiao.json": source_parser("jsonfeed", None, None, "今日头条"),
    }
    at = NOW + timedelta(minutes=10)  # fetched a while after the newest post (not the instant it was posted)
    pool = ExtractPool(workers=1)  # the flags cross the worker's pipe
    got: dict[str, list[tuple[bool | None, bool | None]]] = {}
    try:
        async with Fetcher(FetchSettings(named=NAMED, per_host_interval_s=0, per_host_concurrency=4)) as fetcher:
            for path, parser in cases.items():
                obs, result = await probe(fetcher, pool, "a1", page_server.url(path), at, parser=parser)
                assert result.ok and obs.newest_date == TODAY, path
                got[path] = [(i.repost, i.off_duty) for i in obs.items]
    finally:
        pool.close()
    # Weibo feeds show every repost inline: an unmarked post is original; its title is the post itself
    assert got["/weibo/user/5678"] == [(True, False), (False, False), (False, True), (True, True)]
    assert got["/feeds/MP_WXS_1.atom"] == [(False, False), (True, True), (None, False)]
    assert got["/api/weibo"] == [(False, False), (True, False)]
    # WeChat headlines without the articles' text: off duty only where a keyword shows (天气预报 is not one here)
    assert got["/api/mp"] == [(False, None), (True, None), (None, True)]
    assert got["/toutiao.json"] == [(False, None), (True, True)]


def share_inventory(tmp: Path, feed_url: str, endpoint: Endpoint | None = None, **accounts: Any) -> Path:
    data = {
        "settings": {"store": str(tmp / "s.sqlite3"), "extract_workers": 1,
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"},
                     "alerts": {"group_window": "0s", "repeat_at": None, "escalate_after": None,
                                "send_timeout": "2s", "max_backoff": "1s"},
                     "accounts": accounts},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室",
                   "receivers": [{"id": "group", "url": endpoint.url("json", "u1")}] if endpoint else []}],
        "accounts": [{"id": "qx", "unit": "u1", "platform": "微博", "name": "青溪发布",
                      "source": {"kind": "rss", "url": feed_url}}],
    }
    path = tmp / "inv.yaml"
    YAML().dump(data, path)
    return path


async def test_repost_and_weather_shares_reach_the_unit_then_go_away(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint) -> None:
    reposting = weibo_feed([weibo_repost(n, n // 3) if n % 5 < 3 else weibo_original(n, n // 3) for n in range(24)])
    page_server.set("/weibo/qx", reposting, content_type="application/rss+xml")
    path = share_inventory(tmp_path, page_server.url("/weibo/qx"), endpoint)
    async with monitoring(config.load(path)) as monitor:
        await monitor.sweep_once()
        found = {k.finding.key: k.finding for k in monitor.findings[("repost_share", "qx")].values()}
        assert set(found) == {"repost", "off_duty"}
        repost = found["repost"]
        assert (repost.severity, repost.unit_id) == (State.YELLOW, "u1")
        assert repost.title == "转发他人内容占比过高：青溪发布（微博）"
        # the last 20 of 24 posts: 12 reposted weather forecasts (n % 5 < 3 over n = 0..19)
        assert (repost.evidence["posts"], repost.evidence["reposts"], repost.evidence["off_duty"]) == (20, 12, 12)
        assert "最近 20 条发布中 12 条转发其他账号的内容（60%）" in repost.detail and "天气预报" in repost.detail
        assert "12 条是天气预报" in found["off_duty"].detail
        await wait_for(lambda: len(endpoint.messages("u1")) == 1)  # both found at once: one message
        stored = await monitor.store.findings_list(check="repost_share", subject="qx")
        assert {f["key"] for f in stored} == {"repost", "off_duty"}

        page_server.set("/weibo/qx", weibo_feed([weibo_original(n, n // 3) for n in range(20)]),
                        content_type="application/rss+xml")
        await monitor.sweep_once()
        assert {k.status for k in monitor.findings[("repost_share", "qx")].values()} == {Status.GONE}
    [message] = [m["body"] for m in endpoint.messages("u1")]  # gone findings are not announced
    assert "青溪县人民政府办公室" in message["title"]
    assert "政务新媒体：转发他人内容占比过高：青溪发布（微博）" in message["message"]  # placed with its unit's accounts
    assert "与本部门职能无关的内容占比过高：青溪发布（微博）" in message["message"]


async def test_share_threshold_window_and_keywords_are_configurable(tmp_path: Path, page_server: PageServer) -> None:
    feed = weibo_feed([weibo_repost(n, 0) if n < 6 else weibo_original(n, 0) for n in range(10)])
    page_server.set("/weibo/qx", feed, content_type="application/rss+xml")
    path = share_inventory(tmp_path, page_server.url("/weibo/qx"), repost_share=0.7, posts_window=10,
                           off_duty_keywords=["安全生产"])
    async with monitoring(config.load(path)) as monitor:
        await monitor.sweep_once()
        found = {k.finding.key: k.finding for k in monitor.findings.get(("repost_share", "qx"), {}).values()}
    # 6 of 10 repost (60% ≤ 70%: no finding); 4 of 10 are about 安全生产 (40% ≤ 50%); weather is not a keyword now
    assert found == {}
    path = share_inventory(tmp_path, page_server.url("/weibo/qx"), repost_share=0.5, posts_window=10,
                           off_duty_share=0.3, off_duty_keywords=["安全生产"])
    async with monitoring(config.load(path)) as monitor:
        await monitor.sweep_once()
        found = {k.finding.key: k.finding for k in monitor.findings[("repost_share", "qx")].values()}
    assert found["off_duty"].evidence["off_duty"] == 4 and found["repost"].evidence["reposts"] == 6
    assert "安全生产" in found["off_duty"].detail


def test_interaction_attestations_fresh_stale_absent_and_missing() -> None:
    def account(interaction: dict | None) -> config.AccountModel:
        return config.AccountModel(id="a1", unit="u1", platform="微信", name="青溪发布", interaction=interaction)

    valid = config.AccountSettings().attestation_valid
    at = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
    fresh = account({"present": True, "attested_at": date(2026, 6, 1), "attested_by": "张三"})
    assert interaction_findings(fresh, valid, at) == []
    [stale] = interaction_findings(account({"present": True, "attested_at": date(2026, 5, 1),
                                            "attested_by": "张三"}), valid, at)
    assert (stale.severity, stale.key) == (State.YELLOW, "attestation")
    assert stale.title == "互动功能核验已过期：青溪发布（微信公众号）"
    assert "张三于2026-05-01核验" in stale.detail and "2026-10-28 过期" in stale.detail
    # the attestation made on 2026-05-30 counts until the end of 2026-11-25 (180 days)
    assert interaction_findings(account({"present": True, "attested_at": date(2026, 5, 30),
                                         "attested_by": "张三"}), valid, at) == []
    [absent] = interaction_findings(account({"present": False, "attested_at": date(2026, 11, 1),
                                             "attested_by": "李四"}), valid, at)
    assert (absent.severity, absent.key) == (State.RED, "interaction") and "单项否决" in absent.title
    assert interaction_findings(account(None), valid, at) == []  # nothing attested: shown as 未核验, no alert


@pytest.fixture
async def flaky() -> Any:
    """A link that fails once (503), then works: only a retry sees it alive."""
    gets: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        if request.method != "GET":
            return web.Response(status=405)
        gets.append(request.path)
        return web.Response(status=503 if len(gets) == 1 else 200, text="<html><body>公积金查询</body></html>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/gjj.html", gets
    await runner.cleanup()


def menu_inventory(tmp: Path, page_server: PageServer, endpoint: Endpoint, flaky_url: str) -> dict:
    dead_port = "http://127.0.0.1:9"  # nothing listens on the discard port: connection refused
    return {
        "settings": {"store": str(tmp / "s.sqlite3"), "extract_workers": 0,
                     "fetch": {"timeout": "3s", "per_host_interval": "0s"},
                     "links": {"retry_after": "1s", "timeout": "3s"},
                     "alerts": {"group_window": "0s", "repeat_at": None, "escalate_after": None,
                                "send_timeout": "2s", "max_backoff": "1s"}},
        "units": [{"id": "u1", "name": "儋州市生态环境局",
                   "receivers": [{"id": "group", "url": endpoint.url("json", "u1")}]},
                  {"id": "u2", "name": "儋州市教育局"}],
        "accounts": [
            {"id": "dead", "unit": "u1", "platform": "微信公众号", "name": "儋州市生态环境局",
             "service_menu": [page_server.url("/menu/gone1.html"), page_server.url("/menu/gone2.html"),
                              f"{dead_port}/menu/3.html"],
             "interaction": {"present": False, "attested_at": TODAY.isoformat(), "attested_by": "市政务公开办"}},
            {"id": "part", "unit": "u2", "platform": "微信公众号", "name": "儋州教育",
             "service_menu": [page_server.url("/menu/ok1.html"), page_server.url("/menu/gone3.html")],
             "interaction": {"present": True, "attested_at": (TODAY - timedelta(days=200)).isoformat(),
                             "attested_by": "市政务公开办"}},
            {"id": "good", "unit": "u2", "platform": "微信公众号", "name": "儋州发布",
             "service_menu": [page_server.url("/menu/ok1.html"), page_server.url("/menu/ok2.html"), flaky_url],
             "interaction": {"present": True, "attested_at": TODAY.isoformat(), "attested_by": "市政务公开办"}},
            {"id": "closed", "unit": "u2", "platform": "微博", "name": "儋州旧号", "status": "已关停",
             "service_menu": [page_server.url("/menu/gone4.html")]},
        ],
    }


async def test_service_menus_dead_partly_dead_working_and_interaction_reach_their_units(
        tmp_path: Path, page_server: PageServer, endpoint: Endpoint, flaky: tuple[str, list[str]]) -> None:
    for name in ("ok1", "ok2"):
        page_server.set(f"/menu/{name}.html", "<html><body><h1>办事指南</h1><p>社保查询……</p></body></html>")
    path = tmp_path / "inv.yaml"
    YAML().dump(menu_inventory(tmp_path, page_server, endpoint, flaky[0]), path)
    async with monitoring(config.load(path)) as monitor:
        await monitor.check_once()
        menu = {s: [k.finding for k in monitor.findings.get(("service_menu", s), {}).values()]
                for s in ("dead", "part", "good", "closed")}
        interaction = {s: [k.finding for k in monitor.findings.get(("interaction", s), {}).values()]
                       for s in ("dead", "part", "good")}
        await wait_for(lambda: len(endpoint.messages("u1")) >= 2)
    [dead] = menu["dead"]
    assert (dead.severity, dead.title, dead.unit_id) == (
        State.RED, "服务菜单链接全部失效（3 个）：儋州市生态环境局（微信公众号）", "u1")
    assert "gone1.html（HTTP 404）" in dead.detail and "127.0.0.1:9/menu/3.html（无法连接）" in dead.detail
    [part] = menu["part"]
    assert (part.severity, part.title) == (State.YELLOW, "服务菜单部分链接失效（1/2 个）：儋州教育（微信公众号）")
    assert [d["url"] for d in part.evidence["dead"]] == [page_server.url("/menu/gone3.html")]
    assert menu["good"] == [] and menu["closed"] == []
    # HEAD is refused by these servers (405), so each link was asked with GET. A 404 is dead at once; a link
    # failing in a way that may pass (503, connection refused) is asked again before it counts as dead.
    assert page_server.hits["/menu/gone1.html"] == 1 and page_server.hits["/menu/ok1.html"] == 1
    assert flaky[1] == ["/gjj.html", "/gjj.html"]
    assert "/menu/gone4.html" not in page_server.hits  # a closed account is not checked
    assert [f.severity for f in interaction["dead"]] == [State.RED]
    assert [f.title for f in interaction["part"]] == ["互动功能核验已过期：儋州教育（微信公众号）"]
    assert interaction["good"] == []
    texts = [m["body"]["message"] for m in endpoint.messages("u1")]
    assert any("服务菜单链接全部失效" in t for t in texts) and any("未提供有效互动功能" in t for t in texts)


GRID = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>新媒体矩阵_青溪县人民政府</title></head><body>
<div class="top">今天是2026年11月25日 <a href="#">微信</a> <a href="#">微博</a> <a href="#">无障碍</a></div>
<div class="location">当前位置：首页 &gt; 新媒体矩阵</div>
<p class="intro">青溪县政务新媒体矩阵由“青溪发布”微信公众号、官方微博和各部门账号组成，欢迎扫码关注。</p>
<ul class="xmt-list">
 <li><img src="/images/qr-wx.png" alt="青溪发布二维码"><p class="name">青溪发布</p><p class="type">微信公众号</p></li>
 <li><img src="/images/qr-wb.png"><p>官方微博：@青溪发布</p></li>
 <li><img src="/images/qr-dy.png" alt="扫码关注青溪政务抖音号"></li>
 <li><img src="/images/qr-tt.png"><div class="cap">青溪头条 <em>微信公众号</em></div></li>
</ul>
<div class="footer">主办：青溪县人民政府办公室 电话：0571-88888888</div></body></html>"""
TABLE = """<html><head><meta charset="gb2312"><title>云岭县政务新媒体矩阵</title></head><body>
<table class="list"><tr><td colspan="4">云岭县政务新媒体账号一览表</td></tr>
<tr><th>序号</th><th>单位</th><th>平台</th><th>账号名称</th></tr>
<tr><td>1</td><td rowspan="2">县公安局</td><td><img src="/i/wx.png" alt="微信"></td><td>平安云岭</td></tr>
<tr><td>2</td><td>抖音</td><td>云岭公安</td></tr>
<tr><td>3</td><td>县教育局</td><td>微信公众号</td><td>云岭教育</td></tr>
<tr><td>4</td><td>县政府办</td><td>网站</td><td>云岭县人民政府网</td></tr>
</table></body></html>"""


def test_matrix_pages_in_two_templates() -> None:
    assert [(x.platform, x.name) for x in read_matrix(GRID)] == [
        ("微信公众号", "青溪发布"), ("微博", "青溪发布"), ("抖音", "青溪政务"), ("微信公众号", "青溪头条")]
    assert [(x.unit, x.platform, x.name, x.platform_text) for x in read_matrix(TABLE)] == [
        ("县公安局", "微信公众号", "平安云岭", "微信"), ("县公安局", "抖音", "云岭公安", "抖音"),
        ("县教育局", "微信公众号", "云岭教育", "微信公众号")]
    assert read_matrix("<html><body><p>页面不存在</p></body></html>") == []


async def test_matrix_pages_report_unregistered_accounts_to_their_units(
        tmp_path: Path, page_server: PageServer) -> None:
    page_server.set("/xmt/", GRID)
    page_server.set("/col/xmt.html", TABLE.encode("gb18030"), content_type="text/html")
    data = {
        "settings": {"store": str(tmp_path / "s.sqlite3"), "extract_workers": 0,
                     "fetch": {"timeout": "3s", "per_host_interval": "0s"}, "checks": ["matrix"]},
        "units": [{"id": "qx", "name": "青溪县人民政府办公室"}, {"id": "yl", "name": "云岭县人民政府办公室"},
                  {"id": "gaj", "name": "县公安局"}],
        "sites": [{"id": "s1", "name": "青溪县人民政府", "unit": "qx", "homepage": page_server.url("/"),
                   "check_homepage": False, "matrix_page": page_server.url("/xmt/")},
                  {"id": "s2", "name": "云岭县人民政府", "unit": "yl", "homepage": page_server.url("/yl/"),
                   "check_homepage": False, "matrix_page": page_server.url("/col/xmt.html")}],
        "accounts": [{"id": "a1", "unit": "qx", "platform": "微信", "name": "青溪发布"},
                     {"id": "a2", "unit": "qx", "platform": "微博", "name": "青溪 发布"},
                     {"id": "a3", "unit": "qx", "platform": "抖音", "name": "青溪政务", "status": "未备案"},
                     {"id": "a4", "unit": "gaj", "platform": "微信公众号", "name": "平安云岭"}],
    }
    path = tmp_path / "inv.yaml"
    YAML().dump(data, path)
    async with monitoring(config.load(path)) as monitor:
        await monitor.check_once()
        s1 = sorted((k.finding for k in monitor.findings[("unregistered", "s1")].values()), key=lambda f: f.title)
        s2 = sorted((k.finding for k in monitor.findings[("unregistered", "s2")].values()), key=lambda f: f.title)
        page_server.set("/xmt/", "oops", status=503)
        await monitor.check_once()  # the page failing keeps what is known
        still = {k.status for k in monitor.findings[("unregistered", "s1")].values()}
    assert [(f.title, f.unit_id, f.severity) for f in s1] == [
        ("未备案账号：微信公众号 青溪头条", "qx", State.RED), ("未备案账号：抖音 青溪政务", "qx", State.RED)]
    assert "新媒体矩阵页" in s1[0].detail and s1[0].url == page_server.url("/xmt/")
    # the table names each account's unit: the police's unregistered 抖音 goes to the police, the school's
    # account to the site's unit (县教育局 is not in the inventory)
    assert [(f.title, f.unit_id) for f in s2] == [
        ("未备案账号：微信公众号 云岭教育", "yl"), ("未备案账号：抖音 云岭公安", "gaj")]
    assert still == {Status.OPEN}


async def test_demo_accounts_show_on_the_accounts_page(tmp_path: Path) -> None:
    async with Fleet([], TODAY, accounts=demo_accounts(TODAY)) as fleet:
        path = tmp_path / "inv.yaml"
        fleet.write_inventory(path, store=str(tmp_path / "s.sqlite3"), extract_workers=0,
                              fetch={"timeout": "5s", "per_host_interval": "0s"}, links={"retry_after": "1s"})
        async with monitoring(config.load(path)) as monitor:
            await monitor.sweep_once()
            await monitor.check_once()
            runner = await serve(monitor, "127.0.0.1", 0)
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            try:
                async with ClientSession() as http:
                    page = await http.get(base + "/accounts")
                    html = await page.text()
                    board = await (await http.get(base + "/")).text()
            finally:
                await runner.cleanup()
            findings = {(check, subject): [k.finding.title for k in by.values()]
                        for (check, subject), by in monitor.findings.items()}
    assert page.status == 200 and 'href="/accounts"' in board
    assert sorted(findings[("repost_share", "a1")]) == ["与本部门职能无关的内容占比过高：青溪发布（微博）",
                                                         "转发他人内容占比过高：青溪发布（微博）"]
    assert findings[("service_menu", "a4")] == ["服务菜单链接全部失效（3 个）：金川发布（微信公众号）"]
    assert findings[("interaction", "a2")] == ["互动功能核验已过期：云岭政务（今日头条）"]
    assert ("service_menu", "a1") not in findings or findings[("service_menu", "a1")] == []
    rows = {r.split('data-id="')[1].split('"')[0]: r for r in html.split("<tr ")[1:] if 'data-id="' in r}
    assert "转发 12/20（60%）" in rows["a1"] and "非本职 12/20（60%）" in rows["a1"] and "3 个链接正常" in rows["a1"]
    assert "核验已过期" in rows["a2"] and "未核验" in rows["a3"] and "超期" in rows["a3"]
    assert "服务菜单链接全部失效（3 个）" in rows["a4"] and "有效（县政务公开办" in rows["a4"]
    assert "账号数据源异常" in rows["a5"]
    for unit in ("青溪县人民政府办公室", "云岭县人民政府办公室", "安阳岭县教育局", "金川县人民政府办公室"):
        assert unit in html


@pytest.mark.parametrize("mapping", [{"items": "data", "date": "t", "likes": "n"}])
def test_unknown_mapping_fields_are_named_with_their_line(tmp_path: Path, mapping: dict) -> None:
    path = tmp_path / "inv.yaml"
    YAML().dump({"units": [{"id": "u1", "name": "单位"}],
                 "sites": [{"id": "s1", "name": "网站", "unit": "u1", "homepage": "http://127.0.0.1:9/",
                            "matrix_page": "ftp://x"}],
                 "accounts": [{"id": "a1", "unit": "u1", "platform": "微博", "name": "x", "service_menu": ["nope"],
                               "interaction": {"present": True, "attested_at": "昨天"},
                               "source": {"kind": "json", "url": "http://127.0.0.1:9/", "mapping": mapping}}]}, path)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    text = str(err.value)
    for field in ("sites[0].matrix_page", "accounts[0].service_menu", "accounts[0].interaction.attested_at",
                  "accounts[0].interaction.attested_by", "accounts[0].source", "likes"):
        assert field in text, field
    assert all(p.line and p.line > 1 for p in err.value.problems)
