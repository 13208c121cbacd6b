"""Held, not dropped: alerts a mute held back, sent when it ends if they are still due (pure).

An alert that an inhibition (its site's homepage down, govwatch cut off) or a silence holds back is stored as
held. Once nothing holds it back, each receiver hears of each column (finding, site veto) at most once: the newest held
alert whose condition still holds is sent, saying that it was held and why; the older ones, and all of them when
the column recovered meanwhile, lapse (kept in the trail, not sent). A "recovered" is sent only when the yellow
or red it ends was not itself held (the receiver heard of it). While the condition cannot be told yet (the column
not read again since a cut-off: unknown), the alert waits. A silence may ``discard`` instead: what it holds back
is only suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.evaluate import TZ, Verdict
from monitor.findings import Known, Status
from monitor.model import State
from monitor.records import HeldRow, Release

# What the column's state must still be for a held alert of each kind to be sent
_STILL = {"yellow": {State.YELLOW}, "red": {State.RED}, "repeat": {State.RED}, "escalation": {State.RED},
          "recovered": {State.GREEN}, "ladder": {State.GREEN, State.YELLOW}}


def still_due(payload: dict[str, object], verdict: Verdict | None, finding: Known | None) -> bool | None:
    """Whether a held alert's condition holds now: its column's verdict (None: no longer watched) or its finding
    as known now; None while it cannot be told (the column's state is unknown)."""
    kind = str(payload["kind"])
    if kind.startswith("finding_"):
        return (finding is not None and finding.status is Status.OPEN
                and str(finding.finding.severity) == payload["state"])
    wanted = _STILL.get(kind)
    if wanted is None or verdict is None:
        return False
    if verdict.state is State.UNKNOWN:
        return None
    if kind == "ladder" and payload["newest_date"] != (verdict.newest_date and verdict.newest_date.isoformat()):
        return False
    if kind in ("yellow", "red", "repeat", "escalation") and not _same_instant(payload.get("deadline"),
                                                                               verdict.deadline):
        return False  # a newer item came meanwhile: this alert is about a deadline that no longer stands
    return verdict.state in wanted


def _same_instant(text: object, when: datetime | None) -> bool:
    """A deadline as the payload wrote it and as the verdict has it now (to the second: a store may round)."""
    if text is None or when is None:
        return text is None and when is None
    return abs((datetime.fromisoformat(str(text)) - when).total_seconds()) < 1


def veto_still_due(payload: dict[str, object], state: State | None) -> bool:
    """Whether a held site veto (否决预警 or 单项否决) still stands: the site's veto is in the same state now."""
    return state is not None and str(state) == payload["state"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A held item as it stands now."""

    row: HeldRow
    muted: bool  # a mute (the same or another) still holds it back
    due: bool | None  # ``still_due``


def settle(candidates: Sequence[Candidate]) -> tuple[list[HeldRow], list[int]]:
    """Which held items to send now and which lapse, per receiver and column (or finding); a group any of whose
    items is still muted or not yet decidable waits whole."""
    groups: dict[tuple[str, object], list[Candidate]] = {}
    for c in candidates:
        p = c.row.payload
        subject = p.get("uid") or p.get("target_id") or f"veto|{p.get('site_id')}|{p.get('reasons')}"
        groups.setdefault((c.row.channel, subject), []).append(c)
    send: list[HeldRow] = []
    lapse: list[int] = []
    for group in groups.values():
        if any(c.muted or c.due is None for c in group):
            continue
        group.sort(key=lambda c: c.row.id)
        chosen = next((c for c in reversed(group) if c.due), None)
        if chosen is not None and chosen.row.payload["kind"] == "recovered" and \
                group[0].row.payload["kind"] != "recovered":
            chosen = None  # it ends a yellow or red the receiver never heard of
        for c in group:
            if c is chosen:
                send.append(c.row)
            else:
                lapse.append(c.row.id)
    return send, lapse


def release(row: HeldRow, not_before: datetime) -> Release:
    """The held item to send: its payload says why it was held and since when (Asia/Shanghai)."""
    since = row.created_at.astimezone(TZ).strftime("%m-%d %H:%M")
    return Release(row.id, {**row.payload, "held": {"reason": row.reason, "since": since}}, not_before)
