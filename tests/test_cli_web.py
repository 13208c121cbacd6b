"""The command line and the board, run for real: probe against a loopback server, demo, board escaping."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from aiohttp import ClientSession
from ruamel.yaml import YAML

from monitor.demo.command import DEMO_SITE_PORT
from monitor.demo.fleet import Fleet, demo_fleet
from monitor.service import monitoring
from monitor.web.app import serve
from tests.conftest import PageServer, list_page
from tests.test_daemon import TODAY, dated, write_inventory


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


async def test_probe_json(page_server: PageServer) -> None:
    page_server.set("/gbk/", list_page(dated(5)).replace('charset="utf-8"', 'charset="gb2312"').encode("gb18030"),
                    content_type="text/html")  # GBK bytes, no charset in the header
    page_server.set("/empty/", list_page([]).replace("<ul class=\"list\"></ul>", "<ul class=\"list\">暂无信息</ul>"))
    out = await _async_cli("probe", page_server.url("/gbk/"), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["newest_date"] == (TODAY - timedelta(days=5)).isoformat()
    assert result["status"] == 200 and result["charset"] == "gb18030" and result["fetch_ms"] > 0
    assert len(result["items"]) == 15 and result["items"][0]["title"] == "关于做好第0项重点工作的通知"
    assert result["items"][0]["url"].startswith(page_server.url("/gbk/"))

    empty = json.loads((await _async_cli("probe", page_server.url("/empty/"), "--json")).stdout)
    assert empty["newest_date"] is None and empty["reason"] == "empty"

    missing = await _async_cli("probe", page_server.url("/nothing/"), "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"] == "http_status"


async def _async_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a thread so the loopback server in this event loop keeps answering."""
    return await asyncio.to_thread(run_cli, *args)


def test_demo_once_shows_all_four_states(tmp_path: Path) -> None:
    out = run_cli("demo", "--once", "--dir", str(tmp_path), timeout=180)
    assert out.returncode == 0, out.stderr
    last = next(line for line in out.stdout.splitlines() if line.startswith("正常 green:") or "超期 red:" in line)
    counts = dict(part.rsplit(" ", 1) for part in last.split("  "))
    for state in ("超期 red:", "预警 yellow:", "未知 unknown:", "正常 green:"):
        assert int(counts[state]) > 0, last
    assert "空白栏目" in out.stdout and "页面无法访问" in out.stdout and "栏目列表由脚本生成" in out.stdout
    # the other checks' findings: the hacked homepage, its misused word, broken links, the accounts
    findings = out.stdout.split("监测发现 findings:", 1)[1]
    for expected in ("首页暗链：「澳门葡京娱乐城」", "「迎峰渡夏」，应为「迎峰度夏」",
                     "首页确定不可用链接：「关于本网」", "服务菜单链接全部失效", "单项否决 互动回应差",
                     "留言超期未回复：「村道路面破损严重何时维修」"):
        assert expected in findings, findings
    assert (tmp_path / "govwatch.sqlite3").exists()
    # Its columns as an office's sheet, which import-excel turns back into an inventory.
    imported = run_cli("import-excel", str(tmp_path / "栏目清单.xlsx"), "-o", str(tmp_path / "imported.yaml"))
    assert imported.returncode == 0, imported.stderr
    demo_urls = {c["url"] for s in YAML(typ="safe").load(tmp_path / "inventory.yaml")["sites"] for c in s["columns"]}
    sheet_urls = {c["url"] for s in YAML(typ="safe").load(tmp_path / "imported.yaml")["sites"] for c in s["columns"]}
    assert sheet_urls == demo_urls and len(demo_urls) > 20


def test_demo_without_dir_leaves_no_folder(tmp_path: Path) -> None:
    """The temporary folder goes on exit: after --once, and after Ctrl-C of the running demo."""
    once = run_cli("demo", "--once", timeout=180, env={"TMPDIR": str(tmp_path)})
    assert once.returncode == 0, once.stderr
    assert list(tmp_path.iterdir()) == []
    demo = subprocess.Popen([sys.executable, "-m", "monitor.cli", "demo", "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        assert demo.stdout is not None and demo.stderr is not None
        banner = demo.stdout.readline() + demo.stdout.readline()
        assert "退出时删除" in banner and "try: govwatch probe http://127.0.0.1:" in banner, banner
        [folder] = tmp_path.iterdir()
        assert (folder / "inventory.yaml").exists() and (folder / "栏目清单.xlsx").exists()
        while '"event": "started"' not in (line := demo.stderr.readline()):
            assert line, "the demo ended before it started"
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        demo.communicate(timeout=60)
        assert demo.returncode == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert list(tmp_path.iterdir()) == []


async def test_readme_examples_run_against_the_demo() -> None:
    """The README's probe and check-page examples name the demo's first site (on DEMO_SITE_PORT when free)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    base = f"http://127.0.0.1:{DEMO_SITE_PORT}"
    [path] = re.findall(rf"govwatch probe {base}(/\S+) --json", readme)
    assert f"govwatch check-page {base}/ " in readme
    async with Fleet(demo_fleet(TODAY), TODAY) as fleet:  # any free port: the demo may be running here
        probed = await _async_cli("probe", fleet.url(0, path), "--json")
        page = await _async_cli("check-page", fleet.url(0, "/"), "--json")
    assert probed.returncode == 0, probed.stderr
    assert json.loads(probed.stdout)["newest_date"] == (TODAY - timedelta(days=1)).isoformat()  # 工作动态
    assert page.returncode in (0, 1) and json.loads(page.stdout), page.stderr


async def test_board_escapes_hostile_titles_and_serves_json(tmp_path: Path, page_server: PageServer) -> None:
    page_server.set("/col/", list_page(dated(30)))
    inv = write_inventory(tmp_path / "inv.yaml", page_server, [
        {"id": "c1", "name": "<script>alert('x')</script>动态", "url": page_server.url("/col/"),
         "category": "动态要闻"},
    ])
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()
        runner = await serve(monitor, "127.0.0.1", 0)
        port = runner.addresses[0][1]
        try:
            async with ClientSession() as http:
                html = await (await http.get(f"http://127.0.0.1:{port}/")).text()
                api = await (await http.get(f"http://127.0.0.1:{port}/api/columns")).json()
                red = await (await http.get(f"http://127.0.0.1:{port}/api/columns?state=red")).json()
                green = await (await http.get(f"http://127.0.0.1:{port}/api/columns?state=green")).json()
        finally:
            await runner.cleanup()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;动态" in html
    assert "超期未更新（1）" in html and "16 天" in html
    [row] = api
    assert row["state"] == "red" and row["days_overdue"] == 16 and row["column"].startswith("<script>")
    assert row["newest_date"] == (TODAY - timedelta(days=30)).isoformat()
    assert red == api and green == []


async def test_a_service_started_with_checks_now_shows_findings_at_once(
        tmp_path: Path, page_server: PageServer) -> None:
    """``govwatch demo`` runs every check once at start; a daemon otherwise spreads first runs over an hour."""
    import socket

    from monitor.service import run_service

    page_server.set("/", "<html><body><p>首页</p>"
                         '<div style="position:absolute;left:-9999px"><a href="http://127.0.0.3/bet">澳门葡京娱乐城</a></div>'
                         "</body></html>")
    inv = write_inventory(tmp_path / "inv.yaml", page_server, [], checks=["links"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(inv, listen=f"127.0.0.1:{port}", stop=stop, checks_now=True))
    try:
        async with ClientSession() as http:
            found = []
            for _ in range(100):  # without checks_now the crawl would come at a random time within the hour
                await asyncio.sleep(0.1)
                try:
                    found = await (await http.get(f"http://127.0.0.1:{port}/api/findings?check=hidden_link")).json()
                except OSError:
                    continue
                if found:
                    break
        assert [f["title"] for f in found] == ["首页暗链：「澳门葡京娱乐城」"], found
    finally:
        stop.set()
        assert await service == 0
