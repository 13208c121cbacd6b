"""The link crawler end to end: a real loopback site (homepage, two columns, articles) with broken, slow,
looping, flaky, soft-404, external and hidden links and wrong words, crawled by the daemon's own check
runner into the findings path (real Monitor, SQLite store); and an ordinary site that gives nothing."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from selectolax.lexbor import LexborHTMLParser

from monitor import config
from monitor.checks.links import LinkCache, LinkOutcome, judge, link_checker, page_links
from monitor.daemon import now_shanghai
from monitor.evaluate import TZ
from monitor.fetch import Fetcher, FetchSettings
from monitor.model import FetchError, FetchResult, State
from monitor.service import monitoring
from tests.conftest import NAMED, Endpoint

FIX = Path(__file__).parent / "fixtures" / "health"

NAV = """<ul class="nav">
 <li><a href="/">首页</a></li>
 <li><a href="/zwgk/">政务公开</a><div class="sub"><a href="/zwgk/zfxxgkzn/">政府信息公开指南</a>
   <a href="/zwgk/fdzdgknr/">法定主动公开内容</a></div></li>
 <li><a href="/hdjl/">互动交流</a><ul class="submenu" style="display:none"><li><a href="/hdjl/xzxx/">县长信箱</a></li>
   <li><a href="/hdjl/zxft/">在线访谈</a></li></ul></li>
</ul>"""
HEAD = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>.nav li .sub{{display:none;position:absolute}} .nav li:hover .sub{{display:block}} .tab-con{{display:none}}
.tab-con.on{{display:block}} .sr-only{{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}}
.lj1{{display:none}}</style></head><body><a class="sr-only" href="#main">跳转到主要内容区域</a>
<div class="top">今天是2026年11月25日 星期三 <a href="/wza/">无障碍</a></div>"""
FOOT = """<div class="footer"><p><a href="/about/">关于本网</a> | <a href="/sitemap/">网站地图</a></p>
<p>主办单位：青川县人民政府办公室 电话：0839-7202000</p></div></body></html>"""
ARTICLES = {
    "/col/gzdt/index.html": ("工作动态", [
        ("/art/202611/t20261124_101.html", "县政府召开第42次常务会议", "2026-11-24"),
        ("/art/202611/t20261122_100.html", "我县开展冬季安全生产大检查", "2026-11-22"),
        ("/art/202611/t20261118_99.html", "县农业农村局开展秋冬种技术培训", "2026-11-18")]),
    "/col/tzgg/index.html": ("通知公告", [
        ("/art/202611/t20261120_88.html", "关于做好冬季森林防火工作的通知", "2026-11-20"),
        ("/art/202610/t20261015_87.html", "关于公布2026年度行政许可事项的通知", "2026-10-15")]),
}
WRONG = "会议强调，要坚持中华人民共合国宪法和法律，各部门按步就班推进重点工作。"


def page(title: str, body: str) -> str:
    return HEAD.format(title=title) + NAV + f'<div id="main" class="main">{body}</div>' + FOOT


def column(name: str, items: list[tuple[str, str, str]]) -> str:
    lis = "".join(f'<li><a href="{href}" target="_blank">{t}</a><span>{d}</span></li>' for href, t, d in items)
    return page(f"{name}_青川县人民政府", f'<div class="location">当前位置：<a href="/">首页</a> &gt; {name}</div>'
                f'<ul class="list">{lis}</ul><div class="pages">共{len(items)}条 第1/1页</div>')


def article(title: str, text: str) -> str:
    return page(f"{title}_青川县人民政府", f'<h1>{title}</h1><div class="info">发布时间：2026-11-24</div>'
                f'<div id="zoom"><p>{text}</p></div><a href="/">返回首页</a>')


def homepage(ext: str, dead: int) -> str:
    tabs = "".join(
        f'<div class="tab-con{" on" if k == 0 else ""}"><h3><a href="{path}">{name}</a></h3><ul>'
        + "".join(f'<li><a href="{href}">{t}</a><span>{d[5:]}</span></li>' for href, t, d in items[:2]) + "</ul></div>"
        for k, (path, (name, items)) in enumerate(ARTICLES.items()))
    body = f"""<div class="tabbox"><ul class="tab-title"><li class="on">工作动态</li><li>通知公告</li></ul>{tabs}</div>
<div class="zt"><h3>专题专栏</h3><ul>
 <li><a href="/missing.html">2025年政府工作报告</a></li>
 <li><a href="/err500.html">政务服务事项目录</a></li>
 <li><a href="http://127.0.0.1:{dead}/">智慧城市平台</a></li>
 <li><a href="/deleted.html">关于印发青川县优化营商环境办法的通知</a></li>
 <li><a href="/flaky.html">营商环境专栏</a></li>
 <li><a href="/loop/a">网上办事大厅</a></li>
 <li><a href="/slow.html">数据开放平台</a></li>
 <li><a href="/files/guide.pdf"><img src="/images/pdf.png" alt="">办事指南下载</a></li>
</ul></div>
<div class="yqlj"><a href="{ext}/shop/">青川特产商城</a>
 <a href="{ext}/map/" onclick="return confirm('您即将离开本网站，访问第三方网站')">地图服务</a></div>
<div style="display:none"><a href="{ext}/spam/1">澳门新葡京娱乐城</a></div>
<div class="lj1"><a href="{ext}/spam/2">开元棋牌</a></div>
<p style="font-size:0"><a href="{ext}/spam/3">百家乐</a></p>
<iframe src="{ext}/spam/count.html" width="0" height="0"></iframe>
<div style="background-color:#ffffff"><a href="{ext}/spam/4" style="color:#ffffff">真人视讯</a></div>"""
    return page("青川县人民政府门户网站", body)


def ordinary_home() -> str:
    """An ordinary portal: dropdown menus, collapsed tabs, a skip link, a friend-link jump menu; nothing wrong."""
    body = """<div class="tabbox"><ul class="tab-title"><li class="on">政务要闻</li><li>通知公告</li></ul>
<div class="tab-con on"><ul><li><a href="/col/ywdt/index.html">要闻动态</a></li></ul></div>
<div class="tab-con" style="visibility:hidden;height:0;overflow:hidden"><ul>
 <li><a href="/art/202611/t20261124_5.html">县文旅局：老年活动中心棋牌室完成改造</a></li></ul></div></div>
<div class="yqlj"><select onchange="window.open(this.value)"><option value="">—— 政府网站 ——</option>
 <option value="/zwgk/">本站政务公开</option></select>
 <div class="dropdown"><a href="javascript:void(0)">市县政府网站 ▼</a><div style="display:none">
 <a href="/hdjl/">互动交流</a></div></div></div>"""
    return page("剑阁县人民政府门户网站", body)


@dataclass
class Site:
    base: str = ""
    pages: dict[str, str] = field(default_factory=dict)
    hits: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, path: str, method: str | None = None) -> int:
        return sum(n for (m, p), n in self.hits.items() if p == path and method in (None, m))


async def serve(host: str, site: Site, routes: web.RouteTableDef | None = None) -> web.AppRunner:
    async def handle(request: web.Request) -> web.StreamResponse:
        key = (request.method, request.path)
        site.hits[key] = site.hits.get(key, 0) + 1
        if request.path == "/err500.html":
            return web.Response(status=500, text="Internal Server Error")
        if request.path == "/flaky.html" and site.count("/flaky.html") == 1:
            return web.Response(status=503, text="Service Unavailable")
        if request.path.startswith("/loop/"):
            raise web.HTTPFound("/loop/b" if request.path == "/loop/a" else "/loop/a")
        if request.path == "/slow.html":
            await asyncio.sleep(3)
        if request.path == "/files/guide.pdf":
            if request.method == "HEAD":
                return web.Response(status=405, text="Method Not Allowed")
            return web.Response(body=b"%PDF-1.4 guide", content_type="application/pdf")
        if request.path.startswith("/images/"):
            return web.Response(body=b"\x89PNG\r\n", content_type="image/png")
        if request.path not in site.pages:
            return web.Response(status=404, text="<html><head><title>404 Not Found</title></head></html>",
                                content_type="text/html")
        return web.Response(text=site.pages[request.path], content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    site.base = f"http://{host}:{runner.addresses[0][1]}"
    return runner


@dataclass
class World:
    site: Site
    plain: Site
    ext: Site
    dead: int
    inventory: config.Inventory


@pytest.fixture
async def world(tmp_path: Path, endpoint: Endpoint) -> AsyncIterator[World]:
    site, plain, ext = Site(), Site(), Site()
    runners = [await serve("127.0.0.1", site), await serve("127.0.0.1", plain), await serve("127.0.0.2", ext)]
    dead_sock = socket.socket()
    dead_sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    dead = dead_sock.getsockname()[1]
    site.pages = {"/": homepage(ext.base, dead), "/deleted.html": (FIX / "soft404.html").read_text(encoding="utf-8"),
                  "/flaky.html": page("营商环境专栏", "<p>优化营商环境</p>"),
                  "/slow.html": page("数据开放", "<p>数据</p>")}
    for path, (name, items) in ARTICLES.items():
        site.pages[path] = column(name, items)
        for k, (href, title, _) in enumerate(items):
            site.pages[href] = article(title, WRONG if k == 0 else f"{title}。各部门要认真贯彻落实。")
    for path in ("/zwgk/", "/zwgk/zfxxgkzn/", "/zwgk/fdzdgknr/", "/hdjl/", "/hdjl/xzxx/", "/hdjl/zxft/", "/wza/",
                 "/about/", "/sitemap/"):
        site.pages[path] = plain.pages[path] = page("栏目", "<p>栏目内容</p>")
    ext.pages = {"/shop/": "<html><body>商城</body></html>", "/map/": "<html><body>地图</body></html>"}
    plain.pages |= {"/": ordinary_home(), "/col/ywdt/index.html": column("要闻动态", [
        ("/art/202611/t20261124_5.html", "县文旅局：老年活动中心棋牌室完成改造", "2026-11-24")]),
        "/art/202611/t20261124_5.html": article("老年活动中心棋牌室完成改造", "严厉打击网赌，丰富老年人文化生活。")}
    data = {
        "settings": {"store": str(tmp_path / "gw.sqlite3"), "extract_workers": 0,
                     # 127.0.0.2 plays the public internet the external links lead to
                     "fetch": {"per_host_interval": "0s", "timeout": "5s", "allow_private": ["127.0.0.2/32"]},
                     "alerts": {"group_window": "0s"},
                     "links": {"timeout": "1s", "retry_after": "0s", "home_red": 4}},
        "units": [{"id": "qc-bgs", "name": "青川县人民政府办公室",
                   "receivers": [{"id": "group", "url": endpoint.url("json", "qc")}]},
                  {"id": "jg-bgs", "name": "剑阁县人民政府办公室"}],
        "sites": [
            {"id": "qc", "name": "青川县人民政府", "unit": "qc-bgs", "homepage": site.base + "/",
             "columns": [{"id": "qc-gzdt", "name": "工作动态", "url": site.base + "/col/gzdt/index.html",
                          "category": "动态要闻"},
                         {"id": "qc-tzgg", "name": "通知公告", "url": site.base + "/col/tzgg/index.html",
                          "category": "通知公告"}]},
            {"id": "jg", "name": "剑阁县人民政府", "unit": "jg-bgs", "homepage": plain.base + "/",
             "columns": [{"id": "jg-ywdt", "name": "要闻动态", "url": plain.base + "/col/ywdt/index.html",
                          "category": "动态要闻"}]},
        ],
    }
    yield World(site, plain, ext, dead, config.build(data, "test", lambda loc: None))
    dead_sock.close()
    for runner in runners:
        await runner.cleanup()


def open_findings(monitor, check: str, subject: str = "qc") -> dict[str, object]:
    """key → finding, of the findings open now."""
    return {k.finding.key: k.finding for k in monitor.findings.get((check, subject), {}).values()
            if k.status.value == "open"}


LINK_ONLY = ("/zwgk/", "/zwgk/fdzdgknr/", "/hdjl/xzxx/", "/wza/", "/about/", "/images/pdf.png")


async def test_crawl_finds_broken_hidden_external_links_and_words(world: World) -> None:
    site, ext = world.site, world.ext
    async with monitoring(world.inventory) as monitor:
        await monitor.sweep_once()  # the column probes store the items the crawler samples articles from
        await monitor.check_once()

        broken = open_findings(monitor, "broken_link")
        assert set(broken) == {site.base + "/missing.html", site.base + "/err500.html",
                               f"http://127.0.0.1:{world.dead}/", site.base + "/loop/a", site.base + "/slow.html"}
        missing = broken[site.base + "/missing.html"]
        assert missing.title == "首页确定不可用链接：「2025年政府工作报告」（HTTP 404）"
        assert missing.url == site.base + "/" and missing.unit_id == "qc-bgs" and missing.site_id == "qc"
        assert missing.evidence["where"] == "div.zt > ul > li > a" and missing.evidence["text"] == "2025年政府工作报告"
        assert "疑似不可用" in broken[site.base + "/err500.html"].title  # may pass another time: not yet confirmed
        assert "无法连接" in broken[f"http://127.0.0.1:{world.dead}/"].title
        loop, slow = broken[site.base + "/loop/a"].title, broken[site.base + "/slow.html"].title
        assert "确定不可用" in loop and "循环" in loop
        assert "疑似不可用" in slow and "超时" in slow
        # 3 confirmed on the homepage (404, loop, soft 404) is under home_red=4: every one is yellow
        assert {f.severity for f in broken.values()} == {State.YELLOW}
        soft = open_findings(monitor, "soft404")
        assert list(soft) == [site.base + "/deleted.html"]
        assert "页面显示不存在" in soft[site.base + "/deleted.html"].title
        assert "页面不存在" in soft[site.base + "/deleted.html"].detail
        # the flaky link failed once and passed on the retry; HEAD refused with 405, the GET worked
        assert site.count("/flaky.html") == 2 and site.count("/files/guide.pdf", "HEAD") == 1
        assert site.count("/files/guide.pdf", "GET") == 1

        external = open_findings(monitor, "external_link")
        assert list(external) == [ext.base + "/shop/"]  # the map link warns before leaving; spam links are 暗链
        assert external[ext.base + "/shop/"].title == "首页外部链接无退出提示：「青川特产商城」→ 127.0.0.2"

        hidden = open_findings(monitor, "hidden_link")
        urls = {f.evidence["url"] for f in hidden.values()}
        assert urls == {ext.base + p for p in ("/spam/1", "/spam/2", "/spam/3", "/spam/count.html", "/spam/4")}
        assert {f.severity for f in hidden.values()} == {State.RED}
        styles = {f.evidence["url"].rsplit("/", 1)[1]: f.evidence["style"] for f in hidden.values()}
        assert styles["1"] == "display:none" and styles["2"] == ".lj1 {display:none}"
        assert styles["3"].startswith("font-size:0") and "与背景色相同" in styles["4"]
        assert "iframe" in styles["count.html"]
        # hidden and spam links are never requested
        assert not [p for (_, p) in ext.hits if p.startswith("/spam/")]

        word = open_findings(monitor, "word")
        assert set(word) == {"中华人民共合国", "按步就班"}
        assert word["中华人民共合国"].severity is State.RED and word["按步就班"].severity is State.YELLOW
        assert word["中华人民共合国"].url == site.base + "/art/202611/t20261124_101.html"
        assert "应为「中华人民共和国」" in word["中华人民共合国"].title
        assert not [k for k in monitor.findings.get(("word", "qc"), {}).values() if "澳门" in k.finding.key]

        # the ordinary site: menus, collapsed dropdowns and tabs, a jump menu — no finding of any kind
        assert not [k for (_, subject), found in monitor.findings.items() if subject == "jg" for k in found.values()]
        assert world.plain.count("/hdjl/") == 1  # its links were checked all the same

        stored = await monitor.store.findings_list(status="open", site_id="qc")
        assert len(stored) == 5 + 1 + 1 + 5 + 2
        # like a stale column, each new finding goes to the owning unit's receivers through the outbox
        queued = [json.dumps(i["payload"], ensure_ascii=False) for i in await monitor.store.outbox_list()
                  if i["channel"] != "mqtt"]
        assert any("首页暗链" in q for q in queued) and any("2025年政府工作报告" in q for q in queued)


async def test_second_crawl_uses_the_cache_and_confirms_repeated_failures(world: World) -> None:
    site = world.site
    async with monitoring(world.inventory) as monitor:
        await monitor.sweep_once()
        await monitor.check_once()
        before = dict(site.hits)
        checker = link_checker(monitor.check_runner.context)
        asked = checker.requests
        start = now_shanghai()
        monitor.clock = lambda: start + timedelta(hours=2)  # working links fresh (24 h), failures stale (1 h)
        await monitor.check_once()
        for path in (*LINK_ONLY, "/flaky.html", "/files/guide.pdf"):
            assert site.count(path) == sum(n for (_, p), n in before.items() if p == path), path
        assert world.ext.hits[("HEAD", "/shop/")] == 1
        assert site.count("/err500.html") > sum(n for (_, p), n in before.items() if p == "/err500.html")
        broken = open_findings(monitor, "broken_link")
        # 500, refused and timeout failed on an earlier crawl too: now confirmed, 6 on the homepage ≥ home_red=4
        assert all("确定不可用" in f.title for f in broken.values()), [f.title for f in broken.values()]
        assert {f.severity for f in broken.values()} == {State.RED}
        assert open_findings(monitor, "soft404")[site.base + "/deleted.html"].severity is State.RED
        assert broken[site.base + "/err500.html"].evidence["failed_runs"] == 2

        asked = checker.requests
        monitor.clock = lambda: start + timedelta(hours=2, minutes=10)  # inside both TTLs: no link is asked again
        await monitor.check_once()
        assert checker.requests == asked
        assert len(open_findings(monitor, "broken_link")) == len(broken)  # cached failures still count


async def test_page_checks_run_in_the_parser_workers_and_a_hostile_homepage_changes_nothing(world: World) -> None:
    settings = world.inventory.settings.model_copy(update={"extract_workers": 1})
    inventory = replace(world.inventory, model=world.inventory.model.model_copy(update={"settings": settings}))
    async with monitoring(inventory) as monitor:
        await monitor.check_once()
        hidden = open_findings(monitor, "hidden_link")
        assert hidden  # read in the worker process
        worker = monitor.pool.workers[0].process.pid
        # a 1 s limit once the worker has started and imported its job (on a busy machine that alone can take 1 s)
        monitor.pool.time_limit_s = 1.0
        # a hacked homepage far too big to check within the time limit: its worker is killed, the crawl skipped
        hacked = '<div style="display:none"><a href="http://127.0.0.3/x">博彩</a></div>' * 70000
        world.site.pages["/"] = f"<html><body>{hacked}</body></html>"
        started = time.monotonic()
        await monitor.check_once()
        assert time.monotonic() - started < 30
        assert monitor.pool.workers[0].process.pid != worker
        assert open_findings(monitor, "hidden_link") == hidden  # nothing called gone, nothing new


async def test_a_link_failing_once_then_working_is_never_reported(world: World) -> None:
    async with monitoring(world.inventory) as monitor:
        await monitor.check_once()
        assert world.site.base + "/flaky.html" not in open_findings(monitor, "broken_link")
        outcome = link_checker(monitor.check_runner.context).cache.previous(world.site.base + "/flaky.html")
        assert outcome is not None and outcome.ok and outcome.failed_runs == 0


async def test_peek_head_then_capped_get() -> None:
    served: list[str] = []

    async def big(request: web.Request) -> web.StreamResponse:
        served.append(request.method)
        if request.method == "HEAD":
            return web.Response(content_type="text/html")
        resp = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        await resp.prepare(request)
        await resp.write("<html><head><title>页面不存在</title></head><body>".encode())
        for _ in range(200):  # 2 MB the check must not read
            await resp.write(("<p>" + "政务公开" * 2500 + "</p>").encode())
        return resp

    app = web.Application()
    app.router.add_route("*", "/big", big)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/big"
    try:
        async with Fetcher(FetchSettings(named=NAMED, timeout_s=5)) as fetcher:
            head = await fetcher.peek(url)
            got = await fetcher.peek(url, method="GET", read_bytes=64 * 1024)
        assert head.ok and head.status == 200 and head.text is None
        assert got.ok and got.text is not None and 60_000 <= got.body_bytes <= 64 * 1024 + 64 * 1024
        assert got.text.endswith(">") and got.charset == "utf-8" and "页面不存在" in got.text  # cut between tags
        assert served == ["HEAD", "GET"]
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------------------------------ pure core


NOW = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)


def result(status: int | None = 200, error: FetchError | None = None, text: str | None = None) -> FetchResult:
    return FetchResult("http://x.gov.cn/a", "http://x.gov.cn/a", 10.0, status=status, error=error, text=text)


def test_judge_tells_definite_from_passing_failures() -> None:
    assert judge(result(), NOW).ok
    gone = judge(result(404, FetchError.HTTP_STATUS), NOW)
    assert not gone.ok and gone.confirmed and gone.detail == "HTTP 404"
    busy = judge(result(503, FetchError.HTTP_STATUS), NOW)
    assert not busy.ok and not busy.confirmed and busy.failed_runs == 1
    again = judge(result(None, FetchError.TIMEOUT), NOW + timedelta(days=1), busy)
    assert again.confirmed and again.failed_runs == 2 and again.detail == "超时无响应"
    after_ok = judge(result(None, FetchError.CONNECT), NOW, judge(result(), NOW))
    assert after_ok.failed_runs == 1 and not after_ok.confirmed
    soft = judge(result(text=(FIX / "soft404.html").read_text(encoding="utf-8")), NOW)
    assert soft.error == "soft404" and soft.confirmed and "页面不存在" in soft.note
    assert judge(result(None, FetchError.DNS), NOW).confirmed
    assert judge(result(200, FetchError.TOO_LARGE), NOW).ok  # it answered; just big


def test_link_cache_ttls_and_bound() -> None:
    cache = LinkCache(2)
    ok, bad = timedelta(hours=24), timedelta(hours=1)
    cache.put("a", LinkOutcome(True, NOW))
    cache.put("b", LinkOutcome(False, NOW, 404, "http_status", "HTTP 404", True, 1))
    assert cache.fresh("a", NOW + timedelta(hours=23), ok, bad) is not None
    assert cache.fresh("b", NOW + timedelta(minutes=59), ok, bad) is not None
    assert cache.fresh("b", NOW + timedelta(hours=1), ok, bad) is None
    assert cache.previous("b") is not None  # stale, still remembered as failing before
    cache.put("c", LinkOutcome(True, NOW))
    cache.fresh("a", NOW, ok, bad)  # a is used: c is now the least recent working link
    cache.put("d", LinkOutcome(True, NOW))
    assert cache.previous("c") is None and cache.previous("a") is not None
    assert cache.previous("b") is not None and len(cache) == 3  # working links never push out a broken one
    cache.put("b", LinkOutcome(True, NOW))  # it works again: no longer remembered as failing
    assert cache.previous("b").ok and len(cache) == 2


def test_page_links_every_kind_once_in_page_order() -> None:
    html = """<html><body><a href="/a.html#top">甲</a><a href="/a.html">甲again</a><a href="#x">锚点</a>
    <a href="javascript:void(0)">脚本</a><a href="mailto:x@y.cn">邮件</a><img src="/i.png" alt="图">
    <map><area href="/m.html"></map><iframe src="/f.html"></iframe>
    <select><option value="">请选择</option><option value="http://www.gov.cn/">中国政府网</option></select>
    <a href="http://shop.example.com/" onclick="alert('您即将离开本网站')">商城</a></body></html>"""
    links = page_links(LexborHTMLParser(html), "http://www.qc.gov.cn/index.html", 100)
    assert [(p.url.rsplit("/", 1)[-1] or p.url, p.text) for p in links] == [
        ("a.html", "甲"), ("i.png", "图"), ("m.html", ""), ("f.html", ""), ("http://www.gov.cn/", "中国政府网"),
        ("http://shop.example.com/", "商城")]
    assert links[-1].notice and not links[0].notice
    assert len(page_links(LexborHTMLParser(html), "http://www.qc.gov.cn/", 2)) == 2
