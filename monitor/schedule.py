"""One schedule type for everything that comes due: probes, checks, deadline timers and alert timers.

A ``Schedule`` is a due-heap of entries by key: putting a key again replaces its earlier entry (the old one
is skipped when it comes up), so a target rescheduled or removed by a reload never fires twice. A loop
takes what is due, then sleeps until the next entry or until a put makes an earlier one the head.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Item = TypeVar("Item")
IDLE_S = 3600.0  # the longest sleep of an empty schedule (a put wakes it sooner)


async def sleep_or_wake(wake: asyncio.Event, delay: float) -> None:
    """Sleep ``delay`` seconds, or less when ``wake`` is set. Callers clear ``wake`` before they look
    at what is due, so a wake-up that comes while they look is not lost.

    ``asyncio.timeout`` rather than ``wait_for``: on Python 3.11 ``wait_for`` swallows a
    cancellation that arrives as the event is set, and the task would then not stop.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(delay, 0.0)):
            await wake.wait()


class Schedule(Generic[Key, Item]):
    """Entries (key, item) due at a time (unix seconds); the newest entry of a key is its live one."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Key, Item]] = []
        self._live: dict[Key, tuple[int, float]] = {}  # key → (its live entry's sequence number, due)
        self._seq = itertools.count()
        self.wake = asyncio.Event()  # set when a put makes an earlier entry the head

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def put(self, key: Key, due: float, item: Item) -> None:
        """Schedule ``item`` at ``due`` under ``key``, replacing the key's earlier entry."""
        seq = next(self._seq)
        self._live[key] = (seq, due)
        heapq.heappush(self._heap, (due, seq, key, item))
        if self._heap[0][1] == seq:
            self.wake.set()

    def drop(self, key: Key) -> None:
        """Forget a key's entry (it is skipped when it comes up)."""
        self._live.pop(key, None)

    def due_times(self) -> dict[Key, float]:
        """When each live key is due."""
        return {key: due for key, (_, due) in self._live.items()}

    def due_at(self, key: Key) -> float | None:
        """When a key's live entry is due, or None."""
        live = self._live.get(key)
        return live[1] if live else None

    def take_due(self, now: float) -> list[tuple[Key, Item]]:
        """Clear the wake-up, then pop every live entry due by ``now`` (in due order). A put made while the caller
        works on them wakes its next ``sleep``."""
        self.wake.clear()
        out = []
        while self._heap and self._heap[0][0] <= now:
            _, seq, key, item = heapq.heappop(self._heap)
            if self._live.get(key, (None,))[0] == seq:
                del self._live[key]
                out.append((key, item))
        return out

    def pending(self) -> list[tuple[Key, Item]]:
        """Every live entry, soonest first (without taking them)."""
        return [(key, item) for _, seq, key, item in sorted(self._heap, key=lambda e: e[:2])
                if self._live.get(key, (None,))[0] == seq]

    async def sleep(self, now: float, longest: float = IDLE_S) -> None:
        """Until the head entry is due (at most ``longest``), or until a put makes an earlier one the head."""
        await sleep_or_wake(self.wake, min(self._heap[0][0] - now, longest) if self._heap else longest)
