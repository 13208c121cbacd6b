"""The daemon's in-memory view of one target."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.evaluate import History, Verdict
from monitor.model import Target


@dataclass(slots=True)
class Tracked:
    target: Target
    history: History
    verdict: Verdict
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    suggestion: str | None = None  # the override suggested at the last page read without a list or dates
