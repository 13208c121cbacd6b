"""The store writer: records queued by every part of the daemon, written in batches, one transaction each.

When the store keeps refusing (a full disk, a read-only file system, a database gone away) the writer holds what it
could not write, in order, and tries again with backoff until the cause goes; meanwhile it says so (``problem``:
the board's /healthz, the systemd STATUS line, the metrics). A restart would lose what it holds, so it never gives
up on its own. What it holds is bounded: beyond ``hold`` records a probe that changed nothing is refused (the
column is probed again anyway), beyond twice that every new record is; those are counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog

from monitor.records import CheckRunRecord, HealthProbeRecord, ProbeRecord, Record
from monitor.schedule import sleep_or_wake
from monitor.store import Store

log = structlog.get_logger()
WRITE_BATCH = 1000
WRITE_GATHER_S = 0.05
HOLD = 20_000  # records held while the store refuses them (about three hours of a province's 30,000 columns)
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0  # the writer notices the cause has gone within this long
STUCK_AFTER_S = 300.0  # one write that has not returned in this long: the store hangs (the watchdog stops)
DROP_LOG_EVERY_S = 60.0


def plain(record: Record) -> bool:
    """A record that only says a probe found its column as it was, or that a check ran: nothing else is lost when
    it is (at worst the check runs again early after a restart)."""
    if isinstance(record, HealthProbeRecord | CheckRunRecord):
        return True
    return (isinstance(record, ProbeRecord) and not record.changed and not record.items_changed
            and not record.outbox)


class StoreWriter:
    """Writes queued records in order, in batches; on a store error it holds them and retries. ``after_write``
    hooks run after each committed batch (the alert sender and MQTT wake up then)."""

    def __init__(self, store: Store, after_write: Sequence[Callable[[], None]], hold: int = HOLD) -> None:
        self.store = store
        self.after_write = after_write
        self.hold = hold
        self._held: deque[Record] = deque()
        self._arrived = asyncio.Event()
        self._retry = asyncio.Event()
        self._written = asyncio.Condition()
        self._accepted = 0  # records taken in so far
        self._done = 0  # of those, written
        self.failures = 0  # failed write attempts since start
        self.dropped = 0  # records refused since start (the store refused what came before them for too long)
        self.failing_since: datetime | None = None  # the first failure of the current episode, None when writing
        self.cause: str | None = None  # the last failure's error, as the store gave it
        self.changed = asyncio.Event()  # set when the writer starts or stops failing
        self._attempt_started: float | None = None  # monotonic start of the write in flight
        self._drop_logged = 0.0

    def enqueue(self, record: Record) -> None:
        """Queue a record for the store's next batch (refused, counted and logged beyond the bound)."""
        if len(self._held) >= self.hold and (plain(record) or len(self._held) >= 2 * self.hold):
            self.dropped += 1
            if (now := time.monotonic()) - self._drop_logged >= DROP_LOG_EVERY_S:
                self._drop_logged = now
                log.error("store_records_dropped", dropped=self.dropped, held=len(self._held), cause=self.cause)
            return
        self._held.append(record)
        self._accepted += 1
        self._arrived.set()

    def retry_now(self) -> None:
        """Try the held records again now rather than after the backoff (on stop)."""
        self._retry.set()

    @property
    def queued(self) -> int:
        """Records taken in and not written yet."""
        return len(self._held)

    def stuck(self, after_s: float = STUCK_AFTER_S) -> bool:
        """A write has been in flight for more than ``after_s``: the store hangs rather than fails."""
        return self._attempt_started is not None and time.monotonic() - self._attempt_started > after_s

    def problem(self, stuck_after_s: float = STUCK_AFTER_S) -> str | None:
        """What is wrong with the store's writes, in one line (Chinese, then the cause as the store said it);
        None while they go in."""
        held = f"待写入 {len(self._held)} 条" + (f"，已丢弃 {self.dropped} 条" if self.dropped else "")
        if self.failing_since is not None:
            seconds = (datetime.now(UTC) - self.failing_since).total_seconds()
            return f"存储写入失败 store writes failing {seconds:.0f} s（{self.failures} 次），{held}：{self.cause}"
        if self._attempt_started is not None and self.stuck(stuck_after_s):
            seconds = time.monotonic() - self._attempt_started
            return f"存储写入无响应 a store write hangs {seconds:.0f} s，{held}"
        return None

    async def flushed(self) -> None:
        """Until every record queued so far is written."""
        target = self._accepted
        async with self._written:
            await self._written.wait_for(lambda: self._done >= target)

    async def run(self) -> None:
        """Write held records in order, in batches, one transaction each; on a store error hold them and retry
        with backoff, never drop.

        A batch gathers for up to WRITE_GATHER_S after its first record: during a sweep this turns
        thousands of one-record transactions into a few large ones.
        """
        loop = asyncio.get_running_loop()
        delay = FIRST_RETRY_S
        while True:
            while not self._held:
                self._arrived.clear()
                await self._arrived.wait()
            until = loop.time() + WRITE_GATHER_S
            while len(self._held) < WRITE_BATCH and (remaining := until - loop.time()) > 0:
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._arrived.wait()
            batch = list(itertools.islice(self._held, WRITE_BATCH))
            self._attempt_started = time.monotonic()
            try:
                await self.store.write(batch)
            except Exception as exc:
                self._failed(exc, len(batch), delay)
                self._retry.clear()
                await sleep_or_wake(self._retry, delay)
                delay = min(delay * 2, MAX_RETRY_S)
                continue
            finally:
                self._attempt_started = None
            for _ in batch:
                self._held.popleft()
            if self.failing_since is not None:
                log.warning("store_write_recovered", failures=self.failures, dropped=self.dropped,
                            held=len(self._held),
                            seconds=round((datetime.now(UTC) - self.failing_since).total_seconds(), 1))
                self.failing_since = self.cause = None
                self.changed.set()
            delay = FIRST_RETRY_S
            for hook in self.after_write:
                hook()
            async with self._written:
                self._done += len(batch)
                self._written.notify_all()

    def _failed(self, exc: Exception, records: int, retry_in: float) -> None:
        """Count and log a failed write, naming the store's own error; the first of an episode with its trace."""
        self.failures += 1
        self.cause = str(exc) or type(exc).__name__
        first = self.failing_since is None
        if first:
            self.failing_since = datetime.now(UTC)
            self.changed.set()
        log.error("store_write_failed", cause=self.cause, error=type(exc).__name__, records=records,
                  held=len(self._held), failures=self.failures, retry_in=retry_in, exc_info=exc if first else None)
