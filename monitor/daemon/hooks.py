"""Everything outside the daemon that hears what it does, in one typed object given to the ``Monitor`` at
construction. The service (the composition root) fills it once, before the monitor loads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from monitor.evaluate import Verdict
from monitor.findings import Change
from monitor.model import Observation, Target
from monitor.records import OutboxItem

if TYPE_CHECKING:
    from monitor.checks.base import ObservationCheck
    from monitor.checks.runner import CheckRunner
    from monitor.config import Inventory

Listener = Callable[[Target, Verdict, Verdict | None], Awaitable[None] | None]
Router = Callable[[Target, Verdict, Verdict | None, datetime], tuple[OutboxItem, ...]]
FindingRouter = Callable[[Sequence[Change], datetime], tuple[OutboxItem, ...]]


class Alerts(Protocol):
    """What the board asks of the alert engine: take in a silence added or removed now."""

    async def refresh_silences(self) -> None: ...


@dataclass(slots=True)
class Hooks:
    # A verdict change → the outbox items written in the same transaction (the alert engine).
    router: Router | None = None
    # Findings that changed → their outbox items, same transaction (the alert engine).
    finding_router: FindingRouter | None = None
    listeners: list[Listener] = field(default_factory=list)  # verdict changes (the board's live events)
    probe_listeners: list[Callable[[Target, Observation], None]] = field(default_factory=list)  # metrics
    finding_listeners: list[Callable[[Sequence[Change]], None]] = field(default_factory=list)  # metrics, board
    after_write: list[Callable[[], None]] = field(default_factory=list)  # after each committed batch
    on_reload: list[Callable[[Inventory], None]] = field(default_factory=list)  # a new inventory, before it applies
    observation_checks: list[ObservationCheck] = field(default_factory=list)  # on every fetched observation
    checks: CheckRunner | None = None  # the periodic checks, started with the monitor
    alerts: Alerts | None = None  # the alert engine, for the board's silences
