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
    """Entries (key, item) due at a time (unix seconds). The newest entry of a key is its live one; entries put
    without a key (None) are each live until taken (alert timers: several per target, none replacing another)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Key | None, Item]] = []
        self._live: dict[Key, tuple[float, int, Key | None, Item]] = {}  # key → its live heap entry
        self._seq = itertools.count()
        self.wake = asyncio.Event()  # set when a put makes an earlier entry the head

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def put(self, key: Key | None, due: float, item: Item) -> None:
        """Schedule ``item`` at ``due`` under ``key``, replacing the key's earlier entry (None: replacing none)."""
        entry = (due, next(self._seq), key, item)
        if key is not None:
            self._live[key] = entry
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self.wake.set()

    def drop(self, key: Key) -> None:
        """Forget a key's entry (it is skipped when it comes up)."""
        self._live.pop(key, None)

    def due_times(self) -> dict[Key, float]:
        """When each live key is due."""
        return {key: entry[0] for key, entry in self._live.items()}

    def items(self) -> dict[Key, Item]:
        """Each live key's item (in no order: cheaper than ``pending`` for many keys)."""
        return {key: entry[3] for key, entry in self._live.items()}

    def due_at(self, key: Key) -> float | None:
        """When a key's live entry is due, or None."""
        entry = self._live.get(key)
        return entry[0] if entry else None

    def _is_live(self, entry: tuple[float, int, Key | None, Item]) -> bool:
        key = entry[2]
        return key is None or self._live.get(key) is entry

    def take_due(self, now: float) -> list[tuple[Key | None, Item]]:
        """Clear the wake-up, then pop every live entry due by ``now`` (in due order). A put made while the caller
        works on them wakes its next ``sleep``."""
        self.wake.clear()
        out = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if self._is_live(entry):
                if entry[2] is not None:
                    del self._live[entry[2]]
                out.append((entry[2], entry[3]))
        return out

    def pending(self) -> list[tuple[Key | None, Item]]:
        """Every live entry, soonest first (without taking them)."""
        return [(entry[2], entry[3]) for entry in sorted(self._heap) if self._is_live(entry)]

    async def sleep(self, now: float, longest: float = IDLE_S) -> None:
        """Until the head entry is due (at most ``longest``), or until a put makes an earlier one the head."""
        await sleep_or_wake(self.wake, min(self._heap[0][0] - now, longest) if self._heap else longest)
