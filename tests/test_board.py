"""The board's pages and live updates, run for real: a Monitor probing a loopback page server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from aiohttp import ClientSession, StreamReader, web
from ruamel.yaml import YAML

from monitor import config
from monitor.daemon import Monitor
from monitor.evaluate import TZ
from monitor.findings import Finding
from monitor.model import State
from monitor.service import monitoring
from monitor.web.app import serve
from monitor.web.events import EventHub
from monitor.web.keys import EVENTS_KEY
from tests.conftest import PageServer, list_page
from tests.test_daemon import dated, write_inventory

HOSTILE = "<script>window.pwned=1</script>"


def board_inventory(path: Path, server: PageServer, unit: str = "测试县人民政府办公室",
                    site: str = "测试县人民政府网站") -> config.Inventory:
    """Three columns: fresh (green), stale (red, a hostile title) and a failing one (unknown)."""
    server.set("/fresh/", list_page(dated(1)))
    server.set("/stale/", list_page(dated(30)))
    server.set("/gone/", "oops", status=503)
    columns = [
        {"id": "fresh", "name": "工作动态", "url": server.url("/fresh/"), "category": "动态要闻"},
        {"id": "stale", "name": f"{HOSTILE}乡镇动态", "url": server.url("/stale/"), "category": "动态要闻"},
        {"id": "gone", "name": "通知公告", "url": server.url("/gone/"), "category": "通知公告"},
    ]
    data = {
        "settings": {"store": str(path.parent / "govwatch.sqlite3"),
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
        "units": [{"id": "u1", "name": unit}, {"id": "u2", "name": "空单位"}],
        "sites": [{"id": "s1", "name": site, "unit": "u1", "homepage": server.url("/"), "check_homepage": False,
                   "columns": columns}],
    }
    YAML().dump(data, path)
    return config.load(path)


@asynccontextmanager
async def board(inv: config.Inventory) -> AsyncIterator[tuple[Monitor, web.AppRunner, str]]:
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        runner = await serve(monitor, "127.0.0.1", 0)
        try:
            yield monitor, runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


async def test_unit_and_target_pages(tmp_path: Path, page_server: PageServer) -> None:
    inv = board_inventory(tmp_path / "inv.yaml", page_server, unit=f"{HOSTILE}单位", site=f"{HOSTILE}网站")
    async with board(inv) as (_, _, base), ClientSession() as http:
        wall = await (await http.get(base + "/")).text()
        unit = await http.get(base + "/unit/u1")
        unit_html = await unit.text()
        empty = await (await http.get(base + "/unit/u2")).text()
        target = await http.get(base + "/target/stale")
        target_html = await target.text()
        missing = [await http.get(base + p) for p in ("/unit/nope", "/target/nope")]
        missing_html = [await r.text() for r in missing]
        js = await http.get(base + "/static/board.js")
    assert "<script>window" not in wall + unit_html + target_html
    assert 'http-equiv="refresh"' not in wall and '<script src="/static/board.js">' in wall
    assert 'href="/target/stale"' in wall and 'href="/unit/u1"' in wall
    assert js.status == 200 and "EventSource" in await js.text()

    assert unit.status == 200
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;单位" in unit_html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;网站" in unit_html
    assert unit_html.index('data-id="stale"') < unit_html.index('data-id="gone"') < unit_html.index('data-id="fresh"')
    assert "超期 16 天" in unit_html and "距期限 14 天" in unit_html and "页面无法访问" in unit_html
    assert "该单位暂无监测栏目" in empty

    assert target.status == 200
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;乡镇动态" in target_html
    for text in (page_server.url("/stale/"), "动态要闻", dated(30)[0][1], "16 天", "超期未更新", 'href="/unit/u1"'):
        assert text in target_html, text
    history = target_html.split('id="history"')[1].split("</table>")[0]
    assert history.count("<tr>") == 2 and "超期" in history  # header + the one verdict so far
    observations = target_html.split('id="observations"')[1].split("</table>")[0]
    assert observations.count("<tr>") == 2 and ">200<" in observations and "毫秒" in observations

    assert [r.status for r in missing] == [404, 404]
    assert "“nope”的责任单位不存在" in missing_html[0] and "“nope”的监测栏目不存在" in missing_html[1]
    assert all('<nav>' in html and "页面不存在（404）" in html for html in missing_html)


async def test_target_page_shows_failed_fetches(tmp_path: Path, page_server: PageServer) -> None:
    async with board(board_inventory(tmp_path / "inv.yaml", page_server)) as (_, _, base), ClientSession() as http:
        html = await (await http.get(base + "/target/gone")).text()
    assert "页面无法访问" in html and "HTTP 错误" in html and ">503<" in html
    assert "<dt>判断依据</dt><dd>服务器错误（503）</dd>" in html  # in plain words; the technical detail below


async def _next_event(reader: StreamReader) -> dict:
    while True:
        line = (await asyncio.wait_for(reader.readline(), 10)).decode()
        if line.startswith("data: "):
            return json.loads(line[6:])


async def test_events_deliver_a_verdict_change_and_forget_gone_clients(tmp_path: Path,
                                                                       page_server: PageServer) -> None:
    async with board(board_inventory(tmp_path / "inv.yaml", page_server)) as (monitor, runner, base):
        hub = runner.app[EVENTS_KEY]
        hub.heartbeat_s = 0.1
        assert hub.listener in monitor.hooks.listeners
        async with ClientSession() as http:
            response = await http.get(base + "/events")
            assert response.headers["Content-Type"].startswith("text/event-stream")
            assert await asyncio.wait_for(response.content.readline(), 5) == b"retry: 3000\n"
            assert len(hub.clients) == 1

            page_server.set("/fresh/", list_page(dated(40)))  # fresh → stale
            await monitor.sweep_once()
            event = await _next_event(response.content)
            assert event == {"id": "fresh", "unit_id": "u1", "site_id": "s1", "state": "red", "state_label": "超期",
                             "was": "green"}
            line = b""
            while line != b": heartbeat\n":
                line = await asyncio.wait_for(response.content.readline(), 5)

            response.close()  # the browser goes away
            deadline = time.monotonic() + 5
            while hub.clients and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert not hub.clients

            # A client still connected at shutdown is ended, and shutdown does not wait on it.
            response = await http.get(base + "/events")
            await response.content.readline()
            started = time.monotonic()
            await runner.cleanup()
            assert time.monotonic() - started < 3
            assert await asyncio.wait_for(response.content.read(), 5) is not None
            assert not hub.clients and hub.listener not in monitor.hooks.listeners


def test_a_slow_client_is_dropped_without_blocking() -> None:
    hub = EventHub(queue_size=3)
    slow, fast = hub.subscribe(), hub.subscribe()
    for i in range(3):
        hub.publish(str(i))
    fast.get_nowait()
    hub.publish("3")  # the slow client's queue is full: it is dropped, the fast one keeps its events
    assert hub.clients == {fast} and hub.dropped == 1
    assert slow.get_nowait() is None and slow.empty()
    assert [fast.get_nowait() for _ in range(3)] == ["1", "2", "3"]


async def test_board_serves_the_quarterly_score_table(tmp_path: Path, page_server: PageServer) -> None:
    page_server.set("/col/", list_page(dated(40)))
    inv = write_inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "c1", "name": "工作动态", "url": page_server.url("/col/"), "category": "动态要闻"},
    ])
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        runner = await serve(monitor, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with ClientSession() as http:
                board = await (await http.get(f"{base}/")).text()
                page = await (await http.get(f"{base}/report")).text()
                bad = await http.get(f"{base}/report?quarter=2026Q9")
        finally:
            await runner.cleanup()
    now = datetime.now(TZ)
    assert 'href="/report"' in board
    assert f"{now.year}年第{'一二三四'[(now.month - 1) // 3]}季度" in page
    assert "测试县人民政府办公室" in page and "<td>3</td>" in page  # one 动态要闻 warning: −3
    assert "<nav>" in page and 'href="/static/board.css"' in page  # the board's page, with its navigation
    assert bad.status == 400


async def test_every_unknown_address_answers_in_chinese(tmp_path: Path, page_server: PageServer) -> None:
    """Board pages answer in the board's style; the API, metrics and event stream with one Chinese
    line instead of aiohttp's English '404: Not Found' — and their handlers' own answers stay as they are. (A
    missing static file is aiohttp's file response, an empty 404.)"""
    async with board(board_inventory(tmp_path / "inv.yaml", page_server)) as (_, _, base), ClientSession() as http:
        pages = {p: await http.get(base + p) for p in ("/events/x", "/eventsx", "/metricsx", "/apix", "/no/such")}
        pages_html = {p: await r.text() for p, r in pages.items()}
        lines = {p: await http.get(base + p) for p in ("/api/nope", "/api/columns/x")}
        lines_text = {p: await r.text() for p, r in lines.items()}
        post = await http.post(base + "/api/columns")
        post_text = await post.text()
        own = await http.get(base + "/api/findings/nope")
        own_text = await own.text()
    for path, response in pages.items():
        assert response.status == 404, path
        assert "<nav>" in pages_html[path] and "页面不存在（404）" in pages_html[path], path
    for path, response in lines.items():
        assert (response.status, lines_text[path]) == (404, "页面不存在（404）\n"), path
    assert (post.status, post_text) == (405, "不支持的请求方法（405）\n") and "GET" in post.headers["Allow"]
    assert (own.status, own_text) == (404, "没有这条发现\n")


async def test_a_findings_evidence_is_labelled_in_chinese(tmp_path: Path, page_server: PageServer) -> None:
    async with board(board_inventory(tmp_path / "inv.yaml", page_server)) as (monitor, _, base):
        found = Finding("message_overdue", "s1-box", "q1", State.RED, "留言超期未回复", "u1", "s1",
                        evidence={"asked": "2026-11-02", "answered": None, "status": "未回复", "workdays": 12,
                                  "present": True, "messages": [{"title": "路灯不亮", "box": "县长信箱"}],
                                  "pages": ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]})
        monitor.book.report("message_overdue", "s1-box", [found], monitor.clock())
        await monitor.writer.flushed()
        async with ClientSession() as http:
            html = await (await http.get(base + f"/finding/{found.uid}")).text()
    evidence = html.split("<h3>证据</h3>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><th>([^<]*)</th><td>([^<]*)</td></tr>", evidence)
    assert rows == [("留言日期", "2026-11-02"), ("留言", "标题 路灯不亮，信箱 县长信箱"),
                    ("检查页面", "http://127.0.0.1:9/a；http://127.0.0.1:9/b"), ("存在", "是"), ("状态", "未回复"),
                    ("工作日", "12")]  # 回复日期 (None) left out
    assert "None" not in html and "True" not in html and "answered" not in html
