"""Rows the store gives back, in plain types any backend can produce (pure data, no database types)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from monitor.model import State


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
