"""The renderer: a real headless Chromium (Debian's) in its own process renders script-built list pages served on
127.0.0.1; the rendered HTML goes through the normal list extractor."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from datetime import date

import pytest
from aiohttp import web

from monitor.extract.listpage import extract_list
from monitor.model import EmptyReason, FetchError
from monitor.render import MISSING, RenderSettings, missing
from tests.script_pages import api_body, script_built_page

if missing() and not os.environ.get("CI"):  # CI installs both: it must run these
    pytest.skip(f"{missing()}: pip install -e '.[test,browser]'; apt-get install chromium", allow_module_level=True)

import psutil

from monitor.render.client import Renderer
from monitor.render.server import classify

TODAY = date(2026, 11, 25)

NOTICES = [
    ("关于印发《青溪县2027年优化营商环境工作要点》的通知", "2026-11-23"),
    ("青溪县人民政府办公室关于做好冬春季森林防火工作的通知", "2026-11-18"),
    ("关于开展2026年度安全生产专项检查的通知", "2026-11-09"),
    ("青溪县关于公布第二批县级非物质文化遗产代表性项目名录的通知", "2026-10-30"),
    ("关于调整青溪县城区公交线路的公告", "2026-10-21"),
    ("青溪县2026年第三季度政府信息公开工作情况通报", "2026-10-12"),
    ("关于征求《青溪县生活垃圾分类管理办法（征求意见稿）》意见的公告", "2026-09-28"),
]


class Site:
    """A loopback site: pages by path, hits by path, and the most requests it saw in flight at once."""

    def __init__(self) -> None:
        self.base = ""
        self.pages: dict[str, tuple[bytes, str]] = {}
        self.hits: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.in_flight = 0
        self.most_in_flight = 0

    def url(self, path: str) -> str:
        return self.base + path

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay.get(request.path, 0))
            if request.path not in self.pages:
                return web.Response(status=404, text="您访问的页面不存在")
            body, ctype = self.pages[request.path]
            return web.Response(body=body, headers={"Content-Type": ctype})
        finally:
            self.in_flight -= 1


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    s = Site()
    s.pages["/col/col1229/index.html"] = (script_built_page("/api/col1229/list").encode(), "text/html; charset=utf-8")
    s.pages["/api/col1229/list"] = (api_body(NOTICES), "application/json; charset=utf-8")
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", s.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    s.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield s
    await runner.cleanup()


@pytest.fixture
async def renderer() -> AsyncIterator[Renderer]:
    r = Renderer(RenderSettings(timeout_s=15))
    yield r
    await r.close()


def browser_pids(renderer: Renderer) -> list[int]:
    assert renderer.pid is not None
    return [p.pid for p in psutil.Process(renderer.pid).children(recursive=True)]


def gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


async def test_script_built_list_is_read_after_rendering(site: Site, renderer: Renderer) -> None:
    url = site.url("/col/col1229/index.html")
    raw = site.pages["/col/col1229/index.html"][0].decode()
    assert extract_list(raw, url, TODAY).reason is EmptyReason.JS_RENDERED  # what a plain fetch gets

    result = await renderer.render(url)
    assert result.ok and result.status == 200 and result.final_url == url and result.charset == "UTF-8"
    listing = extract_list(result.text or "", result.final_url, TODAY, result.content_type)
    assert listing.newest_date == date(2026, 11, 23)  # not the header's today, not the sidebar's
    assert [i.date.isoformat() for i in listing.items if i.date] == [d for _, d in NOTICES]
    assert listing.items[0].title == NOTICES[0][0]
    assert listing.items[0].url == site.url("/art/2026/11/23/art_9000.html")
    # The page's own data was fetched; its image, font and video never were.
    assert site.hits["/api/col1229/list"] == 1
    assert not {"/images/logo.png", "/fonts/fzxbs.woff2", "/media/intro.mp4"} & set(site.hits)


async def test_gbk_page_is_decoded_by_the_browser(site: Site, renderer: Renderer) -> None:
    site.pages["/gbk/index.html"] = (script_built_page("/api/col1229/list", "gbk").encode("gbk"),
                                     "text/html")  # no charset in the header: the <meta> says GBK
    result = await renderer.render(site.url("/gbk/index.html"))
    assert result.ok and result.charset == "GBK"
    listing = extract_list(result.text or "", result.final_url, TODAY)
    assert listing.newest_date == date(2026, 11, 23) and "通知公告" in (result.text or "")


async def test_failures_are_classified_as_the_fetcher_does(site: Site, renderer: Renderer) -> None:
    missing_page = await renderer.render(site.url("/col/col404/index.html"))
    assert missing_page.error is FetchError.HTTP_STATUS and missing_page.status == 404
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = await renderer.render(f"http://127.0.0.1:{port}/index.html")
    assert refused.error is FetchError.CONNECT and refused.detail == "ERR_CONNECTION_REFUSED"
    assert (await renderer.render(site.url("/col/col1229/index.html"))).ok  # the browser is still fine


async def test_a_page_that_never_finishes_times_out_and_the_next_page_renders(site: Site) -> None:
    site.pages["/hang.html"] = (b"<html><body><ul id=l></ul><script>setTimeout(function(){while(true){}}, 50)"
                                b"</script></body></html>", "text/html; charset=utf-8")
    renderer = Renderer(RenderSettings(timeout_s=4))
    try:
        hung = await renderer.render(site.url("/hang.html"))
        assert hung.error is FetchError.TIMEOUT and "渲染超时" in (hung.detail or "")
        after = await renderer.render(site.url("/col/col1229/index.html"))
        assert extract_list(after.text or "", after.final_url, TODAY).newest_date == date(2026, 11, 23)
    finally:
        await renderer.close()


async def test_browser_restarts_after_n_pages_and_over_its_memory_bound(site: Site) -> None:
    url = site.url("/col/col1229/index.html")
    by_pages = Renderer(RenderSettings(pages=1, max_pages=2))
    try:
        for _ in range(5):
            result = await by_pages.render(url)
            assert extract_list(result.text or "", url, TODAY).newest_date == date(2026, 11, 23)
        stats = await by_pages.stats()
        assert (stats["launches"], stats["pages"], stats["restarts"]) == (3, 5, {"pages": 2})
        assert 50 < stats["pss_mb"] < stats["rss_mb"]  # shared pages counted once in PSS, in each process in RSS
    finally:
        await by_pages.close()
    by_memory = Renderer(RenderSettings(pages=1, max_memory_mb=10))  # any browser is over: a new one each page
    try:
        for _ in range(3):
            assert (await by_memory.render(url)).ok
        stats = await by_memory.stats()
        assert (stats["launches"], stats["restarts"]) == (3, {"memory": 2})
    finally:
        await by_memory.close()


async def test_pages_in_flight_are_bounded(site: Site) -> None:
    site.delay["/api/col1229/list"] = 0.5
    renderer = Renderer(RenderSettings(pages=1))
    try:
        results = await asyncio.gather(*(renderer.render(site.url("/col/col1229/index.html")) for _ in range(3)))
        assert all(r.ok for r in results) and site.hits["/api/col1229/list"] == 3
        assert site.most_in_flight == 1
    finally:
        await renderer.close()


async def test_a_killed_renderer_fails_its_page_and_a_new_one_serves_the_next(site: Site, renderer: Renderer) -> None:
    url = site.url("/col/col1229/index.html")
    assert (await renderer.render(url)).ok
    first, browser = renderer.pid, browser_pids(renderer)
    site.delay["/api/col1229/list"] = 3
    in_flight = asyncio.create_task(renderer.render(url))
    await asyncio.sleep(1)
    psutil.Process(first).kill()
    lost = await in_flight
    assert lost.error is FetchError.RENDER and lost.detail == "浏览器渲染进程意外退出"
    site.delay.clear()
    assert (await renderer.render(url)).ok and renderer.pid != first
    for _ in range(50):  # the browser of the killed renderer goes with it (its driver closes it)
        if gone(browser):
            break
        await asyncio.sleep(0.1)
    assert gone(browser)


async def test_renderer_stops_when_idle_and_starts_again_on_demand(site: Site) -> None:
    url = site.url("/col/col1229/index.html")
    renderer = Renderer(RenderSettings(idle_s=0.5))
    try:
        assert (await renderer.render(url)).ok
        first, tree = renderer.pid, browser_pids(renderer)
        await asyncio.sleep(0.5)
        for _ in range(100):
            if renderer.pid is None and gone([first, *tree]):
                break
            await asyncio.sleep(0.1)
        assert renderer.pid is None and gone([first, *tree])  # renderer, driver and browser all gone
        assert (await renderer.render(url)).ok and renderer.pid not in (None, first)
    finally:
        await renderer.close()


async def test_close_ends_every_process(site: Site) -> None:
    renderer = Renderer()
    assert (await renderer.render(site.url("/col/col1229/index.html"))).ok
    tree = [renderer.pid, *browser_pids(renderer)]
    await renderer.close()
    assert renderer.pid is None and gone([p for p in tree if p is not None])


def test_navigation_errors_map_to_fetch_failure_classes() -> None:
    assert classify("Page.goto: net::ERR_NAME_NOT_RESOLVED at http://x.invalid/") == ("dns", "ERR_NAME_NOT_RESOLVED")
    assert classify("net::ERR_CERT_DATE_INVALID at https://a/") == ("tls", "ERR_CERT_DATE_INVALID")
    assert classify("net::ERR_TOO_MANY_REDIRECTS")[0] == "too_many_redirects"
    assert classify("net::ERR_CONNECTION_RESET")[0] == "connect"
    assert classify("net::ERR_BLOCKED_BY_RESPONSE") == ("render", "浏览器渲染失败：ERR_BLOCKED_BY_RESPONSE")
    assert classify("Target page, context or browser has been closed\nCall log: …") == (
        "render", "浏览器渲染失败：Target page, context or browser has been closed")
    assert [classify(f"net::{code}")[0] for code in ("ERR_ADDRESS_UNREACHABLE", "ERR_SSL_PROTOCOL_ERROR")] == [
        "connect", "tls"]


def test_missing_component_is_named() -> None:
    reason = missing("/nonexistent/chromium")
    assert reason is not None and reason.startswith(MISSING) and "未找到 /nonexistent/chromium" in reason
