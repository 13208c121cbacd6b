"""The daemon's in-memory view of one target."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.evaluate import History, Verdict
from monitor.model import Target
from monitor.records import TargetState


@dataclass(slots=True)
class Tracked:
    target: Target
    history: History
    verdict: Verdict
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    suggestion: str | None = None  # the override suggested at the last page read without a list or dates


def probed_since(tracked: Tracked, state: TargetState | None) -> bool:
    """Whether this daemon's own last probe of a target is newer than the last one in the store (not written yet,
    or dropped when the target's host went to another daemon while it was in flight)."""
    mine, stored = tracked.history.latest, state.history.latest if state else None
    return mine is not None and (stored is None or mine.at > stored.at)


def written_since(tracked: Tracked, state: TargetState | None) -> bool:
    """Whether the store holds a probe of a target newer than this daemon's own last one (another daemon's)."""
    mine, stored = tracked.history.latest, state.history.latest if state else None
    return stored is not None and (mine is None or stored.at > mine.at)
