"""The renderer process: ``python -m monitor.render.server '<settings JSON>' [log level]``.

One JSON request per line on stdin, one JSON reply per line on stdout, in any order (replies carry the
request's ``id``); it exits when stdin closes, after the pages in flight. Requests:

- ``{"id": 1, "url": "http://…"}`` → ``{"id": 1, "ok": true, "url": final URL, "status": 200, "html": …,
  "ms": …}`` or ``{"id": 1, "ok": false, "error": "timeout" | "connect" | … | "render", "detail": …}``
  (``error`` is a ``monitor.model.FetchError`` value);
- ``{"id": 2, "op": "stats"}`` → ``{"id": 2, "ok": true, "stats": {launches, pages, restarts, memory}}``.

Each page gets a fresh browser context (no cookies or cache carried between pages); images, fonts and
media are never requested. One browser serves the pages and is replaced, once the pages in flight are done,
after ``max_pages`` pages, when its processes' PSS passes ``max_memory_mb``, after ``max_age_s``, or when it
crashed. Chromium's flags keep it off the network except for the page: without the background-networking
flags its own connections (updates, sync, metrics) go out to hosts a closed network refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
from typing import Any

import structlog
from playwright.async_api import Browser, Playwright, Route, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from monitor import logs
from monitor.render import RenderSettings
from monitor.render.memory import tree_memory

log = structlog.get_logger()

# The user-data-dir is Playwright's: a fresh temporary profile for every launch, removed on close. V8 runs
# without its JIT, here and in Playwright's driver (NODE_OPTIONS, set in main): the service's sandbox
# (MemoryDenyWriteExecute=yes) refuses the writable-and-executable memory a JIT needs, and a list page's
# scripts are small enough that the interpreter renders them as fast (bench/render.py).
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--js-flags=--jitless",
)
BLOCKED = frozenset({"image", "font", "media"})
_NET_ERROR = re.compile(r"net::(ERR_[A-Z_]+)")
# Chromium's network errors (net/base/net_error_list.h) by the fetcher's failure classes.
_NET_CLASSES = (
    ("ERR_NAME_NOT_RESOLVED", "dns"), ("ERR_NAME_RESOLUTION_FAILED", "dns"),
    ("ERR_CONNECTION_TIMED_OUT", "timeout"), ("ERR_TIMED_OUT", "timeout"),
    ("ERR_CERT_", "tls"), ("ERR_SSL_", "tls"), ("ERR_BAD_SSL_", "tls"),
    ("ERR_TOO_MANY_REDIRECTS", "too_many_redirects"),
    ("ERR_INVALID_URL", "invalid_url"), ("ERR_UNSAFE_", "invalid_url"), ("ERR_DISALLOWED_URL_SCHEME", "invalid_url"),
    ("ERR_CONNECTION_", "connect"), ("ERR_ADDRESS_", "connect"), ("ERR_EMPTY_RESPONSE", "connect"),
    ("ERR_INTERNET_DISCONNECTED", "connect"), ("ERR_NETWORK_", "connect"),
)


def classify(message: str) -> tuple[str, str]:
    """The failure class and a short detail of a navigation error (a Playwright error's message)."""
    found = _NET_ERROR.search(message)
    if found is None:
        return "render", "浏览器渲染失败：" + message.strip().splitlines()[0][:200]
    code = found.group(1)
    for prefix, error in _NET_CLASSES:
        if code.startswith(prefix):
            return error, code
    return "render", f"浏览器渲染失败：{code}"


class Keeper:
    """One browser at a time, launched on first need and replaced when a restart is due."""

    def __init__(self, playwright: Playwright, settings: RenderSettings) -> None:
        self.playwright = playwright
        self.settings = settings
        self.browser: Browser | None = None
        self.launched_at = 0.0
        self.pages = 0  # pages of the current browser
        self.active = 0
        self.over_memory = False
        self.cond = asyncio.Condition()
        self.stats: dict[str, Any] = {"launches": 0, "pages": 0, "restarts": {}, "pss_mb": 0.0, "rss_mb": 0.0}

    def _due(self) -> str | None:
        """Why the browser must be (re)launched before the next page, or None."""
        s = self.settings
        if self.browser is None:
            return "start"
        if not self.browser.is_connected():
            return "crashed"
        if self.pages >= s.max_pages:
            return "pages"
        if self.over_memory:
            return "memory"
        if time.monotonic() - self.launched_at >= s.max_age_s:
            return "age"
        return None

    async def acquire(self) -> Browser:
        """The browser for one more page; a due restart waits until the pages in flight are done."""
        async with self.cond:
            while (why := self._due()) is not None and self.active:
                await self.cond.wait()
            if why is not None:
                await self._launch(why)
            assert self.browser is not None
            self.active += 1
            return self.browser

    async def release(self) -> None:
        async with self.cond:
            self.active -= 1
            self.pages += 1
            self.stats["pages"] += 1
            memory = tree_memory(os.getpid(), include_self=False)
            self.stats.update(pss_mb=round(memory.pss_mb, 1), rss_mb=round(memory.rss_mb, 1))
            self.over_memory = memory.pss_mb > self.settings.max_memory_mb
            self.cond.notify_all()

    async def _launch(self, why: str) -> None:
        await self.close()
        if why != "start":
            self.stats["restarts"][why] = self.stats["restarts"].get(why, 0) + 1
            log.info("render_browser_restart", reason=why, pages=self.pages)
        self.browser = await self.playwright.chromium.launch(
            executable_path=self.settings.chromium, args=list(CHROMIUM_ARGS), chromium_sandbox=False,
            timeout=30_000, handle_sigint=False, handle_sigterm=False, handle_sighup=False,
        )
        self.launched_at = time.monotonic()
        self.pages = 0
        self.over_memory = False
        self.stats["launches"] += 1

    async def close(self) -> None:
        browser, self.browser = self.browser, None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), 10)
            except (PlaywrightError, TimeoutError) as exc:
                log.warning("render_browser_close_failed", error=str(exc))


async def _block(route: Route) -> None:
    if route.request.resource_type in BLOCKED:
        await route.abort("blockedbyclient")
    else:
        await route.continue_()


async def render(keeper: Keeper, url: str) -> dict[str, Any]:
    """One page through the browser: its rendered HTML, or a classified failure."""
    s = keeper.settings
    started = time.monotonic()
    try:
        browser = await keeper.acquire()
    except PlaywrightError as exc:
        return {"ok": False, "error": "render", "detail": "浏览器启动失败：" + str(exc).strip().splitlines()[0][:200]}
    try:
        context = await browser.new_context(user_agent=s.user_agent, service_workers="block")
        try:
            await context.route("**/*", _block)
            page = await context.new_page()
            response = await page.goto(url, wait_until="load", timeout=s.timeout_s * 1000)
            if response is not None and response.status >= 400:
                return {"ok": False, "error": "http_status", "status": response.status,
                        "detail": f"HTTP {response.status} {response.status_text}".rstrip()}
            left = s.timeout_s - (time.monotonic() - started)
            if left > 0:  # its own XHRs (the list's JSON) after "load"; a page that polls forever is taken as it is
                with contextlib.suppress(PlaywrightTimeout):
                    await page.wait_for_load_state("networkidle", timeout=min(left, s.settle_s) * 1000)
            html = await asyncio.wait_for(page.content(), max(left, 1.0))
            charset = await asyncio.wait_for(page.evaluate("document.characterSet"), 5)
            return {"ok": True, "url": page.url, "status": response.status if response else None, "charset": charset,
                    "html": html[: s.max_chars], "ms": round((time.monotonic() - started) * 1000, 1)}
        finally:
            try:
                await asyncio.wait_for(context.close(), 10)
            except (PlaywrightError, TimeoutError):
                keeper.over_memory = True  # a context that will not close: start afresh after this page
    except (PlaywrightTimeout, TimeoutError):
        return {"ok": False, "error": "timeout", "detail": f"渲染超时（{s.timeout_s:g} 秒）"}
    except PlaywrightError as exc:
        error, detail = classify(str(exc))
        return {"ok": False, "error": error, "detail": detail}
    finally:
        await keeper.release()


async def serve(settings: RenderSettings) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer
    gate = asyncio.Semaphore(settings.pages)
    tasks: set[asyncio.Task[None]] = set()

    def reply(request_id: Any, body: dict[str, Any]) -> None:
        out.write(json.dumps({"id": request_id, **body}, ensure_ascii=False).encode() + b"\n")
        out.flush()

    async with async_playwright() as playwright:
        keeper = Keeper(playwright, settings)

        async def handle(request: dict[str, Any]) -> None:
            if request.get("op") == "stats":
                reply(request.get("id"), {"ok": True, "stats": keeper.stats})
                return
            async with gate:
                reply(request.get("id"), await render(keeper, str(request.get("url"))))

        while line := await reader.readline():
            try:
                request = json.loads(line)
            except ValueError:
                log.error("render_bad_request", line=line[:200].decode(errors="replace"))
                continue
            task = asyncio.create_task(handle(request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        await keeper.close()


def main() -> None:
    """The daemon starts this process in a session of its own and stops it by closing stdin; signals meant for
    the daemon (Ctrl-C, a service stop) are the daemon's to act on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.setup(sys.argv[2] if len(sys.argv) > 2 else "info")
    os.environ["NODE_OPTIONS"] = f"{os.environ.get('NODE_OPTIONS', '')} --jitless".strip()  # Playwright's driver
    fields = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    asyncio.run(serve(RenderSettings(**fields)))


if __name__ == "__main__":
    main()
