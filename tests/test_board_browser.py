"""A real headless Chromium drives the wall view over the DevTools protocol (aiohttp websocket, no extra deps)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType

from tests.conftest import PageServer, list_page
from tests.test_board import HOSTILE, board, board_inventory
from tests.test_daemon import dated

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
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


async def _browser(tmp_path: Path) -> AsyncIterator[Page]:
    profile = tmp_path / "chromium-profile"
    assert CHROMIUM is not None
    proc = subprocess.Popen([
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1600,1000", "about:blank",
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


async def test_wall_view_in_chromium_updates_live_and_shows_hostile_titles_as_text(
    tmp_path: Path, page_server: PageServer,
) -> None:
    inv = board_inventory(tmp_path / "inv.yaml", page_server, site=f"{HOSTILE}网站")
    async with board(inv) as (monitor, _, base):
        browser = _browser(tmp_path)
        page = await anext(browser)
        try:
            await page.send("Page.enable")
            await page.send("Emulation.setDeviceMetricsOverride", width=1600, height=900, deviceScaleFactor=1,
                            mobile=False)
            await page.send("Page.navigate", url=base + "/")
            await page.wait_for("document.readyState === 'complete' && document.body.dataset.live === '1'")
            await page.js("window.__loaded_once = 42")

            counts = "[...document.querySelectorAll('[data-count]')].map(e => e.dataset.count + '=' + e.textContent)"
            assert await page.js(counts) == ["red=1", "yellow=0", "unknown=1", "green=1"]
            red_rows = "[...document.querySelectorAll('#red-list tr[data-id]')].map(tr => tr.innerText)"
            [red] = await page.js(red_rows)
            assert f"{HOSTILE}乡镇动态" in red and f"{HOSTILE}网站" in red and "16 天" in red
            assert await page.js("document.querySelector('#live').textContent") == "实时更新"

            page_server.set("/fresh/", list_page(dated(40)))  # green → red, pushed over /events
            await monitor.sweep_once()
            await page.wait_for("document.querySelector('[data-count=red]').textContent === '2'")
            assert await page.js(counts) == ["red=2", "yellow=0", "unknown=1", "green=0"]
            assert await page.js("window.__loaded_once") == 42  # updated in place, no reload
            rows = await page.js(red_rows)
            assert len(rows) == 2 and "26 天" in rows[0] and f"{HOSTILE}乡镇动态" in rows[1]
            assert await page.js("document.querySelector('section[data-list=red] h2').textContent") == "超期未更新（2）"
            assert await page.js("document.querySelectorAll('script').length") == 1  # only board.js
            assert await page.js("typeof window.pwned") == "undefined"
            assert await page.js("document.querySelector('#red-list a[href=\"/target/fresh\"]') !== null")

            ARTIFACTS.mkdir(exist_ok=True)
            shot = await page.send("Page.captureScreenshot", format="png")
            (ARTIFACTS / "board.png").write_bytes(base64.b64decode(shot["data"]))
            assert not [e for e in page.events if e.get("method") == "Page.frameNavigated"][1:]
        finally:
            await browser.aclose()
