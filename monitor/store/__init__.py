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
class ProbeRecord:
    observation: Observation
    verdict: Verdict
    changed: bool  # the verdict differs from the previous one: a history row is written
    first_seen: datetime | None = None  # when the current newest date was first observed
    etag: str | None = None
    last_modified: str | None = None
    items_changed: bool = True  # the page content differs from the last probe: items are upserted


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """A verdict that changed by time alone (a deadline timer), without a probe."""

    target_id: str
    at: datetime
    verdict: Verdict


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
    async def write(self, records: Sequence[ProbeRecord | VerdictRecord]) -> None: ...
    async def verdict_history(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]: ...
    async def observations(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]: ...
