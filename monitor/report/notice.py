"""A draft 通报 in Chinese from a quarter's report."""

from __future__ import annotations

from datetime import date

from monitor.model import TargetKind
from monitor.report.score import Report, Warning
from monitor.report.table import number, pass_rate_text, titles


def draft_notice(report: Report) -> str:
    """A draft 通报 in Chinese: overall figures, then each unit's problems with their evidence."""
    q = report.quarter
    scoring = report.scoring
    warned = [u for u in report.units if u.warnings or u.vetoes or any(not a.passed for a in u.accounts)]
    clean = [u.name for u in report.units if u not in warned]
    what = "政府网站与政务新媒体" if report.accounts else "政府网站栏目更新"
    lines = [f"关于{q.label}{what}监测情况的通报（草稿）", "", "一、总体情况",
             f"{q.label}（{_cn_date(q.first_day)}—{_cn_date(q.last_day)}），对 {len(report.units)} 个单位的 "
             f"{len(report.sites)} 个政府网站开展栏目更新监测，共发现栏目预警 "
             f"{sum(len(u.warnings) for u in report.units)} 次，网站合格率 {pass_rate_text(report)}。"]
    if report.accounts:
        lines[-1] += (f"对 {len(report.accounts)} 个政务新媒体账号开展内容更新监测，"
                      f"{len(report.accounts) - report.accounts_passed} 个不合格，"
                      f"合格率 {report.account_pass_rate * 100:.2f}%。")
    if clean:
        lines.append(f"其中，{'、'.join(clean)}共 {len(clean)} 个单位在本次监测中未发现问题。")
    lines += ["", "二、存在的主要问题"]
    if not warned:
        lines.append("本季度未发现问题。")
    for n, unit in enumerate(warned, start=1):
        verdict = "合格" if unit.passed(scoring) else "不合格"
        lines.append(f"（{_cn(n)}）{unit.name}：季度扣分 {number(unit.deduction)} 分，"
                     f"季度得分 {number(unit.score)} 分，{verdict}。")
        item = 0
        for v in unit.vetoes:
            item += 1
            lines.append(f"{item}. 【单项否决·{v.reason}】{v.site_name}：{v.detail}。")
        for w in sorted(unit.warnings, key=lambda w: w.start):
            item += 1
            t = w.target
            where = (f"{t.site_name}首页" if t.kind == TargetKind.HOMEPAGE
                     else f"{t.site_name}「{t.name}」栏目（{t.category}类）")
            lines.append(f"{item}. {where}{w.state_text}：{episode_text(w)}；"
                         f"{f'扣 {number(w.points)} 分' if w.points else '不计扣分'}。地址：{t.url}")
        for account in unit.accounts:
            for problem in account.problems:
                item += 1
                lines.append(f"{item}. {problem.replace('】', f'】政务新媒体账号「{account.target.name}」：', 1)}。"
                             f"地址：{account.target.url}")
    lines += ["", "三、下一步工作要求",
              "各单位要对照上述问题立即整改，落实栏目信息更新责任，动态要闻类栏目 2 周内、通知公告和政策文件类栏目 "
              "6 个月内、人事和规划计划类栏目 12 个月内须有更新，不得随意更改信息发布日期。", "",
              f"附件：{titles(report)[0]}", ""]
    return "\n".join(lines)


def episode_text(w: Warning) -> str:
    """One episode in words, dated from the deadline crossing, e.g. 「最新信息日期 …，… 起超期（首次监测时已超期，…
    首次监测），截至统计时已超期 N 天，尚未整改」. An episode first seen red has no 起预警 (never seen yellow)."""
    parts = [f"最新信息日期 {w.newest_date}" if w.newest_date else "无有效信息（空白栏目）"]
    first = ""
    if w.first_seen is not None:  # the time of the first look, unless it is the time the note follows
        when = "" if w.first_seen == w.start else f"，{w.first_seen:%Y-%m-%d %H:%M} 首次监测"
        first = f"（{w.first_seen_text}{when}）"
    if not w.seen_red:
        parts.append(f"{w.start:%Y-%m-%d %H:%M} 起预警{first}")
    if w.red_at:
        parts.append(f"{w.red_at:%Y-%m-%d %H:%M} 起超期{first if w.seen_red else ''}")
    if w.overdue_days:
        parts.append(f"{'恢复前' if w.end else '截至统计时'}已超期 {w.overdue_days} 天")
    parts.append(f"{w.end:%Y-%m-%d %H:%M} 恢复正常" if w.end else "尚未整改")
    return "，".join(parts)


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
