"""The write side of the API: silences and the outbox. Every write needs ``settings.token``.

Reads (``GET /api/silences``, ``GET /api/outbox``) are open like the rest of the board, which is
bound to loopback by default; writes answer 403 when no token is configured and 401 without the
right ``Authorization: Bearer <token>`` header.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from monitor.daemon import Monitor
from monitor.evaluate import TZ
from monitor.findings import Status
from monitor.web.keys import MONITOR_KEY

SCOPES = ("unit", "site", "target")
OUTBOX_STATUSES = ("pending", "held", "sent", "dropped", "suppressed", "lapsed")
MAX_ID = 2**63 - 1  # the store's row ids are signed 64-bit integers


def _monitor(request: web.Request) -> Monitor:
    return request.app[MONITOR_KEY]


def _authorised(request: web.Request) -> None:
    token = _monitor(request).inventory.settings.token
    if not token:
        raise web.HTTPForbidden(text="写操作未启用：请在配置 settings.token 中设置令牌 (writes need settings.token)\n")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise web.HTTPUnauthorized(text="令牌无效 (Authorization: Bearer <token> required)\n")


def json_response(value: Any, status: int = 200) -> web.Response:
    """JSON with Chinese as written and times in ISO 8601: every API answer goes through here."""

    def default(obj: Any) -> str:
        return obj.isoformat() if isinstance(obj, datetime) else str(obj)

    return web.Response(text=json.dumps(value, ensure_ascii=False, default=default), status=status,
                        content_type="application/json")


def bad_request(text: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=text + "\n")


def _quoted(value: object) -> str:
    """A client's value quoted in an error, cut short: error texts never echo a whole request."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def query_int(request: web.Request, name: str, default: int, low: int = 1, high: int = 10_000) -> int:
    """An integer query value within [low, high], ``default`` when absent; anything else is a 400."""
    text = request.query.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise bad_request(f"查询参数 {name} 应为 {low} 到 {high} 之间的整数，收到 {_quoted(text)}")
    return value


def path_id(request: web.Request, name: str) -> int:
    """A row id from the path (the route admits digits only); one too large for the store is a 400."""
    text = request.match_info[name]
    if len(text) > 19 or int(text) > MAX_ID:
        raise bad_request(f"编号 {_quoted(text)} 超出范围：应为不大于 {MAX_ID} 的正整数")
    return int(text)


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("请求体应为 JSON 对象（Content-Type: application/json）") from None
    if not isinstance(body, dict):
        raise bad_request(f"请求体应为 JSON 对象，收到 {type(body).__name__}")
    return body


def text_field(body: dict[str, Any], name: str, default: str | None = None, limit: int = 500) -> str:
    """A string field of a request body: required unless it has a default, at most ``limit`` characters."""
    value = body.get(name, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        wanted = "字符串" if default is not None else "非空字符串"
        raise bad_request(f"字段 {name} 应为{wanted}，收到 {_quoted(value)}")
    if len(value) > limit:
        raise bad_request(f"字段 {name} 过长：最多 {limit} 个字符")
    return value.strip()


def parse_until(text: str) -> datetime:
    """An end time as ISO 8601; a time without a zone is Asia/Shanghai."""
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=TZ)


async def list_silences(request: web.Request) -> web.Response:
    monitor = _monitor(request)
    return json_response([_silence(s) for s in await monitor.store.silences(monitor.clock())])


def _silence(s: Any) -> dict[str, Any]:
    return {"id": s.id, "scope": s.scope, "scope_id": s.scope_id, "ends_at": s.ends_at, "reason": s.reason,
            "created_by": s.created_by, "created_at": s.created_at, "discard": s.discard}


async def add_silence(request: web.Request) -> web.Response:
    _authorised(request)
    monitor = _monitor(request)
    body = await json_object(request)
    scope, scope_id = text_field(body, "scope"), text_field(body, "id", limit=200)
    if scope not in SCOPES:
        raise bad_request(f"scope 只能是 {', '.join(SCOPES)}")
    try:
        until = parse_until(text_field(body, "until", limit=64))
    except ValueError:
        raise bad_request(f"until 应为 ISO 8601 时间，如 2026-12-31T18:00，收到 {_quoted(body['until'])}") from None
    reason, by = text_field(body, "reason", ""), text_field(body, "by", "api", limit=100) or "api"
    discard = body.get("discard", False)
    if not isinstance(discard, bool):
        raise bad_request("discard 应为 true 或 false（true：静默结束时不补发其间暂缓的告警），"
                          f"收到 {_quoted(discard)}")
    now = monitor.clock()
    if until <= now:
        raise bad_request("until 必须晚于当前时间")
    silence_id = await monitor.store.silence_add(scope, scope_id, until, reason, by, now, discard)
    if monitor.alerts is not None:
        await monitor.alerts.refresh_silences()
    return json_response({"id": silence_id}, status=201)


async def remove_silence(request: web.Request) -> web.Response:
    _authorised(request)
    monitor = _monitor(request)
    if not await monitor.store.silence_remove(path_id(request, "silence_id")):
        raise web.HTTPNotFound(text="没有这条静默\n")
    if monitor.alerts is not None:
        await monitor.alerts.refresh_silences()
    return json_response({"removed": True})


async def outbox(request: web.Request) -> web.Response:
    monitor = _monitor(request)
    status = request.query.get("status") or None
    if status is not None and status not in OUTBOX_STATUSES:
        raise bad_request(f"status 只能是 {', '.join(OUTBOX_STATUSES)}，收到 {_quoted(status)}")
    return json_response({"stats": await monitor.store.outbox_stats(),
                          "items": await monitor.store.outbox_list(status, query_int(request, "limit", 200))})


async def drop_item(request: web.Request) -> web.Response:
    _authorised(request)
    dropped = await _monitor(request).store.outbox_drop([path_id(request, "item_id")], "api")
    if not dropped:
        raise web.HTTPNotFound(text="没有这条待发通知\n")
    return json_response({"dropped": dropped})


async def mark_finding(request: web.Request) -> web.Response:
    """Mark a finding false positive, fixed or open again: ``{"as": "...", "by": "...", "note": "..."}``."""
    _authorised(request)
    monitor = _monitor(request)
    body = await json_object(request)
    marked = text_field(body, "as", "")
    if marked not in (Status.FALSE_POSITIVE, Status.FIXED, Status.OPEN):
        raise bad_request(f"as 只能是 false_positive、fixed 或 open，收到 {_quoted(marked)}")
    status = Status(marked)
    by, note = text_field(body, "by", "api", limit=100) or "api", text_field(body, "note", "")
    change = monitor.book.mark(request.match_info["uid"], status, by, note)
    if change is None:
        raise web.HTTPNotFound(text="没有这条发现\n")
    return json_response({"uid": change.known.finding.uid, "status": str(change.known.status)})


def register(app: web.Application) -> None:
    app.router.add_get("/api/silences", list_silences)
    app.router.add_post("/api/silences", add_silence)
    app.router.add_delete("/api/silences/{silence_id:\\d+}", remove_silence)
    app.router.add_get("/api/outbox", outbox)
    app.router.add_post("/api/outbox/{item_id:\\d+}/drop", drop_item)
    app.router.add_post("/api/findings/{uid}/mark", mark_finding)
