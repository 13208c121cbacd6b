"""Bridge health apart from account health: one finding for a bridge that stopped syncing or fails, never
hundreds of account reds.

Offices read accounts through bridges (RSSHub, wewe-rss, we-mp-rss, ``monitor.config.bridges``). When
wewe-rss's WeChat-Reading login expires or a we-mp-rss sync fails, the bridge keeps serving its old articles
with status 200, and after two weeks every account behind it would go red although nobody knows whether the
accounts posted. So each bridge has its own state:

* **stalled**, by its own word: where it publishes its last sync (wewe-rss ``syncTime`` at ``GET /feeds/``,
  we-mp-rss ``sync_time`` at ``GET /api/v1/wx/mps/<id>``; endpoint and field configurable), a sync older than
  ``stale_sync`` (a sync time of 0: never synced);
* **stalled**, inferred: every account behind it stopped advancing at once while they used to move
  independently — no account's newest post date changed for ``quiet`` and for ``quiet_factor`` times the
  spacing of their latest advances (with accounts that advance every hour between them, a day of silence is
  no chance); with fewer than ``min_accounts`` accounts, or accounts that post rarely, silence cannot be told
  from a stall and nothing is inferred;
* **failing**: its sync endpoint cannot be read, or ``failing_share`` of its accounts' latest reads failed.

A stalled or failing bridge is one red finding for the unit that runs it (``bridges: [{unit: …}]``, else the
supervising office); while it is open, its accounts' verdicts are unknown — 账号数据源异常 — (the monitor reads
the open finding: ``source_down``), and they are read and judged again the moment it goes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from monitor.checks.base import Context, Subject
from monitor.config.bridges import Bridge
from monitor.config.schema import BridgeSettings
from monitor.evaluate import TZ, History, Reason, SourceDown
from monitor.findings import Finding, Known, Status
from monitor.model import EmptyReason, State

if TYPE_CHECKING:
    from monitor.config import Inventory
    from monitor.records import TargetState

log = structlog.get_logger()
RECENT = 10  # the latest advances whose spacing says how often a bridge's accounts move
KEYS = {"stalled": Reason.BRIDGE_STALLED, "failing": Reason.BRIDGE_FAILING}
STALL_CAUSES = {"wewe-rss": "（如微信读书账号失效或被限流、定时同步停止）",
                "we-mp-rss": "（如公众号平台扫码登录过期、定时同步停止）", "other": "（如账号登录失效、定时同步停止）"}


@dataclass(frozen=True, slots=True)
class Activity:
    """One account behind a bridge: when its newest post date last changed, and whether its last read failed."""

    account: str
    advanced: datetime | None
    failing: bool


@dataclass(frozen=True, slots=True)
class Sync:
    """What a bridge said of its last sync: the newest sync time (None: never synced), or why it could not say."""

    at: datetime | None = None
    error: str | None = None


# ------------------------------------------------------------------------------------------ pure core


def read_sync(text: str, field: str) -> Sync:
    """The newest time at ``field`` (a dotted path; lists on the way are read item by item) of a JSON answer."""
    try:
        data = json.loads(text)
    except ValueError:
        return Sync(error="同步状态接口返回的不是 JSON")
    values = _values(data, field.split("."))
    instants = [i for i in (_instant(v) for v in values) if i is not None]
    if not instants:
        return Sync(error=f"同步状态接口的回答中没有可读的 {field}")
    newest = max(instants)
    return Sync(at=None if newest.timestamp() <= 0 else newest)


def _values(data: Any, path: list[str]) -> list[Any]:
    if isinstance(data, list):
        return [v for item in data for v in _values(item, path)]
    if not path:
        return [data]
    return _values(data.get(path[0]), path[1:]) if isinstance(data, dict) else []


def _instant(value: Any) -> datetime | None:
    """Unix seconds or milliseconds, or an ISO time (naive: Shanghai time)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, TZ)
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment


def quiet_since(advances: Sequence[datetime], now: datetime, bridge: Bridge, s: BridgeSettings,
                ) -> tuple[datetime, timedelta] | None:
    """(the last advance, the usual spacing of advances) when the accounts' silence is a stall, else None."""
    latest = sorted(advances, reverse=True)[:RECENT]
    if len(latest) < s.min_accounts:
        return None
    spacing = (latest[0] - latest[-1]) / (len(latest) - 1)
    silent = now - latest[0]
    if bridge.quiet.after(latest[0]) <= now and silent >= spacing * s.quiet_factor:
        return latest[0], spacing
    return None


def bridge_findings(bridge: Bridge, sync: Sync | None, activity: Sequence[Activity], now: datetime,
                    s: BridgeSettings) -> list[Finding]:
    """The bridge's finding: stalled (by its sync time, or inferred from its accounts) or failing; none when
    it is well."""
    n, read = len(bridge.accounts), len(activity)
    accounts = f"其后的 {n} 个账号" if n else "其后的账号"
    effect = f"；{accounts}暂记为“账号数据源异常”，不判断是否更新，数据源恢复后自动重新判断"
    failing = [a.account for a in activity if a.failing]
    evidence: dict[str, Any] = {"bridge": bridge.id, "kind": bridge.kind, "url": bridge.url, "accounts": n,
                                "failing": len(failing)}
    if sync is not None and sync.error is not None:
        why = f"同步状态接口 {bridge.sync_url} 无法读取：{sync.error}"
        return [_finding(bridge, "failing", why, why + effect, {**evidence, "error": sync.error})]
    if sync is not None:
        evidence["last_sync"] = sync.at.isoformat() if sync.at else None
        if sync.at is None or bridge.stale_sync.after(sync.at) <= now:
            when = "从未同步" if sync.at is None else f"最后一次同步在 {sync.at.astimezone(TZ):%Y-%m-%d %H:%M}"
            why = f"{when}，已超过 {_span_text(bridge.stale_sync.approx_seconds)}未同步"
            cause = STALL_CAUSES.get(bridge.kind, STALL_CAUSES["other"])
            return [_finding(bridge, "stalled", why, why + cause + "，请检查该数据源" + effect, evidence)]
    if read and len(failing) >= min(s.min_accounts, read) and len(failing) >= s.failing_share * read:
        why = f"其后 {len(failing)}/{read} 个账号最近一次读取失败"
        return [_finding(bridge, "failing", why, why + "（错误页、无法连接或非订阅内容），请检查该数据源" + effect,
                         {**evidence, "examples": failing[:5]})]
    quiet = quiet_since([a.advanced for a in activity if a.advanced is not None], now, bridge, s)
    if quiet is not None:
        last, spacing = quiet
        why = (f"其后所有账号自 {last.astimezone(TZ):%Y-%m-%d %H:%M} 起都没有新内容，而此前平均每 "
               f"{_span_text(spacing.total_seconds())}就有账号更新")
        return [_finding(bridge, "stalled", why, why + "，判断数据源已停止同步，请检查该数据源" + effect,
                         {**evidence, "last_advance": last.isoformat(), "spacing_s": round(spacing.total_seconds())})]
    return []


def _finding(bridge: Bridge, key: str, why: str, detail: str, evidence: dict[str, Any]) -> Finding:
    title = f"数据源停止同步：{bridge.name}" if key == "stalled" else f"数据源故障：{bridge.name}"
    return Finding("bridge", bridge.subject, key, State.RED, title, bridge.unit_id, "", bridge.url,
                   f"{bridge.name}：{detail}", {**evidence, "account_detail": f"{bridge.name}{why}"})


def _span_text(seconds: float) -> str:
    """「2 天」, 「1.5 小时」."""
    for size, unit in ((86400, "天"), (3600, "小时"), (60, "分钟")):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{max(seconds, 1):.0f} 秒"


def source_down(found: dict[str, Known] | None) -> SourceDown | None:
    """The bridge's state from its findings as the monitor knows them: down while one is open (an operator's
    false positive puts its accounts back under judgement)."""
    for known in (found or {}).values():
        f = known.finding
        if known.status is Status.OPEN and f.key in KEYS:
            return SourceDown(KEYS[f.key], str(f.evidence.get("account_detail") or f.title))
    return None


def activity(account: str, history: History) -> Activity:
    latest = history.latest
    failing = latest is not None and (latest.error is not None or latest.reason is EmptyReason.SOURCE_FAULT)
    return Activity(account, history.newest_first_seen, failing)


# ------------------------------------------------------------------------------------------ I/O shell


class AccountStates(Protocol):
    """The store as the bridge check reads it: its accounts' states (histories) as last written."""

    async def load_states(self, target_ids: Sequence[str] | None = None) -> dict[str, TargetState]: ...


class BridgeCheck:
    """``monitor.checks.base.Check``: each bridge, every ``settings.bridges.interval`` and at start (a cluster: as a
    daemon takes it over) unless it ran within that interval, before the first probe (``at_start``), so that no
    account behind a stalled bridge is judged on what it serves."""

    name = "bridges"
    produces = ("bridge",)
    at_start = True

    def subjects(self, inventory: Inventory) -> list[Subject]:
        s = inventory.settings.bridges
        return [Subject(b.subject, s.interval.approx_seconds, b.unit_id, "", (b, s)) for b in inventory.bridges]

    async def run(self, subject: Subject, ctx: Context[AccountStates], now: datetime) -> list[Finding]:
        bridge, settings = subject.data
        sync = None
        if bridge.sync_url and bridge.sync_field:
            result = await ctx.fetcher.fetch(bridge.sync_url, extra=bridge.headers)
            sync = (read_sync(result.text or "", bridge.sync_field) if result.ok
                    else Sync(error=result.detail or str(result.error)))
        states = await ctx.store.load_states(bridge.accounts) if bridge.accounts else {}
        seen = [activity(account, state.history) for account, state in states.items()]
        found = bridge_findings(bridge, sync, seen, now, settings)
        log.info("bridge_checked", bridge=bridge.id, accounts=len(seen), state=found[0].key if found else "ok",
                 last_sync=sync.at.isoformat() if sync and sync.at else None)
        return found
