"""Detection's reading of a page told to an operator (``govwatch probe URL --explain``): the candidate lists with
their scores, rows and dates, why the chosen one won, and an override to put in the inventory."""

from __future__ import annotations

from typing import Any

from monitor.extract.listpage import SCORE_PARTS, CandidateReport, Explanation
from monitor.list_override import Override
from monitor.model import EmptyReason

# Why no date was read, and what the operator can do about it.
_ADVICE = {
    EmptyReason.NO_DATES: "找到了列表，但行中没有可识别的日期：用 date 指定日期所在的元素（CSS 选择器或 /正则/），"
    "必要时用 date_format 指定写法（例如 %d/%m/%Y）",
    EmptyReason.NO_LIST: "没有找到像栏目列表的一组链接：用 list 指定列表每一行的 CSS 选择器",
    EmptyReason.JS_RENDERED: "列表由页面脚本生成，HTML 中没有条目：为栏目配置 render: browser，"
    "或指向列表背后的 JSON 接口",
    EmptyReason.EMPTY: "栏目显示为空（暂无信息）：若页面其实有条目，用 list 指定列表每一行的 CSS 选择器",
}


def advice(reason: str) -> str:
    """What an operator can do about a page read without a date, by the reason (the verdict's or the reader's)."""
    return _ADVICE.get(reason, _ADVICE[EmptyReason.NO_LIST] if reason in ("unreadable", "page_changed") else "")


def _date(value: Any) -> str:
    return value.isoformat() if value else "—"


def _parts_text(report: CandidateReport) -> str:
    return "，".join(f"{SCORE_PARTS[name]} {value:+.0f}" for name, value in report.parts.items())


def explanation_lines(explained: Explanation) -> list[str]:
    """The explanation as lines of text for the terminal (Chinese: it is for the operator)."""
    lines = ["", f"候选列表（按入选与得分排序，共 {len(explained.candidates)} 个）："]
    for n, report in enumerate(explained.candidates, 1):
        mark = "★" if report.chosen else " "
        place = "侧栏/导航" if report.side else "正文"
        lines.append(
            f" {mark}{n:>2}. {report.selector or '（无法用选择器单独选中）'}  [{place}] 得分 {report.score:.1f}  "
            f"行数 {report.rows}  有日期 {report.dated}  最新 {_date(report.newest)}")
        lines.append(f"      得分构成：{_parts_text(report)}")
        if report.titles:
            lines.append(f"      前几行：{' ｜ '.join(t[:30] for t in report.titles)}")
        if report.dates:
            lines.append(f"      日期：{' '.join(_date(d) for d in report.dates)}")
    lines.append("")
    lines.extend(_why(explained))
    if explained.suggestion is not None:
        lines += ["", "建议的栏目配置（写入清单中该栏目下；可先用 govwatch probe URL --list … --date … 试读）："]
        lines += [f'    {key}: "{value}"' for key, value in suggestion_fields(explained.suggestion).items()]
    return lines


def _why(explained: Explanation) -> list[str]:
    chosen = next((c for c in explained.candidates if c.chosen), None)
    reason = explained.result.reason
    if not explained.candidates and explained.result.items:
        return [f"页面是 JSON 列表接口，按字段读取（{len(explained.result.items)} 条），没有可比较的候选列表。"]
    if chosen is None:
        return [f"未选出列表（{reason}）。{advice(reason) if reason else ''}"]
    others = [c for c in explained.candidates if not c.chosen]
    lines = [f"入选原因：{'正文区域中得分最高的列表' if not chosen.side else '页面上只有侧栏/导航中的列表带日期'}"
             f"（{_parts_text(chosen)}）。"]
    stronger_sides = [c for c in others if c.side and c.score > chosen.score]
    if stronger_sides and not chosen.side:
        lines.append("得分更高的侧栏、导航、热点列表不参与评选：它们只在没有其他带日期的列表时才会被采用。")
    if reason is not None:
        lines.append(f"但未读出日期（{reason}）。{advice(reason)}")
    return lines


def suggestion_fields(suggestion: Override | None) -> dict[str, str]:
    """An override's inventory fields (list, date, date_format) that are set."""
    if suggestion is None:
        return {}
    fields = {"list": suggestion.rows, "date": suggestion.date, "date_format": suggestion.date_format}
    return {key: value for key, value in fields.items() if value}


def explanation_json(explained: Explanation) -> dict[str, Any]:
    """The explanation as plain data for ``--json``."""
    return {
        "candidates": [
            {
                "selector": c.selector, "rows": c.rows, "dated": c.dated,
                "newest": c.newest.isoformat() if c.newest else None, "score": c.score,
                "parts": {k: round(v, 1) for k, v in c.parts.items()}, "side": c.side, "chosen": c.chosen,
                "titles": list(c.titles), "dates": [d.isoformat() if d else None for d in c.dates],
            }
            for c in explained.candidates
        ],
        "why": _why(explained),
        "suggestion": suggestion_fields(explained.suggestion) or None,
    }
