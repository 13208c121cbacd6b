"""sd_notify(3) without a dependency: UTF-8 datagrams to ``$NOTIFY_SOCKET``; a no-op outside systemd.

Our own because the ``sdnotify`` package encodes latin-1 and drops Chinese STATUS text.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable


def notify(**fields: object) -> bool:
    """Send ``KEY=value`` lines, e.g. ``notify(READY=1, STATUS="运行中")``; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or not fields:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.setblocking(False)  # never stall the event loop on a full notify queue
            sock.sendto(message, address)
    except OSError:
        return False
    return True


def reloading(**fields: object) -> bool:
    """RELOADING=1 with MONOTONIC_USEC (systemd >= 253 waits for the next READY=1; older ones ignore it)."""
    return notify(RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000, **fields)


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of ``$WATCHDOG_USEC``), or None when no watchdog is asked for."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


async def watchdog(interval: float, healthy: Callable[[], bool]) -> None:
    """Ping while the event loop turns and ``healthy()`` holds; a stalled loop or a dead task stops the pings."""
    while True:
        if healthy():
            notify(WATCHDOG=1)
        await asyncio.sleep(interval)
