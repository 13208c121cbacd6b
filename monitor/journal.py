"""What the daemon's journal says between its change lines: a summary every ``settings.log_summary``.

The journal carries one line per verdict change and per finding change (the monitor and the findings book
log those) and, between them, a summary from the counters here: probes and failed fetches since the last
summary, targets per state, notifications waiting in the outbox. Never a line per probe: at 30,000 columns
that would be ten thousand lines an hour saying nothing. ``Tally`` is fed by the daemon's hooks; ``summary``
is pure (it takes ``now``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.evaluate import Reason, Verdict
from monitor.findings import Change
from monitor.model import Observation, State, Target


def first_verdict(previous: Verdict | None) -> bool:
    """Whether a verdict is a target's first (it was never probed): not a change worth a line of its own —
    a new install's first sweep would write one per target — but counted in the next summary."""
    return previous is None or previous.reasons == (Reason.NOT_PROBED,)


@dataclass(slots=True)
class Tally:
    """What the daemon did since ``since``: counted by its hooks, started afresh at each summary."""

    since: datetime
    probes: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # failed fetches by class (monitor.model.FetchError)
    verdict_changes: int = 0
    first_verdicts: int = 0
    finding_changes: int = 0

    def probed(self, target: Target, obs: Observation) -> None:
        self.probes += 1
        if obs.error is not None:
            self.failures[obs.error.value] += 1

    def verdict(self, target: Target, verdict: Verdict, previous: Verdict | None) -> None:
        if first_verdict(previous):
            self.first_verdicts += 1
        else:
            self.verdict_changes += 1

    def findings(self, changes: Sequence[Change]) -> None:
        self.finding_changes += len(changes)

    def restart(self, since: datetime) -> None:
        """Count afresh from ``since`` (after a summary)."""
        self.since, self.probes, self.verdict_changes, self.first_verdicts, self.finding_changes = since, 0, 0, 0, 0
        self.failures.clear()


def summary(tally: Tally, states: Iterable[State], outbox_pending: int, now: datetime) -> dict[str, Any]:
    """The summary line's fields: over the ``period_s`` since the tally began, the probes made and the failed
    ones (by class), the verdict changes (first verdicts apart) and finding changes; now, the targets per state
    and the notifications waiting in the outbox."""
    counts = Counter(states)
    return {
        "period_s": max(0, round((now - tally.since).total_seconds())),
        "probes": tally.probes,
        "failures": sum(tally.failures.values()),
        "failures_by": dict(sorted(tally.failures.items())),
        "verdict_changes": tally.verdict_changes,
        "first_verdicts": tally.first_verdicts,
        "finding_changes": tally.finding_changes,
        "targets": sum(counts.values()),
        **{state.value: counts[state] for state in (State.RED, State.YELLOW, State.GREEN, State.UNKNOWN)},
        "outbox_pending": outbox_pending,
    }
