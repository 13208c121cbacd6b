"""Time a ``/metrics`` scrape at 30,000 columns, without a network.

    python bench/scrape.py --sites 600 --columns 50 --scrapes 10

Builds the daemon's in-memory state directly (``Tracked`` objects with realistic verdicts: mostly
green, some yellow, red and unknown; one homepage per site) and times ``Metrics.scrape`` (the
registry through ``generate_latest`` plus the per-target families), the body ``/metrics`` serves.
Prints a human summary, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from monitor.daemon import Tracked
from monitor.evaluate import History, evaluate
from monitor.metrics import Metrics
from monitor.model import FetchError, Observation, Target
from monitor.rules import DEFAULT_RULES, HOMEPAGE

CATEGORIES = ("动态要闻", "通知公告", "政策文件", "人事信息", "规划计划")
COLUMN_NAMES = ("工作动态", "乡镇动态", "通知公告", "政策文件", "人事任免", "规划计划", "部门动态", "政策解读")


@dataclass
class FakeMonitor:
    now: datetime
    tracked: dict[str, Tracked] = field(default_factory=dict)

    def clock(self) -> datetime:
        return self.now


def build(sites: int, columns: int, seed: int = 1) -> FakeMonitor:
    rng = random.Random(seed)
    now = datetime.now().astimezone()
    monitor = FakeMonitor(now)
    for s in range(sites):
        unit_id, site_id = f"u{s // 10:03d}", f"s{s:04d}"
        unit_name, site_name = f"某某市第{s // 10}区人民政府办公室", f"某某市第{s}区人民政府门户网站"
        specs = [(f"{site_id}-home", "homepage", "首页", HOMEPAGE)]
        specs += [(f"{site_id}-c{c:03d}", "column", COLUMN_NAMES[c % len(COLUMN_NAMES)],
                   CATEGORIES[c % len(CATEGORIES)]) for c in range(columns)]
        for tid, kind, name, category in specs:
            rule = DEFAULT_RULES[category]
            target = Target(tid, kind, name, f"http://{site_id}.example/{tid}/", site_id, site_name, unit_id,
                            unit_name, rule)
            roll = rng.random()
            error = FetchError.TIMEOUT if roll < 0.03 else None
            newest: date | None = None if error else (now - timedelta(days=rng.randint(0, 400))).date()
            obs = Observation(tid, now, rng.uniform(20, 900), 200 if error is None else None, error=error,
                              newest_date=newest)
            history = History(latest=obs, last_good=obs if newest else None, newest_first_seen=now)
            monitor.tracked[tid] = Tracked(target, history, evaluate(rule, history, now))
    return monitor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=600)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--scrapes", type=int, default=10)
    args = parser.parse_args()
    monitor = build(args.sites, args.columns)
    metrics = Metrics()
    metrics.watch(monitor)
    times: list[float] = []
    body = b""
    for _ in range(args.scrapes):
        t0 = time.perf_counter()
        body = metrics.scrape()
        times.append((time.perf_counter() - t0) * 1000)
    result = {
        "targets": len(monitor.tracked), "scrapes": args.scrapes,
        "scrape_ms_p50": round(statistics.median(times), 1), "scrape_ms_max": round(max(times), 1),
        "bytes": len(body), "gzip_bytes": len(gzip.compress(body, 6)),
        "series": sum(1 for line in body.splitlines() if line and not line.startswith(b"#")),
    }
    print(f"{result['targets']} targets: scrape p50 {result['scrape_ms_p50']} ms, max {result['scrape_ms_max']} ms, "
          f"{result['bytes'] / 1e6:.1f} MB ({result['gzip_bytes'] / 1e6:.2f} MB gzip), {result['series']} series")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
