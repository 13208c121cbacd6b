"""The daemon's I/O shell: open the store and fetcher, run the monitor and the board, stop cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from monitor.config import Inventory
from monitor.daemon import Monitor, fetch_settings
from monitor.extract_pool import ExtractPool
from monitor.fetch import Fetcher
from monitor.store.sqlite import SQLiteStore
from monitor.web.app import serve

log = structlog.get_logger()
STOP_GRACE_S = 10.0


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


@asynccontextmanager
async def monitoring(inventory: Inventory, store_path: str | None = None) -> AsyncIterator[Monitor]:
    """A loaded monitor with its store and fetcher open; closed in order on exit."""
    settings = inventory.settings
    store = SQLiteStore(store_path or settings.store)
    await store.open()
    pool = ExtractPool(settings.extract_workers, settings.extract_time_limit.seconds)
    try:
        async with Fetcher(fetch_settings(inventory)) as fetcher:
            monitor = Monitor(inventory, store, fetcher, pool)
            await monitor.load()
            try:
                yield monitor
            finally:
                await monitor.stop(STOP_GRACE_S)
    finally:
        pool.close()
        await store.close()


async def run_service(
    inventory: Inventory, store_path: str | None = None, listen: str | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``): probes, timers and the board."""
    from monitor.cli import wait_for_signal

    stop = stop or wait_for_signal()
    host, port = split_listen(listen or inventory.settings.listen)
    async with monitoring(inventory, store_path) as monitor:
        runner = await serve(monitor, host, port)
        monitor.start()
        log.info("started", targets=len(monitor.tracked), board=f"http://{host}:{port}/")
        try:
            await stop.wait()
            log.info("stopping")
        finally:
            await runner.cleanup()
    log.info("stopped")
    return 0
