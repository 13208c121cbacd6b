"""aiohttp application for the board (``/``) and the JSON API (``/api/columns``, ``/api/summary``)."""

from __future__ import annotations

import json
from typing import Any

import jinja2
from aiohttp import web

from monitor.daemon import Monitor
from monitor.web import views

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("monitor.web", "templates"),
    autoescape=True,  # site titles and page texts are hostile input
    trim_blocks=True,
    lstrip_blocks=True,
)

MONITOR_KEY = web.AppKey("monitor", Monitor)
FILTERS = ("state", "unit_id", "site_id", "category", "kind")


def _selected(request: web.Request) -> list[dict[str, Any]]:
    monitor = request.app[MONITOR_KEY]
    rows = views.rows(monitor.tracked.values(), monitor.clock())
    for key in FILTERS:
        if value := request.query.get(key):
            rows = [r for r in rows if str(r[key]) == value]
    return rows


async def board(request: web.Request) -> web.Response:
    monitor = request.app[MONITOR_KEY]
    rows = _selected(request)
    html = _TEMPLATES.get_template("board.html").render(
        rows=rows, counts=views.counts(rows), labels=views.STATE_LABELS, kinds=views.KIND_LABELS,
        now=monitor.clock().strftime("%Y-%m-%d %H:%M:%S"), total=len(rows),
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def api_columns(request: web.Request) -> web.Response:
    return web.json_response(_selected(request), dumps=_dumps)


async def api_summary(request: web.Request) -> web.Response:
    rows = _selected(request)
    return web.json_response({"counts": views.counts(rows), "total": len(rows)})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def make_app(monitor: Monitor) -> web.Application:
    app = web.Application()
    app[MONITOR_KEY] = monitor
    app.router.add_get("/", board)
    app.router.add_get("/api/columns", api_columns)
    app.router.add_get("/api/summary", api_summary)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(monitor: Monitor, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(make_app(monitor), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
