"""Alert latency: from the crossing instant (or the probe that saw the change) to delivery at the endpoint.

    python bench/alert_latency.py --columns 1000 --spread 60

A loopback fleet (its own process) serves the pages. Most columns get sub-day rules whose yellow
and red crossings fall at known instants spread over ``--spread`` seconds, so they cross by the
daemon's deadline timers alone; every fifth column keeps its category's real rule, so the stale
and near-deadline ones alert at their first probe. Each unit has a json:// receiver on a local
aiohttp endpoint; the grouping window is 0 (the window itself is pure waiting by design and is
reported separately). After the crossings it waits (at most ``DRAIN_S``) for the outbox to drain, then tells
apart: delivered on time, late (held back by a mute — the site down, govwatch cut off — and sent when it
ended, or delivered more than ``LATE_S`` after the crossing), lapsed (held, then closed because a later alert
of the same column said it: the red after a held yellow) and lost (neither delivered nor lapsed). Prints a
summary, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from monitor import config, logs
from monitor.daemon import Monitor
from monitor.evaluate import TZ
from monitor.service import monitoring

TIMER_LEAD_S = 5
FIRST_CROSSING_S = 15  # leaves time for the first sweep before the first crossing
DRAIN_S = 180.0  # the longest wait for the outbox to drain after the last crossing
LATE_S = 60.0  # delivered later than this after the crossing: late


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(percentile(values, 0.5) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1), "max_ms": round(max(values, default=0) * 1000, 1)}


async def endpoint(received: list[tuple[datetime, str, str]]) -> tuple[web.AppRunner, int]:
    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((datetime.now(TZ), body["title"], body["message"]))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{unit}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


def inventory(path: Path, folder: Path, port: int, spread: int) -> config.Inventory:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["settings"] = {"store": str(folder / "latency.sqlite3"), "extract_workers": 2,
                        "fetch": {"per_host_interval": "0s", "timeout": "10s"},
                        "alerts": {"group_window": "0s", "escalate_after": None, "repeat_at": None}}
    for unit in data["units"]:
        unit["receivers"] = [{"id": "group", "url": f"json://127.0.0.1:{port}/{unit['id']}"}]
    n = 0
    for site in data["sites"]:
        site["check_homepage"] = False
        for column in site["columns"]:
            if n % 5:  # timer path: crossings at known instants after the first sighting
                deadline = FIRST_CROSSING_S + TIMER_LEAD_S + n % spread
                column.update(deadline=f"{deadline}s", lead=f"{TIMER_LEAD_S}s", interval="1h")
            n += 1
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return config.load(path)


async def drained(monitor: Monitor, bound: float) -> float:
    """Wait until no notification is pending or held, at most ``bound`` seconds; how long it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < bound:
        stats = await monitor.store.outbox_stats()
        if not any(s["pending"] for channel, s in stats.items() if channel != "mqtt") and \
                not await monitor.store.outbox_held(limit=1):
            break
        await asyncio.sleep(0.5)
    return loop.time() - start


async def measure(inv: config.Inventory, received: list[tuple[datetime, str, str]], spread: int) -> dict[str, object]:
    async with monitoring(inv) as monitor:
        monitor.start()
        await asyncio.sleep(FIRST_CROSSING_S + TIMER_LEAD_S + spread + 5)
        drain_s = await drained(monitor, DRAIN_S)
        by_url = {t.target.url: t for t in monitor.tracked.values()}
        delivered: dict[tuple[str, str], datetime] = {}
        for at, title, message in received:
            for line in message.splitlines():
                url = line.rsplit(" ", 1)[-1] if line.startswith("[") else line.removeprefix("栏目地址：")
                if url in by_url:
                    yellow = line.startswith("[预警]") if line.startswith("[") else "黄色预警" in title
                    delivered.setdefault((by_url[url].target.id, "yellow" if yellow else "red"), at)
        expected = await monitor.store.outbox_list(None, 100000)
    timer_lat, probe_lat, late_lat = [], [], []
    lost = lapsed = 0
    held: Counter[str] = Counter()
    # column crossings only: site vetoes and the other checks' findings (links, availability, …) are not crossings
    expected = [item for item in expected if item["payload"].get("target_kind") in ("column", "homepage")]
    for item in expected:
        fact = item["payload"]
        if item["reason"]:
            held[item["reason"]] += 1
        if item["status"] == "lapsed":
            lapsed += 1
            continue
        tracked = monitor.tracked[fact["target_id"]]
        when = delivered.get((fact["target_id"], "yellow" if fact["kind"] == "yellow" else "red"))
        if when is None:
            lost += 1
            continue
        observed = tracked.history.latest.at
        if abs((datetime.fromisoformat(fact["at"]) - observed).total_seconds()) < 0.001:
            instant, bucket = observed, probe_lat  # alerted by the probe that saw the page
        else:
            rule, first_seen = tracked.target.rule, tracked.history.newest_first_seen
            lead = timedelta(seconds=rule.lead.seconds) if fact["kind"] == "yellow" else timedelta(0)
            instant, bucket = rule.deadline.after(first_seen) - lead, timer_lat
        latency = (when - instant).total_seconds()
        (late_lat if "held" in fact or latency > LATE_S else bucket).append(latency)
    on_time = len(timer_lat) + len(probe_lat)
    return {"timer": summary(timer_lat), "probe": summary(probe_lat), "alerts": len(expected),
            "delivered": on_time + len(late_lat), "on_time": on_time, "late": len(late_lat),
            "late_latency": summary(late_lat), "lapsed": lapsed, "lost": lost, "held_by": dict(held),
            "drain_s": round(drain_s, 1), "messages": len(received)}


async def run(args: argparse.Namespace) -> dict[str, object]:
    received: list[tuple[datetime, str, str]] = []
    runner, port = await endpoint(received)
    with tempfile.TemporaryDirectory(prefix="govwatch-latency-") as folder:
        path = Path(folder) / "inventory.json"
        sites = max(args.columns // 20, 1)
        fleet = subprocess.Popen([sys.executable, "-m", "monitor.demo.fleet", "--sites", str(sites), "--columns",
                                  str(args.columns // sites), "--inventory", str(path)], stdout=subprocess.PIPE,
                                 text=True)
        try:
            assert fleet.stdout is not None and fleet.stdout.readline().startswith("READY")
            inv = inventory(path, Path(folder), port, args.spread)
            result = await measure(inv, received, args.spread)
        finally:
            fleet.terminate()
            fleet.wait(timeout=30)
            await runner.cleanup()
    return {"columns": args.columns, "spread_s": args.spread, "group_window_s": 0, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=1000)
    parser.add_argument("--spread", type=int, default=60, help="seconds over which the crossings fall")
    args = parser.parse_args()
    logs.setup("warning")
    figures = asyncio.run(run(args))
    timer, probe = figures["timer"], figures["probe"]
    late = figures["late_latency"]
    print(f"{figures['alerts']} alerts in {figures['messages']} messages: delivered {figures['delivered']} "
          f"({figures['on_time']} on time, {figures['late']} late: p50 {late['p50_ms']} ms, max {late['max_ms']} ms), "
          f"lapsed {figures['lapsed']}, lost {figures['lost']} (held back by {figures['held_by'] or 'nothing'}; "
          f"outbox drained {figures['drain_s']} s after the last crossing); "
          f"crossing → delivery p50 {timer['p50_ms']} ms, p99 {timer['p99_ms']} ms, max {timer['max_ms']} ms; "
          f"probe → delivery p50 {probe['p50_ms']} ms, p99 {probe['p99_ms']} ms, max {probe['max_ms']} ms "
          f"(grouping window 0 s; a window of W seconds adds up to W by design)")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
