"""The score table as the writers print it: title, headers, one row per unit, the 合格率 line (pure)."""

from __future__ import annotations

from typing import Any

from monitor.report.score import Report, Score


def number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


def column_headers(report: Report) -> list[str]:
    cols = [f"{h}（预警扣分）" for h, _ in report.scoring.columns]
    return cols + (["其他栏目（预警扣分）"] if report.has_other else [])


def unit_row(report: Report, unit: Score) -> list[Any]:
    values = [unit.by_column.get(h, 0) for h, _ in report.scoring.columns]
    values += [unit.other] if report.has_other else []
    verdict = "合格" if unit.passed(report.scoring) else "不合格"
    notes = [f"{v.site_name}：{v.reason}" for v in unit.vetoes]
    notes += [f"账号{a.target.name}：不合格" for a in unit.accounts if not a.passed]
    note = "；".join(dict.fromkeys(notes))
    return [unit.name, *(number(v) for v in values), number(unit.deduction), number(unit.score), len(unit.warnings),
            verdict, note]


def titles(report: Report) -> tuple[str, str]:
    q = report.quarter
    return (f"{q.label}政府网站监测得分表",
            f"（信息更新监测时间节点：{q.first_day.year}年{q.first_day.month}月{q.first_day.day}日-"
            f"{q.last_day.month}月{q.last_day.day}日）")


def pass_rate_text(report: Report) -> str:
    rate = report.pass_rate
    return f"{rate * 100:.2f}%" if rate is not None else "—"


def rates_line(report: Report) -> str:
    """The 合格率 line: websites, and accounts when any is watched."""
    text = f"网站合格率：{pass_rate_text(report)}（{report.sites_passed}/{len(report.sites)} 个网站合格）"
    if report.accounts:
        rate = report.account_pass_rate
        text += (f"；政务新媒体合格率：{rate * 100:.2f}%（{report.accounts_passed}/{len(report.accounts)} 个账号合格）"
                 if rate is not None else "")
    return text
