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
    from monitor.daemon.tracked import Tracked

Listener = Callable[[Target, Verdict, Verdict | None], Awaitable[None] | None]
Router = Callable[[Target, Verdict, Verdict | None, datetime], tuple[OutboxItem, ...]]
FindingRouter = Callable[[Sequence[Change], datetime], tuple[OutboxItem, ...]]


class Alerts(Protocol):
    """What the board asks of the alert engine: take in a silence added or removed now."""

    async def refresh_silences(self) -> None: ...


class Shard(Protocol):
    """This daemon's part of a cluster (``monitor.daemon.cluster.Cluster``): what the monitor, the service, the
    board and the metrics ask of it."""

    stopping: bool

    def owns_key(self, key: str) -> bool: ...  # works the host ``key`` now
    def owns_subject(self, subject: str) -> bool: ...  # runs the checks of ``subject`` now
    def problem(self) -> str | None: ...  # why it does no work now
    def status_text(self) -> str: ...
    def gauges(self) -> dict[str, float]: ...  # buckets_held, buckets, members, store_up (the metrics)
    async def run(self) -> None: ...  # the heartbeat
    async def leave(self) -> None: ...  # a clean stop


@dataclass(slots=True)
class Hooks:
    # A verdict change → the outbox items written in the same transaction (the alert engine).
    router: Router | None = None
    # Findings that changed → their outbox items, same transaction (the alert engine).
    finding_router: FindingRouter | None = None
    listeners: list[Listener] = field(default_factory=list)  # verdict changes (the board's live events)
    # Verdicts another daemon of the cluster changed, read back from the store (the board shows them too).
    fleet_listeners: list[Listener] = field(default_factory=list)
    # Targets this daemon took over from another of the cluster, with their state read back, and the earliest instant
    # the other may have stopped at (the alert engine arms their timed alerts due since then).
    on_adopt: list[Callable[[list[Tracked], datetime], None]] = field(default_factory=list)
    probe_listeners: list[Callable[[Target, Observation], None]] = field(default_factory=list)  # metrics
    finding_listeners: list[Callable[[Sequence[Change]], None]] = field(default_factory=list)  # metrics, board
    after_write: list[Callable[[], None]] = field(default_factory=list)  # after each committed batch
    on_reload: list[Callable[[Inventory], None]] = field(default_factory=list)  # a new inventory, before it applies
    observation_checks: list[ObservationCheck] = field(default_factory=list)  # on every fetched observation
    checks: CheckRunner | None = None  # the periodic checks, started with the monitor
    alerts: Alerts | None = None  # the alert engine, for the board's silences
