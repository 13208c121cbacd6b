"""MqttPublisher against a real Mosquitto on a free loopback port, with a real SQLite outbox (a broker killed with -9
and replaced by an empty one is part of the reliability suite)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import structlog

from monitor import mqtt
from monitor.config import MqttModel
from monitor.mqtt import MqttPublisher
from monitor.records import OutboxItem, OutboxRecord
from monitor.store.sqlite import SQLiteStore

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
pytestmark = pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="no mosquitto (.ci/run installs it)")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Broker:
    """Our own mosquitto subprocess; ``persistent`` keeps sessions (and their queues) across restarts."""

    def __init__(self, directory: Path, persistent: bool = False) -> None:
        self.dir, self.port, self.proc = directory, free_port(), None
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "max_queued_messages 0",
                 f"persistence {'true' if persistent else 'false'}", f"persistence_location {directory}/"]
        if os.geteuid() == 0:
            lines.append("user root")  # don't drop to the "mosquitto" user (it could not write the tmp dir)
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with (self.dir / "mosquitto.log").open("ab") as out:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=out, stderr=subprocess.STDOUT)

        def accepting() -> bool:
            assert self.proc is not None and self.proc.poll() is None, (self.dir / "mosquitto.log").read_text()
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        await until(accepting, what="mosquitto to listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class Subscriber:
    """A real client on ``govwatch/#`` (QoS 1) that reconnects by itself and records every message."""

    def __init__(self, port: int, name: str = "sub", persistent: bool = False) -> None:
        self.port, self.name, self.persistent = port, name, persistent
        self.messages: list[tuple[str, str, bool, int]] = []  # topic, payload, retain flag, qos
        self.subscribed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, identifier=self.name, timeout=5,
                                          clean_session=not self.persistent) as client:
                    await client.subscribe("govwatch/#", qos=1)
                    self.subscribed.set()
                    async for m in client.messages:
                        payload = m.payload.decode() if isinstance(m.payload, bytes) else str(m.payload)
                        self.messages.append((str(m.topic), payload, m.retain, m.qos))
            except aiomqtt.MqttError:
                self.subscribed.clear()
                await asyncio.sleep(0.05)

    def on(self, topic: str) -> list[str]:
        return [p for t, p, _, _ in self.messages if t == topic]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    b = Broker(tmp_path)
    await b.start()
    yield b
    b.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "govwatch.sqlite3")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def subscribers() -> AsyncIterator[Callable[..., Subscriber]]:
    made: list[Subscriber] = []

    def make(port: int, name: str = "sub", persistent: bool = False) -> Subscriber:
        made.append(Subscriber(port, name, persistent))
        return made[-1]

    yield make
    for s in made:
        await s.close()


class Running:
    """A publisher task, its wake event and every on_connected call."""

    def __init__(self, store: SQLiteStore, port: int) -> None:
        self.wake = asyncio.Event()
        self.calls: list[bool] = []
        self.publisher = MqttPublisher(store, MqttModel(port=port, client_id="govwatch-test"), self.wake,
                                       self.calls.append)
        self.task = asyncio.create_task(self.publisher.run())

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def publisher(store: SQLiteStore) -> AsyncIterator[Callable[[int], Running]]:
    made: list[Running] = []

    def make(port: int) -> Running:
        made.append(Running(store, port))
        return made[-1]

    yield make
    for r in made:
        await r.stop()


def event(n: int) -> dict[str, Any]:
    return {"topic": "govwatch/events", "message": {"n": n, "state": "red", "说明": "超期"}, "retain": False}


def state(target: str, value: str) -> dict[str, Any]:
    return {"topic": f"govwatch/u1/column/{target}/state", "message": {"state": value}, "retain": True}


async def enqueue(store: SQLiteStore, payloads: list[dict[str, Any]], prefix: str = "k") -> None:
    now = datetime.now(UTC)
    items = tuple(OutboxItem(f"{prefix}{i}", "mqtt", now, now, p) for i, p in enumerate(payloads))
    await store.write([OutboxRecord(items)])


async def pending(store: SQLiteStore) -> int:
    return (await store.outbox_stats()).get("mqtt", {}).get("pending", 0)


def numbers(sub: Subscriber) -> list[int]:
    return [json.loads(p)["n"] for p in sub.on("govwatch/events")]


async def test_publishes_in_order_with_qos1_and_marks_sent(broker, store, subscribers, publisher) -> None:
    sub = subscribers(broker.port)
    await asyncio.wait_for(sub.subscribed.wait(), 5)
    await enqueue(store, [event(i) for i in range(50)] + [state("c1", "red")])
    run = publisher(broker.port)
    await until(lambda: len(sub.on("govwatch/events")) == 50 and sub.on("govwatch/u1/column/c1/state"),
                what="the first batch")
    assert numbers(sub) == list(range(50))
    assert json.loads(sub.on("govwatch/events")[0]) == {"n": 0, "state": "red", "说明": "超期"}
    assert {qos for t, _, _, qos in sub.messages if t != "govwatch/status"} == {1}
    await until(lambda: run.calls == [True], what="on_connected(True)")
    assert await pending(store) == 0
    sent = await store.outbox_list("sent")
    assert len(sent) == 51 and all(r["sent_at"] is not None for r in sent)

    # the engine commits more and sets wake: delivered at once, not at the next poll
    started = time.monotonic()
    await enqueue(store, [event(50)], prefix="late")
    run.wake.set()
    await until(lambda: numbers(sub)[-1:] == [50], timeout=3, what="the woken item")
    assert time.monotonic() - started < mqtt.POLL


async def test_retained_state_reaches_a_later_subscriber(broker, store, subscribers, publisher) -> None:
    await enqueue(store, [state("c1", "yellow"), state("c2", "green"), event(1), state("c1", "red")])
    publisher(broker.port)
    deadline = time.monotonic() + 10
    while await pending(store):
        assert time.monotonic() < deadline, "items were not marked sent"
        await asyncio.sleep(0.05)
    late = subscribers(broker.port, name="late")
    await until(lambda: len(late.messages) >= 3, what="retained messages")
    retained = {t: (p, r) for t, p, r, _ in late.messages}
    assert retained["govwatch/u1/column/c1/state"] == ('{"state":"red"}', True)
    assert retained["govwatch/u1/column/c2/state"] == ('{"state":"green"}', True)
    assert retained["govwatch/status"] == ("online", True)
    assert "govwatch/events" not in retained  # events are not retained


async def test_status_online_then_offline_on_clean_stop(broker, store, subscribers, publisher) -> None:
    sub = subscribers(broker.port)
    await asyncio.wait_for(sub.subscribed.wait(), 5)
    run = publisher(broker.port)
    await until(lambda: sub.on("govwatch/status") == ["online"], what="online")
    await run.stop()
    await until(lambda: sub.on("govwatch/status") == ["online", "offline"], what="offline")
    assert run.calls == [True, False]
    late = subscribers(broker.port, name="late")
    await until(lambda: late.on("govwatch/status") == ["offline"], what="retained offline")


async def test_will_says_offline_when_the_process_is_killed(broker, store, subscribers, tmp_path) -> None:
    script = tmp_path / "pub.py"
    script.write_text(
        "import asyncio, sys\n"
        "from monitor.config import MqttModel\nfrom monitor.mqtt import MqttPublisher\n"
        "from monitor.store.sqlite import SQLiteStore\n"
        "async def main():\n"
        "    store = SQLiteStore(sys.argv[1])\n    await store.open()\n"
        "    await MqttPublisher(store, MqttModel(port=int(sys.argv[2]), client_id='victim'), asyncio.Event()).run()\n"
        "asyncio.run(main())\n")
    sub = subscribers(broker.port)
    await asyncio.wait_for(sub.subscribed.wait(), 5)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "victim.sqlite3"), str(broker.port)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        await until(lambda: sub.on("govwatch/status") == ["online"], timeout=20, what="the subprocess online")
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        await until(lambda: sub.on("govwatch/status") == ["online", "offline"], what="the will")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


async def test_broker_restart_loses_nothing(tmp_path, store, subscribers, publisher) -> None:
    broker = Broker(tmp_path, persistent=True)  # keeps the subscriber's session across the restart
    await broker.start()
    try:
        sub = subscribers(broker.port, name="durable", persistent=True)
        await asyncio.wait_for(sub.subscribed.wait(), 5)
        await enqueue(store, [event(i) for i in range(1500)] + [state("c1", "yellow")], prefix="a")
        run = publisher(broker.port)
        # stop the broker in the middle of draining: some PUBACKs never come
        await until(lambda: len(sub.on("govwatch/events")) >= 200, what="the drain to start")
        broker.stop()
        await until(lambda: run.calls[-1:] == [False], what="on_connected(False)")
        await enqueue(store, [event(i) for i in range(1500, 1520)] + [state("c1", "red")], prefix="b")
        run.wake.set()
        assert await pending(store) > 20  # waiting in the outbox while the broker is down
        await asyncio.sleep(1)
        await broker.start()  # same port
        await until(lambda: len(set(numbers(sub))) == 1520, timeout=60, what="every event")
        await until(lambda: sub.on("govwatch/u1/column/c1/state")[-1:] == ['{"state":"red"}'], what="last state")
        got = numbers(sub)
        first_seen = list(dict.fromkeys(got))
        assert first_seen == list(range(1520))  # order kept; a repeat is only a re-send of an unacked item
        assert len(got) - len(first_seen) <= 50
        assert sub.on("govwatch/u1/column/c1/state")[0] == '{"state":"yellow"}'
        assert await pending(store) == 0
        assert len(await store.outbox_list("sent", limit=5000)) == 1522
        assert run.calls[0] is True and run.calls[-1] is True and not run.task.done()
    finally:
        broker.stop()


async def test_no_broker_keeps_retrying_quietly(store, publisher, monkeypatch) -> None:
    await enqueue(store, [event(1)])
    with structlog.testing.capture_logs() as logs:
        monkeypatch.setattr(mqtt, "log", structlog.get_logger("monitor.mqtt"))
        run = publisher(free_port())  # nothing listens there
        await asyncio.sleep(3)
        assert not run.task.done()
        await run.stop()
    assert run.calls == [False]
    events = [e["event"] for e in logs]
    assert events.count("mqtt_disconnected") == 1
    assert events.count("mqtt_connect_failed") >= 2
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]
    assert await pending(store) == 1


async def test_a_broker_killed_and_replaced_without_retained_messages_gets_every_state_again(
        tmp_path, store, subscribers, publisher) -> None:
    broker = Broker(tmp_path)  # no persistence: a restart forgets every retained message
    await broker.start()
    try:
        # 18 columns, half of them changed once more: the last state of each is what a late subscriber must get
        await enqueue(store, [state(f"c{i}", "green") for i in range(18)] + [event(1)]
                      + [state(f"c{i}", "red") for i in range(0, 18, 2)])
        run = publisher(broker.port)
        await until(lambda: run.calls[-1:] == [True], what="connected")
        await until_async(lambda: pending(store), 0)
        assert broker.proc is not None
        broker.proc.kill()  # kill -9
        broker.proc.wait(5)
        await broker.start()  # a new broker on the same port, without what the old one retained
        await until(lambda: run.calls[-2:] == [False, True], timeout=20, what="the publisher to reconnect")
        late = subscribers(broker.port, name="late")
        retained = lambda: {t: p for t, p, kept, _ in late.messages if kept}  # noqa: E731
        await until(lambda: len(retained()) == 19, what="every retained state")  # and govwatch/status
    finally:
        broker.stop()
    assert retained() == {"govwatch/status": "online", **{f"govwatch/u1/column/c{i}/state":
                          json.dumps({"state": "red" if i % 2 == 0 else "green"}, separators=(",", ":"))
                          for i in range(18)}}
    assert await pending(store) == 0 and len(late.on("govwatch/events")) == 0  # events are not replayed


async def until_async(value: Callable[[], Any], expected: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while await value() != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expected!r}")
        await asyncio.sleep(0.02)
