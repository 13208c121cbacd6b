"""Alert texts in Chinese that a staff member can act on at once (pure).

A chat message names the unit, site, column, category, newest item date, days without update or
left, the rule, the page and the board. Several items for one receiver become one message. An SMS
fits in one message (70 characters) with a link.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from monitor.findings import one_line

SMS_LIMIT = 70
BRAND = "政府网站监测"
QUOTE_LIMIT = 40  # characters of a page's words quoted in 「…」
FIELD_LIMIT = 200  # characters of a finding's title or detail in a message

_QUOTED = re.compile(r"「([^「」]*)」")


def page_words(text: str) -> str:
    """A finding's title or detail, which quotes the monitored page in 「…」 (``monitor.findings.quoted``: a title, a
    link's text, a wrong word): on one line — a page cannot add lines to an alert — each quote cut to QUOTE_LIMIT
    characters with an ellipsis inside its marks, and the whole cut to FIELD_LIMIT."""
    text = one_line(text)
    return _fit(_QUOTED.sub(lambda m: f"「{_fit(m.group(1).strip(), QUOTE_LIMIT)}」", text), FIELD_LIMIT)

_HEADLINES = {
    "yellow": "黄色预警：{noun}临近更新期限",
    "red": "红色预警：{noun}超期未更新",
    "recovered": "已恢复：{noun}已更新",
    "repeat": "每日提醒：{noun}仍超期未更新",
    "escalation": "升级督办：{noun}超期未更新",
    "ladder": "提醒：{noun}即将超期",
    "unregistered": "未备案账号：发现未备案的政务新媒体账号",
    "veto_yellow": "否决预警：网站即将因栏目问题被单项否决",
    "veto_red": "单项否决：网站栏目问题已达否决标准",
    "finding_yellow": "监测发现：{label}",
    "finding_red": "严重问题：{label}",
}
_NOUNS = {"column": "栏目", "homepage": "首页", "account": "账号"}


def _noun(fact: dict[str, Any]) -> str:
    """What the alert is about: 栏目, 首页 or (new-media) 账号."""
    return _NOUNS.get(fact.get("target_kind", "column"), "栏目")
_TAGS = {"yellow": "预警", "red": "超期", "recovered": "恢复", "repeat": "超期", "escalation": "督办", "ladder": "提醒",
         "unregistered": "未备案", "veto_yellow": "否决预警", "veto_red": "单项否决", "finding_red": "严重问题",
         "finding_yellow": "发现问题"}
_SEVERITY = ("单项否决", "严重问题", "督办", "超期", "未备案", "否决预警", "发现问题", "提醒", "预警", "恢复")


def _tally(facts: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Counts per tag, most severe first."""
    counts = Counter(_TAGS[f["kind"]] for f in facts)
    return [(tag, counts[tag]) for tag in _SEVERITY if counts[tag]]


def _headline(fact: dict[str, Any]) -> str:
    if "empty" in fact["reasons"] and fact["kind"] in ("red", "repeat", "escalation"):
        return "红色预警：空白栏目（栏目无任何信息）"
    return _HEADLINES[fact["kind"]].format(noun=_noun(fact), label=fact["category"])


def _status(fact: dict[str, Any]) -> str:
    """已 N 天未更新，已超期 M 天 / 距期限 N 天."""
    parts = []
    if fact["days_since"] is not None:
        parts.append(f"已 {fact['days_since']} 天未更新")
    if fact["days_overdue"] is not None:
        parts.append(f"已超期 {fact['days_overdue']} 天")
    elif fact["days_left"] is not None and fact["kind"] != "recovered":
        parts.append(f"距期限 {fact['days_left']} 天")
    return "，".join(parts)


# Why an alert was held back before it was sent (``alerts.held``): by the mute's reason, in full and for an SMS
_HELD_WHY = {"site_down": ("网站首页无法访问", "网站无法访问"),
             "govwatch_cut_off": ("监测系统自身网络中断", "监测断网"),
             "silenced": ("静默（维护期）", "静默")}


def _held_why(fact: dict[str, Any], short: bool = False) -> str | None:
    held = fact.get("held")
    if not held:
        return None
    reason = str(held["reason"]).split("#")[0]
    return _HELD_WHY.get(reason, (reason, reason))[short]


def held_note(fact: dict[str, Any]) -> str | None:
    """「此前因…暂缓发送」 for an alert sent late because a mute held it back; None for the others."""
    why = _held_why(fact)
    return f"此前因{why}暂缓发送（{fact['held']['since']} 起），情况至今未变，现补发" if why else None


def single(fact: dict[str, Any]) -> tuple[str, str]:
    title, body = _single(fact)
    note = held_note(fact)
    return title, body + f"\n说明：{note}" if note else body


def _single(fact: dict[str, Any]) -> tuple[str, str]:
    title = f"【{BRAND}】{_headline(fact)}"
    if fact["kind"] == "unregistered":
        return title, "\n".join([f"单位：{fact['unit']}", f"平台：{fact['site']}", f"账号：{fact['column']}",
                                 f"规则：{fact['rule']}"])
    if fact["kind"].startswith("finding_"):
        detail = [f"详情：{page_words(fact['detail'])}"] if fact["detail"] else []
        lines = [f"单位：{fact['unit']}"] + ([f"网站：{fact['site']}"] if fact["site"] else []) + [
            f"问题：{page_words(fact['column'])}"] + detail + ([f"页面：{fact['url']}"] if fact["url"] else [])
        return title, "\n".join(lines + ([f"看板：{fact['board']}"] if fact["board"] else []))
    if fact["kind"].startswith("veto_"):
        lines = [f"单位：{fact['unit']}", f"网站：{fact['site']}", f"情况：{fact['detail']}",
                 f"涉及栏目：{'、'.join(fact['columns'])}", f"规则：{fact['rule']}"]
        return title, "\n".join(lines + ([f"看板：{fact['board']}"] if fact["board"] else []))
    newest = fact["newest_date"] or "无"
    status = _status(fact)
    lines = [
        f"单位：{fact['unit']}",
        f"网站：{fact['site']}",
        f"{_noun(fact)}：{fact['column']}（{fact['category']}）",
        f"最新信息日期：{newest}" + (f"（{status}）" if status else ""),
        f"规则：{fact['rule']}",
        f"{'数据源' if fact.get('target_kind') == 'account' else '栏目'}地址：{fact['url']}",
    ]
    if fact["board"]:
        lines.append(f"看板：{fact['board']}")
    return title, "\n".join(lines)


def grouped(facts: list[dict[str, Any]], board_url: str | None) -> tuple[str, str]:
    """One message for several alerts of one receiver, worst first."""
    if len(facts) == 1:
        return single(facts[0])
    units = sorted({f["unit"] for f in facts})
    title = f"【{BRAND}】{'、'.join(units)}：" + "，".join(f"{tag} {n} 项" for tag, n in _tally(facts))
    order = {"veto_red": 0, "escalation": 0, "finding_red": 0, "red": 1, "repeat": 1, "unregistered": 2,
             "veto_yellow": 2, "ladder": 2, "finding_yellow": 2, "yellow": 3, "recovered": 4}
    lines = []
    for fact in sorted(facts, key=lambda f: (order[f["kind"]], -(f["days_overdue"] or 0), f["site"], f["column"])):
        line, why = _line(fact), _held_why(fact)
        if why:  # after the tag, so the line still ends with its page's address
            tag_end = line.index("] ") + 2
            line = f"{line[:tag_end]}（此前因{why}暂缓发送，现补发）{line[tag_end:]}"
        lines.append(line)
    if board_url:
        lines.append(f"看板：{board_url}")
    return title, "\n".join(lines)


def _line(fact: dict[str, Any]) -> str:
    """One alert's line in a grouped message."""
    if fact["kind"] == "unregistered":
        return f"[未备案] {fact['unit']}的{fact['site']}账号「{fact['column']}」未备案"
    if fact["kind"].startswith("veto_"):
        return f"[{_TAGS[fact['kind']]}] {fact['site']}：{fact['detail']}"
    if fact["kind"].startswith("finding_"):
        where = f"{fact['site']}：" if fact["site"] else ""
        link = f" {fact['url']}" if fact["url"] else ""
        return f"[{_TAGS[fact['kind']]}] {where}{page_words(fact['column'])}{link}"
    status = _status(fact)
    return (f"[{_TAGS[fact['kind']]}] {fact['site']}「{fact['column']}」（{fact['category']}）"
            f"最新 {fact['newest_date'] or '无'}" + (f"，{status}" if status else "") + f" {fact['url']}")


def _fit(text: str, budget: int) -> str:
    return text if len(text) <= budget else text[: max(budget - 1, 1)] + "…"


def sms(facts: list[dict[str, Any]], board_url: str | None) -> str:
    """One SMS of at most 70 characters, link included."""
    first = facts[0]
    why = next((w for f in facts if (w := _held_why(f, short=True))), None)
    head = f"【监测预警·{why}暂缓补发】" if why else "【监测预警】"
    link = (first["board"] if len(facts) == 1 else board_url) or ""
    budget = SMS_LIMIT - (len(link) + 1 if link else 0)
    if len(facts) == 1:
        if first["kind"].startswith("veto_"):
            what = first["detail"]
        elif first["kind"].startswith("finding_"):
            what = f"{first['category']}，请即处理"
        elif first["kind"] == "unregistered":
            what = "未备案，请核实并备案或关停"
        elif first["kind"] == "recovered":
            what = "已更新，预警解除"
        elif first["days_overdue"] is not None:
            what = f"已超期{first['days_overdue']}天未更新，请即处理"
        else:
            what = f"距期限{first['days_left']}天，请及时更新"
        fixed = f"{head}“”{what}"
        name = _fit(f"{first['site']}{first['column']}", budget - len(fixed))
        text = f"{head}“{name}”{what}"
    else:
        summary = "、".join(f"{n}项{tag}" for tag, n in _tally(facts))
        fixed = f"{head}：{summary}，请即处理"
        unit = _fit(first["unit"], budget - len(fixed))
        text = f"{head}{unit}：{summary}，请即处理"
    text = _fit(text, budget)
    return f"{text} {link}" if link else text
