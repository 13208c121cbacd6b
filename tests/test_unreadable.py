"""无法识别的栏目, run for real: the daemon probes a loopback server into SQLite; columns it cannot read for more
than a day are listed on /unreadable and /api/unreadable with a suggested override, and the override fixes them;
the README's worked example runs against the demo's sites."""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from aiohttp import ClientSession
from ruamel.yaml import YAML

from monitor import config
from monitor.config.excel import read_sheet
from monitor.demo.command import DEMO_SITE_PORT, write_sheet
from monitor.demo.fleet import Fleet, demo_fleet
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
            assert zbgg["suggestion"] == '{list: "table.jyxx > tbody > tr", date: "td.rq", date_format: "%d/%m/%Y"}'
            assert zbgg["days"] == 1 and datetime.fromisoformat(zbgg["since"]) <= start + timedelta(seconds=5)
            assert datetime.fromisoformat(zbgg["last_try"]) >= start + timedelta(hours=25)
            assert zbgg["explain"] == f"govwatch probe {page_server.url('/zbgg/index.html')} --explain"
            assert zcwj["reason"] == "js_rendered" and zcwj["suggestion"] is None
            assert "render: browser" in zcwj["advice"]

            assert page.status == 200 and "无法识别的栏目（2）" in html
            assert '{list: &#34;table.jyxx &gt; tbody &gt; tr&#34;, date: &#34;td.rq&#34;' in html
            assert "用 date 指定日期所在的元素" in html
            assert 'href="/unreadable"' in board  # in the navigation

            # The operator puts the suggestion in the inventory: the column is read at once, and green.
            fixed = write(path, page_server, YAML().load(zbgg["suggestion"]))
            await monitor.reload(fixed)
            await monitor.sweep_once()
            assert page_server.not_modified >= 1  # the page answered 304 before the override; not after it
            assert str(monitor.tracked["zbgg"].verdict.newest_date) == "2026-11-20"
            assert [r["id"] for r in await (await http.get(base + "/api/unreadable")).json()] == ["zcwj"]
        finally:
            await runner.cleanup()


async def test_the_readme_fix_of_a_column_runs_against_the_demo(tmp_path: Path) -> None:
    """The README's worked example, as written: probe says no_dates, --explain suggests the override, --list
    with --date and --date-format reads the column, and the demo's inventory (and office sheet) carry it."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    base = f"http://127.0.0.1:{DEMO_SITE_PORT}"
    commands = [shlex.split(line.split("   #", 1)[0])
                for line in re.findall(rf"^\s*(govwatch probe {base}/col/8/index\.html.*)$", readme, re.M)]
    assert len(commands) == 3
    [entry] = YAML().load(re.search(r"(- \{id: s1-c8,.*?\})\n", readme, re.S).group(1))
    today = date.today()
    async with Fleet(demo_fleet(today), today) as fleet:  # any free port: the demo may be running here
        outputs = []
        for command in commands:
            args = [fleet.url(0, "/col/8/index.html") if a.startswith(base) else a for a in command[2:]]
            out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "monitor.cli", "probe", *args],
                                          capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            outputs.append(out.stdout)
        inventory = fleet.inventory()
        write_sheet(inventory, tmp_path / "栏目清单.xlsx")
    detected, explained, fixed = outputs
    assert "newest item date: — (no_dates)" in detected
    assert ('list: "table.jyxx > tbody > tr"\n    date: "td.rq"\n    date_format: "%d/%m/%Y"' in explained)
    assert f"newest item date: {today - timedelta(days=4)}" in fixed
    [column] = [c for c in inventory["sites"][0]["columns"] if c["id"] == "s1-c8"]
    assert {k: column[k] for k in ("list", "date", "date_format")} == {
        k: entry[k] for k in ("list", "date", "date_format")}
    assert column["url"].endswith(entry["url"].removeprefix(base))
    [sheet_column] = [c for c in read_sheet(tmp_path / "栏目清单.xlsx").data["sites"][0]["columns"]
                      if c["name"] == "外事动态"]
    assert sheet_column["date_format"] == "%d/%m/%Y"
