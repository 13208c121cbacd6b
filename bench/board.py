"""Time the wall view ``/`` at 30,000 columns, served by the daemon's own board.

    python bench/board.py --sites 600 --columns 50 --requests 10

Builds a real inventory (600 sites of 60 units, 50 columns each, a homepage per site), opens it with the
daemon's own monitor, SQLite store and alert engine, gives every target a realistic verdict (mostly green;
yellow, red, blank and unreachable ones, as ``bench/scrape.py`` does), adds open findings, serves the board on
127.0.0.1 and times ``GET /`` over HTTP (the page is built per request; the first request, which also compiles
the templates, is reported apart), in wall time and in this process's CPU time (what the page costs whatever
else keeps the machine busy; the load average is printed with it). Prints a human summary, then the
figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from aiohttp import ClientSession

from monitor import config
from monitor.daemon import Monitor, Tracked
from monitor.evaluate import TZ, History, evaluate
from monitor.findings import Finding, Known, Status
from monitor.model import EmptyReason, FetchError, Observation, State
from monitor.service import monitoring
from monitor.web.app import serve

CATEGORIES = ("动态要闻", "通知公告", "政策文件", "人事信息", "规划计划")
COLUMN_NAMES = ("工作动态", "乡镇动态", "通知公告", "政策文件", "人事任免", "规划计划", "部门动态", "政策解读")
SPAN_DAYS = {"通知公告": 183, "政策文件": 183, "人事信息": 365, "规划计划": 365}  # others: 14 days
ERRORS = ((FetchError.TIMEOUT, "timeout after 15 s"), (FetchError.CONNECT, "connect: connection refused"),
          (FetchError.HTTP_STATUS, "HTTP 500 Internal Server Error"), (FetchError.DNS, "DNS: name not resolved"))


def inventory(sites: int, columns: int, store: Path) -> config.Inventory:
    units = [{"id": f"u{u:03d}", "name": f"某某市第{u}区人民政府办公室"} for u in range((sites + 9) // 10)]
    site_list = [{
        "id": f"s{s:04d}", "name": f"某某市第{s}区人民政府门户网站", "unit": f"u{s // 10:03d}",
        "homepage": f"http://127.0.0.1:9/s{s}/",
        "columns": [{"id": f"s{s:04d}-c{c:03d}", "name": COLUMN_NAMES[c % len(COLUMN_NAMES)],
                     "url": f"http://127.0.0.1:9/s{s}/c{c}/", "category": CATEGORIES[c % len(CATEGORIES)]}
                    for c in range(columns)],
    } for s in range(sites)]
    data = {"settings": {"store": str(store)}, "units": units, "sites": site_list}
    return config.build(data, "bench", lambda loc: None)


def observe(tid: str, span_days: int, rng: random.Random, now: datetime) -> Observation:
    """Mostly fresh: the newest item's age is uniform over 1.3 × the category's deadline."""
    roll = rng.random()
    if roll < 0.03:
        error, detail = ERRORS[rng.randrange(len(ERRORS))]
        return Observation(tid, now, rng.uniform(20, 900), None, error=error, detail=detail)
    if roll < 0.035:
        return Observation(tid, now, 40.0, 200, reason=EmptyReason.EMPTY)
    if roll < 0.04:
        return Observation(tid, now, 40.0, 200, reason=EmptyReason.JS_RENDERED)
    newest: date = (now - timedelta(days=rng.randint(0, int(span_days * 1.3)))).date()
    return Observation(tid, now, rng.uniform(20, 900), 200, newest_date=newest)


def populate(monitor: Monitor, findings: int, seed: int = 1) -> None:
    """Realistic verdicts for every target and ``findings`` open findings spread over the sites."""
    rng = random.Random(seed)
    now = monitor.clock()
    for tid, tracked in monitor.tracked.items():
        obs = observe(tid, SPAN_DAYS.get(tracked.target.rule.category, 14), rng, now)
        history = History(obs, obs if obs.newest_date else None, now)
        monitor.tracked[tid] = Tracked(tracked.target, history, evaluate(tracked.target.rule, history, now))
    sites = monitor.inventory.model.sites
    for i in range(findings):
        site = sites[i % len(sites)]
        check = ("broken_link", "word", "hidden_link", "backdated")[i % 4]
        f = Finding(check, site.id, f"k{i}", State.RED if i % 5 == 0 else State.YELLOW, f"问题{i}", site.unit, site.id)
        monitor.findings.setdefault((check, site.id), {})[f.uid] = Known(f, Status.OPEN, now, now)


async def run(args: argparse.Namespace) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as tmp:
        inv = inventory(args.sites, args.columns, Path(tmp) / "govwatch.sqlite3")
        async with monitoring(inv) as monitor:
            populate(monitor, args.findings)
            runner = await serve(monitor, "127.0.0.1", 0)
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            times: list[float] = []
            cpu: list[float] = []  # this process's CPU per request: the board's work and the client's, not the wait
            body = b""
            try:
                async with ClientSession() as http:
                    for _ in range(args.requests + 1):  # the first compiles the templates: reported apart
                        t0, c0 = time.perf_counter(), time.process_time()
                        async with http.get(base + "/") as resp:
                            assert resp.status == 200, resp.status
                            body = await resp.read()
                        times.append((time.perf_counter() - t0) * 1000)
                        cpu.append((time.process_time() - c0) * 1000)
            finally:
                await runner.cleanup()
            states = {s.value: 0 for s in State}
            for tracked in monitor.tracked.values():
                states[tracked.verdict.state.value] += 1
    first, times = times[0], times[1:]
    return {"targets": sum(states.values()), **states, "requests": args.requests, "first_ms": round(first, 1),
            "ms_p50": round(statistics.median(times), 1), "ms_max": round(max(times), 1),
            "cpu_ms_p50": round(statistics.median(cpu[1:]), 1), "cpu_ms_max": round(max(cpu[1:]), 1),
            "load_average": round(os.getloadavg()[0], 1), "bytes": len(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=600)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--findings", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(f"{result['targets']} targets (red {result['red']}, yellow {result['yellow']}, unknown "
          f"{result['unknown']}): GET / p50 {result['ms_p50']} ms, max {result['ms_max']} ms "
          f"(first {result['first_ms']} ms; CPU p50 {result['cpu_ms_p50']} ms, max {result['cpu_ms_max']} ms), "
          f"{result['bytes'] / 1e3:.0f} kB, load average {result['load_average']} "
          f"at {datetime.now(TZ):%Y-%m-%d %H:%M}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
