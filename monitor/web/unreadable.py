"""无法识别的栏目 (``/unreadable``, ``/api/unreadable``): columns whose page was fetched but could not be read — no
list, no dates, a script-built list, a changed page — for more than a day, each with why, when it was last tried
and the override govwatch suggests (what an operator puts in the inventory to fix it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from monitor.daemon import Tracked
from monitor.extract.explain import advice
from monitor.model import State, TargetKind
from monitor.web import views

UNREADABLE_AFTER = timedelta(days=1)
_NOT_UNREADABLE = ("fetch_failed", "not_probed")  # a page not fetched (yet) is the fetcher's problem, not the reader's


def candidates(tracked: Iterable[Tracked]) -> list[Tracked]:
    """Columns and homepages now unknown because their page could not be read."""
    return [
        t for t in tracked
        if t.target.kind in (TargetKind.COLUMN, TargetKind.HOMEPAGE) and t.verdict.state is State.UNKNOWN
        and t.verdict.reasons and t.verdict.reasons[0] not in _NOT_UNREADABLE
    ]


async def unreadable_rows(
    tracked: Iterable[Tracked], since_of: Callable[[str], Awaitable[datetime | None]], now: datetime,
) -> list[dict[str, Any]]:
    """The columns unreadable for more than a day, longest first. ``since_of`` gives when a target's current
    verdict began (the store's verdict history)."""
    found = []
    for t in candidates(tracked):
        since = await since_of(t.target.id)
        if since is None or now - since < UNREADABLE_AFTER:
            continue
        latest = t.history.latest
        reason = t.verdict.reasons[0]
        read = t.history.last_read
        if reason == "unreadable" and read is not None and read.reason is not None:
            reason = str(read.reason)  # the reader's own word: no_list, no_dates
        found.append({
            "id": t.target.id, "unit": t.target.unit_name, "unit_id": t.target.unit_id, "site": t.target.site_name,
            "column": t.target.name, "url": t.target.url, "reason": reason,
            "reason_label": views.REASON_LABELS.get(reason, reason), "advice": advice(reason),
            "since": since.isoformat(), "since_text": views.local_time(since), "days": (now - since).days,
            "last_try": latest.at.isoformat() if latest else None,
            "last_try_text": views.local_time(latest.at if latest else None),
            "suggestion": t.suggestion, "explain": f"govwatch probe {t.target.url} --explain",
        })
    found.sort(key=lambda r: (r["since"], r["unit"], r["site"], r["column"]))
    return found
