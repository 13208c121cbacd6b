"""Run the CPU-bound list extractor in worker processes, off the event loop, with a time limit.

Parsing is the daemon's hottest CPU work, and a hostile page (a million nested tags, a huge
archive) must never stall the event loop: the deadline timers that deliver alerts at the crossing
instant run there. Each worker is a spawned process behind a pipe that the event loop watches
directly (no threads, so no GIL hand-offs per page). A page that takes longer than the limit gets
its worker killed and replaced, and comes back as an unreadable page. ``workers=0`` runs the
extractor inline (the one-shot ``govwatch probe``).

Other page analyses that must not stall the loop either (the link crawler's checks of a whole page) run
in the same workers as named jobs (``JOBS``), under the same time limit.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import multiprocessing
import signal
import time
from collections import deque
from datetime import date, datetime
from multiprocessing.connection import Connection
from typing import Any

import structlog

from monitor import list_override as override
from monitor.account_source import is_source
from monitor.extract import mapped
from monitor.extract.listpage import extract_list, extract_selected, with_suggestion
from monitor.model import EmptyReason, Item, ListResult

log = structlog.get_logger()
_CONTEXT = multiprocessing.get_context("spawn")
_UNREADABLE = ListResult(None, (), EmptyReason.NO_LIST)
MAX_DEATHS = 5
DEATH_WINDOW_S = 60.0


def parse_page(text: str, url: str, today: date, content_type: str | None, parser: str = "list",
               now: datetime | None = None) -> ListResult:
    """Read a fetched page with its target's parser: "list" (an HTML or JSON list page), "select:<override>"
    (a list page read by an operator's selectors, see monitor.list_override), "mapped:<mapping>" (a column's
    JSON source with its field mapping, see monitor.extract.mapped), "feed" (RSS, Atom, JSON Feed) or
    "json:<mapping>" (an account's JSON API), see monitor.account_source. ``now`` is the fetch instant (a
    feed's stamp of the moment it was rendered is told from a post's date with it)."""
    if parser == "list":
        return with_suggestion(extract_list(text, url, today, content_type), text, url, today)
    if parser.startswith(override.PARSER_PREFIX):
        return extract_selected(text, url, today, override.from_parser(parser))
    if parser.startswith("mapped:"):
        return mapped.read_list(text, url, today, json.loads(parser.removeprefix("mapped:")))
    from monitor.extract.accounts import (
        sources,  # lazy: workers that only read list pages never load the account readers
    )

    if is_source(parser):
        return sources.read(parser, text, url, today, content_type, now)
    raise ValueError(f"unknown parser {parser!r}")


def _parse_packed(*args: Any) -> tuple[Any, ...]:
    return _pack(parse_page(*args))


# Jobs a worker runs, by name: "module:function", imported in the worker on first use.
JOBS = {"page": "monitor.extract_pool:_parse_packed", "page_scan": "monitor.checks.links:scan_page"}


def _job(name: str) -> Any:
    module, _, function = JOBS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def _serve(conn: Connection) -> None:
    """Worker process main loop: one request, one answer, until the pipe closes.

    Ctrl-C and SIGTERM reach the whole process group; the daemon decides when its workers stop
    (it closes their pipes), so they ignore both.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        try:
            job, args = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", _job(job)(*args)))
        except Exception as exc:  # a bug in the extractor costs one page, never the worker
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    """One parser process; at most one page in flight."""

    def __init__(self, pool: ExtractPool) -> None:
        self.pool = pool
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child,), daemon=True, name="govwatch-extract")
        self.process.start()
        child.close()
        self.waiter: asyncio.Future[Any] | None = None
        self.url = ""
        self.deadline: asyncio.TimerHandle | None = None

    def submit(self, loop: asyncio.AbstractEventLoop, job: str, args: tuple[Any, ...],
               limit_s: float) -> asyncio.Future:
        """Hand a job (its second argument is the page's URL) to this worker; its answer, or None when it failed
        or ran out of time. Raise ``WorkerGone`` (after replacing it) if it died while idle."""
        self.url = args[1]
        try:
            self.conn.send((job, args))
        except OSError:
            log.error("extract_worker_died", url=self.url, while_idle=True)
            self.pool.replace(self, died=True)
            raise WorkerGone from None
        self.waiter = waiter = loop.create_future()
        loop.add_reader(self.conn.fileno(), self._answer)
        self.deadline = loop.call_later(limit_s, self._overrun, limit_s, len(args[0]))
        return waiter

    def _finish(self, result: Any) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.conn.fileno())
        if self.deadline:
            self.deadline.cancel()
        if self.waiter and not self.waiter.done():
            self.waiter.set_result(result)
        self.waiter = None

    def _answer(self) -> None:
        try:
            status, value = self.conn.recv()
        except (OSError, EOFError):
            log.error("extract_worker_died", url=self.url, while_idle=False)
            self._finish(None)
            self.pool.replace(self, died=True)
            return
        if status != "ok":
            log.error("extract_failed", url=self.url, error=value)
        self._finish(value if status == "ok" else None)
        self.pool.release(self)

    def _overrun(self, limit_s: float, chars: int) -> None:
        log.warning("extract_timeout", url=self.url, limit_s=limit_s, chars=chars)
        self._finish(None)
        self.pool.replace(self)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class WorkerGone(Exception):
    """A worker was found dead when handed a page; it has been replaced."""


class ExtractPool:
    def __init__(self, workers: int = 2, time_limit_s: float = 10.0) -> None:
        self.time_limit_s = time_limit_s
        self.size = workers
        self.workers = [_Worker(self) for _ in range(workers)]
        self._idle: deque[_Worker] = deque(self.workers)
        self._waiting: deque[asyncio.Future[_Worker | None]] = deque()
        self._deaths: deque[float] = deque()

    async def extract(
        self, text: str, url: str, today: date, content_type: str | None, parser: str = "list",
        now: datetime | None = None,
    ) -> ListResult:
        packed = await self.run("page", text, url, today, content_type, parser, now)
        return _UNREADABLE if packed is None else _unpack(packed)

    async def run(self, job: str, text: str, url: str, *args: Any) -> Any:
        """Run a job of ``JOBS`` on a page in a worker (inline when the pool has none); None when it failed or
        ran past the time limit."""
        call = (text, url, *args)
        for _ in range(self.size + 1):  # a worker found dead is replaced; the page goes to the next one
            worker = (self._idle.popleft() if self._idle else await self._wait_for_worker()) if self.size else None
            if worker is None:
                return _guarded(job, call)
            try:
                return await worker.submit(asyncio.get_running_loop(), job, call, self.time_limit_s)
            except WorkerGone:
                continue
        return None

    async def _wait_for_worker(self) -> _Worker | None:
        future: asyncio.Future[_Worker | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        return await future

    def release(self, worker: _Worker) -> None:
        if not self.size:  # degraded to inline parsing: no more workers
            worker.kill()
            self.workers.remove(worker)
            return
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(worker)
                return
        self._idle.append(worker)

    def replace(self, worker: _Worker, died: bool = False) -> None:
        """A fresh worker for one killed on its time limit or found dead.

        Workers that keep dying (MAX_DEATHS within DEATH_WINDOW_S: no memory, a broken install) would
        make a respawn loop and a daemon that stalls; the pool then parses inline, and says so.
        """
        worker.kill()
        self.workers.remove(worker)
        if died:
            now = time.monotonic()
            self._deaths.append(now)
            while self._deaths and now - self._deaths[0] > DEATH_WINDOW_S:
                self._deaths.popleft()
            if len(self._deaths) >= MAX_DEATHS and self.size:
                log.error("extract_pool_degraded", deaths=len(self._deaths), window_s=DEATH_WINDOW_S,
                          action="parsing inline from now on; restart the daemon once the cause is fixed")
                self.size = 0
                for idle in self._idle:
                    idle.kill()
                    self.workers.remove(idle)
                self._idle.clear()
                while self._waiting:
                    future = self._waiting.popleft()
                    if not future.done():
                        future.set_result(None)
                return
        if self.size:
            fresh = _Worker(self)
            self.workers.append(fresh)
            self.release(fresh)

    def close(self) -> None:
        for worker in self.workers:
            worker.conn.close()
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
        self.workers.clear()


def _pack(result: ListResult) -> tuple[Any, ...]:
    """Plain tuples cross the pipe several times faster than slotted dataclasses."""
    items = tuple((i.title, i.url, i.date, i.pinned, i.repost, i.off_duty) for i in result.items)
    return result.newest_date, items, result.reason, result.signature, result.suggestion


def _unpack(packed: tuple[Any, ...]) -> ListResult:
    newest, items, reason, signature, suggestion = packed
    return ListResult(newest, tuple(Item(*i) for i in items), reason, signature, suggestion)


def _guarded(job: str, args: tuple[Any, ...]) -> Any:
    try:
        return _job(job)(*args)
    except Exception:
        log.exception("extract_failed", url=args[1])
        return None
