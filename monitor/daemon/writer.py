"""The store writer: records queued by every part of the daemon, written in batches, one transaction each."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from monitor.records import Record
from monitor.store import Store

log = structlog.get_logger()
WRITE_BATCH = 1000
WRITE_GATHER_S = 0.05


class StoreWriter:
    """Writes queued records in batches; on a store error it retries, never drops. ``after_write`` hooks run
    after each committed batch (the alert sender and MQTT wake up then)."""

    def __init__(self, store: Store, after_write: Sequence[Callable[[], None]]) -> None:
        self.store = store
        self.after_write = after_write
        self._writes: asyncio.Queue[Record] = asyncio.Queue()

    def enqueue(self, record: Record) -> None:
        """Queue a record for the store's next batch."""
        self._writes.put_nowait(record)

    @property
    def queued(self) -> int:
        return self._writes.qsize()

    async def flushed(self) -> None:
        """Until every record queued so far is written."""
        await self._writes.join()

    async def run(self) -> None:
        """Write queued records in batches, one transaction each; on a store error retry, never drop.

        A batch gathers for up to WRITE_GATHER_S after its first record: during a sweep this turns
        thousands of one-record transactions into a few large ones.
        """
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._writes.get()]
            until = loop.time() + WRITE_GATHER_S
            while len(batch) < WRITE_BATCH and (remaining := until - loop.time()) > 0:
                try:
                    async with asyncio.timeout(remaining):
                        batch.append(await self._writes.get())
                except TimeoutError:
                    break
            delay = 0.5
            while True:
                try:
                    await self.store.write(batch)
                    break
                except Exception:
                    log.exception("store_write_failed", records=len(batch), retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            for hook in self.after_write:
                hook()
            for _ in batch:
                self._writes.task_done()
