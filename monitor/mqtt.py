"""MQTT publisher: drains the durable outbox's ``mqtt`` channel to a broker, at least once, in order.

The alert engine enqueues items whose payload is ``{"topic": …, "message": {…} | str, "retain": bool}``;
topics are complete. Items stay pending in the store until the broker acknowledged them (PUBACK), so a
broker that is down or restarts loses nothing: the publisher reconnects with jittered exponential
backoff and resumes from the oldest pending item. An item published but not yet marked sent when the
connection drops is published again after reconnecting (at-least-once). After every (re)connect the newest
retained message sent to each topic is published again first, so a broker that restarted without its retained
messages (no persistence, a new broker) gives late subscribers every column's state, not only the changed ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiomqtt
import structlog
from tenacity import RetryCallState, wait_random_exponential

from monitor.config import MqttModel
from monitor.records import OutboxRow
from monitor.schedule import sleep_or_wake
from monitor.store import OutboxStore

log = structlog.get_logger("monitor.mqtt")

CHANNEL = "mqtt"
BATCH = 500
POLL = 5.0  # fallback poll (seconds) when nothing wakes us
TIMEOUT = 10.0  # connect / PUBACK timeout (seconds)
_backoff = wait_random_exponential(multiplier=0.5, max=30)  # full jitter on 0.5 s · 2ⁿ, capped at 30 s
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _delay(attempt: int) -> float:
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]  # only attempt_number is read
    state.attempt_number = attempt
    return float(_backoff(state))


def _encode(message: Any) -> bytes:
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):
        return message.encode()
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


class MqttPublisher:
    def __init__(self, store: OutboxStore, settings: MqttModel, wake: asyncio.Event,
                 on_connected: Callable[[bool], None] | None = None, node: str | None = None) -> None:
        self.store = store
        self.settings = settings
        self.wake = wake
        self.on_connected = on_connected
        self.connected: bool | None = None  # None until the first attempt
        # one daemon of a cluster (``node``): a client and a status of its own
        self.client_id = settings.client_id if node is None else f"{settings.client_id}-{node}"
        self.status_topic = f"{settings.prefix}/status" if node is None else f"{settings.prefix}/status/{node}"

    def _set_connected(self, up: bool) -> None:
        if up != self.connected:
            self.connected = up
            if self.on_connected is not None:
                self.on_connected(up)

    async def run(self) -> None:
        """Connect, drain, reconnect on any error with jittered backoff; returns only by cancellation."""
        failures = 0
        while True:
            try:
                await self._session()
                error = "session ended"
            except aiomqtt.MqttError as exc:
                error = str(exc) or type(exc).__name__
            except Exception as exc:  # a store error, a bug: never let the publisher die
                log.exception("mqtt_error")
                error = repr(exc)
            if self.connected is not False:  # a fresh loss (or the very first attempt failed)
                failures = 0
                log.warning("mqtt_disconnected", error=error, host=self.settings.host, port=self.settings.port)
            else:
                log.debug("mqtt_connect_failed", error=error, attempt=failures)
            self._set_connected(False)
            failures += 1
            await asyncio.sleep(_delay(failures))

    async def _session(self) -> None:
        s = self.settings
        client = aiomqtt.Client(
            s.host, s.port, identifier=self.client_id, username=s.username, password=s.password,
            keepalive=s.keepalive, protocol=aiomqtt.ProtocolVersion.V5, timeout=TIMEOUT,
            will=aiomqtt.Will(self.status_topic, b"offline", qos=1, retain=True),
        )
        async with client:
            try:
                await self._guard(client, client.publish(self.status_topic, b"online", qos=1, retain=True))
                self._set_connected(True)
                log.info("mqtt_connected", host=s.host, port=s.port, client_id=self.client_id)
                await self._drain(client)
            except asyncio.CancelledError:
                # clean stop: nothing more from the outbox; say offline ourselves (the will is for unclean loss)
                with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                    await asyncio.wait_for(client.publish(self.status_topic, b"offline", qos=1, retain=True), 2)
                self._set_connected(False)
                log.info("mqtt_stopped")
                raise

    async def _guard(self, client: aiomqtt.Client, work: Awaitable[T]) -> T:
        """Await ``work``, but fail at once with MqttError when the connection drops meanwhile.

        aiomqtt fails a publish whose PUBACK never comes only at its timeout; its private ``_disconnected``
        future (aiomqtt 2.x) tells us sooner.
        """
        task = asyncio.ensure_future(work)
        lost: asyncio.Future[None] = client._disconnected
        try:
            await asyncio.wait([task, lost], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait([task])  # let it unwind; our own cancellation still propagates
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
        if task.done() and not task.cancelled():
            raise task.exception()  # type: ignore[misc]
        exc = lost.exception() if lost.done() else None
        raise aiomqtt.MqttError(f"connection lost: {exc or 'disconnected'}")

    async def _republish(self, client: aiomqtt.Client) -> bool:
        """The retained states as last sent, again (a broker that kept them just keeps the same message); False when
        another daemon of the cluster publishes MQTT now (it republished them)."""
        retained = await self.store.mqtt_retained()
        if retained is None:
            return False
        for first in range(0, len(retained), BATCH):
            await self._guard(client, asyncio.gather(*(
                client.publish(p["topic"], _encode(p.get("message", "")), qos=1, retain=True)
                for p in retained[first:first + BATCH])))
        if retained:
            log.info("mqtt_retained_republished", topics=len(retained))
        return True

    async def _drain(self, client: aiomqtt.Client) -> None:
        republish = True  # first of all, once per connection (a cluster: once this daemon holds the channel)
        while True:
            self.wake.clear()  # before reading, so an item committed meanwhile wakes the wait below
            if republish:
                republish = not await self._republish(client)
            now = _now()
            rows = await self.store.outbox_due(CHANNEL, now, limit=BATCH)
            if rows:
                await self._publish(client, rows)
                if len(rows) == BATCH:
                    continue
            nxt = (await self.store.outbox_next()).get(CHANNEL)
            timeout = POLL if nxt is None else min(POLL, max((nxt - _now()).total_seconds(), 0.0))
            await self._guard(client, sleep_or_wake(self.wake, timeout))

    async def _publish(self, client: aiomqtt.Client, rows: list[OutboxRow]) -> None:
        sent: list[int] = []
        try:
            for row in rows:
                try:
                    topic, payload = row.payload["topic"], _encode(row.payload.get("message", ""))
                    retain = bool(row.payload.get("retain", False))
                    pending = client.publish(topic, payload, qos=1, retain=retain)  # returns after PUBACK
                except (KeyError, TypeError, ValueError) as exc:  # malformed: would block the channel forever
                    log.error("mqtt_item_dropped", id=row.id, key=row.key, error=repr(exc))
                    await self.store.outbox_drop([row.id], f"mqtt: malformed payload ({exc!r})"[:200])
                    continue
                try:
                    await self._guard(client, pending)
                except aiomqtt.MqttError as exc:
                    await self.store.outbox_failed([row.id], str(exc), _now())  # stays due; visible in stats
                    raise
                except ValueError as exc:  # paho rejects the topic (wildcards, empty)
                    log.error("mqtt_item_dropped", id=row.id, key=row.key, error=repr(exc))
                    await self.store.outbox_drop([row.id], f"mqtt: rejected ({exc!r})"[:200])
                    continue
                sent.append(row.id)
                log.debug("mqtt_published", id=row.id, topic=topic, retain=retain)
        finally:
            if sent:
                await asyncio.shield(self.store.outbox_sent(sent, _now()))
