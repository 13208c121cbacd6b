"""Retention: the running daemon compacts old probes now and then, off the hot path.

What a store keeps forever and what compaction does is ``RetentionStore.compact``'s to say; this is its schedule
and its ages, read from the settings at each turn (a reload applies at the next one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from monitor.config import SettingsModel
from monitor.store import NoRoom, RetentionStore

log = structlog.get_logger()

# availability probes are compacted once they have left the availability window (only it reads them) by this much
AVAILABILITY_MARGIN = timedelta(days=1)
EVERY_S = 6 * 3600.0
FIRST_AFTER_S = 600.0  # not during the first sweep
DEFERRED_RETRY_S = 3600.0  # a compaction put off for want of disk room is tried again this much later


def cutoffs(settings: SettingsModel, now: datetime) -> tuple[datetime, datetime]:
    """Before when column probes, and availability probes, are compacted."""
    window = timedelta(seconds=settings.availability.window.approx_seconds)
    return settings.retention.probes.before(now), now - window - AVAILABILITY_MARGIN


async def compact_periodically(store: RetentionStore, clock: Callable[[], datetime],
                               settings: Callable[[], SettingsModel], every_s: float = EVERY_S,
                               first_after_s: float = FIRST_AFTER_S, deferred_s: float = DEFERRED_RETRY_S) -> None:
    """Compact the store every ``every_s`` seconds, the first time ``first_after_s`` after start; a failed run
    is logged (its real cause) and tried again at the next turn, one put off for want of disk room after
    ``deferred_s``."""
    await asyncio.sleep(first_after_s)
    while True:
        started, wait = time.monotonic(), every_s
        try:
            removed = await store.compact(*cutoffs(settings(), clock()))
        except NoRoom as exc:
            wait = min(every_s, deferred_s)
            log.warning("compaction_deferred", work=exc.work, need_bytes=exc.need, free_bytes=exc.free, retry_in=wait)
        except Exception:
            log.exception("compaction_failed")
        else:
            log.info("compacted", probes_removed=removed, seconds=round(time.monotonic() - started, 1))
        await asyncio.sleep(wait)
