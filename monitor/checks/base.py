"""What every check is: a name, the findings it produces, its subjects, and one run per subject.

A check (availability of a homepage, a site's links, an account's service menu, a message box, …)
names the subjects it looks at and, for one subject, returns the findings it sees now — or ``None``
when it could not look (its source failed): then what was known stays as it was, never a false
"gone" or a false finding.

Like a blackbox_exporter prober, a check gets its subject (with its own settings), a narrow
``Context`` and ``now``; it never sees the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from monitor.findings import Finding
from monitor.model import FetchResult, Headers

if TYPE_CHECKING:
    from monitor.config import Inventory
    from monitor.model import Observation, Target
    from monitor.records import Record


@dataclass(frozen=True, slots=True)
class Subject:
    """What one check looks at: a homepage, a site, an account, a message box."""

    id: str  # the findings' subject (a target id or a site id); per-host politeness is the fetcher's
    interval_s: float
    unit_id: str
    site_id: str = ""
    data: Any = field(default=None, compare=False)  # whatever the check needs (URLs, names, settings)


class Fetch(Protocol):
    """The daemon's fetcher as a check uses it: its per-host limits hold for checks too."""

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    timeout_s: float | None = None, error_body: int = 0, extra: Headers = ()) -> FetchResult: ...

    async def peek(self, url: str, *, method: str = "HEAD", read_bytes: int = 0,
                   timeout_s: float | None = None) -> FetchResult: ...


class Extract(Protocol):
    """The parser workers: a named job on a page, off the event loop and under the time limit; None when it
    failed or ran out of time."""

    async def run(self, job: str, text: str, url: str, *args: Any) -> Any: ...


StoreView = TypeVar("StoreView")


@dataclass(frozen=True, slots=True)
class Context(Generic[StoreView]):
    """All a check may touch. ``store`` is the check's own view of the store (a protocol each check declares
    with the few reads and writes it needs); ``kept`` holds what checks keep across inventory reloads."""

    fetcher: Fetch
    extract: Extract
    store: StoreView
    known: Callable[[str, str], list[Finding]]  # (check, subject) → its findings still standing (open, false positive)
    record: Callable[[Record], None]  # a record for the store's next batch (an availability probe)
    report: Callable[[str, str, Sequence[Finding], datetime], object]  # findings of another subject, now
    kept: dict[str, Any] = field(default_factory=dict)


class Check(Protocol):
    """A periodic check. One whose class sets ``at_start = True`` runs right after the daemon loads (in a cluster:
    as the daemon takes a subject over), before the first probe, unless it ran within its interval
    (``CheckRunner.resume``); the others' first runs are spread over their interval."""

    name: str
    produces: tuple[str, ...]  # the finding checks it reports (keys of findings.CHECKS)

    def subjects(self, inventory: Inventory) -> list[Subject]: ...

    async def run(self, subject: Subject, ctx: Context[Any], now: datetime) -> Sequence[Finding] | None: ...


class ObservationCheck(Protocol):
    """A check on what a column or account probe already read (its items), run on every fetched
    observation of the target (the daemon's ``Hooks.observation_checks``); the subject is the target."""

    name: str
    produces: tuple[str, ...]

    def findings(self, target: Target, observation: Observation) -> Sequence[Finding] | None: ...
