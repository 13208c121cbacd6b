"""Server-sent events for the board: one small JSON event per verdict change, fanned out to every client.

The monitor calls ``EventHub.listener`` synchronously on each change; it only puts into per-client
bounded queues. A client whose queue is full (a slow or stuck browser) is dropped, so the daemon never
waits on a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web

from monitor.evaluate import Verdict
from monitor.model import Target
from monitor.web.views import STATE_LABELS

QUEUE_SIZE = 256
HEARTBEAT_S = 15.0


class EventHub:
    def __init__(self, queue_size: int = QUEUE_SIZE, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self.clients: set[asyncio.Queue[str | None]] = set()
        self.dropped = 0

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(self.queue_size)
        self.clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self.clients.discard(queue)

    def publish(self, data: str) -> None:
        for queue in list(self.clients):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                self.dropped += 1
                self._end(queue)

    def listener(self, target: Target, verdict: Verdict, previous: Verdict | None) -> None:
        self.publish(json.dumps({
            "id": target.id, "unit_id": target.unit_id, "site_id": target.site_id, "state": str(verdict.state),
            "state_label": STATE_LABELS[verdict.state], "was": str(previous.state) if previous else None,
        }, ensure_ascii=False))

    def close(self) -> None:
        for queue in list(self.clients):
            self._end(queue)

    def _end(self, queue: asyncio.Queue[str | None]) -> None:
        """Unsubscribe and wake the client's handler with the end marker (the queue is emptied first)."""
        self.clients.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


async def stream(request: web.Request, hub: EventHub, limit: int) -> web.StreamResponse:
    """The live stream of verdict changes; 503 when ``limit`` streams are open already (each holds a descriptor:
    a thousand held streams would leave the board none to accept with)."""
    if len(hub.clients) >= limit:
        return web.Response(status=503, headers={"Retry-After": "60"}, content_type="text/plain", charset="utf-8",
                            text=f"实时更新连接已达上限（{limit} 个），请稍后刷新页面；看板内容不受影响。"
                                 f" Too many live streams ({limit}); settings.event_streams.\n")
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    queue = hub.subscribe()
    try:
        await response.write(b"retry: 3000\n: connected\n\n")
        while True:
            try:
                data = await asyncio.wait_for(queue.get(), hub.heartbeat_s)
            except TimeoutError:
                await response.write(b": heartbeat\n\n")  # also finds a client that went away
                continue
            if data is None:
                break
            await response.write(f"event: verdict\ndata: {data}\n\n".encode())
    except ConnectionError:  # the browser went away
        return response
    finally:
        hub.unsubscribe(queue)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response
