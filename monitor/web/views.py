"""What the board and the API show, computed from the monitor's in-memory state (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.daemon import Tracked
from monitor.evaluate import TZ, countdown
from monitor.model import State

STATE_LABELS = {State.GREEN: "正常", State.YELLOW: "预警", State.RED: "超期", State.UNKNOWN: "未知"}
KIND_LABELS = {"column": "栏目", "homepage": "首页", "account": "新媒体账号"}
STATE_ORDER = (State.RED, State.YELLOW, State.UNKNOWN, State.GREEN)
# The board's navigation, in every page's header: (path, label). A new page adds its line here.
NAV = [("/", "看板"), ("/findings", "监测发现"), ("/accounts", "政务新媒体账号"), ("/messages", "留言办理统计"),
       ("/unreadable", "无法识别的栏目"), ("/report", "季度得分表"), ("/silences", "静默（维护期）")]
API_LINKS = ["/api/columns", "/api/summary", "/api/unreadable", "/api/outbox", "/api/findings", "/metrics"]


def row(tracked: Tracked, now: datetime) -> dict[str, Any]:
    """One target as the API and the board show it."""
    t, v = tracked.target, tracked.verdict
    overdue, left = countdown(v, now)
    latest = tracked.history.latest
    return {
        "id": t.id, "kind": t.kind, "unit": t.unit_name, "unit_id": t.unit_id, "site": t.site_name,
        "site_id": t.site_id, "column": t.name, "category": t.rule.category, "url": t.url,
        "rule": t.rule.text, "state": str(v.state), "state_label": STATE_LABELS[v.state],
        "reasons": list(v.reasons), "detail": v.detail,
        "newest_date": v.newest_date.isoformat() if v.newest_date else None,
        "deadline": v.deadline.isoformat() if v.deadline else None,
        "days_overdue": overdue, "days_left": left,
        "last_probe": latest.at.isoformat() if latest else None, "reason": plain_reason(tracked),
    }


def rows(tracked: Iterable[Tracked], now: datetime) -> list[dict[str, Any]]:
    """All rows, worst first: red by days overdue, yellow by days left, then unknown and green."""
    out = [row(t, now) for t in tracked]
    order = {str(s): i for i, s in enumerate(STATE_ORDER)}
    out.sort(key=lambda r: (order[r["state"]], -(r["days_overdue"] or 0), r["days_left"] or 0, r["unit"], r["site"]))
    return out


def counts(all_rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    tally = Counter(r["state"] for r in all_rows)
    return {str(s): tally.get(str(s), 0) for s in STATE_ORDER}


REASON_LABELS = {
    "fresh": "按期更新", "near_deadline": "临近期限", "stale": "超期未更新", "empty": "空白栏目",
    "not_probed": "尚未检测", "fetch_failed": "页面无法访问", "js_rendered": "栏目列表由脚本生成",
    "unreadable": "无法读取栏目列表", "page_changed": "页面结构变化",
    "no_list": "未找到栏目列表", "no_dates": "列表无日期", "source_fault": "账号数据源异常",
    "bridge_stalled": "数据源停止同步", "bridge_failing": "数据源故障",
    "needs_browser": "需要浏览器渲染组件",
}
FETCH_ERROR_LABELS = {
    "timeout": "超时", "dns": "域名解析失败", "connect": "连接失败", "tls": "证书错误", "http_status": "HTTP 错误",
    "too_large": "页面过大", "too_many_redirects": "重定向过多", "decode": "编码错误", "invalid_url": "地址无效",
    "render": "浏览器渲染失败", "blocked_address": "指向内网地址，已拒绝访问",
}


def reason_text(reasons: Iterable[str]) -> str:
    return "、".join(REASON_LABELS.get(r, r) for r in reasons)


# Why a column is unknown, in a few plain words for the wall; the technical detail is on its own page.
PLAIN_REASONS = {
    "not_probed": "尚未检测", "js_rendered": "页面由脚本生成", "unreadable": "未找到栏目列表",
    "no_list": "未找到栏目列表", "no_dates": "列表无日期", "page_changed": "页面改版", "source_fault": "数据源异常",
    "needs_browser": "需安装浏览器组件",
}
# (words in the fetcher's detail, plain words), first match wins; the detail is lower-cased first.
FETCH_DETAILS = (
    ("connection refused", "连接被拒绝"), ("reset by peer", "连接被重置"), ("server disconnected", "服务器断开连接"),
    ("broken response body", "页面传输中断"), ("no route to host", "网络不通"), ("network is unreachable", "网络不通"),
    ("has expired", "证书过期"), ("not yet valid", "证书尚未生效"), ("self-signed", "证书不受信任（自签名）"),
    ("self signed", "证书不受信任（自签名）"), ("mismatch", "证书与域名不符"), ("issuer", "证书不受信任"),
    # Chromium's names of the same failures (a page rendered in the browser)
    ("err_connection_refused", "连接被拒绝"), ("err_connection_reset", "连接被重置"),
    ("err_cert_date_invalid", "证书过期"), ("err_cert_authority_invalid", "证书不受信任"),
    ("err_cert_common_name_invalid", "证书与域名不符"),
)
FETCH_PLAIN = {
    "timeout": "超时", "dns": "域名无法解析", "connect": "无法连接", "tls": "证书错误", "too_large": "页面过大",
    "too_many_redirects": "重定向过多", "decode": "页面编码无法识别", "invalid_url": "地址无效",
    "render": "浏览器渲染失败", "blocked_address": "跳转至内网地址，已拒绝",
}
HTTP_PLAIN = {403: "禁止访问", 404: "页面不存在", 410: "页面已删除", 429: "访问过于频繁被拒"}


def fetch_plain(error: str, detail: str | None, http_status: int | None) -> str:
    """A failed fetch in a few plain words: 连接被拒绝, 超时, 证书过期, 页面不存在（404）, 服务器错误（500）…"""
    if error == "http_status" and http_status:
        if http_status >= 500:
            return f"服务器错误（{http_status}）"
        return f"{HTTP_PLAIN.get(http_status, '访问出错')}（{http_status}）"
    if error in ("connect", "tls"):
        text = (detail or "").lower()
        for words, plain in FETCH_DETAILS:
            if words in text:
                return plain
    return FETCH_PLAIN.get(error, "页面无法访问")


def plain_reason(tracked: Tracked) -> str:
    """Why a target's state is what it is, in plain Chinese for the wall (unknown ones above all)."""
    v = tracked.verdict
    if v.reasons and v.reasons[0] == "fetch_failed" and (obs := tracked.history.latest) and obs.error:
        return fetch_plain(obs.error.value, obs.detail, obs.http_status)
    if v.state is State.UNKNOWN and v.reasons:
        return PLAIN_REASONS.get(v.reasons[0], REASON_LABELS.get(v.reasons[0], v.reasons[0]))
    return reason_text(v.reasons)


def local_time(when: datetime | None) -> str:
    return when.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S") if when else "—"


def unit_sites(unit_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A unit's rows grouped by site, each site's rows worst first, the worst site first."""
    sites: dict[str, dict[str, Any]] = {}
    for r in unit_rows:  # already worst first
        site = sites.setdefault(r["site_id"], {"id": r["site_id"], "name": r["site"], "rows": []})
        site["rows"].append(r)
    for site in sites.values():
        site["counts"] = counts(site["rows"])
    return list(sites.values())


def history_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"at": local_time(h["at"]), "state": h["state"], "state_label": STATE_LABELS[State(h["state"])],
         "reasons": reason_text(h["reasons"]), "newest_date": h["newest_date"] or "—",
         "deadline": local_time(h["deadline"]), "detail": h["detail"] or ""}
        for h in records
    ]


def observation_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"at": local_time(o["at"]), "http_status": o["http_status"] or "—",
         "error": FETCH_ERROR_LABELS.get(o["error"], o["error"]) if o["error"] else "",
         "not_modified": o["not_modified"], "newest_date": o["newest_date"] or "—",
         "reason": REASON_LABELS.get(o["reason"], o["reason"]) if o["reason"] else "",
         "detail": o["detail"] or "", "fetch_ms": round(o["fetch_ms"]), "item_count": o["item_count"],
         "final_url": o.get("final_url") or ""}
        for o in records
    ]


NOTIFICATION_STATUS = {"pending": "待发送", "held": "暂缓（抑制结束后补发）", "sent": "已发送", "dropped": "已放弃",
                       "suppressed": "未发送（抑制）", "lapsed": "未补发（抑制期间已恢复）"}
ALERT_KIND_LABELS = {"yellow": "黄色预警", "red": "红色预警", "recovered": "恢复", "repeat": "每日提醒",
                     "escalation": "升级督办", "ladder": "提醒"}


def notification_rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A column's notifications, newest first, as its page shows them."""
    return [
        {"created_at": local_time(r["created_at"]), "sent_at": local_time(r["sent_at"]), "channel": r["channel"],
         "kind": ALERT_KIND_LABELS.get(r["payload"].get("kind", ""), r["payload"].get("kind", "")),
         "status": NOTIFICATION_STATUS.get(r["status"], r["status"]), "attempts": r["attempts"],
         "note": r["reason"] or r["last_error"] or ""}
        for r in records
    ]


SCOPE_LABELS = {"unit": "单位", "site": "网站", "target": "栏目"}


def silence_rows(silences: Iterable[Any], monitor: Any) -> list[dict[str, Any]]:
    """Active silences with the names of what they cover."""
    names = {"unit": {u.id: u.name for u in monitor.inventory.model.units},
             "site": {s.id: s.name for s in monitor.inventory.model.sites},
             "target": {t.id: f"{t.site_name} · {t.name}" for t in monitor.inventory.targets}}
    return [
        {"id": s.id, "scope": SCOPE_LABELS[s.scope], "name": names[s.scope].get(s.scope_id, s.scope_id),
         "until": local_time(s.ends_at), "reason": s.reason, "by": s.created_by}
        for s in silences
    ]


FINDING_STATUS = {"open": "待处理", "gone": "已消失", "false_positive": "误报", "fixed": "已整改"}
FINDING_EVENTS = {"found": "发现", "changed": "变化", "gone": "不再出现", "reappeared": "再次出现",
                  "marked_false_positive": "标记为误报", "marked_fixed": "标记为已整改", "reopened": "重新打开"}
SEVERITY_LABELS = {"red": "严重", "yellow": "一般"}


def finding_rows(records: Iterable[dict[str, Any]], monitor: Any) -> list[dict[str, Any]]:
    """Findings as the board lists them, with unit and site names for their ids."""
    units = {u.id: u.name for u in monitor.inventory.model.units}
    sites = monitor.inventory.site_names
    return [
        {**f, "unit": units.get(f["unit_id"], f["unit_id"]), "site": sites.get(f["site_id"], f["site_id"]),
         "severity_label": SEVERITY_LABELS.get(f["severity"], f["severity"]),
         "status_label": FINDING_STATUS.get(f["status"], f["status"]),
         "first_seen": local_time(f["first_seen"]), "changed_at": local_time(f["changed_at"])}
        for f in records
    ]


def trail_rows(trail: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"at": local_time(e["at"]), "event": FINDING_EVENTS.get(e["event"], e["event"]),
             "severity": SEVERITY_LABELS.get(e["severity"], e["severity"]), "actor": e["actor"], "note": e["note"]}
            for e in trail]


# A finding's evidence facts (Finding.evidence, machine keys) as its page labels them; a key not here shows as is.
EVIDENCE_LABELS = {
    "after": "改后日期", "answered": "回复日期", "answered_share": "按期回复比例", "asked": "留言日期",
    "at": "发现时间", "attested_at": "证明日期", "attested_by": "证明单位", "before": "原日期", "box": "信箱",
    "box_url": "信箱地址",
    "category": "类别", "changed_at": "变化时间", "chinesecalendar": "节假日数据版本", "claimed_date": "标注日期",
    "confidence": "把握", "context": "上下文", "correct": "应为", "days_late": "晚发天数", "dead": "失效链接",
    "deadline": "办理期限", "detail": "说明", "error": "错误", "examples": "示例", "expired_at": "过期时间",
    "failed_runs": "连续失败次数", "first_seen": "首次出现", "flagged": "判定条数", "interpretation": "解读",
    "interpretation_url": "解读地址", "interpreted": "已解读", "item_title": "信息标题", "item_url": "信息地址",
    "kind": "类型", "late": "超期条数", "link": "链接", "links": "链接数", "matched_by": "匹配方式",
    "max_workdays": "最长办理工作日", "median_workdays": "办理工作日中位数", "messages": "留言",
    "missed_at": "未出现的检测时间",
    "name": "名称", "note": "备注", "off_duty": "无关内容条数", "off_duty_judged": "参与判定条数",
    "off_duty_limit": "无关内容上限", "off_duty_share": "无关内容比例", "overdue": "超期", "overrides": "补充文件",
    "page": "页面", "page_kind": "页面类型", "pages": "检查页面", "pending": "待办条数", "platform": "平台",
    "position": "位置", "posts": "发布条数", "present": "存在", "reason": "原因", "repost_limit": "转发上限",
    "repost_share": "转发比例", "reposts": "转发条数", "severity": "程度", "status": "状态", "style": "样式",
    "text": "文字", "title": "标题", "url": "地址", "vetoes": "否决项", "where": "位置（选择器）", "word": "词语",
    "workdays": "工作日", "year": "年份",
}


def evidence_text(value: Any) -> str:
    """One evidence value in words: 是/否 for booleans, lists joined, a record's known fields labelled."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):
        return "；".join(evidence_text(v) for v in value if v is not None)
    if isinstance(value, dict):
        return "，".join(f"{EVIDENCE_LABELS.get(k, k)} {evidence_text(v)}" for k, v in value.items()
                        if v not in (None, ""))
    return str(value)


def evidence_rows(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """A finding's evidence as its page shows it: (label, text), facts without a value left out."""
    return [(EVIDENCE_LABELS.get(k, k), evidence_text(v)) for k, v in sorted(evidence.items())
            if v not in (None, "", [], {})]


def finding_summary(findings: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Open findings per check: red and yellow counts, worst check first (the board's health panel)."""
    from monitor.findings import CHECKS, Status

    tally: dict[str, Counter[str]] = {}
    for by_uid in findings.values():
        for known in by_uid.values():
            if known.status is Status.OPEN:
                tally.setdefault(known.finding.check, Counter())[known.finding.severity.value] += 1
    out = [{"check": check, "label": CHECKS.get(check, check), "red": c["red"], "yellow": c["yellow"]}
           for check, c in tally.items()]
    out.sort(key=lambda r: (-r["red"], -r["yellow"], r["check"]))
    return out
