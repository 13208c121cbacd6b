"""A quarter's report from its history, read through the store's ``ReportStore`` protocol (any backend)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from monitor.report.score import Quarter, QuarterHistory, Report, Scoring, compute, report_instant, veto_check_names
from monitor.store import ReportStore


async def quarter_report(store: ReportStore, quarter: Quarter, scoring: Scoring | None = None,
                         units: Sequence[tuple[str, str]] = (), now: datetime | None = None) -> Report:
    """Read the quarter's targets, verdicts and veto checks' finding trails, and compute its report."""
    scoring = scoring or Scoring()
    history = QuarterHistory(
        await store.report_targets(quarter.start, quarter.end),
        await store.verdicts_before(quarter.end),
        await store.finding_trails(list(veto_check_names(scoring)), report_instant(quarter, now)))
    return await asyncio.to_thread(compute, history, quarter, scoring, units, now)  # a large store: off the loop
