"""A real headless Chromium drives the board over the DevTools protocol (aiohttp websocket, no extra deps), at the
wall's 1920×1080: what is above the fold, horizontal overflow, words broken across lines, leftover "None"/"null",
live updates; at 30,000 columns too. Screenshots are kept in ``artifacts/`` (CI keeps them)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType

from bench.board import inventory as bench_inventory
from bench.board import populate
from monitor import config
from monitor.daemon import Monitor, Tracked
from monitor.demo.fleet import Fleet, demo_accounts, demo_fleet
from monitor.evaluate import TZ, History, Reason, evaluate
from monitor.model import Observation, State
from monitor.service import monitoring
from monitor.web import wall
from monitor.web.app import serve
from monitor.web.keys import EVENTS_KEY
from tests.conftest import PageServer, list_page
from tests.test_board import HOSTILE, board, board_inventory
from tests.test_daemon import dated

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WIDTH, HEIGHT = 1920, 1080  # the wall
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it: apt-get install "
                                                          "chromium)")


class Page:
    """One browser tab over the Chrome DevTools Protocol."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 30)
            assert msg.type is WSMsgType.TEXT, msg
            data = msg.json()
            if data.get("id") == call_id:
                assert "error" not in data, data
                return data["result"]
            self.events.append(data)

    async def js(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := await self.js(expression)):
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            await asyncio.sleep(0.1)
        return value

    async def open(self, url: str, width: int = WIDTH, height: int = HEIGHT) -> None:
        """Load ``url`` in a ``width``×``height`` viewport, fonts ready. The page it replaces is marked first: until
        the new document has replaced it, the old one (its readyState 'complete' too) must not be read."""
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                        mobile=False)
        await self.js("window.__replaced = true")
        await self.send("Page.navigate", url=url)
        await self.wait_for("!window.__replaced && document.readyState === 'complete' "
                            "&& document.fonts.status === 'loaded'")

    async def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = await self.send("Page.captureScreenshot", format="png")
        (ARTIFACTS / name).write_bytes(base64.b64decode(shot["data"]))

    async def layout(self) -> dict[str, Any]:
        """What a reader would see wrong: horizontal overflow, leftover None/null, words broken across lines."""
        return await self.js(LAYOUT)


# Every line break the browser made inside a text node, found by the top of each character's box: a break between
# two letters or digits of any script (页|面, 微信公|众号, 20|26) is a word broken in the middle.
LAYOUT = r"""(() => {
  const doc = document.documentElement, range = document.createRange(), letter = /[\p{L}\p{N}]/u;
  const broken = [];
  let wraps = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.data;
    let top = null, previous = " ";
    for (let i = 0; i < text.length; i++) {
      if (/\s/.test(text[i])) { previous = " "; continue; }
      range.setStart(node, i); range.setEnd(node, i + 1);
      const box = range.getClientRects()[0];
      if (!box || !box.width) continue;
      if (top !== null && box.top > top + 4) {
        wraps++;
        if (letter.test(previous) && letter.test(text[i])) {
          broken.push(text.slice(Math.max(0, i - 8), i) + "|" + text.slice(i, i + 8));
        }
      }
      top = box.top; previous = text[i];
    }
  }
  return {overflow: doc.scrollWidth - doc.clientWidth, broken, wraps,
          leftovers: document.body.innerText.match(/\b(None|null|undefined|NaN)\b/g) || []};
})()"""


def rows_of(table: str) -> str:
    return f"[...document.querySelectorAll('{table} tr[data-id]')].map(tr => tr.innerText)"


def bottom(selector: str) -> str:
    return f"document.querySelector('{selector}').getBoundingClientRect().bottom"


def top(selector: str) -> str:
    return f"document.querySelector('{selector}').getBoundingClientRect().top"


async def _browser(tmp_path: Path) -> AsyncIterator[Page]:
    profile = tmp_path / "chromium-profile"
    assert CHROMIUM is not None
    proc = subprocess.Popen([
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--remote-debugging-port=0", f"--window-size={WIDTH},{HEIGHT}", "about:blank",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with ClientSession() as http:
            targets = await (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            [tab] = [t for t in targets if t["type"] == "page"]
            async with http.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield Page(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()




async def test_wall_updates_live_and_shows_hostile_titles_as_text(tmp_path: Path, page_server: PageServer) -> None:
    inv = board_inventory(tmp_path / "inv.yaml", page_server, site=f"{HOSTILE}网站")
    async with board(inv) as (monitor, _, base):
        browser = _browser(tmp_path)
        page = await anext(browser)
        try:
            await page.send("Page.enable")
            await page.open(base + "/")
            await page.wait_for("document.body.dataset.live === '1'")
            await page.js("window.__loaded_once = 42")

            counts = "[...document.querySelectorAll('[data-count]')].map(e => e.dataset.count + '=' + e.textContent)"
            assert await page.js(counts) == ["red=1", "yellow=0", "unknown=1", "green=1"]
            [red] = await page.js(rows_of("#red-list"))
            assert f"{HOSTILE}乡镇动态" in red and f"{HOSTILE}网站" in red and "16 天" in red
            [unknown] = await page.js(rows_of("#unknown-list"))
            assert unknown.endswith("服务器错误（503）")  # in plain words; the technical detail is on its page
            assert await page.js("document.querySelector('#live').textContent") == "实时更新"

            page_server.set("/fresh/", list_page(dated(40)))  # green → red, pushed over /events
            await monitor.sweep_once()
            await page.wait_for("document.querySelector('[data-count=red]').textContent === '2'")
            assert await page.js(counts) == ["red=2", "yellow=0", "unknown=1", "green=0"]
            assert await page.js("window.__loaded_once") == 42  # updated in place, no reload
            rows = await page.js(rows_of("#red-list"))
            assert len(rows) == 2 and "26 天" in rows[0] and f"{HOSTILE}乡镇动态" in rows[1]
            assert await page.js("document.querySelector('#red-list tr.caption').textContent") == "超期未更新（2）"
            assert await page.js("document.querySelector('#red-list tr[data-id=fresh]').classList.contains('flash')")
            assert await page.js("document.querySelectorAll('script').length") == 1  # only board.js
            assert await page.js("typeof window.pwned") == "undefined"
            assert await page.js("document.querySelector('#red-list a[href=\"/target/fresh\"]') !== null")
            assert not [e for e in page.events if e.get("method") == "Page.frameNavigated"][1:]
        finally:
            await browser.aclose()


@pytest.fixture
async def demo_base(tmp_path: Path) -> AsyncIterator[tuple[Monitor, str]]:
    """The demo's fleet (every template, fresh, near, stale, blank, script-rendered and unreachable columns,
    accounts, findings), swept and checked once, its board on 127.0.0.1."""
    today = datetime.now(TZ).date()
    async with Fleet(demo_fleet(today), today, accounts=demo_accounts(today)) as fleet:
        path = tmp_path / "inventory.yaml"
        fleet.write_inventory(path, store=str(tmp_path / "govwatch.sqlite3"), fetch={"timeout": "5s",
                              "per_host_interval": "0s"}, links={"ignore": ["https://"], "retry_after": "1s"})
        async with monitoring(config.load(path)) as monitor:
            await monitor.sweep_once()
            await monitor.check_once()
            runner = await serve(monitor, "127.0.0.1", 0)
            try:
                yield monitor, f"http://127.0.0.1:{runner.addresses[0][1]}"
            finally:
                await runner.cleanup()


async def test_demo_wall_reads_from_across_the_room(tmp_path: Path, demo_base: tuple[Monitor, str]) -> None:
    monitor, base = demo_base
    blank = next(tid for tid, t in monitor.tracked.items() if t.verdict.reasons == (Reason.EMPTY,))
    refused = next(tid for tid, t in monitor.tracked.items() if "connection refused" in t.verdict.detail)
    browser = _browser(tmp_path)
    page = await anext(browser)
    try:
        await page.send("Page.enable")
        await page.open(base + "/")
        await page.wait_for("document.body.dataset.live === '1'")
        await page.screenshot("board-1920x1080.png")
        assert await page.js("document.querySelector('#wall').dataset.view") == "lists"
        # Red, then yellow, then unknown, all above the fold; the findings summary after them.
        for selector in ("#red-list", "#yellow-list", "#unknown-list"):
            assert await page.js(bottom(selector)) <= HEIGHT, selector
        assert (await page.js(top("#red-list")) < await page.js(top("#yellow-list"))
                < await page.js(top("#unknown-list")) < await page.js(top("#health")))
        assert await page.js("getComputedStyle(document.querySelector('#red-list td')).fontSize") == "26px"
        red = await page.js(rows_of("#red-list"))
        blank_row = await page.js(f"document.querySelector('#red-list tr[data-id=\"{blank}\"]').innerText")
        assert blank_row.endswith("空白栏目") and blank_row in red
        assert (await page.js(f"document.querySelector('tr[data-id=\"{refused}\"] td.last').textContent")
                == "连接被拒绝")
        layout = await page.layout()
        assert layout["overflow"] <= 0 and not layout["leftovers"] and not layout["broken"], layout

        pages = ["/findings", "/accounts", f"/target/{blank}", f"/target/{refused}", "/list/red", "/list/unknown",
                 f"/unit/{monitor.tracked[blank].target.unit_id}", "/messages", "/silences", "/ranking/units",
                 "/report", "/no/such/page", "/findings?status=nonsense", "/list/purple", "/list/yellow",
                 "/ranking/sites", "/unreadable", "/events/x"]
        # every finding's page (their evidence: a message not answered, a link's record, a share, …)
        pages += sorted(f"/finding/{uid}" for by_uid in monitor.findings.values() for uid in by_uid)
        assert len(pages) > 30
        for path in pages:
            await page.open(base + path)
            layout = await page.layout()
            assert layout["overflow"] <= 0 and not layout["leftovers"] and not layout["broken"], (path, layout)
            assert await page.js("document.querySelectorAll('header nav a').length") >= 6, path  # the navigation
        for path in ("/list/purple", "/events/x"):
            await page.open(base + path)
            assert await page.js("document.querySelector('#error').textContent") == "页面不存在（404）", path
        await page.open(base + f"/target/{refused}")
        facts = await page.js("document.querySelector('dl.facts').innerText")
        assert "连接被拒绝" in facts and "connection refused" in facts  # plain words, and the technical detail
        await page.open(base + "/findings?status=nonsense")
        assert await page.js("document.querySelector('#error').textContent") == "请求有误（400）"

        # Narrower screens wrap lines, never inside a word (页面, 打开, 待处理, 微信公众号 …).
        wrapped = 0
        words = {"/findings": ("页面", "打开", "待处理"), "/accounts": ("微信公众号", "待处理发现")}
        for path in ("/findings", "/accounts", f"/unit/{monitor.tracked[blank].target.unit_id}"):
            for width in (WIDTH, 1280, 1024):
                await page.open(base + path, width=width, height=800)
                layout = await page.layout()
                assert not layout["broken"], (path, width, layout["broken"])
                wrapped += layout["wraps"]
                text = await page.js("document.body.innerText")
                assert all(word in text for word in words.get(path, ())), path
            await page.open(base + path)
            await page.screenshot(f"{path.strip('/').replace('/', '-')}-1920x1080.png")
        assert wrapped > 20  # the narrow widths did wrap lines, so the check above had something to check
    finally:
        await browser.aclose()


async def test_wall_at_30000_columns_ranks_units_and_sites(tmp_path: Path) -> None:
    inv = bench_inventory(600, 50, tmp_path / "govwatch.sqlite3")
    async with monitoring(inv) as monitor:
        populate(monitor, 3000)
        runner = await serve(monitor, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        browser = _browser(tmp_path)
        page = await anext(browser)
        try:
            await page.send("Page.enable")
            await page.open(base + "/")
            await page.wait_for("document.body.dataset.live === '1'")
            await page.screenshot("board-30k-1920x1080.png")
            assert await page.js("document.querySelector('#wall').dataset.view") == "ranked"
            assert await page.js("document.querySelectorAll('#wall tr[data-id]').length") == 0  # no column rows
            for selector in ("section[data-rank=units] table", "section[data-rank=sites] table", ".lists-links"):
                assert await page.js(bottom(selector)) <= HEIGHT, selector
            cells = await page.js("[...document.querySelectorAll('tr[data-unit]')].map(tr => [tr.dataset.unit, "
                                  "tr.cells[1].innerText, Number(tr.cells[2].innerText)])")
            reds = Counter(t.target.unit_id for t in monitor.tracked.values() if t.verdict.state is State.RED)
            assert len(cells) == wall.RANK_ROWS and all(reds[unit] == red for unit, _, red in cells)
            keys = [(int(veto.split()[1]) if veto.startswith("单项否决") else 0, red) for _, veto, red in cells]
            assert keys == sorted(keys, reverse=True)  # most failed sites first, then most red columns
            layout = await page.layout()
            assert layout["overflow"] <= 0 and not layout["leftovers"] and not layout["broken"], layout

            # A change is pushed and the wall follows, still a few kB per refresh.
            red = await page.js("document.querySelector('[data-count=red]').textContent")
            tid, tracked = next((tid, t) for tid, t in monitor.tracked.items() if t.verdict.state is State.GREEN)
            newest = monitor.clock().date() - timedelta(days=400)
            obs = Observation(tid, monitor.clock(), 10.0, 200, newest_date=newest)
            stale = evaluate(tracked.target.rule, History(obs, obs, monitor.clock()), monitor.clock())
            monitor.tracked[tid] = Tracked(tracked.target, History(obs, obs, monitor.clock()), stale)
            runner.app[EVENTS_KEY].listener(tracked.target, stale, tracked.verdict)
            await page.wait_for(f"document.querySelector('[data-count=red]').textContent === '{int(red) + 1}'")

            await page.open(base + "/list/red?page=2")
            assert await page.js("document.querySelectorAll('#red-list tr[data-id]').length") == wall.PAGE_ROWS
            assert "第 51–100 项" in await page.js("document.querySelector('.pager').textContent")
            layout = await page.layout()
            assert layout["overflow"] <= 0 and not layout["leftovers"] and not layout["broken"], layout
        finally:
            await browser.aclose()
            await runner.cleanup()
