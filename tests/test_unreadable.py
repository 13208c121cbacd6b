"""无法识别的栏目, run for real: the daemon probes a loopback server into SQLite; columns it cannot read for more
than a day are listed on /unreadable and /api/unreadable with a suggested override, and the override fixes them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import ClientSession
from ruamel.yaml import YAML

from monitor import config
from monitor.service import monitoring
from monitor.web.app import serve
from tests.conftest import PageServer, list_page
from tests.test_daemon import dated
from tests.test_override import day_first_table

SCRIPT_BUILT = (
    "<html><head><title>政策文件</title></head><body><ul id='list'></ul>"
    "<script>$.ajax({url:'/api/list',success:function(r){render(r)}})</script></body></html>"
)


def write(path: Path, server: PageServer, override: dict[str, str] | None = None) -> config.Inventory:
    server.set("/fresh/", list_page(dated(1)))
    server.set("/zbgg/index.html", day_first_table())
    server.etags["/zbgg/index.html"] = '"v1"'  # unchanged page: a new way to read it must not wait for a change
    server.set("/zcwj/", SCRIPT_BUILT)
    server.set("/gone/", "oops", status=503)
    columns = [
        {"id": "fresh", "name": "工作动态", "url": server.url("/fresh/"), "category": "动态要闻"},
        {"id": "zbgg", "name": "招标公告", "url": server.url("/zbgg/index.html"), "category": "通知公告",
         **(override or {})},
        {"id": "zcwj", "name": "政策文件", "url": server.url("/zcwj/"), "category": "政策文件"},
        {"id": "gone", "name": "通知公告", "url": server.url("/gone/"), "category": "通知公告"},
    ]
    data = {
        "settings": {"store": str(path.parent / "govwatch.sqlite3"),
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
        "units": [{"id": "u1", "name": "测试县公共资源交易中心"}],
        "sites": [{"id": "s1", "name": "测试县公共资源交易网", "unit": "u1", "homepage": server.url("/"),
                   "check_homepage": False, "columns": columns}],
    }
    YAML().dump(data, path)
    return config.load(path)


async def test_columns_unreadable_for_a_day_are_listed_with_a_fix_that_works(
        tmp_path: Path, page_server: PageServer) -> None:
    path = tmp_path / "inv.yaml"
    async with monitoring(write(path, page_server)) as monitor, ClientSession() as http:
        start = monitor.clock()
        await monitor.sweep_once()
        runner = await serve(monitor, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            assert await (await http.get(base + "/api/unreadable")).json() == []  # not yet a day

            monitor.clock = lambda: start + timedelta(hours=25)
            await monitor.sweep_once()
            rows = await (await http.get(base + "/api/unreadable")).json()
            page = await http.get(base + "/unreadable")
            html = await page.text()
            board = await (await http.get(base + "/")).text()

            assert [r["id"] for r in rows] == ["zbgg", "zcwj"]  # not the fresh one, not the one failing to load
            zbgg, zcwj = rows
            assert zbgg["reason"] == "no_dates" and zbgg["reason_label"] == "列表无日期"
            assert zbgg["suggestion"] == '{list: "table.jyxx > tbody > tr"}'
            assert zbgg["days"] == 1 and datetime.fromisoformat(zbgg["since"]) <= start + timedelta(seconds=5)
            assert datetime.fromisoformat(zbgg["last_try"]) >= start + timedelta(hours=25)
            assert zbgg["explain"] == f"govwatch probe {page_server.url('/zbgg/index.html')} --explain"
            assert zcwj["reason"] == "js_rendered" and zcwj["suggestion"] is None
            assert "render: browser" in zcwj["advice"]

            assert page.status == 200 and "无法识别的栏目（2）" in html
            assert '{list: &#34;table.jyxx &gt; tbody &gt; tr&#34;}' in html and "用 date 指定日期所在的元素" in html
            assert 'href="/unreadable"' in board  # in the navigation

            # The operator adds the suggested list with the date cell and its format: read at once, green.
            fixed = write(path, page_server, {"list": "table.jyxx > tbody > tr", "date": "td.rq",
                                              "date_format": "%d/%m/%Y"})
            await monitor.reload(fixed)
            await monitor.sweep_once()
            assert page_server.not_modified >= 1  # the page answered 304 before the override; not after it
            assert str(monitor.tracked["zbgg"].verdict.newest_date) == "2026-11-20"
            assert [r["id"] for r in await (await http.get(base + "/api/unreadable")).json()] == ["zcwj"]
        finally:
            await runner.cleanup()
