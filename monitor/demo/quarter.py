"""``govwatch report --demo``: a quarter of history on loopback sites through the real daemon, then its report.

Five county websites and three 政务新媒体 accounts publish on a script over the quarter (and the ten
days before it): columns that lapse and recover, a policy column past its 6 months, a homepage whose
要闻 block stops in December, three news columns that stop at once while two notice columns are
long stale, an item put online nine days after the date it claims, an item re-dated, an account that
goes quiet for three weeks. A loopback server renders each day's list pages and feeds; the real
monitor probes every target once a day at 09:00 with its clock set to that day, stores observations,
items and verdicts in a real SQLite file, and runs the honest-dates check on the stored history.
The score table, its HTML and the draft 通报 are then computed from that store as for any quarter.

Only column freshness, accounts and honest dates are simulated: the other checks (availability,
links, words, …) need histories of their own and are left out, so their findings do not appear.
"""

from __future__ import annotations

import email.utils
import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from aiohttp import web
from ruamel.yaml import YAML

from monitor import config
from monitor.checks.honest import HonestDatesCheck
from monitor.evaluate import TZ
from monitor.report.files import write_all
from monitor.report.history import quarter_report
from monitor.report.score import Quarter, Report, Scoring
from monitor.service import monitoring
from monitor.store.sqlite import SQLiteStore

LEAD_IN_DAYS = 10  # probing starts this many days before the quarter, so its first day has a state
PAGE_SIZE = 20
PROBE_AT = time(9)


@dataclass(frozen=True, slots=True)
class DemoItem:
    doc: int
    title: str
    shown: date  # the date it claims
    online: date  # the first day it is on the list
    redated: tuple[date, date] | None = None  # from this day on it claims this date instead

    def claimed(self, day: date) -> date:
        return self.redated[1] if self.redated and day >= self.redated[0] else self.shown


@dataclass(frozen=True, slots=True)
class DemoColumn:
    id: str
    name: str
    category: str
    items: tuple[DemoItem, ...]


@dataclass(frozen=True, slots=True)
class DemoSite:
    id: str
    name: str
    unit: str
    unit_name: str
    table: bool  # a table layout with 年月日 dates, else a TRS-style list
    columns: tuple[DemoColumn, ...]
    news: tuple[DemoItem, ...] | None = None  # the homepage's own 要闻 block; None: the newest items of its columns


@dataclass(frozen=True, slots=True)
class DemoAccount:
    id: str
    name: str
    platform: str
    unit: str
    posts: tuple[date, ...]


_TITLES = {
    "动态要闻": ("{p}召开{t}工作推进会", "{p}部署{t}工作", "县领导调研{t}工作", "{p}开展{t}专项检查",
             "{p}{t}工作取得阶段性成效"),
    "通知公告": ("关于做好{t}工作的通知", "关于开展{t}专项行动的公告", "关于{t}有关事项的通告", "关于{t}项目的公示"),
    "政策文件": ("{p}关于印发{t}实施方案的通知", "{p}关于进一步加强{t}工作的意见", "{p}{t}管理办法"),
    "人事信息": ("{p}关于{t}岗位人员任免的通知", "{p}{t}岗位公开招聘公告"),
    "规划计划": ("{p}{t}三年行动计划", "{p}{t}发展规划"),
}
_TOPICS = ("安全生产", "森林防火", "乡村振兴", "营商环境优化", "文明城市创建", "耕地保护", "河长制", "就业创业",
           "项目建设", "政务公开", "数字政府建设", "民生实事", "食品安全", "基层治理", "医疗保障", "高标准农田建设")


def _items(key: str, category: str, publisher: str, days: Iterable[date]) -> tuple[DemoItem, ...]:
    """Items published on ``days`` (online the day they claim), with stable document ids and varied titles."""
    base = 10000 + sum(map(ord, key)) * 37 % 80000
    patterns = _TITLES[category]
    return tuple(DemoItem(base + n, patterns[n % len(patterns)].format(p=publisher, t=_TOPICS[(n * 7) % len(_TOPICS)]),
                          day, day) for n, day in enumerate(sorted(days)))


def scenario(quarter: Quarter) -> tuple[list[DemoSite], list[DemoAccount]]:
    """The script, in days from the quarter's first day (for 2026Q4: d(0) is 1 October, d(91) 31 December)."""

    def d(n: int) -> date:
        return quarter.first_day + timedelta(days=n)

    def every(step: int, start: int = -60, end: int = 92, gap: tuple[int, int] | None = None) -> list[date]:
        """Every ``step`` days from d(start) to before d(end), none strictly inside the gap (first, last)."""
        return [d(n) for n in range(start, end, step) if not (gap and gap[0] < n < gap[1])]

    def col(site: str, key: str, name: str, category: str, days: Iterable[date], publisher: str) -> DemoColumn:
        return DemoColumn(f"{site}-{key}", name, category, _items(f"{site}-{key}", category, publisher, days))

    # 青溪县人民政府网站: news lapses d(20)…d(38); 人事信息 red from d(11) until d(50); a notice re-dated
    notices = list(_items("s1-notice", "通知公告", "县政府办", every(10)))
    i = next(k for k, it in enumerate(notices) if it.shown == d(30))
    notices[i] = DemoItem(notices[i].doc, notices[i].title, d(30), d(30), redated=(d(41), d(41)))
    s1 = DemoSite("s1", "青溪县人民政府网站", "u1", "青溪县人民政府办公室", False, (
        col("s1", "news", "工作动态", "动态要闻", every(2, gap=(20, 38)), "青溪县"),
        DemoColumn("s1-notice", "通知公告", "通知公告", tuple(notices)),
        col("s1", "policy", "政策文件", "政策文件", every(30, start=-150), "青溪县人民政府"),
        col("s1", "hr", "人事任免", "人事信息", [d(-700), d(-530), d(-355), d(50)], "青溪县人民政府"),
        col("s1", "plan", "规划计划", "规划计划", [d(-400), d(-200), d(-100)], "青溪县"),
    ))
    # 青溪县教育局网站: 政策文件 past 6 months d(10)…d(24); the homepage's 要闻 stop after d(65)
    s2 = DemoSite("s2", "青溪县教育局网站", "u2", "青溪县教育局", True, (
        col("s2", "news", "教育动态", "动态要闻", every(3), "县教育局"),
        col("s2", "notice", "通知公告", "通知公告", every(15), "县教育局"),
        col("s2", "policy", "政策文件", "政策文件", [d(-300), d(-174), d(24)], "县教育局"),
    ), news=_items("s2-home", "动态要闻", "县教育局", every(2, end=66)))
    # 青溪县卫生健康局网站: three news columns stop after d(30) until d(55); two notice columns long stale
    s3 = DemoSite("s3", "青溪县卫生健康局网站", "u3", "青溪县卫生健康局", False, (
        col("s3", "news", "卫健动态", "动态要闻", every(2, gap=(30, 55)), "县卫健局"),
        col("s3", "medical", "医疗服务动态", "动态要闻", every(2, gap=(30, 55)), "县人民医院"),
        col("s3", "cdc", "疾控动态", "动态要闻", every(2, gap=(30, 55)), "县疾控中心"),
        col("s3", "notice", "通知公告", "通知公告", [d(-500), d(-400), d(-250)], "县卫健局"),
        col("s3", "public", "公示公告", "通知公告", [d(-480), d(-380), d(-260)], "县卫健局"),
    ))
    # 青溪县市场监督管理局网站: an item claiming d(61) goes online on d(70)
    news4 = _items("s4-news", "动态要闻", "县市场监管局", every(2))
    forged = DemoItem(news4[-1].doc + 1, "县市场监管局开展冬春季食品安全专项检查", d(61), d(70))
    s4 = DemoSite("s4", "青溪县市场监督管理局网站", "u4", "青溪县市场监督管理局", True, (
        DemoColumn("s4-news", "监管动态", "动态要闻", (*news4, forged)),
        col("s4", "notice", "通知公告", "通知公告", every(12), "县市场监管局"),
        col("s4", "policy", "政策法规", "政策文件", every(40, start=-160), "县市场监管局"),
    ))
    # 青溪县统计局网站: everything on time
    s5 = DemoSite("s5", "青溪县统计局网站", "u5", "青溪县统计局", False, (
        col("s5", "news", "统计动态", "动态要闻", every(3), "县统计局"),
        col("s5", "notice", "通知公告", "通知公告", every(20), "县统计局"),
        col("s5", "data", "统计数据", "政策文件", every(30, start=-150), "县统计局"),
    ))
    accounts = [
        DemoAccount("a1", "青溪发布", "微博", "u1", tuple(every(1, start=-30))),
        DemoAccount("a2", "青溪教育", "微信公众号", "u2", tuple(every(1, start=-30, gap=(31, 55)))),
        DemoAccount("a3", "健康青溪", "抖音", "u3", tuple(every(7, start=-30))),
    ]
    return [s1, s2, s3, s4, s5], accounts


class DemoServer:
    """Renders every site's list pages, homepages and the accounts' feeds as they stand on ``today``."""

    def __init__(self, sites: list[DemoSite], accounts: list[DemoAccount], today: date) -> None:
        self.sites = {s.id: s for s in sites}
        self.columns = {c.id: (s, c) for s in sites for c in s.columns}
        self.accounts = {a.id: a for a in accounts}
        self.today = today
        self.base = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> DemoServer:
        app = web.Application()
        app.router.add_get("/{site}/", self._home)
        app.router.add_get("/{site}/col/{column}/", self._column)
        app.router.add_get("/feeds/{account}.xml", self._feed)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def listed(self, items: Iterable[DemoItem]) -> list[tuple[DemoItem, date]]:
        """The items online today with the date each claims today, newest first, one page."""
        shown = [(it, it.claimed(self.today)) for it in items if it.online <= self.today]
        return sorted(shown, key=lambda pair: (pair[1], pair[0].doc), reverse=True)[:PAGE_SIZE]

    def _page(self, site: DemoSite, title: str, body: str) -> web.Response:
        text = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head><body>
<div class="top">今天是{self.today.year}年{self.today.month}月{self.today.day}日</div>
<div class="banner"><h1>{html.escape(site.name)}</h1></div>
<div class="nav"><a href="/{site.id}/">首页</a><a href="#">政务公开</a><a href="#">互动交流</a>
<a href="#">办事服务</a></div>
<div class="main">{body}</div>
<div class="footer">主办单位：{html.escape(site.unit_name)} 联系电话：0571-8888{len(site.id)}00 ICP备05012345号
© 2003-{self.today.year}</div>
</body></html>"""
        return web.Response(text=text, content_type="text/html", charset="utf-8")

    def _list(self, site: DemoSite, prefix: str, items: Iterable[DemoItem]) -> str:
        rows = []
        for it, day in self.listed(items):
            href = f"{prefix}/{it.online:%Y%m}/t{it.online:%Y%m%d}_{it.doc}.html"
            title = html.escape(it.title)
            if site.table:
                rows.append(f'<tr><td class="bt"><a href="{href}" target="_blank">{title}</a></td>'
                            f'<td class="rq" align="right">{day.year}年{day.month:02d}月{day.day:02d}日</td></tr>')
            else:
                rows.append(f'<li><a href="{href}" title="{title}" target="_blank">{title}</a><span>{day}</span></li>')
        if site.table:
            return '<table class="list-table" width="100%">\n' + "\n".join(rows) + "\n</table>"
        return '<ul class="list">\n' + "\n".join(rows) + "\n</ul>"

    async def _column(self, request: web.Request) -> web.Response:
        found = self.columns.get(request.match_info["column"])
        if found is None or found[0].id != request.match_info["site"]:
            raise web.HTTPNotFound()
        site, column = found
        body = (f'<div class="location">当前位置：<a href="/{site.id}/">首页</a> &gt; {html.escape(column.name)}</div>'
                f"{self._list(site, f'/{site.id}/col/{column.id}', column.items)}"
                f'<div class="pages">共{len(self.listed(column.items))}条 第1/1页</div>')
        return self._page(site, f"{column.name}_{site.name}", body)

    async def _home(self, request: web.Request) -> web.Response:
        site = self.sites.get(request.match_info["site"])
        if site is None:
            raise web.HTTPNotFound()
        news = site.news if site.news is not None else [it for c in site.columns for it in c.items]
        body = f'<div class="home-news"><h2>要闻</h2>{self._list(site, f"/{site.id}/news", news)}</div>'
        return self._page(site, site.name, body)

    async def _feed(self, request: web.Request) -> web.Response:
        account = self.accounts.get(request.match_info["account"])
        if account is None:
            raise web.HTTPNotFound()
        posts = sorted((p for p in account.posts if p <= self.today), reverse=True)[:10]
        items = "".join(
            f"<item><title>{html.escape(account.name)}：{_TOPICS[n % len(_TOPICS)]}工作动态</title>"
            f"<link>{self.base}/feeds/{account.id}/{day:%Y%m%d}.html</link>"
            f"<guid>{self.base}/feeds/{account.id}/{day:%Y%m%d}.html</guid>"
            f"<pubDate>{email.utils.format_datetime(datetime.combine(day, time(8), TZ))}</pubDate></item>"
            for n, day in enumerate(posts))
        text = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>{html.escape(account.name)}</title><link>{self.base}/feeds/{account.id}.xml</link>"
                f"<description>{html.escape(account.name)}的{account.platform}</description>{items}</channel></rss>")
        return web.Response(text=text, content_type="application/rss+xml", charset="utf-8")


def inventory_data(server: DemoServer, sites: list[DemoSite], accounts: list[DemoAccount], store: Path) -> dict:
    units = {s.unit: s.unit_name for s in sites}
    return {
        "settings": {"store": str(store), "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
        "units": [{"id": uid, "name": name} for uid, name in units.items()],
        "sites": [{"id": s.id, "name": s.name, "unit": s.unit, "homepage": f"{server.base}/{s.id}/",
                   "columns": [{"id": c.id, "name": c.name, "url": f"{server.base}/{s.id}/col/{c.id}/",
                                "category": c.category} for c in s.columns]} for s in sites],
        "accounts": [{"id": a.id, "unit": a.unit, "platform": a.platform, "name": a.name,
                      "source": {"kind": "rss", "url": f"{server.base}/feeds/{a.id}.xml"}} for a in accounts],
    }


async def simulate(quarter: Quarter, folder: Path) -> tuple[config.Inventory, Path]:
    """Probe the scripted sites once a day through the quarter (and its lead-in) into ``folder``'s store."""
    sites, accounts = scenario(quarter)
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "govwatch.sqlite3"
    for stale in (store, store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")):
        stale.unlink(missing_ok=True)  # a previous demo run's store: start the quarter afresh
    first = quarter.first_day - timedelta(days=LEAD_IN_DAYS)
    async with DemoServer(sites, accounts, first) as server:
        path = folder / "inventory.yaml"
        yaml = YAML()
        yaml.allow_unicode = True
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(inventory_data(server, sites, accounts, store), fh)
        inventory = config.load(path)
        honest = HonestDatesCheck()
        subjects = honest.subjects(inventory)
        clock = [datetime.combine(first, PROBE_AT, TZ)]
        async with monitoring(inventory) as monitor:
            monitor.clock = lambda: clock[0]
            day = first
            while day <= quarter.last_day:
                server.today = day
                clock[0] = datetime.combine(day, PROBE_AT, TZ)
                await monitor.sweep_once()
                for subject in subjects:
                    found = await honest.run(subject, monitor.check_runner.context, clock[0])
                    monitor.book.report_many(honest.produces, subject.id, found or [], clock[0])
                day += timedelta(days=1)
    return inventory, store


async def run_demo_quarter(quarter: Quarter, out: Path, scoring: Scoring | None = None) -> tuple[Report, list[Path]]:
    """Simulate the quarter and write its score table (xlsx, HTML) and draft 通报 into ``out``."""
    inventory, path = await simulate(quarter, out / f"demo-{quarter}")
    store = SQLiteStore(path)
    await store.open()
    try:
        report = await quarter_report(store, quarter, scoring, [(u.id, u.name) for u in inventory.model.units],
                                      quarter.end)
    finally:
        await store.close()
    return report, write_all(report, out)
