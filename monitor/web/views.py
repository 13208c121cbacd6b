"""What the board and the API show, computed from the monitor's in-memory state (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.daemon import Tracked
from monitor.evaluate import TZ
from monitor.model import State

STATE_LABELS = {State.GREEN: "正常", State.YELLOW: "预警", State.RED: "超期", State.UNKNOWN: "未知"}
KIND_LABELS = {"column": "栏目", "homepage": "首页"}
STATE_ORDER = (State.RED, State.YELLOW, State.UNKNOWN, State.GREEN)


def _days_between(start: datetime, end: datetime) -> int:
    return (end.astimezone(TZ).date() - start.astimezone(TZ).date()).days


def row(tracked: Tracked, now: datetime) -> dict[str, Any]:
    """One target as the API and the board show it."""
    t, v = tracked.target, tracked.verdict
    overdue = left = None
    if v.deadline is not None:
        if v.state is State.RED:
            overdue = _days_between(v.deadline, now) + 1
        else:
            left = _days_between(now, v.deadline)
    latest = tracked.history.latest
    return {
        "id": t.id, "kind": t.kind, "unit": t.unit_name, "unit_id": t.unit_id, "site": t.site_name,
        "site_id": t.site_id, "column": t.name, "category": t.rule.category, "url": t.url,
        "rule": t.rule.text, "state": str(v.state), "state_label": STATE_LABELS[v.state],
        "reasons": list(v.reasons), "detail": v.detail,
        "newest_date": v.newest_date.isoformat() if v.newest_date else None,
        "deadline": v.deadline.isoformat() if v.deadline else None,
        "days_overdue": overdue, "days_left": left,
        "last_probe": latest.at.isoformat() if latest else None,
    }


def rows(tracked: Iterable[Tracked], now: datetime) -> list[dict[str, Any]]:
    """All rows, worst first: red by days overdue, yellow by days left, then unknown and green."""
    out = [row(t, now) for t in tracked]
    order = {str(s): i for i, s in enumerate(STATE_ORDER)}
    out.sort(key=lambda r: (order[r["state"]], -(r["days_overdue"] or 0), r["days_left"] or 0, r["unit"], r["site"]))
    return out


def counts(all_rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    tally = Counter(r["state"] for r in all_rows)
    return {str(s): tally.get(str(s), 0) for s in STATE_ORDER}
