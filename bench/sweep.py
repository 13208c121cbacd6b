"""Sweep a loopback fleet once with the daemon's own scheduler, fetcher, parser pool and store (SQLite, or --store).

    python bench/sweep.py --sites 600 --columns 50
    python bench/sweep.py --sites 600 --columns 50 --store postgresql://postgres@127.0.0.1:5432/EMPTY_DATABASE

The fleet (monitor.demo.fleet) runs in its own process so its CPU is not counted as the daemon's.
Prints a human summary, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from monitor import config, logs
from monitor.service import monitoring


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_fleet(args: argparse.Namespace, inventory: Path) -> subprocess.Popen[str]:
    fleet = subprocess.Popen(
        [sys.executable, "-m", "monitor.demo.fleet", "--sites", str(args.sites), "--columns", str(args.columns),
         "--inventory", str(inventory)],
        stdout=subprocess.PIPE, text=True,
    )
    line = fleet.stdout.readline() if fleet.stdout else ""
    if not line.startswith("READY"):
        fleet.kill()
        raise SystemExit(f"fleet did not start: {line!r}")
    return fleet


def tune(path: Path, store: Path | str, workers: int) -> config.Inventory:
    """The fleet's inventory with the benchmark's settings: no politeness delay, a fresh store."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["settings"] = {"store": str(store), "extract_workers": workers,
                        "fetch": {"per_host_interval": "0s", "timeout": "30s", "connections": 256}}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return config.load(path)


async def sweep(inventory: config.Inventory) -> dict[str, object]:
    async with monitoring(inventory) as monitor:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await monitor.sweep_once()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        states = Counter(str(t.verdict.state) for t in monitor.tracked.values())
        reasons = Counter(r for t in monitor.tracked.values() for r in t.verdict.reasons)
        workers_rss = sum(peak_rss_mb(w.process.pid) for w in monitor.pool.workers)
    return {"wall_s": wall, "daemon_cpu_s": cpu, "states": dict(states), "reasons": dict(reasons),
            "workers_peak_rss_mb": workers_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=600)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="extractor processes (settings.extract_workers)")
    parser.add_argument("--store", help="an empty PostgreSQL database (postgresql://…) instead of a fresh SQLite file")
    args = parser.parse_args()
    logs.setup("warning")
    with tempfile.TemporaryDirectory(prefix="govwatch-sweep-") as folder:
        inventory_path = Path(folder) / "inventory.json"
        fleet = start_fleet(args, inventory_path)
        try:
            inventory = tune(inventory_path, args.store or Path(folder) / "sweep.sqlite3", args.workers)
            result = asyncio.run(sweep(inventory))
        finally:
            fleet.terminate()
            fleet.wait(timeout=30)
    targets = len(inventory.targets)
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "sites": args.sites, "columns": args.sites * args.columns, "targets": targets,
        "store": "postgresql" if args.store else "sqlite",
        "wall_s": round(result["wall_s"], 2), "targets_per_s": round(targets / result["wall_s"], 1),
        "daemon_cpu_s": round(result["daemon_cpu_s"], 2), "extract_workers": args.workers,
        "peak_rss_mb": round(main_rss, 1), "workers_peak_rss_mb": round(result["workers_peak_rss_mb"], 1),
        "states": result["states"], "reasons": result["reasons"],
    }
    print(f"swept {targets} targets ({figures['columns']} columns + homepages on {args.sites} sites) "
          f"in {figures['wall_s']} s: {figures['targets_per_s']} targets/s; daemon CPU {figures['daemon_cpu_s']} s; "
          f"peak RSS {figures['peak_rss_mb']} MB + {figures['workers_peak_rss_mb']} MB in {args.workers} parser(s)")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
