"""Render script-built list pages through the renderer (monitor.render): pages per second and the browser's memory.

    python bench/render.py --pages 200 --concurrency 1 2

A loopback fleet (monitor.demo.fleet, its templates including GBK ones) whose every column is built by a
script from a JSON API; each page goes through the renderer process (Playwright + the system's Chromium) with
its settings' defaults but the given pages in flight, and the rendered HTML through the list extractor, which
must find the column's newest date. The memory of the renderer's processes (Playwright's driver and
Chromium's, without the renderer's own Python) is sampled every 0.2 s: RSS counts shared pages in every
process, PSS shares them out. Prints a human summary, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import logs
from monitor.demo.fleet import Fleet, bench_fleet
from monitor.extract.listpage import extract_list
from monitor.render import RenderSettings, missing
from monitor.render.client import Renderer
from monitor.render.memory import tree_memory

TODAY = datetime.date(2026, 11, 25)
COLUMNS_PER_SITE = 10


def script_built_fleet(pages: int) -> list:
    """``pages`` script-built columns over sites of every template (none down)."""
    sites = -(-pages // COLUMNS_PER_SITE)
    out = []
    for site in bench_fleet(sites, COLUMNS_PER_SITE, TODAY):
        columns = tuple(dataclasses.replace(c, mode="js", newest=c.newest or TODAY) for c in site.columns)
        out.append(dataclasses.replace(site, columns=columns, down=False))
    return out


async def sample(pid: int, into: list[tuple[float, float]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        memory = tree_memory(pid, include_self=False)
        if memory.processes:
            into.append((memory.rss_mb, memory.pss_mb))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


async def run(pages: int, concurrency: int, fleet: Fleet, targets: list[tuple[str, datetime.date]]) -> dict:
    renderer = Renderer(RenderSettings(pages=concurrency, idle_s=3600))
    try:
        t0 = time.perf_counter()
        first = await renderer.render(targets[0][0])  # starts the renderer and its browser
        start_s = time.perf_counter() - t0
        assert renderer.pid is not None and first.ok, first.detail
        samples: list[tuple[float, float]] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample(renderer.pid, samples, stop))
        t0 = time.perf_counter()
        results = await asyncio.gather(*(renderer.render(url) for url, _ in targets[:pages]))
        wall = time.perf_counter() - t0
        stop.set()
        await sampler
        stats = await renderer.stats()
    finally:
        await renderer.close()
    right = sum(1 for r, (_, newest) in zip(results, targets, strict=False)
                if r.ok and extract_list(r.text or "", r.final_url, TODAY).newest_date == newest)
    ms = sorted(r.elapsed_ms for r in results)
    rss, pss = [s[0] for s in samples], [s[1] for s in samples]
    return {
        "concurrency": concurrency, "pages": pages, "right": right, "failed": sum(1 for r in results if not r.ok),
        "wall_s": round(wall, 2), "pages_per_s": round(pages / wall, 2), "first_page_s": round(start_s, 2),
        "page_ms_median": round(statistics.median(ms), 1), "page_ms_p95": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "browser_pss_mb_mean": round(statistics.fmean(pss), 1), "browser_pss_mb_max": round(max(pss), 1),
        "browser_rss_mb_mean": round(statistics.fmean(rss), 1), "browser_rss_mb_max": round(max(rss), 1),
        "launches": stats["launches"], "restarts": stats["restarts"],
    }


async def main_async(args: argparse.Namespace) -> list[dict]:
    fleet = Fleet(script_built_fleet(args.pages), TODAY)
    await fleet.start()
    try:
        fleet.prerender()
        inventory = fleet.inventory()
        newest = [c.newest for s in fleet.sites for c in s.columns]
        urls = [c["url"] for s in inventory["sites"] for c in s["columns"]]
        targets = list(zip(urls, newest, strict=True))
        return [await run(args.pages, c, fleet, targets) for c in args.concurrency]
    finally:
        await fleet.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="script-built pages rendered per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2], help="pages in flight (one run each)")
    args = parser.parse_args()
    if (reason := missing()) is not None:
        raise SystemExit(reason)
    logs.setup("warning")
    rows = asyncio.run(main_async(args))
    for r in rows:
        print(f"{r['concurrency']} in flight: {r['pages']} pages in {r['wall_s']} s = {r['pages_per_s']} pages/s "
              f"(median {r['page_ms_median']} ms, p95 {r['page_ms_p95']} ms; first page {r['first_page_s']} s), "
              f"right {r['right']}/{r['pages']}; browser PSS mean {r['browser_pss_mb_mean']} MB, max "
              f"{r['browser_pss_mb_max']} MB; RSS mean {r['browser_rss_mb_mean']} MB, max {r['browser_rss_mb_max']} MB;"
              f" launches {r['launches']} {r['restarts']}")
    print(json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    main()
