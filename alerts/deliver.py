"""Deliver outbox items through apprise: one worker per receiver, in order, with retries.

Each receiver (channel ``unit/receiver``) has its own worker, so a dead or slow endpoint delays
only its own messages. A worker takes the receiver's due items, waits out the grouping window
after the oldest, renders them as one message and sends it; on failure it records the error and
retries with exponential backoff (tenacity) until it succeeds or an operator drops the items. The backoff
never exceeds ``RETRY_CAP_S`` (``alerts.max_backoff`` caps it lower), so a receiver that comes back is served
within a minute; a new item for the receiver, or a send that succeeded on any receiver (govwatch's own
network is back), cuts a wait short once it has lasted ``WAKE_AFTER_S``.
An item is marked sent only after the endpoint accepted it, so a crash in between sends it again
once (at most one duplicate per crash). When the store refuses to mark it (a full disk), the sender remembers
what it sent and marks it once the store takes writes again: never sent twice by one process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import apprise
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, wait_random_exponential

from alerts import texts
from monitor.config import AlertSettings, ReceiverModel
from monitor.records import OutboxRow
from monitor.schedule import sleep_or_wake
from monitor.store import OutboxStore

log = structlog.get_logger()
IDLE_POLL_S = 30.0
RETRY_CAP_S = 60.0  # the longest wait between two tries of one receiver, whatever max_backoff says
WAKE_AFTER_S = 5.0  # a wake (a new item, a success elsewhere) ends a wait once it lasted this long
REPLACE_AFTER_S = 1.0  # a worker that ended on an error is replaced this soon (not at the next idle poll)


class DeliveryFailed(Exception):
    pass


async def notify(url: str, title: str, body: str, timeout_s: float) -> None:
    """Send one message through apprise; raise DeliveryFailed with the endpoint's error."""
    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryFailed("apprise cannot use this URL; check the receiver's url")
    try:
        result = await asyncio.wait_for(sender.async_notify(body=body, title=title), timeout_s)
    except TimeoutError:
        raise DeliveryFailed(f"no answer within {timeout_s:g} s") from None
    if not result:
        logs = [str(line) for line in result.logs()]
        detail = logs[-1].split(" - ", 2)[-1] if logs else f"status {result.status}"
        raise DeliveryFailed(detail)


def render(receiver: ReceiverModel, rows: list[OutboxRow], board_url: str | None) -> tuple[str, str]:
    facts = [row.payload for row in rows]
    if receiver.kind == "sms":
        return "", texts.sms(facts, board_url)
    return texts.grouped(facts, board_url)


class Routes(Protocol):
    """What the sender reads from the alert engine (which may be reconfigured by a reload)."""

    receivers: dict[str, ReceiverModel]
    settings: AlertSettings
    board_url: str | None
    wake: asyncio.Event


class Sender:
    def __init__(
        self, store: OutboxStore, routes: Routes, clock: Callable[[], datetime],
        on_result: Callable[[str, bool], None] | None = None,
        on_pending: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.routes = routes
        self.clock = clock
        self.on_result = on_result
        self.on_pending = on_pending
        self._workers: dict[str, asyncio.Task[None]] = {}
        # Sent and accepted, but the store refused to mark them sent: id → when; not sent again, marked later.
        self._unmarked: dict[int, datetime] = {}
        self._retry_wake: dict[str, asyncio.Event] = {}  # per receiver waiting to try again
        self._pending: dict[str, int] = {}  # pending items per channel, as last counted

    async def run(self) -> None:
        """Start a worker for every receiver with pending items, whenever new items are committed."""
        try:
            while True:
                self.routes.wake.clear()
                try:
                    await self._turn()
                except Exception as exc:  # the store cannot be read (a database gone away): the next turn tries
                    log.error("sender_store_failed", cause=str(exc) or type(exc).__name__, error=type(exc).__name__)
                await sleep_or_wake(self.routes.wake, IDLE_POLL_S)
        finally:
            for task in self._workers.values():
                task.cancel()
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _turn(self) -> None:
        """Mark what went out unmarked, start the workers of receivers with pending items, count them."""
        await self._mark_unmarked()
        pending = await self.store.outbox_next()
        for channel in pending:
            if channel in self.routes.receivers and not self._running(channel):
                task = asyncio.create_task(self._drain(channel), name=f"send:{channel}")
                task.add_done_callback(self._worker_ended)
                self._workers[channel] = task
        counts = {channel: s["pending"] for channel, s in (await self.store.outbox_stats()).items()}
        for channel, count in counts.items():
            if count > self._pending.get(channel, 0) and channel in self._retry_wake:
                self._retry_wake[channel].set()  # a new item for a receiver waiting to try again
        self._pending = counts
        if self.on_pending:
            self.on_pending(sum(counts.values()))

    def _worker_ended(self, task: asyncio.Task[None]) -> None:
        """A worker that ended on an error (a store call failed) is replaced within ``REPLACE_AFTER_S``: its
        receiver's items must not wait for the next idle poll; the pause keeps a failing store from a hot loop."""
        if not task.cancelled() and task.exception() is not None:
            asyncio.get_running_loop().call_later(REPLACE_AFTER_S, self.routes.wake.set)

    def _running(self, channel: str) -> bool:
        """Whether ``channel``'s worker runs; one that ended on an error (the store could not be read) is logged
        and then replaced."""
        task = self._workers.get(channel)
        if task is not None and task.done() and not task.cancelled() and (exc := task.exception()) is not None:
            log.error("sender_worker_failed", channel=channel, cause=str(exc) or type(exc).__name__,
                      error=type(exc).__name__)
            del self._workers[channel]
        return task is not None and not task.done()

    async def drain(self, grace_s: float) -> None:
        """On shutdown: let due notifications go out, for at most ``grace_s``; the rest stay pending."""
        self.routes.wake.set()
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        until = loop.time() + grace_s
        while loop.time() < until:
            await self._mark_unmarked()
            if self._unmarked:  # the store refuses writes: what was sent and not marked goes once more at restart
                log.error("notifications_sent_unmarked", items=len(self._unmarked))
                return
            due = [c for c, when in (await self.store.outbox_next()).items()
                   if c in self.routes.receivers and when <= self.clock()]
            if not due:
                return
            await asyncio.sleep(0.05)

    async def _drain(self, channel: str) -> None:
        receiver = self.routes.receivers[channel]
        window = self.routes.settings.group_window.seconds
        while True:
            await self._mark_unmarked()
            rows = self._unsent(await self.store.outbox_due(channel, self.clock()))
            if not rows:
                waits = await self.store.outbox_next()
                if channel not in waits or self._unmarked:  # the run loop tries the marks again at its next turn
                    return
                await asyncio.sleep(max((waits[channel] - self.clock()).total_seconds(), 0.05))
                continue
            group_until = rows[0].created_at + timedelta(seconds=window)
            if window and self.clock() < group_until:
                await asyncio.sleep((group_until - self.clock()).total_seconds())
                rows = self._unsent(await self.store.outbox_due(channel, self.clock()))
            batch = [r for r in rows if r.created_at <= group_until]
            await self._deliver(channel, receiver, batch)

    async def _deliver(self, channel: str, receiver: ReceiverModel, rows: list[OutboxRow]) -> None:
        ids = [r.id for r in rows]
        title, body = render(receiver, rows, self.routes.board_url)
        retrying = AsyncRetrying(
            wait=wait_random_exponential(multiplier=0.5, max=min(self.routes.settings.max_backoff.seconds,
                                                                 RETRY_CAP_S)),
            retry=retry_if_exception_type(DeliveryFailed),
            reraise=True,
            sleep=lambda seconds: self._pause(channel, seconds),
        )
        async for attempt in retrying:
            with attempt:
                still = await self.store.outbox_pending(ids)
                if not still:
                    return  # an operator dropped them meanwhile
                if len(still) != len(ids):
                    rows = [r for r in rows if r.id in still]
                    ids = [r.id for r in rows]
                    title, body = render(receiver, rows, self.routes.board_url)
                try:
                    await notify(receiver.url, title, body, self.routes.settings.send_timeout.seconds)
                except DeliveryFailed as exc:
                    await self._failed(channel, ids, str(exc), attempt.retry_state.attempt_number)
                    raise
        log.info("notification_sent", channel=channel, items=len(ids))
        for wake in self._retry_wake.values():
            wake.set()  # a send went through: the receivers waiting to try again may be reachable too
        if self.on_result:
            self.on_result(channel, True)
        at = self.clock()
        try:
            await self.store.outbox_sent(ids, at)
        except Exception as exc:  # the worker lives on: these are remembered, not sent again
            self._unmarked.update(dict.fromkeys(ids, at))
            log.error("notification_sent_unmarked", channel=channel, items=len(ids), cause=str(exc),
                      error=type(exc).__name__)

    def _unsent(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        return [r for r in rows if r.id not in self._unmarked] if self._unmarked else rows

    async def _mark_unmarked(self) -> None:
        """Mark sent what went out while the store refused the mark, once it takes writes again."""
        by_time: dict[datetime, list[int]] = {}
        for item, at in self._unmarked.items():
            by_time.setdefault(at, []).append(item)
        for at, ids in by_time.items():
            try:
                await self.store.outbox_sent(ids, at)
            except Exception:
                return  # still refused: next turn
            for item in ids:
                self._unmarked.pop(item, None)  # a worker may have marked it meanwhile
            log.info("notification_marked_sent", items=len(ids))

    async def _pause(self, channel: str, seconds: float) -> None:
        """The wait before a receiver's next try: ``seconds``, or less once woken (but at least ``WAKE_AFTER_S``
        or ``seconds``, whichever is shorter: a flood of new items does not hammer a dead receiver)."""
        wake = self._retry_wake.setdefault(channel, asyncio.Event())
        wake.clear()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await sleep_or_wake(wake, seconds)
            await asyncio.sleep(min(seconds, WAKE_AFTER_S) - (loop.time() - started))
        finally:
            del self._retry_wake[channel]

    async def _failed(self, channel: str, ids: list[int], error: str, attempt: int) -> None:
        log.warning("notification_failed", channel=channel, items=len(ids), attempt=attempt, error=error)
        # The retry time recorded is for the trail and for a restart; this worker retries on its own.
        await self.store.outbox_failed(ids, error, self.clock())
        if self.on_result:
            self.on_result(channel, False)
