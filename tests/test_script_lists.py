"""Lists built by script, end to end: the real daemon with real SQLite reads a county site's script-built column on
127.0.0.1 through its JSON source (no browser) and through the headless browser (``render: browser``); without a
browser such a column is unknown with the reason, and check-config says so."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from monitor import cli, config
from monitor.demo.command import DEMO_SITE_PORT
from monitor.demo.fleet import Fleet, demo_fleet
from monitor.evaluate import TZ, Reason
from monitor.model import State
from monitor.render import MISSING, missing
from monitor.service import monitoring, reload_inventory
from tests.conftest import PageServer, list_page
from tests.script_pages import api_body, notices, script_built_page
from tests.test_cli_web import run_cli
from tests.test_daemon import dated
from tests.test_reload import until

TODAY = datetime.now(TZ).date()
PAGE, API = "/col/col1229/index.html", "/api/col1229/list"
MAPPING = {"items": "data.records", "title": "docTitle", "url": "link", "date": "pubDate"}
needs_browser = pytest.mark.skipif(bool(missing()) and not os.environ.get("CI"),
                                   reason=f"{missing()} (CI installs it)")


def inventory(path: Path, server: PageServer, columns: list[dict], **settings: object) -> Path:
    data = {
        "settings": {"store": str(path.parent / "govwatch.sqlite3"), "checks": [],
                     "fetch": {"timeout": "10s", "per_host_interval": "0s"}, **settings},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室"}],
        "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": server.url("/"),
                   "check_homepage": False, "columns": columns}],
    }
    YAML().dump(data, path)
    return path


def serve_script_built(server: PageServer, newest_days_ago: int, page: str = PAGE, api: str = API) -> None:
    server.set(page, script_built_page(api))
    server.set(api, api_body(notices(TODAY - timedelta(days=newest_days_ago))),
               content_type="application/json; charset=utf-8")


async def test_json_source_column_reads_the_api_behind_the_list(tmp_path: Path, page_server: PageServer) -> None:
    serve_script_built(page_server, 20)
    path = inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "api", "name": "工作动态", "url": page_server.url(PAGE), "category": "动态要闻",
         "source": {"kind": "json", "url": page_server.url(API), "mapping": MAPPING}},
        {"id": "page", "name": "工作动态（页面）", "url": page_server.url(PAGE), "category": "动态要闻"},
    ])
    async with monitoring(config.load(path)) as monitor:
        await monitor.sweep_once()
        api, page = monitor.tracked["api"].verdict, monitor.tracked["page"].verdict
    # The API's dates judge the column as a list page's would: 20 days without an item is red under 2 weeks.
    assert (api.state, api.newest_date, api.reasons) == (State.RED, TODAY - timedelta(days=20), (Reason.STALE,))
    assert (page.state, page.reasons) == (State.UNKNOWN, (Reason.JS_RENDERED,))  # the page alone cannot tell
    assert page_server.hits == {API: 1, PAGE: 1}  # the source column read its API, never its page
    with sqlite3.connect(tmp_path / "govwatch.sqlite3") as db:
        items = db.execute("SELECT url, date FROM items JOIN subjects ON key = subject WHERE name = 'api'"
                           " ORDER BY date DESC").fetchall()
        board_url = db.execute("SELECT url FROM targets WHERE id = 'api'").fetchone()[0]
    assert len(items) == 7 and items[0][1] == (TODAY - timedelta(days=20)).isoformat()
    assert items[0][0].startswith(page_server.url("/art/"))
    assert board_url == page_server.url(PAGE)  # alerts and the board link the column's page, not its API


@needs_browser
async def test_render_browser_column_is_read_through_chromium(tmp_path: Path, page_server: PageServer) -> None:
    serve_script_built(page_server, 2)
    path = inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "rendered", "name": "通知公告", "url": page_server.url(PAGE), "category": "通知公告",
         "render": "browser"},
    ])
    async with monitoring(config.load(path)) as monitor:
        await monitor.sweep_once()
        verdict = monitor.tracked["rendered"].verdict
        browser = monitor.browser
    assert (verdict.state, verdict.newest_date) == (State.GREEN, TODAY - timedelta(days=2))
    assert page_server.hits[PAGE] == 1 and page_server.hits[API] == 1  # the page's own script fetched its list
    assert browser.pid is None  # the renderer stopped with the daemon
    with sqlite3.connect(tmp_path / "govwatch.sqlite3") as db:
        observed = db.execute("SELECT newest_date, reason, error, item_count FROM probes AS p"
                              " JOIN results AS r ON r.id = p.result").fetchall()
        titles = [t for (t,) in db.execute("SELECT title FROM items ORDER BY date DESC")]
    assert observed == [((TODAY - timedelta(days=2)).isoformat(), None, None, 7)]
    assert titles[0] == "关于印发《青溪县2027年优化营商环境工作要点》的通知"


async def test_without_a_browser_the_column_is_unknown_with_the_reason(
    tmp_path: Path, page_server: PageServer, capsys: pytest.CaptureFixture[str],
) -> None:
    serve_script_built(page_server, 2)
    page_server.set("/col/plain/", list_page(dated(1)))
    path = inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "rendered", "name": "通知公告", "url": page_server.url(PAGE), "category": "通知公告",
         "render": "browser"},
        {"id": "plain", "name": "工作动态", "url": page_server.url("/col/plain/"), "category": "动态要闻"},
    ], render={"chromium": "/nonexistent/chromium"})
    assert cli.main(["check-config", str(path)]) == 0  # valid: it runs, and says what is missing
    said = capsys.readouterr().out
    assert "1 个栏目标记为 render: browser（rendered）" in said and MISSING in said
    assert "未找到 /nonexistent/chromium" in said
    async with monitoring(config.load(path)) as monitor:
        await monitor.sweep_once()
        rendered, plain = monitor.tracked["rendered"].verdict, monitor.tracked["plain"].verdict
    assert (rendered.state, rendered.reasons) == (State.UNKNOWN, (Reason.NEEDS_BROWSER,))
    assert rendered.detail.startswith(MISSING) and "未找到 /nonexistent/chromium" in rendered.detail
    assert plain.state is State.GREEN  # the daemon runs as ever
    assert PAGE not in page_server.hits  # never guessed from the unrendered page
    async with monitoring(config.load(path)) as monitor:  # the reason survives a restart (stored with the probe)
        assert monitor.tracked["rendered"].verdict.reasons == (Reason.NEEDS_BROWSER,)


@needs_browser
async def test_probe_renders_one_page(page_server: PageServer) -> None:
    serve_script_built(page_server, 3)
    done = await asyncio.to_thread(run_cli, "probe", page_server.url(PAGE), "--render", "browser", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["render"] == "browser" and out["newest_date"] == (TODAY - timedelta(days=3)).isoformat()
    assert len(out["items"]) == 7 and out["reason"] is None


def test_render_and_source_are_validated_with_their_line(tmp_path: Path, page_server: PageServer) -> None:
    url = "http://127.0.0.1:9/col/1/"
    path = inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "a", "name": "通知公告", "url": url, "category": "通知公告", "render": "chrome"},
        {"id": "b", "name": "工作动态", "url": url + "b", "category": "动态要闻", "render": "browser",
         "source": {"kind": "json", "url": url + "api", "mapping": MAPPING}},
        {"id": "c", "name": "政策文件", "url": url + "c", "category": "政策文件",
         "source": {"kind": "rss", "url": url + "rss"}},
        {"id": "d", "name": "人事信息", "url": url + "d", "category": "人事信息",
         "source": {"kind": "json", "url": url + "api", "mapping": {"items": "data.list", "title": "title"}}},
        {"id": "e", "name": "规划计划", "url": url + "e", "category": "规划计划",
         "source": {"kind": "json", "url": url + "api", "mapping": {**MAPPING, "text": "content"}}},
        {"id": "f", "name": "工作动态", "url": url + "f", "category": "动态要闻", "list": "ul.list > li",
         "source": {"kind": "json", "url": url + "api", "mapping": MAPPING}},
    ])
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    problems = {p.field: (p.line, p.message) for p in caught.value.problems}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "write render: browser" in problems["sites[0].columns[0].render"][1]
    assert "render: chrome" in lines[problems["sites[0].columns[0].render"][0] - 1]
    assert "two ways" in problems["sites[0].columns[1]"][1]
    assert "feeds (rss, atom) are for accounts" in problems["sites[0].columns[2].source.kind"][1]
    assert "needs mapping" in problems["sites[0].columns[3].source"][1]
    assert "unknown mapping fields ['text']" in problems["sites[0].columns[4].source"][1]
    assert "a column with source: reads its JSON by the mapping" in problems["sites[0].columns[5]"][1]


@needs_browser
async def test_renders_under_the_services_memory_deny_write_execute(page_server: PageServer) -> None:
    """deploy/govwatch.service has MemoryDenyWriteExecute=yes; the kernel's PR_SET_MDWE is the same rule, kept by
    every process started below (the renderer, Playwright's driver, Chromium): none may map memory both writable
    and executable, which V8's JIT does."""
    serve_script_built(page_server, 4)
    under_mdwe = ("import ctypes, os, sys\n"
                  "if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)\n"
                  "os.execv(sys.executable, [sys.executable, '-m', 'monitor.cli', *sys.argv[1:]])")
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", under_mdwe, "probe", page_server.url(PAGE),
                                                    "--render", "browser", "--json"],
                                   capture_output=True, text=True, timeout=120)
    if done.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["newest_date"] == (TODAY - timedelta(days=4)).isoformat()


@needs_browser
async def test_readme_render_example_runs_against_the_demo() -> None:
    """The README's ``probe … --render browser`` example names the demo's first site's column read by the browser."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    [path] = re.findall(rf"govwatch probe http://127.0.0.1:{DEMO_SITE_PORT}(/\S+) --render browser --json", readme)
    async with Fleet(demo_fleet(TODAY), TODAY) as fleet:  # any free port: the demo may be running here
        done = await asyncio.to_thread(run_cli, "probe", fleet.url(0, path), "--render", "browser", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["newest_date"] == (TODAY - timedelta(days=5)).isoformat()  # 视频新闻


async def test_a_reload_that_points_a_column_at_its_source_reads_it_at_once(
    tmp_path: Path, page_server: PageServer,
) -> None:
    serve_script_built(page_server, 20)
    column = {"id": "c", "name": "工作动态", "url": page_server.url(PAGE), "category": "动态要闻"}
    path = inventory(tmp_path / "inv.yaml", page_server, [column])
    async with monitoring(config.load(path)) as monitor:
        monitor.start()
        await until(lambda: monitor.tracked["c"].verdict.reasons == (Reason.JS_RENDERED,))
        inventory(path, page_server, [{**column, "source": {"kind": "json", "url": page_server.url(API),
                                                             "mapping": MAPPING}}])
        assert await reload_inventory(monitor, str(path))
        await until(lambda: monitor.tracked["c"].verdict.state is State.RED)  # probed again now, not in 3 hours
    assert page_server.hits == {PAGE: 1, API: 1}
