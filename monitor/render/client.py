"""The daemon's side of the renderer: ``Renderer.render(url) -> FetchResult``.

The renderer process is started on the first page and stopped after ``idle_s`` without one (a browser at
rest still holds hundreds of megabytes; most script-built columns are read a few times a day). At most
``pages`` requests are in flight; the others wait here. A renderer that does not answer within the page's
time limit plus ``GRACE_S`` (a browser restart) is killed with its browser and the page counts as a timeout;
one that dies fails its pages in flight with ``FetchError.RENDER`` and is started afresh for the next page.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import sys
import time
from typing import Any

import structlog

from monitor.model import FetchError, FetchResult
from monitor.render import RenderSettings

log = structlog.get_logger()
GRACE_S = 45.0  # a browser launch (bounded at 30 s) and the previous one's close (10 s)


class RendererDied(Exception):
    """The renderer process exited with pages in flight."""


class _Process:
    """One renderer process and the replies it owes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.ended = False  # its stdout closed: it exited or is exiting
        self.reader = asyncio.create_task(self._read(), name="render-replies")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                reply = json.loads(line)
                future = self.waiting.pop(reply.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except (ValueError, asyncio.LimitOverrunError, ConnectionError) as exc:
            log.error("render_bad_reply", error=str(exc))
        finally:
            self.ended = True
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(RendererDied())
            self.waiting.clear()

    async def ask(self, request_id: int, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = future
        try:
            self.proc.stdin.write(json.dumps({"id": request_id, **body}).encode() + b"\n")
            await self.proc.stdin.drain()
        except (ConnectionError, RuntimeError):
            self.waiting.pop(request_id, None)
            raise RendererDied() from None
        try:
            return await asyncio.wait_for(future, timeout_s)
        finally:
            self.waiting.pop(request_id, None)

    @property
    def busy(self) -> bool:
        return bool(self.waiting)

    def kill(self) -> None:
        """Kill the renderer and every process under it (Playwright's driver, the browser's processes)."""
        import psutil  # the browser extra: a Renderer runs only where it is installed (monitor.render.missing)

        try:
            root = psutil.Process(self.proc.pid)
            tree = [*root.children(recursive=True), root]
        except psutil.NoSuchProcess:
            return
        for proc in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()

    async def stop(self, wait_s: float) -> None:
        """Close its stdin (it finishes its pages and exits); kill it if it is still there after ``wait_s``."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), wait_s)
        except TimeoutError:
            log.warning("render_kill", pid=self.proc.pid, reason="did not stop")
            self.kill()
            await self.proc.wait()
        await self.reader


class Renderer:
    def __init__(self, settings: RenderSettings | None = None) -> None:
        self.settings = settings or RenderSettings()
        self._current: _Process | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._gate = asyncio.Semaphore(self.settings.pages)
        self._start_lock = asyncio.Lock()
        self._idle: asyncio.TimerHandle | None = None

    @property
    def pid(self) -> int | None:
        """The renderer process's id while it runs (the browser's processes are under it)."""
        return self._current.proc.pid if self._current else None

    async def render(self, url: str) -> FetchResult:
        """The page at ``url`` as the browser shows it after its scripts ran, or a classified failure."""
        async with self._gate:
            started = time.perf_counter()
            try:
                reply = await self._ask({"url": url}, self.settings.timeout_s + GRACE_S)
            except TimeoutError:
                self._discard("no answer in time")
                return _failed(url, started, FetchError.TIMEOUT, f"渲染超时（{self.settings.timeout_s:g} 秒）")
            except RendererDied:
                return _failed(url, started, FetchError.RENDER, "浏览器渲染进程意外退出")
            except OSError as exc:
                return _failed(url, started, FetchError.RENDER, f"浏览器渲染进程无法启动：{exc}")
        elapsed = (time.perf_counter() - started) * 1000
        if not reply.get("ok"):
            return FetchResult(url, url, elapsed, status=reply.get("status"), error=FetchError(reply["error"]),
                               detail=reply.get("detail"))
        html = reply["html"]
        return FetchResult(url, reply["url"], elapsed, status=reply.get("status"), text=html,
                           charset=reply.get("charset"), content_type="text/html",
                           body_bytes=len(html.encode("utf-8", "replace")))

    async def stats(self) -> dict[str, Any]:
        """The running renderer's counts: launches, pages, restarts by reason, the browser's PSS and RSS (MB)."""
        return (await self._ask({"op": "stats"}, GRACE_S))["stats"]

    async def close(self) -> None:
        """Stop the renderer: pages in flight finish (bounded), then it exits with its browser."""
        if self._idle:
            self._idle.cancel()
        if self._current is not None:
            self._retire()
        if self._stopping:
            await asyncio.gather(*self._stopping)

    async def _ask(self, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if self._idle:
            self._idle.cancel()
        process = await self._process()
        try:
            return await process.ask(next(self._ids), body, timeout_s)
        finally:
            if self._current is process and not process.busy:
                if self._idle:
                    self._idle.cancel()
                self._idle = asyncio.get_running_loop().call_later(self.settings.idle_s, self._on_idle)

    async def _process(self) -> _Process:
        async with self._start_lock:
            if self._current is None or self._current.ended:
                level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()  # the daemon's
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "monitor.render.server", json.dumps(self.settings.to_json()), level,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    start_new_session=True, limit=4 * self.settings.max_chars + (1 << 20),
                )
                log.info("render_started", pid=proc.pid)
                self._current = _Process(proc)
            return self._current

    def _on_idle(self) -> None:
        if self._current is not None and not self._current.busy:
            log.info("render_idle_stop", pid=self._current.proc.pid, idle_s=self.settings.idle_s)
            self._retire()

    def _retire(self, wait_s: float | None = None) -> None:
        process, self._current = self._current, None
        assert process is not None
        task = asyncio.create_task(process.stop(self.settings.timeout_s + GRACE_S if wait_s is None else wait_s))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _discard(self, why: str) -> None:
        """A renderer that stopped answering: killed with its browser; the next page starts a new one."""
        if self._current is not None:
            log.error("render_kill", pid=self._current.proc.pid, reason=why)
            self._current.kill()
            self._retire(wait_s=5)


def _failed(url: str, started: float, error: FetchError, detail: str) -> FetchResult:
    return FetchResult(url, url, (time.perf_counter() - started) * 1000, error=error, detail=detail)
