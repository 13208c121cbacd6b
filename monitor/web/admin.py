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

SCOPES = ("unit", "site", "target")


def _monitor(request: web.Request) -> Monitor:
    from monitor.web.app import MONITOR_KEY

    return request.app[MONITOR_KEY]


def _authorised(request: web.Request) -> None:
    token = _monitor(request).inventory.settings.token
    if not token:
        raise web.HTTPForbidden(text="写操作未启用：请在配置 settings.token 中设置令牌 (writes need settings.token)\n")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise web.HTTPUnauthorized(text="令牌无效 (Authorization: Bearer <token> required)\n")


def json_response(value: Any, status: int = 200) -> web.Response:
    """JSON with Chinese as written and times in ISO 8601: every API answer goes through here."""

    def default(obj: Any) -> str:
        return obj.isoformat() if isinstance(obj, datetime) else str(obj)

    return web.Response(text=json.dumps(value, ensure_ascii=False, default=default), status=status,
                        content_type="application/json")


def parse_until(text: str) -> datetime:
    """An end time as ISO 8601; a time without a zone is Asia/Shanghai."""
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=TZ)


async def list_silences(request: web.Request) -> web.Response:
    monitor = _monitor(request)
    return json_response([_silence(s) for s in await monitor.store.silences(monitor.clock())])


def _silence(s: Any) -> dict[str, Any]:
    return {"id": s.id, "scope": s.scope, "scope_id": s.scope_id, "ends_at": s.ends_at, "reason": s.reason,
            "created_by": s.created_by, "created_at": s.created_at}


async def add_silence(request: web.Request) -> web.Response:
    _authorised(request)
    monitor = _monitor(request)
    try:
        body = await request.json()
        scope, scope_id = body["scope"], str(body["id"])
        until, reason = parse_until(str(body["until"])), str(body.get("reason", "")).strip()
    except (ValueError, KeyError, TypeError) as exc:
        raise web.HTTPBadRequest(
            text=f"需要 JSON: scope (unit|site|target), id, until (ISO 时间), reason: {exc}\n") from None
    if scope not in SCOPES:
        raise web.HTTPBadRequest(text=f"scope 只能是 {', '.join(SCOPES)}\n")
    now = monitor.clock()
    if until <= now:
        raise web.HTTPBadRequest(text="until 必须晚于当前时间\n")
    silence_id = await monitor.store.silence_add(scope, scope_id, until, reason, body.get("by", "api"), now)
    if monitor.alerts is not None:
        await monitor.alerts.refresh_silences()
    return json_response({"id": silence_id}, status=201)


async def remove_silence(request: web.Request) -> web.Response:
    _authorised(request)
    monitor = _monitor(request)
    if not await monitor.store.silence_remove(int(request.match_info["silence_id"])):
        raise web.HTTPNotFound(text="没有这条静默\n")
    if monitor.alerts is not None:
        await monitor.alerts.refresh_silences()
    return json_response({"removed": True})


async def outbox(request: web.Request) -> web.Response:
    monitor = _monitor(request)
    status = request.query.get("status") or None
    return json_response({"stats": await monitor.store.outbox_stats(),
                  "items": await monitor.store.outbox_list(status, int(request.query.get("limit", 200)))})


async def drop_item(request: web.Request) -> web.Response:
    _authorised(request)
    dropped = await _monitor(request).store.outbox_drop([int(request.match_info["item_id"])], "api")
    if not dropped:
        raise web.HTTPNotFound(text="没有这条待发通知\n")
    return json_response({"dropped": dropped})


async def mark_finding(request: web.Request) -> web.Response:
    """Mark a finding false positive, fixed or open again: ``{"as": "...", "by": "...", "note": "..."}``."""
    _authorised(request)
    monitor = _monitor(request)
    try:
        body = await request.json()
        status = Status(str(body["as"]))
        by, note = str(body.get("by") or "api"), str(body.get("note", "")).strip()
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest(text="需要 JSON: as (false_positive|fixed|open), by, note\n") from None
    if status is Status.GONE:
        raise web.HTTPBadRequest(text="as 只能是 false_positive、fixed 或 open\n")
    change = monitor.mark_finding(request.match_info["uid"], status, by, note)
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
