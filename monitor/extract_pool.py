"""Run the CPU-bound list extractor in worker processes, off the event loop, with a time limit.

Parsing is the daemon's hottest CPU work, and a hostile page (a million nested tags, a huge
archive) must never stall the event loop: the deadline timers that deliver alerts at the crossing
instant run there. Each worker is a spawned process behind a pipe; a page that takes longer than
the limit gets its worker killed and replaced, and comes back as an unreadable page.
``workers=0`` runs the extractor inline (the one-shot ``govwatch probe``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from multiprocessing.connection import Connection
from typing import Any

import structlog

from monitor.extract.listpage import extract_list
from monitor.model import EmptyReason, ListResult

log = structlog.get_logger()
_CONTEXT = multiprocessing.get_context("spawn")


def _serve(conn: Connection) -> None:
    """Worker process main loop: one request, one answer, until the pipe closes."""
    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", extract_list(*args)))
        except Exception as exc:  # a bug in the extractor costs one page, never the worker
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child,), daemon=True, name="govwatch-extract")
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class ExtractPool:
    def __init__(self, workers: int = 2, time_limit_s: float = 10.0) -> None:
        self.time_limit_s = time_limit_s
        self.size = workers
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") if workers else None
        for _ in range(workers):
            self._add_worker()

    def _add_worker(self) -> None:
        worker = _Worker()
        self._all.append(worker)
        self._idle.put(worker)

    async def extract(self, text: str, url: str, today: date, content_type: str | None) -> ListResult:
        args = (text, url, today, content_type)
        if self._threads is None:
            return _guarded(args)
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._run, args)

    def _run(self, args: tuple[Any, ...]) -> ListResult:
        """Blocking call on a pool thread: hand the page to an idle worker and wait for its answer."""
        worker = self._idle.get()
        try:
            worker.conn.send(args)
            if worker.conn.poll(self.time_limit_s):
                status, value = worker.conn.recv()
                self._idle.put(worker)
                if status == "ok":
                    return value
                log.error("extract_failed", url=args[1], error=value)
                return ListResult(None, (), EmptyReason.NO_LIST)
            log.warning("extract_timeout", url=args[1], limit_s=self.time_limit_s, chars=len(args[0]))
        except (OSError, EOFError):
            log.exception("extract_worker_died", url=args[1])
        self._replace(worker)
        return ListResult(None, (), EmptyReason.NO_LIST)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._all.remove(worker)
        self._add_worker()

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
        for worker in self._all:
            worker.conn.close()
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
        self._all.clear()


def _guarded(args: tuple[Any, ...]) -> ListResult:
    try:
        return extract_list(*args)
    except Exception:
        log.exception("extract_failed", url=args[1])
        return ListResult(None, (), EmptyReason.NO_LIST)
