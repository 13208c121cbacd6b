"""The score table as a standalone HTML page (also served by the board at ``/report``)."""

from __future__ import annotations

import html
from pathlib import Path

from monitor.report.score import Report
from monitor.report.table import column_headers, rates_line, titles, unit_row


def write_html(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")


def render_html(report: Report) -> str:
    """The score table as a standalone HTML page (every name escaped)."""
    title, _ = titles(report)
    return (f'<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            "<style>table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:center}"
            f"</style></head><body>\n{body_html(report)}</body></html>\n")


def body_html(report: Report) -> str:
    """The page's content: title, period, the table, the pass rates and the failed accounts (the board wraps it in
    its own page at ``/report``)."""
    e = html.escape
    title, period = titles(report)
    head = "".join(f"<th>{e(h)}</th>" for h in ["单位", *column_headers(report), "季度扣分", "季度得分", "预警次数",
                                                 "是否合格", "说明"])
    body = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in unit_row(report, u)) + "</tr>\n"
                   for u in report.units)
    return (f"<h1>{e(title)}</h1>\n<p>{e(period)}</p>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}"
            f"</tbody>\n</table>\n<p>{e(rates_line(report))}</p>\n{_accounts_html(report)}")


def _accounts_html(report: Report) -> str:
    e = html.escape
    failed = [a for a in report.accounts if not a.passed]
    if not failed:
        return ""
    rows = "".join(f"<tr><td>{e(a.target.unit_name)}</td><td>{e(a.target.name)}</td>"
                   f"<td>{e('；'.join(a.problems))}</td></tr>\n" for a in failed)
    return ("<h2>不合格的政务新媒体账号</h2>\n<table>\n<thead><tr><th>单位</th><th>账号</th><th>问题及证据</th></tr>"
            f"</thead>\n<tbody>\n{rows}</tbody>\n</table>\n")
