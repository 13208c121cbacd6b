"""What goes into the store (records, one batch per transaction) and the rows it gives back: plain data any
backend can take and produce, no database types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from monitor.evaluate import History, Verdict
from monitor.findings import Change
from monitor.model import Observation, State


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message to deliver on one channel (a receiver, or ``mqtt``), durable until sent.

    ``key`` makes it idempotent: the same alert routed twice (a restart recomputing what is due)
    is stored once. An item born ``suppressed`` (silenced or inhibited) is kept for the trail only, unless it
    is held (``hold``): then it is sent when what held it back ends, if it is still due (``alerts.held``).
    """

    key: str
    channel: str
    created_at: datetime
    not_before: datetime
    payload: dict[str, Any]
    suppressed: str | None = None  # why it is not sent: "silenced", "site_down", …
    target_id: str | None = None  # the column or homepage it is about, for its page's trail
    hold: bool = False  # suppressed for now, stored as held: released or lapsed when the mute ends

    @property
    def status(self) -> str:
        """As stored: pending, held (sent when its mute ends, if still due) or suppressed (the trail only)."""
        return ("held" if self.hold else "suppressed") if self.suppressed else "pending"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    key: str
    channel: str
    created_at: datetime
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class HeldRow:
    """An outbox item held back by a mute (``reason``: "site_down", "govwatch_cut_off", "silenced#<id>")."""

    id: int
    channel: str
    created_at: datetime
    payload: dict[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class Release:
    """A held item to send now: its payload says it was held and why; not before its receiver's quiet hours end."""

    id: int
    payload: dict[str, Any]
    not_before: datetime


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """Outbox items not tied to a verdict change (ladder steps, escalations, reminders)."""

    items: tuple[OutboxItem, ...]


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    scope: str  # "unit" | "site" | "target"
    scope_id: str
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    discard: bool = False  # what it held back is not sent when it ends (default: sent then, if still due)


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    observation: Observation
    verdict: Verdict
    changed: bool  # the verdict differs from the previous one: a history row is written
    first_seen: datetime | None = None  # when the current newest date was first observed
    etag: str | None = None
    last_modified: str | None = None
    items_changed: bool = True  # the page content differs from the last probe: items are upserted
    outbox: tuple[OutboxItem, ...] = ()  # notifications and events the change causes, same transaction


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """A verdict that changed by time alone (a deadline timer), without a probe."""

    target_id: str
    at: datetime
    verdict: Verdict
    outbox: tuple[OutboxItem, ...] = ()


@dataclass(frozen=True, slots=True)
class FindingsRecord:
    """Findings that changed (found, gone, marked, …): each a row update and a trail event, with the
    notifications and MQTT events they cause, in one transaction."""

    changes: tuple[Change, ...]
    outbox: tuple[OutboxItem, ...] = ()


@dataclass(frozen=True, slots=True)
class HealthProbeRecord:
    """One availability probe of a homepage (kept for the rolling failure window)."""

    subject: str
    at: datetime
    ok: bool
    error: str | None = None
    status: int | None = None
    ms: float | None = None


@dataclass(frozen=True, slots=True)
class CheckRunRecord:
    """A check ran on a subject (started ``at``): its next run, by whichever daemon, falls one interval later."""

    check: str
    subject: str
    at: datetime


Record = ProbeRecord | VerdictRecord | OutboxRecord | FindingsRecord | HealthProbeRecord | CheckRunRecord


@dataclass(frozen=True, slots=True)
class TargetState:
    history: History
    verdict: Verdict | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """A target as the store keeps it (also targets no longer in the inventory)."""

    id: str
    kind: str
    name: str
    url: str
    site_id: str
    site_name: str
    unit_id: str
    unit_name: str
    category: str


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """One verdict change of one target, as stored in its history."""

    target_id: str
    at: datetime
    state: State
    newest_date: date | None
    deadline: datetime | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FindingEvent:
    """One event of a finding's trail, with the finding it belongs to."""

    uid: str
    check: str
    subject: str
    key: str
    site_id: str
    title: str
    detail: str
    at: datetime
    event: str
    severity: State
