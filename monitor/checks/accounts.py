"""The account checks beyond freshness, each reporting findings on the one findings path.

* ``PostShareCheck`` (on every fetched account feed): the share of reposts and of off-duty posts over the
  last N posts → ``repost_share`` (yellow above the configured share);
* ``InteractionCheck`` (daily, from the inventory and the clock): the interaction function's attestation →
  ``interaction`` (red when absent: 互动回应差 is a veto; yellow when unattested or stale);
* ``ServiceMenuCheck`` (daily): the service menu's links, checked as site links are → ``service_menu``
  (red when all are dead, yellow when some are);
* ``MatrixCheck`` (daily): a site's 新媒体矩阵 page against the registered inventory → ``unregistered``.

The functions building findings are pure; the classes are the thin I/O shells.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

import structlog

from monitor.checks.base import Context, Subject
from monitor.checks.links import LinkOutcome, link_checker
from monitor.config import AccountModel, AccountSettings, Inventory, InventoryModel, SiteModel, account_site
from monitor.config.account_list import AccountRow, unregistered
from monitor.durations import Duration
from monitor.evaluate import TZ
from monitor.extract.accounts.content import PostShare, post_share
from monitor.extract.accounts.matrix import Listed, read_matrix
from monitor.findings import Finding, one_line, quoted
from monitor.model import Item, Observation, State, Target, TargetKind

log = structlog.get_logger()
REGISTERED = "已备案"


# ------------------------------------------------------------------------------------------ pure core


def share_findings(target: Target, items: Sequence[Item], share: PostShare, s: AccountSettings) -> list[Finding]:
    """Yellow findings when reposts or off-duty posts exceed their shares of the last posts whose source could
    tell; fewer than ``min_posts`` judged posts judge nothing."""
    window = items[:s.posts_window]
    facts = {**share.to_json(), "repost_limit": s.repost_share, "off_duty_limit": s.off_duty_share}
    kinds = (
        ("repost", share.reposts, share.flagged, share.repost_share, s.repost_share,
         [i.title for i in window if i.repost], "转发他人内容占比过高", "转发其他账号的内容",
         "；原创信息少、靠转发维持更新会被通报"),
        ("off_duty", share.off_duty, share.off_duty_judged, share.off_duty_share, s.off_duty_share,
         [i.title for i in window if i.off_duty], "与本部门职能无关的内容占比过高",
         "是天气预报、其他媒体新闻等与本部门职能无关的内容", ""),
    )
    out = []
    for key, count, judged, ratio, limit, titles, title, what, why in kinds:
        if judged < s.min_posts or ratio is None or ratio <= limit:
            continue
        examples = titles[:3]
        among = f"最近 {share.posts} 条发布中" + (f"可判断的 {judged} 条里" if judged < share.posts else "")
        detail = (f"{among} {count} 条{what}（{ratio:.0%}），高于 {limit:.0%}{why}。例："
                  + "；".join(quoted(t) for t in examples))
        out.append(Finding("repost_share", target.id, key, State.YELLOW, f"{title}：{target.name}", target.unit_id,
                           target.site_id, target.url, detail, {**facts, "examples": examples}))
    return out


def attestation_expires(attested_at: date, valid: Duration) -> datetime:
    """The instant an attestation made on a day stops counting (midnight, Shanghai time)."""
    return valid.after(datetime.combine(attested_at, time(), TZ))


def attestation_state(account: AccountModel, valid: Duration, now: datetime) -> State | None:
    """The interaction attestation's state: None when nothing is attested, red when the function is absent,
    yellow when the attestation is older than ``valid``, else green."""
    attested = account.interaction
    if attested is None:
        return None
    if not attested.present:
        return State.RED
    return State.YELLOW if now >= attestation_expires(attested.attested_at, valid) else State.GREEN


def interaction_findings(account: AccountModel, valid: Duration, now: datetime) -> list[Finding]:
    """The interaction function as attested: absent is 互动回应差 (red, a veto); an attestation older than
    ``valid`` asks the unit to attest again (yellow)."""
    state = attestation_state(account, valid, now)
    if state is None or state is State.GREEN:
        return []  # nothing attested (the accounts page shows 未核验, no unit is alerted) or still valid
    attested = account.interaction
    assert attested is not None
    site = account_site(account.unit)
    name = f"{account.name}（{account.platform}）"
    facts = {"present": attested.present, "attested_at": attested.attested_at.isoformat(),
             "attested_by": attested.attested_by}
    if state is State.RED:
        return [Finding("interaction", account.id, "interaction", State.RED,
                        f"互动回应差（单项否决）：{name}未提供有效互动功能", account.unit, site,
                        detail=f"{name}：{attested.attested_by}于{attested.attested_at:%Y-%m-%d}核验，账号未提供有效的"
                               "互动功能（留言、私信无回应或仅有无关的自动回复）。互动回应差是政务新媒体单项否决项，请立即整改。",
                        evidence=facts)]
    expires = attestation_expires(attested.attested_at, valid)
    return [Finding("interaction", account.id, "attestation", State.YELLOW, f"互动功能核验已过期：{name}", account.unit,
                    site,
                    detail=f"{name}：上次由{attested.attested_by}于{attested.attested_at:%Y-%m-%d}核验互动功能有效，"
                           f"该核验已于 {expires:%Y-%m-%d} 过期。请重新核验留言、私信等互动功能并更新 attested_at。",
                    evidence={**facts, "expired_at": expires.isoformat()})]


def menu_findings(account: AccountModel, outcomes: dict[str, LinkOutcome]) -> list[Finding]:
    """Red when every service-menu link is dead, yellow with the list when some are."""
    dead = [(url, outcomes[url]) for url in account.service_menu if not outcomes[url].ok]
    if not dead:
        return []
    total = len(account.service_menu)
    every = len(dead) == total
    name = f"{account.name}（{account.platform}）"
    title = (f"服务菜单链接全部失效（{total} 个）：{name}" if every
             else f"服务菜单部分链接失效（{len(dead)}/{total} 个）：{name}")
    listing = "；".join(f"{url}（{o.detail or o.error}）" for url, o in dead)
    return [Finding("service_menu", account.id, "menu", State.RED if every else State.YELLOW, title, account.unit,
                    account_site(account.unit), dead[0][0],
                    f"{name}的服务菜单中失效的链接：{listing}",
                    {"links": total, "dead": [{"url": url, "status": o.status, "error": o.error, "detail": o.detail}
                                              for url, o in dead]})]


def matrix_findings(site: SiteModel, listed: Sequence[Listed], model: InventoryModel) -> list[Finding]:
    """An 未备案 finding (red) for each account the site's 新媒体矩阵 page lists that the inventory does not
    register, for the unit the page names (when it is in the inventory) or else the site's unit."""
    units = {u.id: u.name for u in model.units}
    by_name = {name: uid for uid, name in units.items()}
    rows = [AccountRow(0, listed.unit if listed.unit in by_name else units.get(site.unit, site.unit), listed.name,
                       listed.platform, listed.platform_text) for listed in listed]
    out = []
    for found in unregistered(model, rows):
        row = found.row
        unit_id = found.unit_id or site.unit
        out.append(Finding(
            "unregistered", site.id, f"{row.platform}|{''.join(row.name.split()).lower()}", State.RED,
            f"未备案账号：{row.platform} {row.name}", unit_id, site.id, site.matrix_page,
            f"网站「{site.name}」的新媒体矩阵页列出{row.unit}的{row.platform}账号{quoted(row.name)}（页面写作“{one_line(row.type_text)[:20]}”），"
            "但它不在已备案的政务新媒体清单中：请报备或关停。",
            {"platform": row.platform, "name": row.name, "unit": row.unit, "page": site.matrix_page}))
    return out


# ------------------------------------------------------------------------------------------ I/O shells


class PostShareCheck:
    """``monitor.checks.ObservationCheck``: the shares over the posts an account probe just read."""

    name = "repost_share"
    produces = ("repost_share",)

    def __init__(self, settings: AccountSettings) -> None:
        self.settings = settings
        self.latest: dict[str, PostShare] = {}  # per account: the shares at its last fetched feed (the board)

    def findings(self, target: Target, observation: Observation) -> list[Finding] | None:
        if target.kind != TargetKind.ACCOUNT or not observation.items:
            return None  # a source fault or an unchanged feed: nothing new to judge
        share = post_share(observation.items, self.settings.posts_window)
        self.latest[target.id] = share
        return share_findings(target, observation.items, share, self.settings)


class InteractionCheck:
    """``monitor.checks.Check``: each registered account's interaction attestation, once a day."""

    name = "interaction"
    produces = ("interaction",)

    def subjects(self, inventory: Inventory) -> list[Subject]:
        s = inventory.settings.accounts
        return [Subject(a.id, s.interaction_interval.approx_seconds, a.unit, account_site(a.unit),
                        (a, s.attestation_valid))
                for a in inventory.model.accounts if a.status == REGISTERED]

    async def run(self, subject: Subject, ctx: Context[object], now: datetime) -> list[Finding]:
        account, valid = subject.data
        return interaction_findings(account, valid, now)


class ServiceMenuCheck:
    """``monitor.checks.Check``: the links of each registered account's service menu, once a day, through the
    site links' checker (HEAD, then GET when HEAD is refused; a failing link is asked again before it counts)."""

    name = "service_menu"
    produces = ("service_menu",)

    def subjects(self, inventory: Inventory) -> list[Subject]:
        interval = inventory.settings.accounts.service_menu_interval.approx_seconds
        links = inventory.settings.links
        return [Subject(a.id, interval, a.unit, account_site(a.unit), (a, links))
                for a in inventory.model.accounts if a.status == REGISTERED and a.service_menu]

    async def run(self, subject: Subject, ctx: Context[object], now: datetime) -> list[Finding]:
        account, links = subject.data
        outcomes = await link_checker(ctx).check(ctx.fetcher, set(account.service_menu), "", (), links, now)
        found = menu_findings(account, outcomes)
        log.info("service_menu_checked", account=account.id, links=len(account.service_menu),
                 dead=sum(1 for o in outcomes.values() if not o.ok))
        return found


class MatrixCheck:
    """``monitor.checks.Check``: each site's 新媒体矩阵 page, once a day, against the registered accounts."""

    name = "matrix"
    produces = ("unregistered",)

    def subjects(self, inventory: Inventory) -> list[Subject]:
        interval = inventory.settings.accounts.matrix_interval.approx_seconds
        return [Subject(site.id, interval, site.unit, site.id, (site, inventory.model))
                for site in inventory.model.sites if site.matrix_page]

    async def run(self, subject: Subject, ctx: Context[object], now: datetime) -> list[Finding] | None:
        site, model = subject.data
        result = await ctx.fetcher.fetch(site.matrix_page or "")
        if not result.ok or not result.text:
            log.info("matrix_skipped", site=site.id, reason=result.detail)
            return None  # keep what is known: the page failing is not the accounts being registered
        listed = read_matrix(result.text)
        if not listed:
            log.warning("matrix_unreadable", site=site.id, url=site.matrix_page)
            return None  # a page that lists nothing has moved or changed template: never a false "gone"
        found = matrix_findings(site, listed, model)
        log.info("matrix_checked", site=site.id, listed=len(listed), unregistered=len(found))
        return found
