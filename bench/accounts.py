"""Poll loopback new-media accounts once with the daemon's own scheduler, fetcher, parser pool and SQLite store.

    python bench/accounts.py --accounts 5000

The feed bridges (monitor.demo.fleet: RSS, Atom, JSON Feed and a JSON API, 2% broken bridge pages) run in their
own process so their CPU is not counted as the daemon's. Prints a human summary, then the figures as one
JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sweep import sweep
from monitor import config, logs


def start_bridges(args: argparse.Namespace, inventory: Path) -> subprocess.Popen[str]:
    fleet = subprocess.Popen(
        [sys.executable, "-m", "monitor.demo.fleet", "--sites", "0", "--accounts", str(args.accounts),
         "--bridges", str(args.bridges), "--inventory", str(inventory)],
        stdout=subprocess.PIPE, text=True,
    )
    line = fleet.stdout.readline() if fleet.stdout else ""
    if not line.startswith("READY"):
        fleet.kill()
        raise SystemExit(f"feed bridges did not start: {line!r}")
    return fleet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--bridges", type=int, default=20, help="feed bridge ports (RSSHub-like instances)")
    parser.add_argument("--workers", type=int, default=2, help="parser processes (settings.extract_workers)")
    args = parser.parse_args()
    logs.setup("warning")
    with tempfile.TemporaryDirectory(prefix="govwatch-accounts-") as folder:
        path = Path(folder) / "inventory.json"
        bridges = start_bridges(args, path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["settings"] = {"store": str(Path(folder) / "accounts.sqlite3"), "extract_workers": args.workers,
                                "fetch": {"per_host_interval": "0s", "per_host_concurrency": 32, "timeout": "30s",
                                          "connections": 256}}
            path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            inventory = config.load(path)
            result = asyncio.run(sweep(inventory))
        finally:
            bridges.terminate()
            bridges.wait(timeout=30)
    kinds = Counter(t.kind for t in inventory.targets)
    figures = {
        "accounts": kinds["account"], "bridges": args.bridges, "wall_s": round(result["wall_s"], 2),
        "accounts_per_s": round(kinds["account"] / result["wall_s"], 1),
        "daemon_cpu_s": round(result["daemon_cpu_s"], 2), "extract_workers": args.workers,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "workers_peak_rss_mb": round(result["workers_peak_rss_mb"], 1),
        "states": result["states"], "reasons": result["reasons"],
    }
    print(f"polled {figures['accounts']} accounts on {args.bridges} feed bridges in {figures['wall_s']} s: "
          f"{figures['accounts_per_s']} accounts/s; daemon CPU {figures['daemon_cpu_s']} s; peak RSS "
          f"{figures['peak_rss_mb']} MB + {figures['workers_peak_rss_mb']} MB in {args.workers} parser(s)")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
