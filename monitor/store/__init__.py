"""Persistence behind one small interface, so a PostgreSQL backend can follow SQLite.

The daemon writes ``ProbeRecord`` batches (an observation, the verdict it led to and whether the
verdict changed) and ``VerdictRecord`` changes from deadline timers; each batch is one
transaction. On start it reads back ``TargetState`` to resume where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from monitor.config import Target
from monitor.evaluate import History, Verdict
from monitor.model import Observation


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


Record = ProbeRecord | VerdictRecord | OutboxRecord


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
