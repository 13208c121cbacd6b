"""What every check is: a name, the findings it produces, its subjects, and one run per subject.

A check (availability of a homepage, a site's links, an account's service menu, a message box, …)
names the subjects it looks at and, for one subject, returns the findings it sees now — or ``None``
when it could not look (its source failed): then what was known stays as it was, never a false
"gone" or a false finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from monitor.findings import Finding

if TYPE_CHECKING:
    from monitor.config import Inventory
    from monitor.daemon import Monitor
    from monitor.model import Observation, Target


@dataclass(frozen=True, slots=True)
class Subject:
    """What one check looks at: a homepage, a site, an account, a message box."""

    id: str  # the findings' subject (a target id or a site id); per-host politeness is the fetcher's
    interval_s: float
    unit_id: str
    site_id: str = ""
    data: Any = field(default=None, compare=False)  # whatever the check needs (URLs, names, settings)


class Check(Protocol):
    name: str
    produces: tuple[str, ...]  # the finding checks it reports (keys of findings.CHECKS)

    def subjects(self, inventory: Inventory) -> list[Subject]: ...

    async def run(self, subject: Subject, monitor: Monitor, now: datetime) -> Sequence[Finding] | None: ...


class ObservationCheck(Protocol):
    """A check on what a column or account probe already read (its items), run on every fetched
    observation of the target (``Monitor.observation_checks``); the subject is the target."""

    name: str
    produces: tuple[str, ...]

    def findings(self, target: Target, observation: Observation) -> Sequence[Finding] | None: ...
