"""aiohttp application for the board (``/``, unit, target, silences and report pages, live ``/events``) and the
JSON API (``/api/columns``, ``/api/summary``; writes in ``admin``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import structlog
from aiohttp import web
from markupsafe import Markup

from monitor.checks.messages import stats_table
from monitor.daemon import Monitor, Tracked
from monitor.evaluate import TZ
from monitor.findings import CHECKS
from monitor.logs import Throttle
from monitor.model import State
from monitor.report.history import quarter_report
from monitor.report.html import body_html
from monitor.report.score import Quarter
from monitor.web import accounts, admin, unreadable, views, wall
from monitor.web.events import EventHub, stream
from monitor.web.keys import EVENTS_KEY, MONITOR_KEY
from monitor.workdays import default_calendar

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = structlog.get_logger()
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("monitor.web", "templates"),
    autoescape=True,  # site titles and page texts are hostile input
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.globals.update(nav=views.NAV, api_links=views.API_LINKS)

STATIC_DIR = Path(__file__).parent / "static"


FILTERS = {"state": lambda tr: tr.verdict.state.value, "unit_id": lambda tr: tr.target.unit_id,
           "site_id": lambda tr: tr.target.site_id, "category": lambda tr: tr.target.rule.category,
           "kind": lambda tr: tr.target.kind}


def _tracked(request: web.Request) -> list[Tracked]:
    """The targets the query's filters (``?state=red&unit_id=…&site_id=…&category=…&kind=…``) select."""
    tracked = list(request.app[MONITOR_KEY].tracked.values())
    for key, value_of in FILTERS.items():
        if value := request.query.get(key):
            tracked = [tr for tr in tracked if value_of(tr) == value]
    return tracked


def _selected(request: web.Request) -> list[dict[str, Any]]:
    return views.rows(_tracked(request), request.app[MONITOR_KEY].clock())


async def report_page(request: web.Request) -> web.Response:
    """The quarterly score table (``?quarter=2026Q4``, default the current quarter), computed on request."""
    monitor = request.app[MONITOR_KEY]
    now = monitor.clock().astimezone(TZ)
    try:
        quarter = Quarter.parse(request.query.get("quarter") or f"{now.year}Q{(now.month - 1) // 3 + 1}")
    except ValueError:
        raise admin.bad_request(f"quarter 应写作 2026Q4 这样的季度，收到 {request.query['quarter'][:20]!r}") from None
    units = [(u.id, u.name) for u in monitor.inventory.model.units]
    report = await quarter_report(monitor.store, quarter, None, units, now)
    recent = [(now.year * 4 + (now.month - 1) // 3 - back) for back in range(4)]  # this quarter and 3 before
    return _page("report.html", body=Markup(await asyncio.to_thread(body_html, report)), quarter=str(quarter),
                 quarters=[f"{n // 4}Q{n % 4 + 1}" for n in recent], now=views.local_time(now))


FINDING_STATUSES = (("open", "待处理"), ("false_positive", "误报"), ("fixed", "已整改"), ("gone", "已消失"))


def _finding_filters(request: web.Request) -> dict[str, Any]:
    status = request.query.get("status", "open")
    if status not in dict(FINDING_STATUSES) and status != "all":
        raise admin.bad_request(f"status 只能是 {', '.join(s for s, _ in FINDING_STATUSES)} 或 all")
    return {"status": None if status == "all" else status,
            **{key: request.query.get(key) or None for key in ("check", "unit_id", "site_id", "subject")}}


async def findings_page(request: web.Request) -> web.Response:
    monitor = request.app[MONITOR_KEY]
    filters = _finding_filters(request)
    rows = views.finding_rows(await monitor.store.findings_list(**filters), monitor)
    shown = filters["status"] or "all"
    return _page("findings.html", rows=rows, shown=shown, statuses=FINDING_STATUSES,
                 status_label=dict(FINDING_STATUSES).get(shown, "全部"), check=filters["check"],
                 check_label=CHECKS.get(filters["check"] or "", filters["check"]),
                 now=views.local_time(monitor.clock()))


async def finding_page(request: web.Request) -> web.Response:
    monitor = request.app[MONITOR_KEY]
    uid = request.match_info["uid"]
    found = await monitor.store.finding(uid)
    if found is None:
        return _not_found("监测发现", uid)
    (f,) = views.finding_rows([found], monitor)
    notifications = [{**n, "created_at": views.local_time(n["created_at"]), "sent_at": views.local_time(n["sent_at"]),
                      "status": views.NOTIFICATION_STATUS.get(n["status"], n["status"])}
                     for n in found["notifications"] if n["channel"] != "mqtt"]
    return _page("finding.html", f=f, trail=views.trail_rows(found["trail"]), notifications=notifications,
                 evidence=views.evidence_rows(found["evidence"]), now=views.local_time(monitor.clock()))


async def api_findings(request: web.Request) -> web.Response:
    monitor = request.app[MONITOR_KEY]
    limit = admin.query_int(request, "limit", 500)
    return admin.json_response(await monitor.store.findings_list(**_finding_filters(request), limit=limit))


async def api_finding(request: web.Request) -> web.Response:
    found = await request.app[MONITOR_KEY].store.finding(request.match_info["uid"])
    if found is None:
        raise web.HTTPNotFound(text="没有这条发现\n")
    return admin.json_response(found)


async def accounts_page(request: web.Request) -> web.Response:
    monitor = request.app[MONITOR_KEY]
    units = accounts.unit_groups(monitor)
    return _page("accounts.html", units=units, unregistered=accounts.unregistered_rows(monitor),
                 total=sum(len(u["rows"]) for u in units), now=views.local_time(monitor.clock()))


async def _message_stats(monitor: Monitor) -> dict[str, Any]:
    return stats_table(monitor.inventory, await monitor.store.load_messages(), monitor.clock(), default_calendar())


async def messages_page(request: web.Request) -> web.Response:
    """Per unit and per message box: answer times of citizens' messages (网民留言办理统计)."""
    monitor = request.app[MONITOR_KEY]
    return _page("messages.html", stats=await _message_stats(monitor), now=views.local_time(monitor.clock()))


async def api_message_stats(request: web.Request) -> web.Response:
    return admin.json_response(await _message_stats(request.app[MONITOR_KEY]))


async def _unreadable(monitor: Monitor) -> list[dict[str, Any]]:
    async def since_of(target_id: str) -> datetime | None:
        latest = await monitor.store.verdict_history(target_id, limit=1)
        return latest[0]["at"] if latest else None

    return await unreadable.unreadable_rows(monitor.tracked.values(), since_of, monitor.clock())


async def unreadable_page(request: web.Request) -> web.Response:
    """无法识别的栏目: columns whose page could not be read for more than a day, with a suggested override."""
    monitor = request.app[MONITOR_KEY]
    return _page("unreadable.html", rows=await _unreadable(monitor), now=views.local_time(monitor.clock()))


async def api_unreadable(request: web.Request) -> web.Response:
    return admin.json_response(await _unreadable(request.app[MONITOR_KEY]))


async def silences_page(request: web.Request) -> web.Response:
    monitor = request.app[MONITOR_KEY]
    silences = await monitor.store.silences(monitor.clock())
    return _page("silences.html", silences=views.silence_rows(silences, monitor), now=views.local_time(monitor.clock()))


async def board(request: web.Request) -> web.Response:
    """The wall: counts, then the red, yellow and unknown lists, or past one screen of them a ranking of units
    and sites; then vetoes and the findings summary."""
    monitor = request.app[MONITOR_KEY]
    now = monitor.clock()
    built = wall.build(_tracked(request))
    return _page("board.html", b=built, lists=[] if built.ranked else wall.wall_lists(built, now),
                 units=built.units[:wall.RANK_ROWS], sites=built.sites[:wall.RANK_ROWS],
                 vetoes=[] if built.ranked else wall.veto_rows(built), health=views.finding_summary(monitor.findings),
                 titles=wall.LIST_TITLES, query=request.query_string, now=views.local_time(now), wall_view=True)


async def list_page(request: web.Request) -> web.Response:
    """``/list/{state}``: one state's columns, worst first, paged (``?page=``; the board's filters apply)."""
    monitor = request.app[MONITOR_KEY]
    try:
        state = State(request.match_info["state"])
        number = int(request.query.get("page", 1))
    except ValueError:
        raise web.HTTPNotFound() from None
    if state not in wall.LISTED:
        raise web.HTTPNotFound()
    built = wall.build(_tracked(request))
    page = wall.page_of(built.problems[state], number)
    filters = {k: v for k, v in request.query.items() if k in FILTERS and k != "state"}
    return _page("list.html", b=built, state=str(state), title=wall.LIST_TITLES[state],
                 last=wall.LAST_HEADERS[state], page=page, rows=wall.list_rows(page.rows, monitor.clock()),
                 filters=filters, now=views.local_time(monitor.clock()))


async def ranking_page(request: web.Request) -> web.Response:
    """``/ranking/units`` and ``/ranking/sites``: every unit or site with problem columns, worst first, paged."""
    monitor = request.app[MONITOR_KEY]
    by = request.match_info["by"]
    try:
        number = int(request.query.get("page", 1))
    except ValueError:
        raise web.HTTPNotFound() from None
    built = wall.build(_tracked(request))
    page = wall.page_of(built.units if by == "units" else built.sites, number)
    return _page("ranking.html", b=built, by=by, page=page, now=views.local_time(monitor.clock()))


async def api_columns(request: web.Request) -> web.Response:
    return admin.json_response(_selected(request))


async def api_summary(request: web.Request) -> web.Response:
    built = wall.build(_tracked(request))
    return admin.json_response({"counts": built.counts, "total": built.total})


async def healthz(request: web.Request) -> web.Response:
    """200 ``ok`` while the daemon works; 503 naming the cause while a cluster's daemon has lost its store and
    stopped probing, or while its store refuses writes (or one hangs)."""
    monitor = request.app[MONITOR_KEY]
    if monitor.cluster is not None and (problem := monitor.cluster.problem()) is not None:
        return web.Response(status=503, text=f"cluster_store_lost\n{problem}\n")
    problem = monitor.writer.problem()
    if problem is not None:
        return web.Response(status=503, text=f"store_write_failing\n{problem}\n")
    return web.Response(text="ok\n")


def _page(name: str, status: int = 200, **context: Any) -> web.Response:
    html = _TEMPLATES.get_template(name).render(labels=views.STATE_LABELS, kinds=views.KIND_LABELS, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


ERROR_TITLES = {400: "请求有误", 401: "需要令牌", 403: "禁止访问", 404: "页面不存在", 405: "不支持的请求方法",
                413: "请求过大", 500: "服务器内部错误"}
ERROR_MESSAGES = {404: "地址有误，或该页面已移除。", 405: "该地址不支持这种请求方法。",
                  500: "看板处理这个请求时出错，已记入日志。监测和告警不受影响。"}


def _error_page(status: int, message: str | None = None) -> web.Response:
    title = ERROR_TITLES.get(status, "请求失败")
    return _page("error.html", status=status, code=status, title=title,
                 message=message or ERROR_MESSAGES.get(status, title + "。"))


def _not_found(what: str, ident: str) -> web.Response:
    return _error_page(404, f"编号“{ident}”的{what}不存在，可能已从监测清单中移除。")


def _machine_path(path: str) -> bool:
    """The API, the metrics, the event stream and static files: answered for programs, not as board pages."""
    return path in ("/metrics", "/events") or path.startswith(("/api/", "/static/"))


@web.middleware
async def error_pages(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error on a page answers in the board's style, in Chinese; the API, metrics and static files keep their
    handlers' answers, and aiohttp's own English ones ("404: Not Found") become a Chinese line there."""
    machine = _machine_path(request.path)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = (exc.text or "").strip()
        if machine:
            if text not in ("", f"{exc.status}: {exc.reason}"):
                raise  # the handler's own answer (JSON, a Chinese line)
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            return web.Response(status=exc.status, headers=allow,
                                text=f"{ERROR_TITLES.get(exc.status, '请求失败')}（{exc.status}）\n")
        # aiohttp's own texts ("404: Not Found") are English; the board's handlers give theirs in Chinese.
        return _error_page(exc.status, None if text.startswith(f"{exc.status}:") or text.isascii() else text)
    except Exception:
        if machine:
            raise
        log.exception("board_error", path=request.path)
        return _error_page(500)


async def unit_page(request: web.Request) -> web.Response:
    monitor = request.app[MONITOR_KEY]
    unit_id = request.match_info["unit_id"]
    unit = next((u for u in monitor.inventory.model.units if u.id == unit_id), None)
    if unit is None:
        return _not_found("责任单位", unit_id)
    rows = views.rows([t for t in monitor.tracked.values() if t.target.unit_id == unit_id], monitor.clock())
    return _page("unit.html", unit=unit.name, unit_id=unit_id, sites=views.unit_sites(rows),
                 counts=views.counts(rows), total=len(rows), now=views.local_time(monitor.clock()))


async def target_page(request: web.Request) -> web.Response:
    monitor = request.app[MONITOR_KEY]
    target_id = request.match_info["target_id"]
    tracked = monitor.tracked.get(target_id)
    if tracked is None:
        return _not_found("监测栏目", target_id)
    now = monitor.clock()
    history = await monitor.store.verdict_history(target_id)
    observations = await monitor.store.observations(target_id, limit=30)
    notifications = [n for n in await monitor.store.outbox_list(None, 50, target_id) if n["channel"] != "mqtt"]
    latest = tracked.history.latest
    return _page("target.html", r=views.row(tracked, now), reasons=views.reason_text(tracked.verdict.reasons),
                 technical=latest.detail if latest is not None and latest.error is not None
                 and (latest.detail or "") not in tracked.verdict.detail else None,
                 notifications=views.notification_rows(notifications),
                 deadline=views.local_time(tracked.verdict.deadline), now=views.local_time(now),
                 last_probe=views.local_time(latest.at if latest else None),
                 final_url=latest.final_url if latest is not None else None,
                 history=views.history_rows(history), observations=views.observation_rows(observations))


async def events(request: web.Request) -> web.StreamResponse:
    return await stream(request, request.app[EVENTS_KEY], request.app[MONITOR_KEY].inventory.settings.event_streams)


async def _events_start(app: web.Application) -> None:
    app[MONITOR_KEY].hooks.listeners.append(app[EVENTS_KEY].listener)
    app[MONITOR_KEY].hooks.fleet_listeners.append(app[EVENTS_KEY].listener)  # other daemons' verdicts (a cluster)


async def _events_stop(app: web.Application) -> None:
    """Remove the listener and end every open stream, so shutdown does not wait on browsers."""
    with contextlib.suppress(ValueError):
        app[MONITOR_KEY].hooks.listeners.remove(app[EVENTS_KEY].listener)
    app[EVENTS_KEY].close()


def make_app(monitor: Monitor, metrics: Metrics | None = None) -> web.Application:
    app = web.Application(middlewares=[error_pages])
    app[MONITOR_KEY] = monitor
    if metrics is not None:
        app.router.add_get("/metrics", metrics.handler)
    app.router.add_get("/", board)
    app.router.add_get("/api/columns", api_columns)
    app.router.add_get("/api/summary", api_summary)
    app.router.add_get("/healthz", healthz)
    app[EVENTS_KEY] = EventHub()
    app.router.add_get("/list/{state}", list_page)
    app.router.add_get("/ranking/{by:units|sites}", ranking_page)
    app.router.add_get("/unit/{unit_id}", unit_page)
    app.router.add_get("/target/{target_id}", target_page)
    app.router.add_get("/events", events)
    app.router.add_get("/silences", silences_page)
    app.router.add_get("/report", report_page)
    app.router.add_get("/messages", messages_page)
    app.router.add_get("/unreadable", unreadable_page)
    app.router.add_get("/api/unreadable", api_unreadable)
    app.router.add_get("/api/messages/stats", api_message_stats)
    app.router.add_get("/findings", findings_page)
    app.router.add_get("/accounts", accounts_page)
    app.router.add_get("/finding/{uid}", finding_page)
    app.router.add_get("/api/findings", api_findings)
    app.router.add_get("/api/findings/{uid}", api_finding)
    admin.register(app)
    app.router.add_static("/static/", STATIC_DIR)
    app.on_startup.append(_events_start)
    app.on_shutdown.append(_events_stop)
    return app


ACCEPT_LOG_EVERY_S = 60.0


def _log_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Out of file descriptors, asyncio logs its failed accept() with a traceback every second for as long as it
    lasts; log it once a minute instead, with how many were held back (other errors go on as before)."""
    previous = loop.get_exception_handler()
    if getattr(previous, "accept_errors", False):
        return
    throttle = Throttle(ACCEPT_LOG_EVERY_S)

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != "socket.accept() out of system resource":
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
        elif (held := throttle.allow(time.monotonic())) is not None:
            log.error("accept_failed", error=str(context.get("exception")), held_back=held,
                      hint="out of file descriptors: LimitNOFILE= in the unit, settings.event_streams")

    handle.accept_errors = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handle)


async def serve(monitor: Monitor, host: str, port: int, metrics: Metrics | None = None,
                sock: socket.socket | None = None) -> web.AppRunner:
    """The board on ``host:port``, or on ``sock`` when the caller bound it already."""
    _log_accept_errors(asyncio.get_running_loop())
    runner = web.AppRunner(make_app(monitor, metrics), access_log=None)
    await runner.setup()
    await (web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)).start()
    return runner
