"""The board application's typed keys, shared by its handler modules."""

from __future__ import annotations

from aiohttp import web

from monitor.daemon import Monitor
from monitor.web.events import EventHub

MONITOR_KEY = web.AppKey("monitor", Monitor)
EVENTS_KEY = web.AppKey("events", EventHub)
