"""Who hears of an alert, and when (pure): receivers, quiet hours, silences and inhibition.

An alert becomes one outbox item per receiver. The item keeps the alert's facts (the message is
rendered when it is sent, so several items of one receiver can go out as one message). Quiet hours
hold an item until they end. A silenced or inhibited alert is still stored, marked suppressed, so
the trail shows what was not sent and why.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from alerts.policy import Alert
from monitor.config import AlertSettings, ReceiverModel, SiteModel, UnitModel
from monitor.evaluate import TZ, countdown
from monitor.findings import Change
from monitor.model import State
from monitor.records import OutboxItem
from monitor.vetoes import SiteVeto


def quiet_until(quiet_hours: str | None, now: datetime) -> datetime | None:
    """When the receiver's quiet hours (e.g. "22:00-08:00") end, if ``now`` falls inside them."""
    if not quiet_hours:
        return None
    start_text, end_text = quiet_hours.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    local = now.astimezone(TZ)
    clock = local.time()
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=TZ)


def facts(alert: Alert, board_url: str | None) -> dict[str, Any]:
    """What a message says about one alert; stored with the outbox item."""
    t, v, at = alert.target, alert.verdict, alert.at.astimezone(TZ)
    since = (at.date() - v.newest_date).days if v.newest_date else None
    overdue, left = countdown(v, at)
    return {
        "kind": alert.kind, "state": str(v.state), "reasons": list(v.reasons), "target_id": t.id,
        "target_kind": t.kind,
        "unit_id": t.unit_id, "unit": t.unit_name, "site": t.site_name, "column": t.name,
        "category": t.rule.category, "rule": t.rule.text, "url": t.url, "at": at.isoformat(),
        "newest_date": v.newest_date.isoformat() if v.newest_date else None, "days_since": since,
        "days_overdue": overdue, "days_left": left, "deadline": v.deadline.isoformat() if v.deadline else None,
        "board": f"{board_url.rstrip('/')}/target/{t.id}" if board_url else None,
    }


def receivers_for(
    alert: Alert, units: dict[str, UnitModel], settings: AlertSettings
) -> list[tuple[str, ReceiverModel]]:
    """(unit id, receiver) pairs that should hear of this alert."""
    if alert.kind == "escalation":
        office = units.get(settings.supervisor or "")
        if office is None:
            return []
        return [(office.id, r) for r in office.receivers if r.on is None or "escalation" in r.on]
    unit = units.get(alert.target.unit_id)
    if unit is None:
        return []
    if alert.kind == "ladder":
        return [(unit.id, r) for r in unit.receivers if r.id in alert.to]
    return [(unit.id, r) for r in unit.receivers if alert.kind in r.events]


UNREGISTERED_RULE = "政务新媒体账号须在政务新媒体信息报送系统备案，未备案账号应整改或关停"


def unregistered_items(
    findings: list[tuple[str | None, str, str, str]], units: dict[str, UnitModel], settings: AlertSettings,
    now: datetime,
) -> list[OutboxItem]:
    """未备案 findings (unit id or None, unit name, platform, account name) as outbox items for the unit's
    receivers that take ``unregistered`` — or, for a unit missing from the inventory, the supervising office's.

    The key is the account itself, so checking the same list again tells nobody twice.
    """
    items = []
    for unit_id, unit_name, platform, name in findings:
        owner = units.get(unit_id or "") or units.get(settings.supervisor or "")
        if owner is None:
            continue
        payload = {
            "kind": "unregistered", "state": "red", "reasons": [], "target_id": None, "target_kind": "account",
            "unit_id": unit_id, "unit": unit_name, "site": platform, "column": name, "category": "政务新媒体",
            "rule": UNREGISTERED_RULE, "url": "", "at": now.astimezone(TZ).isoformat(), "newest_date": None,
            "days_since": None, "days_overdue": None, "days_left": None, "board": None,
        }
        for receiver in owner.receivers:
            if "unregistered" in receiver.events or (owner.id != unit_id and receiver.on is None):
                channel = f"{owner.id}/{receiver.id}"
                not_before = quiet_until(receiver.quiet_hours, now) or now
                items.append(OutboxItem(f"unregistered|{unit_name}|{platform}|{name}>{channel}", channel, now,
                                        not_before, payload))
    return items


def veto_items(
    site: SiteModel, unit: UnitModel, veto: SiteVeto, units: dict[str, UnitModel], settings: AlertSettings,
    board_url: str | None, now: datetime,
) -> list[OutboxItem]:
    """A site whose column vetoes turned yellow or red: its unit's receivers that take ``veto`` hear it, and
    the supervising office too when the site fails."""
    kind = f"veto_{veto.state}"
    payload = {
        "kind": kind, "state": str(veto.state), "reasons": [veto.rule.kind], "target_id": None,
        "target_kind": "site", "unit_id": unit.id, "site_id": site.id, "unit": unit.name, "site": site.name,
        "column": veto.rule.label,
        "category": "单项否决",
        "rule": f"{veto.rule.label}达到 {veto.rule.red_at} 个，网站单项否决（国办秘函〔2019〕19号）",
        "detail": veto.detail, "columns": list(veto.columns), "url": site.homepage,
        "at": now.astimezone(TZ).isoformat(),
        "newest_date": None, "days_since": None, "days_overdue": None, "days_left": None,
        "board": f"{board_url.rstrip('/')}/unit/{unit.id}" if board_url else None,
    }
    owners = [unit]
    office = units.get(settings.supervisor or "")
    if veto.state is State.RED and office is not None and office.id != unit.id:
        owners.append(office)
    items = []
    for owner in owners:
        for receiver in owner.receivers:
            if "veto" in receiver.events or (owner is not unit and receiver.on is None):
                channel = f"{owner.id}/{receiver.id}"
                key = f"veto|{site.id}|{veto.rule.kind}|{veto.state}|{now.astimezone(TZ).date()}>{channel}"
                items.append(OutboxItem(key, channel, now, quiet_until(receiver.quiet_hours, now) or now, payload))
    return items


def route(
    alert: Alert, units: dict[str, UnitModel], settings: AlertSettings, board_url: str | None, now: datetime,
    suppressed: str | None = None,
) -> list[OutboxItem]:
    """One outbox item per receiver; ``suppressed`` (silenced, site_down, …) keeps them for the trail only."""
    payload = facts(alert, board_url)
    items = []
    for unit_id, receiver in receivers_for(alert, units, settings):
        channel = f"{unit_id}/{receiver.id}"
        not_before = quiet_until(receiver.quiet_hours, now) or now
        items.append(OutboxItem(f"{alert.key}>{channel}", channel, now, not_before, payload, suppressed,
                                alert.target.id))
    return items


def finding_items(
    change: Change, units: dict[str, UnitModel], site_name: str, board_url: str | None, now: datetime,
    suppressed: str | None = None,
) -> list[OutboxItem]:
    """A new or worsened finding for its unit's receivers that take ``finding`` (red ones also for those
    that take ``red``, e.g. SMS); one item per receiver, keyed by the finding and the change."""
    f = change.known.finding
    unit = units.get(f.unit_id)
    if unit is None:
        return []
    kind = f"finding_{f.severity}"
    payload = {
        "kind": kind, "state": str(f.severity), "reasons": [f.check], "target_id": f.subject, "target_kind": "finding",
        "unit_id": unit.id, "unit": unit.name, "site": site_name, "column": f.title, "category": f.label,
        "rule": f.label, "detail": f.detail, "url": f.url or "", "uid": f.uid, "at": now.astimezone(TZ).isoformat(),
        "newest_date": None, "days_since": None, "days_overdue": None, "days_left": None,
        "board": f"{board_url.rstrip('/')}/finding/{f.uid}" if board_url else None,
    }
    wanted = {"finding", "red"} if f.severity is State.RED else {"finding"}
    items = []
    for receiver in unit.receivers:
        if wanted & set(receiver.events):
            channel = f"{unit.id}/{receiver.id}"
            key = f"finding|{f.uid}|{change.event}|{int(change.known.changed_at.timestamp())}>{channel}"
            items.append(OutboxItem(key, channel, now, quiet_until(receiver.quiet_hours, now) or now, payload,
                                    suppressed, f.subject))
    return items
