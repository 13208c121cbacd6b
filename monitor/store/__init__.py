"""Persistence behind one small interface, so a PostgreSQL backend can follow SQLite.

The daemon writes ``ProbeRecord`` batches (an observation, the verdict it led to and whether the
verdict changed) and ``VerdictRecord`` changes from deadline timers; each batch is one
transaction. On start it reads back ``TargetState`` to resume where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from monitor.evaluate import History, Verdict
from monitor.findings import Change, Known, Status
from monitor.model import Observation, Target
from monitor.records import FindingEvent, TargetInfo, VerdictRow

if TYPE_CHECKING:
    from monitor.checks.honest import SeenItem
    from monitor.extract.message_box import Message


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message to deliver on one channel (a receiver, or ``mqtt``), durable until sent.

    ``key`` makes it idempotent: the same alert routed twice (a restart recomputing what is due)
    is stored once. An item born ``suppressed`` (silenced or inhibited) is kept for the trail only.
    """

    key: str
    channel: str
    created_at: datetime
    not_before: datetime
    payload: dict[str, Any]
    suppressed: str | None = None  # why it is not sent: "silenced", "site_down", …
    target_id: str | None = None  # the column or homepage it is about, for its page's trail


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    key: str
    channel: str
    created_at: datetime
    payload: dict[str, Any]
    attempts: int


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


Record = ProbeRecord | VerdictRecord | OutboxRecord | FindingsRecord | HealthProbeRecord


@dataclass(frozen=True, slots=True)
class TargetState:
    history: History
    verdict: Verdict | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None


class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def sync_targets(self, targets: Sequence[Target], now: datetime) -> None: ...
    async def load_states(self) -> dict[str, TargetState]: ...
    async def write(self, records: Sequence[Record]) -> None: ...
    async def verdict_history(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]: ...
    async def observations(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]: ...
    async def recent_item_urls(self, target_ids: Sequence[str], limit: int) -> list[str]: ...
    # outbox: pending items per channel, oldest first; delivery results
    async def outbox_due(self, channel: str, now: datetime, limit: int = 100) -> list[OutboxRow]: ...
    async def outbox_next(self) -> dict[str, datetime]: ...
    async def outbox_sent(self, ids: Sequence[int], at: datetime) -> None: ...
    async def outbox_failed(self, ids: Sequence[int], error: str, retry_at: datetime) -> None: ...
    async def outbox_drop(self, ids: Sequence[int], by: str) -> int: ...
    async def outbox_pending(self, ids: Sequence[int]) -> set[int]: ...
    async def outbox_stats(self) -> dict[str, dict[str, Any]]: ...
    async def outbox_list(self, status: str | None = None, limit: int = 200,
                          target_id: str | None = None) -> list[dict[str, Any]]: ...
    # silences (maintenance windows) by unit, site or target
    async def silence_add(self, scope: str, scope_id: str, ends_at: datetime, reason: str, by: str,
                          now: datetime) -> int: ...
    async def silence_remove(self, silence_id: int) -> bool: ...
    async def silences(self, now: datetime) -> list[Silence]: ...
    # findings of the checks beyond column freshness, with their trail
    async def load_findings(self) -> list[Known]: ...
    async def findings_list(self, status: str | None = "open", check: str | None = None, unit_id: str | None = None,
                            site_id: str | None = None, subject: str | None = None,
                            limit: int = 500) -> list[dict[str, Any]]: ...
    async def finding(self, uid: str) -> dict[str, Any] | None: ...
    async def finding_mark(self, uid: str, status: Status, actor: str, note: str, now: datetime) -> Change | None: ...
    async def finding_marks(self, since: datetime) -> list[tuple[str, str, datetime, str, str]]: ...
    async def health_probes(self, subject: str, since: datetime) -> list[HealthProbeRecord]: ...
    # honest dates: a column's items of the current list and since, and its successful probe times
    async def honest_history(self, target_id: str) -> tuple[list[SeenItem], list[datetime]]: ...
    # policy interpretations: a column's items since a date; citizens' messages as last read per message box
    async def column_items(self, target_id: str, since: date) -> list[SeenItem]: ...
    async def save_messages(self, box_id: str, messages: Sequence[Message], at: datetime) -> None: ...
    async def load_messages(self) -> dict[str, tuple[datetime, list[Message]]]: ...
    # the quarterly report: targets watched in a span, verdict changes before an instant, findings' trails
    async def report_targets(self, start: datetime, end: datetime) -> list[TargetInfo]: ...
    async def verdicts_before(self, end: datetime) -> list[VerdictRow]: ...
    async def finding_trails(self, checks: Sequence[str], before: datetime) -> list[FindingEvent]: ...
