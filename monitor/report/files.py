"""A quarter's three files: the xlsx, the HTML table and the draft 通报."""

from __future__ import annotations

from pathlib import Path

from monitor.report.html import write_html
from monitor.report.notice import draft_notice
from monitor.report.score import Report
from monitor.report.xlsx import write_xlsx


def write_all(report: Report, out: Path) -> list[Path]:
    """The xlsx, the HTML table and the draft notice, named by quarter, in ``out``."""
    q = str(report.quarter)
    paths = [out / f"score-{q}.xlsx", out / f"score-{q}.html", out / f"notice-{q}.txt"]
    write_xlsx(report, paths[0])
    write_html(report, paths[1])
    paths[2].write_text(draft_notice(report), encoding="utf-8")
    return paths
