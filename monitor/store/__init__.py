"""Persistence behind one small interface, so a PostgreSQL backend can follow SQLite.

The daemon writes ``ProbeRecord`` batches (an observation, the verdict it led to and whether the
verdict changed) and ``VerdictRecord`` changes from deadline timers; each batch is one
transaction. On start it reads back ``TargetState`` to resume where it stopped. The records and rows
are plain data in ``monitor.records`` (pure modules build them without importing the store).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from monitor.findings import Change, Known, Status
from monitor.model import Target
from monitor.records import (
    FindingEvent,
    HealthProbeRecord,
    HeldRow,
    OutboxRow,
    Record,
    Release,
    Silence,
    TargetInfo,
    TargetState,
    VerdictRow,
)

if TYPE_CHECKING:
    from monitor.checks.honest import SeenItem
    from monitor.extract.message_box import Message


class TargetStore(Protocol):
    """Targets, their observations and verdicts: what the daemon writes and resumes from."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def sync_targets(self, targets: Sequence[Target], now: datetime) -> None: ...
    async def load_states(self, target_ids: Sequence[str] | None = None) -> dict[str, TargetState]: ...
    async def write(self, records: Sequence[Record]) -> None: ...
    async def verdict_history(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]: ...
    async def observations(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]: ...


class OutboxStore(Protocol):
    """The durable outbox: pending items per channel, oldest first; delivery results."""

    async def outbox_due(self, channel: str, now: datetime, limit: int = 100) -> list[OutboxRow]: ...
    async def outbox_next(self) -> dict[str, datetime]: ...
    async def outbox_sent(self, ids: Sequence[int], at: datetime) -> None: ...
    async def outbox_failed(self, ids: Sequence[int], error: str, retry_at: datetime) -> None: ...
    async def outbox_drop(self, ids: Sequence[int], by: str) -> int: ...
    async def outbox_pending(self, ids: Sequence[int]) -> set[int]: ...
    async def outbox_stats(self) -> dict[str, dict[str, Any]]: ...
    async def outbox_list(self, status: str | None = None, limit: int = 200,
                          target_id: str | None = None) -> list[dict[str, Any]]: ...
    # held items (a mute held them back): read, then each released (pending again) or lapsed (closed, not sent)
    async def outbox_held(self, limit: int = 10_000) -> list[HeldRow]: ...
    async def outbox_settle(self, release: Sequence[Release], lapse: Sequence[int]) -> None: ...
    # MQTT: the newest retained message sent per topic, oldest first (republished after a broker restart); None to a
    # daemon of a cluster while another publishes MQTT
    async def mqtt_retained(self) -> list[dict[str, Any]] | None: ...


class SilenceStore(Protocol):
    """Silences (maintenance windows) by unit, site or target."""

    async def silence_add(self, scope: str, scope_id: str, ends_at: datetime, reason: str, by: str,
                          now: datetime, discard: bool = False) -> int: ...
    async def silence_remove(self, silence_id: int) -> bool: ...
    async def silences(self, now: datetime) -> list[Silence]: ...


class FindingStore(Protocol):
    """Findings of the checks beyond column freshness, with their trail and operators' marks."""

    async def load_findings(self) -> list[Known]: ...
    async def findings_list(self, status: str | None = "open", check: str | None = None, unit_id: str | None = None,
                            site_id: str | None = None, subject: str | None = None,
                            limit: int = 500) -> list[dict[str, Any]]: ...
    async def finding(self, uid: str) -> dict[str, Any] | None: ...
    async def finding_mark(self, uid: str, status: Status, actor: str, note: str, now: datetime) -> Change | None: ...
    async def finding_marks(self, since: datetime) -> list[tuple[str, str, datetime, str, str]]: ...


class CheckStore(Protocol):
    """What the checks read and keep (each check declares the part it uses: its own store view)."""

    async def recent_item_urls(self, target_ids: Sequence[str], limit: int) -> list[str]: ...  # links
    async def health_probes(self, subject: str, since: datetime) -> list[HealthProbeRecord]: ...  # availability
    # honest dates: a column's items of the current list and since, and its successful probe times
    async def honest_history(self, target_id: str) -> tuple[list[SeenItem], list[datetime]]: ...
    async def column_items(self, target_id: str, since: date) -> list[SeenItem]: ...  # policy interpretations
    # citizens' messages as last read per message box
    async def save_messages(self, box_id: str, messages: Sequence[Message], at: datetime) -> None: ...
    async def load_messages(self) -> dict[str, tuple[datetime, list[Message]]]: ...
    # the check runner: when each check last ran on each subject (of ``subjects``; None: all), by (check, subject)
    async def check_runs(self, subjects: Sequence[str] | None = None) -> dict[tuple[str, str], datetime]: ...


class ReportStore(Protocol):
    """The quarterly report: targets watched in a span, verdict changes before an instant, findings' trails."""

    async def report_targets(self, start: datetime, end: datetime) -> list[TargetInfo]: ...
    async def verdicts_before(self, end: datetime) -> list[VerdictRow]: ...
    async def finding_trails(self, checks: Sequence[str], before: datetime) -> list[FindingEvent]: ...


class RetentionStore(Protocol):
    """A store that lasts for years: probes before a time reduced to the ends of their runs of identical results
    (what matters kept: verdict changes, items, findings and the notifications' trail), and a checked copy."""

    async def compact(self, before: datetime, availability_before: datetime | None = None) -> int: ...
    async def backup(self, to: Path) -> None: ...


class Store(TargetStore, OutboxStore, SilenceStore, FindingStore, CheckStore, ReportStore, RetentionStore, Protocol):
    """Everything a backend provides (SQLite now; PostgreSQL can follow). Parts of govwatch depend on the
    concerns they use: the sender and MQTT on ``OutboxStore``, the alert engine on ``SilenceStore``, the
    report on ``ReportStore``, the service's periodic compaction on ``RetentionStore``."""


class StoreUnavailable(Exception):
    """The store named cannot be used (its backend's libraries are not installed, its database cannot be reached):
    what is wrong and what to do, in Chinese (``zh``) and English (``en``)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} — {en}")
        self.zh, self.en = zh, en


class NoRoom(Exception):
    """The store's disk lacks the room some upkeep needs (compaction, the one-time VACUUM that converts an older
    file): it is put off and tried again later, and nothing else is affected."""

    def __init__(self, work: str, need: int, free: int) -> None:
        super().__init__(f"{work} needs {need} bytes free beside the store, {free} are")
        self.work, self.need, self.free = work, need, free


def store_at(location: str | Path) -> Store:
    """The store ``settings.store`` names: a ``postgresql://`` URI (PostgreSQL; the ``postgres`` extra) or the path
    of a SQLite file (the default; needs nothing)."""
    from monitor.store.location import is_postgres

    text = str(location)
    if is_postgres(text):
        try:
            from monitor.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreUnavailable(
                f"settings.store 指向 PostgreSQL，需要先安装：pip install 'govwatch[postgres]'（缺少 {exc.name}）",
                "a PostgreSQL store needs the postgres extra: pip install 'govwatch[postgres]'") from exc
        return PostgresStore(text)
    from monitor.store.sqlite import SQLiteStore

    return SQLiteStore(text)
