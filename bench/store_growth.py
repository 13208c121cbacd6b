"""How large the store grows: a province's columns probed for a year on the default intervals, no network.

    python bench/store_growth.py --columns 30000 --days 365

Every probe goes through the real write path (``SQLiteStore.write``, one batch per simulated day) with the real
evaluator's verdicts and the real routing's alert items, and the store is compacted every simulated week as the
running daemon does (``monitor.store.retention``: column probes older than 90 days and availability probes older
than their 7-day window and a day reduced to the ends of their runs).

The mix, as a province's 集约化 portals look: a site per 100 columns, each with its homepage (probed hourly, a new
item a day) and availability probes (every 10 minutes); columns by category — 40 % 动态要闻 (probed every 3 h),
35 % 通知公告 (12 h), 25 % 人事信息 (1 d) — each publishing on its own cadence: 动态 daily (10 %), every 3 days,
weekly or every 3 weeks; 通知 weekly to quarterly; 人事 monthly to twice a year. That is ~35 new items per column
and year, most probes find their page unchanged, and some columns lapse into yellow and red. 30 % of sites answer
an unchanged page with 304; 0.5 % of fetches and of availability probes fail. One chat receiver per unit; no MQTT
(the default). Prints progress, the bytes per table, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.policy import change_alerts
from alerts.routing import route
from monitor.config import AlertSettings, SettingsModel, UnitModel
from monitor.evaluate import TZ, History, Verdict, advance, evaluate
from monitor.model import FetchError, Item, Observation, Target, TargetKind
from monitor.records import HealthProbeRecord, ProbeRecord, Record
from monitor.rules import DEFAULT_RULES
from monitor.store.retention import cutoffs
from monitor.store.sqlite import SQLiteStore

START = datetime(2026, 1, 1, tzinfo=TZ)
COLUMNS_PER_SITE = 100
HEALTH_EVERY_S = 600
BATCH_S = 24 * 3600  # one write per simulated day: a probe's page is written once a day, not once a probe
COMPACT_EVERY = timedelta(days=7)
LISTED = 20  # items on a list page
FAILURES = 0.005
ETAG_SITES = 0.3
# category → (its share of every 20 columns, (publishing cadences in days, their weights))
MIX = {
    "动态要闻": (8, ((1, 3, 7, 10, 30), (5, 15, 50, 25, 5))),
    "通知公告": (7, ((7, 30, 90), (10, 50, 40))),
    "人事信息": (5, ((30, 90, 180), (20, 50, 30))),
}
WORDS = ("安全生产", "政务公开", "乡村振兴", "营商环境", "防汛抗旱", "招聘考试", "任前公示", "专项检查", "重点项目",
         "民生实事", "河湖长制", "消防安全")
SETTINGS = AlertSettings()
BOARD = "http://127.0.0.1:8470/"


@dataclass
class Column:
    """One simulated target (a column or a homepage) and what the daemon holds for it."""

    target: Target
    every_s: float
    cadence_s: float
    next_publish: float
    etag: bool
    items: tuple[Item, ...] = ()
    published: int = 0
    page: str | None = None  # the page as it is now (its content hash)
    fetched: str | None = None  # the page as last read with 200: an unchanged page answers 304 on ETag sites
    stored: str | None = None  # the daemon's content hash: items go to the store when the page differs from it
    history: History = field(default_factory=History)
    verdict: Verdict | None = None

    def publish_until(self, now: float, rng: random.Random) -> None:
        while self.next_publish <= now:
            self.published += 1
            day = datetime.fromtimestamp(self.next_publish, TZ).date()
            title = f"关于做好{day.year}年{rng.choice(WORDS)}{rng.choice(WORDS)}工作的通知"
            url = (f"http://www.{self.target.site_id}.gov.cn/art/{day.year}/{day.month}/{day.day}/"
                   f"art_{self.target.id[-4:]}_{self.published}.html")
            self.items = (Item(title, url, day), *self.items[:LISTED - 1])
            self.page = f"{self.target.id}#{self.published}"
            self.next_publish += self.cadence_s

    def probe(self, at: float, ms: float, failed: bool, units: dict[str, UnitModel]) -> ProbeRecord:
        when = datetime.fromtimestamp(at, TZ)
        if failed:
            obs = Observation(self.target.id, when, 15000.0, error=FetchError.TIMEOUT, detail="读取超时 (15 s)")
        elif self.etag and self.page == self.fetched:
            obs = Observation(self.target.id, when, ms, 304, not_modified=True)
        else:
            obs = Observation(self.target.id, when, ms, 200, newest_date=self.items[0].date,
                              signature="ul:3f9a1c0d2b7e", content_hash=self.page, items=self.items)
            self.fetched = self.page
        previous, latest = self.verdict, self.history.latest
        same_read = latest is not None and (latest.error, latest.not_modified, latest.content_hash) == (
            obs.error, obs.not_modified, obs.content_hash)
        if not (same_read and previous is not None and (previous.next_change is None or when < previous.next_change)):
            # An identical read before the verdict's next change by time leaves history and verdict as they are
            # (the daemon evaluates it anyway, to the same verdict): only the others are evaluated here.
            self.history = advance(self.history, obs)
            self.verdict = evaluate(self.target.rule, self.history, when)
        changed = not self.verdict.same_as(previous)
        items_changed = obs.content_hash is not None and obs.content_hash != self.stored
        self.stored = obs.content_hash or self.stored
        alerts = change_alerts(self.target, previous, self.verdict, when) if changed else []
        outbox = tuple(item for alert in alerts for item in route(alert, units, SETTINGS, BOARD, when))
        return ProbeRecord(obs, self.verdict, changed, self.history.newest_first_seen, None, None, items_changed,
                           outbox)


def fleet(columns: int, rng: random.Random) -> tuple[list[Column], list[str], dict[str, UnitModel]]:
    """The province: ``columns`` columns on a site per ``COLUMNS_PER_SITE``, plus each site's homepage."""
    start = START.timestamp()
    sites = [f"site{n:04d}" for n in range(-(-columns // COLUMNS_PER_SITE))]
    units = {f"u-{s}": UnitModel(id=f"u-{s}", name=f"{s}单位", receivers=(
        {"id": "group", "url": "json://127.0.0.1:9/hook"},)) for s in sites}
    shares = [category for category, (twentieths, _) in MIX.items() for _ in range(twentieths)]
    out = []
    for n, site in enumerate(sites):
        etag = rng.random() < ETAG_SITES
        home = Target(f"{site}-home", TargetKind.HOMEPAGE, "首页", f"http://www.{site}.gov.cn/", site, f"{site}网站",
                      f"u-{site}", f"{site}单位", DEFAULT_RULES["首页"])
        out.append(Column(home, 3600.0, 86400.0, start - rng.uniform(0, 86400), etag))
        for k in range(min(COLUMNS_PER_SITE, columns - n * COLUMNS_PER_SITE)):
            category = shares[k % len(shares)]
            rule = DEFAULT_RULES[category]
            days = rng.choices(*MIX[category][1])[0]
            target = Target(f"{site}-col{k:03d}", TargetKind.COLUMN, f"{category}{k}",
                            f"http://www.{site}.gov.cn/col/col{k}/index.html", site, f"{site}网站", f"u-{site}",
                            f"{site}单位", rule)
            out.append(Column(target, float(rule.interval.seconds), days * 86400.0,
                              start - rng.uniform(0, days * 86400), etag))
    for column in out:  # a full list page from the start, its items published on the column's own cadence
        column.next_publish -= LISTED * column.cadence_s
        column.publish_until(start, rng)
    return out, sites, units


async def simulate(columns: int, days: int, folder: Path, progress: bool = True) -> dict[str, int]:
    rng = random.Random(13)
    targets, sites, units = fleet(columns, rng)
    fetch_ms = [float(int(rng.lognormvariate(5.5, 0.8)) + 20) for _ in range(4096)]
    health_ms = [float(int(rng.lognormvariate(5.0, 0.6))) for _ in range(4096)]
    store = SQLiteStore(folder / "govwatch.sqlite3")
    await store.open()
    start, end = START.timestamp(), START.timestamp() + days * 86400
    due = [(start + rng.uniform(0, c.every_s), i) for i, c in enumerate(targets)]
    heapq.heapify(due)
    health_offset = [rng.uniform(0, HEALTH_EVERY_S) for _ in sites]
    counts = {"probes": 0, "health_probes": 0, "items": sum(c.published for c in targets)}
    next_compaction = START + COMPACT_EVERY
    began = time.monotonic()
    writing: asyncio.Future[None] | None = None
    try:
        span = start
        while span < end:
            batch: list[Record] = []
            while due[0][0] < span + BATCH_S:
                at, i = heapq.heappop(due)
                column = targets[i]
                published = column.published
                column.publish_until(at, rng)
                counts["items"] += column.published - published
                batch.append(column.probe(at, fetch_ms[rng.getrandbits(12)], rng.random() < FAILURES, units))
                heapq.heappush(due, (at + column.every_s * rng.uniform(0.95, 1.05), i))
            counts["probes"] += len(batch)
            for site, offset in zip(sites, health_offset, strict=True):
                for k in range(BATCH_S // HEALTH_EVERY_S):
                    ok = rng.random() >= FAILURES
                    batch.append(HealthProbeRecord(site, datetime.fromtimestamp(span + offset + k * HEALTH_EVERY_S, TZ),
                                                   ok, None if ok else "timeout", 200 if ok else None,
                                                   health_ms[rng.getrandbits(12)] if ok else None))
                    counts["health_probes"] += 1
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(store.write(batch))  # stored while the next batch is built
            span += BATCH_S
            now = datetime.fromtimestamp(span, TZ)
            if now >= next_compaction:
                await writing
                await store.compact(*cutoffs(SettingsModel(), now))
                next_compaction += COMPACT_EVERY
                if progress:
                    size = (folder / "govwatch.sqlite3").stat().st_size
                    print(f"  day {(now - START).days:3d}: {size / 1e6:7.1f} MB, {time.monotonic() - began:5.0f} s",
                          file=sys.stderr, flush=True)
        if writing is not None:
            await writing
    finally:
        await store.close()
    return counts


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes per table, its indexes included (SQLite's dbstat)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
        by_table: dict[str, int] = {}
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            by_table[owner.get(name, name)] = by_table.get(owner.get(name, name), 0) + size
    return dict(sorted(by_table.items(), key=lambda kv: -kv[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", type=int, default=30000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", metavar="FOLDER", help="write the store into this folder and keep it")
    args = parser.parse_args()
    began, cpu = time.monotonic(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="govwatch-growth-") as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        counts = asyncio.run(simulate(args.columns, args.days, folder))
        path = folder / "govwatch.sqlite3"
        size = path.stat().st_size
        tables = table_bytes(path)
    seconds, cpu = time.monotonic() - began, time.process_time() - cpu
    print(f"{args.columns:,} columns, {args.days} days: {counts['probes']:,} probes, {counts['health_probes']:,} "
          f"availability probes and {counts['items']:,} items written in {seconds:.0f} s ({cpu:.0f} s CPU); "
          f"the store is {size / 1e6:.1f} MB")
    for table, n in tables.items():
        if n >= 1e5:
            print(f"  {table:<14} {n / 1e6:8.1f} MB")
    print(json.dumps({"columns": args.columns, "days": args.days, "bytes": size, **counts,
                      "seconds": round(seconds), "cpu_seconds": round(cpu), "tables": tables}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
