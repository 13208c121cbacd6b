"""The accounts view (``/accounts``): every new-media account per unit with its 备案 status, freshness, source,
repost share, interaction, service menu and open findings, computed from the monitor's memory (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.checks.accounts import PostShareCheck, attestation_expires, attestation_state
from monitor.daemon import Monitor
from monitor.evaluate import TZ
from monitor.extract.accounts.content import PostShare
from monitor.findings import CHECKS, Known, Status
from monitor.model import State
from monitor.web import views

ORDER = {"red": 0, "yellow": 1, "unknown": 2, "green": 3, "none": 4}


def open_findings(monitor: Monitor) -> dict[str, list[Known]]:
    """Open findings by subject, red first."""
    out: dict[str, list[Known]] = {}
    for (_, subject), by_uid in monitor.findings.items():
        out.setdefault(subject, []).extend(k for k in by_uid.values() if k.status is Status.OPEN)
    for found in out.values():
        found.sort(key=lambda k: k.finding.severity != State.RED)
    return out


def _share(monitor: Monitor, account_id: str, found: list[Known]) -> PostShare | None:
    """The shares at the account's last fetched feed, or (after a restart) those its open finding recorded."""
    for check in monitor.observation_checks:
        if isinstance(check, PostShareCheck) and account_id in check.latest:
            return check.latest[account_id]
    for known in found:
        e = known.finding.evidence
        if known.finding.check == "repost_share" and "posts" in e:
            return PostShare.from_json(e)
    return None


def share_text(share: PostShare) -> str:
    """「转发 3/20（15%）· 非本职 无法判断」: each share over the posts whose source could tell, and 无法判断 when
    none could (a WeChat feed without full text says neither 原创 nor 以下文章来源于)."""
    def one(label: str, count: int, judged: int, ratio: float | None) -> str:
        if ratio is None:
            return f"{label} 无法判断"
        rest = share.posts - judged
        return f"{label} {count}/{judged}（{ratio:.0%}{f'，{rest} 条无法判断' if rest else ''}）"

    return (one("转发", share.reposts, share.flagged, share.repost_share) + " · "
            + one("非本职", share.off_duty, share.off_duty_judged, share.off_duty_share))


def _interaction(account: Any, monitor: Monitor, now: datetime) -> tuple[str, str]:
    """(text, state) of the interaction attestation."""
    valid = monitor.inventory.settings.accounts.attestation_valid
    state, attested = attestation_state(account, valid, now), account.interaction
    if state is None or attested is None:
        return "未核验", "none"
    if state is State.RED:
        return f"无有效互动功能（{attested.attested_by} {attested.attested_at:%Y-%m-%d} 核验）", "red"
    if state is State.YELLOW:
        return f"核验已过期（{attested.attested_by} {attested.attested_at:%Y-%m-%d}）", "yellow"
    expires = attestation_expires(attested.attested_at, valid)
    return f"有效（{attested.attested_by} {attested.attested_at:%Y-%m-%d} 核验，{expires:%Y-%m-%d} 到期）", "green"


def account_row(account: Any, monitor: Monitor, now: datetime, found: list[Known]) -> dict[str, Any]:
    today = now.astimezone(TZ).date()
    tracked = monitor.tracked.get(account.id)
    row: dict[str, Any] = {
        "id": account.id, "name": account.name, "platform": account.platform, "registration": account.status,
        "probed": tracked is not None, "state": "none", "state_label": "未监测", "newest_date": None, "days": None,
        "source": "未配置数据源" if account.source is None else "已关停，不再检测", "source_state": "none",
    }
    if tracked is not None:
        v = tracked.verdict
        row.update(state=str(v.state), state_label=views.STATE_LABELS[v.state],
                   newest_date=v.newest_date.isoformat() if v.newest_date else None,
                   days=(today - v.newest_date).days if v.newest_date else None,
                   source="正常" if v.state is not State.UNKNOWN else views.reason_text(v.reasons),
                   source_state="green" if v.state is not State.UNKNOWN else "unknown")
    share = _share(monitor, account.id, found)
    row["share"] = share_text(share) if share else "—"
    row["share_state"] = ("yellow" if any(k.finding.check == "repost_share" for k in found)
                          else "none" if share is None else "unknown" if not (share.flagged or share.off_duty_judged)
                          else "green")
    row["interaction"], row["interaction_state"] = _interaction(account, monitor, now)
    menu = [k for k in found if k.finding.check == "service_menu"]
    row["menu"] = (menu[0].finding.title.split("：")[0] if menu else f"{len(account.service_menu)} 个链接正常"
                   if account.service_menu else "—")
    row["menu_state"] = str(menu[0].finding.severity) if menu else "green" if account.service_menu else "none"
    row["findings"] = [{"uid": k.finding.uid, "title": k.finding.title, "severity": str(k.finding.severity),
                        "label": CHECKS.get(k.finding.check, k.finding.check)} for k in found]
    return row


def unit_groups(monitor: Monitor) -> list[dict[str, Any]]:
    """The accounts per unit (units in inventory order), each unit's worst account first."""
    now = monitor.clock()
    found = open_findings(monitor)
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for account in monitor.inventory.model.accounts:
        by_unit.setdefault(account.unit, []).append(account_row(account, monitor, now, found.get(account.id, [])))
    out = []
    for unit in monitor.inventory.model.units:
        rows = by_unit.get(unit.id)
        if rows:
            rows.sort(key=lambda r: (ORDER[r["state"]], -(r["days"] or 0)))
            out.append({"id": unit.id, "name": unit.name, "rows": rows})
    return out


def unregistered_rows(monitor: Monitor) -> list[dict[str, Any]]:
    """Open 未备案 findings (accounts found on 新媒体矩阵 pages that the inventory does not register)."""
    units = {u.id: u.name for u in monitor.inventory.model.units}
    sites = {s.id: s.name for s in monitor.inventory.model.sites}
    rows = [k.finding for (check, _), by_uid in monitor.findings.items() if check == "unregistered"
            for k in by_uid.values() if k.status is Status.OPEN]
    return [{"uid": f.uid, "unit": units.get(f.unit_id, f.unit_id), "platform": f.evidence.get("platform", ""),
             "name": f.evidence.get("name", f.key), "site": sites.get(f.site_id, f.site_id), "url": f.url,
             "title": f.title} for f in sorted(rows, key=lambda f: (f.unit_id, f.key))]
